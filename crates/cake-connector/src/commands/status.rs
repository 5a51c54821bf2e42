//! `status`: what an output location holds, table by table.

use std::fmt::Write as _;

use crate::exit::Result;
use cake_pipeline::{RunRecord, TableStatus};

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
    let listed = args.config.as_deref().map(config_tables).transpose()?;
    let sink = super::pull::open_sink(&args.out, cake_sink::Format::default())?;
    let runtime = crate::runtime()?;
    let tables = runtime.block_on(cake_pipeline::status(&sink, chrono::Utc::now()))?;
    let mut history = Vec::new();
    if let Some(n) = args.history {
        for t in &tables {
            history.push(runtime.block_on(cake_pipeline::run_history(&sink, &t.table, n)));
        }
    }
    let view = View {
        location: sink.store().display(),
        tables: &tables,
        history: &history,
        listed: listed.as_ref(),
    };
    if args.json {
        return Ok(format!("{}\n", crate::args::json(&view.json())?));
    }
    Ok(render(&view))
}

/// The tables a sync config writes, and the config's name.
fn config_tables(path: &std::path::Path) -> Result<(String, Vec<String>)> {
    let text = super::config::read(path)?;
    let plan = cake_pipeline::parse_config(&path.display().to_string(), &text)
        .map_err(|e| crate::exit::UsageError::new(e.to_string()))?;
    let tables = plan.reports.into_iter().map(|r| r.table).collect();
    Ok((path.display().to_string(), tables))
}

/// What `status` shows: the tables, their recent runs, and what a config lists.
struct View<'a> {
    location: String,
    tables: &'a [TableStatus],
    /// The recent runs of each table (same order), when asked for.
    history: &'a [Vec<RunRecord>],
    /// The config's name and the tables it lists, when given.
    listed: Option<&'a (String, Vec<String>)>,
}

impl View<'_> {
    fn in_config(&self, table: &str) -> Option<bool> {
        self.listed.map(|(_, t)| t.iter().any(|l| l == table))
    }

    /// The tables the config lists that the location does not hold.
    fn not_written(&self) -> Vec<&str> {
        self.listed.map_or_else(Vec::new, |(_, listed)| {
            listed
                .iter()
                .filter(|l| !self.tables.iter().any(|t| &t.table == *l))
                .map(String::as_str)
                .collect()
        })
    }

    fn json(&self) -> serde_json::Value {
        let tables: Vec<serde_json::Value> = self
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let mut v = serde_json::to_value(t).unwrap_or_default();
                if let Some(runs) = self.history.get(i) {
                    v["history"] = serde_json::to_value(runs).unwrap_or_default();
                }
                if let Some(listed) = self.in_config(&t.table) {
                    v["in_config"] = listed.into();
                }
                v
            })
            .collect();
        let mut json = serde_json::json!({
            "location": self.location,
            "tables": tables,
        });
        if self.listed.is_some() {
            json["not_written"] = self.not_written().into();
        }
        json
    }
}

/// The tables as text that fits 80 columns.
fn render(view: &View) -> String {
    let (location, tables) = (view.location.as_str(), view.tables);
    let mut out = String::new();
    if tables.is_empty() {
        let _ = writeln!(out, "{location} holds no table");
        not_in_config(&mut out, view);
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
    not_in_config(&mut out, view);
    for (t, runs) in tables.iter().zip(view.history) {
        let _ = writeln!(out, "\n{}: last {} run(s)", t.table, runs.len());
        for r in runs {
            let _ = writeln!(out, "  {}", history_line(r));
        }
    }
    out
}

/// The lines that tell which tables the config no longer lists, and which it lists that the
/// location does not hold yet.
fn not_in_config(out: &mut String, view: &View) {
    let Some((config, _)) = view.listed else {
        return;
    };
    for t in view.tables {
        if view.in_config(&t.table) == Some(false) {
            let _ = writeln!(out, "{}: not in {config}, no sync updates it", t.table);
        }
    }
    for t in view.not_written() {
        let _ = writeln!(out, "{t}: in {config}, not written yet");
    }
}

/// One run in one line (78 columns for a day range): when it ended, how, what it was asked
/// for, the windows and rows it committed, how long it took, and the class of its failure.
fn history_line(r: &RunRecord) -> String {
    // `2026-12-07T10:01:02.123Z` → `2026-12-07 10:01`.
    let at = r
        .finished_at
        .get(..16)
        .unwrap_or(&r.finished_at)
        .replace('T', " ");
    let took = r.millis.map_or_else(
        || "-".to_string(),
        |ms| format!("{:.1}s", ms as f64 / 1000.0),
    );
    let covered = r.covered.as_deref().unwrap_or("-");
    let mut line = format!(
        "{at} {:<11} {covered:<24} {:>3}w {:>8} rows {took:>6}",
        r.status.as_str(),
        r.windows,
        r.rows,
    );
    if let Some(class) = &r.class {
        let _ = write!(line, " {class}");
    }
    // Longer than a line only with a long class or range: printing wraps it.
    line
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
