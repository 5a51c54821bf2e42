//! `pull`: one report's plan into a table, one committed unit per window.
//!
//! Before the first request to Cake, the output location is probed (a small object written and
//! removed) and the table's contract is checked: a run whose rows would not belong with the
//! table's (another filter, time zone, window size, instance or schema) is refused with the
//! table untouched. Then every window is fetched whole and checked by the transport; only a
//! consistent window reaches its commit.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, TimestampMicrosecondType};
use arrow_array::Array as _;
use arrow_array::RecordBatch;
use arrow_schema::{DataType, SchemaRef};
use cake_arrow::{DecoderOptions, Rejected, UnknownElements};
use cake_catalog::{DateRange, Layout, Plan, PlannedDates, PlannedRequest, Report};
use cake_sink::{ContractCheck, PartitionWriter, Sink, TableContract, WriteMode};
use cake_transport::Client;
use chrono::NaiveDate;
use futures_util::stream::{self, StreamExt};
use serde::Serialize;
use tempfile::NamedTempFile;

use crate::cancel::Cancel;
use crate::contract::contract_for;
use crate::decode::{DecodeFactory, DecodedPage};
use crate::error::PipelineError;
use crate::layout::{day_partition, partition_day, raw_path};
use crate::rows::DateBounds;
use crate::status::{record_refusal, record_run, RunRecord};
use crate::window::{fetch_window, PageSink, WindowResult};

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
    /// Keep every raw response, scrubbed of the API key and compressed with zstd, under
    /// `_raw/<table>/` (`<partition>/<run>-page-NNNNN.xml.zst`).
    pub keep_raw: bool,
    pub decoder: DecoderOptions,
    /// Windows processed at once (their requests share the client's bound).
    pub windows_in_flight: usize,
    pub progress: Arc<dyn Progress>,
    /// The table written (`<location>/<table>`); `None` is the report's id. A filtered or
    /// differently zoned pull of a report goes to a table of its own.
    pub table: Option<String>,
    /// Rebuild a table whose contract differs from this run's: its partitions are deleted
    /// first. Without it, such a run is refused.
    pub rebuild: bool,
    /// Stops the pull from outside.
    pub cancel: Cancel,
}

impl Default for PullOptions {
    fn default() -> Self {
        PullOptions {
            mode: WriteMode::Replace,
            keep_raw: false,
            decoder: DecoderOptions::default(),
            windows_in_flight: 4,
            progress: Arc::new(NoProgress),
            table: None,
            rebuild: false,
            cancel: Cancel::new(),
        }
    }
}

impl PullOptions {
    /// The table a pull of `report` writes.
    pub fn table_for(&self, report: &Report) -> String {
        self.table.clone().unwrap_or_else(|| report.id.to_string())
    }
}

/// What one committed window holds.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct WindowSummary {
    /// First day (instance-local) of the window, for dated reports.
    pub start: Option<String>,
    /// Day after the last one (exclusive), for dated range reports.
    pub end: Option<String>,
    /// Output directory relative to the location (`clicks/date=2024-01-31`); for a report
    /// whose partitions follow its rows' days, the first of them.
    pub path: String,
    /// Every partition the window committed.
    pub partitions: Vec<String>,
    pub rows: u64,
    /// Cake's `row_count`, when the report has one.
    pub row_count: Option<u64>,
    pub files: usize,
    /// Parquet bytes written.
    pub bytes: u64,
    /// Response body bytes received.
    pub body_bytes: u64,
    pub pages: u32,
    /// Pulls of the whole window (more than 1 when an inconsistent answer was pulled again).
    pub pulls: u32,
    pub requests: u64,
    pub retries: u64,
    pub seconds: f64,
    pub warnings: Vec<String>,
    /// Elements the catalog does not know, with counts, bounded (those inside rows are in
    /// `_extra`).
    pub unknown: UnknownElements,
    /// Values that did not fit their column, per column (kept in `_rejected`).
    pub rejected: BTreeMap<String, Rejected>,
    pub stripped_control_chars: u64,
    /// Elements withheld by path: secrets, and personal data the run did not opt in to.
    pub withheld: BTreeMap<String, u64>,
}

