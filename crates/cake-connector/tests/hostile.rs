//! The hostile matrix: a server that answers plausibly and wrongly, or tries to make the
//! connector leak its key or print terminal escapes, through the real binary.
//!
//! Every case ends one of two ways. Either the output holds exactly the rows of a clean run (a
//! misbehaviour on the first attempt only, which a re-pull of the window outlives), or the
//! command fails with the case's exit code and the previous output is byte-identical: nothing
//! of the affected window was committed. Whatever happens, the key is in no encoding in
//! stdout, stderr, the summary or any file written, no raw control byte other than a line end
//! reaches stdout or stderr, and no run outlasts its configured limits. The outcomes are
//! snapshot (`snapshots/hostile__matrix.snap`) and summarised in `docs/reliability.md`.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use cake_sandbox::{EchoPlace, Faults, Hostile, KeyEncoding, SandboxConfig};
use common::*;

/// A key made of reserved characters, so that every encoding of it differs from the others.
const KEY: &str = "h0st+ile/k=y&1<2>'\"%7";
const START: &str = "2024-03-04";
const ENCODINGS: [KeyEncoding; 7] = [
    KeyEncoding::Raw,
    KeyEncoding::PercentUpper,
    KeyEncoding::PercentLower,
    KeyEncoding::Form,
    KeyEncoding::Double,
    KeyEncoding::XmlEscaped,
    KeyEncoding::JsonEscaped,
];
const END: &str = "2024-03-05";

/// What a case must end in.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Expect {
    /// Exit 0 with exactly the clean rows.
    Same,
    /// This exit code, the previous output byte-identical.
    Fails(i32),
    /// Exit 0, every row committed; what happened to the offending value.
    Committed(&'static str),
}

struct Case {
    name: String,
    faults: Faults,
    extra: Vec<&'static str>,
    expect: Expect,
    /// Longest the run may take.
    within: Duration,
}

fn hostile(h: Hostile, first_only: bool) -> Faults {
    Faults {
        hostile: vec![h],
        hostile_attempts: if first_only { 1 } else { u32::MAX },
        ..Faults::default()
    }
}

