//! The connector as a source of the platforms that schedule marketing data: the Airbyte
//! protocol (`spec`, `check`, `discover`, `read`) and a Singer tap, from one reader.
//!
//! A read is a [`sync`](crate::sync) into a private local location: every window is fetched
//! and checked exactly as `pull` and `sync` do, committed, then read back and emitted as
//! records, followed by the stream's state. A window that does not commit emits nothing. The
//! state of a stream is the sync state of its table ([`ReportState`]): the last day committed
//! without a gap, or the change feed's cursor; the next read starts there, minus the lookback.
//!
//! Records never pass through floating point: decimals are strings, timestamps RFC 3339 with
//! their offset, dates `YYYY-MM-DD`, integers JSON integers.

pub mod airbyte;
mod records;
mod schema;
pub mod singer;

use std::collections::BTreeMap;
use std::sync::Arc;

use cake_catalog::{DateSemantics, Report, ValueForm, OPTIONS, REPORTS};
use cake_sink::{Sink, SinkOptions, WriteMode};
use cake_transport::Client;
use chrono::{Days, NaiveDate};
use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::error::PipelineError;
use crate::layout::{partition_day, state_path};
use crate::pull::{Progress, PullOptions, WindowSummary};
use crate::sync::{parse_config, sync, SyncPlan};

pub use crate::state::ReportState;
pub use records::batch_records;
pub use schema::{record_schema, DAY_FIELD};

/// The configuration a platform passes (`--config FILE`): JSON, as Airbyte and Singer write it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceConfig {
    /// The instance: `mycompany`, a host name or an https:// URL.
    pub domain: String,
    /// The API key.
    pub api_key: String,
    /// The first day a dated stream reads on its first run (YYYY-MM-DD).
    pub start_date: String,
    /// Days read again before a stream's state on every run (default 7).
    #[serde(default = "default_lookback")]
    pub lookback_days: u32,
    /// The instance's time zone (IANA name; default UTC).
    pub timezone: Option<String>,
    /// `soap` (default) or `get`.
    pub protocol: Option<String>,
    /// Allow `http://` to a host that is not on loopback.
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Requests in flight at once (default 4).
    pub concurrency: Option<usize>,
    /// Options of single reports, by report id: `{"clicks": {"offer_id": 12}}`.
    #[serde(default)]
    pub report_options: BTreeMap<String, Map<String, Value>>,
}

fn default_lookback() -> u32 {
    crate::sync::DEFAULT_LOOKBACK_DAYS
}

impl SourceConfig {
    /// Reads and checks a configuration.
    pub fn parse(text: &str) -> Result<SourceConfig, PipelineError> {
        let config: SourceConfig = serde_json::from_str(text)
            .map_err(|e| PipelineError::Config(format!("the source configuration: {e}")))?;
        cake_catalog::parse_date(&config.start_date).map_err(|e| {
            PipelineError::Config(format!("the source configuration's start_date: {e}"))
        })?;
        Ok(config)
    }
}

/// The JSON schema of [`SourceConfig`], generated from the options table: what `spec` shows.
pub fn config_schema() -> Value {
    let mut filters = Map::new();
    for o in OPTIONS.iter() {
        let kind = match o.form {
            ValueForm::Id => json!({"type": "integer", "minimum": 1}),
            ValueForm::Text => json!({"type": "string"}),
            ValueForm::ConversionType => {
                json!({"type": "string", "enum": ["conversions", "events", "all"]})
            }
            // Dates are the reader's: start_date, the state and the lookback.
            ValueForm::PastDays | ValueForm::Date | ValueForm::Days => continue,
        };
        let mut kind = kind;
        if let Value::Object(k) = &mut kind {
            k.insert("description".into(), json!(o.help));
        }
        filters.insert(o.key.to_string(), kind);
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "CAKE",
        "type": "object",
        "required": ["domain", "api_key", "start_date"],
        "additionalProperties": false,
        "properties": {
            "domain": {
                "type": "string", "order": 0,
                "title": "Domain",
                "description": "Your instance: mycompany (for mycompany.cake.com), a host name, or an https:// URL.",
            },
            "api_key": {
                "type": "string", "order": 1, "airbyte_secret": true,
                "title": "API key",
                "description": "The admin API key (Cake: Admin > System Settings > API).",
            },
            "start_date": {
                "type": "string", "order": 2, "format": "date",
                "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
                "title": "Start date",
                "description": "The first day a dated stream reads on its first run (YYYY-MM-DD).",
            },
            "lookback_days": {
                "type": "integer", "order": 3, "minimum": 0, "default": 7,
                "title": "Lookback days",
                "description": "Days read again before a stream's state on every run: Cake changes recent days (conversions, adjustments).",
            },
            "timezone": {
                "type": "string", "order": 4, "default": "UTC",
                "title": "Time zone",
                "description": "The instance's time zone (IANA name such as America/New_York): Cake's dates are its wall clock.",
            },
            "protocol": {
                "type": "string", "order": 5, "enum": ["soap", "get"], "default": "soap",
                "title": "Protocol",
                "description": "soap sends the key in the request body; get sends it in the URL.",
            },
            "allow_insecure_http": {"type": "boolean", "order": 6, "default": false},
            "concurrency": {"type": "integer", "order": 7, "minimum": 1, "default": 4},
            "report_options": {
                "type": "object", "order": 8,
                "title": "Options of single reports",
                "description": "By report id, for example {\"clicks\": {\"offer_id\": 12}}.",
                "additionalProperties": {
                    "type": "object",
                    "additionalProperties": false,
                    "properties": filters,
                },
            },
        },
    })
}

