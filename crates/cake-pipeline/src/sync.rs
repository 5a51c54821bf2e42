//! `sync`: many reports from one config file, incrementally.
//!
//! Each report keeps a state document at `_state/<report>.json` in the output location. A dated
//! report records the last day committed; the next run starts that many `lookback_days` earlier
//! (Cake changes conversion dispositions and payouts after the fact) and replaces those days.
//! Conversion Changes keeps a `changes_since` cursor. Entity and lookup reports are a fresh
//! snapshot every run. State is written only after the data it describes is committed, and
//! never past a window that is not.

use std::collections::BTreeSet;
use std::sync::Mutex;

use cake_catalog::{
    find, parse_date, plan, Context, ConversionType, DateSemantics, Options, PositiveId, Report,
    WindowSize,
};
use cake_sink::Sink;
use cake_transport::Client;
use chrono::{Datelike, Days, NaiveDate};
use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::error::PipelineError;
use crate::pull::{pull, PullOptions, PullSummary, WindowSummary};

/// A sync config file (TOML). See `docs/sync.md` for the format and an example.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SyncConfig {
    pub instance: InstanceConfig,
    pub output: OutputConfig,
    #[serde(default)]
    pub defaults: Defaults,
    #[serde(rename = "report", default)]
    pub reports: Vec<ReportConfig>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InstanceConfig {
    /// Cake domain (or the `CAKE_DOMAIN` environment variable).
    pub domain: Option<String>,
    /// API key; prefer the `CAKE_API_KEY` environment variable over writing it here.
    pub api_key: Option<String>,
    /// IANA time zone of the instance (default UTC).
    pub timezone: Option<Spanned<String>>,
    #[serde(default)]
    pub allow_insecure_http: bool,
    /// Requests in flight at once (default 4).
    pub concurrency: Option<usize>,
    /// Optional budget of requests per minute.
    pub requests_per_minute: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputConfig {
    /// A directory or `s3://bucket/prefix`.
    pub location: String,
    /// `day` (default) or `month`.
    pub window: Option<Spanned<String>>,
    #[serde(default)]
    pub keep_raw: bool,
    /// `parquet` (default) or `delta`: how the tables are written.
    #[serde(default)]
    pub format: cake_sink::Format,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    /// Days re-pulled before the last committed day (default 7).
    #[serde(default = "default_lookback")]
    pub lookback_days: u32,
    /// First day pulled on a report's first run (YYYY-MM-DD).
    pub start: Option<Spanned<DateValue>>,
}

impl Default for Defaults {
    fn default() -> Self {
        Defaults {
            lookback_days: default_lookback(),
            start: None,
        }
    }
}

fn default_lookback() -> u32 {
    7
}

/// A day in a config file: `"2024-01-01"` (a string) or `2024-01-01` (a TOML date).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum DateValue {
    Text(String),
    Date(toml::value::Datetime),
}

impl DateValue {
    /// The day as written, for the date parser.
    pub fn text(&self) -> String {
        match self {
            DateValue::Text(t) => t.clone(),
            DateValue::Date(d) => d.to_string(),
        }
    }
}

/// One report of a sync, with its options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportConfig {
    /// Report id or display name.
    pub report: Spanned<String>,
    /// First day on the first run (overrides `defaults.start`).
    pub start: Option<Spanned<DateValue>>,
    pub lookback_days: Option<u32>,
    pub conversion_type: Option<Spanned<String>>,
    pub offer_id: Option<Spanned<u32>>,
    pub advertiser_id: Option<Spanned<u32>>,
    pub affiliate_name: Option<Spanned<String>>,
    pub search: Option<Spanned<String>>,
    pub offer_name: Option<Spanned<String>>,
    pub advertiser_name: Option<Spanned<String>>,
    /// Rows per page for paged reports.
    pub page_size: Option<u32>,
    /// The table written (default: the report's id). Two entries of one report with different
    /// options need different tables.
    pub table: Option<Spanned<String>>,
}

/// A config error, with the line it is on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}: {message}")]
pub struct ConfigError {
    pub file: String,
    pub message: String,
}

