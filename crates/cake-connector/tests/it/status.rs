//! `status`: what a location holds, after pulls that succeed and one that fails.

use crate::common;

use cake_sandbox::{Faults, Hostile, SandboxConfig};
use common::*;

const KEY: &str = "status-key-51c0e2";

#[test]
fn status_shows_days_gaps_rows_and_the_last_run() {
    let server = Server::start(SandboxConfig {
        seed: 4,
        api_key: KEY.into(),
        rows_per_day: 10,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let url = server.url();
    let pull = |args: &[&str]| {
        let mut all = vec!["pull"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["--domain", &url, "--out", s(&out), "--retries", "0"]);
        run(&all, &[("CAKE_API_KEY", KEY)])
    };
    for (start, end) in [("2024-03-01", "2024-03-02"), ("2024-03-05", "2024-03-05")] {
        let r = pull(&["clicks", "--start", start, "--end", end]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    assert_eq!(pull(&["offers"]).code, 0);
    // A pull that fails is recorded as the table's last run; what was committed stays.
    server.faults(Faults {
        hostile: vec![Hostile::CakeMessage("Invalid start_date".into())],
        ..Faults::default()
    });
    let r = pull(&["clicks", "--start", "2024-03-06", "--end", "2024-03-06"]);
    assert_eq!(r.code, 9, "{}", r.stderr);

    let r = run(&["status", "--out", s(&out), "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let tables = json["tables"].as_array().unwrap();
    let names: Vec<&str> = tables
        .iter()
        .map(|t| t["table"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["clicks", "offers"]);
    let clicks = &tables[0];
    assert_eq!(clicks["first_day"], "2024-03-01");
    assert_eq!(clicks["last_day"], "2024-03-05");
    assert_eq!(
        clicks["gaps"],
        serde_json::json!([["2024-03-03", "2024-03-04"]])
    );
    assert_eq!(clicks["partitions"], 3);
    assert_eq!(clicks["rows"], 30);
    assert_eq!(clicks["last_run"]["status"], "failed");
    assert!(clicks["last_run"]["error"]
        .as_str()
        .unwrap()
        .contains("Invalid start_date"));
    assert_eq!(clicks["contract"]["fields"]["timezone"], "UTC");
    assert!(clicks["lag_days"].as_i64().unwrap() > 0);
    assert_eq!(tables[1]["last_run"]["status"], "ok");
    assert_eq!(tables[1]["last_day"], serde_json::Value::Null);

    let r = run(&["status", "--out", s(&out)], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    for line in r.stdout.lines() {
        assert!(line.chars().count() <= 80, "wider than 80 columns: {line}");
    }
    assert!(
        r.stdout.contains("clicks: missing 2024-03-03..2024-03-04"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("clicks: last run failed"), "{}", r.stdout);
}

/// A Delta table reads the same way: days, gaps and rows from its log, whatever format the
/// status command itself would write.
#[test]
fn status_reads_delta_tables() {
    let server = Server::start(SandboxConfig {
        seed: 5,
        api_key: KEY.into(),
        rows_per_day: 7,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let url = server.url();
    for (start, end) in [("2024-03-01", "2024-03-02"), ("2024-03-06", "2024-03-06")] {
        let r = run(
            &[
                "pull",
                "clicks",
                "--start",
                start,
                "--end",
                end,
                "--format",
                "delta",
                "--domain",
                &url,
                "--out",
                s(&out),
            ],
            &[("CAKE_API_KEY", KEY)],
        );
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    let r = run(&["status", "--out", s(&out), "--json"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    let clicks = &json["tables"][0];
    assert_eq!(clicks["table"], "clicks");
    assert_eq!(clicks["format"], "delta");
    assert_eq!(clicks["partitions"], 3);
    assert_eq!(clicks["rows"], 21);
    assert_eq!(clicks["first_day"], "2024-03-01");
    assert_eq!(clicks["last_day"], "2024-03-06");
    assert_eq!(
        clicks["gaps"],
        serde_json::json!([["2024-03-03", "2024-03-05"]])
    );
    assert_eq!(clicks["contract"]["fields"]["report"], "clicks");
    assert!(clicks["last_write"].as_str().is_some());
    assert_eq!(clicks["unreadable"], serde_json::json!([]));
}

/// A mistyped local path is said to be one (exit 2), and is not created.
#[test]
fn status_of_a_location_that_does_not_exist_is_a_usage_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("lkae");
    let r = run(&["status", "--out", s(&missing)], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("does not exist"), "{}", r.stderr);
    assert!(!missing.exists(), "status created the location");
}
