//! `cake-connector sync --config` as a user runs it, twice, against a sandbox in the test
//! process: the second run starts at the last committed day minus the lookback and replaces
//! those days only.

use crate::common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Output};

use cake_sandbox::SandboxConfig;
use chrono::{Days, NaiveDate};
use common::Server;

const KEY: &str = "k3y-BINARY-sync-test-77ad02";

fn server() -> Server {
    Server::start(SandboxConfig {
        api_key: KEY.into(),
        rows_per_day: 50,
        ..SandboxConfig::default()
    })
}

fn sync(config: &Path, summary: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .env("COLUMNS", "1000")
        .args(["sync", "--config"])
        .arg(config)
        .arg("--summary-json")
        .arg(summary)
        .env_remove("CAKE_DOMAIN")
        .env("CAKE_API_KEY", KEY)
        .env("RUST_LOG", "off")
        .output()
        .expect("the binary runs")
}

fn json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn date(v: &serde_json::Value) -> NaiveDate {
    v.as_str().unwrap().parse().unwrap()
}

/// The run id of every committed clicks partition.
fn run_ids(lake: &Path) -> BTreeMap<NaiveDate, String> {
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(lake.join("clicks")).unwrap() {
        let entry = entry.unwrap();
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(day) = name.strip_prefix("date=") else {
            assert_eq!(name, "_table.json", "only partitions and the contract");
            continue;
        };
        let day = day.parse().unwrap();
        let manifest = json(&entry.path().join("_SUCCESS"));
        out.insert(day, manifest["run_id"].as_str().unwrap().to_string());
    }
    out
}

#[test]
fn sync_twice_is_incremental_with_the_lookback() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let today = chrono::Utc::now().date_naive();
    let start = today - Days::new(5);
    let config = dir.path().join("cake.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\ndomain = \"{}\"\n\n[output]\nlocation = \"{}\"\n\n\
             [defaults]\nstart = \"{start}\"\nlookback_days = 2\n\n\
             [[report]]\nreport = \"clicks\"\n\n[[report]]\nreport = \"offers\"\n",
            server.url(),
            lake.display()
        ),
    )
    .unwrap();

    let first = sync(&config, &dir.path().join("run1.json"));
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let state = json(&lake.join("_state/clicks.json"));
    let committed = date(&state["committed_through"]);
    assert!(committed >= today, "the first run reaches today");
    let run1 = json(&dir.path().join("run1.json"));
    let clicks1 = &run1["reports"][0];
    assert_eq!(clicks1["report"], "clicks");
    assert_eq!(date(&clicks1["windows"][0]["start"]), start);
    assert_eq!(run1["reports"][1]["report"], "offers");
    assert_eq!(run1["reports"][1]["windows"].as_array().unwrap().len(), 1);
    let before = run_ids(&lake);
    assert_eq!(before.len(), clicks1["windows"].as_array().unwrap().len());
    assert!(json(&lake.join("_state/offers.json"))["last_run"].is_string());

    let second = sync(&config, &dir.path().join("run2.json"));
    let stdout = String::from_utf8_lossy(&second.stdout).into_owned();
    assert_eq!(
        second.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let run2 = json(&dir.path().join("run2.json"));
    let windows = run2["reports"][0]["windows"].as_array().unwrap();
    let resumed = committed - Days::new(2);
    assert_eq!(
        date(&windows[0]["start"]),
        resumed,
        "last committed day minus the lookback"
    );
    let last = date(&windows[windows.len() - 1]["start"]);
    assert!(last >= committed);
    assert!(
        stdout.contains(&format!("{resumed} to {last}")),
        "the run says what it covered: {stdout}"
    );
    let state = json(&lake.join("_state/clicks.json"));
    assert_eq!(date(&state["committed_through"]), last);
    let after = run_ids(&lake);
    let second_run = after[&last].clone();
    assert_ne!(second_run, before[&start]);
    for (day, run) in &after {
        if *day < resumed {
            assert_eq!(run, &before[day], "{day} is left as it was");
        } else {
            assert_eq!(run, &second_run, "{day} is replaced");
        }
    }
    assert_eq!(
        run2["reports"][0]["rows"],
        serde_json::json!(windows
            .iter()
            .map(|w| w["rows"].as_u64().unwrap())
            .sum::<u64>())
    );
}

#[test]
fn one_report_of_a_config_and_a_dry_run() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let today = chrono::Utc::now().date_naive();
    let start = today - Days::new(3);
    let config = dir.path().join("cake.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\ndomain = \"{}\"\n\n[output]\nlocation = \"{}\"\n\n\
             [defaults]\nstart = \"{start}\"\n\n\
             [[report]]\nreport = \"clicks\"\n\n[[report]]\nreport = \"offers\"\n",
            server.url(),
            lake.display()
        ),
    )
    .unwrap();
    let cmd = |extra: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cake-connector"));
        c.env("COLUMNS", "1000");
        c.args(["sync", "--config"])
            .arg(&config)
            .args(extra)
            .env_remove("CAKE_DOMAIN")
            .env("CAKE_API_KEY", KEY);
        let out = c.output().unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    // The dry run says what each report would pull and sends nothing.
    let (code, stdout, stderr) = cmd(&["--dry-run"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(
        stdout.contains(&format!("clicks: {start} to {today} in 4 window(s)")),
        "{stdout}"
    );
    assert!(stdout.contains("offers: snapshot"), "{stdout}");
    assert!(stdout.contains("POST http://127.0.0.1:"), "{stdout}");
    assert!(!stdout.contains(KEY));
    assert!(!lake.join("clicks").exists());
    // One report of the config.
    let (code, _, stderr) = cmd(&["--report", "Offers"]);
    assert_eq!(code, 0, "{stderr}");
    assert!(lake.join("offers").exists());
    assert!(!lake.join("clicks").exists());
    let (code, _, stderr) = cmd(&["--report", "conversions"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("it has clicks, offers"), "{stderr}");
}