/// What a pull of one report did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PullSummary {
    pub report: String,
    pub table: String,
    pub location: String,
    pub rows: u64,
    pub bytes: u64,
    pub body_bytes: u64,
    pub requests: u64,
    pub retries: u64,
    pub seconds: f64,
    /// Days of the request that lie after today in the instance's zone and were left out.
    pub skipped_future: Option<String>,
    /// Values that did not fit their column over all windows, per column.
    pub rejected: BTreeMap<String, Rejected>,
    /// Elements the catalog does not know over all windows, bounded.
    pub unknown: UnknownElements,
    pub windows: Vec<WindowSummary>,
}

impl PullSummary {
    /// The summary of the windows a pull committed (sorted by their first day).
    pub fn of_windows(
        report: &str,
        table: &str,
        location: String,
        mut windows: Vec<WindowSummary>,
        seconds: f64,
    ) -> PullSummary {
        windows.sort_by(|a, b| a.start.cmp(&b.start));
        let mut rejected = BTreeMap::new();
        let mut unknown = UnknownElements::default();
        for w in &windows {
            add_rejected(&mut rejected, &w.rejected);
            unknown.merge(&w.unknown);
        }
        PullSummary {
            report: report.to_string(),
            table: table.to_string(),
            location,
            rows: windows.iter().map(|w| w.rows).sum(),
            bytes: windows.iter().map(|w| w.bytes).sum(),
            body_bytes: windows.iter().map(|w| w.body_bytes).sum(),
            requests: windows.iter().map(|w| w.requests).sum(),
            retries: windows.iter().map(|w| w.retries).sum(),
            seconds,
            skipped_future: None,
            rejected,
            unknown,
            windows,
        }
    }
}

/// Adds the rejected values of `more` to `total` (the first example stays).
fn add_rejected(total: &mut BTreeMap<String, Rejected>, more: &BTreeMap<String, Rejected>) {
    for (column, r) in more {
        total
            .entry(column.clone())
            .and_modify(|t| t.count += r.count)
            .or_insert_with(|| r.clone());
    }
}

/// The partition directory of a window laid out by window: `date=YYYY-MM-DD` of its first day
/// for dated reports.
pub fn partition_of(plan: &Plan, window: Option<DateRange>) -> Option<String> {
    match (plan.dates, window) {
        (_, Some(w)) => Some(day_partition(w.start())),
        (PlannedDates::ChangesSince(d), None) => Some(day_partition(d)),
        _ => None,
    }
}

/// Checks the output location and the table before anything is requested from Cake: the
/// location takes a write, and the table's contract admits this plan. A new table gets its
/// contract with its first commit, so a run that commits nothing leaves nothing behind.
pub async fn preflight(
    client: &Client,
    plan: &Plan,
    sink: &Sink,
    options: &PullOptions,
) -> Result<TableContract, PipelineError> {
    let table = options.table_for(plan.report);
    sink.probe().await?;
    let contract = contract_for(client, plan, options.decoder.personal_data);
    check_contract(sink, &table, &contract, options.rebuild).await?;
    Ok(contract)
}

/// The checks [`preflight`] runs, for a dry run: the location is probed (a small object
/// written and removed, as every run does first) and the table's contract compared without
/// changing anything. The error is the one the real run would stop with; `Ok` says what the
/// run would do to the table.
pub async fn preflight_dry(
    client: &Client,
    plan: &Plan,
    sink: &Sink,
    options: &PullOptions,
) -> Result<cake_sink::ContractCheck, PipelineError> {
    let table = options.table_for(plan.report);
    sink.probe().await?;
    let contract = contract_for(client, plan, options.decoder.personal_data);
    sink.preview_table(&table, &contract, options.rebuild)
        .await
        .map_err(|source| PipelineError::table(&table, source))
}

/// Compares `contract` with the table's: `None` for a table that has none yet, the check
/// otherwise (a differing table is rebuilt with `rebuild`, refused without).
pub(crate) async fn check_contract(
    sink: &Sink,
    table: &str,
    contract: &TableContract,
    rebuild: bool,
) -> Result<Option<ContractCheck>, PipelineError> {
    if sink.table_contract(table).await?.is_none() {
        return Ok(None);
    }
    sink.open_table(table, contract, rebuild)
        .await
        .map(Some)
        .map_err(|source| PipelineError::table(table, source))
}

