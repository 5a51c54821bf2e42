//! The rules every spec obeys, checked before anything is generated from it.

use std::collections::{BTreeMap, BTreeSet};

use crate::error::{require, Checked};
use crate::model::{ColumnSpec, ParamSpec, Spec, Ty};
use crate::options::OptionsTable;

/// Kinds of parameters that the plan or the transport fills (no default, no menu).
pub const FILLED_BY_PLAN: [&str; 6] = [
    "api_key",
    "start_date",
    "end_date",
    "changes_since",
    "start_at_row",
    "row_limit",
];

fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn is_path(s: &str) -> bool {
    !s.is_empty() && s.split('/').all(is_xml_name)
}

/// Checks one spec read from `<file_stem>.toml`.
pub fn check_spec(spec: &Spec, file_stem: &str, options: &OptionsTable) -> Checked {
    require!(
        !spec.id.is_empty()
            && spec
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "id `{}` must be lowercase ASCII letters, digits and '-'",
        spec.id
    );
    require!(
        spec.id == file_stem,
        "id `{}` must match the file name `{file_stem}.toml`",
        spec.id
    );
    require!(!spec.name.trim().is_empty(), "name is empty");
    require!(
        !spec.description.trim().is_empty() && !spec.description.contains('\n'),
        "description must be one non-empty line"
    );
    let ep = &spec.endpoint;
    require!(
        ["get", "export", "reports", "track"].contains(&ep.service.as_str()),
        "service `{}` must be get, export, reports or track",
        ep.service
    );
    require!(
        is_xml_name(&ep.method),
        "method `{}` is not a name",
        ep.method
    );
    require!(ep.version > 0, "version must be positive");

    // Parameters.
    let mut seen = BTreeSet::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &ep.params {
        require!(is_xml_name(&p.name), "parameter `{}` is not a name", p.name);
        require!(
            seen.insert(p.name.as_str()),
            "duplicate parameter `{}`",
            p.name
        );
        *kinds.entry(p.kind.as_str()).or_default() += 1;
        check_param(p, options).map_err(|e| format!("parameter `{}`: {e}", p.name))?;
    }
    require!(
        ep.params.first().is_some_and(|p| p.kind == "api_key"),
        "the first parameter must be the api_key"
    );
    for k in FILLED_BY_PLAN {
        require!(
            kinds.get(k).copied().unwrap_or(0) <= 1,
            "more than one `{k}` parameter"
        );
    }
    let has = |k: &str| kinds.contains_key(k);
    match spec.dates.kind.as_str() {
        "none" => {
            require!(
                spec.dates.max_window.is_none(),
                "max_window applies to ranges only"
            );
            require!(
                !has("start_date") && !has("end_date") && !has("changes_since"),
                "dates.kind = none but the endpoint has date parameters"
            );
        }
        "range" => {
            require!(
                has("start_date") && has("end_date") && !has("changes_since"),
                "dates.kind = range needs one start_date and one end_date parameter"
            );
            require!(
                matches!(
                    spec.dates.max_window.as_deref(),
                    Some("unbounded" | "month")
                ),
                "dates.max_window must be unbounded or month, not {:?}",
                spec.dates.max_window
            );
        }
        "changes_since" => {
            require!(
                spec.dates.max_window.is_none(),
                "max_window applies to ranges only"
            );
            require!(
                has("changes_since") && !has("start_date") && !has("end_date"),
                "dates.kind = changes_since needs one changes_since parameter"
            );
        }
        other => {
            return Err(format!(
                "dates.kind must be none, range or changes_since, not `{other}`"
            ))
        }
    }
    match &spec.paging {
        Some(p) => {
            require!(
                has("start_at_row") && has("row_limit"),
                "[paging] needs start_at_row and row_limit parameters"
            );
            require!(
                p.default_page_size > 0,
                "default_page_size must be positive"
            );
            if let Some(max) = p.max_page_size {
                require!(
                    p.default_page_size <= max,
                    "default_page_size exceeds max_page_size"
                );
            }
        }
        None => require!(
            !has("start_at_row") && !has("row_limit"),
            "paging parameters present but no [paging] table"
        ),
    }

    // Response and columns.
    let r = &spec.response;
    require!(is_xml_name(&r.root), "root `{}` is not a name", r.root);
    require!(is_xml_name(&r.row), "row `{}` is not a name", r.row);
    if let Some(c) = &r.collection {
        require!(is_xml_name(c), "collection `{c}` is not a name");
    }
    require!(!r.columns.is_empty(), "no columns");
    check_columns(&r.columns, "", true)?;
    let leaves = element_paths(&r.columns);
    for path in &r.unmapped {
        require!(
            is_path(path),
            "unmapped path `{path}` is not a path of names"
        );
        require!(
            !leaves
                .iter()
                .any(|(p, _)| p == path || p.starts_with(&format!("{path}/"))),
            "unmapped path `{path}` is read by a column"
        );
    }
    for secret in &r.secret {
        require!(
            is_path(secret),
            "secret path `{secret}` is not a path of names"
        );
        require!(
            !leaves
                .iter()
                .any(|(p, _)| p == secret || p.starts_with(&format!("{secret}/"))),
            "a column reads the secret `{secret}` (or below it)"
        );
    }
    require!(!spec.primary_key.is_empty(), "primary_key is empty");
    let top = |name: &str| r.columns.iter().find(|c| c.name() == name);
    for k in &spec.primary_key {
        let Some(col) = top(k) else {
            return Err(format!("primary key column `{k}` does not exist"));
        };
        require!(
            !col.nullable(),
            "primary key column `{k}` must be nullable = false"
        );
        require!(
            Ty::parse(&col.ty)?.is_scalar() && !col.personal(),
            "primary key column `{k}` must be a scalar that is always read (not personal)"
        );
    }
    if let Some(d) = &spec.date_field {
        let Some(col) = top(d) else {
            return Err(format!("date_field `{d}` does not exist"));
        };
        require!(
            matches!(Ty::parse(&col.ty)?, Ty::Timestamp | Ty::Date),
            "date_field `{d}` must be a timestamp or a date"
        );
        require!(
            spec.dates.kind != "none",
            "date_field on a report without dates"
        );
    }
    if let Some(d) = &spec.date_end_field {
        require!(
            spec.date_field.is_some(),
            "date_end_field `{d}` needs a date_field (where the period starts)"
        );
        require!(
            spec.partition_by.is_none(),
            "date_end_field `{d}`: rows that are periods belong to the windows they overlap, not to one day of partition_by"
        );
        let Some(col) = top(d) else {
            return Err(format!("date_end_field `{d}` does not exist"));
        };
        require!(
            matches!(Ty::parse(&col.ty)?, Ty::Timestamp | Ty::Date),
            "date_end_field `{d}` must be a timestamp or a date"
        );
    }
    if let Some(d) = &spec.cursor_field {
        let Some(col) = top(d) else {
            return Err(format!("cursor_field `{d}` does not exist"));
        };
        require!(
            Ty::parse(&col.ty)?.is_scalar(),
            "cursor_field `{d}` must be a scalar"
        );
    }
    if let Some(p) = &spec.partition_by {
        require!(
            spec.dates.kind != "none",
            "partition_by on a report without dates"
        );
        let Some(col) = top(p) else {
            return Err(format!("partition_by `{p}` does not exist"));
        };
        require!(
            matches!(Ty::parse(&col.ty)?, Ty::Timestamp | Ty::Date),
            "partition_by `{p}` must be a timestamp or a date"
        );
    }
    if let Some(keys) = &spec.table_key {
        require!(!keys.is_empty(), "table_key is empty");
        for k in keys {
            if k == "date" {
                require!(
                    spec.dates.kind == "range" && spec.partition_by.is_none(),
                    "table_key `date` (the partition's day) needs a range report partitioned by window"
                );
                continue;
            }
            let Some(col) = top(k) else {
                return Err(format!("table_key column `{k}` does not exist"));
            };
            require!(
                !col.nullable(),
                "table_key column `{k}` must be nullable = false"
            );
        }
    }
    Ok(())
}

