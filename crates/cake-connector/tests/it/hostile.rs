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

use crate::common;

use std::path::Path;
use std::time::{Duration, Instant};

use cake_sandbox::{EchoPlace, Faults, Hostile, KeyEncoding, SandboxConfig};
use common::*;

/// A key made of reserved characters, so that every encoding of it differs from the others.
const KEY: &str = "h0st+ile/k=y&1<2>'\"%7";
const START: &str = "2024-03-04";
const ENCODINGS: [KeyEncoding; 11] = [
    KeyEncoding::Raw,
    KeyEncoding::PercentUpper,
    KeyEncoding::PercentLower,
    KeyEncoding::Form,
    KeyEncoding::Double,
    KeyEncoding::XmlEscaped,
    KeyEncoding::JsonEscaped,
    KeyEncoding::Half,
    KeyEncoding::LineBroken,
    KeyEncoding::Base64,
    KeyEncoding::Hex,
];
/// Echoes in a row: whatever length a reader cuts an excerpt at, the cut falls inside one.
const ECHOES: u32 = 20;
/// Peak resident memory any run of the matrix may reach, whatever one page holds.
const MEMORY_BOUND: u64 = 200 << 20;
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
    /// Exit 0 with the clean rows in every column but `_rejected` and `_extra`, which say what
    /// happened.
    SameButRejected(&'static str),
}

struct Case {
    name: String,
    faults: Faults,
    extra: Vec<&'static str>,
    expect: Expect,
    /// Longest the run may take.
    within: Duration,
    /// Keep the raw responses (`--keep-raw`): their files are checked for the key too.
    keep_raw: bool,
    /// A case of the decoder's memory (rows of hundreds of megabytes): the form of the
    /// request plays no part, so it runs in the default form only.
    memory: bool,
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
        memory: false,
        keep_raw: true,
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
            let h = Hostile::KeyEcho {
                encoding,
                place,
                times: ECHOES,
            };
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
    second_round(&mut cases);
    cases
}

/// Values read once, encodings, misplaced rows, waits and memory.
fn second_round(cases: &mut Vec<Case>) {
    use Expect::*;
    for (name, h) in [
        (
            "row_count written twice",
            Hostile::RepeatedRowCount { delta: 40 },
        ),
        (
            "click_id twice in a row",
            Hostile::RepeatedElement {
                column: "click_id".into(),
            },
        ),
        (
            "page 2 of the day before",
            Hostile::PageOfDayBefore { page: 2 },
        ),
    ] {
        let mut once = case(
            &format!("{name}, first pull"),
            hostile(h.clone(), true),
            Same,
        );
        if !name.starts_with("page") {
            // A page that contradicts itself stops its pull at once, before the later pages
            // are asked for: in one page, the next pull gets the clean answer.
            once.extra = vec!["--page-size", "100"];
        }
        cases.push(once);
        cases.push(case(
            &format!("{name}, every pull"),
            hostile(h, false),
            Fails(8),
        ));
    }
    cases.push(case(
        "sub_id_5 twice in a row",
        hostile(
            Hostile::RepeatedElement {
                column: "sub_id_5".into(),
            },
            false,
        ),
        SameButRejected("the first value kept, the second in _rejected"),
    ));
    cases.push(case(
        "a document in ISO-8859-1",
        hostile(Hostile::Latin1, false),
        Same,
    ));
    cases.push(case(
        "a row dated 2099",
        hostile(
            Hostile::RowDated {
                timestamp: "2099-01-01T00:00:00".into(),
            },
            false,
        ),
        Fails(8),
    ));
    let mut silent = case(
        "a server that never answers",
        hostile(Hostile::Silent, false),
        Fails(7),
    );
    silent.extra = vec!["--head-timeout", "1", "--retries", "1"];
    silent.within = Duration::from_secs(8);
    cases.push(silent);
    for value in ["999999", "Thu, 01 Jan 2099 00:00:00 GMT"] {
        let mut wait = case(
            &format!("Retry-After: {value}"),
            hostile(
                Hostile::RetryAfter {
                    value: value.into(),
                },
                false,
            ),
            Fails(10),
        );
        wait.within = Duration::from_secs(5);
        cases.push(wait);
    }
    cases.push(case(
        "a 1 MiB response head",
        hostile(Hostile::LargeHead { bytes: 1 << 20 }, false),
        Fails(8),
    ));
    // Memory: one row holding 300 MB, refused or truncated, never held.
    let huge = Hostile::LargeRow { bytes: 300 << 20 };
    let mut refused = case(
        "300 MB of unknown elements in one row",
        hostile(huge.clone(), false),
        Fails(8),
    );
    refused.memory = true;
    cases.push(refused);
    let mut truncated = case(
        "300 MB of unknown elements in one row, --truncate-extra",
        hostile(huge, false),
        SameButRejected("_extra truncated, its size in _rejected"),
    );
    truncated.extra = vec!["--truncate-extra"];
    // 300 MB of raw response, compressed, would measure zstd rather than the decoder.
    truncated.keep_raw = false;
    truncated.memory = true;
    cases.push(truncated);
    let mut repeated = case(
        "a known element 300 times 1 MiB in one row",
        hostile(Hostile::RepeatedKnownElement { times: 300 }, false),
        Fails(8),
    );
    repeated.memory = true;
    cases.push(repeated);
    let mut names = case(
        "120,000 unknown names in one row, --truncate-extra",
        hostile(Hostile::UnknownNames { names: 120_000 }, false),
        SameButRejected("_extra truncated; the names counted in one bounded line"),
    );
    names.extra = vec!["--truncate-extra"];
    names.memory = true;
    cases.push(names);
}