impl WindowSummary {
    /// What the fetch of `request` of `plan` found (no file written yet), from `started`.
    pub(crate) fn of_window(
        plan: &Plan,
        request: &PlannedRequest,
        result: &WindowResult,
        started: Instant,
    ) -> WindowSummary {
        WindowSummary {
            start: request
                .window
                .map(|w| w.start().to_string())
                .or_else(|| match plan.dates {
                    PlannedDates::ChangesSince(d) => Some(d.to_string()),
                    _ => None,
                }),
            end: request.window.map(|w| w.end().to_string()),
            path: partition_of(plan, request.window).unwrap_or_default(),
            rows: result.rows,
            row_count: result.row_count,
            body_bytes: result.bytes,
            pages: result.pages,
            pulls: result.pulls,
            requests: result.requests,
            retries: result.retries,
            seconds: started.elapsed().as_secs_f64(),
            warnings: result.warnings.clone(),
            ..WindowSummary::default()
        }
    }
}

/// Pulls every window of `plan` into `sink`, after [`preflight`]. Windows run concurrently
/// and each is committed as a unit as soon as it is complete; `on_commit` hears of each (in
/// completion order). A failure stops the pull: no new window starts, windows already fetched
/// commit (each is whole on its own), and the failed one leaves nothing behind. Cancellation
/// (`options.cancel`) abandons the windows being fetched, commits nothing more, and ends with
/// [`PipelineError::Interrupted`].
pub async fn pull(
    client: &Client,
    plan: &Plan,
    sink: &Sink,
    options: &PullOptions,
    on_commit: &(dyn Fn(&WindowSummary) + Send + Sync),
) -> Result<PullSummary, PipelineError> {
    let started = Instant::now();
    let report = plan.report;
    let table = options.table_for(report);
    let contract = match preflight(client, plan, sink, options).await {
        Ok(contract) => contract,
        Err(e) => {
            let covered = Some(crate::status::covered(plan));
            return Err(record_refusal(sink, &table, covered, e, started.elapsed()).await);
        }
    };
    let committed = std::sync::Mutex::new((0usize, 0u64));
    let on_commit = |w: &WindowSummary| {
        let mut c = committed.lock().unwrap_or_else(|p| p.into_inner());
        c.0 += 1;
        c.1 += w.rows;
        on_commit(w);
    };
    let job = Job {
        client,
        plan,
        sink,
        options,
        table: &table,
        contract: &contract,
        opened: tokio::sync::OnceCell::new(),
        now: chrono::Utc::now(),
    };
    let result = pull_windows(&job, started, &on_commit).await;
    let (windows, rows) = *committed.lock().unwrap_or_else(|p| p.into_inner());
    let covered = Some(crate::status::covered(plan));
    let error = result.as_ref().err();
    let record = RunRecord::of(sink, covered, error, (windows, rows), started.elapsed());
    // A first run that committed nothing leaves the location as it was.
    let table_exists = windows > 0 || matches!(sink.table_contract(&table).await, Ok(Some(_)));
    if table_exists {
        record_run(sink, &table, &record).await;
    }
    result
}

