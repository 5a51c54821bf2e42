//! `sync`: the reports of a config file, incrementally.

use std::fmt::Write as _;
use std::sync::Arc;

use anyhow::Result;
use cake_arrow::DecoderOptions;
use cake_pipeline::{parse_config, sync, Cancel, PullOptions};
use cake_sink::WriteMode;

use crate::cli::{ConnectionArgs, SyncArgs};
use crate::exit::UsageError;

pub fn run(args: &SyncArgs) -> Result<String> {
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| UsageError::new(format!("cannot read {}: {e}", args.config.display())))?;
    let plan = parse_config(&args.config.display().to_string(), &text)
        .map_err(|e| UsageError::new(e.to_string()))?;
    let i = &plan.config.instance;
    if let Some(k) = &i.api_key {
        crate::logging::add_secret(k);
    }
    let connection = ConnectionArgs {
        domain: args.domain.clone().or_else(|| i.domain.clone()),
        api_key: args.api_key.clone().or_else(|| i.api_key.clone()),
        allow_insecure_http: i.allow_insecure_http,
        concurrency: i.concurrency.unwrap_or(4),
        requests_per_minute: i.requests_per_minute,
        transport: args.transport,
        retry: args.retry,
    };
    let client = super::pull::client(&connection)?;
    super::pull::check_summary_path(args.summary_json.as_deref())?;
    let sink = super::pull::open_sink(&plan.config.output.location)?;
    let cancel = Cancel::new();
    let options = PullOptions {
        mode: WriteMode::Replace,
        keep_raw: plan.config.output.keep_raw,
        decoder: DecoderOptions {
            timezone: plan.timezone,
            ..DecoderOptions::default()
        },
        windows_in_flight: connection.concurrency.max(1),
        progress: Arc::new(crate::progress::Reporter::new()),
        table: None,
        rebuild: args.rebuild_tables,
        cancel: cancel.clone(),
    };
    let runtime = crate::runtime()?;
    let result = runtime.block_on(async {
        tokio::spawn(crate::signals::watch(cancel.clone()));
        sync(
            &client,
            &sink,
            &plan,
            args.full_refresh,
            chrono::Utc::now(),
            &options,
        )
        .await
    });
    if let Some(path) = &args.summary_json {
        let done = result.as_ref().map(Vec::as_slice).unwrap_or_default();
        let pulls: Vec<_> = done.iter().map(|s| &s.pull).collect();
        super::pull::write_summary_json(path, &pulls, result.as_ref().err())?;
    }
    let synced = result?;
    let mut out = String::new();
    for s in &synced {
        let _ = writeln!(
            out,
            "{:<24} {:<32} {:>10} rows {:>4} window(s)",
            s.pull.report,
            s.covered,
            s.pull.rows,
            s.pull.windows.len()
        );
    }
    Ok(out)
}
