//! A table's sync state (`_state/<table>.json`): where the next run starts. Written only after
//! the data it describes is committed.

use cake_sink::Sink;
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::error::PipelineError;
use crate::layout::state_path;

/// What a report's state records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ReportState {
    pub report: String,
    /// Last day committed without a gap since the first run (dated range reports).
    pub committed_through: Option<NaiveDate>,
    /// Where the next change feed starts, before the lookback (Conversion Changes).
    pub changes_since: Option<NaiveDate>,
    /// When the last successful run finished (UTC, RFC 3339).
    pub last_run: Option<String>,
    pub connector_version: String,
}

/// Whether `name` can name a table: a directory name readers do not skip.
pub fn valid_table_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with(['_', '.'])
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

pub(crate) async fn read_state(
    sink: &Sink,
    table: &str,
    today: NaiveDate,
) -> Result<Option<ReportState>, PipelineError> {
    let path = state_path(table);
    let Some(bytes) = sink.get_document(&path).await? else {
        return Ok(None);
    };
    let state: ReportState = serde_json::from_slice(&bytes).map_err(|e| {
        PipelineError::State(format!(
            "the state {path} is not valid ({e}); delete it, or start again with a full refresh (sync --full-refresh)"
        ))
    })?;
    if newer_version(&state.connector_version, env!("CARGO_PKG_VERSION")) {
        return Err(PipelineError::State(format!(
            "the state {path} was written by version {} of the connector, newer than this one ({}): run the newer version, or start again with a full refresh (sync --full-refresh)",
            state.connector_version,
            env!("CARGO_PKG_VERSION")
        )));
    }
    for (what, day) in [
        ("committed through", state.committed_through),
        ("changes since", state.changes_since),
    ] {
        if let Some(day) = day.filter(|d| *d > today) {
            return Err(PipelineError::State(format!(
                "the state {path} says {what} {day}, after today ({today} in the instance's time zone): a run whose clock was ahead wrote it. Check this machine's clock, then delete the state or start again with a full refresh (sync --full-refresh)"
            )));
        }
    }
    Ok(Some(state))
}

/// True when version `a` (`major.minor.patch`) is newer than `b`.
fn newer_version(a: &str, b: &str) -> bool {
    let parse = |v: &str| -> Vec<u64> {
        v.split(['.', '-', '+'])
            .take(3)
            .map(|p| p.parse().unwrap_or(0))
            .collect()
    };
    parse(a) > parse(b)
}

pub(crate) async fn write_state(
    sink: &Sink,
    state: &ReportState,
    table: &str,
) -> Result<(), PipelineError> {
    let bytes = serde_json::to_vec_pretty(state).map_err(|source| PipelineError::Encode {
        what: "a sync state",
        source,
    })?;
    Ok(sink.put_document(&state_path(table), bytes).await?)
}
