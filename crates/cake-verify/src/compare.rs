//! One report against one WSDL: the method and its parameters, the response's root, envelope,
//! collection and row, and every column's path and type; each disagreement a [`Difference`].

use super::*;

pub(super) const SMALL_INTS: [&str; 5] = ["int", "short", "byte", "unsignedByte", "unsignedShort"];
pub(super) const LARGE_INTS: [&str; 8] = [
    "long",
    "unsignedInt",
    "unsignedLong",
    "integer",
    "nonNegativeInteger",
    "positiveInteger",
    "negativeInteger",
    "nonPositiveInteger",
];

pub(super) fn builtin(x: &Xsd) -> Option<&str> {
    match x {
        Xsd::Builtin(t) => Some(t),
        _ => None,
    }
}

/// Does the parameter kind fit the WSDL's type?
pub(super) fn param_fits(kind: ParamKind, x: &Xsd) -> bool {
    let b = builtin(x);
    match kind {
        ParamKind::ApiKey | ParamKind::Text => b == Some("string"),
        ParamKind::StartDate | ParamKind::EndDate | ParamKind::ChangesSince => {
            matches!(b, Some("dateTime" | "date"))
        }
        ParamKind::StartAtRow | ParamKind::RowLimit | ParamKind::Int => {
            b.is_some_and(|t| SMALL_INTS.contains(&t) || LARGE_INTS.contains(&t))
        }
        ParamKind::Bool => b == Some("boolean"),
        // Values are compared separately; a string takes any of them.
        ParamKind::Enum(_) => matches!(x, Xsd::Enum { .. }) || b == Some("string"),
    }
}

pub(super) fn kind_text(kind: ParamKind) -> String {
    match kind {
        ParamKind::Enum(values) => format!("enum ({})", values.join(", ")),
        ParamKind::ApiKey | ParamKind::Text => format!("{} (a string)", kind.as_str()),
        ParamKind::StartDate | ParamKind::EndDate | ParamKind::ChangesSince => {
            format!("{} (a dateTime)", kind.as_str())
        }
        ParamKind::StartAtRow | ParamKind::RowLimit => format!("{} (an int)", kind.as_str()),
        ParamKind::Int | ParamKind::Bool => kind.as_str().to_string(),
    }
}

/// Does a (leaf) column type hold the WSDL type's values?
pub(super) fn leaf_fits(ty: &ColumnType, x: &Xsd) -> bool {
    let b = builtin(x);
    match ty {
        // Any simple value can be kept as text.
        ColumnType::Utf8 => true,
        ColumnType::Bool => b == Some("boolean"),
        ColumnType::Int32 => b.is_some_and(|t| SMALL_INTS.contains(&t)),
        ColumnType::Int64 => b.is_some_and(|t| SMALL_INTS.contains(&t) || LARGE_INTS.contains(&t)),
        ColumnType::Decimal { .. } => matches!(b, Some("decimal" | "double" | "float")),
        ColumnType::Timestamp | ColumnType::Date => matches!(b, Some("dateTime" | "date")),
        ColumnType::List(inner) => leaf_fits(inner, x),
        // A JSON column keeps any content; a struct is not a leaf.
        ColumnType::Json => true,
        ColumnType::Struct(_) => false,
    }
}

/// The spec type that holds the WSDL type's values.
pub(super) fn suggested_type(x: &Xsd, repeated: bool) -> String {
    let t = match builtin(x) {
        Some(t) if SMALL_INTS.contains(&t) => "int32",
        Some(t) if LARGE_INTS.contains(&t) => "int64",
        Some("decimal" | "double" | "float") => "decimal(28,10)",
        Some("boolean") => "bool",
        Some("dateTime") => "timestamp",
        Some("date") => "date",
        _ => "utf8",
    };
    if repeated {
        format!("list<{t}>")
    } else {
        t.to_string()
    }
}

pub(super) fn describe(node: &Node, repeated: bool) -> String {
    let what = match &node.ty {
        NodeType::Leaf(x) => x.to_string(),
        NodeType::Complex(children) => format!("{} elements", children.len()),
        NodeType::Any => "any elements".to_string(),
    };
    if repeated {
        format!("repeated {what}")
    } else {
        what
    }
}

/// Where a path leads in an element tree.
pub(super) enum Walk<'a> {
    Found(&'a Node, bool),
    /// The segment at this index is not a child of the element before it.
    Missing(usize),
    /// The path goes on below a value.
    BelowLeaf,
}