/// One stream of a read: a report, read incrementally (from its state) or whole.
#[derive(Debug, Clone)]
pub struct Selected {
    pub report: &'static Report,
    pub incremental: bool,
}

/// What a reader emits, in order: a stream's records after each committed window, then its
/// state. Airbyte and Singer messages are two implementations.
pub trait Emit: Send + Sync {
    /// A record of `report`'s stream.
    fn record(&self, report: &Report, record: Map<String, Value>);
    /// The state of `report`'s stream after the records emitted so far.
    fn state(&self, report: &Report, state: &ReportState);
}

/// The sync config of a read, as the TOML `sync` reads, in `location`.
fn sync_config(
    config: &SourceConfig,
    selected: &[Selected],
    location: &str,
) -> Result<SyncPlan, PipelineError> {
    let mut instance = toml::Table::new();
    instance.insert("domain".into(), config.domain.clone().into());
    if let Some(tz) = &config.timezone {
        instance.insert("timezone".into(), tz.clone().into());
    }
    if let Some(p) = &config.protocol {
        instance.insert("protocol".into(), p.clone().into());
    }
    instance.insert(
        "allow_insecure_http".into(),
        config.allow_insecure_http.into(),
    );
    if let Some(c) = config.concurrency {
        instance.insert("concurrency".into(), (c as i64).into());
    }
    let mut output = toml::Table::new();
    output.insert("location".into(), location.into());
    let mut defaults = toml::Table::new();
    defaults.insert("start".into(), config.start_date.clone().into());
    defaults.insert(
        "lookback_days".into(),
        i64::from(config.lookback_days).into(),
    );
    let mut reports = Vec::new();
    for s in selected {
        let mut r = toml::Table::new();
        r.insert("report".into(), s.report.id.into());
        if let Some(options) = config.report_options.get(s.report.id) {
            for (key, value) in options {
                let v = match value {
                    Value::String(t) => toml::Value::String(t.clone()),
                    Value::Number(n) if n.is_i64() => {
                        toml::Value::Integer(n.as_i64().unwrap_or_default())
                    }
                    Value::Bool(b) => toml::Value::Boolean(*b),
                    other => {
                        return Err(PipelineError::Config(format!(
                            "report_options.{}.{key}: {other} is not a text, a whole number \
                             or a boolean",
                            s.report.id
                        )))
                    }
                };
                r.insert(key.clone(), v);
            }
        }
        reports.push(toml::Value::Table(r));
    }
    let mut root = toml::Table::new();
    root.insert("instance".into(), instance.into());
    root.insert("output".into(), output.into());
    root.insert("defaults".into(), defaults.into());
    root.insert("report".into(), toml::Value::Array(reports));
    let text = toml::to_string(&root)
        .map_err(|e| PipelineError::Config(format!("the source configuration: {e}")))?;
    parse_config("the source configuration", &text)
        .map_err(|e| PipelineError::Config(e.to_string()))
}

/// Progress that hands each committed window to the emitter.
struct Committed(tokio::sync::mpsc::UnboundedSender<(String, WindowSummary)>);

