//! The path map: a tree of local element names below the row element, built once per decoder
//! from the catalog's columns and secrets, that tells the event loop what each element is (a
//! value, a JSON subtree, a container on the way to values, a repeated element, something
//! withheld) in one comparison on the usual path.
//!
//! **Levels.** Values are recorded per *record* of a level. Level 0 is the row. Every repeated
//! element the catalog knows opens a level below the level it sits in:
//! - a `List<Struct>` column's repeated element (`offer_contracts/offer_contract_info`), whose
//!   fields are the level's values; a `List<Struct>` field of it opens a level below (the
//!   countries of one contract), as deep as Cake nests them;
//! - the repeated element of a group of scalar list columns: list columns whose paths share at
//!   least two leading segments are parallel lists of one repeated element, the longest common
//!   prefix of their paths; a list column alone in its group repeats its second-to-last segment
//!   (`tags/tag/tag_id` repeats `tag`), or its leaf for a two-segment path
//!   (`from_lines/string` repeats `string`).
//!
//! The element above a level's repeated element is its container: absent from a record of the
//! level above, the level's lists are null there; present but empty, they are empty lists.

use cake_catalog::{Column, ColumnType, Report};

/// Index of a node in [`PathMap::nodes`]. Node 0 is the row element.
pub(crate) type NodeId = u32;

/// Index of a level in [`PathMap::levels`]. Level 0 is the row.
pub(crate) type LevelId = u32;

pub(crate) const ROW: NodeId = 0;

/// Where a value goes: its level and its index among the level's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Slot {
    pub level: LevelId,
    pub value: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// An element on the way to values (or the row itself, or a struct's repeated element).
    Container,
    /// The element whose text is a value.
    Value(Slot),
    /// The element whose subtree, as JSON, is a value.
    Json(Slot),
    /// A known element kept out of the output (a secret, or personal data the run did not opt
    /// in to): it and everything below it are skipped and counted under its path.
    Withheld,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub name: Box<[u8]>,
    /// The element's names in other API versions (a column's `also` paths).
    pub other_names: Vec<Box<[u8]>>,
    pub kind: NodeKind,
    /// Children in catalog order (the order Cake writes them in).
    pub children: Vec<NodeId>,
    /// The level whose repeated element this node is.
    pub item_of: Option<LevelId>,
    /// The levels whose repeated element sits directly below this node.
    pub container_of: Vec<LevelId>,
    /// Path from the row element, for messages and counts.
    pub path: String,
}

impl Node {
    fn named(&self, name: &[u8]) -> bool {
        same(&self.name, name) || self.other_names.iter().any(|n| same(n, name))
    }
}

/// One value of a level: the column (or field) it fills.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ValueDef {
    pub column: &'static Column,
    /// A key column of the row: a second value is not kept aside but fails the row.
    pub key: bool,
}

/// A record-bearing level.
#[derive(Debug)]
pub(crate) struct Level {
    /// The level holding this one's records (none for the row).
    pub parent: Option<LevelId>,
    /// The levels directly below.
    pub children: Vec<LevelId>,
    pub values: Vec<ValueDef>,
    /// Every record of the level above has this level's list, even without a container (the
    /// repeated element sits directly in the record).
    pub always_present: bool,
    /// The level of a group of scalar list columns (not of a `List<Struct>` column): each of
    /// its values is a list column of the level above.
    pub list_group: bool,
    /// Name for messages: the column (`offer_contracts`, `allowed_countries`) or list group.
    pub name: String,
}

/// How an output array is built from the levels.
#[derive(Debug)]
pub(crate) enum Producer {
    /// One value per record of the level the producer sits in.
    Value(Slot),
    /// A list of scalars per record: the items are the records of `level`.
    List { level: LevelId, value: u32 },
    /// A list of structs per record: the items are the records of `level`, one field each
    /// from `fields`.
    Struct {
        level: LevelId,
        fields: Vec<Producer>,
    },
}

#[derive(Debug)]
pub(crate) struct PathMap {
    pub nodes: Vec<Node>,
    pub levels: Vec<Level>,
    /// Per catalog column, how its array is built.
    pub producers: Vec<Producer>,
}

