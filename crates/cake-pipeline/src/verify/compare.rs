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
            NodeType::Leaf(_) => return Walk::BelowLeaf,
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
            NodeType::Leaf(_) => None,
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
                NodeType::Leaf(_) => Vec::new(),
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
            NodeType::Leaf(_) => None,
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
        NodeType::Leaf(_) => &[],
    };
    compare_columns(report, nodes, out);
}

pub(super) fn compare_columns(report: &Report, nodes: &[Node], out: &mut Vec<Difference>) {
    // Paths the catalog knows without a column: skipped, or kept in `_extra` (unmapped).
    let skips: Vec<Vec<&str>> = report
        .response
        .skip
        .iter()
        .chain(report.response.unmapped)
        .map(|s| s.split('/').collect())
        .collect();
    // Paths the catalog reads that the row has; missing ones wait for a possible rename.
    let mut effective: Vec<Vec<String>> = Vec::new();
    let mut missing: Vec<(usize, usize)> = Vec::new();
    for (i, c) in report.columns.iter().enumerate() {
        let path = c.path.join("/");
        match walk(nodes, c.path) {
            Walk::Found(node, repeated) => {
                effective.push(c.path.iter().map(|s| s.to_string()).collect());
                match &node.ty {
                    NodeType::Complex(_) => out.push(Difference::ColumnNotLeaf {
                        column: c.name.to_string(),
                        path,
                    }),
                    NodeType::Leaf(x) => {
                        let list = matches!(c.ty, ColumnType::List(_));
                        if list != repeated || !leaf_fits(c.ty.leaf(), x) {
                            out.push(Difference::ColumnType {
                                column: c.name.to_string(),
                                path,
                                expected: spec_type(&c.ty),
                                found: describe(node, repeated),
                                suggested: Some(suggested_type(x, repeated)),
                            });
                        }
                    }
                }
            }
            Walk::Missing(depth) => missing.push((i, depth)),
            Walk::BelowLeaf => out.push(Difference::ColumnMissing {
                column: c.name.to_string(),
                path,
            }),
        }
    }
    let covered = |effective: &[Vec<String>], path: &[&str]| {
        effective.iter().any(|e| {
            let e: Vec<&str> = e.iter().map(String::as_str).collect();
            starts_with(&e, path)
        })
    };
    let skipped = |path: &[&str]| skips.iter().any(|s| starts_with(path, s));
    // A missing column whose element has exactly one unmapped sibling that fits was renamed.
    let mut moved = Vec::new();
    for &(i, depth) in &missing {
        let c = &report.columns[i];
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
                column: c.name.to_string(),
                path: c.path.join("/"),
            });
        }
    }
    for (i, found_path) in moved {
        let c = &report.columns[i];
        effective.push(found_path.split('/').map(str::to_string).collect());
        out.push(Difference::ColumnMoved {
            column: c.name.to_string(),
            path: c.path.join("/"),
            found_path,
        });
    }
    // Elements nothing reads or skips.
    fn unmapped(
        nodes: &[Node],
        prefix: &mut Vec<String>,
        repeated: bool,
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
                        found: describe(n, rep),
                        suggested: match &n.ty {
                            NodeType::Leaf(x) => Some(suggested_type(x, rep)),
                            NodeType::Complex(_) => None,
                        },
                    });
                } else if let NodeType::Complex(children) = &n.ty {
                    unmapped(children, prefix, rep, covered, skipped, out);
                }
            }
            prefix.pop();
        }
    }
    let is_covered = |p: &[&str]| covered(&effective, p);
    unmapped(nodes, &mut Vec::new(), false, &is_covered, &skipped, out);
}