/// A pull of the matrix's window, with the peak resident memory of the process.
fn pull(server: &Server, out: &Path, summary: &Path, extra: &[&str], keep_raw: bool) -> (Run, u64) {
    let url = server.url();
    let mut args = vec![
        "pull",
        "clicks",
        "--start",
        START,
        "--end",
        END,
        "--domain",
        &url,
        "--out",
        s(out),
        "--retry-base-ms",
        "1",
        "--summary-json",
        s(summary),
    ];
    if keep_raw {
        args.push("--keep-raw");
    }
    if !extra.contains(&"--retries") {
        args.extend_from_slice(&["--retries", "3"]);
    }
    if !extra.contains(&"--page-size") {
        args.extend_from_slice(&["--page-size", "7"]);
    }
    if !extra.contains(&"--concurrency") {
        args.extend_from_slice(&["--concurrency", "2"]);
    }
    args.extend_from_slice(extra);
    let mut c = command(&args);
    c.env("CAKE_API_KEY", KEY);
    run_measured(c)
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

/// Every hostile case, with requests in SOAP's form (the default).
#[test]
fn matrix() {
    let transcript = run_matrix("soap");
    insta::assert_snapshot!("matrix", transcript);
}

/// The same cases with requests in GET's form: the same rows (the clean run's hash is in the
/// first line) and the same outcome for every case but the decoder's memory cases, which do
/// not depend on the form.
#[test]
fn matrix_over_get() {
    let transcript = run_matrix("get");
    let memory: Vec<String> = cases()
        .into_iter()
        .filter(|c| c.memory)
        .map(|c| format!("{}: ", c.name))
        .collect();
    let committed: Vec<String> = committed_outcomes("hostile", "matrix")
        .into_iter()
        .filter(|line| !memory.iter().any(|m| line.starts_with(m.as_str())))
        .collect();
    assert_eq!(outcomes(&transcript), committed);
}

/// The matrices take turns: both at once on two cores would measure the machine against the
/// cases' time bounds, not the connector.
static TURNS: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn run_matrix(protocol: &'static str) -> String {
    let _turn = TURNS.lock().unwrap_or_else(|p| p.into_inner());
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
    let (r, _) = pull(&server, &clean, &summary, &["--protocol", protocol], true);
    assert_eq!(r.code, 0, "the clean run: {}", r.stderr);
    let expected = table_rows(&clean, "clicks");
    assert_eq!(expected.len(), 40);
    let mut transcript = format!(
        "clicks {START} to {END}, 20 rows a day, pages of 7: {} rows without faults ({})\n",
        expected.len(),
        rows_hash(&expected)
    );
    for (i, case) in cases().into_iter().enumerate() {
        if case.memory && protocol != "soap" {
            continue;
        }
        server.faults(case.faults.clone());
        let out = dir.path().join(format!("case-{i}"));
        let mut extra = case.extra.clone();
        extra.extend_from_slice(&["--protocol", protocol]);
        if case.expect != Expect::Same {
            // One window at a time: the first window's failure is the one reported.
            extra.extend_from_slice(&["--concurrency", "1"]);
            copy_tree(&clean, &out);
        }
        let before = tree(&out);
        let started = Instant::now();
        let (r, peak) = pull(&server, &out, &summary, &extra, case.keep_raw);
        let took = started.elapsed();
        let name = &case.name;
        assert!(took < case.within, "{name}: took {took:?}");
        assert!(peak < MEMORY_BOUND, "{name}: peak RSS {} MiB", peak >> 20);
        assert!(
            !r.stderr.contains("stack backtrace") && !r.stderr.contains("panicked"),
            "{name}: {}",
            r.stderr
        );
        assert!(
            r.stderr.lines().count() <= 40,
            "{name}: {} lines on stderr",
            r.stderr.lines().count()
        );
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
        assert!(
            summary_text.len() < 64 << 10,
            "{name}: a summary of {} bytes",
            summary_text.len()
        );
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
            Expect::SameButRejected(what) => {
                assert_eq!(r.code, 0, "{name}: {}", r.stderr);
                assert_eq!(status, "ok");
                assert!(
                    table_rows_except(&out, "clicks", &["_rejected", "_extra"])
                        == table_rows_except(&clean, "clicks", &["_rejected", "_extra"]),
                    "{name}: rows differ from the clean run"
                );
                assert_ne!(
                    table_rows(&out, "clicks"),
                    table_rows(&clean, "clicks"),
                    "{name}: nothing says what happened"
                );
                check_location(&out, &["clicks"]).unwrap();
                format!("same rows, {what}")
            }
            Expect::Fails(code) => {
                assert_eq!(r.code, code, "{name}: {}", r.stderr);
                assert_eq!(status, "failed");
                assert!(tree(&out) == before, "{name}: the previous output changed");
                format!("exit {code}, previous output byte-identical")
            }
        };
        let verdict = without_queries(&stable(&r.verdict()));
        eprintln!(
            "{name} | exit {} | {:.2} s | {requests} requests | peak RSS {} MiB | {outcome}",
            r.code,
            took.as_secs_f64(),
            peak >> 20
        );
        transcript.push_str(&format!("{name}: {outcome}\n"));
        if !verdict.is_empty() {
            transcript.push_str(&format!("    {verdict}\n"));
        }
    }
    transcript
}

