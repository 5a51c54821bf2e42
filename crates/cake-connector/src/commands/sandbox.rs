//! `sandbox`: runs the Cake-compatible sandbox server in the foreground until Ctrl-C.

use std::io::Write as _;
use std::time::Duration;

use anyhow::{Context as _, Result};
use cake_sandbox::{Faults, Sandbox, SandboxConfig};

use crate::cli::SandboxArgs;
use crate::exit::UsageError;

fn config(args: &SandboxArgs) -> Result<SandboxConfig> {
    let faults = Faults {
        latency: Duration::from_millis(args.latency_ms),
        restricted_rate: args.restricted_rate,
        error_rate: args.error_rate,
        reset_rate: args.reset_rate,
        truncate_rate: args.truncate_rate,
        control_char_rate: args.control_char_rate,
        trickle: args.trickle,
        ..Faults::default()
    };
    faults
        .validate()
        .map_err(|e| UsageError::new(format!("{e}; pass a value such as --error-rate 0.1")))?;
    if args.api_key.is_empty() {
        return Err(UsageError::new("--api-key is empty; give the key clients must send").into());
    }
    if args.rows_per_day > cake_sandbox::ROWS_PER_DAY_MAX {
        return Err(UsageError::new(format!(
            "--rows-per-day {} is above the maximum of {}",
            args.rows_per_day,
            cake_sandbox::ROWS_PER_DAY_MAX
        ))
        .into());
    }
    Ok(SandboxConfig {
        seed: args.seed,
        api_key: args.api_key.clone(),
        rows_per_day: args.rows_per_day,
        port: args.port,
        faults,
        ..SandboxConfig::default()
    })
}

pub fn run(args: &SandboxArgs) -> Result<String> {
    let config = config(args)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    runtime.block_on(async move {
        let port = config.port;
        let sandbox = Sandbox::start(config).await.with_context(|| {
            format!(
                "could not listen on 127.0.0.1:{port}; choose another --port or 0 for any free one"
            )
        })?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", sandbox.url())?;
            writeln!(out, "api key: {}", sandbox.api_key())?;
            out.flush()?;
        }
        eprintln!("serving the 37 reports on {}; Ctrl-C stops", sandbox.url());
        tokio::signal::ctrl_c()
            .await
            .context("could not wait for Ctrl-C")?;
        let requests = sandbox.stats().requests;
        sandbox.shutdown().await;
        Ok(format!("stopped after {requests} requests\n"))
    })
}
