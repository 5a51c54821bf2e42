//! `sync`: many reports from one config file, incrementally.
//!
//! Each report keeps a state document at `_state/<report>.json` in the output location. A dated
//! report records the last day committed; the next run starts that many `lookback_days` earlier
//! (Cake changes conversion dispositions and payouts after the fact) and replaces those days.
//! Conversion Changes keeps a `changes_since` cursor. Entity and lookup reports are a fresh
//! snapshot every run. State is written only after the data it describes is committed, and
//! never past a window that is not.

mod config;
mod keys;

use crate::state::{read_state, write_state};
pub use crate::state::{valid_table_name, ReportState};
pub use config::*;
pub use keys::{config_schema, starter_config, ConfigKey, KeyKind, CONFIG_KEYS, CONFIG_TABLES};

use std::collections::BTreeSet;
use std::sync::Mutex;

use cake_catalog::{plan, Context, DateSemantics, Options, Report, WindowSize};
use cake_sink::Sink;
use cake_transport::Client;
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;

use crate::error::PipelineError;
use crate::pull::{pull, PullOptions, PullSummary, WindowSummary};

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
    let job = SyncJob {
        client,
        sink,
        plan,
        full_refresh,
        now,
        options,
    };
    let mut run = SyncRun::default();
    for sr in &plan.reports {
        let stop = options.cancel.is_cancelled() || (fail_fast && !run.failures.is_empty());
        if stop {
            run.skipped.push(sr.table.clone());
            continue;
        }
        let committed = Mutex::new(Vec::new());
        match sync_report(&job, sr, &committed).await {
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
/// state, and refused without). With `dry`, nothing is changed: the check is the one the
/// real run makes, and a rebuild is only planned.
#[allow(clippy::too_many_arguments)]
pub async fn plan_report(
    client: &Client,
    sink: &Sink,
    plan: &SyncPlan,
    sr: &SyncReport,
    full_refresh: bool,
    now: chrono::DateTime<chrono::Utc>,
    rebuild: bool,
    dry: bool,
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
    let contract = crate::contract::contract_for(
        client,
        &plan_for(report, &probe_options, &ctx)?,
        plan.config.output.include_personal_data,
    );
    let check = if dry {
        let preview = sink.preview_table(&sr.table, &contract, rebuild).await;
        Some(preview.map_err(|source| PipelineError::table(&sr.table, source))?)
    } else {
        crate::pull::check_contract(sink, &sr.table, &contract, rebuild).await?
    };
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

/// What every report of one sync run shares.
struct SyncJob<'a> {
    client: &'a Client,
    sink: &'a Sink,
    plan: &'a SyncPlan,
    full_refresh: bool,
    now: chrono::DateTime<chrono::Utc>,
    options: &'a PullOptions,
}

async fn sync_report(
    job: &SyncJob<'_>,
    sr: &SyncReport,
    windows: &Mutex<Vec<WindowSummary>>,
) -> Result<SyncedReport, PipelineError> {
    let SyncJob {
        client,
        sink,
        plan,
        full_refresh,
        now,
        options,
    } = *job;
    let started = std::time::Instant::now();
    let planned = plan_report(
        client,
        sink,
        plan,
        sr,
        full_refresh,
        now,
        options.rebuild,
        false,
    )
    .await;
    let run = match planned {
        Ok(run) => run,
        Err(e) => {
            let elapsed = started.elapsed();
            return Err(crate::status::record_refusal(sink, &sr.table, None, e, elapsed).await);
        }
    };
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
