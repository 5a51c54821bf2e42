//! The pull benchmark (`cargo xtask bench pull`): one day of Clicks (`BENCH_ROWS` rows, default
//! 50,000, in pages of 10,000) pulled from the sandbox into a local directory the way
//! `cake-connector pull` runs it (a runtime of two worker threads, the default concurrency and
//! page size), in five kinds: Parquet, Parquet with `keep_raw`, Delta, and Parquet and Delta
//! with the decoder on one thread (`decoder.threads` 1; the others use every core).
//!
//! The sandbox runs in this process on a runtime of its own; each pull runs in a child process,
//! so that the server and the client are two processes as in real use and each pull reports its
//! own peak memory (`VmHWM`). Each pull runs `BENCH_RUNS` times (default 3), the kinds taking
//! turns, and the best time is shown: other processes on the machine only ever slow a run
//! down. The CPU time of the best run is shown for the client (the pull's process) and for
//! the server (the sandbox, this process, while the pull ran), and the client's CPU seconds
//! per million rows: on a machine of two cores the sum of the two CPU times says how much of
//! the machine the run took. Prints figures; asserts nothing.
//!
//! `BENCH_BLOCK` sets the decoder's `block_bytes`. `--phase NAME URL` runs one pull against a
//! sandbox at URL, for profiling.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cake_arrow::DecoderOptions;
use cake_catalog::{Context, Options};
use cake_pipeline::{pull, PullOptions};
use cake_sandbox::{Sandbox, SandboxConfig};
use cake_sink::{Sink, SinkOptions};
use cake_transport::{ApiKey, Client, ClientOptions, Instance};
use chrono::NaiveDate;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

const KEY: &str = "bench-key-7f3a";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 30).unwrap_or_default()
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--phase") {
        let (phase, url) = (args[1].as_str(), args[2].as_str());
        return run_phase(phase, url);
    }
    let rows: u32 = std::env::var("BENCH_ROWS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(50_000);
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(3)
        .max(1);
    let server = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sandbox = server.block_on(Sandbox::start(SandboxConfig {
        rows_per_day: rows,
        api_key: KEY.to_string(),
        today: today(),
        ..SandboxConfig::default()
    }))?;
    let url = sandbox.url();
    println!(
        "input: one day of Clicks from the sandbox, {rows} rows in pages of 10,000, \
         concurrency 4, into a local directory"
    );
    println!(
        "{:<12} {:>8} {:>8} {:>7} {:>12} {:>12} {:>13} {:>12}",
        "pull",
        "seconds",
        "body MB",
        "MB/s",
        "client CPU s",
        "server CPU s",
        "peak RSS MiB",
        "CPU s/M rows"
    );
    println!("(best of BENCH_RUNS runs, default 3, one process per run)");
    let exe = std::env::current_exe()?;
    // (best seconds, body bytes, highest peak KiB, client and server CPU seconds of the best
    // run) per phase.
    let mut results = [(f64::MAX, 0.0, 0.0, 0.0, 0.0); PHASES.len()];
    for _ in 0..runs {
        for (i, phase) in PHASES.iter().enumerate() {
            let server_before = cpu_seconds();
            let [seconds, bytes, hwm_kib, client] = run_child(&exe, phase.0, &url)?;
            let server = cpu_seconds() - server_before;
            let r = &mut results[i];
            if seconds < r.0 {
                (r.0, r.3, r.4) = (seconds, client, server);
            }
            r.1 = bytes;
            r.2 = f64::max(r.2, hwm_kib);
        }
    }
    for (phase, (seconds, bytes, hwm_kib, client, server)) in PHASES.iter().zip(results) {
        println!(
            "{:<12} {seconds:>8.2} {:>8.1} {:>7.1} {client:>12.2} {server:>12.2} {:>13.1} {:>12.2}",
            phase.0,
            bytes / 1e6,
            bytes / 1e6 / seconds,
            hwm_kib / 1024.0,
            client / (f64::from(rows) / 1e6)
        );
    }
    println!(
        "keep-raw/parquet: {:.2}x (target <= 1.2x)",
        results[1].0 / results[0].0
    );
    server.block_on(sandbox.shutdown());
    Ok(())
}

/// Runs a pull in a child process: `[seconds, body bytes, peak RSS KiB, CPU seconds]`.
fn run_child(exe: &Path, phase: &str, url: &str) -> Result<[f64; 4]> {
    let out = Command::new(exe).args(["--phase", phase, url]).output()?;
    if !out.status.success() {
        return Err(format!(
            "pull {phase} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = String::from_utf8(out.stdout)?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse::<f64>())
        .collect::<std::result::Result<_, _>>()?;
    <[f64; 4]>::try_from(fields).map_err(|_| format!("unexpected pull output {line:?}").into())
}

/// The kinds of pull: (name, keep_raw, Delta, decoder threads; 0: every core).
const PHASES: &[(&str, bool, bool, usize)] = &[
    ("parquet", false, false, 0),
    ("keep-raw", true, false, 0),
    ("delta", false, true, 0),
    ("parquet@1", false, false, 1),
    ("delta@1", false, true, 1),
];

/// One pull of yesterday's Clicks; prints `seconds body_bytes peak_rss_kib cpu_seconds`.
fn run_phase(phase: &str, url: &str) -> Result<()> {
    let Some(&(_, keep_raw, delta, threads)) = PHASES.iter().find(|p| p.0 == phase) else {
        return Err(format!("unknown phase {phase}").into());
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let out = tempfile::tempdir()?;
    let client = Client::new(
        Instance::parse(url, false)?,
        ApiKey::new(KEY)?,
        ClientOptions::default(),
    )?;
    let report = cake_catalog::find("clicks")?;
    let options = Options {
        days_back: Some(1),
        ..Options::default()
    };
    let now = today()
        .and_hms_opt(12, 0, 0)
        .ok_or("noon exists")?
        .and_utc();
    let plan = cake_catalog::plan(report, &options, &Context::new(now))?;
    let location = out.path().to_str().ok_or("a UTF-8 temporary directory")?;
    let sink = Sink::open(
        location,
        SinkOptions {
            format: if delta { "delta" } else { "parquet" }.parse()?,
            ..SinkOptions::default()
        },
    )?;
    let defaults = PullOptions::default();
    let options = PullOptions {
        keep_raw,
        decoder: DecoderOptions {
            threads,
            block_bytes: match std::env::var("BENCH_BLOCK") {
                Ok(v) => v.parse()?,
                Err(_) => defaults.decoder.block_bytes,
            },
            ..defaults.decoder
        },
        ..defaults
    };
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let summary = runtime.block_on(pull(&client, &plan, &sink, &options, &|_| {}))?;
    let seconds = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds() - cpu_before;
    println!("{seconds} {} {} {cpu}", summary.body_bytes, peak_rss_kib());
    Ok(())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// User and system time of this process so far, all threads, from `/proc/self/stat` (in clock
/// ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name, which is in parentheses.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
}
