//! `sync`: the reports of a config file, incrementally.

use std::fmt::Write as _;
use std::sync::Arc;

use cake_core::failure::{Class, Classify};
use cake_pipeline::RunStatus;

use crate::exit::Result;
use cake_pipeline::{parse_config, sync, Cancel, PullOptions, SyncRun};
use cake_sink::WriteMode;

use crate::cli::{ConnectionArgs, InstanceArgs, SyncArgs};
use crate::exit::UsageError;

pub fn run(args: &SyncArgs) -> Result<String> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| UsageError::new(format!("cannot read {}: {e}", args.config.display())))?;
    let mut plan = parse_config(&args.config.display().to_string(), &text)
        .map_err(|e| UsageError::new(e.to_string()))?;
    if let Some(tz) = &args.timezone {
        plan.timezone = cake_catalog::parse_timezone(tz).map_err(UsageError::from)?;
    }
    if !args.reports.is_empty() {
        let wanted = args
            .reports
            .iter()
            .map(|name| {
                plan.reports
                    .iter()
                    .position(|r| {
                        r.table.eq_ignore_ascii_case(name)
                            || cake_catalog::find(name).is_ok_and(|f| f.id == r.report.id)
                    })
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            plan.reports.iter().map(|r| r.table.as_str()).collect();
                        UsageError::new(format!(
                            "--report {name}: the config has no such report; it has {}",
                            known.join(", ")
                        ))
                    })
            })
            .collect::<Result<std::collections::BTreeSet<usize>, UsageError>>()?;
        let mut i = 0;
        plan.reports.retain(|_| {
            i += 1;
            wanted.contains(&(i - 1))
        });
    }
    let i = &plan.config.instance;
    if let Some(k) = &i.api_key {
        crate::logging::add_secret(k);
    }
    // What the command line says (flag, environment or file) wins over the config.
    let given = &args.instance;
    let key = match (given.key.key()?, &i.api_key) {
        (Some(k), _) => k,
        (None, Some(k)) => k.clone(),
        (None, None) => given.key.require()?,
    };
    let connection = ConnectionArgs {
        instance: InstanceArgs {
            domain: given.domain.clone().or_else(|| i.domain.clone()),
            key: crate::cli::KeyArgs::default(),
            allow_insecure_http: given.allow_insecure_http || i.allow_insecure_http,
            protocol: given
                .protocol
                .clone()
                .or_else(|| plan.protocol.map(|p| p.as_str().to_string())),
        },
        concurrency: i.concurrency.unwrap_or(4),
        requests_per_minute: i.requests_per_minute,
        transport: args.transport,
        retry: args.retry,
    };
    let client = super::pull::client_with_key(&connection, key)?;
    super::pull::check_summary_path(args.summary_json.as_deref())?;
    let sink = super::pull::open_sink(&plan.config.output.location, plan.config.output.format)?;
    let cancel = Cancel::new();
    let options = PullOptions {
        mode: WriteMode::Replace,
        keep_raw: plan.config.output.keep_raw,
        decoder: plan.config.output.decoder(plan.timezone),
        windows_in_flight: connection.concurrency.max(1),
        progress: Arc::new(crate::progress::Reporter::new()),
        table: None,
        rebuild: args.rebuild_tables,
        cancel: cancel.clone(),
    };
    let runtime = crate::runtime()?;
    if args.dry_run {
        return runtime.block_on(dry_run(&client, &sink, &plan, args.full_refresh));
    }
    let run = runtime.block_on(async {
        tokio::spawn(crate::signals::watch(cancel.clone()));
        sync(
            &client,
            &sink,
            &plan,
            args.full_refresh,
            chrono::Utc::now(),
            &options,
            args.fail_fast,
        )
        .await
    });
    let interrupted = cancel.is_cancelled();
    if let Some(path) = &args.summary_json {
        super::pull::write_json(path, &summary_json(&run, interrupted))?;
    }
    let mut out = String::new();
    for s in &run.synced {
        let _ = writeln!(
            out,
            "{:<24} {:<32} {:>10} rows {:>4} window(s)",
            s.pull.table,
            s.covered,
            s.pull.rows,
            s.pull.windows.len()
        );
        for line in super::pull::rejected_lines(&s.pull) {
            let _ = writeln!(out, "    {line}");
        }
    }
    if run.is_ok() {
        return Ok(out);
    }
    // The reports that completed are reported, then every failure, then one verdict whose
    // exit code is the highest of the failures'.
    crate::logging::print(&out);
    let mut worst = Class::Internal;
    for f in &run.failures {
        let class = f.error.class();
        let code = crate::exit::code(class);
        if code >= crate::exit::code(worst) {
            worst = class;
        }
        crate::logging::line(
            crate::logging::Line::Error,
            &format!(
                "error: {}: {} (exit {code}; {} window(s) committed before it)",
                f.table,
                crate::exit::chain(&f.error).replace('\n', "\\n"),
                f.committed.windows.len(),
            ),
        );
    }
    if interrupted {
        worst = Class::Interrupted;
    }
    let failed: Vec<&str> = run.failures.iter().map(|f| f.table.as_str()).collect();
    let mut verdict = format!(
        "{} of {} report(s) failed ({})",
        run.failures.len(),
        plan.reports.len(),
        failed.join(", ")
    );
    if !run.skipped.is_empty() {
        verdict.push_str(&format!("; not started: {}", run.skipped.join(", ")));
    }
    if interrupted {
        verdict = format!("stopped before the end: {verdict}");
    }
    Err(crate::exit::Failed::new(worst, verdict).into())
}

