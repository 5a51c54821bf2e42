//! `reports` and `describe`: the catalog, for people and for scripts.

use std::fmt::Write as _;

use cake_core::failure::Class;

use crate::exit::{Result, WhileDoing};
use cake_catalog::{ParamKind, Report, REPORTS};
use serde_json::{json, Value};

use crate::cli::{DescribeArgs, ReportsArgs};
use crate::fit::hanging;

pub fn reports(args: &ReportsArgs) -> Result<String> {
    if args.json {
        let list: Vec<Value> = REPORTS.iter().map(|r| summary_json(r)).collect();
        return Ok(crate::args::json(&list)? + "\n");
    }
    // 80 columns: the endpoint of each report is in `describe` and `reports --json`.
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<23} {:<23} {:<5} {:<5} VERIFIED",
        "ID", "NAME", "DATED", "PAGED"
    );
    for r in REPORTS {
        let _ = writeln!(
            out,
            "{:<23} {:<23} {:<5} {:<5} {}",
            r.id,
            r.name,
            yes_no(r.is_dated()),
            yes_no(r.is_paged()),
            if r.verified { "yes" } else { "no (inferred)" }
        );
    }
    let _ = writeln!(
        out,
        "\n{} reports. `cake-connector describe ID` shows one report's options and columns.",
        REPORTS.len()
    );
    Ok(out)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

