//! `cake-connector airbyte` and `singer` as a platform runs them: the streams `discover`
//! shows are `describe --json`'s reports; `check` answers FAILED with exit 0 on a wrong key;
//! a window that is inconsistent emits no record and a TRACE error; a Singer run sends each
//! stream's SCHEMA before its records, and resumes from its bookmarks.

use std::path::Path;

use crate::common;

use cake_sandbox::{Faults, Hostile, SandboxConfig};
use common::*;
use serde_json::Value;

const KEY: &str = "platf0rm-KEY-7c1d2e";

fn server() -> Server {
    Server::start(SandboxConfig {
        api_key: KEY.into(),
        rows_per_day: 12,
        ..SandboxConfig::default()
    })
}

fn write(dir: &Path, name: &str, v: &Value) -> String {
    let path = dir.join(name);
    std::fs::write(&path, v.to_string()).unwrap();
    path.to_string_lossy().into_owned()
}

fn config(server: &Server, key: &str) -> Value {
    let start = chrono::Utc::now().date_naive() - chrono::Days::new(2);
    serde_json::json!({
        "domain": server.url(),
        "api_key": key,
        "start_date": start.to_string(),
        "lookback_days": 1,
    })
}

/// Every stdout line as JSON.
fn messages(r: &Run) -> Vec<Value> {
    assert!(
        !r.stdout.contains(KEY) && !r.stderr.contains(KEY),
        "the key leaked"
    );
    r.stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

#[test]
fn discover_shows_every_report_as_describe_does() {
    let r = run(&["airbyte", "spec"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let spec = &messages(&r)[0];
    assert_eq!(spec["type"], "SPEC");
    let props = &spec["spec"]["connectionSpecification"]["properties"];
    assert_eq!(props["api_key"]["airbyte_secret"], true);
    assert!(props["report_options"]["additionalProperties"]["properties"]["offer_id"].is_object());

    let dir = tempfile::tempdir().unwrap();
    let server = server();
    let cfg = write(dir.path(), "config.json", &config(&server, KEY));
    let r = run(&["airbyte", "discover", "--config", &cfg], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let catalog = &messages(&r)[0];
    let streams = catalog["catalog"]["streams"].as_array().unwrap();
    assert_eq!(streams.len(), 37);
    for s in streams {
        let id = s["name"].as_str().unwrap();
        let d = run(&["describe", id, "--json"], &[]);
        let described: Value = serde_json::from_str(&d.stdout).unwrap();
        let mut columns: Vec<String> = described["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap().to_string())
            .collect();
        let dated = described["dates"]["kind"] != "none";
        if dated {
            columns.push("date".into());
        }
        columns.sort();
        let mut fields: Vec<String> = s["json_schema"]["properties"]
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        fields.sort();
        assert_eq!(fields, columns, "{id}");
        let key: Vec<Value> = described["table_key"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| serde_json::json!([k]))
            .collect();
        assert_eq!(s["source_defined_primary_key"], Value::Array(key), "{id}");
        assert_eq!(s["source_defined_cursor"] == true, dated, "{id}");
    }
}

#[test]
fn check_says_failed_with_exit_0() {
    let dir = tempfile::tempdir().unwrap();
    let server = server();
    let cfg = write(dir.path(), "ok.json", &config(&server, KEY));
    let r = run(&["airbyte", "check", "--config", &cfg], &[]);
    assert_eq!(r.code, 0);
    assert_eq!(messages(&r)[0]["connectionStatus"]["status"], "SUCCEEDED");
    let bad = write(
        dir.path(),
        "bad.json",
        &config(&server, "not-the-key-but-long"),
    );
    let r = run(&["airbyte", "check", "--config", &bad], &[]);
    assert_eq!(r.code, 0);
    let status = &messages(&r)[0]["connectionStatus"];
    assert_eq!(status["status"], "FAILED");
    assert!(
        status["message"].as_str().unwrap().contains("API key"),
        "{status}"
    );
}

#[test]
fn an_inconsistent_window_emits_no_record_and_a_trace() {
    let dir = tempfile::tempdir().unwrap();
    let server = server();
    server.faults(Faults {
        hostile: vec![Hostile::OtherDay { days: -1 }],
        ..Faults::default()
    });
    let cfg = write(dir.path(), "config.json", &config(&server, KEY));
    let catalog = serde_json::json!({"streams": [{
        "stream": {"name": "clicks", "json_schema": {}, "supported_sync_modes": ["incremental"]},
        "sync_mode": "incremental", "destination_sync_mode": "append",
    }]});
    let cat = write(dir.path(), "catalog.json", &catalog);
    let r = run(
        &["airbyte", "read", "--config", &cfg, "--catalog", &cat],
        &[],
    );
    assert_ne!(r.code, 0, "{}", r.stderr);
    let m = messages(&r);
    assert!(
        !m.iter().any(|m| m["type"] == "RECORD"),
        "a record of a window that failed"
    );
    let trace = m
        .iter()
        .find(|m| m["type"] == "TRACE")
        .expect("a TRACE error");
    assert_eq!(
        trace["trace"]["error"]["stream_descriptor"]["name"],
        "clicks"
    );
}

#[test]
fn singer_sends_schemas_first_and_resumes_from_its_bookmarks() {
    let dir = tempfile::tempdir().unwrap();
    let server = server();
    let cfg = write(dir.path(), "config.json", &config(&server, KEY));
    let r = run(&["singer", "--config", &cfg, "--discover"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let mut catalog: Value = serde_json::from_str(&r.stdout).unwrap();
    // Select Clicks and Offers, as Meltano writes a selection.
    for s in catalog["streams"].as_array_mut().unwrap() {
        if s["tap_stream_id"] == "clicks" || s["tap_stream_id"] == "offers" {
            s["metadata"][0]["metadata"]["selected"] = Value::Bool(true);
        }
    }
    let cat = write(dir.path(), "catalog.json", &catalog);
    let r = run(&["singer", "--config", &cfg, "--catalog", &cat], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m = messages(&r);
    let mut seen_schema = std::collections::BTreeSet::new();
    let mut records = 0;
    for msg in &m {
        let stream = msg["stream"].as_str().unwrap_or_default().to_string();
        match msg["type"].as_str().unwrap() {
            "SCHEMA" => {
                seen_schema.insert(stream);
            }
            "RECORD" => {
                assert!(seen_schema.contains(&stream), "a record before its schema");
                records += 1;
            }
            "STATE" => assert!(msg["value"]["bookmarks"].is_object()),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(seen_schema.len(), 2);
    assert!(records > 0);
    let last_state = m.iter().rev().find(|m| m["type"] == "STATE").unwrap();
    let today = chrono::Utc::now().date_naive().to_string();
    assert_eq!(
        last_state["value"]["bookmarks"]["clicks"]["committed_through"],
        Value::String(today.clone())
    );
    // Resumed with the bookmarks: Clicks re-reads only the lookback day and today.
    let state = write(dir.path(), "state.json", &last_state["value"]);
    let r = run(
        &[
            "singer",
            "--config",
            &cfg,
            "--catalog",
            &cat,
            "--state",
            &state,
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let days: std::collections::BTreeSet<String> = messages(&r)
        .iter()
        .filter(|m| m["type"] == "RECORD" && m["stream"] == "clicks")
        .map(|m| m["record"]["date"].as_str().unwrap().to_string())
        .collect();
    let yesterday = (chrono::Utc::now().date_naive() - chrono::Days::new(1)).to_string();
    assert_eq!(days.into_iter().collect::<Vec<_>>(), [yesterday, today]);
}
