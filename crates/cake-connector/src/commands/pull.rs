//! `pull`: one report into Parquet.

use std::fmt::Write as _;

use anyhow::{bail, Result};
use cake_catalog::{Plan, PlannedDates};

use crate::cli::PullArgs;

pub fn pull(args: &PullArgs) -> Result<String> {
    let report = crate::args::report(&args.report)?;
    let plan = crate::args::validated_plan(report, &args.options, &args.plan, chrono::Utc::now())?;
    if args.dry_run {
        return Ok(render_plan(&plan));
    }
    bail!(
        "pulling from a Cake instance needs the HTTP transport and the Parquet sink, which are \
         not built yet; `--dry-run` prints the plan"
    )
}

/// The plan as text: dates, windows and each request's query with the key redacted.
pub fn render_plan(plan: &Plan) -> String {
    let r = plan.report;
    let mut out = String::new();
    let _ = writeln!(out, "report:   {} ({})", r.name, r.id);
    let _ = writeln!(out, "timezone: {}", plan.timezone);
    match plan.dates {
        PlannedDates::None => out.push_str("dates:    none (snapshot)\n"),
        PlannedDates::Range(range) => {
            let _ = writeln!(
                out,
                "dates:    {range} ({} days, {} windows of one {})",
                range.days(),
                plan.requests.len(),
                plan.window
            );
        }
        PlannedDates::ChangesSince(d) => {
            let _ = writeln!(out, "dates:    changes since {d}");
        }
    }
    if let Some(size) = plan.page_size {
        let _ = writeln!(
            out,
            "paging:   {size} rows per page, start_at_row from 1 until row_count"
        );
    }
    out.push_str("requests:\n");
    for req in &plan.requests {
        let query: Vec<String> = req
            .params
            .iter()
            .map(|p| format!("{}={}", p.name, p.value))
            .collect();
        let _ = writeln!(out, "  GET {}?{}", r.endpoint.path(), query.join("&"));
    }
    out
}