fn line_of(text: &str, span: std::ops::Range<usize>) -> usize {
    text.get(..span.start)
        .map_or(1, |before| before.matches('\n').count() + 1)
}

/// The key of the `key = value` line that holds byte `at`, if that line is one.
fn key_at(text: &str, at: usize) -> Option<String> {
    let start = text.get(..at)?.rfind('\n').map_or(0, |i| i + 1);
    let line = text.get(start..)?.lines().next()?;
    let (key, _) = line.split_once('=')?;
    let key = key.trim();
    let plain = !key.is_empty() && !key.starts_with(['[', '#', '"', '\'']);
    plain.then(|| key.to_string())
}

/// A report of the config, checked against the catalog.
#[derive(Debug, Clone)]
pub struct SyncReport {
    pub report: &'static Report,
    pub options: Options,
    pub start: Option<NaiveDate>,
    pub lookback_days: u32,
    pub page_size: Option<u32>,
    /// The table written: the report's id unless the config names one.
    pub table: String,
}

/// A parsed and checked config.
#[derive(Debug, Clone)]
pub struct SyncPlan {
    pub config: SyncConfig,
    pub timezone: chrono_tz::Tz,
    pub window: WindowSize,
    pub reports: Vec<SyncReport>,
}

/// Parses and checks a config file's text. Errors name the file, the line and the key.
pub fn parse_config(file: &str, text: &str) -> Result<SyncPlan, ConfigError> {
    let err = |message: String| ConfigError {
        file: file.to_string(),
        message,
    };
    let config: SyncConfig = toml::from_str(text).map_err(|e| {
        let mut msg = e.message().trim().to_string();
        if msg.contains("expected a sequence") && text.contains("[report]") {
            msg.push_str(": each report is a `[[report]]` table (two brackets), one per report");
        }
        err(match e.span() {
            Some(span) => {
                let line = line_of(text, span.clone());
                // A wrong type or value is reported at the value: name its key too.
                match key_at(text, span.start) {
                    Some(key) if !msg.contains(&format!("`{key}`")) => {
                        format!("line {line}: `{key}`: {msg}")
                    }
                    _ => format!("line {line}: {msg}"),
                }
            }
            None => msg,
        })
    })?;
    let at = |span: std::ops::Range<usize>, key: &str, message: String| {
        err(format!("line {}: `{key}`: {message}", line_of(text, span)))
    };
    let timezone = match &config.instance.timezone {
        Some(tz) => cake_catalog::parse_timezone(tz.get_ref())
            .map_err(|e| at(tz.span(), "timezone", e.to_string()))?,
        None => chrono_tz::Tz::UTC,
    };
    let window = match &config.output.window {
        Some(w) => w
            .get_ref()
            .parse()
            .map_err(|e: String| at(w.span(), "window", e))?,
        None => WindowSize::Day,
    };
    let default_start = match &config.defaults.start {
        Some(s) => Some(
            parse_date(&s.get_ref().text()).map_err(|e| at(s.span(), "start", e.to_string()))?,
        ),
        None => None,
    };
    if config.reports.is_empty() {
        return Err(err(
            "no [[report]] entries: add at least one, e.g. [[report]] report = \"clicks\"".into(),
        ));
    }
    let mut reports = Vec::new();
    let mut seen = BTreeSet::new();
    for rc in &config.reports {
        let report =
            find(rc.report.get_ref()).map_err(|e| at(rc.report.span(), "report", e.to_string()))?;
        let table = match &rc.table {
            Some(t) => {
                let name = t.get_ref().trim();
                if !valid_table_name(name) {
                    return Err(at(
                        t.span(),
                        "table",
                        format!("`{name}` is not a table name: use letters, digits, `-` and `_`, not starting with `_` or `.`"),
                    ));
                }
                name.to_string()
            }
            None => report.id.to_string(),
        };
        if !seen.insert(table.clone()) {
            return Err(at(
                rc.table.as_ref().map_or(rc.report.span(), |t| t.span()),
                "report",
                format!(
                    "the table `{table}` is written by two entries; each table keeps one state: give one of them `table = \"...\"`"
                ),
            ));
        }
        let mut options = Options {
            affiliate_name: rc.affiliate_name.as_ref().map(|v| v.get_ref().clone()),
            search: rc.search.as_ref().map(|v| v.get_ref().clone()),
            offer_name: rc.offer_name.as_ref().map(|v| v.get_ref().clone()),
            advertiser_name: rc.advertiser_name.as_ref().map(|v| v.get_ref().clone()),
            ..Options::default()
        };
        if let Some(ct) = &rc.conversion_type {
            options.conversion_type = Some(
                ct.get_ref()
                    .parse::<ConversionType>()
                    .map_err(|e| at(ct.span(), "conversion_type", e.to_string()))?,
            );
        }
        for (value, key, slot) in [
            (&rc.offer_id, "offer_id", &mut options.offer_id),
            (
                &rc.advertiser_id,
                "advertiser_id",
                &mut options.advertiser_id,
            ),
        ] {
            if let Some(v) = value {
                *slot = Some(PositiveId::new(*v.get_ref()).ok_or_else(|| {
                    at(
                        v.span(),
                        key,
                        "ids are positive whole numbers such as 123".into(),
                    )
                })?);
            }
        }
        // Options the report does not take are refused here, before anything runs, at the
        // option's own line, named by its key in the config.
        for (menu, _flag) in options.chosen() {
            if !report.takes(menu) {
                use cake_catalog::Menu;
                let span = match menu {
                    Menu::OfferId => rc.offer_id.as_ref().map(Spanned::span),
                    Menu::AdvertiserId => rc.advertiser_id.as_ref().map(Spanned::span),
                    Menu::ConversionType => rc.conversion_type.as_ref().map(Spanned::span),
                    Menu::AffiliateName => rc.affiliate_name.as_ref().map(Spanned::span),
                    Menu::Search => rc.search.as_ref().map(Spanned::span),
                    Menu::OfferName => rc.offer_name.as_ref().map(Spanned::span),
                    Menu::AdvertiserName => rc.advertiser_name.as_ref().map(Spanned::span),
                    // Dates are not options of a sync entry (`start` is checked below).
                    _ => None,
                };
                return Err(at(
                    span.unwrap_or_else(|| rc.report.span()),
                    menu.key(),
                    format!("{} does not take this option", report.name),
                ));
            }
        }
        let start = match &rc.start {
            Some(s) => Some(
                parse_date(&s.get_ref().text())
                    .map_err(|e| at(s.span(), "start", e.to_string()))?,
            ),
            None => default_start,
        };
        if report.is_dated() && start.is_none() {
            return Err(at(
                rc.report.span(),
                "start",
                format!(
                    "{} is dated: give `start = \"YYYY-MM-DD\"` (the first day of the first run) here or in [defaults]",
                    report.name
                ),
            ));
        }
        reports.push(SyncReport {
            report,
            options,
            start,
            lookback_days: rc.lookback_days.unwrap_or(config.defaults.lookback_days),
            page_size: rc.page_size,
            table,
        });
    }
    Ok(SyncPlan {
        config,
        timezone,
        window,
        reports,
    })
}

