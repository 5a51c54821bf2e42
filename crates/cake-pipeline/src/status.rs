//! What an output location holds, table by table: the contract, the days committed and the gaps
//! between them, the rows, the last run and how it ended, and how fresh the data is.
//!
//! Read from what the location itself holds (contracts, manifests, sync state and the record of
//! each table's last run), so it answers for a lake written by any run, from any machine.

use cake_sink::{Format, Sink, TableContract};
use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::error::PipelineError;
use crate::layout::{history_dir, history_entry, runs_path, state_path};
use crate::state::ReportState;

/// How a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RunStatus {
    Ok,
    Failed,
    /// The table's contract differs from the run's: nothing was sent or written.
    Refused,
    Interrupted,
}

impl RunStatus {
    /// How a job that returned `result` ended.
    pub fn of<T>(result: &Result<T, PipelineError>) -> RunStatus {
        match result {
            Ok(_) => RunStatus::Ok,
            Err(e) => RunStatus::of_error(e),
        }
    }

    /// How a job that failed with `error` ended: refused, interrupted or failed.
    pub fn of_error(error: &PipelineError) -> RunStatus {
        match error {
            PipelineError::Interrupted => RunStatus::Interrupted,
            PipelineError::Table { source, .. }
                if matches!(**source, cake_sink::SinkError::ContractMismatch { .. }) =>
            {
                RunStatus::Refused
            }
            _ => RunStatus::Failed,
        }
    }

    pub const fn as_str(self) -> &'static str {
        match self {
            RunStatus::Ok => "ok",
            RunStatus::Failed => "failed",
            RunStatus::Refused => "refused",
            RunStatus::Interrupted => "interrupted",
        }
    }
}

impl std::fmt::Display for RunStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a run ended, as recorded for its table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    pub run_id: String,
    /// When it ended (UTC, RFC 3339).
    pub finished_at: String,
    pub status: RunStatus,
    /// What went wrong, for a run that did not end `ok`.
    pub error: Option<String>,
    /// The class of the failure ([`cake_core::failure::Class`]), for a run that did not end
    /// `ok`.
    #[serde(default)]
    pub class: Option<String>,
    /// The days the run was asked for (`2026-01-01 to 2026-01-03`, `snapshot`).
    #[serde(default)]
    pub covered: Option<String>,
    /// Windows committed by the run.
    pub windows: usize,
    pub rows: u64,
    /// How long it ran, in milliseconds.
    #[serde(default)]
    pub millis: Option<u64>,
    pub connector_version: String,
}

