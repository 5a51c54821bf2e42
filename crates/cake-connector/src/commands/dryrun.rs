//! `pull --dry-run`: the plan as it will run. Every window with the partition it replaces and
//! its first request exactly as it will be sent (the page size included, the key redacted), and
//! with `--json` the `pull` arguments that run each window alone, for an orchestrator that fans
//! a long range out as independent shards.

use std::fmt::Write as _;

use cake_catalog::{Layout, Plan};
use cake_transport::{Instance, Page, Protocol};
use serde::Serialize;

use crate::cli::PullArgs;

/// The plan of a pull, as shown by `--dry-run`.
#[derive(Debug, Serialize)]
pub struct DryRun {
    pub report: String,
    pub table: String,
    pub timezone: String,
    pub window: String,
    /// The output location.
    pub location: String,
    /// What the run does to the table, after the same check of its contract.
    pub table_check: Option<String>,
    /// The run that holds the table's lock now, if any: the real run would wait for it.
    pub locked_by: Option<String>,
    /// `soap` (SOAP 1.2, the key in the body) or `get` (HTTP GET, the key in the URL).
    pub protocol: String,
    /// The body of the first window's first request under SOAP, the key redacted.
    pub first_body: Option<String>,
    /// `replace` or `append`.
    pub mode: String,
    /// Rows per page, for paged reports.
    pub page_size: Option<u32>,
    /// Days asked for after today, left out.
    pub skipped_future: Option<String>,
    pub windows: Vec<DryWindow>,
}

/// One window of a dry run.
#[derive(Debug, Serialize)]
pub struct DryWindow {
    /// First day (instance-local), for dated reports.
    pub start: Option<String>,
    /// Last day (included).
    pub last_day: Option<String>,
    /// Where the request ends instead of the window's end: the run's start, for a window that
    /// reaches into the present.
    pub cutoff: Option<String>,
    /// The partition the window replaces (or appends to), relative to the location.
    pub partition: String,
    /// The first request, as it will be sent, the key redacted.
    pub first_request: String,
    /// Arguments of `cake-connector` that pull this window alone.
    pub shard: Vec<String>,
}

impl DryRun {
    pub fn new(plan: &Plan, args: &PullArgs, instance: &Instance, protocol: Protocol) -> DryRun {
        let r = plan.report;
        let table = args
            .output
            .table
            .clone()
            .unwrap_or_else(|| r.id.to_string());
        let windows = plan
            .requests
            .iter()
            .map(|req| {
                let page = plan.page_size.map(|size| Page {
                    index: 0,
                    start_at_row: 1,
                    row_limit: size,
                });
                let url = cake_transport::display_url(instance, r, req, page, protocol);
                let partition = match (r.layout, cake_pipeline::partition_of(plan, req.window)) {
                    (Layout::RowDay(column), _) => format!(
                        "{table}/date=<each day of {column} in the answer>, and the partitions of the days the request covers"
                    ),
                    (Layout::Window, Some(p)) => format!("{table}/{p}"),
                    (Layout::Window, None) => table.clone(),
                };
                DryWindow {
                    start: req.window.map(|w| w.start().to_string()),
                    last_day: req.window.map(|w| w.last_day().to_string()),
                    cutoff: req.cutoff.map(|c| c.format("%Y-%m-%dT%H:%M:%S").to_string()),
                    partition,
                    first_request: url,
                    shard: shard(plan, args, req.window),
                }
            })
            .collect();
        let first_body = plan.requests.first().and_then(|req| {
            let page = plan.page_size.map(|size| Page {
                index: 0,
                start_at_row: 1,
                row_limit: size,
            });
            cake_transport::display_body(r, req, page, protocol)
        });
        DryRun {
            report: r.id.to_string(),
            table,
            timezone: plan.timezone.to_string(),
            window: plan.window.to_string(),
            location: args.output.out.clone().unwrap_or_default(),
            table_check: None,
            locked_by: None,
            protocol: protocol.to_string(),
            first_body,
            mode: args.output.mode.clone(),
            page_size: plan.page_size,
            skipped_future: plan.clipped.map(|c| c.to_string()),
            windows,
        }
    }

