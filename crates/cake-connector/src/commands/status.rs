//! `status`: what an output location holds, table by table.

use std::fmt::Write as _;

use crate::exit::Result;
use cake_pipeline::TableStatus;

use crate::cli::StatusArgs;
use crate::fit::{short, wrap};

pub fn run(args: &StatusArgs) -> Result<String> {
    // A local location that does not exist is a mistyped path, not an empty location (and
    // opening it would create it).
    let local = !args.out.contains("://");
    if local && !std::path::Path::new(&args.out).exists() {
        return Err(crate::exit::UsageError::new(format!(
            "the location {} does not exist; check the path (status reads a location that \
             pull or sync wrote, it never creates one)",
            args.out
        ))
        .into());
    }
    let sink = super::pull::open_sink(&args.out, cake_sink::Format::default())?;
    let runtime = crate::runtime()?;
    let tables = runtime.block_on(cake_pipeline::status(&sink, chrono::Utc::now()))?;
    if args.json {
        let json = serde_json::json!({
            "location": sink.store().display(),
            "tables": tables,
        });
        return Ok(format!("{}\n", crate::args::json(&json)?));
    }
    Ok(render(&sink.store().display(), &tables))
}

/// The tables as text that fits 80 columns.
fn render(location: &str, tables: &[TableStatus]) -> String {
    let mut out = String::new();
    if tables.is_empty() {
        let _ = writeln!(out, "{location} holds no table");
        return out;
    }
    let _ = writeln!(out, "{}", short(location, 80));
    let _ = writeln!(
        out,
        "{:<18} {:>10} {:>5} {:>4} {:>5} {:>9}  LAST RUN",
        "TABLE", "LAST DAY", "LAG", "GAPS", "PARTS", "ROWS"
    );
    for t in tables {
        let last_day = t
            .last_day
            .map_or_else(|| "-".to_string(), |d| d.to_string());
        let lag = t
            .lag_days
            .map_or_else(|| "-".to_string(), |d| format!("{d}d"));
        let run = t.last_run.as_ref().map_or_else(
            || "-".to_string(),
            |r| {
                // The day only: the whole instant is in --json.
                let at = r.finished_at.get(..10).unwrap_or(&r.finished_at);
                format!("{} {at}", r.status)
            },
        );
        let _ = writeln!(
            out,
            "{:<18} {:>10} {:>5} {:>4} {:>5} {:>9}  {run}",
            short(&t.table, 18),
            last_day,
            lag,
            t.gaps.len(),
            t.partitions,
            t.rows
        );
    }
    for t in tables {
        if !t.gaps.is_empty() {
            let list: Vec<String> = t
                .gaps
                .iter()
                .map(|(a, b)| {
                    if a == b {
                        a.to_string()
                    } else {
                        format!("{a}..{b}")
                    }
                })
                .collect();
            let line = format!("{}: missing {}", t.table, list.join(", "));
            let _ = writeln!(out, "{}", short(&line, 80));
        }
        if let Some(r) = t
            .last_run
            .as_ref()
            .filter(|r| r.status != cake_pipeline::RunStatus::Ok)
        {
            let error = r.error.as_deref().unwrap_or("no message");
            let _ = writeln!(out, "{}: last run {}:", t.table, r.status);
            for line in wrap(&without_queries(error), 78) {
                let _ = writeln!(out, "  {line}");
            }
        }
        if !t.unreadable.is_empty() {
            let line = format!(
                "{}: {} part(s) not read: {}",
                t.table,
                t.unreadable.len(),
                t.unreadable.join(", ")
            );
            let _ = writeln!(out, "{}", short(&line, 80));
        }
    }
    out
}

/// `text` with the query of every URL shown as `?…` (`--json` has the whole message).
fn without_queries(text: &str) -> String {
    text.split(' ')
        .map(|word| match word.split_once('?') {
            Some((url, _)) if url.contains("://") => format!("{url}?…"),
            _ => word.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}