impl PathMap {
    /// The map of `report`; personal columns are withheld unless `personal`.
    pub fn new(report: &Report, personal: bool) -> PathMap {
        let mut map = PathMap {
            nodes: vec![Node {
                name: report.response.row.as_bytes().into(),
                other_names: Vec::new(),
                kind: NodeKind::Container,
                children: Vec::new(),
                item_of: Some(0),
                container_of: Vec::new(),
                path: String::new(),
            }],
            levels: vec![Level {
                parent: None,
                children: Vec::new(),
                values: Vec::new(),
                always_present: true,
                list_group: false,
                name: report.response.row.to_string(),
            }],
            producers: Vec::new(),
        };

        // Secrets first: a column below one would be unreachable, and codegen makes sure there
        // is none.
        for secret in report.response.secret {
            let segments: Vec<&str> = secret.split('/').filter(|s| !s.is_empty()).collect();
            if segments.is_empty() {
                continue;
            }
            let node = map.intern(ROW, &segments);
            map.nodes[node as usize].kind = NodeKind::Withheld;
        }
        let keys: Vec<&str> = report.primary_key.to_vec();
        map.producers = map.scope(0, Some(ROW), report.columns, personal, &keys);
        map
    }

    /// The producers of `columns`, whose paths start at `base`, recording in `level`. Without
    /// `base` (the columns of a withheld struct), values and levels exist but no element leads
    /// to them.
    fn scope(
        &mut self,
        level: LevelId,
        base: Option<NodeId>,
        columns: &'static [Column],
        personal: bool,
        keys: &[&str],
    ) -> Vec<Producer> {
        // Groups of scalar list columns, by shared prefixes of at least two segments.
        let lists: Vec<usize> = (0..columns.len())
            .filter(|&i| is_scalar_list(&columns[i]))
            .collect();
        let mut group_of: Vec<Option<usize>> = vec![None; columns.len()];
        let mut groups: Vec<Vec<usize>> = Vec::new();
        for &i in &lists {
            if group_of[i].is_some() {
                continue;
            }
            let g = groups.len();
            groups.push(vec![i]);
            group_of[i] = Some(g);
            let mut k = 0;
            while k < groups[g].len() {
                let a = columns[groups[g][k]].path;
                for &j in &lists {
                    if group_of[j].is_none() && common_prefix(a, columns[j].path) >= 2 {
                        group_of[j] = Some(g);
                        groups[g].push(j);
                    }
                }
                k += 1;
            }
        }
        // Each group's level, at its repeated element.
        let mut group_level = Vec::with_capacity(groups.len());
        for members in &groups {
            let first = columns[members[0]].path;
            let item_len = if members.len() > 1 {
                members
                    .iter()
                    .map(|&m| common_prefix(first, columns[m].path))
                    .min()
                    .unwrap_or(first.len())
            } else if first.len() >= 3 {
                first.len() - 1
            } else {
                first.len()
            };
            let item = &first[..item_len.max(1)];
            let name = columns[members[0]].name.to_string();
            let withheld = members.iter().all(|&m| columns[m].personal && !personal);
            let id = self.level_at(level, base, item, name, withheld);
            self.levels[id as usize].list_group = true;
            group_level.push(id);
        }

        let mut producers = Vec::with_capacity(columns.len());
        for (i, column) in columns.iter().enumerate() {
            let withheld = column.personal && !personal;
            let producer = match column.ty {
                ColumnType::List(ColumnType::Struct(fields)) => {
                    let child =
                        self.level_at(level, base, column.path, column.name.into(), withheld);
                    let item = match base {
                        Some(base) if !withheld => {
                            self.also(base, column);
                            Some(self.intern(base, column.path))
                        }
                        _ => None,
                    };
                    let fields = self.scope(child, item, fields, personal, &[]);
                    Producer::Struct {
                        level: child,
                        fields,
                    }
                }
                ColumnType::List(_) => {
                    let g = group_of[i].unwrap_or(0);
                    let child = group_level[g];
                    let slot = self.value_slot(child, column, false);
                    self.leaf(base, column, slot, withheld, false);
                    Producer::List {
                        level: child,
                        value: slot.value,
                    }
                }
                _ => {
                    let key = keys.contains(&column.name);
                    let slot = self.value_slot(level, column, key);
                    self.leaf(base, column, slot, withheld, column.ty == ColumnType::Json);
                    Producer::Value(slot)
                }
            };
            producers.push(producer);
        }
        producers
    }

    fn value_slot(&mut self, level: LevelId, column: &'static Column, key: bool) -> Slot {
        let values = &mut self.levels[level as usize].values;
        values.push(ValueDef { column, key });
        Slot {
            level,
            value: (values.len() - 1) as u32,
        }
    }

