//! What reaches stderr: `-q`, JSON logs for shippers, and the completions and manual page
//! generated from the command-line definitions.

use crate::common;

use cake_sandbox::SandboxConfig;
use common::*;

const KEY: &str = "logs-key+with/reserved=chars";

fn server() -> Server {
    Server::start(SandboxConfig {
        seed: 2,
        api_key: KEY.into(),
        rows_per_day: 5,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    })
}

#[test]
fn json_logs_are_one_object_per_line_without_the_key() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let url = server.url();
    for (key, code) in [(KEY, 0), ("a-wrong-key", 3)] {
        let r = run(
            &[
                "pull",
                "clicks",
                "--date",
                "2024-03-10",
                "--domain",
                &url,
                "--out",
                s(&out),
                "-vv",
                "--log-format",
                "json",
            ],
            &[("CAKE_API_KEY", key)],
        );
        assert_eq!(r.code, code, "{}", r.stderr);
        let mut levels = std::collections::BTreeSet::new();
        for line in r.stderr.lines().filter(|l| !l.trim().is_empty()) {
            let v: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a JSON line ({e}): {line}"));
            levels.insert(v["level"].as_str().unwrap().to_string());
            assert!(v["target"].is_string(), "{line}");
            assert!(
                !line.contains(KEY) && !line.contains("key%2Bwith"),
                "{line}"
            );
        }
        assert!(
            levels.contains("DEBUG"),
            "{levels:?}: -vv shows every request"
        );
        if code != 0 {
            assert!(
                levels.contains("ERROR"),
                "{levels:?}: the verdict is a JSON line too"
            );
        }
    }
}

#[test]
fn quiet_prints_errors_only() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let url = server.url();
    let pull = |key: &str| {
        run(
            &[
                "pull",
                "clicks",
                "--past-days",
                "2",
                "--domain",
                &url,
                "--out",
                s(&out),
                "-q",
            ],
            &[("CAKE_API_KEY", key)],
        )
    };
    let ok = pull(KEY);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    assert_eq!(ok.stderr, "", "-q prints nothing but errors");
    // The one summary line (wrapped at 80 columns), no line per partition.
    assert!(ok.stdout.starts_with("clicks: "), "{}", ok.stdout);
    assert!(!ok.stdout.contains("clicks/date="), "{}", ok.stdout);
    assert!(ok.stdout.lines().count() <= 2, "{}", ok.stdout);
    // -v: a line per request (two days, one request each), not only progress.
    let verbose = run(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--domain",
            &url,
            "--out",
            s(&out),
            "-v",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(verbose.code, 0, "{}", verbose.stderr);
    let requests = verbose
        .stderr
        .lines()
        .filter(|l| l.contains("cake_transport") && l.contains("POST"))
        .count();
    assert_eq!(requests, 2, "{}", verbose.stderr);
    let failed = pull("a-wrong-key");
    assert_eq!(failed.code, 3);
    assert_eq!(failed.stderr.lines().count(), 1, "{}", failed.stderr);
    assert!(failed.stderr.starts_with("error: "), "{}", failed.stderr);
    // CAKE_LOG=error is as quiet.
    let r = run(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--domain",
            &url,
            "--out",
            s(&out),
        ],
        &[("CAKE_API_KEY", KEY), ("CAKE_LOG", "error")],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "", "CAKE_LOG=error prints nothing but errors");
    // The demo too: its own lines (the sandbox's address) are progress.
    let demo = dir.path().join("demo");
    let r = run(
        &[
            "demo",
            "--out",
            s(&demo),
            "--days",
            "1",
            "--rows-per-day",
            "2",
            "-q",
        ],
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stderr, "", "-q prints nothing but errors");
}

#[test]
fn completions_and_the_manual_page_are_generated() {
    for shell in ["bash", "zsh", "fish", "powershell", "elvish"] {
        let r = run(&["completions", shell], &[]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        for word in ["cake-connector", "pull", "sync", "past-days"] {
            assert!(r.stdout.contains(word), "{shell}: no `{word}`");
        }
    }
    let r = run(&["man"], &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.starts_with(".ie") || r.stdout.contains(".TH"),
        "{}",
        &r.stdout[..100]
    );
    assert!(
        r.stdout.contains("cake\\-connector"),
        "the manual names the command"
    );
    let r = run(&["completions", "tcsh"], &[]);
    assert_eq!(r.code, 2);
}
