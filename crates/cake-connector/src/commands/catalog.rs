//! `reports` and `describe`: the catalog, for people and for scripts.

use std::fmt::Write as _;

use cake_core::failure::Class;

use crate::exit::{Result, WhileDoing};
use cake_catalog::{ParamKind, REPORTS};
use serde_json::Value;

use crate::cli::{DescribeArgs, ReportsArgs};
use crate::fit::hanging;

pub fn reports(args: &ReportsArgs) -> Result<String> {
    if args.json {
        let list: Vec<Value> = REPORTS
            .iter()
            .map(|r| cake_pipeline::describe::report_json(r))
            .collect();
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

pub fn describe(args: &DescribeArgs) -> Result<String> {
    let r = crate::args::report(&args.report)?;
    if args.json {
        return Ok(crate::args::json(&cake_pipeline::describe::describe_json(r))? + "\n");
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
                other => format!(
                    "{} {value}{menu}",
                    cake_pipeline::describe::param_kind_text(other)
                ),
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
        .chain(
            cake_pipeline::describe::KEPT_COLUMNS
                .iter()
                .map(|(n, _)| n.len()),
        )
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
    for (name, what) in cake_pipeline::describe::KEPT_COLUMNS {
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
    key(
        &mut out,
        "Partitions:",
        &cake_pipeline::describe::partitions(r),
    );
    key(
        &mut out,
        "Contract:",
        &format!(
            "a table records {}; a run that differs is refused (--table, --rebuild-table)",
            cake_pipeline::describe::CONTRACT_FIELDS.join(", ")
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