    /// Marks the element of `column` below `base` as its value (or JSON, or withheld).
    fn leaf(
        &mut self,
        base: Option<NodeId>,
        column: &'static Column,
        slot: Slot,
        withheld: bool,
        json: bool,
    ) {
        let Some(base) = base else {
            return;
        };
        // Nothing is marked below a withheld element (a withheld list group's repeated one).
        let mut node = base;
        for depth in 0..column.path.len() {
            node = self.intern(node, &column.path[depth..=depth]);
            if self.nodes[node as usize].kind == NodeKind::Withheld {
                return;
            }
        }
        self.also(base, column);
        // The leaf of a one-value list (`from_lines/string`) may be its level's repeated element
        // too: only its kind changes.
        self.nodes[node as usize].kind = if withheld {
            NodeKind::Withheld
        } else if json {
            NodeKind::Json(slot)
        } else {
            NodeKind::Value(slot)
        };
    }

    /// The level below `parent` whose repeated element is `item` (below `base`), created once.
    fn level_at(
        &mut self,
        parent: LevelId,
        base: Option<NodeId>,
        item: &[&str],
        name: String,
        withheld: bool,
    ) -> LevelId {
        let node = base.map(|base| self.intern(base, item));
        if let Some(existing) = node.and_then(|n| self.nodes[n as usize].item_of) {
            return existing;
        }
        let id = self.levels.len() as LevelId;
        self.levels.push(Level {
            parent: Some(parent),
            children: Vec::new(),
            values: Vec::new(),
            always_present: item.len() == 1 && !withheld && node.is_some(),
            list_group: false,
            name,
        });
        self.levels[parent as usize].children.push(id);
        let (Some(node), Some(base)) = (node, base) else {
            return id;
        };
        if withheld {
            // Never entered: the level has no records, and its lists are null.
            self.nodes[node as usize].kind = NodeKind::Withheld;
            return id;
        }
        self.nodes[node as usize].item_of = Some(id);
        if item.len() > 1 {
            let container = self.intern(base, &item[..item.len() - 1]);
            self.nodes[container as usize].container_of.push(id);
        }
        id
    }

    /// Registers the other names of `column`'s path (`also`), segment for segment.
    fn also(&mut self, base: NodeId, column: &Column) {
        for other in column.also {
            let mut node = base;
            for (depth, seg) in column.path.iter().enumerate() {
                let Some(next) = self.find(node, seg.as_bytes()) else {
                    break;
                };
                if let Some(alt) = other.get(depth).filter(|a| *a != seg) {
                    let names = &mut self.nodes[next as usize].other_names;
                    if !names.iter().any(|n| &**n == alt.as_bytes()) {
                        names.push(alt.as_bytes().into());
                    }
                }
                node = next;
            }
        }
    }

    fn find(&self, parent: NodeId, name: &[u8]) -> Option<NodeId> {
        self.nodes[parent as usize]
            .children
            .iter()
            .copied()
            .find(|&c| &*self.nodes[c as usize].name == name)
    }

    /// The node at `segments` below `base`, created on the way.
    fn intern(&mut self, base: NodeId, segments: &[&str]) -> NodeId {
        let mut node = base;
        for seg in segments {
            node = match self.find(node, seg.as_bytes()) {
                Some(c) => c,
                None => {
                    let id = self.nodes.len() as NodeId;
                    let parent_path = &self.nodes[node as usize].path;
                    let path = if parent_path.is_empty() {
                        (*seg).to_string()
                    } else {
                        format!("{parent_path}/{seg}")
                    };
                    self.nodes.push(Node {
                        name: seg.as_bytes().into(),
                        other_names: Vec::new(),
                        kind: NodeKind::Container,
                        children: Vec::new(),
                        item_of: None,
                        container_of: Vec::new(),
                        path,
                    });
                    self.nodes[node as usize].children.push(id);
                    id
                }
            };
        }
        node
    }

    /// The child of `parent` named `name`. `hint` is the position after the previous match
    /// among `parent`'s children: Cake writes elements in catalog order, so the next sibling
    /// is tried first.
    #[inline]
    pub fn child(&self, parent: NodeId, name: &[u8], hint: &mut u32) -> Option<NodeId> {
        let children = &self.nodes[parent as usize].children;
        let n = children.len();
        if n == 0 {
            return None;
        }
        let mut h = *hint as usize;
        if h >= n {
            h = 0;
        }
        let c = children[h];
        if same(&self.nodes[c as usize].name, name) {
            *hint = (h + 1) as u32;
            return Some(c);
        }
        for (i, &c) in children.iter().enumerate() {
            if self.nodes[c as usize].named(name) {
                *hint = (i + 1) as u32;
                return Some(c);
            }
        }
        None
    }

