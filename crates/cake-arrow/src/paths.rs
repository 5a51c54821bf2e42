//! The path map: a tree of local element names below the row element, built once per decoder
//! from the catalog's `Column::path` and `ResponseShape::skip`, that tells the event loop what
//! each element is (a column's leaf, a container on the way to leaves, a subtree to skip) in
//! one comparison on the usual path.
//!
//! List columns ([`ColumnType::List`]) are grouped by their repeated element: list columns
//! whose paths share at least two leading segments (`offer_contracts/offer_contract/...`) are
//! parallel lists of one repeated element, the longest common prefix of their paths. A list
//! column alone in its group repeats its second-to-last segment (`tags/tag/tag_id` repeats
//! `tag`), or its leaf for a two-segment path (`from_lines/string` repeats `string`). The
//! element above the repeated one is the group's container: when it is absent from a row the
//! group's lists are null, when present but empty they are empty lists.

use cake_catalog::{ColumnType, Report};

/// Index of a node in [`PathMap::nodes`]. Node 0 is the row element.
pub(crate) type NodeId = u32;

pub(crate) const ROW: NodeId = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NodeKind {
    /// An element on the way to leaves (or the row itself).
    Container,
    /// The leaf of column `col` (index into the report's columns).
    Leaf(u32),
    /// A known element kept out of the output: it and everything below it are ignored.
    Skip,
}

#[derive(Debug)]
pub(crate) struct Node {
    pub name: Box<[u8]>,
    pub kind: NodeKind,
    /// Children in catalog order (the order Cake writes them in).
    pub children: Vec<NodeId>,
    /// The list group whose repeated element this node is.
    pub item_of: Option<u32>,
    /// The list groups whose repeated element is a child of this node.
    pub container_of: Box<[u32]>,
    /// Path from the row element, for messages.
    pub path: String,
}

/// Where a column's values go during stage 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Slot {
    /// Index among the scalar columns.
    Scalar(u32),
    /// Index among the list columns, and the column's list group.
    List { list: u32, group: u32 },
}

#[derive(Debug)]
pub(crate) struct Group {
    /// The list columns of the group (indexes among the list columns).
    pub lists: Vec<u32>,
}

#[derive(Debug)]
pub(crate) struct PathMap {
    pub nodes: Vec<Node>,
    /// Per catalog column.
    pub slots: Vec<Slot>,
    pub groups: Vec<Group>,
    pub scalar_count: usize,
    pub list_count: usize,
}

impl PathMap {
    pub fn new(report: &Report) -> PathMap {
        let mut map = PathMap {
            nodes: vec![Node {
                name: report.response.row.as_bytes().into(),
                kind: NodeKind::Container,
                children: Vec::new(),
                item_of: None,
                container_of: Box::new([]),
                path: String::new(),
            }],
            slots: Vec::with_capacity(report.columns.len()),
            groups: Vec::new(),
            scalar_count: 0,
            list_count: 0,
        };

        // Skip paths first: a column below a skip path would be unreachable, and the catalog's
        // tests make sure there is none.
        for skip in report.response.skip {
            let segments: Vec<&str> = skip.split('/').filter(|s| !s.is_empty()).collect();
            if segments.is_empty() {
                continue;
            }
            let node = map.intern(&segments);
            map.nodes[node as usize].kind = NodeKind::Skip;
        }

        // List groups: by shared prefixes of at least two segments.
        let list_paths: Vec<(usize, &'static [&'static str])> = report
            .columns
            .iter()
            .enumerate()
            .filter(|(_, c)| matches!(c.ty, ColumnType::List(_)))
            .map(|(i, c)| (i, c.path))
            .collect();
        let mut group_of: Vec<Option<usize>> = vec![None; list_paths.len()];
        let mut group_members: Vec<Vec<usize>> = Vec::new();
        for i in 0..list_paths.len() {
            if group_of[i].is_some() {
                continue;
            }
            let g = group_members.len();
            group_members.push(vec![i]);
            group_of[i] = Some(g);
            // Grow the group transitively.
            let mut k = 0;
            while k < group_members[g].len() {
                let a = list_paths[group_members[g][k]].1;
                for (j, slot) in group_of.iter_mut().enumerate() {
                    if slot.is_none() && common_prefix(a, list_paths[j].1) >= 2 {
                        *slot = Some(g);
                        group_members[g].push(j);
                    }
                }
                k += 1;
            }
        }
        // The repeated element of each group.
        let mut item_paths: Vec<Vec<&'static str>> = Vec::with_capacity(group_members.len());
        for members in &group_members {
            let first = list_paths[members[0]].1;
            let item_len = if members.len() > 1 {
                members
                    .iter()
                    .map(|&m| common_prefix(first, list_paths[m].1))
                    .min()
                    .unwrap_or(first.len())
            } else if first.len() >= 3 {
                first.len() - 1
            } else {
                first.len()
            };
            item_paths.push(first[..item_len.max(1)].to_vec());
        }
        for (g, item) in item_paths.iter().enumerate() {
            let node = map.intern(item);
            map.nodes[node as usize].item_of = Some(g as u32);
            let parent = if item.len() > 1 {
                map.intern(&item[..item.len() - 1])
            } else {
                ROW
            };
            let mut containers = map.nodes[parent as usize].container_of.to_vec();
            containers.push(g as u32);
            map.nodes[parent as usize].container_of = containers.into_boxed_slice();
            map.groups.push(Group { lists: Vec::new() });
        }