    /// The plan as text.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "report:   {} (table {})", self.report, self.table);
        let _ = writeln!(out, "timezone: {}", self.timezone);
        let _ = writeln!(out, "location: {}", self.location);
        if let Some(check) = &self.table_check {
            let _ = writeln!(out, "table:    {check}");
        }
        if let Some(holder) = &self.locked_by {
            let _ = writeln!(
                out,
                "lock:     held by {holder}: the run would wait for it (up to the lock timeout)"
            );
        }
        let _ = match self.protocol.as_str() {
            "soap" => writeln!(
                out,
                "protocol: soap (SOAP 1.2 POSTs, the key in the body, never in a URL)"
            ),
            other => writeln!(out, "protocol: {other} (HTTP GET, the key in the URL)"),
        };
        let _ = writeln!(
            out,
            "windows:  {} of one {}",
            self.windows.len(),
            self.window
        );
        if let Some(days) = &self.skipped_future {
            let _ = writeln!(out, "skipped:  {days}, after today");
        }
        if let Some(size) = self.page_size {
            let _ = writeln!(
                out,
                "paging:   {size} rows per page: the first page's row_count sets how many pages follow (start_at_row={}, {}, ...)",
                size + 1,
                2 * size + 1
            );
        }
        let verb = if self.mode == "append" {
            "appends to"
        } else {
            "replaces"
        };
        for w in &self.windows {
            let when = match (&w.start, &w.last_day) {
                (Some(a), Some(b)) if a == b => a.clone(),
                (Some(a), Some(b)) => format!("{a} to {b}"),
                _ => "snapshot".to_string(),
            };
            let until = w
                .cutoff
                .as_ref()
                .map(|c| format!(" (until {c}, the run's start)"))
                .unwrap_or_default();
            let _ = writeln!(out, "{when}{until}: {verb} {}", w.partition);
            let protocol = self.protocol.parse().unwrap_or_default();
            let _ = writeln!(out, "  {}", request_line(protocol, &w.first_request));
        }
        if let Some(body) = &self.first_body {
            let _ = writeln!(
                out,
                "the first request's body (every request's has this form):"
            );
            for line in body.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        out
    }
}

/// A request as a dry run's text shows it: under GET the whole URL (the key redacted); under
/// SOAP the method's address, since the parameters travel in the body, shown once (`--json`
/// has every request whole).
pub fn request_line(protocol: Protocol, url: &str) -> String {
    match protocol {
        Protocol::Get => format!("GET {url}"),
        _ => format!(
            "{} {}",
            protocol.http_method(),
            url.split('?').next().unwrap_or(url)
        ),
    }
}

/// The `pull` arguments that run the window `window` of `plan` alone, with the options, time
/// zone, window size, page size and output of `args` (the key and the domain come from the
/// environment, as they should).
fn shard(plan: &Plan, args: &PullArgs, window: Option<cake_catalog::DateRange>) -> Vec<String> {
    let mut v: Vec<String> = vec!["pull".into(), plan.report.id.into()];
    let mut push = |flag: &str, value: String| {
        v.push(flag.to_string());
        v.push(value);
    };
    // The window's own days replace the date options; the filters are passed on.
    let options = plan.window_options(&args.options.options, window);
    let (dates, filters): (Vec<&cake_catalog::OptionSpec>, Vec<_>) =
        options.chosen().into_iter().partition(|o| o.menu.is_date());
    for spec in &dates {
        if let Some(value) = options.text(spec.name) {
            push(spec.flag, value);
        }
    }
    push("--timezone", plan.timezone.to_string());
    push("--window", plan.window.to_string());
    if let Some(size) = args.plan.page_size {
        push("--page-size", size.to_string());
    }
    for spec in filters {
        if let Some(value) = options.text(spec.name) {
            push(spec.flag, value);
        }
    }
    if let Some(table) = &args.output.table {
        push("--table", table.clone());
    }
    if let Some(out) = &args.output.out {
        push("--out", out.clone());
    }
    push("--mode", args.output.mode.clone());
    v
}
