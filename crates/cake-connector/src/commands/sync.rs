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
    let text = super::config::read(&args.config)?;
    let mut plan = parse_config(&args.config.display().to_string(), &text)
        .map_err(|e| UsageError::new(e.to_string()))?;
    if let Some(tz) = &args.timezone {
        plan.timezone = crate::args::timezone(tz)?;
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
    let _created = args
        .dry_run
        .then(|| super::pull::NewDirectories::before(&plan.config.output.location));
    let sink = super::pull::open_sink(&plan.config.output.location, plan.config.output.format)?;
    let cancel = Cancel::new();
    let reporter = Arc::new(crate::progress::Reporter::new());
    let options = PullOptions {
        mode: WriteMode::Replace,
        keep_raw: plan.config.output.keep_raw,
        decoder: plan.config.output.decoder(plan.timezone),
        windows_in_flight: connection.concurrency.max(1),
        progress: reporter.clone(),
        table: None,
        rebuild: args.rebuild_tables,
        cancel: cancel.clone(),
    };
    let runtime = crate::runtime()?;
    if args.dry_run {
        return runtime.block_on(dry_run(&client, &sink, &plan, args));
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
    // `-q`: one line for the whole run.
    if crate::logging::quiet() {
        let rows: u64 = run.synced.iter().map(|s| s.pull.rows).sum();
        let windows: usize = run.synced.iter().map(|s| s.pull.windows.len()).sum();
        let _ = writeln!(
            out,
            "synced {} of {} report(s): {rows} rows in {windows} window(s)",
            run.synced.len(),
            plan.reports.len()
        );
    }
    for s in run.synced.iter().filter(|_| !crate::logging::quiet()) {
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
    let mut worst =
        crate::exit::worst(run.failures.iter().map(|f| f.error.class())).unwrap_or(Class::Internal);
    for f in &run.failures {
        let code = crate::exit::code(f.error.class());
        let line = if RunStatus::of_error(&f.error) == RunStatus::Interrupted {
            format!(
                "{}: {}",
                f.table,
                reporter.interrupted(f.report.id, crate::progress::SYNC_RESUMES)
            )
        } else {
            format!(
                "error: {}: {} (exit {code}; {} window(s) committed before it)",
                f.table,
                crate::exit::chain(&f.error).replace('\n', "\\n"),
                f.committed.windows.len(),
            )
        };
        crate::logging::line(crate::logging::Line::Error, &line);
    }
    if interrupted {
        worst = Class::Interrupted;
    }
    let (stopped, failed): (Vec<_>, Vec<_>) = run
        .failures
        .iter()
        .partition(|f| RunStatus::of_error(&f.error) == RunStatus::Interrupted);
    let names = |v: &[&cake_pipeline::SyncFailure]| -> String {
        v.iter()
            .map(|f| f.table.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut verdict = format!(
        "{} of {} report(s) failed ({})",
        failed.len(),
        plan.reports.len(),
        names(&failed)
    );
    if !stopped.is_empty() {
        verdict = format!("{} interrupted ({})", stopped.len(), names(&stopped));
        if !failed.is_empty() {
            verdict.push_str(&format!(", {} failed ({})", failed.len(), names(&failed)));
        }
    }
    if !run.skipped.is_empty() {
        verdict.push_str(&format!("; not started: {}", run.skipped.join(", ")));
    }
    if interrupted {
        verdict = format!("stopped before the end: {verdict}");
    }
    Err(crate::exit::Failed::new(worst, verdict).into())
}

/// What each report of the config would pull, without sending anything to Cake: the checks
/// the real run makes before its first request (the location's probe, each table's contract,
/// unchanged) and the exit code it would end with. With `json`, one JSON document on stdout.
async fn dry_run(
    client: &cake_transport::Client,
    sink: &cake_sink::Sink,
    plan: &cake_pipeline::SyncPlan,
    args: &SyncArgs,
) -> Result<String> {
    // Every report of the real run would stop at a location that takes no writes.
    sink.probe()
        .await
        .map_err(cake_pipeline::PipelineError::from)?;
    let mut out = String::new();
    let mut reports = Vec::new();
    let mut refused: Vec<(String, Class)> = Vec::new();
    let now = chrono::Utc::now();
    for sr in &plan.reports {
        let planned = cake_pipeline::plan_report(
            client,
            sink,
            plan,
            sr,
            args.full_refresh,
            now,
            args.rebuild_tables,
            true,
        )
        .await;
        match planned {
            Ok(run) => {
                let first_url = run.plan.requests.first().map(|req| {
                    let page = run.plan.page_size.map(|size| cake_transport::Page {
                        index: 0,
                        start_at_row: 1,
                        row_limit: size,
                    });
                    client.display_url(run.plan.report, req, page)
                });
                let protocol = client.protocol();
                let first = first_url
                    .as_ref()
                    .map(|url| format!("{} {url}", protocol.http_method()));
                let since = if run.previous.is_some() {
                    "after its state"
                } else {
                    "first run"
                };
                let _ = writeln!(
                    out,
                    "{}: {} in {} window(s) of one {}, {since}",
                    run.table,
                    run.covered,
                    run.plan.requests.len(),
                    run.plan.window,
                );
                let locked_by = sink
                    .lock_holder(&run.table)
                    .await
                    .map_err(cake_pipeline::PipelineError::from)?;
                if let Some(holder) = &locked_by {
                    let _ = writeln!(out, "  lock held by {holder}: the sync would wait for it");
                }
                if let Some(url) = &first_url {
                    let _ = writeln!(out, "  {}", super::dryrun::request_line(protocol, url));
                }
                reports.push(serde_json::json!({
                    "table": run.table,
                    "report": run.plan.report.id,
                    "status": "planned",
                    "covered": run.covered,
                    "windows": run.plan.requests.len(),
                    "window": run.plan.window.to_string(),
                    "first_run": run.previous.is_none(),
                    "first_request": first,
                    "locked_by": locked_by,
                }));
            }
            Err(e) => {
                let class = e.class();
                let message = crate::exit::chain(&e);
                let _ = writeln!(out, "{}: refused: {message}", sr.table);
                reports.push(serde_json::json!({
                    "table": sr.table,
                    "report": sr.report.id,
                    "status": "refused",
                    "error": crate::logging::clean(&message),
                    "class": class.as_str(),
                    "exit_code": crate::exit::code(class),
                }));
                refused.push((sr.table.clone(), class));
            }
        }
    }
    let text = if args.json {
        let doc = serde_json::json!({
            "dry_run": true,
            "location": sink.store().display(),
            "reports": reports,
        });
        format!("{}\n", crate::args::json(&doc)?)
    } else {
        out
    };
    if refused.is_empty() {
        return Ok(text);
    }
    // The plan is printed, then the verdict the real run would end with.
    crate::logging::print(&text);
    let worst = crate::exit::worst(refused.iter().map(|(_, c)| *c)).unwrap_or(Class::Usage);
    let tables: Vec<&str> = refused.iter().map(|(t, _)| t.as_str()).collect();
    Err(crate::exit::Failed::new(
        worst,
        format!(
            "{} of {} report(s) would be refused ({}): the real run exits the same way; \
             the `TABLE: refused:` lines above say why and what to do",
            refused.len(),
            plan.reports.len(),
            tables.join(", ")
        ),
    )
    .into())
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
        v["status"] = RunStatus::of_error(&f.error).as_str().into();
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
