//! The catalog described as data: the JSON of `reports --json` and `describe --json`, the same
//! objects the Python module's `reports()` and `describe()` return.

use cake_catalog::{ParamKind, Report};
use serde_json::{json, Value};

/// Columns a table may carry besides the report's own, with what they hold.
pub const KEPT_COLUMNS: [(&str, &str); 2] = [
    (
        cake_catalog::EXTRA_COLUMN,
        "(JSON: elements of the row the catalog does not map)",
    ),
    (
        cake_catalog::REJECTED_COLUMN,
        "(JSON: values that did not fit their column)",
    ),
];

/// Days an incremental run reads again before its state, unless told otherwise.
pub const LOOKBACK_DAYS: u32 = crate::sync::DEFAULT_LOOKBACK_DAYS;

/// One report in a line of `reports --json`.
pub fn report_json(r: &Report) -> Value {
    json!({
        "id": r.id,
        "name": r.name,
        "service": r.endpoint.service.as_str(),
        "method": r.endpoint.method,
        "version": r.endpoint.version,
        "dated": r.is_dated(),
        "paged": r.is_paged(),
        "verified": r.verified,
    })
}

/// A parameter's kind as `describe` shows it.
pub fn param_kind_text(kind: ParamKind) -> String {
    match kind {
        ParamKind::Enum(values) => format!("enum({})", values.join("|")),
        other => other.as_str().to_string(),
    }
}

/// A column (or a struct's field) as `describe --json` gives it, its fields nested.
fn column_json(c: &cake_catalog::Column) -> Value {
    let mut v = json!({
        "name": c.name,
        "type": c.ty.arrow_name(),
        "nullable": c.nullable,
        "path": c.path.join("/"),
    });
    if let Value::Object(o) = &mut v {
        if !c.also.is_empty() {
            o.insert(
                "also".into(),
                json!(c.also.iter().map(|p| p.join("/")).collect::<Vec<_>>()),
            );
        }
        if c.personal {
            o.insert("personal".into(), json!(true));
        }
        if let Some(fields) = c.fields() {
            o.insert(
                "fields".into(),
                json!(fields.iter().map(column_json).collect::<Vec<_>>()),
            );
        }
    }
    v
}

/// Everything the catalog knows of a report (`describe --json`).
pub fn describe_json(r: &Report) -> Value {
    let mut v = report_json(r);
    let extra = json!({
        "description": r.description,
        "notes": r.notes,
        "path": r.endpoint.path(),
        "namespace": r.endpoint.namespace(),
        "dates": match r.dates {
            cake_catalog::DateSemantics::Range { max_window } =>
                json!({"kind": "range", "max_window": max_window.as_str()}),
            other => json!({"kind": other.as_str()}),
        },
        "paging": r.paging.map(|p| json!({
            "start_at_row": "1-based",
            "default_page_size": p.default_page_size,
            "max_page_size": p.max_page_size,
        })),
        "menus": r.menus.iter().map(|m| json!({
            "key": m.key(), "label": m.label(), "flags": m.flags(),
        })).collect::<Vec<_>>(),
        "parameters": r.params.iter().map(|p| json!({
            "name": p.name,
            "kind": param_kind_text(p.kind),
            "default": p.default,
            "menu": p.menu.map(|m| m.key()),
        })).collect::<Vec<_>>(),
        "response": {
            "root": r.response.root,
            "collection": r.response.collection,
            "row": r.response.row,
            "envelope": r.response.envelope,
            "secret": r.response.secret,
            "unmapped": r.response.unmapped,
        },
        "columns": r.columns.iter().map(column_json).chain(KEPT_COLUMNS.iter().map(|(name, what)| json!({
            "name": name,
            "type": "Utf8",
            "nullable": true,
            "path": what,
        }))).collect::<Vec<_>>(),
        "primary_key": r.primary_key,
        "table_key": r.table_key,
        "date_field": r.date_field,
        "cursor_field": r.cursor_field,
        "partitions": partitions(r),
        "contract": CONTRACT_FIELDS,
        "lookback_days": LOOKBACK_DAYS,
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
        a.extend(b);
    }
    v
}

/// What a table's contract (`_table.json`) records; see `cake_pipeline::contract_for`.
pub const CONTRACT_FIELDS: &[&str] = &[
    "report",
    "endpoint",
    "schema",
    "instance",
    "timezone",
    "layout",
    "the value of every parameter an option sets",
];

/// How a report's table is partitioned.
/// How a report's table is partitioned, in words.
pub fn partitions(r: &cake_catalog::Report) -> String {
    match (r.dates, r.layout) {
        (cake_catalog::DateSemantics::None, _) => "none: each run replaces the table".into(),
        (_, cake_catalog::Layout::RowDay(c)) => format!(
            "{}=<day of {c}>: each run replaces the days it covers",
            cake_catalog::PARTITION_DAY
        ),
        _ => format!(
            "{}=<first day of each request window>",
            cake_catalog::PARTITION_DAY
        ),
    }
}