impl Progress for Committed {
    fn window(&self, report: &str, summary: &WindowSummary) {
        let _ = self.0.send((report.to_string(), summary.clone()));
    }
}

/// Reads the `selected` streams at `now` from the instance `client` talks to, `state` holding
/// each incremental stream's state from the last read, and emits records and states through
/// `emit`. Every stream is read even when one fails; the errors are returned, by stream.
pub async fn read(
    client: &Client,
    config: &SourceConfig,
    selected: &[Selected],
    state: &BTreeMap<String, ReportState>,
    emit: &dyn Emit,
    cancel: crate::Cancel,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<Vec<(&'static Report, PipelineError)>, PipelineError> {
    let dir = tempfile::Builder::new()
        .prefix("cake-read-")
        .tempdir()
        .map_err(|source| PipelineError::Io {
            path: std::env::temp_dir(),
            source,
        })?;
    let location = dir.path().join("lake");
    let location = location.to_string_lossy().into_owned();
    let plan = sync_config(config, selected, &location)?;
    // Each incremental stream's state where sync reads it.
    for s in selected.iter().filter(|s| s.incremental) {
        if let Some(st) = state.get(s.report.id) {
            let path = std::path::Path::new(&location).join(state_path(s.report.id));
            let text = serde_json::to_vec_pretty(st).map_err(|source| PipelineError::Encode {
                what: "a stream's state",
                source,
            })?;
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(|source| PipelineError::Io {
                    path: parent.to_path_buf(),
                    source,
                })?;
            }
            std::fs::write(&path, text).map_err(|source| PipelineError::Io {
                path: path.clone(),
                source,
            })?;
        }
    }
    let sink = Sink::open(&location, SinkOptions::default())?;
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    let options = PullOptions {
        mode: WriteMode::Replace,
        decoder: plan.config.output.decoder(plan.timezone),
        // One window at a time: each window's state then covers every window before it.
        windows_in_flight: 1,
        progress: Arc::new(Committed(tx)),
        cancel,
        ..PullOptions::default()
    };
    let running = async {
        let run = sync(client, &sink, &plan, false, now, &options, false).await;
        drop(options);
        run
    };
    let emitting = emit_committed(rx, state, emit, |report, window| {
        let sink = &sink;
        async move { emit_window(sink, report, &window, emit).await }
    });
    let (run, failed) = tokio::join!(running, emitting);
    // The final state of every stream that emitted all it committed: what sync recorded (a
    // change feed's cursor, a snapshot's last run).
    for synced in &run.synced {
        if failed.contains_key(synced.state.report.as_str()) {
            continue;
        }
        if let Ok(report) = cake_catalog::find(&synced.state.report) {
            emit.state(report, &synced.state);
        }
    }
    let mut failures: Vec<(&'static Report, PipelineError)> = run
        .failures
        .into_iter()
        .map(|f| (f.report, f.error))
        .collect();
    for (id, error) in failed {
        if let Ok(report) = cake_catalog::find(id) {
            if failures.iter().all(|(r, _)| r.id != id) {
                failures.push((report, error));
            }
        }
    }
    drop(sink);
    drop(dir);
    Ok(failures)
}

/// Emits each committed window of `committed` through `each` (its records) and `emit` (the
/// stream's state after it), in order. A stream whose window fails to emit stops there: its
/// later windows emit neither records nor states, so its state never passes records a
/// platform did not receive. Returns the streams that stopped, with why.
async fn emit_committed<F, Fut>(
    mut committed: tokio::sync::mpsc::UnboundedReceiver<(String, WindowSummary)>,
    previous: &BTreeMap<String, ReportState>,
    emit: &dyn Emit,
    mut each: F,
) -> BTreeMap<&'static str, PipelineError>
where
    F: FnMut(&'static Report, WindowSummary) -> Fut,
    Fut: std::future::Future<Output = Result<(), PipelineError>>,
{
    let mut states: BTreeMap<&'static str, ReportState> = BTreeMap::new();
    let mut failed: BTreeMap<&'static str, PipelineError> = BTreeMap::new();
    while let Some((report_id, window)) = committed.recv().await {
        let Ok(report) = cake_catalog::find(&report_id) else {
            continue;
        };
        if failed.contains_key(report.id) {
            continue;
        }
        let last = last_day(&window);
        if let Err(e) = each(report, window).await {
            failed.insert(report.id, e);
            continue;
        }
        // A range stream's state moves with every window: windows commit in order.
        if let (DateSemantics::Range { .. }, Some(last)) = (report.dates, last) {
            let st = states.entry(report.id).or_insert_with(|| {
                previous
                    .get(report.id)
                    .cloned()
                    .unwrap_or_else(|| ReportState {
                        report: report.id.to_string(),
                        ..ReportState::default()
                    })
            });
            st.committed_through = Some(st.committed_through.map_or(last, |c| c.max(last)));
            emit.state(report, st);
        }
    }
    failed
}

/// The last day of a dated window (its end is exclusive).
fn last_day(window: &WindowSummary) -> Option<NaiveDate> {
    let end: NaiveDate = window.end.as_deref()?.parse().ok()?;
    end.checked_sub_days(Days::new(1))
}

/// The records of one committed window, read back from its partitions.
async fn emit_window(
    sink: &Sink,
    report: &'static Report,
    window: &WindowSummary,
    emit: &dyn Emit,
) -> Result<(), PipelineError> {
    let table = report.id;
    for path in &window.partitions {
        let partition = path
            .strip_prefix(table)
            .map(|p| p.trim_start_matches('/'))
            .filter(|p| !p.is_empty());
        let manifest = sink.verify(table, partition).await?;
        let day = partition.and_then(partition_day);
        let dir = partition.map_or(table.to_string(), |p| format!("{table}/{p}"));
        for file in &manifest.files {
            let name = format!("{dir}/{}", file.name);
            let Some(bytes) = sink.store().get_bytes(&name).await? else {
                continue;
            };
            let contents = cake_sink::read_parquet(&file.name, bytes)?;
            for batch in &contents.batches {
                for record in batch_records(batch, day) {
                    emit.record(report, record);
                }
            }
        }
    }
    Ok(())
}

/// Every report, as the streams a platform discovers.
pub fn streams() -> impl Iterator<Item = &'static Report> {
    REPORTS.iter().copied()
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Records what was emitted, in order.
    #[derive(Default)]
    struct Seen(Mutex<Vec<String>>);

    impl Emit for Seen {
        fn record(&self, report: &Report, record: Map<String, Value>) {
            self.0
                .lock()
                .unwrap()
                .push(format!("record {} {record:?}", report.id));
        }
        fn state(&self, report: &Report, state: &ReportState) {
            let through = state.committed_through.map(|d| d.to_string());
            self.0.lock().unwrap().push(format!(
                "state {} {}",
                report.id,
                through.unwrap_or_default()
            ));
        }
    }

    fn window(start: &str, end: &str) -> WindowSummary {
        WindowSummary {
            start: Some(start.into()),
            end: Some(end.into()),
            ..WindowSummary::default()
        }
    }

    #[tokio::test]
    async fn a_stream_stops_at_its_first_window_that_fails_to_emit() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        for (report, start, end) in [
            ("clicks", "2026-01-01", "2026-01-02"),
            ("conversions", "2026-01-01", "2026-01-02"),
            ("clicks", "2026-01-02", "2026-01-03"),
            ("conversions", "2026-01-02", "2026-01-03"),
            ("clicks", "2026-01-03", "2026-01-04"),
        ] {
            tx.send((report.to_string(), window(start, end))).unwrap();
        }
        drop(tx);
        let seen = Seen::default();
        let mut asked = Vec::new();
        let failed = emit_committed(rx, &BTreeMap::new(), &seen, |report, w| {
            asked.push(format!(
                "{} {}",
                report.id,
                w.start.clone().unwrap_or_default()
            ));
            let fails = report.id == "clicks" && w.start.as_deref() == Some("2026-01-02");
            async move {
                if fails {
                    Err(PipelineError::Config("unreadable".into()))
                } else {
                    Ok(())
                }
            }
        })
        .await;
        // Clicks' third window is never emitted, and its state stays at the first.
        assert_eq!(
            asked,
            [
                "clicks 2026-01-01",
                "conversions 2026-01-01",
                "clicks 2026-01-02",
                "conversions 2026-01-02",
            ]
        );
        assert_eq!(
            *seen.0.lock().unwrap(),
            [
                "state clicks 2026-01-01",
                "state conversions 2026-01-01",
                "state conversions 2026-01-02",
            ]
        );
        assert_eq!(failed.keys().copied().collect::<Vec<_>>(), ["clicks"]);
    }
}