/// A change feed places rows by their change date, but only inside the days the window asked
/// for: a row dated on an earlier day, or in 2099, fails the window (nothing written), and
/// accepted knowingly it lands in the window's own partitions, never replacing another day's.
#[test]
fn change_rows_outside_their_window_never_replace_another_day() {
    let server = Server::start(SandboxConfig {
        seed: 5,
        api_key: KEY.into(),
        rows_per_day: 20,
        ..SandboxConfig::default()
    });
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let url = server.url();
    let pull = |days: &str, extra: &[&str]| {
        let mut args = vec![
            "pull",
            "conversion-changes",
            "--past-days",
            days,
            "--domain",
            &url,
            "--out",
            s(&out),
            "--retry-base-ms",
            "1",
        ];
        args.extend_from_slice(extra);
        run(&args, &[("CAKE_API_KEY", KEY)])
    };
    let r = pull("6", &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let today = chrono::Utc::now().date_naive();
    let earlier = today - chrono::Duration::days(4);
    let partition = |day: chrono::NaiveDate| format!("conversion-changes/date={day}");
    for timestamp in [format!("{earlier}T12:00:00"), "2099-01-01T00:00:00".into()] {
        let before = tree(&out);
        assert!(
            before.keys().any(|k| k.starts_with(&partition(earlier))),
            "the clean run wrote {earlier}: {:?}",
            before.keys().collect::<Vec<_>>()
        );
        server.faults(hostile(
            Hostile::RowDated {
                timestamp: timestamp.clone(),
            },
            false,
        ));
        // The last two days own their partitions; the row says another day.
        let r = pull("2", &[]);
        assert_eq!(r.code, 8, "{timestamp}: {}", r.stderr);
        assert!(
            r.verdict().contains("dated outside the window"),
            "{timestamp}: {}",
            r.verdict()
        );
        assert!(tree(&out) == before, "{timestamp}: the output changed");
        // Accepted knowingly: the row stays in the window's days; every other day is as it
        // was, and no day after today appears.
        let r = pull("2", &["--accept-rows-outside-window"]);
        assert_eq!(r.code, 0, "{timestamp}: {}", r.stderr);
        assert!(
            r.stderr.contains("dated outside the window"),
            "{}",
            r.stderr
        );
        let after = tree(&out);
        let owned =
            |k: &str| (0..=2).any(|d| k.starts_with(&partition(today - chrono::Duration::days(d))));
        for (k, v) in &before {
            if !owned(k) && k.starts_with("conversion-changes/date=") {
                assert_eq!(after.get(k), Some(v), "{timestamp}: {k} changed");
            }
        }
        for k in after.keys() {
            assert!(
                owned(k) || before.contains_key(k),
                "{timestamp}: {k} was written"
            );
        }
        // Back to the clean state for the next case.
        server.faults(Faults::default());
        let r = pull("6", &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
    }
}