/// The full path below the row of every element a column reads, with whether it is a leaf (a
/// value) or the repeated element of a `list<struct>` column. Alternative paths (`also`) are
/// included.
pub fn element_paths(columns: &[ColumnSpec]) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    collect_paths(columns, "", &mut out);
    out
}

fn collect_paths(columns: &[ColumnSpec], prefix: &str, out: &mut Vec<(String, bool)>) {
    for c in columns {
        for path in std::iter::once(&c.path).chain(&c.also) {
            let full = format!("{prefix}{path}");
            if c.fields.is_empty() {
                out.push((full, true));
            } else {
                out.push((full.clone(), false));
                collect_paths(&c.fields, &format!("{full}/"), out);
            }
        }
    }
}

/// The rules for one level of columns: the row's (`top`) or a struct's fields.
fn check_columns(columns: &[ColumnSpec], within: &str, top: bool) -> Checked {
    let mut names = BTreeSet::new();
    let mut paths: Vec<Vec<&str>> = Vec::new();
    for c in columns {
        let name = c.name();
        let shown = if within.is_empty() {
            format!("column `{name}`")
        } else {
            format!("field `{within}.{name}`")
        };
        require!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "{shown}: the name must be lowercase snake_case"
        );
        require!(
            !name.starts_with('_'),
            "{shown}: names starting with `_` are the connector's own (`_extra`, `_rejected`)"
        );
        require!(names.insert(name), "duplicate {shown}");
        require!(
            !(top && name == "date"),
            "column name `date` is the output's hive partition column; name the column after what the date is (`summary_date`)"
        );
        require!(
            is_path(&c.path),
            "{shown}: path `{}` is not a path of names",
            c.path
        );
        let ty = Ty::parse(&c.ty).map_err(|e| format!("{shown}: {e}"))?;
        let segs = c.segments();
        if ty.is_scalar_list() {
            require!(
                segs.len() >= 2,
                "{shown}: a list path needs the repeated element"
            );
        }
        if ty.is_struct_list() {
            require!(
                !c.fields.is_empty(),
                "{shown}: a list<struct> needs `fields`"
            );
            let inner = if within.is_empty() {
                name.to_string()
            } else {
                format!("{within}.{name}")
            };
            check_columns(&c.fields, &inner, false)?;
        } else {
            require!(
                c.fields.is_empty(),
                "{shown}: `fields` belong to list<struct> columns"
            );
        }
        if !top {
            require!(c.nullable(), "{shown}: fields are nullable");
        }
        for also in &c.also {
            require!(
                is_path(also) && also.split('/').count() == segs.len(),
                "{shown}: `also` path `{also}` must be a path of as many elements as `{}`",
                c.path
            );
        }
        paths.push(segs);
    }
    for (i, a) in paths.iter().enumerate() {
        for (j, b) in paths.iter().enumerate() {
            require!(
                i == j || a != b,
                "two columns read the same path `{}`",
                a.join("/")
            );
            require!(
                i == j || !(b.len() > a.len() && b[..a.len()] == a[..]),
                "path `{}` is a leaf or repeated element of one column and a parent in `{}`",
                a.join("/"),
                b.join("/")
            );
        }
    }
    Ok(())
}