    /// True when `name` is, ignoring case, the name of an element directly below the row: what
    /// tells a row read under an unknown name from a wrapper of rows.
    pub fn is_row_child(&self, name: &[u8]) -> bool {
        self.nodes[ROW as usize].children.iter().any(|&c| {
            let n = &self.nodes[c as usize];
            n.name.eq_ignore_ascii_case(name)
                || n.other_names.iter().any(|o| o.eq_ignore_ascii_case(name))
        })
    }
}

fn is_scalar_list(column: &Column) -> bool {
    matches!(column.ty, ColumnType::List(inner) if !matches!(inner, ColumnType::Struct(_)))
}

/// Byte-slice equality for short names, inline: element names are a few bytes long, and a
/// call to the C library's `memcmp` per element costs more than the comparison.
#[inline(always)]
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i + 8 <= a.len() {
        if <[u8; 8]>::try_from(&a[i..i + 8]).ok() != <[u8; 8]>::try_from(&b[i..i + 8]).ok() {
            return false;
        }
        i += 8;
    }
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

fn common_prefix(a: &[&str], b: &[&str]) -> usize {
    a.iter().zip(b).take_while(|(x, y)| x == y).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every column is built by a producer, every value's node is its own leaf, and nothing
    /// sits below a leaf or a withheld element.
    #[test]
    fn every_report_maps_each_value_to_its_own_leaf() {
        for report in cake_catalog::REPORTS.iter() {
            for personal in [false, true] {
                let map = PathMap::new(report, personal);
                assert_eq!(map.producers.len(), report.columns.len(), "{}", report.id);
                for node in &map.nodes {
                    if matches!(
                        node.kind,
                        NodeKind::Value(_) | NodeKind::Json(_) | NodeKind::Withheld
                    ) && node.item_of.is_none()
                    {
                        assert!(
                            node.children.is_empty(),
                            "{}: {} has children",
                            report.id,
                            node.path
                        );
                    }
                }
                let values: usize = map.levels.iter().map(|l| l.values.len()).sum();
                let leaves = map
                    .nodes
                    .iter()
                    .filter(|n| matches!(n.kind, NodeKind::Value(_) | NodeKind::Json(_)))
                    .count();
                let withheld_values = map
                    .levels
                    .iter()
                    .flat_map(|l| &l.values)
                    .filter(|v| v.column.personal && !personal)
                    .count();
                assert!(leaves + withheld_values >= values, "{}", report.id);
            }
        }
    }

    fn level_named(map: &PathMap, path: &str) -> Option<LevelId> {
        map.nodes
            .iter()
            .find(|n| n.path == path)
            .and_then(|n| n.item_of)
    }

    #[test]
    fn levels_follow_the_repeated_elements() {
        let offers = PathMap::new(cake_catalog::find("offers").unwrap(), false);
        let contracts = level_named(&offers, "offer_contracts/offer_contract_info").unwrap();
        let countries = level_named(
            &offers,
            "offer_contracts/offer_contract_info/geo_targeting/allowed_countries/geo_target",
        )
        .unwrap();
        assert_eq!(offers.levels[countries as usize].parent, Some(contracts));
        assert_eq!(offers.levels[contracts as usize].parent, Some(0));
        assert!(level_named(&offers, "from_lines/string").is_some());
        assert!(level_named(&offers, "tags/tag").is_some());
        // The older name of a contract finds the same element.
        let node = offers
            .nodes
            .iter()
            .find(|n| n.path == "offer_contracts/offer_contract_info")
            .unwrap();
        assert!(node.named(b"offer_contract"));
        let affiliates = PathMap::new(cake_catalog::find("affiliates").unwrap(), false);
        assert!(level_named(&affiliates, "traffic_types/price_formats/price_format").is_some());
        assert!(level_named(&affiliates, "traffic_types/media_types/media_type").is_some());
        let traffic = PathMap::new(cake_catalog::find("traffic-export").unwrap(), false);
        assert!(level_named(&traffic, "advertiser_rates/rate").is_some());
    }
}
