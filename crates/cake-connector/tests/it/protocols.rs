//! Where the key travels: a default `pull`, `sync` and `check` send SOAP 1.2 POSTs with the key
//! in the body and in no URL; `--protocol get` (or the config's `protocol`) sends GETs; an
//! instance that refuses SOAP makes `check` name the flag that works.

use crate::common;

use cake_sandbox::{Faults, SandboxConfig};
use common::*;

const KEY: &str = "prot0col-KEY-in-body-only-5521";

fn server() -> Server {
    Server::start(SandboxConfig {
        api_key: KEY.into(),
        rows_per_day: 10,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    })
}

/// Every request the server saw was a SOAP 1.2 POST to a service, the key in no URL.
fn all_soap(server: &Server, what: &str) {
    let log = server.request_log();
    assert!(!log.is_empty(), "{what}: no request");
    for seen in log {
        assert_eq!(seen.method, "POST", "{what}: {seen:?}");
        assert!(!seen.key_in_url, "{what}: the key is in a URL: {seen:?}");
        assert!(seen.path.ends_with(".asmx"), "{what}: {seen:?}");
        assert_eq!(
            seen.content_type.as_deref(),
            Some("application/soap+xml; charset=utf-8"),
            "{what}"
        );
    }
}

/// Two days of Clicks in pages of 4 into `out`, with `extra` arguments.
fn pull_clicks(url: &str, out: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec![
        "pull",
        "clicks",
        "--start",
        "2024-03-04",
        "--end",
        "2024-03-05",
        "--page-size",
        "4",
        "--domain",
        url,
        "--out",
        s(out),
    ];
    args.extend_from_slice(extra);
    run(&args, &[("CAKE_API_KEY", KEY)])
}

#[test]
fn by_default_no_key_travels_in_a_url() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let env = [("CAKE_API_KEY", KEY)];
    let url = server.url();

    server.faults(Faults::default());
    let r = run(&["check", "--domain", &url], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(soap)"), "{}", r.stdout);
    all_soap(&server, "check");

    server.faults(Faults::default());
    let out = dir.path().join("pull");
    let r = pull_clicks(&url, &out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    all_soap(&server, "pull");
    let soap_rows = table_rows(&out, "clicks");
    assert_eq!(soap_rows.len(), 20);

    server.faults(Faults::default());
    let config = dir.path().join("cake.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\ndomain = \"{url}\"\n\n[output]\nlocation = \"{}\"\n\n\
             [defaults]\nstart = \"2024-03-13\"\n\n[[report]]\nreport = \"clicks\"\n\n\
             [[report]]\nreport = \"offers\"\n",
            s(&dir.path().join("sync"))
        ),
    )
    .unwrap();
    let r = run(&["sync", "--config", s(&config)], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    all_soap(&server, "sync");

    // GET, asked for: the same rows, every request a GET with the key in its URL.
    server.faults(Faults::default());
    let get = dir.path().join("get");
    let r = pull_clicks(&url, &get, &["--protocol", "get"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = server.request_log();
    assert!(
        log.iter().all(|l| l.method == "GET" && l.key_in_url),
        "{log:?}"
    );
    assert_eq!(table_rows(&get, "clicks"), soap_rows);

    // The config's `protocol` is read too.
    server.faults(Faults::default());
    let config = dir.path().join("get.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\ndomain = \"{url}\"\nprotocol = \"get\"\n\n[output]\nlocation = \"{}\"\n\n\
             [[report]]\nreport = \"offers\"\n",
            s(&dir.path().join("sync-get"))
        ),
    )
    .unwrap();
    let r = run(&["sync", "--config", s(&config)], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let log = server.request_log();
    assert!(log.iter().all(|l| l.method == "GET"), "{log:?}");
}

#[test]
fn check_names_the_form_an_instance_takes() {
    let server = server();
    server.faults(Faults {
        refuse_soap: true,
        ..Faults::default()
    });
    let url = server.url();
    let env = [("CAKE_API_KEY", KEY)];
    let r = run(&["check", "--domain", &url], &env);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--protocol get"), "{}", r.stderr);
    assert!(!r.stderr.contains(KEY));
    let r = run(&["check", "--domain", &url, "--protocol", "get"], &env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("(get)"), "{}", r.stdout);

    // A pull over SOAP fails at once, as a refusal, not retried as a passing failure.
    server.faults(Faults {
        refuse_soap: true,
        ..Faults::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let r = run(
        &[
            "pull",
            "offers",
            "--domain",
            &url,
            "--out",
            s(&dir.path().join("o")),
            "--retries",
            "3",
        ],
        &env,
    );
    assert_ne!(r.code, 0);
    assert!(
        r.stderr.contains("soap:Sender") || r.stderr.contains("unable to read request"),
        "{}",
        r.stderr
    );
    assert_eq!(server.stats().requests, 1, "a refusal is not retried");
}

#[test]
fn a_bad_protocol_is_a_usage_error() {
    let r = run(
        &[
            "check",
            "--domain",
            "example.com",
            "--protocol",
            "carrier-pigeon",
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("soap") && r.stderr.contains("get"),
        "{}",
        r.stderr
    );
}
