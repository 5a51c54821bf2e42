//! `pull --dry-run` tells the truth: its first requests are the requests the sandbox receives,
//! and its shards, run one by one, write what one pull writes.

use crate::common;

use cake_sandbox::{Faults, SandboxConfig};
use common::*;

const KEY: &str = "dryrun-key-0c4f1b";

/// The path and query of a URL without its `api_key` parameter, as the sandbox records it.
fn without_key(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.find('/').map_or("", |i| &rest[i..]);
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let kept: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.to_ascii_lowercase().starts_with("api_key="))
        .collect();
    format!("{path}?{}", kept.join("&"))
}

#[test]
fn the_dry_run_is_what_runs() {
    let server = Server::start(SandboxConfig {
        seed: 9,
        api_key: KEY.into(),
        rows_per_day: 20,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let whole = dir.path().join("whole");
    let args = [
        "clicks",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-03",
        "--page-size",
        "7",
        "--offer-id",
        "3002",
        "--domain",
        &url,
    ];
    let mut dry = vec!["pull", "--dry-run", "--json", "--out", s(&whole)];
    dry.extend_from_slice(&args);
    let r = run(&dry, &[("CAKE_API_KEY", KEY)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let windows = plan["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 3);
    assert!(!r.stdout.contains(KEY));

    server.faults(Faults::default());
    let mut real = vec!["pull", "--out", s(&whole), "--concurrency", "1"];
    real.extend_from_slice(&args);
    let r = run(&real, &[("CAKE_API_KEY", KEY)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let first_pages: Vec<String> = server
        .requests_seen()
        .into_iter()
        .filter(|p| p.contains("start_at_row=1&"))
        .collect();
    let planned: Vec<String> = windows
        .iter()
        .map(|w| without_key(w["first_request"].as_str().unwrap()))
        .collect();
    assert_eq!(first_pages, planned);
    for w in windows {
        assert!(w["partition"]
            .as_str()
            .unwrap()
            .starts_with("clicks/date=2024-03-0"));
    }

    // The shards, run one by one into another location, write the same rows.
    let sharded = dir.path().join("sharded");
    for w in windows {
        let mut shard: Vec<String> = w["shard"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a.as_str().unwrap().to_string())
            .collect();
        let out = shard.iter().position(|a| a == "--out").unwrap();
        shard[out + 1] = s(&sharded).to_string();
        shard.extend(["--domain".to_string(), url.clone()]);
        let shard: Vec<&str> = shard.iter().map(String::as_str).collect();
        let r = run(&shard, &[("CAKE_API_KEY", KEY)]);
        assert_eq!(r.code, 0, "{shard:?}: {}", r.stderr);
    }
    assert_eq!(table_rows(&sharded, "clicks"), table_rows(&whole, "clicks"));
    assert!(!table_rows(&whole, "clicks").is_empty());
}

/// `pull --shard I/N`: the shares, each run alone into one location, write what one pull
/// writes; their dry runs list every window once; a share that does not exist is refused.
#[test]
fn shares_together_write_what_one_pull_writes() {
    let server = Server::start(SandboxConfig {
        seed: 4,
        api_key: KEY.into(),
        rows_per_day: 15,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    let args = [
        "clicks",
        "--start",
        "2024-03-01",
        "--end",
        "2024-03-07",
        "--domain",
        &url,
    ];
    let env = [("CAKE_API_KEY", KEY)];
    let whole = dir.path().join("whole");
    let mut one = vec!["pull", "--out", s(&whole)];
    one.extend_from_slice(&args);
    let r = run(&one, &env);
    assert_eq!(r.code, 0, "{}", r.stderr);

    let sharded = dir.path().join("sharded");
    let mut planned = Vec::new();
    for share in ["0/3", "1/3", "2/3"] {
        let mut dry = vec![
            "pull",
            "--dry-run",
            "--json",
            "--shard",
            share,
            "--out",
            s(&sharded),
        ];
        dry.extend_from_slice(&args);
        let r = run(&dry, &env);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let plan: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
        for w in plan["windows"].as_array().unwrap() {
            planned.push(w["partition"].as_str().unwrap().to_string());
        }
        let mut real = vec!["pull", "--shard", share, "--out", s(&sharded)];
        real.extend_from_slice(&args);
        let r = run(&real, &env);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    planned.sort();
    let expected: Vec<String> = (1..=7)
        .map(|d| format!("clicks/date=2024-03-0{d}"))
        .collect();
    assert_eq!(planned, expected, "every window in exactly one share");
    assert_eq!(table_rows(&sharded, "clicks"), table_rows(&whole, "clicks"));

    for bad in ["3/3", "0/0", "one/3"] {
        let mut refused = vec!["pull", "--shard", bad, "--out", s(&sharded)];
        refused.extend_from_slice(&args);
        let r = run(&refused, &env);
        assert_eq!(r.code, 2, "--shard {bad}: {}", r.stderr);
        assert!(r.stderr.contains("I/N"), "--shard {bad}: {}", r.stderr);
    }
}