pub(super) fn walk<'a>(nodes: &'a [Node], path: &[&str]) -> Walk<'a> {
    let mut list = nodes;
    let mut repeated = false;
    for (i, seg) in path.iter().enumerate() {
        let Some(node) = list.iter().find(|n| n.name == *seg) else {
            return Walk::Missing(i);
        };
        repeated |= node.repeated;
        if i + 1 == path.len() {
            return Walk::Found(node, repeated);
        }
        match &node.ty {
            NodeType::Complex(children) => list = children,
            NodeType::Leaf(_) | NodeType::Any => return Walk::BelowLeaf,
        }
    }
    Walk::Missing(0)
}

pub(super) fn children_at<'a>(nodes: &'a [Node], path: &[&str]) -> Option<&'a [Node]> {
    if path.is_empty() {
        return Some(nodes);
    }
    match walk(nodes, path) {
        Walk::Found(node, _) => match &node.ty {
            NodeType::Complex(children) => Some(children),
            NodeType::Leaf(_) | NodeType::Any => None,
        },
        _ => None,
    }
}

pub(super) fn starts_with(path: &[&str], prefix: &[&str]) -> bool {
    path.len() >= prefix.len() && path[..prefix.len()] == *prefix
}

pub(super) fn check_report(
    report: &Report,
    wsdl: &Wsdl,
) -> (Vec<Difference>, Option<Vec<FoundParam>>) {
    let mut out = Vec::new();
    let e = report.endpoint;
    if wsdl.target_namespace != e.namespace() {
        out.push(Difference::Namespace {
            expected: e.namespace(),
            found: wsdl.target_namespace.clone(),
        });
    }
    if !wsdl.has_method(e.method) {
        out.push(Difference::MethodMissing {
            method: e.method.to_string(),
            version: e.version,
            available: wsdl.operations.clone(),
        });
        return (out, None);
    }
    let found_params = wsdl.params(e.method);
    if let Some(found) = &found_params {
        compare_params(report, found, &mut out);
    }
    match wsdl.result(e.method) {
        None => out.push(Difference::NoResponse {
            method: e.method.to_string(),
        }),
        Some((type_name, ty)) => {
            let root = wsdl.get_root(e.method).unwrap_or(type_name);
            if root != report.response.root {
                out.push(Difference::Root {
                    expected: report.response.root.to_string(),
                    found: root,
                });
            }
            let children = match ty {
                NodeType::Complex(c) => c,
                NodeType::Leaf(_) | NodeType::Any => Vec::new(),
            };
            compare_response(report, &children, &mut out);
        }
    }
    (out, found_params)
}

pub(super) fn compare_params(report: &Report, found: &[FoundParam], out: &mut Vec<Difference>) {
    let same = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    for p in report.params {
        if !found.iter().any(|f| same(&f.name, p.name)) {
            out.push(Difference::ParamMissing {
                name: p.name.to_string(),
            });
        }
    }
    for (i, f) in found.iter().enumerate() {
        if !report.params.iter().any(|p| same(&f.name, p.name)) {
            out.push(Difference::ParamExtra {
                name: f.name.clone(),
                position: i,
                found: f.xsd.to_string(),
            });
        }
    }
    let expected: Vec<String> = report
        .params
        .iter()
        .filter(|p| found.iter().any(|f| same(&f.name, p.name)))
        .map(|p| p.name.to_string())
        .collect();
    let order: Vec<String> = found
        .iter()
        .filter_map(|f| {
            report
                .params
                .iter()
                .find(|p| same(&f.name, p.name))
                .map(|p| p.name.to_string())
        })
        .collect();
    if expected != order {
        out.push(Difference::ParamOrder {
            expected,
            found: order,
        });
    }
    for p in report.params {
        let Some(f) = found.iter().find(|f| same(&f.name, p.name)) else {
            continue;
        };
        if !param_fits(p.kind, &f.xsd) {
            out.push(Difference::ParamType {
                name: p.name.to_string(),
                expected: kind_text(p.kind),
                found: f.xsd.to_string(),
            });
            continue;
        }
        if let (
            ParamKind::Enum(values),
            Xsd::Enum {
                values: accepted, ..
            },
        ) = (p.kind, &f.xsd)
        {
            let unknown: Vec<String> = values
                .iter()
                .filter(|v| !accepted.iter().any(|a| a.eq_ignore_ascii_case(v)))
                .map(|v| v.to_string())
                .collect();
            if !unknown.is_empty() {
                out.push(Difference::EnumValues {
                    name: p.name.to_string(),
                    unknown,
                    found: accepted.clone(),
                });
            }
        }
    }
}

