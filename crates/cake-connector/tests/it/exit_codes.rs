//! One case per exit code: each failure class produced for real (a sandbox on loopback, a port
//! nobody listens on, a TLS handshake with a plain server, an output under a regular file) and
//! the code the binary exits with, derived from the one classification of the libraries.
//! Codes 12 (`verify`), 130 and 143 (signals) have their own tests (`verify.rs`, `signals.rs`).

use crate::common;

use std::time::Duration;

use cake_sandbox::{Faults, Hostile, SandboxConfig};
use common::*;

const KEY: &str = "exit-codes-key-3b9d";

/// What a case changes on the sandbox before the command runs.
enum Setup {
    Clean,
    Faults(Faults),
}

struct Case {
    name: &'static str,
    code: i32,
    setup: Setup,
    /// The command, with `{url}`, `{out}` and `{tls}` (the sandbox's address in https) filled.
    args: &'static [&'static str],
    key: &'static str,
}

fn cases() -> Vec<Case> {
    let pull: &[&str] = &[
        "pull",
        "clicks",
        "--past-days",
        "1",
        "--domain",
        "{url}",
        "--out",
        "{out}",
        "--retries",
        "0",
    ];
    vec![
        Case {
            name: "success",
            code: 0,
            setup: Setup::Clean,
            args: pull,
            key: KEY,
        },
        Case {
            name: "usage: an option the report does not take",
            code: 2,
            setup: Setup::Clean,
            args: &[
                "pull",
                "offers",
                "--past-days",
                "1",
                "--domain",
                "{url}",
                "--out",
                "{out}",
            ],
            key: KEY,
        },
        Case {
            name: "authentication: a wrong key",
            code: 3,
            setup: Setup::Clean,
            args: pull,
            key: "not-the-key",
        },
        Case {
            name: "unknown host",
            code: 4,
            setup: Setup::Clean,
            args: &[
                "pull",
                "offers",
                "--domain",
                "nonexistent-host.invalid",
                "--out",
                "{out}",
                "--retries",
                "0",
            ],
            key: KEY,
        },
        Case {
            name: "connection: nobody listens",
            code: 5,
            setup: Setup::Clean,
            args: &[
                "pull",
                "offers",
                "--domain",
                "http://127.0.0.1:1",
                "--out",
                "{out}",
                "--retries",
                "0",
            ],
            key: KEY,
        },
        Case {
            name: "TLS: a plain HTTP server",
            code: 6,
            setup: Setup::Clean,
            args: &[
                "pull",
                "offers",
                "--domain",
                "{tls}",
                "--out",
                "{out}",
                "--retries",
                "0",
            ],
            key: KEY,
        },
        Case {
            name: "timeout: an answer slower than the attempt timeout",
            code: 7,
            setup: Setup::Faults(Faults {
                latency: Duration::from_millis(2500),
                ..Faults::default()
            }),
            args: &[
                "pull",
                "offers",
                "--domain",
                "{url}",
                "--out",
                "{out}",
                "--retries",
                "0",
                "--attempt-timeout",
                "1",
            ],
            key: KEY,
        },
        Case {
            name: "not Cake: another report's document",
            code: 8,
            setup: Setup::Faults(Faults {
                hostile: vec![Hostile::WrongEndpoint],
                ..Faults::default()
            }),
            args: pull,
            key: KEY,
        },
        Case {
            name: "rejected: Cake refuses a parameter",
            code: 9,
            setup: Setup::Faults(Faults {
                hostile: vec![Hostile::CakeMessage("Invalid start_date".into())],
                ..Faults::default()
            }),
            args: pull,
            key: KEY,
        },
        Case {
            name: "unavailable: throttled until the retries run out",
            code: 10,
            setup: Setup::Faults(Faults {
                restricted_rate: 1.0,
                ..Faults::default()
            }),
            args: pull,
            key: KEY,
        },
        Case {
            name: "output: the location lies under a regular file",
            code: 11,
            setup: Setup::Clean,
            args: &[
                "pull",
                "offers",
                "--domain",
                "{url}",
                "--out",
                // Not a directory, and not a file either: the system refuses the directory.
                "/dev/null/lake",
                "--retries",
                "0",
            ],
            key: KEY,
        },
        Case {
            name: "output: convert cannot write its file",
            code: 11,
            setup: Setup::Clean,
            args: &[
                "convert",
                "--report",
                "clicks",
                "--out",
                "/dev/null/clicks.parquet",
                "{fixture}",
            ],
            key: KEY,
        },
    ]
}

#[test]
fn each_failure_class_has_its_exit_code() {
    let server = Server::start(SandboxConfig {
        seed: 12,
        api_key: KEY.into(),
        rows_per_day: 5,
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("a-file");
    std::fs::write(&file, b"not a directory").unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../fixtures/responses/clicks/get.xml"
    );
    let url = server.url();
    let tls = url.replacen("http://", "https://", 1);
    let mut failures = Vec::new();
    for (i, case) in cases().into_iter().enumerate() {
        server.faults(match case.setup {
            Setup::Clean => Faults::default(),
            Setup::Faults(f) => f,
        });
        let out = dir.path().join(format!("lake-{i}"));
        let args: Vec<String> = case
            .args
            .iter()
            .map(|a| {
                a.replace("{url}", &url)
                    .replace("{tls}", &tls)
                    .replace("{out}", s(&out))
                    .replace("{file}", s(&file))
                    .replace("{fixture}", fixture)
            })
            .collect();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let r = run(&args, &[("CAKE_API_KEY", case.key)]);
        if r.code != case.code {
            failures.push(format!(
                "{}: exit {} instead of {}\n{}",
                case.name, r.code, case.code, r.stderr
            ));
            continue;
        }
        if case.code != 0 {
            // One error line saying what was wrong, and the key nowhere.
            assert!(
                r.verdict().starts_with("error: "),
                "{}: {}",
                case.name,
                r.stderr
            );
            assert!(!r.stderr.contains(KEY), "{}: the key printed", case.name);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
