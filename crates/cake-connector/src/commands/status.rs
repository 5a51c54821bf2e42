//! `status`: what an output location holds, table by table.

use std::fmt::Write as _;

use anyhow::Result;
use cake_pipeline::TableStatus;

use crate::cli::StatusArgs;

pub fn run(args: &StatusArgs) -> Result<String> {
    let sink = super::pull::open_sink(&args.out, cake_sink::Format::default())?;
    let runtime = crate::runtime()?;
    let tables = runtime.block_on(cake_pipeline::status(&sink, chrono::Utc::now()))?;
    if args.json {
        let json = serde_json::json!({
            "location": sink.store().display(),
            "tables": tables,
        });
        return Ok(format!("{}\n", serde_json::to_string_pretty(&json)?));
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
        if let Some(r) = t.last_run.as_ref().filter(|r| r.status != "ok") {
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

/// `text` in lines of at most `width` characters, cut at spaces (a longer word is cut).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = short(word, width);
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` cut to `width` characters, with an ellipsis when cut.
fn short(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}