fn summary_json(r: &Report) -> Value {
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

fn param_kind_text(kind: ParamKind) -> String {
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

fn describe_json(r: &Report) -> Value {
    let mut v = summary_json(r);
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
        "columns": r.columns.iter().map(column_json).chain(KEPT.iter().map(|(name, what)| json!({
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
    });
    if let (Value::Object(a), Value::Object(b)) = (&mut v, extra) {
        a.extend(b);
    }
    v
}

pub fn describe(args: &DescribeArgs) -> Result<String> {
    let r = crate::args::report(&args.report)?;
    if args.json {
        return Ok(crate::args::json(&describe_json(r))? + "\n");
    }
    let mut out = String::new();
    let _ = writeln!(out, "{} ({})", r.name, r.id);
    hanging(&mut out, "", r.description, 40, 0);
    out.push('\n');
    let field = |out: &mut String, label: &str, text: &str| {
        hanging(out, &format!("{label:<11}"), text, 40, 2);
    };
    field(&mut out, "Endpoint:", &format!("GET {}", r.endpoint.path()));
    let dates = match r.dates {
        cake_catalog::DateSemantics::None => "none (a snapshot each run)".to_string(),
        cake_catalog::DateSemantics::ChangesSince => "changes since a date".to_string(),
        cake_catalog::DateSemantics::Range { max_window } => match max_window {
            cake_catalog::MaxWindow::Month => "date range, at most one month per request".into(),
            cake_catalog::MaxWindow::Unbounded => "date range".into(),
        },
    };
    field(&mut out, "Dates:", &dates);
    let paging = match r.paging {
        Some(p) => format!(
            "{} rows per page{}",
            p.default_page_size,
            p.max_page_size
                .map(|m| format!(" (maximum {m})"))
                .unwrap_or_default()
        ),
        None => "none".into(),
    };
    field(&mut out, "Paging:", &paging);
    field(
        &mut out,
        "Verified:",
        if r.verified {
            "yes"
        } else {
            "no: the response shape or the endpoint mapping is inferred"
        },
    );
    field(&mut out, "Notes:", r.notes);
    out.push('\n');
    if r.menus.is_empty() {
        out.push_str("Options:   none\n");
    } else {
        out.push_str("Options:\n");
        for m in r.menus {
            if m.flags().is_empty() {
                continue;
            }
            hanging(
                &mut out,
                &format!("  {:<16} ", m.label()),
                &m.flags().join(", "),
                20,
                6,
            );
        }
    }
    out.push_str("\nParameters (sent in this order):\n");
    let name_width = r.params.iter().map(|p| p.name.len()).max().unwrap_or(0);
    for p in r.params {
        let value = match p.kind {
            ParamKind::ApiKey => "(API key)".to_string(),
            ParamKind::StartDate => "(window start)".into(),
            ParamKind::EndDate => "(window end, exclusive)".into(),
            ParamKind::ChangesSince => "(start of the change feed)".into(),
            ParamKind::StartAtRow => "(1-based first row of the page)".into(),
            ParamKind::RowLimit => "(page size)".into(),
            _ if p.default.is_empty() => "(empty)".into(),
            _ => p.default.to_string(),
        };
        let menu = p
            .menu
            .map(|m| format!(" <- {}", m.flags().join(", ")))
            .unwrap_or_default();
        hanging(
            &mut out,
            &format!("  {:<name_width$} ", p.name),
            &match p.kind {
                // One word per value, so that a long list wraps.
                ParamKind::Enum(values) => format!("enum({}) {value}{menu}", values.join(" | ")),
                other => format!("{} {value}{menu}", param_kind_text(other)),
            },
            24,
            6,
        );
    }
    out.push_str("\nColumns (name, type, source path):\n");
    let rows = column_rows(r.columns, "", "");
    let name_width = rows
        .iter()
        .map(|(n, ..)| n.len())
        .chain(KEPT.iter().map(|(n, _)| n.len()))
        .max()
        .unwrap_or(0)
        .min(30);
    let type_width = rows
        .iter()
        .map(|(_, t, _)| t.chars().count())
        .max()
        .unwrap_or(0)
        .min(24);
    for (name, ty, path) in &rows {
        hanging(
            &mut out,
            &format!("  {name:<name_width$} {ty:<type_width$} "),
            path,
            16,
            6,
        );
    }
    for (name, what) in KEPT {
        hanging(
            &mut out,
            &format!("  {name:<name_width$} {:<type_width$} ", "Utf8"),
            what,
            16,
            6,
        );
    }
    out.push('\n');
    let key = |out: &mut String, label: &str, text: &str| {
        hanging(out, &format!("{label:<13}"), text, 30, 2);
    };
    key(
        &mut out,
        "Primary key:",
        &format!("{} (unique in one answer)", r.primary_key.join(", ")),
    );
    key(
        &mut out,
        "Table key:",
        &format!("{} (unique in the table)", r.table_key.join(", ")),
    );
    if let Some(d) = r.date_field {
        key(&mut out, "Date field:", d);
    }
    if let Some(c) = r.cursor_field {
        key(&mut out, "Cursor:", c);
    }
    key(&mut out, "Partitions:", &partitions(r));
    key(
        &mut out,
        "Contract:",
        &format!(
            "a table records {}; a run that differs is refused (--table, --rebuild-table)",
            CONTRACT_FIELDS.join(", ")
        ),
    );
    Ok(out)
}

/// One line per column and, below a `List<Struct>` column, per field (`.field`, indented, its
/// path from the struct's repeated element): name, short type, path.
fn column_rows(
    columns: &[cake_catalog::Column],
    indent: &str,
    dot: &str,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for c in columns {
        let ty = match c.ty {
            cake_catalog::ColumnType::List(cake_catalog::ColumnType::Struct(_)) => {
                "List(Struct)".to_string()
            }
            cake_catalog::ColumnType::Json => "Utf8 (JSON)".to_string(),
            ty => ty.arrow_name(),
        };
        let ty = match (c.nullable, c.personal) {
            (false, _) => format!("{ty} not null"),
            (true, true) => format!("{ty} personal"),
            _ => ty,
        };
        out.push((format!("{indent}{dot}{}", c.name), ty, c.path.join("/")));
        if let Some(fields) = c.fields() {
            out.extend(column_rows(fields, &format!("{indent}  "), "."));
        }
    }
    out
}

/// The columns after the catalog's, and what they hold.
const KEPT: [(&str, &str); 2] = [
    (
        cake_catalog::EXTRA_COLUMN,
        "(JSON: elements of the row the catalog does not map)",
    ),
    (
        cake_catalog::REJECTED_COLUMN,
        "(JSON: values that did not fit their column)",
    ),
];

/// What a table's contract (`_table.json`) records; see `cake_pipeline::contract_for`.
const CONTRACT_FIELDS: &[&str] = &[
    "report",
    "endpoint",
    "schema",
    "instance",
    "timezone",
    "layout",
    "the value of every parameter an option sets",
];

/// How a report's table is partitioned.
fn partitions(r: &cake_catalog::Report) -> String {
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

/// A completion script for a shell, from the command-line definitions.
pub fn completions(args: &crate::cli::CompletionsArgs) -> Result<String> {
    let mut command = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_complete::generate(args.shell, &mut command, "cake-connector", &mut out);
    String::from_utf8(out).doing(Class::Internal, || "cannot write the completions".into())
}

/// The manual page (roff), from the command-line definitions.
pub fn man() -> Result<String> {
    let command = <crate::cli::Cli as clap::CommandFactory>::command();
    let mut out = Vec::new();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .doing(Class::Internal, || "cannot write the manual page".into())?;
    String::from_utf8(out).doing(Class::Internal, || "cannot write the manual page".into())
}
