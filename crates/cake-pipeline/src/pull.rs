//! `pull`: one report's plan into Parquet, one committed partition per window.

use std::sync::Arc;
use std::time::Instant;

use cake_arrow::DecoderOptions;
use cake_catalog::{DateRange, Plan, PlannedDates, PlannedRequest};
use cake_sink::{PartitionWriter, Sink, WriteMode};
use cake_transport::Client;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;

use crate::decode::{DecodeFactory, DecodedPage};
use crate::error::PipelineError;

/// Receives progress as a job runs. Every method has an empty default.
pub trait Progress: Send + Sync {
    /// A report's plan starts: this many windows.
    fn start(&self, _report: &str, _windows: usize) {}
    /// A page was decoded (rows and body bytes of that page).
    fn page(&self, _report: &str, _rows: u64, _bytes: u64) {}
    /// A window is committed.
    fn window(&self, _report: &str, _summary: &WindowSummary) {}
}

/// Progress that goes nowhere.
pub struct NoProgress;

impl Progress for NoProgress {}

/// How a pull runs.
#[derive(Clone)]
pub struct PullOptions {
    pub mode: WriteMode,
    /// Keep every raw response, gzip'd, under `_raw/<report>/`.
    pub keep_raw: bool,
    pub decoder: DecoderOptions,
    /// Windows processed at once (their requests share the client's bound).
    pub windows_in_flight: usize,
    pub progress: Arc<dyn Progress>,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            mode: WriteMode::Replace,
            keep_raw: false,
            decoder: DecoderOptions::default(),
            windows_in_flight: 4,
            progress: Arc::new(NoProgress),
        }
    }
}

/// What one committed window holds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct WindowSummary {
    /// First day (instance-local) of the window, for dated reports.
    pub start: Option<String>,
    /// Day after the last one (exclusive), for dated range reports.
    pub end: Option<String>,
    /// Output directory relative to the location (`clicks/date=2024-01-31`).
    pub path: String,
    pub rows: u64,
    /// Cake's `row_count`, when the report has one.
    pub row_count: Option<u64>,
    pub files: usize,
    /// Parquet bytes written.
    pub bytes: u64,
    /// Response body bytes received.
    pub body_bytes: u64,
    pub pages: u32,
    pub requests: u64,
    pub retries: u64,
    pub seconds: f64,
    pub warnings: Vec<String>,
    /// Elements the catalog does not know, with counts.
    pub unknown_elements: std::collections::BTreeMap<String, u64>,
    pub stripped_control_chars: u64,
}

/// What a pull of one report did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PullSummary {
    pub report: String,
    pub location: String,
    pub rows: u64,
    pub bytes: u64,
    pub body_bytes: u64,
    pub requests: u64,
    pub retries: u64,
    pub seconds: f64,
    pub windows: Vec<WindowSummary>,
}

/// The partition directory of a window: `date=YYYY-MM-DD` of its first day for dated reports.
pub fn partition_of(plan: &Plan, window: Option<DateRange>) -> Option<String> {
    match (plan.dates, window) {
        (_, Some(w)) => Some(format!("date={}", w.start())),
        (PlannedDates::ChangesSince(d), None) => Some(format!("date={d}")),
        _ => None,
    }
}

/// Pulls every window of `plan` into `sink`. Windows run concurrently and each is committed
/// as a unit as soon as it is complete; `on_commit` hears of each (in completion order). A
/// failure stops the pull: windows committed before it stay committed, the failed one leaves
/// nothing behind.
pub async fn pull(
    client: &Client,
    plan: &Plan,
    sink: &Sink,
    options: &PullOptions,
    on_commit: &(dyn Fn(&WindowSummary) + Send + Sync),
) -> Result<PullSummary, PipelineError> {
    let started = Instant::now();
    let report = plan.report;
    options.progress.start(report.id, plan.requests.len());
    let results: Vec<Result<WindowSummary, PipelineError>> = stream::iter(&plan.requests)
        .map(|request| async move {
            let summary = pull_window(client, plan, request, sink, options).await?;
            on_commit(&summary);
            options.progress.window(report.id, &summary);
            Ok(summary)
        })
        .buffer_unordered(options.windows_in_flight.max(1))
        .collect()
        .await;
    let mut windows = Vec::with_capacity(results.len());
    for r in results {
        windows.push(r?);
    }
    windows.sort_by(|a, b| a.start.cmp(&b.start));
    Ok(PullSummary {
        report: report.id.to_string(),
        location: sink.store().display(),
        rows: windows.iter().map(|w| w.rows).sum(),
        bytes: windows.iter().map(|w| w.bytes).sum(),
        body_bytes: windows.iter().map(|w| w.body_bytes).sum(),
        requests: windows.iter().map(|w| w.requests).sum(),
        retries: windows.iter().map(|w| w.retries).sum(),
        seconds: started.elapsed().as_secs_f64(),
        windows,
    })
}