fn case(name: &str, faults: Faults, expect: Expect) -> Case {
    Case {
        name: name.to_string(),
        faults,
        extra: Vec::new(),
        expect,
        within: Duration::from_secs(20),
    }
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let mut cases = Vec::new();
    // Pages that do not add up: once (a re-pull of the window outlives it), and always.
    for (name, h) in [
        ("short middle page", Hostile::ShortMiddlePage { missing: 4 }),
        ("a row repeated across pages", Hostile::RepeatRowAcrossPages),
        (
            "row_count changing between pages",
            Hostile::RowCountDrift { delta: 3 },
        ),
        (
            "empty pages under row_count 4000000",
            Hostile::EmptyPagesUnderLargeRowCount {
                row_count: 4_000_000,
            },
        ),
        ("rows of the day before", Hostile::OtherDay { days: -1 }),
    ] {
        cases.push(case(
            &format!("{name}, first pull"),
            hostile(h.clone(), true),
            Same,
        ));
        cases.push(case(
            &format!("{name}, every pull"),
            hostile(h, false),
            Fails(8),
        ));
    }
    // Answers to another request.
    cases.push(case(
        "another report's document",
        hostile(Hostile::WrongEndpoint, false),
        Fails(8),
    ));
    cases.push(case(
        "another API version",
        hostile(Hostile::WrongVersion, false),
        Fails(8),
    ));
    // A timestamp that readers cannot hold once read in a western time zone: never stored; the
    // cell is null and the value kept in `_rejected`, or, in strict mode, the window fails.
    for (strict, expect) in [
        (
            false,
            Committed("the cell null, the value kept in _rejected"),
        ),
        (true, Fails(8)),
    ] {
        let mut far = case(
            &format!(
                "9999-12-31T23:59:59.9999999 in America/New_York{}",
                if strict { ", --strict" } else { "" }
            ),
            hostile(Hostile::FarFutureTimestamp, false),
            expect,
        );
        far.extra = vec!["--timezone", "America/New_York", "--table", "clicks-ny"];
        if strict {
            far.extra.push("--strict");
        }
        cases.push(far);
    }
    // Cake's messages: passing failures are retried, refusals are not.
    for (message, once, always) in [
        ("Timeout expired. The timeout period elapsed prior to completion of the operation or the server is not responding.", Same, Fails(10)),
        ("Too many requests", Same, Fails(10)),
        ("Transaction (Process ID 61) was deadlocked on lock resources with another process and has been chosen as the deadlock victim. Rerun the transaction.", Same, Fails(10)),
        ("Object reference not set to an instance of an object.", Same, Fails(10)),
        ("", Same, Fails(10)),
        ("The moon is in the wrong phase", Same, Fails(9)),
        ("Invalid start_date", Fails(9), Fails(9)),
        ("Invalid API Key", Fails(3), Fails(3)),
    ] {
        let shown = if message.is_empty() { "(empty)" } else { message };
        let short: String = shown.chars().take(40).collect();
        let h = Hostile::CakeMessage(message.to_string());
        cases.push(case(&format!("success=false \"{short}\", first attempt"), hostile(h.clone(), true), once));
        cases.push(case(&format!("success=false \"{short}\", every attempt"), hostile(h, false), always));
    }
    // The key echoed in every encoding, at every place.
    for encoding in ENCODINGS {
        for (place, expect) in [
            (EchoPlace::Http500Body, Fails(10)),
            (EchoPlace::CakeMessage, Fails(9)),
            (EchoPlace::RedirectLocation, Fails(8)),
            (
                EchoPlace::RowValue,
                Committed("the key replaced by <redacted> in the value"),
            ),
        ] {
            let h = Hostile::KeyEcho { encoding, place };
            cases.push(case(
                &format!("key echo {encoding} @ {place}"),
                hostile(h, false),
                expect,
            ));
        }
    }
    // Terminal escapes in every place a server can put text.
    for (place, expect) in [
        (EchoPlace::Http500Body, Fails(10)),
        (EchoPlace::CakeMessage, Fails(9)),
        (EchoPlace::RedirectLocation, Fails(8)),
        (
            EchoPlace::RowValue,
            Committed("the value kept as sent, never printed"),
        ),
        (
            EchoPlace::RowValueNewlines,
            Committed("the value kept as sent, never printed"),
        ),
    ] {
        cases.push(case(
            &format!("control bytes @ {place}"),
            hostile(Hostile::ControlBytes { place }, false),
            expect,
        ));
    }
    // A body that trickles a byte every 200 ms: under the idle timeout, far below the minimum
    // rate of 100 bytes/s over 2 s.
    let mut slow = case(
        "1 byte every 200 ms",
        Faults {
            trickle: true,
            trickle_chunk: 1,
            trickle_pause: Duration::from_millis(200),
            ..Faults::default()
        },
        Fails(7),
    );
    slow.extra = vec![
        "--low-speed-limit",
        "100",
        "--low-speed-time",
        "2",
        "--retries",
        "1",
    ];
    slow.within = Duration::from_secs(12);
    cases.push(slow);
    cases
}

fn pull(server: &Server, out: &Path, summary: &Path, extra: &[&str]) -> Run {
    let url = server.url();
    let mut args = vec![
        "pull",
        "clicks",
        "--start",
        START,
        "--end",
        END,
        "--page-size",
        "7",
        "--domain",
        &url,
        "--out",
        s(out),
        "--retry-base-ms",
        "1",
        "--keep-raw",
        "--summary-json",
        s(summary),
    ];
    if !extra.contains(&"--retries") {
        args.extend_from_slice(&["--retries", "3"]);
    }
    if !extra.contains(&"--concurrency") {
        args.extend_from_slice(&["--concurrency", "2"]);
    }
    args.extend_from_slice(extra);
    run(&args, &[("CAKE_API_KEY", KEY)])
}

/// Every form the key can take in text.
fn key_forms() -> Vec<String> {
    let mut forms: Vec<String> = ENCODINGS.iter().map(|e| e.encode(KEY)).collect();
    forms.push(KEY.to_ascii_lowercase());
    forms
}

/// Fails when `bytes` hold the key in any encoding: each known form, and whatever the
/// connector's own scrubber would find.
fn assert_no_key(what: &str, bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    for form in key_forms() {
        assert!(!text.contains(&form), "{what} holds the key as {form:?}");
    }
    let key = cake_transport::ApiKey::new(KEY).unwrap();
    assert!(
        !key.scrubber().found_in(&text),
        "{what} holds an encoding of the key"
    );
}

/// Fails when `text` holds a control byte other than a line end, or a forged line.
fn assert_printable(what: &str, text: &str) {
    for c in text.chars() {
        assert!(
            c == '\n' || !c.is_control(),
            "{what} holds the control character {c:?}: {text}"
        );
    }
    assert!(
        !text.lines().any(|l| l.starts_with("error: forged")),
        "{what} holds a forged line: {text}"
    );
}

