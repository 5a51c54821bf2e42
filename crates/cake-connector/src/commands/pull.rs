//! `pull`: one report into Parquet.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::{Context as _, Result};
use cake_arrow::DecoderOptions;
use cake_catalog::{Plan, PlannedDates};
use cake_pipeline::{pull, PullOptions, PullSummary};
use cake_sink::{Sink, SinkOptions, WriteMode};
use cake_transport::{ApiKey, Client, ClientOptions, Instance, RetryPolicy};

use crate::cli::{ConnectionArgs, PullArgs};
use crate::exit::UsageError;

pub fn run(args: &PullArgs) -> Result<String> {
    let report = crate::args::report(&args.report)?;
    let plan = crate::args::validated_plan(report, &args.options, &args.plan, chrono::Utc::now())?;
    if args.dry_run {
        let instance = match &args.connection.domain {
            Some(d) => Some(
                Instance::parse(d, args.connection.allow_insecure_http)
                    .map_err(UsageError::from)?,
            ),
            None => None,
        };
        return Ok(render_plan(&plan, instance.as_ref()));
    }
    let client = client(&args.connection)?;
    let out = args.output.out.as_deref().ok_or_else(|| {
        UsageError::new(
            "--out is required: a directory or s3://bucket/prefix for the Parquet output",
        )
    })?;
    let mode: WriteMode = args.output.mode.parse().map_err(UsageError::new)?;
    let sink = Sink::open(out, SinkOptions::default())
        .map_err(|e| cake_pipeline::PipelineError::Output(e.to_string()))?;
    let options = PullOptions {
        mode,
        keep_raw: args.output.keep_raw,
        decoder: DecoderOptions {
            timezone: plan.timezone,
            strict: args.output.strict,
            ..DecoderOptions::default()
        },
        windows_in_flight: args.connection.concurrency.max(1),
        progress: Arc::new(crate::progress::Reporter::new()),
    };
    let runtime = crate::runtime()?;
    let summary = runtime.block_on(pull(&client, &plan, &sink, &options, &|_| {}))?;
    if let Some(path) = &args.output.summary_json {
        write_summary_json(path, &[&summary])?;
    }
    Ok(render_summary(&summary))
}

/// The client for a connection's flags; the key is registered for redaction first.
pub fn client(c: &ConnectionArgs) -> Result<Client> {
    let domain = c.domain.as_deref().ok_or_else(|| {
        UsageError::new(
            "--domain is required (or CAKE_DOMAIN): your instance's name, host or https:// URL",
        )
    })?;
    let key = c.api_key.as_deref().ok_or_else(|| {
        UsageError::new("--api-key is required (better: the CAKE_API_KEY environment variable)")
    })?;
    crate::logging::add_secret(key);
    let instance = Instance::parse(domain, c.allow_insecure_http).map_err(UsageError::from)?;
    let key = ApiKey::new(key).map_err(UsageError::from)?;
    Ok(Client::new(
        instance,
        key,
        ClientOptions {
            concurrency: c.concurrency.max(1),
            requests_per_minute: c.requests_per_minute,
            idle_timeout: std::time::Duration::from_secs(c.idle_timeout.max(1)),
            retry: RetryPolicy {
                max_attempts: c.retry.retries.saturating_add(1),
                base_delay: std::time::Duration::from_millis(c.retry.retry_base_ms),
                ..RetryPolicy::default()
            },
            ..ClientOptions::default()
        },
    )?)
}

/// Writes the run summary as JSON (atomically: a reader never sees half a file).
pub fn write_summary_json(path: &std::path::Path, pulls: &[&PullSummary]) -> Result<()> {
    let json = serde_json::to_vec_pretty(&serde_json::json!({ "reports": pulls }))?;
    let tmp = path.with_extension("json.tmp");
    std::fs::write(&tmp, &json).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

pub fn render_summary(s: &PullSummary) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: {} rows in {} window(s) to {} ({} bytes of Parquet, {} requests, {} retries, {:.1} s)",
        s.report,
        s.rows,
        s.windows.len(),
        s.location,
        s.bytes,
        s.requests,
        s.retries,
        s.seconds
    );
    for w in &s.windows {
        let _ = writeln!(
            out,
            "  {:<48} {:>10} rows {:>3} file(s)",
            w.path, w.rows, w.files
        );
        for warning in &w.warnings {
            let _ = writeln!(out, "    warning: {warning}");
        }
        for (name, n) in &w.unknown_elements {
            let _ = writeln!(out, "    note: unknown element {name} seen {n} time(s)");
        }
    }
    out
}

/// The plan as text: dates, windows and each request's URL with the key redacted.
pub fn render_plan(plan: &Plan, instance: Option<&Instance>) -> String {
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
            "paging:   {size} rows per page from start_at_row=1; the first page's row_count sets the number of pages"
        );
    }
    out.push_str("requests:\n");
    let placeholder = Instance::parse("domain.invalid", false).ok();
    for req in &plan.requests {
        let url = match (instance, &placeholder) {
            (Some(i), _) => cake_transport::display_url(i, r, req, None),
            (None, Some(p)) => cake_transport::display_url(p, r, req, None).replacen(
                "https://domain.invalid",
                "https://<domain>",
                1,
            ),
            (None, None) => String::new(),
        };
        let _ = writeln!(out, "  GET {url}");
    }
    out
}