/// What each report of the config would pull, without sending anything.
async fn dry_run(
    client: &cake_transport::Client,
    sink: &cake_sink::Sink,
    plan: &cake_pipeline::SyncPlan,
    full_refresh: bool,
) -> Result<String> {
    let mut out = String::new();
    let now = chrono::Utc::now();
    for sr in &plan.reports {
        match cake_pipeline::plan_report(client, sink, plan, sr, full_refresh, now, false).await {
            Ok(run) => {
                let _ = writeln!(
                    out,
                    "{}: {} in {} window(s) of one {}{}",
                    run.table,
                    run.covered,
                    run.plan.requests.len(),
                    run.plan.window,
                    if run.previous.is_some() {
                        ", after its state"
                    } else {
                        ", first run"
                    }
                );
                if let Some(req) = run.plan.requests.first() {
                    let page = run.plan.page_size.map(|size| cake_transport::Page {
                        index: 0,
                        start_at_row: 1,
                        row_limit: size,
                    });
                    let _ = writeln!(
                        out,
                        "  {} {}",
                        client.protocol().http_method(),
                        client.display_url(run.plan.report, req, page)
                    );
                }
            }
            Err(e) => {
                let _ = writeln!(out, "{}: refused: {}", sr.table, crate::exit::chain(&e));
            }
        }
    }
    Ok(out)
}

/// The run's status and every report's, with what each committed.
fn summary_json(run: &SyncRun, interrupted: bool) -> serde_json::Value {
    let status = if interrupted {
        RunStatus::Interrupted
    } else if run.is_ok() {
        RunStatus::Ok
    } else {
        RunStatus::Failed
    };
    let mut reports: Vec<serde_json::Value> = Vec::new();
    for s in &run.synced {
        let mut v = serde_json::to_value(&s.pull).unwrap_or_default();
        v["status"] = RunStatus::Ok.as_str().into();
        v["covered"] = s.covered.clone().into();
        reports.push(v);
    }
    for f in &run.failures {
        let mut v = serde_json::to_value(&f.committed).unwrap_or_default();
        v["status"] = RunStatus::Failed.as_str().into();
        v["error"] = crate::logging::clean(&f.error.to_string()).into();
        v["class"] = f.error.class().as_str().into();
        v["exit_code"] = crate::exit::code(f.error.class()).into();
        reports.push(v);
    }
    serde_json::json!({
        "status": status,
        "reports": reports,
        "not_started": run.skipped,
    })
}