/// Every file below `dir`, decompressed when it is a raw response.
fn files_below(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    for (rel, bytes) in tree(dir) {
        let Some(bytes) = bytes else { continue };
        if rel.contains("_raw/") {
            assert!(rel.ends_with(".xml.zst"), "{rel}");
            out.push((rel, zstd::stream::decode_all(bytes.as_slice()).unwrap()));
        } else {
            out.push((rel, bytes));
        }
    }
    out
}

#[test]
fn matrix() {
    let server = Server::start(SandboxConfig {
        seed: 11,
        api_key: KEY.into(),
        rows_per_day: 20,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let clean = dir.path().join("clean");
    let r = pull(&server, &clean, &summary, &[]);
    assert_eq!(r.code, 0, "the clean run: {}", r.stderr);
    let expected = table_rows(&clean, "clicks");
    assert_eq!(expected.len(), 40);
    let mut transcript = format!(
        "clicks {START} to {END}, 20 rows a day, pages of 7: {} rows without faults\n",
        expected.len()
    );
    for (i, case) in cases().into_iter().enumerate() {
        server.faults(case.faults.clone());
        let out = dir.path().join(format!("case-{i}"));
        let mut extra = case.extra.clone();
        if case.expect != Expect::Same {
            // One window at a time: the first window's failure is the one reported.
            extra.extend_from_slice(&["--concurrency", "1"]);
            copy_tree(&clean, &out);
        }
        let before = tree(&out);
        let started = Instant::now();
        let r = pull(&server, &out, &summary, &extra);
        let took = started.elapsed();
        let name = &case.name;
        assert!(took < case.within, "{name}: took {took:?}");
        assert!(
            server.stats().faults.hostile + server.stats().faults.trickled > 0,
            "{name}: nothing injected"
        );
        assert_printable(&format!("{name}: stderr"), &r.stderr);
        assert_printable(&format!("{name}: stdout"), &r.stdout);
        assert_no_key(&format!("{name}: stderr"), r.stderr.as_bytes());
        assert_no_key(&format!("{name}: stdout"), r.stdout.as_bytes());
        let summary_text = std::fs::read(&summary).unwrap();
        assert_no_key(&format!("{name}: the summary"), &summary_text);
        for (rel, bytes) in files_below(&out) {
            assert_no_key(&format!("{name}: {rel}"), &bytes);
        }
        for table in ["clicks", "clicks-ny"] {
            let values = table_rows(&out, table).join("\n");
            assert_no_key(&format!("{name}: the values of {table}"), values.as_bytes());
        }
        let requests = server.stats().requests;
        if name.starts_with("empty pages") {
            // Two windows, three pulls each, and at most the first page plus the two in flight
            // per pull: never the 571,429 pages row_count announces.
            assert!(requests <= 18, "{name}: {requests} requests");
        }
        let status = serde_json::from_slice::<serde_json::Value>(&summary_text).unwrap()["status"]
            .as_str()
            .unwrap()
            .to_string();
        let outcome = match case.expect {
            Expect::Same => {
                assert_eq!(r.code, 0, "{name}: {}", r.stderr);
                assert_eq!(status, "ok");
                assert!(
                    table_rows(&out, "clicks") == expected,
                    "{name}: rows differ from the clean run"
                );
                check_location(&out, &["clicks"]).unwrap();
                "same rows".to_string()
            }
            Expect::Committed(what) => {
                assert_eq!(r.code, 0, "{name}: {}", r.stderr);
                assert_eq!(status, "ok");
                let table = if case.extra.contains(&"clicks-ny") {
                    "clicks-ny"
                } else {
                    "clicks"
                };
                check_location(&out, &[table]).unwrap();
                assert_eq!(table_rows(&out, table).len(), expected.len());
                format!("committed, {what}")
            }
            Expect::Fails(code) => {
                assert_eq!(r.code, code, "{name}: {}", r.stderr);
                assert_eq!(status, "failed");
                assert!(tree(&out) == before, "{name}: the previous output changed");
                format!("exit {code}, previous output byte-identical")
            }
        };
        let verdict = without_queries(&stable(r.verdict()));
        eprintln!(
            "{name} | exit {} | {:.2} s | {requests} requests | {outcome}",
            r.code,
            took.as_secs_f64()
        );
        transcript.push_str(&format!("{name}: {outcome}\n"));
        if !verdict.is_empty() {
            transcript.push_str(&format!("    {verdict}\n"));
        }
    }
    insta::assert_snapshot!("matrix", transcript);
}