/// What a report's state records.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
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

/// Path of a table's state document in the output location.
pub fn state_path(table: &str) -> String {
    format!("_state/{table}.json")
}

async fn read_state(
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
            "the state {path} is not valid ({e}); delete it, or start again with the full refresh option"
        ))
    })?;
    if newer_version(&state.connector_version, env!("CARGO_PKG_VERSION")) {
        return Err(PipelineError::State(format!(
            "the state {path} was written by version {} of the connector, newer than this one ({}): run the newer version, or start again with the full refresh option",
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
                "the state {path} says {what} {day}, after today ({today} in the instance's time zone): a run whose clock was ahead wrote it. Check this machine's clock, then delete the state or start again with the full refresh option"
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

async fn write_state(sink: &Sink, state: &ReportState, table: &str) -> Result<(), PipelineError> {
    let bytes = serde_json::to_vec_pretty(state)
        .map_err(|e| PipelineError::Output(format!("cannot encode state: {e}")))?;
    Ok(sink.put_document(&state_path(table), bytes).await?)
}

/// What one report of a sync did.
#[derive(Debug, Clone, Serialize)]
pub struct SyncedReport {
    pub pull: PullSummary,
    /// The days or cursor this run covered, for people.
    pub covered: String,
    pub state: ReportState,
}

/// A report of a sync that failed, with what it committed before.
#[derive(Debug)]
pub struct SyncFailure {
    pub report: &'static Report,
    pub table: String,
    pub error: PipelineError,
    /// The windows committed before the failure (whole, and covered by the state).
    pub committed: PullSummary,
}

/// What a sync did: the reports that completed, and those that failed.
#[derive(Debug, Default)]
pub struct SyncRun {
    pub synced: Vec<SyncedReport>,
    pub failures: Vec<SyncFailure>,
    /// Reports not started: the run stopped first (a failure with `fail_fast`, or a stop).
    pub skipped: Vec<String>,
}

impl SyncRun {
    /// True when every report completed.
    pub fn is_ok(&self) -> bool {
        self.failures.is_empty() && self.skipped.is_empty()
    }

    /// The completed reports, or the first failure's error.
    pub fn into_result(mut self) -> Result<Vec<SyncedReport>, PipelineError> {
        if self.failures.is_empty() {
            Ok(self.synced)
        } else {
            Err(self.failures.remove(0).error)
        }
    }
}

/// Runs every report of `plan`, one after another. A report that fails does not stop the
/// others (its state covers what it committed), unless `fail_fast`; a stop asked through
/// `options.cancel` ends the run after the report in progress gives up.
pub async fn sync(
    client: &Client,
    sink: &Sink,
    plan: &SyncPlan,
    full_refresh: bool,
    now: chrono::DateTime<chrono::Utc>,
    options: &PullOptions,
    fail_fast: bool,
) -> SyncRun {
    let mut run = SyncRun::default();
    for sr in &plan.reports {
        let stop = options.cancel.is_cancelled() || (fail_fast && !run.failures.is_empty());
        if stop {
            run.skipped.push(sr.table.clone());
            continue;
        }
        let committed = Mutex::new(Vec::new());
        match sync_report(
            client,
            sink,
            plan,
            sr,
            full_refresh,
            now,
            options,
            &committed,
        )
        .await
        {
            Ok(done) => run.synced.push(done),
            Err(error) => {
                let windows = committed.into_inner().unwrap_or_else(|p| p.into_inner());
                run.failures.push(SyncFailure {
                    report: sr.report,
                    table: sr.table.clone(),
                    committed: PullSummary::of_windows(
                        sr.report.id,
                        &sr.table,
                        sink.store().display(),
                        windows,
                        0.0,
                    ),
                    error,
                });
            }
        }
    }
    run
}

/// What a sync will do for one report: its plan after the state and the lookback.
#[derive(Debug, Clone)]
pub struct ReportRun {
    pub table: String,
    pub plan: cake_catalog::Plan,
    /// The days or cursor the run covers, for people.
    pub covered: String,
    /// The state before the run (`None` on a first run, a full refresh or a rebuilt table).
    pub previous: Option<ReportState>,
    /// Today in the instance's zone.
    pub today: NaiveDate,
}

/// The plan of one report of a sync at `now`, after its state and lookback. The table's
/// contract is checked first (a differing table is rebuilt with `rebuild`, which resets its
/// state, and refused without).
pub async fn plan_report(
    client: &Client,
    sink: &Sink,
    plan: &SyncPlan,
    sr: &SyncReport,
    full_refresh: bool,
    now: chrono::DateTime<chrono::Utc>,
    rebuild: bool,
) -> Result<ReportRun, PipelineError> {
    let report = sr.report;
    let mut ctx = Context::new(now);
    ctx.timezone = plan.timezone;
    ctx.window = plan.window;
    ctx.page_size = sr.page_size;
    let today = ctx.today();
    // The table's contract first: a table rebuilt for this run starts again from `start`, so
    // its state goes with its partitions. The contract does not depend on the dates.
    let mut probe_options = sr.options.clone();
    match report.dates {
        DateSemantics::None => {}
        DateSemantics::Range { .. } => {
            probe_options.start = Some(today);
            probe_options.end = Some(today);
        }
        DateSemantics::ChangesSince => probe_options.date = Some(today),
    }
    let contract = crate::contract::contract_for(client, &plan_for(report, &probe_options, &ctx)?);
    let check = crate::pull::check_contract(sink, &sr.table, &contract, rebuild).await?;
    let previous = if full_refresh || check == Some(cake_sink::ContractCheck::Rebuilt) {
        None
    } else {
        read_state(sink, &sr.table, today).await?
    };
    // With month windows the lookback reaches back to the first of a month, so every run
    // replaces whole month partitions and never writes one that overlaps another.
    let months = plan.window == WindowSize::Month && report.layout == cake_catalog::Layout::Window;
    let month_start = |d: NaiveDate| {
        if months {
            d.with_day(1).unwrap_or(d)
        } else {
            d
        }
    };
    let lookback = |d: NaiveDate| {
        d.checked_sub_days(Days::new(u64::from(sr.lookback_days)))
            .map(month_start)
    };
    let mut options_for_run = sr.options.clone();
    let covered;
    match report.dates {
        DateSemantics::None => covered = "snapshot".to_string(),
        DateSemantics::Range { .. } => {
            let first = month_start(sr.start.unwrap_or(today));
            let start = previous
                .as_ref()
                .and_then(|s| s.committed_through)
                .and_then(lookback)
                .map_or(first, |d| d.max(first))
                .min(today);
            let start = month_start(start);
            options_for_run.start = Some(start);
            options_for_run.end = Some(today);
            covered = format!("{start} to {today}");
        }
        DateSemantics::ChangesSince => {
            let first = sr.start.unwrap_or(today);
            let since = previous
                .as_ref()
                .and_then(|s| s.changes_since)
                .and_then(lookback)
                .map_or(first, |d| d.max(first))
                .min(today);
            options_for_run.date = Some(since);
            covered = format!("changes since {since}");
        }
    }
    Ok(ReportRun {
        table: sr.table.clone(),
        plan: plan_for(report, &options_for_run, &ctx)?,
        covered,
        previous,
        today,
    })
}

/// The state after a run committed the windows starting on the days of `committed`: the days
/// committed without a gap from the run's first window extend `committed_through`; a change
/// feed's cursor and the last run move only when the run is `finished`.
fn state_after(
    run: &ReportRun,
    committed: &BTreeSet<String>,
    finished: Option<chrono::DateTime<chrono::Utc>>,
) -> ReportState {
    let report = run.plan.report;
    let mut state = run.previous.clone().unwrap_or_default();
    state.report = report.id.to_string();
    state.connector_version = env!("CARGO_PKG_VERSION").to_string();
    match report.dates {
        DateSemantics::Range { .. } => {
            let mut through = None;
            for req in &run.plan.requests {
                match req.window {
                    Some(w) if committed.contains(&w.start().to_string()) => {
                        through = Some(w.last_day())
                    }
                    _ => break,
                }
            }
            if let Some(t) = through {
                state.committed_through = Some(state.committed_through.map_or(t, |c| c.max(t)));
            }
        }
        DateSemantics::ChangesSince => {
            if finished.is_some() {
                state.changes_since = Some(run.today);
            }
        }
        DateSemantics::None => {}
    }
    if let Some(at) = finished {
        state.last_run = Some(at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    state
}

#[allow(clippy::too_many_arguments)]
async fn sync_report(
    client: &Client,
    sink: &Sink,
    plan: &SyncPlan,
    sr: &SyncReport,
    full_refresh: bool,
    now: chrono::DateTime<chrono::Utc>,
    options: &PullOptions,
    windows: &Mutex<Vec<WindowSummary>>,
) -> Result<SyncedReport, PipelineError> {
    let run = plan_report(client, sink, plan, sr, full_refresh, now, options.rebuild).await?;
    let options = PullOptions {
        table: Some(sr.table.clone()),
        ..options.clone()
    };
    // State follows the data as windows commit, so a run that is stopped (a failure, a
    // signal, a kill) is resumed from where it got to.
    let (tx, mut rx) = tokio::sync::watch::channel(BTreeSet::<String>::new());
    let pulling = async {
        let record = |w: &WindowSummary| {
            if let Some(s) = &w.start {
                tx.send_modify(|set| {
                    set.insert(s.clone());
                });
            }
            windows
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .push(w.clone());
        };
        let result = pull(client, &run.plan, sink, &options, &record).await;
        drop(tx);
        result
    };
    let saving = async {
        while rx.changed().await.is_ok() {
            let committed = rx.borrow_and_update().clone();
            let state = state_after(&run, &committed, None);
            if let Err(e) = write_state(sink, &state, &sr.table).await {
                tracing::warn!(
                    table = sr.table.as_str(),
                    "cannot save the state as windows commit: {e}"
                );
            }
        }
    };
    let (result, ()) = tokio::join!(pulling, saving);
    let committed = rx.borrow().clone();
    let state = state_after(&run, &committed, result.is_ok().then_some(now));
    if result.is_ok() || !committed.is_empty() {
        write_state(sink, &state, &sr.table).await?;
    }
    let pull = result?;
    Ok(SyncedReport {
        pull,
        covered: run.covered,
        state,
    })
}

fn plan_for(
    report: &'static Report,
    options: &Options,
    ctx: &Context,
) -> Result<cake_catalog::Plan, PipelineError> {
    plan(report, options, ctx).map_err(|e| PipelineError::Config(format!("{}: {e}", report.name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<SyncPlan, String> {
        parse_config("cake.toml", text).map_err(|e| e.to_string())
    }

    const BASE: &str = "[instance]\ndomain = \"mycompany\"\n[output]\nlocation = \"./lake\"\n";

    #[test]
    fn the_example_config_is_valid_and_local() {
        let text = include_str!("../../../docs/cake.example.toml");
        let plan = parse(text);
        let plan = plan.unwrap();
        assert!(!plan.config.output.location.contains("://"));
        assert!(plan.reports.len() >= 4);
    }

    #[test]
    fn a_good_config() {
        let p = parse(&format!(
            "{BASE}[defaults]\nstart = \"2024-01-01\"\n[[report]]\nreport = \"clicks\"\noffer_id = 12\n[[report]]\nreport = \"Offers\"\n"
        ))
        .unwrap();
        assert_eq!(p.reports.len(), 2);
        assert_eq!(p.reports[0].options.offer_id.map(|i| i.get()), Some(12));
        assert_eq!(p.reports[0].lookback_days, 7);
    }

    #[test]
    fn errors_name_the_line_and_the_key() {
        let cases = [
            (
                format!(
                    "{BASE}[[report]]\nreport = \"clicks\"\nstart = \"2024-01-01\"\nofer_id = 3\n"
                ),
                "line 8",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"clikcs\"\n"),
                "line 6: `report`: unknown report `clikcs` (did you mean clicks?)",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"clicks\"\nstart = 2024\n"),
                "line 7",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"clicks\"\n"),
                "line 6: `start`",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"offers\"\n\nsearch = \"x\"\n"),
                "line 8: `search`: Offers does not take this option",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"currencies\"\noffer_id = 3\n"),
                "line 7: `offer_id`: Currencies does not take this option",
            ),
            (
                format!(
                    "{BASE}[defaults]\nstart = \"2024-02-30\"\n[[report]]\nreport = \"offers\"\n"
                ),
                "line 6: `start`: invalid date",
            ),
            (
                "[instance]\ndomain = 3\n".to_string(),
                "line 2: `domain`: invalid type",
            ),
            (
                format!("{BASE}[[report]]\nreport = \"offers\"\npage_size = \"ten\"\n"),
                "line 7: `page_size`: invalid type",
            ),
        ];
        for (text, expected) in cases {
            let e = parse(&text).unwrap_err();
            assert!(e.contains(expected), "expected `{expected}` in `{e}`");
            assert!(e.starts_with("cake.toml: "), "{e}");
        }
    }
}