/// Finds the rows in a result's elements: the named collection and row when present, else the
/// first repeated element (directly, or as the only repeated child of an element).
pub(super) fn find_rows<'a>(
    report: &Report,
    payload: &[&'a Node],
) -> Option<(Option<String>, &'a Node)> {
    let r = &report.response;
    let repeated_in = |n: &'a Node| -> Option<&'a Node> {
        match &n.ty {
            NodeType::Complex(children) => children
                .iter()
                .find(|c| c.repeated && c.name == r.row)
                .or_else(|| {
                    let rep: Vec<&Node> = children.iter().filter(|c| c.repeated).collect();
                    (rep.len() == 1).then(|| rep[0])
                }),
            NodeType::Leaf(_) | NodeType::Any => None,
        }
    };
    if let Some(c) = r.collection {
        if let Some(n) = payload.iter().find(|n| n.name == c) {
            if let Some(row) = repeated_in(n) {
                return Some((Some(c.to_string()), row));
            }
        }
    } else if let Some(n) = payload.iter().find(|n| n.repeated && n.name == r.row) {
        return Some((None, n));
    }
    if let Some(n) = payload.iter().find(|n| n.repeated) {
        return Some((None, n));
    }
    payload
        .iter()
        .find_map(|n| repeated_in(n).map(|row| (Some(n.name.clone()), row)))
}

pub(super) fn compare_response(report: &Report, children: &[Node], out: &mut Vec<Difference>) {
    let r = &report.response;
    let envelope = children.iter().any(|n| n.name == "success");
    if envelope != r.envelope {
        out.push(Difference::Envelope {
            expected: r.envelope,
            found: envelope,
        });
    }
    let payload: Vec<&Node> = children
        .iter()
        .filter(|n| !ENVELOPE.contains(&n.name.as_str()))
        .collect();
    let Some((collection, row)) = find_rows(report, &payload) else {
        out.push(Difference::Row {
            expected: r.row.to_string(),
            found: None,
        });
        return;
    };
    if collection.as_deref() != r.collection {
        out.push(Difference::Collection {
            expected: r.collection.map(str::to_string),
            found: collection,
        });
    }
    if row.name != r.row {
        out.push(Difference::Row {
            expected: r.row.to_string(),
            found: Some(row.name.clone()),
        });
    }
    let nodes: &[Node] = match &row.ty {
        NodeType::Complex(c) => c,
        NodeType::Leaf(_) | NodeType::Any => &[],
    };
    compare_columns(report, nodes, out);
}

pub(super) fn compare_columns(report: &Report, nodes: &[Node], out: &mut Vec<Difference>) {
    // Paths the catalog knows without a column: secrets, or kept in `_extra` (unmapped).
    let known: Vec<Vec<&str>> = report
        .response
        .secret
        .iter()
        .chain(report.response.unmapped)
        .map(|s| s.split('/').collect())
        .collect();
    let scope = Scope {
        name: String::new(),
        path: Vec::new(),
    };
    compare_scope(report.columns, nodes, &scope, &known, out);
}

/// Where a list of columns sits: the row, or the repeated element of a `List<Struct>` column.
struct Scope {
    /// The struct column's dotted name (`offer_contracts`), empty for the row.
    name: String,
    /// The repeated element's path from the row.
    path: Vec<String>,
}

impl Scope {
    /// The dotted name of `column` in this scope.
    fn column(&self, column: &str) -> String {
        if self.name.is_empty() {
            column.to_string()
        } else {
            format!("{}.{column}", self.name)
        }
    }

    /// A path below the scope as seen from the row.
    fn path_from_row(&self, path: &[&str]) -> Vec<String> {
        let mut out = self.path.clone();
        out.extend(path.iter().map(|s| s.to_string()));
        out
    }
}

