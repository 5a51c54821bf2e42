//! `cargo xtask bench [NAME...]`: benchmarks that print figures. Each one is a release-mode
//! example of the crate it measures, so this crate stays free of heavy dependencies.

use std::process::Command;

use anyhow::{bail, Context, Result};

/// (name, package, example, what it measures)
const BENCHES: &[(&str, &str, &str, &str)] = &[
    (
        "decode",
        "cake-arrow",
        "bench_decode",
        "Clicks XML: raw quick-xml scan, then the decoder and convert to zstd Parquet on 1, 2 and every core (BENCH_THREADS), each against the scan, with CPU and peak memory",
    ),
    (
        "pull",
        "cake-pipeline",
        "bench_pull",
        "one 50,000-row day of Clicks from the sandbox: Parquet, keep_raw, Delta, and decoding on one thread; client CPU per million rows",
    ),
    (
        "transport",
        "cake-pipeline",
        "bench_transport",
        "one window of N pages with injected latency at concurrency C against the sandbox, through the window loop",
    ),
];

pub fn run(names: &[&str]) -> Result<()> {
    let selected: Vec<_> = if names.is_empty() {
        BENCHES.iter().collect()
    } else {
        let mut out = Vec::new();
        for n in names {
            match BENCHES.iter().find(|b| b.0 == *n) {
                Some(b) => out.push(b),
                None => bail!(
                    "unknown benchmark `{n}`; benchmarks: {}",
                    BENCHES.iter().map(|b| b.0).collect::<Vec<_>>().join(", ")
                ),
            }
        }
        out
    };
    for (name, package, example, what) in selected {
        println!("== bench {name}: {what}");
        let status = Command::new(env!("CARGO"))
            .args([
                "run",
                "--quiet",
                "--release",
                "-p",
                package,
                "--example",
                example,
            ])
            .status()
            .with_context(|| format!("cannot run cargo for bench {name}"))?;
        if !status.success() {
            bail!("bench {name} failed ({status})");
        }
    }
    Ok(())
}