/// The windows of a pull after its preflight.
async fn pull_windows(
    job: &Job<'_>,
    started: Instant,
    on_commit: &(dyn Fn(&WindowSummary) + Send + Sync),
) -> Result<PullSummary, PipelineError> {
    let (plan, options, sink, table) = (job.plan, job.options, job.sink, job.table);
    let report = plan.report;
    options.progress.start(report.id, plan.requests.len());
    let failed = AtomicBool::new(false);
    let results: Vec<Result<Option<WindowSummary>, PipelineError>> = stream::iter(&plan.requests)
        .map(|request| {
            let failed = &failed;
            async move {
                if failed.load(Ordering::SeqCst) || options.cancel.is_cancelled() {
                    return Ok(None);
                }
                match job.window(request).await {
                    Ok(summary) => {
                        on_commit(&summary);
                        options.progress.window(report.id, &summary);
                        Ok(Some(summary))
                    }
                    Err(e) => {
                        failed.store(true, Ordering::SeqCst);
                        Err(e)
                    }
                }
            }
        })
        .buffer_unordered(options.windows_in_flight.max(1))
        .collect()
        .await;
    let mut windows = Vec::with_capacity(results.len());
    let mut first_error = None;
    for r in results {
        match r {
            Ok(Some(w)) => windows.push(w),
            Ok(None) => {}
            // An interruption is the answer only when nothing else failed.
            Err(e) => match &first_error {
                Some(PipelineError::Interrupted) | None => first_error = Some(e),
                Some(_) => {}
            },
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if options.cancel.is_cancelled() && windows.len() < plan.requests.len() {
        return Err(PipelineError::Interrupted);
    }
    Ok(PullSummary {
        skipped_future: plan.clipped.map(|c| c.to_string()),
        ..PullSummary::of_windows(
            report.id,
            table,
            sink.store().display(),
            windows,
            started.elapsed().as_secs_f64(),
        )
    })
}

/// One pull's shared inputs.
struct Job<'a> {
    client: &'a Client,
    plan: &'a Plan,
    sink: &'a Sink,
    options: &'a PullOptions,
    table: &'a str,
    contract: &'a TableContract,
    /// The table's contract is in place (written by the first commit of a new table).
    opened: tokio::sync::OnceCell<()>,
    /// When the pull started: no row is placed on a later day.
    now: chrono::DateTime<chrono::Utc>,
}

impl Job<'_> {
    /// Puts the contract in place before the first commit (and checks it again: another run
    /// may have created the table meanwhile).
    async fn open_table(&self) -> Result<(), PipelineError> {
        self.opened
            .get_or_try_init(|| async {
                self.sink
                    .open_table(self.table, self.contract, false)
                    .await
                    .map(|_| ())
                    .map_err(|source| PipelineError::table(self.table, source))
            })
            .await
            .map(|_| ())
    }

    fn metadata(&self, window: Option<DateRange>) -> Vec<(String, String)> {
        let plan = self.plan;
        let r = plan.report;
        use crate::metadata::keys;
        let mut m = crate::metadata::report_metadata(r, &plan.timezone.to_string());
        m.extend([
            (keys::TABLE.to_string(), self.table.to_string()),
            (keys::INSTANCE.to_string(), self.client.instance().host()),
            (
                keys::PULLED_AT.to_string(),
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            ),
            (
                keys::CONTRACT.to_string(),
                serde_json::to_string(&self.contract.fields).unwrap_or_default(),
            ),
        ]);
        if let Some(w) = window {
            m.push((keys::WINDOW_START.into(), w.start().to_string()));
            m.push((keys::WINDOW_END_EXCLUSIVE.into(), w.end().to_string()));
            m.push((
                keys::WINDOW_START_UTC.into(),
                w.start_utc(plan.timezone).to_rfc3339(),
            ));
            m.push((
                keys::WINDOW_END_UTC.into(),
                w.end_utc(plan.timezone).to_rfc3339(),
            ));
        }
        if let PlannedDates::ChangesSince(d) = plan.dates {
            m.push((keys::CHANGES_SINCE.into(), d.to_string()));
        }
        m
    }

    async fn window(&self, request: &PlannedRequest) -> Result<WindowSummary, PipelineError> {
        let started = Instant::now();
        let report = self.plan.report;
        let cancel = &self.options.cancel;
        let mut factory = DecodeFactory::new(
            report,
            self.options.decoder,
            self.sink.temp_dir().to_path_buf(),
        );
        if self.options.keep_raw {
            factory.keep_raw = Some(self.client.api_key().scrubber());
        }
        factory.redact = Some(self.client.api_key().scrubber());
        factory.bounds = DateBounds::for_request(self.plan, request, self.now);
        let open = || Ok(WindowWriter::new(self, request, factory.bounds));
        let fetched = tokio::select! {
            biased;
            () = cancel.cancelled() => return Err(PipelineError::Interrupted),
            r = fetch_window(self.client, self.plan, request, &factory, open) => r?,
        };
        // From here on the window is whole: it is committed even if a stop is asked for, so a
        // commit is never cut in the middle.
        let (writer, result) = fetched;
        writer.commit(self, request, result, started).await
    }
}

