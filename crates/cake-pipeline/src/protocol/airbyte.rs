//! Airbyte protocol messages: one JSON object per line on stdout (`SPEC`, `CONNECTION_STATUS`,
//! `CATALOG`, `RECORD`, `STATE`, `LOG`, `TRACE`), and the catalog and state files Airbyte
//! passes to `read`.

use std::collections::BTreeMap;

use cake_catalog::{DateSemantics, Report};
use serde_json::{json, Map, Value};

use super::schema::{record_schema, DAY_FIELD};
use super::{config_schema, streams, Emit, Selected};
use crate::error::PipelineError;
use crate::state::ReportState;

/// Milliseconds since the epoch, as `emitted_at` wants them.
fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// `spec`: the configuration's schema.
pub fn spec() -> Value {
    json!({
        "type": "SPEC",
        "spec": {
            "documentationUrl": "https://github.com/cake-connector/cake-connector/blob/main/docs/airbyte.md",
            "connectionSpecification": config_schema(),
            "supportsIncremental": true,
            "supported_destination_sync_modes": ["overwrite", "append", "append_dedup"],
        }
    })
}

/// `check`: `SUCCEEDED`, or `FAILED` with what is wrong.
pub fn connection_status(result: Result<(), String>) -> Value {
    match result {
        Ok(()) => json!({"type": "CONNECTION_STATUS", "connectionStatus": {"status": "SUCCEEDED"}}),
        Err(message) => json!({
            "type": "CONNECTION_STATUS",
            "connectionStatus": {"status": "FAILED", "message": message},
        }),
    }
}

/// The stream of `report`: its record schema, its primary key (the table's key), and for a
/// dated report the day as its cursor.
pub fn stream(report: &Report) -> Value {
    let dated = report.dates != DateSemantics::None;
    let mut s = json!({
        "name": report.id,
        "json_schema": record_schema(report),
        "supported_sync_modes": if dated { json!(["full_refresh", "incremental"]) } else { json!(["full_refresh"]) },
        "source_defined_primary_key": report.table_key.iter().map(|k| json!([k])).collect::<Vec<_>>(),
    });
    if dated {
        if let Value::Object(o) = &mut s {
            o.insert("source_defined_cursor".into(), json!(true));
            o.insert("default_cursor_field".into(), json!([DAY_FIELD]));
        }
    }
    s
}

/// `discover`: every report as a stream.
pub fn catalog() -> Value {
    json!({
        "type": "CATALOG",
        "catalog": {"streams": streams().map(stream).collect::<Vec<_>>()},
    })
}

/// A `LOG` message.
pub fn log(level: &str, message: &str) -> Value {
    json!({"type": "LOG", "log": {"level": level, "message": message}})
}

/// A `TRACE` error: `config_error` for what the user must change, `system_error` otherwise;
/// `stream` names the stream it concerns.
pub fn trace_error(message: &str, config_error: bool, stream: Option<&str>) -> Value {
    let mut error = json!({
        "message": message,
        "internal_message": message,
        "failure_type": if config_error { "config_error" } else { "system_error" },
    });
    if let (Some(name), Value::Object(e)) = (stream, &mut error) {
        e.insert("stream_descriptor".into(), json!({"name": name}));
    }
    json!({
        "type": "TRACE",
        "trace": {"type": "ERROR", "emitted_at": now_ms() as f64, "error": error},
    })
}

fn bad(what: &str, detail: impl std::fmt::Display) -> PipelineError {
    PipelineError::Config(format!("{what}: {detail}"))
}

/// The streams a configured catalog selects, with their sync modes.
pub fn selected(configured_catalog: &str) -> Result<Vec<Selected>, PipelineError> {
    let v: Value = serde_json::from_str(configured_catalog).map_err(|e| bad("the catalog", e))?;
    let streams = v["streams"]
        .as_array()
        .ok_or_else(|| bad("the catalog", "it has no `streams` array"))?;
    let mut out = Vec::new();
    for s in streams {
        let name = s["stream"]["name"]
            .as_str()
            .ok_or_else(|| bad("the catalog", "a stream without `stream.name`"))?;
        let report = cake_catalog::find(name).map_err(|e| bad("the catalog", e))?;
        out.push(Selected {
            report,
            incremental: s["sync_mode"] == "incremental" && report.dates != DateSemantics::None,
        });
    }
    Ok(out)
}

/// Each stream's state from a state file: per-stream state messages (an array), or the
/// legacy object of states by stream name.
pub fn states(text: &str) -> Result<BTreeMap<String, ReportState>, PipelineError> {
    let v: Value = serde_json::from_str(text).map_err(|e| bad("the state", e))?;
    let mut out = BTreeMap::new();
    let mut put = |name: &str, state: &Value| -> Result<(), PipelineError> {
        if state.is_null() {
            return Ok(());
        }
        let mut st: ReportState =
            serde_json::from_value(state.clone()).map_err(|e| bad("the state", e))?;
        st.report = name.to_string();
        out.insert(name.to_string(), st);
        Ok(())
    };
    match &v {
        Value::Array(messages) => {
            for m in messages {
                if m["type"] == "STREAM" {
                    if let Some(name) = m["stream"]["stream_descriptor"]["name"].as_str() {
                        put(name, &m["stream"]["stream_state"])?;
                    }
                }
            }
        }
        Value::Object(o) => {
            let data = o.get("data").and_then(Value::as_object).unwrap_or(o);
            for (name, state) in data {
                put(name, state)?;
            }
        }
        _ => return Err(bad("the state", "neither an array nor an object")),
    }
    Ok(out)
}

/// Emits Airbyte messages through `out`, one JSON value per message.
pub struct AirbyteEmit<F: Fn(&Value) + Send + Sync> {
    pub out: F,
}

impl<F: Fn(&Value) + Send + Sync> Emit for AirbyteEmit<F> {
    fn record(&self, report: &Report, record: Map<String, Value>) {
        (self.out)(&json!({
            "type": "RECORD",
            "record": {"stream": report.id, "data": record, "emitted_at": now_ms()},
        }));
    }

    fn state(&self, report: &Report, state: &ReportState) {
        (self.out)(&json!({
            "type": "STATE",
            "state": {
                "type": "STREAM",
                "stream": {
                    "stream_descriptor": {"name": report.id},
                    "stream_state": state,
                },
            },
        }));
    }
}