/// `columns` (paths from the scope) against `nodes` (the WSDL's elements at the scope), then the
/// elements nothing reads. `known` holds the row's paths without a column.
fn compare_scope(
    columns: &'static [Column],
    nodes: &[Node],
    scope: &Scope,
    known: &[Vec<&str>],
    out: &mut Vec<Difference>,
) {
    // Paths the columns read that the scope has; missing ones wait for a possible rename.
    let mut effective: Vec<Vec<String>> = Vec::new();
    let mut missing: Vec<(usize, usize)> = Vec::new();
    for (i, c) in columns.iter().enumerate() {
        // The column's path, or, when it is missing, another version's (`also`).
        let mut paths = std::iter::once(c.path).chain(c.also.iter().copied());
        let mut found = None;
        let mut first_missing = None;
        for p in paths.by_ref() {
            match walk(nodes, p) {
                Walk::Found(node, repeated) => {
                    found = Some((p, node, repeated));
                    break;
                }
                Walk::Missing(depth) => {
                    first_missing.get_or_insert(depth);
                }
                Walk::BelowLeaf => {}
            }
        }
        let Some((path, node, repeated)) = found else {
            match first_missing {
                Some(depth) => missing.push((i, depth)),
                None => out.push(Difference::ColumnMissing {
                    column: scope.column(c.name),
                    path: c.path.join("/"),
                }),
            }
            continue;
        };
        effective.push(path.iter().map(|s| s.to_string()).collect());
        compare_column(c, path, node, repeated, scope, known, out);
    }
    // A path is covered when a column reads it or below it, or when it lies below a column's
    // element (a JSON column's content, a struct's fields, compared in their own scope).
    let covered = |effective: &[Vec<String>], path: &[&str]| {
        effective.iter().any(|e| {
            let e: Vec<&str> = e.iter().map(String::as_str).collect();
            starts_with(&e, path) || starts_with(path, &e)
        })
    };
    let skipped = |path: &[&str]| {
        let full = scope.path_from_row(path);
        let full: Vec<&str> = full.iter().map(String::as_str).collect();
        known.iter().any(|s| starts_with(&full, s))
    };
    // A missing column whose element has exactly one unmapped sibling that fits was renamed.
    let mut moved = Vec::new();
    for &(i, depth) in &missing {
        let c = &columns[i];
        let parent = &c.path[..depth];
        let candidates: Vec<String> = children_at(nodes, parent)
            .unwrap_or_default()
            .iter()
            .filter(|n| {
                let mut p = parent.to_vec();
                p.push(n.name.as_str());
                !covered(&effective, &p) && !skipped(&p)
            })
            .filter_map(|n| {
                let mut p: Vec<&str> = parent.to_vec();
                p.push(n.name.as_str());
                p.extend_from_slice(&c.path[depth + 1..]);
                match walk(nodes, &p) {
                    Walk::Found(node, repeated) => match &node.ty {
                        NodeType::Leaf(x)
                            if matches!(c.ty, ColumnType::List(_)) == repeated
                                && leaf_fits(c.ty.leaf(), x) =>
                        {
                            Some(p.join("/"))
                        }
                        _ => None,
                    },
                    _ => None,
                }
            })
            .collect();
        if let [only] = candidates.as_slice() {
            moved.push((i, only.clone()));
        } else {
            out.push(Difference::ColumnMissing {
                column: scope.column(c.name),
                path: c.path.join("/"),
            });
        }
    }
    for (i, found_path) in moved {
        let c = &columns[i];
        effective.push(found_path.split('/').map(str::to_string).collect());
        out.push(Difference::ColumnMoved {
            column: scope.column(c.name),
            path: c.path.join("/"),
            found_path,
        });
    }
    // Elements nothing reads, skips or keeps.
    fn unmapped(
        nodes: &[Node],
        prefix: &mut Vec<String>,
        repeated: bool,
        scope: &Scope,
        covered: &dyn Fn(&[&str]) -> bool,
        skipped: &dyn Fn(&[&str]) -> bool,
        out: &mut Vec<Difference>,
    ) {
        for n in nodes {
            prefix.push(n.name.clone());
            let path: Vec<&str> = prefix.iter().map(String::as_str).collect();
            let rep = repeated || n.repeated;
            if !skipped(&path) {
                if !covered(&path) {
                    out.push(Difference::Unmapped {
                        path: path.join("/"),
                        scope: scope.name.clone(),
                        found: describe(n, rep),
                        suggested: match &n.ty {
                            NodeType::Leaf(x) => Some(suggested_type(x, rep)),
                            NodeType::Complex(_) | NodeType::Any => None,
                        },
                        columns: match &n.ty {
                            NodeType::Leaf(_) => Vec::new(),
                            _ => vec![typed_column(n, &n.name, &path, rep)],
                        },
                    });
                } else if let NodeType::Complex(children) = &n.ty {
                    unmapped(children, prefix, rep, scope, covered, skipped, out);
                }
            }
            prefix.pop();
        }
    }
    let is_covered = |p: &[&str]| covered(&effective, p);
    unmapped(
        nodes,
        &mut Vec::new(),
        false,
        scope,
        &is_covered,
        &skipped,
        out,
    );
}

