//! `sandbox`: runs the Cake-compatible sandbox server in the foreground until Ctrl-C.

use std::io::Write as _;
use std::time::Duration;

use cake_core::failure::Class;

use crate::exit::{Result, WhileDoing};
use cake_sandbox::{Faults, Hostile, Sandbox, SandboxConfig};

use crate::cli::SandboxArgs;
use crate::exit::UsageError;

fn config(args: &SandboxArgs) -> Result<SandboxConfig> {
    let defaults = Faults::default();
    if args.trickle_chunk == Some(0) {
        return Err(UsageError::new(
            "--trickle-chunk 0 would never send anything; give 1 or more bytes",
        )
        .into());
    }
    if args.hostile_attempts == Some(0) {
        return Err(UsageError::new(
            "--hostile-attempts 0 would never misbehave; give 1 or more, or leave it out for \
             every attempt",
        )
        .into());
    }
    let hostile = args
        .hostile
        .iter()
        .map(|h| {
            h.parse::<Hostile>()
                .map_err(|e| UsageError::new(format!("--hostile: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let faults = Faults {
        latency: Duration::from_millis(args.latency_ms),
        restricted_rate: args.restricted_rate,
        error_rate: args.error_rate,
        reset_rate: args.reset_rate,
        truncate_rate: args.truncate_rate,
        control_char_rate: args.control_char_rate,
        trickle: args.trickle || args.trickle_chunk.is_some() || args.trickle_pause_ms.is_some(),
        trickle_chunk: args.trickle_chunk.unwrap_or(defaults.trickle_chunk),
        trickle_pause: args
            .trickle_pause_ms
            .map_or(defaults.trickle_pause, Duration::from_millis),
        hostile,
        hostile_attempts: args.hostile_attempts.unwrap_or(u32::MAX),
        refuse_soap: args.refuse_soap,
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
        .doing(Class::Internal, || {
            "could not start the async runtime".into()
        })?;
    runtime.block_on(async move {
        let port = config.port;
        let sandbox = Sandbox::start(config).await.doing(Class::Usage, || {
            format!(
                "could not listen on 127.0.0.1:{port}; choose another --port or 0 for any free one"
            )
        })?;
        {
            let mut out = std::io::stdout().lock();
            writeln!(out, "{}", sandbox.url())
                .and_then(|()| writeln!(out, "api key: {}", sandbox.api_key()))
                .and_then(|()| out.flush())
                .doing(Class::Output, || {
                    "cannot write the sandbox's address".into()
                })?;
        }
        eprintln!("serving the 37 reports on {}; Ctrl-C stops", sandbox.url());
        let faults = &sandbox.config().faults;
        if !faults.hostile.is_empty() {
            let kinds: Vec<String> = faults.hostile.iter().map(ToString::to_string).collect();
            let attempts = match faults.hostile_attempts {
                u32::MAX => "every attempt".to_string(),
                n => format!("the first {n} attempt(s) of each request"),
            };
            eprintln!("hostile: {} on {attempts}", kinds.join(", "));
        }
        tokio::signal::ctrl_c()
            .await
            .doing(Class::Internal, || "could not wait for Ctrl-C".into())?;
        let requests = sandbox.stats().requests;
        sandbox.shutdown().await;
        Ok(format!("stopped after {requests} requests\n"))
    })
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;
    use crate::cli::{Cli, Command};

    fn args(extra: &[&str]) -> SandboxArgs {
        let argv = [&["cake-connector", "sandbox"], extra].concat();
        match Cli::try_parse_from(argv).unwrap().command {
            Command::Sandbox(a) => *a,
            _ => unreachable!(),
        }
    }

    fn usage(extra: &[&str]) -> String {
        let err = config(&args(extra)).unwrap_err();
        assert!(err.downcast_ref::<UsageError>().is_some(), "{err}");
        err.to_string()
    }

    #[test]
    fn hostile_and_trickle_flags() {
        let c = config(&args(&[
            "--hostile",
            "short-middle-page=4",
            "--hostile",
            "cake-message=Too many requests",
            "--hostile-attempts",
            "1",
            "--trickle-chunk",
            "1",
            "--trickle-pause-ms",
            "5000",
        ]))
        .unwrap();
        let f = c.faults;
        assert_eq!(
            f.hostile,
            [
                Hostile::ShortMiddlePage { missing: 4 },
                Hostile::CakeMessage("Too many requests".into())
            ]
        );
        assert_eq!(f.hostile_attempts, 1);
        assert!(f.trickle);
        assert_eq!(
            (f.trickle_chunk, f.trickle_pause),
            (1, Duration::from_secs(5))
        );
        let f = config(&args(&[])).unwrap().faults;
        assert!(f.hostile.is_empty() && !f.trickle);
        assert_eq!(f.hostile_attempts, u32::MAX);
    }

    #[test]
    fn invalid_values_are_usage_errors() {
        assert!(usage(&["--hostile", "nonsense"]).contains("--hostile: \"nonsense\""));
        assert!(usage(&["--hostile", "key-echo=raw@nowhere"]).contains("echo place"));
        assert!(usage(&["--trickle-chunk", "0"]).contains("--trickle-chunk 0"));
        assert!(usage(&["--hostile-attempts", "0"]).contains("--hostile-attempts 0"));
        assert!(usage(&["--error-rate", "2"]).contains("error rate is 2"));
    }
}
