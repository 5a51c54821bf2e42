//! SIGINT and SIGTERM in the middle of a pull: no window is committed half, the run's staging
//! and temporary files are gone, the summary says `interrupted`, one line explains, and the
//! exit code is 130 or 143.

use crate::common;

use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cake_sandbox::{Faults, SandboxConfig};
use common::*;

const KEY: &str = "signals-key-7d1e0a";

fn interrupted(signal: i32, expected_code: i32) {
    let server = Server::start(SandboxConfig {
        seed: 3,
        api_key: KEY.into(),
        rows_per_day: 40,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    // Bodies arrive slowly, so the run is surely in the middle of windows when stopped.
    server.faults(Faults {
        trickle: true,
        trickle_chunk: 256,
        trickle_pause: Duration::from_millis(20),
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let summary = dir.path().join("summary.json");
    let url = server.url();
    let child = command(&[
        "pull",
        "clicks",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-10",
        "--page-size",
        "10",
        "--domain",
        &url,
        "--out",
        s(&out),
        "--summary-json",
        s(&summary),
    ])
    .env("CAKE_API_KEY", KEY)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    let started = Instant::now();
    while server.stats().requests < 3 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "the pull never started"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // At least one window committed, so that the run has a table and a history.
    let committed_one = || {
        std::fs::read_dir(out.join("clicks"))
            .is_ok_and(|days| days.flatten().any(|d| d.path().join("_SUCCESS").exists()))
    };
    while !committed_one() {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "no window was committed"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    // SAFETY: sends a signal to the child this test started.
    let rc = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
    assert_eq!(rc, 0);
    let stopped = Instant::now();
    let r = finished(child.wait_with_output().unwrap());
    assert!(
        stopped.elapsed() < Duration::from_secs(10),
        "took {:?} to stop",
        stopped.elapsed()
    );
    assert_eq!(r.code, expected_code, "{}", r.stderr);
    let errors: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "{}", r.stderr);
    assert!(errors[0].contains("stopped before the end"), "{}", r.stderr);
    let json: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
    assert_eq!(json["status"], "interrupted");
    // Where it stopped, of how many, and what picks it up.
    let committed = json["reports"][0]["windows"].as_array().unwrap().len();
    assert!(
        r.verdict().contains(&format!(
            "interrupted at {committed}/10: {committed} window(s)"
        )),
        "{}",
        r.stderr
    );
    assert!(r.verdict().contains("`sync` resumes"), "{}", r.stderr);
    // The run is in the table's history as interrupted.
    let h = run(
        &["status", "--out", s(&out), "--history", "5", "--json"],
        &[],
    );
    assert_eq!(h.code, 0, "{}", h.stderr);
    let h: serde_json::Value = serde_json::from_str(&h.stdout).unwrap();
    assert_eq!(h["tables"][0]["history"][0]["status"], "interrupted", "{h}");
    assert_eq!(h["tables"][0]["history"][0]["windows"], committed, "{h}");
    // What was committed is whole; what was being fetched left nothing.
    let found = check_location(&out, &["clicks"]).unwrap();
    let committed = json["reports"][0]["windows"].as_array().unwrap().len();
    assert_eq!(found.partitions.len(), committed, "{json}");
    assert!(committed < 10, "the run finished before the signal");
    // The text summary says what stayed committed, window by window.
    if committed > 0 {
        assert!(r.stdout.starts_with("clicks: stopped;"), "{}", r.stdout);
        let listed = r
            .stdout
            .lines()
            .filter(|l| l.contains("clicks/date="))
            .count();
        assert_eq!(listed, committed, "{}", r.stdout);
    } else {
        assert_eq!(r.stdout, "");
    }
    assert_no_staging(&out);
}

/// No staging or temporary file of the run is left.
fn assert_no_staging(out: &Path) {
    let staging = out.join("_staging");
    if staging.exists() {
        let left: Vec<_> = std::fs::read_dir(&staging).unwrap().collect();
        assert!(left.is_empty(), "staging left: {left:?}");
    }
    for (rel, _) in tree(out) {
        let name = rel.rsplit('/').next().unwrap_or_default().to_string();
        assert!(
            !name.ends_with(".tmp") && !name.starts_with(".cake-"),
            "temporary file left: {rel}"
        );
    }
}

#[test]
fn sigint_stops_a_pull_cleanly() {
    interrupted(libc::SIGINT, 130);
}

#[test]
fn sigterm_stops_a_pull_cleanly() {
    interrupted(libc::SIGTERM, 143);
}
