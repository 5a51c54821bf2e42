//! The fault matrix: every fault the sandbox injects, crossed with a paged report (Clicks) and a
//! windowed summary report (Campaigns Summary), through the real binary.
//!
//! Each run ends one of two ways. Either the output holds exactly the rows of a fault-free run
//! (compared row by row, every column, sorted; no duplicate, no loss), or the command fails
//! with exit code 10 (UNAVAILABLE) and a clear message once its retries are spent, leaving the
//! previous output byte-identical. A run where some windows fail and others succeed leaves
//! the committed windows complete and the failed ones as they were. The outcomes are snapshot
//! (`snapshots/faults__matrix-<report>.snap`) and summarised in `docs/reliability.md`.

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use cake_sandbox::{Faults, SandboxConfig, Stats};
use common::*;

const KEY: &str = "faults-matrix-key-5b1f9e";
const START: &str = "2024-03-01";
const END: &str = "2024-03-06";

/// What a case must end in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Success, with exactly the fault-free rows.
    Same,
    /// Exit 10 after the retries, the previous output byte-identical.
    Fails,
    /// Exit 10; the windows that succeeded are committed whole, the others kept as they were.
    Partial,
}

struct Case {
    name: &'static str,
    faults: Faults,
    retries: u32,
    expect: Expect,
    /// The sandbox counter that proves the fault was injected.
    injected: fn(&Stats) -> u64,
}