impl RunRecord {
    /// The record of a run into `sink` that was asked for `covered` (see [`covered`]) and
    /// ended after `elapsed` with `error` (`None`: ok), having committed `windows` windows of
    /// `rows` rows.
    pub fn of(
        sink: &Sink,
        covered: Option<String>,
        error: Option<&PipelineError>,
        (windows, rows): (usize, u64),
        elapsed: std::time::Duration,
    ) -> RunRecord {
        use cake_core::failure::Classify as _;
        RunRecord {
            run_id: sink.run_id().to_string(),
            finished_at: Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            status: error.map_or(RunStatus::Ok, RunStatus::of_error),
            error: error.map(ToString::to_string),
            class: error.map(|e| e.class().as_str().to_string()),
            covered,
            windows,
            rows,
            millis: Some(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX)),
            connector_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// The days a plan asks for, for people: `2026-01-01 to 2026-01-03`, `changes since
/// 2026-01-01`, `snapshot`.
pub fn covered(plan: &cake_catalog::Plan) -> String {
    let days = plan.requests.iter().filter_map(|r| r.window);
    let first = days.clone().map(|w| w.start()).min();
    let last = days.map(|w| w.last_day()).max();
    match (first, last) {
        (Some(a), Some(b)) if a == b => a.to_string(),
        (Some(a), Some(b)) => format!("{a} to {b}"),
        _ => match plan.dates {
            cake_catalog::PlannedDates::ChangesSince(d) => format!("changes since {d}"),
            _ => "snapshot".to_string(),
        },
    }
}

/// Records a run that `error` stopped before it sent anything, when the table refused it (a
/// contract that differs), so that `status` shows the refusal; any other error is the run's
/// alone. Returns the error.
pub async fn record_refusal(
    sink: &Sink,
    table: &str,
    covered: Option<String>,
    error: PipelineError,
    elapsed: std::time::Duration,
) -> PipelineError {
    if RunStatus::of_error(&error) == RunStatus::Refused {
        let record = RunRecord::of(sink, covered, Some(&error), (0, 0), elapsed);
        record_run(sink, table, &record).await;
    }
    error
}

/// Runs kept in a table's history; older ones are removed as new ones are recorded.
pub const HISTORY_KEPT: usize = 100;

/// Records how a run of `table` ended, as its last run and in its history (best effort: a
/// failure to record is logged, not fatal, so that it never hides the run's own outcome).
pub async fn record_run(sink: &Sink, table: &str, record: &RunRecord) {
    let Ok(bytes) = serde_json::to_vec_pretty(record) else {
        return;
    };
    let entry = history_entry(table, &record.finished_at, &record.run_id);
    for rel in [runs_path(table), entry] {
        if let Err(e) = sink.put_document(&rel, bytes.clone()).await {
            tracing::warn!(table, "cannot record the run's outcome: {e}");
            return;
        }
    }
    // The oldest entries beyond what is kept.
    if let Ok(mut entries) = sink.store().list_recursive(&history_dir(table)).await {
        entries.sort();
        let excess = entries.len().saturating_sub(HISTORY_KEPT);
        for old in entries.into_iter().take(excess) {
            let _ = sink.store().delete(&old).await;
        }
    }
}

/// The last `n` runs of `table`, newest first, as recorded by [`record_run`]; a damaged
/// entry is left out.
pub async fn run_history(sink: &Sink, table: &str, n: usize) -> Vec<RunRecord> {
    let Ok(mut entries) = sink.store().list_recursive(&history_dir(table)).await else {
        return Vec::new();
    };
    entries.sort();
    let mut runs = Vec::new();
    for rel in entries.iter().rev() {
        if runs.len() == n {
            break;
        }
        if let Some(run) = read_json::<RunRecord>(sink, rel).await {
            runs.push(run);
        }
    }
    runs
}

/// One table of a location.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    pub table: String,
    /// `parquet` or `delta`.
    pub format: Format,
    /// The table's contract, when it has one.
    pub contract: Option<TableContract>,
    /// Committed partitions (1 for an undated table).
    pub partitions: usize,
    /// First and last committed days (dated tables).
    pub first_day: Option<NaiveDate>,
    pub last_day: Option<NaiveDate>,
    /// Runs of days missing between the first and the last day, as `[first, last]` pairs.
    pub gaps: Vec<(NaiveDate, NaiveDate)>,
    pub rows: u64,
    /// When the newest partition was written (UTC, RFC 3339), from its files' metadata.
    pub last_write: Option<String>,
    /// The last run of the table and how it ended, when recorded.
    pub last_run: Option<RunRecord>,
    /// The sync state, when the table is synced.
    pub state: Option<ReportState>,
    /// Today in the table's time zone, and how many days the last committed day lies behind.
    pub today: Option<NaiveDate>,
    pub lag_days: Option<i64>,
    /// What could not be read, each with the reason (a damaged manifest or log, Delta files
    /// without row statistics); such partitions are not counted.
    pub unreadable: Vec<String>,
}

/// Every table of the location `sink` opened, sorted by name, at the instant `now`.
pub async fn status(sink: &Sink, now: DateTime<Utc>) -> Result<Vec<TableStatus>, PipelineError> {
    let store = sink.store();
    let mut tables = std::collections::BTreeSet::new();
    for path in store.list_recursive("").await? {
        if let Some((table, _)) = path.split_once('/') {
            if !table.starts_with(['_', '.']) {
                tables.insert(table.to_string());
            }
        }
    }
    let mut out = Vec::new();
    for table in tables {
        out.push(table_status(sink, &table, now).await?);
    }
    Ok(out)
}

async fn table_status(
    sink: &Sink,
    table: &str,
    now: DateTime<Utc>,
) -> Result<TableStatus, PipelineError> {
    let overview = sink.overview(table).await?;
    let mut days = Vec::new();
    let mut rows = 0;
    let mut newest: Option<(Option<String>, Option<String>)> = None;
    let mut unreadable = overview.unreadable;
    for partition in &overview.partitions {
        let name = partition.partition.as_deref();
        let Some(partition_rows) = partition.rows else {
            unreadable.push(format!(
                "{}: rows unknown (files without statistics)",
                name.unwrap_or(table)
            ));
            continue;
        };
        rows += partition_rows;
        if let Some(day) = name.and_then(crate::layout::partition_day) {
            days.push(day);
        }
        // When it was written: the pull's own stamp (Parquet manifests), or the newest file's
        // time (Delta).
        let written = partition
            .metadata
            .iter()
            .find(|(k, _)| k == crate::metadata::keys::PULLED_AT)
            .map(|(_, v)| v.clone())
            .or_else(|| {
                partition
                    .written_ms
                    .and_then(DateTime::<Utc>::from_timestamp_millis)
                    .map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            });
        let order = partition.run_id.clone().or_else(|| written.clone());
        if newest.as_ref().is_none_or(|(o, _)| order > *o) {
            newest = Some((order, written));
        }
    }
    let contract = overview.contract;
    days.sort();
    let gaps = gaps(&days);
    let timezone = contract
        .as_ref()
        .and_then(|c| c.fields.get("timezone"))
        .and_then(|tz| tz.parse::<chrono_tz::Tz>().ok());
    let today = timezone.map(|tz| now.with_timezone(&tz).date_naive());
    let lag_days = match (today, days.last()) {
        (Some(t), Some(last)) => Some((t - *last).num_days()),
        _ => None,
    };
    let last_run: Option<RunRecord> = read_json(sink, &runs_path(table)).await;
    let state: Option<ReportState> = read_json(sink, &state_path(table)).await;
    Ok(TableStatus {
        table: table.to_string(),
        contract,
        partitions: overview.partitions.len(),
        format: overview.format,
        first_day: days.first().copied(),
        last_day: days.last().copied(),
        gaps,
        rows,
        last_write: newest.and_then(|(_, at)| at).filter(|at| !at.is_empty()),
        last_run,
        state,
        today,
        lag_days,
        unreadable,
    })
}

/// A JSON document of the location, when it exists and reads.
async fn read_json<T: serde::de::DeserializeOwned>(sink: &Sink, rel: &str) -> Option<T> {
    let bytes = sink.get_document(rel).await.ok().flatten()?;
    serde_json::from_slice(&bytes).ok()
}

/// The runs of missing days between consecutive days of a sorted list. A table of month
/// partitions (every day a first of the month) has no gaps between consecutive months.
fn gaps(days: &[NaiveDate]) -> Vec<(NaiveDate, NaiveDate)> {
    use chrono::Datelike;
    let months = !days.is_empty() && days.iter().all(|d| d.day() == 1);
    let mut out = Vec::new();
    for pair in days.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let next = if months {
            cake_catalog::dates::first_of_next_month(a)
        } else {
            a.succ_opt()
        };
        if let Some(next) = next {
            if next < b {
                let last = if months {
                    b.pred_opt().and_then(|d| d.with_day(1)).unwrap_or(b)
                } else {
                    b.pred_opt().unwrap_or(b)
                };
                out.push((next, last));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn gaps_are_runs_of_missing_days() {
        let days = [
            d("2024-03-01"),
            d("2024-03-02"),
            d("2024-03-05"),
            d("2024-03-07"),
        ];
        assert_eq!(
            gaps(&days),
            [
                (d("2024-03-03"), d("2024-03-04")),
                (d("2024-03-06"), d("2024-03-06"))
            ]
        );
        let months = [d("2024-01-01"), d("2024-02-01"), d("2024-05-01")];
        assert_eq!(gaps(&months), [(d("2024-03-01"), d("2024-04-01"))]);
        assert!(gaps(&[]).is_empty());
    }
}
