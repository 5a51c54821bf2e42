//! `demo`: the embedded sandbox, every report, through the real transport, decoder and sink.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Result;
use cake_arrow::DecoderOptions;
use cake_catalog::{plan, Context, Options, PastDays, REPORTS};
use cake_pipeline::{pull, PullOptions};
use cake_sandbox::{Sandbox, SandboxConfig};
use cake_sink::{Sink, SinkOptions, WriteMode};
use cake_transport::{ApiKey, Client, ClientOptions, Instance};

use crate::cli::DemoArgs;
use crate::exit::UsageError;

const DEMO_KEY: &str = "demo-api-key";

pub fn run(args: &DemoArgs) -> Result<String> {
    let days =
        PastDays::new(args.days).ok_or_else(|| UsageError::new("--days must be at least 1"))?;
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(SandboxConfig {
            api_key: DEMO_KEY.into(),
            rows_per_day: args.rows_per_day,
            ..SandboxConfig::default()
        })
        .await?;
        eprintln!("sandbox listening on {}", sandbox.url());
        let client = Client::new(
            Instance::parse(&sandbox.url(), false)?,
            ApiKey::new(DEMO_KEY)?,
            ClientOptions::default(),
        )?;
        let sink = Sink::open(&args.out, SinkOptions::default())
            .map_err(|e| cake_pipeline::PipelineError::Output(e.to_string()))?;
        let options = PullOptions {
            mode: WriteMode::Replace,
            keep_raw: false,
            decoder: DecoderOptions::default(),
            windows_in_flight: 4,
            progress: Arc::new(crate::progress::Reporter::new()),
        };
        let now = chrono::Utc::now();
        let mut rows = Vec::new();
        for report in REPORTS {
            let opts = if report.is_dated() {
                Options {
                    past_days: Some(days),
                    ..Options::default()
                }
            } else {
                Options::default()
            };
            let p = plan(report, &opts, &Context::new(now))?;
            let summary = pull(&client, &p, &sink, &options, &|_| {}).await?;
            let path = format!("{}/{}", sink.store().display(), report.id);
            rows.push((report.id, summary.rows, report.columns.len(), path));
        }
        sandbox.shutdown().await;
        let mut out = String::new();
        let _ = writeln!(out, "{:<24} {:>8} {:>8}  OUTPUT", "REPORT", "ROWS", "COLUMNS");
        for (id, n, cols, path) in &rows {
            let _ = writeln!(out, "{id:<24} {n:>8} {cols:>8}  {path}");
        }
        let total: u64 = rows.iter().map(|r| r.1).sum();
        let _ = writeln!(
            out,
            "\n{} reports, {total} rows, written to {} as Parquet (dated reports: the past {} days, one partition per day).",
            rows.len(),
            sink.store().display(),
            args.days
        );
        let _ = writeln!(
            out,
            "Try: duckdb -c \"SELECT count(*) FROM read_parquet('{}/clicks/*/*.parquet', hive_partitioning = true)\"",
            sink.store().display()
        );
        Ok(out)
    })
}
