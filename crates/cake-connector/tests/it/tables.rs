//! Operators' mistakes against one table, through the real binary: each ends refused with a
//! clear message and the table unchanged, or with a table equal to a single clean run.

use crate::common;

use std::path::Path;

use cake_sandbox::SandboxConfig;
use common::*;

const KEY: &str = "tables-key-3a9c55";

fn server() -> Server {
    Server::start(SandboxConfig {
        seed: 5,
        api_key: KEY.into(),
        rows_per_day: 30,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    })
}

fn pull(server: &Server, out: &Path, args: &[&str]) -> Run {
    let url = server.url();
    let mut all = vec!["pull"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--domain", &url, "--out", s(out)]);
    run(&all, &[("CAKE_API_KEY", KEY)])
}

/// A refused run: exit 2, the message naming every field in `fields`, the output unchanged.
fn assert_refused(
    r: &Run,
    out: &Path,
    before: &std::collections::BTreeMap<String, Option<Vec<u8>>>,
    fields: &[&str],
) {
    assert_eq!(r.code, 2, "{}", r.stderr);
    let verdict = r.verdict();
    assert!(
        verdict.contains("was written with a different contract"),
        "{verdict}"
    );
    for f in fields {
        assert!(verdict.contains(f), "`{f}` not named in: {verdict}");
    }
    assert!(
        r.stderr.contains("--table NAME") && r.stderr.contains("--rebuild-table"),
        "{}",
        r.stderr
    );
    assert!(tree(out) == *before, "the table changed");
}

#[test]
fn runs_that_would_mix_rows_are_refused_before_any_request() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let days = ["clicks", "--start", "2024-03-01", "--end", "2024-03-03"];
    let r = pull(&server, &out, &days);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let clean = table_rows(&out, "clicks");
    assert_eq!(clean.len(), 90);
    let before = tree(&out);

    let mut refused = Vec::new();
    for (what, extra, fields) in [
        (
            "the same days in month windows",
            vec!["--window", "month"],
            vec!["layout"],
        ),
        (
            "a filtered pull",
            vec!["--offer-id", "3002"],
            vec!["param.offer_id"],
        ),
        (
            "another time zone",
            vec!["--timezone", "America/New_York"],
            vec!["timezone"],
        ),
    ] {
        server.faults(cake_sandbox::Faults::default());
        let mut args = days.to_vec();
        args.extend_from_slice(&extra);
        let r = pull(&server, &out, &args);
        assert_refused(&r, &out, &before, &fields);
        assert_eq!(server.stats().requests, 0, "{what}: a request was sent");
        refused.push(what);
    }

    // The filtered pull as a table of its own: the unfiltered table is untouched.
    let mut args = days.to_vec();
    args.extend_from_slice(&["--offer-id", "3002", "--table", "clicks-offer-3002"]);
    let r = pull(&server, &out, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(table_rows(&out, "clicks"), clean);
    let filtered = table_rows(&out, "clicks-offer-3002");
    assert!(!filtered.is_empty() && filtered.len() < clean.len());
    check_location(&out, &["clicks", "clicks-offer-3002"]).unwrap();

    // A rebuild with the new settings replaces the table whole: no day of the old one stays.
    let mut args = vec!["clicks", "--start", "2024-03-02", "--end", "2024-03-02"];
    args.extend_from_slice(&["--timezone", "America/New_York", "--rebuild-table"]);
    let r = pull(&server, &out, &args);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let rebuilt = table_rows(&out, "clicks");
    assert!(
        rebuilt.iter().all(|r| r.starts_with("date=2024-03-02/")),
        "old days stayed"
    );
    assert_eq!(rebuilt.len(), 30);
    let contract: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("clicks/_table.json")).unwrap()).unwrap();
    assert_eq!(contract["fields"]["timezone"], "America/New_York");
}

#[test]
fn days_after_today_are_never_committed() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    // The sandbox's today is 2024-03-15, but the run's clock is the real one: use a range that
    // ends tomorrow by the real clock.
    let today = chrono::Utc::now().date_naive();
    let end = (today + chrono::Days::new(3)).to_string();
    let start = (today - chrono::Days::new(1)).to_string();
    let r = pull(&server, &out, &["clicks", "--start", &start, "--end", &end]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stderr.contains("lies after today"), "{}", r.stderr);
    let partitions = check_location(&out, &["clicks"]).unwrap().partitions;
    assert_eq!(
        partitions.into_iter().collect::<Vec<_>>(),
        [
            format!("clicks/date={start}"),
            format!("clicks/date={today}")
        ]
    );
    // Dates that start after today are refused outright.
    let r = pull(&server, &out, &["clicks", "--start", &end, "--end", &end]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.verdict().contains("after today"), "{}", r.stderr);
}

#[test]
fn malformed_locations_are_usage_errors() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let url = server.url();
    for location in ["s3:/bucket/x", "s3//bucket/x", "gs://bucket/x", "s3:bucket"] {
        let r = finished(
            command(&["pull", "offers", "--domain", &url, "--out", location])
                .env("CAKE_API_KEY", KEY)
                .current_dir(dir.path())
                .output()
                .unwrap(),
        );
        assert_eq!(r.code, 2, "{location}: {}", r.stderr);
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "{location}: a local folder was created"
        );
    }
    assert_eq!(server.stats().requests, 0);
    // A summary into a folder that does not exist is refused before anything is sent.
    let out = dir.path().join("lake");
    let missing = dir.path().join("no-such-folder/run.json");
    let r = pull(&server, &out, &["offers", "--summary-json", s(&missing)]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert_eq!(server.stats().requests, 0);
}

#[test]
fn convert_refuses_to_overwrite_without_force() {
    let dir = tempfile::tempdir().unwrap();
    let input = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/responses/clicks/get.xml");
    let target = dir.path().join("existing.parquet");
    std::fs::write(&target, b"not parquet, but someone's file").unwrap();
    let convert = |force: bool| {
        let mut args = vec![
            "convert",
            "--report",
            "clicks",
            s(&input),
            "--out",
            s(&target),
        ];
        if force {
            args.push("--force");
        }
        run(&args, &[])
    };
    let r = convert(false);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.verdict().contains("--force"), "{}", r.stderr);
    assert_eq!(
        std::fs::read(&target).unwrap(),
        b"not parquet, but someone's file"
    );
    let r = convert(true);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(parquet_rows(&target).unwrap().len(), 4);
}

#[test]
fn the_demo_writes_only_where_it_may() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    std::fs::create_dir_all(lake.join("sales")).unwrap();
    std::fs::write(lake.join("sales/part-0.parquet"), b"someone's data").unwrap();
    let before = tree(&lake);
    let demo = |out: &Path| {
        run(
            &[
                "demo",
                "--out",
                s(out),
                "--days",
                "1",
                "--rows-per-day",
                "5",
            ],
            &[],
        )
    };
    let r = demo(&lake);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.verdict().contains("holds other data"), "{}", r.stderr);
    assert!(tree(&lake) == before);
    // An empty location, then the same one again: a previous demo may be replaced.
    let fresh = dir.path().join("demo");
    for _ in 0..2 {
        let r = demo(&fresh);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
    check_location(&fresh, &["clicks", "offers"]).unwrap();
}