        // Columns.
        let mut list_index = 0usize;
        for (col, column) in report.columns.iter().enumerate() {
            let node = map.intern(column.path);
            map.nodes[node as usize].kind = NodeKind::Leaf(col as u32);
            match column.ty {
                ColumnType::List(_) => {
                    let position = list_paths.iter().position(|(i, _)| *i == col).unwrap_or(0);
                    let group = group_of[position].unwrap_or(0);
                    map.groups[group].lists.push(list_index as u32);
                    map.slots.push(Slot::List {
                        list: list_index as u32,
                        group: group as u32,
                    });
                    list_index += 1;
                }
                _ => {
                    map.slots.push(Slot::Scalar(map.scalar_count as u32));
                    map.scalar_count += 1;
                }
            }
        }
        map.list_count = list_index;
        map
    }

    /// The node at `segments` below the row, created on the way.
    fn intern(&mut self, segments: &[&str]) -> NodeId {
        let mut node = ROW;
        for seg in segments {
            let existing = self.nodes[node as usize]
                .children
                .iter()
                .copied()
                .find(|&c| &*self.nodes[c as usize].name == seg.as_bytes());
            node = match existing {
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
                        kind: NodeKind::Container,
                        children: Vec::new(),
                        item_of: None,
                        container_of: Box::new([]),
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
            if same(&self.nodes[c as usize].name, name) {
                *hint = (i + 1) as u32;
                return Some(c);
            }
        }
        None
    }
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

    #[test]
    fn every_report_maps_each_column_to_its_own_leaf() {
        for report in cake_catalog::REPORTS.iter() {
            let map = PathMap::new(report);
            let leaves: Vec<u32> = map
                .nodes
                .iter()
                .filter_map(|n| match n.kind {
                    NodeKind::Leaf(c) => Some(c),
                    _ => None,
                })
                .collect();
            assert_eq!(leaves.len(), report.columns.len(), "{}", report.id);
            for node in &map.nodes {
                if let NodeKind::Leaf(c) = node.kind {
                    assert!(
                        node.children.is_empty(),
                        "{}: leaf of {} has children",
                        report.id,
                        report.columns[c as usize].name
                    );
                }
                if node.kind == NodeKind::Skip {
                    assert!(
                        node.children.is_empty(),
                        "{}: columns below a skip",
                        report.id
                    );
                }
            }
        }
    }

    fn groups_of(id: &str) -> Vec<(String, Vec<&'static str>)> {
        let report = cake_catalog::find(id).unwrap();
        let map = PathMap::new(report);
        let list_cols: Vec<&'static str> = report
            .columns
            .iter()
            .filter(|c| matches!(c.ty, ColumnType::List(_)))
            .map(|c| c.name)
            .collect();
        let mut out = Vec::new();
        for (g, group) in map.groups.iter().enumerate() {
            let item = map
                .nodes
                .iter()
                .find(|n| n.item_of == Some(g as u32))
                .unwrap();
            out.push((
                item.path.clone(),
                group.lists.iter().map(|&l| list_cols[l as usize]).collect(),
            ));
        }
        out
    }

    #[test]
    fn list_groups_follow_the_repeated_element() {
        let offers = groups_of("offers");
        assert!(offers
            .iter()
            .any(|(item, cols)| item == "offer_contracts/offer_contract"
                && cols.contains(&"offer_contract_payout_amounts")
                && cols.contains(&"offer_contract_price_format_ids")));
        assert!(offers.iter().any(|(item, _)| item == "from_lines/string"));
        assert!(offers.iter().any(|(item, _)| item == "tags/tag"));
        let affiliates = groups_of("affiliates");
        assert!(affiliates
            .iter()
            .any(|(item, _)| item == "traffic_types/price_formats/price_format"));
        assert!(affiliates
            .iter()
            .any(|(item, _)| item == "traffic_types/media_types/media_type"));
        let traffic = groups_of("traffic-export");
        assert!(traffic
            .iter()
            .any(|(item, _)| item == "advertiser_rates/rate"));
    }
}