/// The partitions one pull of one window writes, and what its pages said.
struct WindowWriter<'a> {
    job: &'a Job<'a>,
    schema: SchemaRef,
    metadata: Vec<(String, String)>,
    /// Partition name (`None`: the unpartitioned table) to its writer.
    writers: BTreeMap<Option<String>, PartitionWriter<'a>>,
    /// For a table laid out by its rows' days: the column holding the day, and the partition of
    /// rows without one.
    row_day: Option<(usize, Option<String>)>,
    /// The days the window owns (inclusive): the only partitions it may write.
    owned: Option<(NaiveDate, NaiveDate)>,
    raws: Vec<(u32, NamedTempFile)>,
    found: Found,
    window_partition: Option<String>,
}

/// What the pages of a window found besides their rows, added up page by page.
#[derive(Default)]
pub(crate) struct Found {
    unknown: UnknownElements,
    withheld: BTreeMap<String, u64>,
    layout: Option<String>,
    rejected: BTreeMap<String, Rejected>,
    stripped: u64,
    redacted: u64,
}

impl Found {
    pub(crate) fn add(&mut self, page: &DecodedPage) {
        let summary = &page.summary;
        self.unknown.merge(&summary.unknown);
        for (k, v) in &summary.withheld {
            *self.withheld.entry(k.clone()).or_insert(0) += v;
        }
        if self.layout.is_none() {
            self.layout = summary.layout.clone();
        }
        self.stripped += summary.stripped_control_chars;
        self.redacted += page.redacted_values;
        add_rejected(&mut self.rejected, &summary.rejected);
    }

    /// Into the window's summary, with the warnings they call for.
    pub(crate) fn into_summary(self, summary: &mut WindowSummary) {
        if self.redacted > 0 {
            summary.warnings.push(format!(
                "{} text value(s) held the API key: it was replaced by <redacted> in them",
                self.redacted
            ));
        }
        if let Some(layout) = &self.layout {
            summary.warnings.push(format!(
                "layout drift: {layout}; the rows were read (`--strict` refuses another layout)"
            ));
        }
        if summary.pulls > 1 {
            summary.warnings.push(format!(
                "the window was pulled {} times before its answer was consistent",
                summary.pulls
            ));
        }
        summary.unknown = self.unknown;
        summary.rejected = self.rejected;
        summary.stripped_control_chars = self.stripped;
        summary.withheld = self.withheld;
    }
}

