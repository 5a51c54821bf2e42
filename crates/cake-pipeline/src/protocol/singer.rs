//! Singer tap messages (`SCHEMA`, `RECORD`, `STATE` with bookmarks per stream), the catalog
//! `--discover` prints, and the catalog and state files a Singer runner (Meltano) passes.

use std::collections::BTreeMap;
use std::sync::Mutex;

use cake_catalog::{DateSemantics, Report};
use serde_json::{json, Map, Value};

use super::schema::{record_schema, DAY_FIELD};
use super::{streams, Emit, Selected};
use crate::error::PipelineError;
use crate::state::ReportState;

fn bad(what: &str, detail: impl std::fmt::Display) -> PipelineError {
    PipelineError::Config(format!("{what}: {detail}"))
}

/// The catalog entry of `report`.
fn entry(report: &Report) -> Value {
    let dated = report.dates != DateSemantics::None;
    let mut metadata = json!({
        "inclusion": "available",
        "table-key-properties": report.table_key,
        "forced-replication-method": if dated { "INCREMENTAL" } else { "FULL_TABLE" },
    });
    if dated {
        if let Value::Object(m) = &mut metadata {
            m.insert("valid-replication-keys".into(), json!([DAY_FIELD]));
        }
    }
    json!({
        "tap_stream_id": report.id,
        "stream": report.id,
        "schema": record_schema(report),
        "key_properties": report.table_key,
        "metadata": [{"breadcrumb": [], "metadata": metadata}],
    })
}

/// What `--discover` prints: every report as a stream.
pub fn catalog() -> Value {
    json!({"streams": streams().map(entry).collect::<Vec<_>>()})
}

/// The streams a catalog selects (`"selected": true` in a stream's top metadata, or in the
/// stream itself); every stream when there is no catalog.
pub fn selected(catalog: Option<&str>) -> Result<Vec<Selected>, PipelineError> {
    let Some(text) = catalog else {
        return Ok(streams()
            .map(|report| Selected {
                report,
                incremental: report.dates != DateSemantics::None,
            })
            .collect());
    };
    let v: Value = serde_json::from_str(text).map_err(|e| bad("the catalog", e))?;
    let mut out = Vec::new();
    for s in v["streams"].as_array().into_iter().flatten() {
        let name = s["tap_stream_id"]
            .as_str()
            .or_else(|| s["stream"].as_str())
            .ok_or_else(|| bad("the catalog", "a stream without `tap_stream_id`"))?;
        let top = s["metadata"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|m| m["breadcrumb"].as_array().is_some_and(|b| b.is_empty()));
        let chosen =
            s["selected"] == true || top.is_some_and(|m| m["metadata"]["selected"] == true);
        if !chosen {
            continue;
        }
        let report = cake_catalog::find(name).map_err(|e| bad("the catalog", e))?;
        let full = top.is_some_and(|m| m["metadata"]["replication-method"] == "FULL_TABLE");
        out.push(Selected {
            report,
            incremental: !full && report.dates != DateSemantics::None,
        });
    }
    Ok(out)
}

/// Each stream's state from a Singer state file (`{"bookmarks": {stream: state}}`).
pub fn states(text: &str) -> Result<BTreeMap<String, ReportState>, PipelineError> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad("the state", e))?;
    let bookmarks = v
        .get("value")
        .unwrap_or(&v)
        .get("bookmarks")
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for (name, state) in bookmarks {
        let mut st: ReportState = serde_json::from_value(state).map_err(|e| bad("the state", e))?;
        st.report = name.clone();
        out.insert(name, st);
    }
    Ok(out)
}

/// The `SCHEMA` message of a stream, sent before its records.
pub fn schema_message(report: &Report) -> Value {
    let mut m = json!({
        "type": "SCHEMA",
        "stream": report.id,
        "schema": record_schema(report),
        "key_properties": report.table_key,
    });
    if report.dates != DateSemantics::None {
        if let Value::Object(o) = &mut m {
            o.insert("bookmark_properties".into(), json!([DAY_FIELD]));
        }
    }
    m
}

/// Emits Singer messages through `out`; every `STATE` carries the bookmarks of every stream.
pub struct SingerEmit<F: Fn(&Value) + Send + Sync> {
    out: F,
    bookmarks: Mutex<Map<String, Value>>,
}

impl<F: Fn(&Value) + Send + Sync> SingerEmit<F> {
    /// An emitter that starts from the bookmarks of `previous`.
    pub fn new(out: F, previous: &BTreeMap<String, ReportState>) -> SingerEmit<F> {
        let bookmarks = previous
            .iter()
            .filter_map(|(k, v)| Some((k.clone(), serde_json::to_value(v).ok()?)))
            .collect();
        SingerEmit {
            out,
            bookmarks: Mutex::new(bookmarks),
        }
    }
}

impl<F: Fn(&Value) + Send + Sync> Emit for SingerEmit<F> {
    fn record(&self, report: &Report, record: Map<String, Value>) {
        (self.out)(&json!({
            "type": "RECORD",
            "stream": report.id,
            "record": record,
            "time_extracted": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        }));
    }

    fn state(&self, report: &Report, state: &ReportState) {
        let mut bookmarks = self.bookmarks.lock().unwrap_or_else(|p| p.into_inner());
        if let Ok(v) = serde_json::to_value(state) {
            bookmarks.insert(report.id.to_string(), v);
        }
        (self.out)(&json!({"type": "STATE", "value": {"bookmarks": &*bookmarks}}));
    }
}