fn metadata(client: &Client, plan: &Plan, window: Option<DateRange>) -> Vec<(String, String)> {
    let r = plan.report;
    let mut m = vec![
        ("cake.report".to_string(), r.id.to_string()),
        ("cake.endpoint".to_string(), r.endpoint.path()),
        (
            "cake.api_version".to_string(),
            r.endpoint.version.to_string(),
        ),
        ("cake.instance".to_string(), client.instance().host()),
        ("cake.timezone".to_string(), plan.timezone.to_string()),
        (
            "cake.pulled_at".to_string(),
            chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        (
            "cake.connector_version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ];
    if let Some(w) = window {
        m.push(("cake.window_start".into(), w.start().to_string()));
        m.push(("cake.window_end_exclusive".into(), w.end().to_string()));
        m.push((
            "cake.window_start_utc".into(),
            w.start_utc(plan.timezone).to_rfc3339(),
        ));
        m.push((
            "cake.window_end_utc".into(),
            w.end_utc(plan.timezone).to_rfc3339(),
        ));
    }
    if let PlannedDates::ChangesSince(d) = plan.dates {
        m.push(("cake.changes_since".into(), d.to_string()));
    }
    m
}

async fn pull_window(
    client: &Client,
    plan: &Plan,
    request: &PlannedRequest,
    sink: &Sink,
    options: &PullOptions,
) -> Result<WindowSummary, PipelineError> {
    let started = Instant::now();
    let report = plan.report;
    let partition = partition_of(plan, request.window);
    let schema = Arc::new(report.arrow_schema());
    let mut writer: PartitionWriter<'_> = sink
        .partition(
            report.id,
            partition.as_deref(),
            schema,
            metadata(client, plan, request.window),
        )
        .map_err(|e| PipelineError::Output(e.to_string()))?;
    let mut factory = DecodeFactory::new(report, options.decoder, sink.temp_dir().to_path_buf());
    if options.keep_raw {
        factory.keep_raw = Some(vec![client.api_key().expose().to_string()]);
    }
    let mut raws = Vec::new();
    let mut unknown = std::collections::BTreeMap::new();
    let mut stripped = 0;
    let result = client
        .fetch_window(plan, request, &factory, |mut page: DecodedPage| {
            options.progress.page(report.id, page.summary.rows, 0);
            for (k, v) in &page.summary.unknown_elements {
                *unknown.entry(k.clone()).or_insert(0) += v;
            }
            stripped += page.summary.stripped_control_chars;
            let index = page.page.page.map_or(0, |p| p.index);
            if let Some(raw) = page.raw.take() {
                raws.push((index, raw));
            }
            page.for_each_batch(|batch| {
                writer
                    .write(&batch)
                    .map_err(|e| PipelineError::Output(e.to_string()))
            })
        })
        .await?;
    for (index, raw) in raws {
        let rel = format!(
            "_raw/{}/{}/{}-page-{:05}.xml.gz",
            report.id,
            partition.as_deref().unwrap_or("snapshot"),
            sink.run_id(),
            index + 1
        );
        sink.put_file(&rel, raw.path())
            .await
            .map_err(|e| PipelineError::Output(e.to_string()))?;
    }
    let committed = writer
        .commit(options.mode)
        .await
        .map_err(|e| PipelineError::Output(e.to_string()))?;
    Ok(WindowSummary {
        start: request
            .window
            .map(|w| w.start().to_string())
            .or_else(|| match plan.dates {
                PlannedDates::ChangesSince(d) => Some(d.to_string()),
                _ => None,
            }),
        end: request.window.map(|w| w.end().to_string()),
        path: committed.path,
        rows: result.rows,
        row_count: result.row_count,
        files: committed.manifest.files.len(),
        bytes: committed.bytes,
        body_bytes: result.bytes,
        pages: result.pages,
        requests: result.requests,
        retries: result.retries,
        seconds: started.elapsed().as_secs_f64(),
        warnings: result.warnings,
        unknown_elements: unknown,
        stripped_control_chars: stripped,
    })
}