fn check_param(p: &ParamSpec, options: &OptionsTable) -> Checked {
    if FILLED_BY_PLAN.contains(&p.kind.as_str()) {
        require!(
            p.default.is_none() && p.menu.is_none() && p.values.is_none(),
            "kind `{}` takes no default, menu or values",
            p.kind
        );
        return Ok(());
    }
    let Some(default) = p.default.as_deref() else {
        return Err(format!(
            "kind `{}` needs a default (the value sent when nothing is chosen)",
            p.kind
        ));
    };
    match p.kind.as_str() {
        "int" => {
            require!(
                default.parse::<i32>().is_ok(),
                "default `{default}` is not an integer"
            );
            require!(p.values.is_none(), "values apply to enums only");
        }
        "text" => require!(p.values.is_none(), "values apply to enums only"),
        "bool" => {
            require!(
                default == "TRUE" || default == "FALSE",
                "bool default must be TRUE or FALSE"
            );
            require!(p.values.is_none(), "values apply to enums only");
        }
        "enum" => {
            let values = p.values.as_deref().unwrap_or_default();
            require!(!values.is_empty(), "an enum needs values");
            require!(
                values.iter().any(|v| v == default),
                "default `{default}` is not one of the values"
            );
        }
        other => {
            return Err(format!(
                "unknown kind `{other}` (expected api_key, start_date, end_date, changes_since, \
                 start_at_row, row_limit, int, text, bool or enum)"
            ))
        }
    }
    if let Some(menu) = &p.menu {
        let expected = match options.menu(menu) {
            Some(m) => match m.fills.as_deref() {
                Some(f) => f,
                None => {
                    return Err(format!(
                        "menu `{menu}` chooses dates: it cannot fill a parameter"
                    ))
                }
            },
            None => return Err(format!("unknown menu `{menu}` (see the options table)")),
        };
        require!(
            p.kind == expected,
            "menu `{menu}` needs a parameter of kind `{expected}`"
        );
    }
    match (&p.conversion_values, p.menu.as_deref()) {
        (Some(cv), Some("conversion_type")) => {
            let values = p.values.as_deref().unwrap_or_default();
            for v in [&cv.conversions, &cv.events, &cv.all] {
                require!(
                    values.contains(v),
                    "conversion value `{v}` is not one of the values"
                );
            }
        }
        (None, Some("conversion_type")) => {
            return Err("menu conversion_type needs conversion_values".into())
        }
        (Some(_), _) => return Err("conversion_values need menu = \"conversion_type\"".into()),
        (None, _) => {}
    }
    Ok(())
}