impl<'a> WindowWriter<'a> {
    fn new(
        job: &'a Job<'a>,
        request: &PlannedRequest,
        bounds: Option<DateBounds>,
    ) -> WindowWriter<'a> {
        let report = job.plan.report;
        let window_partition = partition_of(job.plan, request.window);
        let row_day = match report.layout {
            Layout::Window => None,
            Layout::RowDay(column) => report
                .columns
                .iter()
                .position(|c| c.name == column)
                .map(|i| (i, window_partition.clone())),
        };
        WindowWriter {
            job,
            schema: Arc::new(report.arrow_schema()),
            metadata: job.metadata(request.window),
            writers: BTreeMap::new(),
            row_day,
            owned: bounds.map(|b| b.days()),
            raws: Vec::new(),
            found: Found::default(),
            window_partition,
        }
    }

    fn writer(
        &mut self,
        partition: Option<String>,
    ) -> Result<&mut PartitionWriter<'a>, PipelineError> {
        use std::collections::btree_map::Entry;
        Ok(match self.writers.entry(partition) {
            Entry::Occupied(e) => e.into_mut(),
            Entry::Vacant(v) => {
                let w = self.job.sink.partition(
                    self.job.table,
                    v.key().as_deref(),
                    self.schema.clone(),
                    self.metadata.clone(),
                )?;
                v.insert(w)
            }
        })
    }

    fn write(&mut self, batch: RecordBatch) -> Result<(), PipelineError> {
        let Some((column, fallback)) = self.row_day.clone() else {
            let partition = self.window_partition.clone();
            return Ok(self.writer(partition)?.write(&batch)?);
        };
        // Consecutive rows of the same day go to that day's partition together. A row dated
        // outside the days the window owns reaches here only when accepted knowingly: it goes to
        // the nearest owned day, never to another window's.
        let mut days = row_days(&batch, column, self.job.plan.timezone);
        if let Some((first, last)) = self.owned {
            for day in days.iter_mut().flatten() {
                *day = (*day).clamp(first, last);
            }
        }
        let mut start = 0;
        while start < days.len() {
            let day = days[start];
            let end = (start..days.len())
                .find(|&i| days[i] != day)
                .unwrap_or(days.len());
            let partition = day.map(day_partition).or_else(|| fallback.clone());
            self.writer(partition)?
                .write(&batch.slice(start, end - start))?;
            start = end;
        }
        Ok(())
    }

    async fn commit(
        mut self,
        job: &Job<'_>,
        request: &PlannedRequest,
        result: WindowResult,
        started: Instant,
    ) -> Result<WindowSummary, PipelineError> {
        match self.row_day {
            None => {
                // A window always commits its partition, empty or not.
                let partition = self.window_partition.clone();
                self.writer(partition)?;
            }
            Some(_) => {
                // Partitions of the days this window owns that the answer no longer fills.
                if let Some((first, last)) = self.owned {
                    for day in existing_days(job.sink, job.table).await? {
                        let partition = Some(day_partition(day));
                        if first <= day && day <= last && !self.writers.contains_key(&partition) {
                            self.writer(partition)?;
                        }
                    }
                }
                if self.writers.is_empty() {
                    let partition = self.window_partition.clone();
                    self.writer(partition)?;
                }
            }
        }
        for (index, raw) in std::mem::take(&mut self.raws) {
            let rel = raw_path(
                job.table,
                self.window_partition.as_deref(),
                job.sink.run_id(),
                index + 1,
            );
            job.sink.put_file(&rel, raw.path()).await?;
        }
        job.open_table().await?;
        let mut partitions = Vec::new();
        let mut files = 0;
        let mut bytes = 0;
        for (_, writer) in std::mem::take(&mut self.writers) {
            let committed = writer.commit(job.options.mode).await?;
            files += committed.manifest.files.len();
            bytes += committed.bytes;
            partitions.push(committed.path);
        }
        let mut summary = WindowSummary {
            path: partitions.first().cloned().unwrap_or_default(),
            partitions,
            files,
            bytes,
            ..WindowSummary::of_window(job.plan, request, &result, started)
        };
        self.found.into_summary(&mut summary);
        Ok(summary)
    }
}

impl PageSink for WindowWriter<'_> {
    type Page = DecodedPage;

    fn page(&mut self, mut page: DecodedPage) -> Result<(), PipelineError> {
        let report = self.job.plan.report;
        self.job
            .options
            .progress
            .page(report.id, page.summary.rows, 0);
        self.found.add(&page);
        let index = page.page.page.map_or(0, |p| p.index);
        if let Some(raw) = page.raw.take() {
            self.raws.push((index, raw));
        }
        page.for_each_batch(|batch| self.write(batch))
    }
}

/// The instance-local day of each row's `column` (a timestamp or a date); `None` when null.
fn row_days(batch: &RecordBatch, column: usize, tz: chrono_tz::Tz) -> Vec<Option<NaiveDate>> {
    let array = batch.column(column);
    match array.data_type() {
        DataType::Timestamp(_, _) => {
            let values = array.as_primitive::<TimestampMicrosecondType>();
            (0..values.len())
                .map(|i| {
                    values.is_valid(i).then(|| {
                        chrono::DateTime::from_timestamp_micros(values.value(i))
                            .map(|t| t.with_timezone(&tz).date_naive())
                    })?
                })
                .collect()
        }
        DataType::Date32 => {
            let values = array.as_primitive::<Date32Type>();
            (0..values.len())
                .map(|i| {
                    values
                        .is_valid(i)
                        .then(|| NaiveDate::from_num_days_from_ce_opt(values.value(i) + 719_163))?
                })
                .collect()
        }
        _ => vec![None; batch.num_rows()],
    }
}

/// The days of the committed partitions of a table.
async fn existing_days(sink: &Sink, table: &str) -> Result<BTreeSet<NaiveDate>, PipelineError> {
    // The sink knows the committed partitions of either format (manifests, or a Delta
    // table's current files).
    Ok(sink
        .partitions(table)
        .await?
        .iter()
        .filter_map(|p| partition_day(p))
        .collect())
}
