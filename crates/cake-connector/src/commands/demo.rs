//! `demo`: the embedded sandbox, every report, through the real transport, decoder and sink.

use std::fmt::Write as _;
use std::sync::Arc;

use cake_core::failure::Class;

use crate::exit::{Result, WhileDoing};
use cake_arrow::DecoderOptions;
use cake_catalog::{plan, Context, Options, PastDays, REPORTS};
use cake_pipeline::{pull, Cancel, PullOptions};
use cake_sandbox::{Sandbox, SandboxConfig};
use cake_sink::{Format, Sink, WriteMode};
use cake_transport::{ApiKey, Client, ClientOptions, Instance};

use crate::cli::DemoArgs;
use crate::exit::UsageError;

const DEMO_KEY: &str = "demo-api-key";

/// Marks a location written by the demo.
const MARKER: &str = "_cake_demo";

/// Takes the location for the demo: it must be empty or hold a previous demo, so the demo never
/// writes into (or replaces tables of) a real lake.
async fn claim_for_demo(sink: &Sink) -> Result<()> {
    let store = sink.store();
    let entries = store.list_recursive("").await?;
    let ours = |p: &&String| {
        !["_staging/", "_locks/", "_probe"]
            .iter()
            .any(|prefix| p.starts_with(prefix))
    };
    let mut data = entries.iter().filter(ours).peekable();
    if data.peek().is_some() && !entries.iter().any(|p| p == MARKER) {
        return Err(UsageError::new(format!(
            "{} holds other data: the demo writes only into an empty location or one of a previous demo; give another --out",
            store.display()
        ))
        .into());
    }
    sink.put_document(MARKER, b"written by cake-connector demo\n".to_vec())
        .await?;
    Ok(())
}

pub fn run(args: &DemoArgs) -> Result<String> {
    let days =
        PastDays::new(args.days).ok_or_else(|| UsageError::new("--days must be at least 1"))?;
    let format: Format = args.format.parse().map_err(UsageError::new)?;
    let runtime = crate::runtime()?;
    runtime.block_on(async {
        let sandbox = Sandbox::start(SandboxConfig {
            api_key: DEMO_KEY.into(),
            rows_per_day: args.rows_per_day,
            ..SandboxConfig::default()
        })
        .await
        .doing(Class::Internal, || "cannot start the demo's sandbox".into())?;
        crate::logging::line(
            crate::logging::Line::Progress,
            &format!("sandbox listening on {}", sandbox.url()),
        );
        let client = Client::new(
            Instance::parse(&sandbox.url(), false)?,
            ApiKey::new(DEMO_KEY)?,
            ClientOptions::default(),
        )?;
        let sink = super::pull::open_sink(&args.out, format)?;
        claim_for_demo(&sink).await?;
        let cancel = Cancel::new();
        tokio::spawn(crate::signals::watch(cancel.clone()));
        let options = PullOptions {
            mode: WriteMode::Replace,
            keep_raw: false,
            decoder: DecoderOptions::default(),
            windows_in_flight: 4,
            progress: Arc::new(crate::progress::Reporter::new()),
            table: None,
            // A previous demo's tables are the demo's to replace.
            rebuild: true,
            cancel,
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
            let p = plan(report, &opts, &Context::new(now)).map_err(UsageError::from)?;
            let summary = pull(&client, &p, &sink, &options, &|_| {}).await?;
            // Relative to the output root, which is printed once.
            let path = format!("{}/", report.id);
            rows.push((report.id, summary.rows, report.columns.len(), path));
        }
        sandbox.shutdown().await;
        let mut out = String::new();
        let _ = writeln!(out, "into {}:", sink.store().display());
        let _ = writeln!(out, "{:<24} {:>8} {:>8}  OUTPUT", "REPORT", "ROWS", "COLUMNS");
        for (id, n, cols, path) in &rows {
            let _ = writeln!(out, "{id:<24} {n:>8} {cols:>8}  {path}");
        }
        let total: u64 = rows.iter().map(|r| r.1).sum();
        let _ = writeln!(
            out,
            "\n{} reports, {total} rows, written to {} as {} (dated reports: the past {} days, one partition per day).",
            rows.len(),
            sink.store().display(),
            format.described(),
            args.days
        );
        let clicks = format!("{}/clicks", sink.store().display());
        let _ = writeln!(out, "Try: {}", format.try_reading(&clicks));
        Ok(out)
    })
}