/// `partial`: the name and error rate of the case where some windows fail and others commit
/// (a window of Clicks has three pages, each of which must succeed). The first four windows
/// start together, so those of them that do not fail commit.
fn cases(partial: (&'static str, f64)) -> Vec<Case> {
    let f = Faults::default;
    vec![
        Case {
            name: "latency 25 ms",
            faults: Faults {
                latency: Duration::from_millis(25),
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| s.faults.delayed,
        },
        Case {
            name: "Restricted 0.3",
            faults: Faults {
                restricted_rate: 0.3,
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| s.faults.restricted,
        },
        Case {
            name: "HTTP 500/503 0.3",
            faults: Faults {
                error_rate: 0.3,
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| s.faults.http_500 + s.faults.http_503,
        },
        Case {
            name: "reset mid-body 0.3",
            faults: Faults {
                reset_rate: 0.3,
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| s.faults.resets,
        },
        Case {
            name: "truncated body 0.3",
            faults: Faults {
                truncate_rate: 0.3,
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| s.faults.truncated,
        },
        Case {
            name: "control chars 1.0",
            faults: Faults {
                control_char_rate: 1.0,
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| s.faults.control_chars,
        },
        Case {
            name: "trickle 512 B / 1 ms",
            faults: Faults {
                trickle: true,
                trickle_chunk: 512,
                trickle_pause: Duration::from_millis(1),
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| s.faults.trickled,
        },
        Case {
            name: "all at once 0.1 each",
            faults: Faults {
                latency: Duration::from_millis(5),
                restricted_rate: 0.1,
                error_rate: 0.1,
                reset_rate: 0.1,
                truncate_rate: 0.1,
                control_char_rate: 0.1,
                trickle: true,
                trickle_chunk: 2048,
                trickle_pause: Duration::from_millis(1),
                ..f()
            },
            retries: 8,
            expect: Expect::Same,
            injected: |s| {
                let f = &s.faults;
                f.restricted + f.http_500 + f.http_503 + f.resets + f.truncated
            },
        },
        Case {
            name: "Restricted 1.0",
            faults: Faults {
                restricted_rate: 1.0,
                ..f()
            },
            retries: 2,
            expect: Expect::Fails,
            injected: |s| s.faults.restricted,
        },
        Case {
            name: "HTTP 500/503 1.0",
            faults: Faults {
                error_rate: 1.0,
                ..f()
            },
            retries: 2,
            expect: Expect::Fails,
            injected: |s| s.faults.http_500 + s.faults.http_503,
        },
        Case {
            name: "reset mid-body 1.0",
            faults: Faults {
                reset_rate: 1.0,
                ..f()
            },
            retries: 2,
            expect: Expect::Fails,
            injected: |s| s.faults.resets,
        },
        Case {
            name: "truncated body 1.0",
            faults: Faults {
                truncate_rate: 1.0,
                ..f()
            },
            retries: 2,
            expect: Expect::Fails,
            injected: |s| s.faults.truncated,
        },
        Case {
            name: partial.0,
            faults: Faults {
                error_rate: partial.1,
                ..f()
            },
            retries: 0,
            expect: Expect::Partial,
            injected: |s| s.faults.http_500 + s.faults.http_503,
        },
    ]
}

/// `pull` of `report_args` into `out` with `retries` retries 1 ms apart.
fn pull(
    server: &Server,
    report_args: &[&str],
    out: &Path,
    summary: &Path,
    retries: u32,
    concurrency: u32,
) -> Run {
    let url = server.url();
    let retries = retries.to_string();
    let concurrency = concurrency.to_string();
    let mut args = vec!["pull"];
    args.extend_from_slice(report_args);
    args.extend_from_slice(&[
        "--domain",
        &url,
        "--out",
        s(out),
        "--retries",
        &retries,
        "--retry-base-ms",
        "1",
        "--concurrency",
        &concurrency,
        "--summary-json",
        s(summary),
    ]);
    run(&args, &[("CAKE_API_KEY", KEY)])
}

fn manifests_run_ids(out: &Path, table: &str) -> std::collections::BTreeMap<String, String> {
    let mut ids = std::collections::BTreeMap::new();
    for e in std::fs::read_dir(out.join(table)).unwrap() {
        let dir = e.unwrap().path();
        if let Ok(bytes) = std::fs::read(dir.join("_SUCCESS")) {
            let m: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            ids.insert(
                dir.file_name().unwrap().to_string_lossy().into_owned(),
                m["run_id"].as_str().unwrap().to_string(),
            );
        }
    }
    ids
}

fn matrix(
    table: &str,
    report_args: &[&str],
    partial: (&'static str, f64),
    protocol: &str,
) -> String {
    let mut report_args = report_args.to_vec();
    report_args.extend_from_slice(&["--protocol", protocol]);
    let report_args = report_args.as_slice();
    let server = Server::start(SandboxConfig {
        seed: 11,
        api_key: KEY.into(),
        rows_per_day: 20,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");

    // The fault-free reference, and the "previous output" the failing runs must leave alone.
    let clean = dir.path().join("clean");
    let r = pull(&server, report_args, &clean, &summary, 0, 4);
    assert_eq!(r.code, 0, "the clean run: {}", r.stderr);
    let expected = table_rows(&clean, table);
    assert!(!expected.is_empty());
    let keys: std::collections::BTreeSet<&String> = expected.iter().collect();
    assert_eq!(
        keys.len(),
        expected.len(),
        "the clean run has duplicate rows"
    );
    check_location(&clean, &[table]).unwrap();
    let clean_ids = manifests_run_ids(&clean, table);

    let mut transcript = format!(
        "{table}: {} rows in {} partitions without faults ({})\n",
        expected.len(),
        clean_ids.len(),
        rows_hash(&expected)
    );
    eprintln!(
        "{table}: clean run: {} rows, hash {}",
        expected.len(),
        rows_hash(&expected)
    );
    for (i, case) in cases(partial).into_iter().enumerate() {
        server.faults(case.faults.clone());
        let out = dir.path().join(format!("case-{i}"));
        if case.expect != Expect::Same {
            copy_tree(&clean, &out);
        }
        let before = tree(&out);
        let started = Instant::now();
        // One window at a time where the outcome depends on which windows fail: after a
        // failure no new window starts, so the windows committed are exactly those before it
        // (with several in flight, which of them finish before the failure is the machine's
        // timing, and a loaded machine can let none of them finish).
        let concurrency = match case.expect {
            Expect::Fails | Expect::Partial => 1,
            _ => 4,
        };
        let r = pull(
            &server,
            report_args,
            &out,
            &summary,
            case.retries,
            concurrency,
        );
        let seconds = started.elapsed().as_secs_f64();
        let stats = server.stats();
        let injected = (case.injected)(&stats);
        assert!(injected > 0, "{table} / {}: no fault injected", case.name);
        assert!(!r.stderr.contains(KEY) && !r.stdout.contains(KEY));
        let outcome = match case.expect {
            Expect::Same => {
                assert_eq!(r.code, 0, "{table} / {}: {}", case.name, r.stderr);
                let rows = table_rows(&out, table);
                assert!(
                    rows == expected,
                    "{table} / {}: {} rows differ from the {} fault-free rows",
                    case.name,
                    rows.len(),
                    expected.len()
                );
                check_location(&out, &[table]).unwrap();
                let json: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(&summary).unwrap()).unwrap();
                let report = &json["reports"][0];
                let retries = report["retries"].as_u64().unwrap();
                let stripped: u64 = report["windows"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|w| w["stripped_control_chars"].as_u64().unwrap())
                    .sum();
                let transient = stats.faults.restricted
                    + stats.faults.http_500
                    + stats.faults.http_503
                    + stats.faults.resets
                    + stats.faults.truncated;
                // Every transient fault cost exactly one retry, and nothing else did.
                assert_eq!(retries, transient, "{table} / {}", case.name);
                if stats.faults.control_chars > 0 {
                    assert!(stripped > 0, "{table} / {}", case.name);
                }
                format!(
                    "same rows; {} requests, {retries} retries, {stripped} control chars stripped",
                    stats.requests
                )
            }
            Expect::Fails => {
                assert_eq!(r.code, 10, "{table} / {}: {}", case.name, r.stderr);
                assert!(r.stdout.is_empty(), "{}", r.stdout);
                assert!(
                    r.stderr.contains("hint: Cake kept throttling or failing"),
                    "{}",
                    r.stderr
                );
                assert!(
                    tree(&out) == before,
                    "{table} / {}: the previous output changed",
                    case.name
                );
                format!(
                    "exit 10, previous output byte-identical; {} requests\n    {}",
                    stats.requests,
                    without_queries(&stable(&r.verdict()))
                )
            }
            Expect::Partial => {
                assert_eq!(r.code, 10, "{table} / {}: {}", case.name, r.stderr);
                let rows = table_rows(&out, table);
                assert!(rows == expected, "{table} / {}: rows differ", case.name);
                check_location(&out, &[table]).unwrap();
                let ids = manifests_run_ids(&out, table);
                let replaced = ids.iter().filter(|(p, id)| clean_ids[*p] != **id).count();
                assert!(
                    replaced > 0 && replaced < ids.len(),
                    "{table} / {}: {replaced} of {} partitions replaced; the case must mix",
                    case.name,
                    ids.len()
                );
                // The windows before the first that fails: the draws decide it.
                eprintln!("{replaced} of {} partitions replaced", ids.len());
                "exit 10, some partitions replaced whole, the others kept".to_string()
            }
        };
        eprintln!(
            "{table} | {} | exit {} | {:.2} s | {} faults | {outcome}",
            case.name, r.code, seconds, injected
        );
        transcript.push_str(&format!("{}: {outcome}\n", case.name));
    }
    transcript
}

#[test]
fn clicks_paged() {
    let t = matrix(
        "clicks",
        &["clicks", "--start", START, "--end", END, "--page-size", "7"],
        ("HTTP 500/503 0.05, no retry", 0.05),
        "soap",
    );
    insta::assert_snapshot!("matrix-clicks", t);
}

/// The Clicks matrix with requests in GET's form: the same rows (the hash in the first line)
/// and the same outcome for every fault.
#[test]
fn clicks_paged_over_get() {
    let t = matrix(
        "clicks",
        &["clicks", "--start", START, "--end", END, "--page-size", "7"],
        ("HTTP 500/503 0.05, no retry", 0.05),
        "get",
    );
    assert_eq!(outcomes(&t), committed_outcomes("faults", "matrix-clicks"));
}

#[test]
fn campaigns_summary_windowed() {
    let t = matrix(
        "campaigns-summary",
        &["campaigns-summary", "--start", START, "--end", END],
        ("HTTP 500/503 0.3, no retry", 0.3),
        "soap",
    );
    insta::assert_snapshot!("matrix-campaigns-summary", t);
}
