//! What a new user meets first, held to what it promises:
//! - a dry run makes every check of the real run and exits as it would, for `pull` and
//!   `sync`, a table's contract refused or rebuilt, and writes nothing;
//! - every run (ok, failed, refused) is in the table's history, which `status --history`
//!   shows;
//! - `check --json` answers in JSON, success or failure;
//! - every line of every command's usual output, at 80 columns (no `COLUMNS`, no terminal),
//!   fits 80 columns.

use crate::common;

use cake_sandbox::SandboxConfig;
use common::*;

const KEY: &str = "newcomer-key-3e8c1f";

fn server() -> Server {
    Server::start(SandboxConfig {
        seed: 21,
        api_key: KEY.into(),
        rows_per_day: 4,
        ..SandboxConfig::default()
    })
}

/// The statuses of a table's recorded runs, newest first.
fn history(out: &std::path::Path, table: &str) -> Vec<String> {
    let r = run(
        &["status", "--out", s(out), "--history", "20", "--json"],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let json: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    json["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .map(|t| {
            t["history"]
                .as_array()
                .unwrap()
                .iter()
                .map(|h| h["status"].as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn a_dry_run_exits_as_the_real_run_would() {
    let server = server();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let key = [("CAKE_API_KEY", KEY)];
    let pull = |extra: &[&str]| {
        let mut args = vec!["pull", "clicks", "--past-days", "2", "--domain", &url];
        args.extend_from_slice(&["--out", s(&out), "--retries", "0"]);
        args.extend_from_slice(extra);
        run(&args, &key)
    };
    let first = pull(&["--offer-id", "1"]);
    assert_eq!(first.code, 0, "{}", first.stderr);

    // Each variant: the dry run first (nothing written), then the real run, same exit code.
    let variants: [(&[&str], i32); 4] = [
        (&["--offer-id", "1"], 0),
        // Another filter: the table's contract refuses the run.
        (&["--offer-id", "2"], 2),
        // Rebuilt on purpose: both go ahead.
        (&["--offer-id", "2", "--rebuild-table"], 0),
        // Another format into the same table: refused too.
        (&["--offer-id", "2", "--format", "delta"], 2),
    ];
    for (extra, code) in variants {
        let before = tree(&out);
        let mut dry_args = extra.to_vec();
        dry_args.push("--dry-run");
        let dry = pull(&dry_args);
        assert_eq!(dry.code, code, "dry run {extra:?}: {}", dry.stderr);
        assert!(tree(&out) == before, "dry run {extra:?} changed the output");
        let real = pull(extra);
        assert_eq!(real.code, dry.code, "real run {extra:?}: {}", real.stderr);
        if code != 0 {
            // The same verdict, and the plan it would have run.
            assert_eq!(dry.verdict(), real.verdict(), "{extra:?}");
            assert!(dry.stdout.contains("windows:"), "{}", dry.stdout);
        }
    }
    // Every run is in the history, the refused ones too (the dry runs are not runs).
    assert_eq!(
        history(&out, "clicks"),
        ["refused", "ok", "refused", "ok", "ok"],
    );
    // A run that fails is recorded as failed.
    let r = run(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--offer-id",
            "2",
            "--domain",
            "http://127.0.0.1:1",
            "--out",
            s(&out),
            "--retries",
            "0",
        ],
        &key,
    );
    assert_ne!(r.code, 0);
    assert_eq!(history(&out, "clicks")[0], "failed");
    // The text view: one line per run, within 80 columns, with the class of a failure.
    let text = run(&["status", "--out", s(&out), "--history", "3"], &[]);
    assert_eq!(text.code, 0, "{}", text.stderr);
    assert!(
        text.stdout.contains("clicks: last 3 run(s)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("failed"), "{}", text.stdout);
    assert!(text.stdout.contains("refused"), "{}", text.stdout);
}

#[test]
fn a_sync_dry_run_exits_as_the_sync_would() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let config = dir.path().join("cake.toml");
    let write = |offer: u32| {
        std::fs::write(
            &config,
            format!(
                "[instance]\ndomain = \"{}\"\n\n[output]\nlocation = \"{}\"\n\n\
                 [defaults]\nstart = \"{}\"\n\n[[report]]\nreport = \"clicks\"\n\
                 offer_id = {offer}\n\n[[report]]\nreport = \"offers\"\n",
                server.url(),
                out.display(),
                (chrono::Utc::now().date_naive() - chrono::Days::new(2)),
            ),
        )
        .unwrap();
    };
    let sync = |extra: &[&str]| {
        let mut args = vec!["sync", "--config", s(&config), "--retries", "0"];
        args.extend_from_slice(extra);
        run(&args, &[("CAKE_API_KEY", KEY)])
    };
    write(1);
    let r = sync(&[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    write(2);
    for (extra, code) in [(&[][..], 2), (&["--rebuild-tables"][..], 0)] {
        let before = tree(&out);
        let mut dry_args = extra.to_vec();
        dry_args.push("--dry-run");
        let dry = sync(&dry_args);
        assert_eq!(dry.code, code, "dry run {extra:?}: {}", dry.stderr);
        assert!(tree(&out) == before, "dry run {extra:?} changed the output");
        if code != 0 {
            assert!(
                dry.verdict().contains("would be refused (clicks)"),
                "{}",
                dry.stderr
            );
        }
        // JSON says the same.
        let mut json_args = dry_args.clone();
        json_args.push("--json");
        let json = sync(&json_args);
        assert_eq!(json.code, code, "{}", json.stderr);
        let doc: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
        let clicks = &doc["reports"][0];
        assert_eq!(clicks["table"], "clicks");
        assert_eq!(clicks["status"] == "refused", code != 0, "{doc}");
        let real = sync(extra);
        assert_eq!(real.code, dry.code, "real run {extra:?}: {}", real.stderr);
    }
    assert_eq!(history(&out, "clicks"), ["ok", "refused", "ok"]);
    assert_eq!(history(&out, "offers"), ["ok", "ok", "ok"]);
    // A table the config no longer lists is marked.
    std::fs::write(
        &config,
        std::fs::read_to_string(&config)
            .unwrap()
            .replace("[[report]]\nreport = \"offers\"\n", ""),
    )
    .unwrap();
    let r = run(&["status", "--out", s(&out), "--config", s(&config)], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("offers: not in"), "{}", r.stdout);
    assert!(!r.stdout.contains("clicks: not in"), "{}", r.stdout);
}

#[test]
fn check_answers_in_json() {
    let server = server();
    let url = server.url();
    let ok = run(
        &["check", "--domain", &url, "--json"],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let doc: serde_json::Value = serde_json::from_str(&ok.stdout).unwrap();
    assert_eq!(doc["ok"], true, "{doc}");
    assert!(doc["account_statuses"]
        .as_array()
        .is_some_and(|a| !a.is_empty()));
    let bad = run(
        &["check", "--domain", &url, "--json"],
        &[("CAKE_API_KEY", "not-the-key-1234")],
    );
    assert_eq!(bad.code, 3, "{}", bad.stderr);
    let doc: serde_json::Value = serde_json::from_str(&bad.stdout).unwrap();
    assert_eq!(doc["ok"], false, "{doc}");
    assert_eq!(doc["exit_code"], 3, "{doc}");
    assert!(!bad.stdout.contains("not-the-key-1234"));
}

/// Every line of the usual output of every command fits 80 columns when stdout and stderr
/// are not terminals and `COLUMNS` is not set; nothing is cut (every word of a wide run is
/// in the narrow one).
#[test]
fn usual_output_fits_80_columns() {
    let server = server();
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let demo = dir.path().join("demo");
    let config = dir.path().join("cake.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\ndomain = \"{url}\"\n\n[output]\nlocation = \"{}\"\n\n[defaults]\n\
             start = \"{}\"\n\n[[report]]\nreport = \"campaigns-summary\"\n\n[[report]]\n\
             report = \"offers\"\n",
            out.display(),
            (chrono::Utc::now().date_naive() - chrono::Days::new(3)),
        ),
    )
    .unwrap();
    let o = s(&out);
    let c = s(&config);
    let commands: Vec<Vec<&str>> = vec![
        vec!["--help"],
        vec!["pull", "--help"],
        vec!["sync", "--help"],
        vec!["reports"],
        vec!["describe", "campaigns-summary"],
        vec![
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--domain",
            &url,
            "--out",
            o,
            "--dry-run",
        ],
        vec![
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--domain",
            &url,
            "--out",
            o,
        ],
        vec![
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--domain",
            &url,
            "--out",
            o,
            "-v",
        ],
        vec!["sync", "--config", c, "--dry-run"],
        vec!["sync", "--config", c],
        vec!["status", "--out", o],
        vec!["status", "--out", o, "--history", "5", "--config", c],
        vec!["check", "--domain", &url],
        vec!["config", "init"],
        vec!["config", "validate", c],
        vec!["demo", "--out", s(&demo)],
    ];
    let mut failures = Vec::new();
    for args in &commands {
        let mut narrow = command(args);
        narrow.env_remove("COLUMNS").env("CAKE_API_KEY", KEY);
        let r = finished(narrow.output().unwrap());
        if r.code != 0 {
            failures.push(format!("{args:?}: exit {}: {}", r.code, r.stderr));
            continue;
        }
        for (stream, text) in [("stdout", &r.stdout), ("stderr", &r.stderr)] {
            for line in text.lines().filter(|l| l.chars().count() > 80) {
                failures.push(format!("{args:?}: {stream}: {line}"));
            }
        }
    }
    // Wrapping keeps every word: the help, wide and narrow, has the same words.
    let words = |columns: Option<&str>| {
        let mut c = command(&["pull", "--help"]);
        match columns {
            Some(n) => c.env("COLUMNS", n),
            None => c.env_remove("COLUMNS"),
        };
        let r = finished(c.output().unwrap());
        r.stdout.split_whitespace().count()
    };
    assert_eq!(words(None), words(Some("1000")));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
