//! `cake-connector pull` as a user runs it, against a sandbox in the test process: the exit
//! code, the hive layout, the `--summary-json` figures, and `--dry-run` sending nothing.

use crate::common;

use std::path::Path;
use std::process::{Command, Output};

use cake_sandbox::SandboxConfig;
use common::Server;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

const KEY: &str = "k3y-BINARY-pull-test-51c7e0";
const ROWS_PER_DAY: u32 = 150;

fn server() -> Server {
    Server::start(SandboxConfig {
        api_key: KEY.into(),
        rows_per_day: ROWS_PER_DAY,
        ..SandboxConfig::default()
    })
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .env("COLUMNS", "1000")
        .args(args)
        .env_remove("CAKE_DOMAIN")
        .env_remove("CAKE_TIMEZONE")
        .env("CAKE_API_KEY", KEY)
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Files below `root`, relative, sorted (hidden ones included).
fn files(root: &Path) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    if root.exists() {
        walk(root, root, &mut out);
    }
    out.sort();
    out
}

/// Rows of a Parquet file, checking its schema against the catalog.
fn parquet_rows(path: &Path, report: &str) -> u64 {
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(path).unwrap()).unwrap();
    let expected = cake_arrow::schema(cake_catalog::find(report).unwrap());
    assert_eq!(
        builder.schema().fields(),
        expected.fields(),
        "{}",
        path.display()
    );
    u64::try_from(builder.metadata().file_metadata().num_rows()).unwrap()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn pull_writes_the_layout_and_the_summary() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let summary_path = dir.path().join("run.json");
    let url = server.url();
    let out = run(&[
        "pull",
        "clicks",
        "--past-days",
        "2",
        "--domain",
        &url,
        "--out",
        lake.to_str().unwrap(),
        "--summary-json",
        summary_path.to_str().unwrap(),
    ]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stdout.starts_with(&format!(
            "clicks: {} rows in 2 window(s) to ",
            2 * ROWS_PER_DAY
        )),
        "{stdout}"
    );
    assert_eq!(server.stats().requests, 2, "one request a day");

    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_path).unwrap()).unwrap();
    let reports = summary["reports"].as_array().unwrap();
    assert_eq!(reports.len(), 1);
    let r = &reports[0];
    assert_eq!(r["report"], "clicks");
    assert_eq!(r["rows"], 2 * ROWS_PER_DAY);
    assert_eq!(r["requests"], 2);
    assert_eq!(r["retries"], 0);
    assert!(r["seconds"].as_f64().unwrap() >= 0.0);
    assert!(r["body_bytes"].as_u64().unwrap() > 0);
    let windows = r["windows"].as_array().unwrap();
    assert_eq!(windows.len(), 2);

    // The layout: one partition per day of the summary, each a file and its manifest.
    // The table, and the run record `status` reads.
    let mut expected = vec![
        "_runs/clicks.json".to_string(),
        "clicks/_table.json".to_string(),
    ];
    let mut parquet_bytes = 0;
    for w in windows {
        let start = w["start"].as_str().unwrap();
        let path = format!("clicks/date={start}");
        assert_eq!(w["path"], path.as_str());
        assert_eq!(w["rows"], ROWS_PER_DAY);
        assert_eq!(w["requests"], 1);
        assert_eq!(w["retries"], 0);
        assert_eq!(w["files"], 1);
        assert!(w["seconds"].as_f64().unwrap() >= 0.0);
        let file = lake.join(&path).join("part-00000.parquet");
        let size = std::fs::metadata(&file).unwrap().len();
        assert_eq!(w["bytes"], size, "{path}: bytes are the file's");
        parquet_bytes += size;
        assert_eq!(parquet_rows(&file, "clicks"), u64::from(ROWS_PER_DAY));
        expected.push(format!("{path}/_SUCCESS"));
        expected.push(format!("{path}/part-00000.parquet"));
    }
    assert_eq!(r["bytes"], parquet_bytes);
    assert!(windows[0]["start"].as_str() < windows[1]["start"].as_str());
    // The run's entry in the table's history, named by when it ended.
    let mut found = files(&lake);
    let history: Vec<String> = found
        .iter()
        .filter(|f| f.starts_with("_runs/clicks/"))
        .cloned()
        .collect();
    assert_eq!(history.len(), 1, "{found:?}");
    assert!(history[0].ends_with(".json"), "{history:?}");
    found.retain(|f| !f.starts_with("_runs/clicks/"));
    assert_eq!(found, expected, "nothing else, no staging left");

    // An undated report into the same location: a snapshot beside the dated table.
    let out = run(&[
        "pull",
        "offers",
        "--domain",
        &url,
        "--out",
        lake.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    expected.push("_runs/offers.json".into());
    expected.push("offers/_SUCCESS".into());
    expected.push("offers/_table.json".into());
    expected.push("offers/part-00000.parquet".into());
    expected.sort();
    let mut found = files(&lake);
    found.retain(|f| !f.starts_with("_runs/clicks/") && !f.starts_with("_runs/offers/"));
    assert_eq!(found, expected);
    assert!(parquet_rows(&lake.join("offers/part-00000.parquet"), "offers") > 0);
    for f in files(&lake) {
        assert!(
            !contains(&std::fs::read(lake.join(&f)).unwrap(), KEY),
            "{f} holds the key"
        );
    }
    assert!(!contains(&out.stdout, KEY) && !contains(&out.stderr, KEY));
}

#[test]
fn dry_run_sends_nothing_and_writes_nothing() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let url = server.url();
    let out = run(&[
        "pull",
        "clicks",
        "--past-days",
        "3",
        "--domain",
        &url,
        "--out",
        lake.to_str().unwrap(),
        "--dry-run",
    ]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    // SOAP by default: each request is shown by its address (the parameters travel in the
    // body), its body once, key redacted.
    let posts: Vec<&str> = stdout.lines().filter(|l| l.contains("POST ")).collect();
    assert_eq!(posts.len(), 3, "{stdout}");
    for line in &posts {
        assert!(
            line.ends_with(&format!("POST {url}/api/12/reports.asmx/Clicks")),
            "{line}"
        );
        assert!(!line.contains("api_key"), "{line}");
    }
    assert!(
        stdout.contains("<api_key>&lt;redacted&gt;</api_key>"),
        "{stdout}"
    );
    assert!(!stdout.contains(KEY), "{stdout}");
    assert_eq!(server.stats().requests, 0, "a dry run sends nothing");
    assert!(!lake.exists(), "a dry run writes nothing");
}

#[test]
fn a_bad_mode_is_a_usage_error_before_anything_is_sent() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "pull",
        "offers",
        "--domain",
        &server.url(),
        "--out",
        dir.path().join("lake").to_str().unwrap(),
        "--mode",
        "upsert",
    ]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("invalid mode `upsert`: use replace or append"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn append_mode_adds_a_file_per_window() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let url = server.url();
    let mut counts = Vec::new();
    for mode in ["replace", "append", "append"] {
        let out = run(&[
            "pull",
            "offers",
            "--domain",
            &url,
            "--out",
            lake.to_str().unwrap(),
            "--mode",
            mode,
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        counts.push(
            files(&lake)
                .iter()
                .filter(|f| f.ends_with(".parquet"))
                .count(),
        );
    }
    assert_eq!(counts, [1, 2, 3]);
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(lake.join("offers/_SUCCESS")).unwrap()).unwrap();
    let listed = manifest["files"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    let single = parquet_rows(&lake.join("offers/part-00000.parquet"), "offers");
    assert_eq!(manifest["rows"], 3 * single);
}