/// One column found at `path` (its own, or another version's) against its element.
fn compare_column(
    c: &'static Column,
    path: &[&str],
    node: &Node,
    repeated: bool,
    scope: &Scope,
    known: &[Vec<&str>],
    out: &mut Vec<Difference>,
) {
    let name = scope.column(c.name);
    let shown = path.join("/");
    match (&c.ty, &node.ty) {
        (ColumnType::List(ColumnType::Struct(fields)), NodeType::Complex(children)) => {
            if !repeated {
                out.push(Difference::ColumnType {
                    column: name.clone(),
                    path: shown,
                    expected: "list<struct>".into(),
                    found: describe(node, repeated),
                    suggested: None,
                });
            }
            let inner = Scope {
                name,
                path: scope.path_from_row(path),
            };
            compare_scope(fields, children, &inner, known, out);
        }
        (ColumnType::List(ColumnType::Struct(_)), NodeType::Any) => {}
        (ColumnType::List(ColumnType::Struct(_)), NodeType::Leaf(_)) => {
            out.push(Difference::ColumnType {
                column: name,
                path: shown,
                expected: "list<struct>".into(),
                found: describe(node, repeated),
                suggested: None,
            });
        }
        (ColumnType::Json, NodeType::Any) => {}
        (ColumnType::Json, _) => {
            // The instance types what the catalog keeps as JSON: the WSDL gives its shape.
            out.push(Difference::Typed {
                column: name,
                path: shown,
                found: describe(node, repeated),
                columns: vec![typed_column(node, c.name, path, repeated)],
            });
        }
        (_, NodeType::Complex(_) | NodeType::Any) => out.push(Difference::ColumnNotLeaf {
            column: name,
            path: shown,
        }),
        (ty, NodeType::Leaf(x)) => {
            let list = matches!(ty, ColumnType::List(_));
            if list != repeated || !leaf_fits(c.ty.leaf(), x) {
                out.push(Difference::ColumnType {
                    column: name,
                    path: shown,
                    expected: spec_type(&c.ty),
                    found: describe(node, repeated),
                    suggested: Some(suggested_type(x, repeated)),
                });
            }
        }
    }
}

/// The spec column that reads `node` (at `path`, named `name`) with the WSDL's types: a scalar,
/// a list of scalars, a `list<struct>` with fields as deep as the WSDL nests them, or JSON
/// for `xs:any` content.
pub(super) fn typed_column(node: &Node, name: &str, path: &[&str], repeated: bool) -> TypedColumn {
    let name = snake(name);
    let path = path.join("/");
    match &node.ty {
        NodeType::Leaf(x) => TypedColumn {
            name,
            path,
            ty: suggested_type(x, repeated),
            fields: Vec::new(),
        },
        NodeType::Any => TypedColumn {
            name,
            path,
            ty: "json".into(),
            fields: Vec::new(),
        },
        NodeType::Complex(children) => {
            // An element that wraps one repeated element is that element's list.
            let (path, fields) = match children.as_slice() {
                [only] if only.repeated => match &only.ty {
                    NodeType::Complex(inner) => {
                        (format!("{path}/{}", only.name), fields_of(inner, &[]))
                    }
                    _ => (path, fields_of(children, &[])),
                },
                _ => (path, fields_of(children, &[])),
            };
            TypedColumn {
                name,
                path,
                ty: "list<struct>".into(),
                fields,
            }
        }
    }
}

/// The fields of a struct from the WSDL's elements below its repeated element: leaves below
/// non-repeated containers flattened into their path (`payout/amount` as `payout_amount`),
/// repeated elements as nested lists.
fn fields_of(nodes: &[Node], prefix: &[&str]) -> Vec<TypedColumn> {
    let mut out: Vec<TypedColumn> = Vec::new();
    for n in nodes {
        let mut path: Vec<&str> = prefix.to_vec();
        path.push(&n.name);
        match &n.ty {
            NodeType::Complex(children) if !n.repeated => {
                out.extend(fields_of(children, &path));
            }
            _ => {
                let name = if prefix.is_empty() {
                    n.name.clone()
                } else {
                    path.join("_")
                };
                out.push(typed_column(n, &name, &path, n.repeated));
            }
        }
    }
    // Names unique within the struct.
    let mut seen = std::collections::BTreeSet::new();
    for f in &mut out {
        while !seen.insert(f.name.clone()) {
            f.name.push_str("_2");
        }
    }
    out
}

/// A name as spec files want it: lowercase snake_case.
fn snake(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() {
            if i > 0 && !out.ends_with('_') {
                out.push('_');
            }
            out.push(c.to_ascii_lowercase());
        } else if c.is_ascii_alphanumeric() {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_matches('_').to_string();
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        format!("x_{out}")
    } else {
        out
    }
}
