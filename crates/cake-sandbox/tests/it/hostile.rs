//! Every hostile behaviour observed from a client over real HTTP, compared with the clean
//! answer (`respond`) byte for byte where it can be; `hostile_attempts`; the counters; the
//! `--hostile` forms; and slow bodies whose client goes away.

use crate::common;

use std::time::{Duration, Instant};

use cake_catalog::find;
use cake_sandbox::{
    header_safe, respond, EchoPlace, Faults, Hostile, KeyEncoding, Sandbox, SandboxConfig,
    FAR_FUTURE_TIMESTAMP, HOSTILE_CONTROL_BYTES, HOSTILE_NEWLINES_XML, REDIRECT_PREFIX,
};
use common::*;
use futures_util::StreamExt;

/// Rows per day: a Clicks day in pages of [`LIMIT`] is 8 + 8 + 4 rows.
const ROWS: u32 = 20;
const LIMIT: u32 = 8;
/// A key with bytes every encoding treats differently.
const NASTY_KEY: &str = "k3y+/ =&<\"'é%";

fn cfg(key: &str) -> SandboxConfig {
    SandboxConfig {
        api_key: key.to_string(),
        ..config(ROWS)
    }
}

async fn start_with(key: &str, hostile: Vec<Hostile>, attempts: u32) -> Sandbox {
    Sandbox::start(SandboxConfig {
        faults: Faults {
            hostile,
            hostile_attempts: attempts,
            ..Faults::default()
        },
        ..cfg(key)
    })
    .await
    .unwrap()
}

async fn start(hostile: Vec<Hostile>) -> Sandbox {
    start_with(KEY, hostile, u32::MAX).await
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

struct Got {
    status: u16,
    content_type: String,
    location: Option<Vec<u8>>,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).unwrap()
    }
}

async fn get(s: &Sandbox, q: &str) -> Got {
    let r = client()
        .get(format!("{}{q}", s.url()))
        .send()
        .await
        .unwrap();
    let header = |name| r.headers().get(name).map(|v| v.as_bytes().to_vec());
    let content_type = String::from_utf8(header("content-type").unwrap()).unwrap();
    let location = header("location");
    Got {
        status: r.status().as_u16(),
        content_type,
        location,
        body: r.bytes().await.unwrap().to_vec(),
    }
}

/// A Clicks request for one day of March 2024 and one page.
fn clicks_page(key: &str, day: u32, start_at_row: u32, row_limit: u32) -> String {
    report_page("clicks", key, day, start_at_row, row_limit)
}

fn report_page(id: &str, key: &str, day: u32, start_at_row: u32, row_limit: u32) -> String {
    let report = find(id).unwrap();
    let q = query_with(
        report,
        &typical_options(report),
        key,
        start_at_row,
        row_limit,
    );
    let q = with_param(&q, "start_date", &format!("2024-03-{day:02}T00:00:00"));
    with_param(&q, "end_date", &format!("2024-03-{:02}T00:00:00", day + 1))
}

fn page(n: u32) -> String {
    clicks_page(KEY, 10, 1 + (n - 1) * LIMIT, LIMIT)
}

fn clean(q: &str) -> Vec<u8> {
    respond(&config(ROWS), q).body
}

/// Asserts two bodies are the same bytes, showing where they differ (not the whole bodies).
#[track_caller]
fn same(got: &[u8], want: &[u8], what: &str) {
    if got != want {
        let at = got
            .iter()
            .zip(want)
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        let around = |b: &[u8]| {
            String::from_utf8_lossy(&b[at.saturating_sub(80)..(at + 80).min(b.len())]).into_owned()
        };
        panic!(
            "{what}: bodies differ at byte {at} (lengths {} and {}):\n got: {:?}\nwant: {:?}",
            got.len(),
            want.len(),
            around(got),
            around(want)
        );
    }
}

fn click_ids(body: &[u8]) -> Vec<String> {
    read(body, "click").column("click_id")
}

/// `body` is `clean` with `inserted` put in once; returns where.
fn inserted_once(body: &[u8], clean: &[u8], inserted: &[u8]) -> usize {
    assert_eq!(body.len(), clean.len() + inserted.len(), "one insertion");
    let at = body
        .iter()
        .zip(clean)
        .position(|(a, b)| a != b)
        .unwrap_or(clean.len());
    same(
        &body[at..at + inserted.len()],
        inserted,
        "the inserted bytes",
    );
    same(
        &body[at + inserted.len()..],
        &clean[at..],
        "after the insertion",
    );
    at
}

#[tokio::test]
async fn short_middle_page_drops_rows_of_middle_pages_only() {
    let s = start(vec![Hostile::ShortMiddlePage { missing: 4 }]).await;
    let (p1, p2, p3) = (
        get(&s, &page(1)).await,
        get(&s, &page(2)).await,
        get(&s, &page(3)).await,
    );
    same(&p1.body, &clean(&page(1)), "the first page is clean");
    same(&p3.body, &clean(&page(3)), "the last page is clean");
    let d2 = read(&p2.body, "click");
    assert_eq!(d2.row_count, Some(20), "row_count unchanged");
    assert_eq!(d2.rows.len(), LIMIT as usize - 4);
    let real = click_ids(&clean(&page(2)));
    assert_eq!(
        d2.column("click_id"),
        real[..4].to_vec(),
        "the last 4 dropped"
    );
    assert_eq!(s.stats().faults.hostile, 1);
    // A page in the middle of a longer request, and one page past the end: the latter is last.
    let q = clicks_page(KEY, 10, 5, 5);
    assert_eq!(read(&get(&s, &q).await.body, "click").rows.len(), 1);
    let q = clicks_page(KEY, 10, 21, LIMIT);
    same(&get(&s, &q).await.body, &clean(&q), "body");
    assert_eq!(s.stats().faults.hostile, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn repeat_row_copies_the_last_row_of_the_previous_page() {
    let s = start(vec![Hostile::RepeatRowAcrossPages]).await;
    let p1 = get(&s, &page(1)).await;
    same(&p1.body, &clean(&page(1)), "body");
    let ids1 = click_ids(&p1.body);
    for n in [2, 3] {
        let got = get(&s, &page(n)).await;
        let d = read(&got.body, "click");
        assert_eq!(d.row_count, Some(20));
        let ids = d.column("click_id");
        let real = click_ids(&clean(&page(n)));
        let prev = click_ids(&clean(&page(n - 1)));
        assert_eq!(ids.len(), real.len(), "page size unchanged");
        assert_eq!(
            ids[0],
            *prev.last().unwrap(),
            "page {n} starts with a repeat"
        );
        assert_eq!(ids[1..], real[1..], "the other rows are real");
        assert_ne!(ids[0], real[0]);
        if n == 2 {
            assert_eq!(ids[0], *ids1.last().unwrap());
            // The whole row is the copy, not only its id.
            assert_eq!(d.rows[0], read(&p1.body, "click").rows[7]);
        }
    }
    assert_eq!(s.stats().faults.hostile, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn row_count_drift_on_pages_after_the_first() {
    let s = start(vec![Hostile::RowCountDrift { delta: 3 }]).await;
    same(&get(&s, &page(1)).await.body, &clean(&page(1)), "body");
    let got = get(&s, &page(2)).await.text();
    let real = String::from_utf8(clean(&page(2))).unwrap();
    assert_eq!(
        got,
        real.replace("<row_count>20</row_count>", "<row_count>23</row_count>"),
        "only row_count differs"
    );
    // Past the real end, the drifted count is still claimed over an empty page.
    let q = clicks_page(KEY, 10, 21, LIMIT);
    let d = read(&get(&s, &q).await.body, "click");
    assert_eq!((d.row_count, d.rows.len()), (Some(23), 0));
    assert_eq!(s.stats().faults.hostile, 2);
    s.set_faults(Faults {
        hostile: vec![Hostile::RowCountDrift { delta: -25 }],
        ..Faults::default()
    });
    let d = read(&get(&s, &page(3)).await.body, "click");
    assert_eq!((d.row_count, d.rows.len()), (Some(0), 4), "saturates at 0");
    s.shutdown().await;
}

#[tokio::test]
async fn empty_pages_under_a_large_row_count() {
    let s = start(vec![Hostile::EmptyPagesUnderLargeRowCount {
        row_count: 4_000_000,
    }])
    .await;
    let got = get(&s, &page(1)).await.text();
    let real = String::from_utf8(clean(&page(1))).unwrap();
    assert_eq!(
        got,
        real.replace(
            "<row_count>20</row_count>",
            "<row_count>4000000</row_count>"
        )
    );
    for start_at_row in [9, 17, 3_999_993] {
        let got = get(&s, &clicks_page(KEY, 10, start_at_row, LIMIT)).await;
        let text = got.text();
        assert!(text.contains("  <row_count>4000000</row_count>\r\n  <clicks />\r\n"));
        let d = read(&got.body, "click");
        assert_eq!((d.success.as_deref(), d.rows.len()), (Some("true"), 0));
    }
    assert_eq!(s.stats().faults.hostile, 4);
    s.shutdown().await;
}

#[tokio::test]
async fn page_behaviours_leave_single_pages_and_unpaged_reports_clean() {
    let s = start(vec![
        Hostile::ShortMiddlePage { missing: 2 },
        Hostile::RepeatRowAcrossPages,
        Hostile::RowCountDrift { delta: 5 },
    ])
    .await;
    // All rows in one page: first and last at once.
    let all = clicks_page(KEY, 10, 1, 0);
    same(&get(&s, &all).await.body, &clean(&all), "body");
    for id in ["account-status", "advertisers", "daily-summary"] {
        let q = query(find(id).unwrap(), KEY);
        same(&get(&s, &q).await.body, &clean(&q), id);
    }
    assert_eq!(s.stats().faults.hostile, 0, "nothing was injected");
    // Together on a middle page: short, starting with a repeat, drifted count.
    let d = read(&get(&s, &page(2)).await.body, "click");
    let real = click_ids(&clean(&page(2)));
    let prev = click_ids(&clean(&page(1)));
    assert_eq!(d.row_count, Some(25));
    assert_eq!(
        d.column("click_id"),
        [vec![prev[7].clone()], real[1..6].to_vec()].concat()
    );
    assert_eq!(s.stats().faults.hostile, 1);
    s.shutdown().await;
}

fn escape_text(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

const ENCODINGS: [KeyEncoding; 7] = [
    KeyEncoding::Raw,
    KeyEncoding::PercentUpper,
    KeyEncoding::PercentLower,
    KeyEncoding::Form,
    KeyEncoding::Double,
    KeyEncoding::XmlEscaped,
    KeyEncoding::JsonEscaped,
];

#[tokio::test]
async fn key_echo_in_every_encoding_and_place() {
    let s = start_with(NASTY_KEY, Vec::new(), u32::MAX).await;
    let q = clicks_page(NASTY_KEY, 10, 1, LIMIT);
    assert!(
        q.contains("api_key=k3y%2B%2F+%3D%26%3C%22%27%C3%A9%25"),
        "{q}"
    );
    let clean_body = respond(&cfg(NASTY_KEY), &q).body;
    let mut requests = 0;
    for encoding in ENCODINGS {
        let echo = encoding.encode(NASTY_KEY);
        for place in [
            EchoPlace::Http500Body,
            EchoPlace::CakeMessage,
            EchoPlace::RedirectLocation,
            EchoPlace::RowValue,
            EchoPlace::RowValueNewlines,
        ] {
            let what = format!("{encoding}@{place}");
            s.set_faults(Faults {
                hostile: vec![Hostile::KeyEcho {
                    encoding,
                    place,
                    times: 1,
                }],
                ..Faults::default()
            });
            let got = get(&s, &q).await;
            requests += 1;
            match place {
                EchoPlace::Http500Body if encoding == KeyEncoding::JsonEscaped => {
                    assert_eq!(got.status, 500, "{what}");
                    assert_eq!(got.content_type, "application/json; charset=utf-8");
                    assert_eq!(
                        got.text(),
                        "{\"Message\":\"Could not process the request for \
                         api_key=k3y+\\/ =&<\\\"'\\u00e9%\",\"ExceptionType\":\"System.Exception\"}"
                    );
                }
                EchoPlace::Http500Body => {
                    assert_eq!(got.status, 500, "{what}");
                    assert_eq!(got.content_type, "text/plain; charset=utf-8");
                    assert!(
                        got.text().contains(&format!("api_key={echo}\r\n")),
                        "{what}: {}",
                        got.text()
                    );
                }
                EchoPlace::CakeMessage => {
                    assert_eq!(got.status, 200, "{what}");
                    let d = read(&got.body, "click");
                    assert_eq!(d.success.as_deref(), Some("false"));
                    assert_eq!(d.row_count, Some(0));
                    let message = d.message.unwrap();
                    if encoding == KeyEncoding::XmlEscaped {
                        // Decoded: the raw key, then the escaped form itself.
                        assert_eq!(
                            message,
                            format!(
                                "Could not process the request for api_key={NASTY_KEY} \
                                 (escaped: {echo})"
                            )
                        );
                        assert!(got.text().contains(
                            "api_key=k3y+/ =&amp;&lt;&quot;&apos;é% (escaped: \
                             k3y+/ =&amp;amp;&amp;lt;&amp;quot;&amp;apos;é%)"
                        ));
                    } else {
                        assert_eq!(
                            message,
                            format!("Could not process the request for api_key={echo}"),
                            "{what}"
                        );
                    }
                }
                EchoPlace::RedirectLocation => {
                    assert_eq!(got.status, 302, "{what}");
                    let location = String::from_utf8(got.location.clone().unwrap()).unwrap();
                    assert_eq!(location, format!("{REDIRECT_PREFIX}{}", header_safe(&echo)));
                    assert!(got.text().contains(&format!("{REDIRECT_PREFIX}{echo}\"")));
                }
                _ => {
                    assert_eq!(got.status, 200, "{what}");
                    let at = inserted_once(&got.body, &clean_body, escape_text(&echo).as_bytes());
                    assert!(got.body[at..].starts_with(escape_text(&echo).as_bytes()));
                    let d = read(&got.body, "click");
                    assert!(
                        d.rows[0]
                            .iter()
                            .any(|(_, v)| v.ends_with(&echo) && v != &echo),
                        "{what}: a value of the first row ends with the echo"
                    );
                }
            }
        }
    }
    // The exact forms for the reserved characters, where they differ most.
    let location = |encoding| {
        format!(
            "{REDIRECT_PREFIX}{}",
            header_safe(&KeyEncoding::encode(encoding, NASTY_KEY))
        )
    };
    assert_eq!(
        location(KeyEncoding::Raw),
        "https://login.example.invalid/?return=k3y+/ =&<\"'%C3%A9%"
    );
    assert_eq!(
        location(KeyEncoding::PercentLower),
        "https://login.example.invalid/?return=k3y%2b%2f%20%3d%26%3c%22%27%c3%a9%25"
    );
    assert_eq!(
        location(KeyEncoding::JsonEscaped),
        "https://login.example.invalid/?return=k3y+\\/ =&<\\\"'\\u00e9%"
    );
    assert_eq!(s.stats().faults.hostile, requests);
    s.shutdown().await;
}

#[tokio::test]
async fn control_bytes_at_every_place() {
    let s = start(Vec::new()).await;
    let q = page(1);
    let payload = HOSTILE_CONTROL_BYTES.as_bytes();
    assert!(payload.contains(&0x1b) && payload.contains(&0x07));
    assert!(HOSTILE_CONTROL_BYTES.contains("\x1b]0;pwned\x07"));
    assert!(HOSTILE_CONTROL_BYTES.contains("\r\nerror: forged"));
    let contains = |body: &[u8], part: &[u8]| body.windows(part.len()).any(|w| w == part);
    let at = |place| Faults {
        hostile: vec![Hostile::ControlBytes { place }],
        ..Faults::default()
    };

    s.set_faults(at(EchoPlace::Http500Body));
    let got = get(&s, &q).await;
    assert_eq!(
        (got.status, got.content_type.as_str()),
        (500, "text/plain; charset=utf-8")
    );
    same(
        &got.body,
        format!(
            "Server Error in '/' Application.\r\n\r\nSystem.Exception: Could not process the \
             request: {HOSTILE_CONTROL_BYTES}\r\n   at Cake.Api.Authorize()\r\n"
        )
        .as_bytes(),
        "the plain-text 500 body",
    );
    assert!(contains(&got.body, payload));

    s.set_faults(at(EchoPlace::CakeMessage));
    let got = get(&s, &q).await;
    assert_eq!(got.status, 200);
    let message = [
        b"<message>Could not process the request: ".as_slice(),
        payload,
        b"</message>",
    ]
    .concat();
    assert!(contains(&got.body, &message), "{}", got.text());

    s.set_faults(at(EchoPlace::RedirectLocation));
    let got = get(&s, &q).await;
    assert_eq!(got.status, 302);
    assert_eq!(
        got.location.as_deref().unwrap(),
        b"https://login.example.invalid/?return=%1B]0;pwned%07%1B[2K%0D%0Aerror: forged%07"
    );
    assert!(
        contains(&got.body, payload),
        "the body carries the raw bytes"
    );

    s.set_faults(at(EchoPlace::RowValue));
    let got = get(&s, &q).await;
    let real = clean(&q);
    let i = inserted_once(&got.body, &real, payload);
    assert!(got.body[i + payload.len()..].starts_with(b"</"));
    assert!(
        i < real.windows(8).position(|w| w == b"</click>").unwrap(),
        "in the first row"
    );

    s.set_faults(at(EchoPlace::RowValueNewlines));
    let got = get(&s, &q).await;
    inserted_once(&got.body, &real, HOSTILE_NEWLINES_XML.as_bytes());
    let d = read(&got.body, "click");
    assert!(d.rows[0]
        .iter()
        .any(|(_, v)| v.ends_with("\r\nerror: forged\r\n")));
    assert_eq!(s.stats().faults.hostile, 5);
    s.shutdown().await;
}

#[tokio::test]
async fn wrong_endpoint_answers_another_reports_document() {
    let s = start(vec![Hostile::WrongEndpoint]).await;
    let got = get(&s, &page(1)).await;
    assert_eq!(got.status, 200);
    let d = read(&got.body, "event_conversion");
    assert_eq!(d.root, "event_conversion_report_response");
    assert_eq!(d.collection.as_deref(), Some("event_conversions"));
    assert_eq!(
        d.default_ns.as_deref(),
        Some("http://cakemarketing.com/api/17/")
    );
    assert_eq!(d.success.as_deref(), Some("true"));
    assert_eq!(
        d.rows.len(),
        LIMIT as usize,
        "the same page of the other report"
    );
    let conversions = report_page("conversions", KEY, 10, 1, LIMIT);
    same(
        &got.body,
        &clean(&conversions),
        "the conversions of the same day and page",
    );
    assert!(read(&got.body, "click").rows.is_empty(), "no click rows");
    // Anything else gets the Account Statuses document, exactly.
    let statuses = query(find("account-status").unwrap(), KEY);
    for id in ["affiliate-tags", "offers", "daily-summary"] {
        let got = get(&s, &query(find(id).unwrap(), KEY)).await;
        same(&got.body, &clean(&statuses), id);
    }
    // And Account Statuses gets Clicks.
    let d = read(&get(&s, &statuses).await.body, "click");
    assert_eq!(d.root, "click_report_response");
    assert!(!d.rows.is_empty());
    // A request that fails anyway stays a clean failure.
    let wrong_key = query(find("offers").unwrap(), "nope");
    same(&get(&s, &wrong_key).await.body, &clean(&wrong_key), "body");
    assert_eq!(s.stats().faults.hostile, 5);
    s.shutdown().await;
}

#[tokio::test]
async fn wrong_version_changes_only_the_namespace() {
    let s = start(vec![Hostile::WrongVersion]).await;
    let got = get(&s, &page(1)).await.text();
    let real = String::from_utf8(clean(&page(1))).unwrap();
    assert_eq!(
        got,
        real.replace(
            "xmlns=\"http://cakemarketing.com/api/12/\"",
            "xmlns=\"http://cakemarketing.com/api/13/\""
        )
    );
    assert_ne!(got, real);
    let q = query(find("account-status").unwrap(), KEY);
    let d = read(&get(&s, &q).await.body, "account_status");
    assert_eq!(
        d.default_ns.as_deref(),
        Some("http://cakemarketing.com/api/2/")
    );
    assert_eq!(s.stats().faults.hostile, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn other_day_answers_the_rows_of_the_shifted_window() {
    let s = start(vec![Hostile::OtherDay { days: -1 }]).await;
    let asked = clicks_page(KEY, 5, 1, 0);
    let shifted = clicks_page(KEY, 4, 1, 0);
    let got = get(&s, &asked).await;
    same(
        &got.body,
        &clean(&shifted),
        "the clean answer for 2024-03-04",
    );
    assert_ne!(got.body, clean(&asked));
    let d = read(&got.body, "click");
    assert_eq!(d.row_count, Some(d.rows.len() as u64));
    assert!(d
        .column("click_date")
        .iter()
        .all(|t| t.starts_with("2024-03-04")));
    // A summary: its figures are those of the other window too.
    let summary = |start: &str, end: &str| {
        let q = query(find("daily-summary").unwrap(), KEY);
        with_param(&with_param(&q, "start_date", start), "end_date", end)
    };
    let got = get(&s, &summary("2024-03-05", "2024-03-07")).await;
    same(
        &got.body,
        &clean(&summary("2024-03-04", "2024-03-06")),
        "body",
    );
    // Undated reports and the change feed are left alone.
    for id in ["account-status", "offers", "conversion-changes"] {
        let q = query(find(id).unwrap(), KEY);
        same(&get(&s, &q).await.body, &clean(&q), id);
    }
    assert_eq!(s.stats().faults.hostile, 2);
    s.shutdown().await;
}

#[tokio::test]
async fn far_future_timestamp_in_the_first_row() {
    let s = start(vec![Hostile::FarFutureTimestamp]).await;
    let got = get(&s, &page(2)).await.text();
    let real = String::from_utf8(clean(&page(2))).unwrap();
    let first = read(real.as_bytes(), "click").column("click_date")[0].clone();
    assert_eq!(
        got,
        real.replacen(
            &format!("<click_date>{first}</click_date>"),
            &format!("<click_date>{FAR_FUTURE_TIMESTAMP}</click_date>"),
            1
        )
    );
    let dates = read(got.as_bytes(), "click").column("click_date");
    assert_eq!(dates[0], "9999-12-31T23:59:59.9999999");
    assert!(dates[1..].iter().all(|t| t.starts_with("2024-03-10")));
    // Reports with a date field of their own: that column.
    for (id, row, field) in [
        ("conversions", "event_conversion", "event_conversion_date"),
        ("login-export", "Login", "login_date"),
    ] {
        let q = query(find(id).unwrap(), KEY);
        let d = read(&get(&s, &q).await.body, row);
        assert_eq!(d.column(field)[0], FAR_FUTURE_TIMESTAMP, "{id}");
    }
    // Undated reports are left alone; an empty page has no first row.
    let q = query(find("offers").unwrap(), KEY);
    same(&get(&s, &q).await.body, &clean(&q), "body");
    let q = clicks_page(KEY, 10, 21, LIMIT);
    same(&get(&s, &q).await.body, &clean(&q), "body");
    assert_eq!(s.stats().faults.hostile, 3);
    s.shutdown().await;
}

#[tokio::test]
async fn cake_messages_are_success_false_documents() {
    let messages = [
        "Timeout expired. The timeout period elapsed prior to completion of the operation or \
         the server is not responding.",
        "Too many requests",
        "Transaction (Process ID 61) was deadlocked on lock resources with another process and \
         has been chosen as the deadlock victim. Rerun the transaction.",
        "Object reference not set to an instance of an object.",
        "",
        "Invalid API Key",
        "Invalid start_date",
        "The flux <capacitor> & friends are unaligned (code 0xDEAD)",
    ];
    let s = start(Vec::new()).await;
    for message in messages {
        s.set_faults(Faults {
            hostile: vec![Hostile::CakeMessage(message.to_string())],
            ..Faults::default()
        });
        for (id, row) in [
            ("clicks", "click"),
            ("rejected-dispositions", "Disposition"),
        ] {
            let report = find(id).unwrap();
            let got = get(&s, &query(report, KEY)).await;
            assert_eq!(got.status, 200);
            assert_eq!(got.content_type, "text/xml; charset=utf-8");
            let d = read(&got.body, row);
            assert_eq!(d.success.as_deref(), Some("false"), "{id}");
            assert_eq!(d.message.as_deref(), Some(message), "{id}");
            assert_eq!(d.row_count, Some(0));
            assert!(d.rows.is_empty());
        }
    }
    assert_eq!(s.stats().faults.hostile, 2 * messages.len() as u64);
    // Routing errors are never hostile.
    let got = get(&s, "/api/1/get.asmx/Nothing?api_key=x").await;
    assert_eq!(got.status, 404);
    assert_eq!(s.stats().faults.hostile, 2 * messages.len() as u64);
    s.shutdown().await;
}

#[tokio::test]
async fn hostile_attempts_one_misbehaves_on_the_first_attempt_only() {
    let s = start_with(KEY, vec![Hostile::ShortMiddlePage { missing: 4 }], 1).await;
    let first = get(&s, &page(2)).await;
    assert_eq!(read(&first.body, "click").rows.len(), 4);
    let again = get(&s, &page(2)).await;
    assert_eq!(
        again.body,
        clean(&page(2)),
        "a re-request gets the clean answer"
    );
    same(&get(&s, &page(2)).await.body, &clean(&page(2)), "body");
    assert_eq!(s.stats().faults.hostile, 1);
    // Forgetting the attempts starts over.
    s.reset_stats();
    assert_eq!(s.stats().faults.hostile, 0);
    let again = get(&s, &page(2)).await;
    same(&again.body, &first.body, "same seed, same bytes");
    assert_eq!(s.stats().faults.hostile, 1);
    // Two attempts: the third is clean. The key is not part of a request's identity: the
    // second attempt, with another key, is a re-request of the first.
    s.set_faults(Faults {
        hostile: vec![Hostile::CakeMessage("Too many requests".into())],
        hostile_attempts: 2,
        ..Faults::default()
    });
    let q = page(3);
    let bodies = [
        get(&s, &q).await.body,
        get(&s, &clicks_page("someone-else", 10, 17, LIMIT))
            .await
            .body,
        get(&s, &q).await.body,
    ];
    same(&bodies[0], &bodies[1], "the first two attempts");
    assert!(String::from_utf8_lossy(&bodies[0]).contains("Too many requests"));
    same(&bodies[2], &clean(&q), "the third attempt");
    s.shutdown().await;
}

#[tokio::test]
async fn hostile_comes_on_top_of_truncation_and_under_http_errors() {
    let s = Sandbox::start(SandboxConfig {
        faults: Faults {
            truncate_rate: 1.0,
            hostile: vec![Hostile::WrongVersion],
            ..Faults::default()
        },
        ..config(ROWS)
    })
    .await
    .unwrap();
    let got = get(&s, &page(1)).await;
    assert!(try_read(&got.body, "click").is_err(), "cut short");
    assert!(got.text().contains("api/13/"));
    s.set_faults(Faults {
        error_rate: 1.0,
        hostile: vec![Hostile::WrongVersion],
        ..Faults::default()
    });
    assert!(get(&s, &page(1)).await.status >= 500);
    let stats = s.stats();
    assert_eq!((stats.faults.truncated, stats.faults.hostile), (1, 1));
    s.shutdown().await;
}

#[test]
fn forms_round_trip_and_junk_is_refused() {
    let forms = [
        (
            "short-middle-page=4",
            Hostile::ShortMiddlePage { missing: 4 },
        ),
        ("repeat-row", Hostile::RepeatRowAcrossPages),
        ("row-count-drift=+3", Hostile::RowCountDrift { delta: 3 }),
        ("row-count-drift=-7", Hostile::RowCountDrift { delta: -7 }),
        (
            "empty-pages=4000000",
            Hostile::EmptyPagesUnderLargeRowCount {
                row_count: 4_000_000,
            },
        ),
        (
            "empty-pages=0",
            Hostile::EmptyPagesUnderLargeRowCount { row_count: 0 },
        ),
        (
            "key-echo=percent-lower@cake-message",
            Hostile::KeyEcho {
                encoding: KeyEncoding::PercentLower,
                place: EchoPlace::CakeMessage,
                times: 1,
            },
        ),
        (
            "key-echo=json-escaped@http-500",
            Hostile::KeyEcho {
                encoding: KeyEncoding::JsonEscaped,
                place: EchoPlace::Http500Body,
                times: 1,
            },
        ),
        (
            "key-echo=raw@redirect",
            Hostile::KeyEcho {
                encoding: KeyEncoding::Raw,
                place: EchoPlace::RedirectLocation,
                times: 1,
            },
        ),
        (
            "control-bytes@http-500",
            Hostile::ControlBytes {
                place: EchoPlace::Http500Body,
            },
        ),
        (
            "control-bytes@row-value-newlines",
            Hostile::ControlBytes {
                place: EchoPlace::RowValueNewlines,
            },
        ),
        ("wrong-endpoint", Hostile::WrongEndpoint),
        ("wrong-version", Hostile::WrongVersion),
        ("other-day=-1", Hostile::OtherDay { days: -1 }),
        ("other-day=+2", Hostile::OtherDay { days: 2 }),
        ("far-timestamp", Hostile::FarFutureTimestamp),
        (
            "cake-message=Too many requests",
            Hostile::CakeMessage("Too many requests".into()),
        ),
        ("cake-message=", Hostile::CakeMessage(String::new())),
        ("cake-message=a=b@c", Hostile::CakeMessage("a=b@c".into())),
        (
            "key-echo=base64@http-500*20",
            Hostile::KeyEcho {
                encoding: KeyEncoding::Base64,
                place: EchoPlace::Http500Body,
                times: 20,
            },
        ),
        (
            "row-count-twice=+40",
            Hostile::RepeatedRowCount { delta: 40 },
        ),
        (
            "element-twice=click_id",
            Hostile::RepeatedElement {
                column: "click_id".into(),
            },
        ),
        ("latin1", Hostile::Latin1),
        (
            "row-dated=2099-01-01T00:00:00",
            Hostile::RowDated {
                timestamp: "2099-01-01T00:00:00".into(),
            },
        ),
        ("page-of-day-before=2", Hostile::PageOfDayBefore { page: 2 }),
        ("silent", Hostile::Silent),
        (
            "retry-after=Thu, 01 Jan 2099 00:00:00 GMT",
            Hostile::RetryAfter {
                value: "Thu, 01 Jan 2099 00:00:00 GMT".into(),
            },
        ),
        ("large-head=1048576", Hostile::LargeHead { bytes: 1 << 20 }),
        ("large-row=1000", Hostile::LargeRow { bytes: 1000 }),
        ("repeat-known=3", Hostile::RepeatedKnownElement { times: 3 }),
        ("unknown-names=5", Hostile::UnknownNames { names: 5 }),
    ];
    for (form, hostile) in forms {
        assert_eq!(form.parse::<Hostile>().as_ref(), Ok(&hostile), "{form}");
        assert_eq!(hostile.to_string(), form);
    }
    // Every encoding and place by name.
    for encoding in ENCODINGS {
        for place in [
            "http-500",
            "cake-message",
            "redirect",
            "row-value",
            "row-value-newlines",
        ] {
            let form = format!("key-echo={encoding}@{place}");
            let h: Hostile = form.parse().unwrap();
            assert_eq!(h.to_string(), form);
        }
    }
    assert_eq!(
        "row-count-drift=3".parse(),
        Ok(Hostile::RowCountDrift { delta: 3 })
    );
    for junk in [
        "",
        "nope",
        "short-middle-page",
        "short-middle-page=",
        "short-middle-page=0",
        "short-middle-page=-1",
        "short-middle-page=+4",
        "short-middle-page=x",
        "short-middle-page=99999999999",
        "repeat-row=2",
        "row-count-drift=0",
        "row-count-drift=1.5",
        "empty-pages=-3",
        "key-echo",
        "key-echo=raw",
        "key-echo=rot13@http-500",
        "key-echo=raw@nowhere",
        "key-echo@http-500",
        "control-bytes",
        "control-bytes@",
        "control-bytes=raw@http-500",
        "wrong-endpoint=clicks",
        "wrong-version@x",
        "other-day",
        "other-day=yesterday",
        "far-timestamp=now",
        "cake-message",
        "Cake-Message=Restricted",
        " repeat-row",
        "key-echo=raw@http-500*0",
        "key-echo=raw@http-500*x",
        "silent=1",
        "latin1=yes",
        "large-row=0",
        "page-of-day-before=0",
        "row-count-twice=0",
    ] {
        let err = junk.parse::<Hostile>().expect_err(junk);
        let text = err.to_string();
        assert!(text.contains(&format!("{junk:?}")), "{text}");
        assert!(text.contains("Forms: short-middle-page=N"), "{text}");
    }
}

/// A body trickled one byte every five seconds: the first byte comes at once, a client that
/// goes away releases the request (no task left sending), and shutdown ends the body at once.
#[tokio::test]
async fn a_one_byte_per_five_seconds_body_and_a_client_that_goes_away() {
    let s = Sandbox::start(SandboxConfig {
        faults: Faults {
            trickle: true,
            trickle_chunk: 1,
            trickle_pause: Duration::from_secs(5),
            ..Faults::default()
        },
        ..config(ROWS)
    })
    .await
    .unwrap();
    let q = page(1);
    let full = clean(&q);
    let started = Instant::now();
    let r = client()
        .get(format!("{}{q}", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.headers()["content-length"].to_str().unwrap(),
        full.len().to_string()
    );
    let mut stream = r.bytes_stream();
    let first = stream.next().await.unwrap().unwrap();
    assert_eq!(first.as_ref(), &full[..1], "one byte");
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "the first byte at once"
    );
    assert_eq!(s.stats().in_flight, 1);
    drop(stream);
    // The server notices when it writes the next byte (at most two pauses later).
    let deadline = Instant::now() + Duration::from_secs(15);
    while s.stats().in_flight > 0 {
        assert!(Instant::now() < deadline, "the request is still in flight");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let gone_after = started.elapsed();
    // The server still answers.
    s.set_faults(Faults::default());
    same(&get(&s, &q).await.body, &full, "the clean answer");
    // A slow body in progress when the server stops ends at once.
    s.set_faults(Faults {
        trickle: true,
        trickle_chunk: 1,
        trickle_pause: Duration::from_secs(5),
        ..Faults::default()
    });
    let r = client()
        .get(format!("{}{q}", s.url()))
        .send()
        .await
        .unwrap();
    let mut stream = r.bytes_stream();
    stream.next().await.unwrap().unwrap();
    let stopping = Instant::now();
    s.shutdown().await;
    assert!(
        stopping.elapsed() < Duration::from_secs(2),
        "shutdown waited"
    );
    let rest = tokio::time::timeout(Duration::from_secs(2), stream.next())
        .await
        .expect("the body ends at once");
    assert!(
        matches!(rest, Some(Err(_)) | None),
        "the body is cut: {rest:?}"
    );
    eprintln!("client gone noticed after {gone_after:?}");
}

/// The second round: repeated values, another encoding, a misplaced row, waits and sizes.
#[tokio::test]
async fn values_twice_encodings_waits_and_sizes() {
    let count = |body: &[u8], needle: &str| String::from_utf8_lossy(body).matches(needle).count();
    let q = page(1);
    let clean_body = clean(&q);

    let s = start(vec![Hostile::RepeatedRowCount { delta: 40 }]).await;
    let got = get(&s, &q).await;
    assert_eq!(count(&got.body, "<row_count>"), 2);
    s.shutdown().await;

    let s = start(vec![Hostile::RepeatedElement {
        column: "click_id".into(),
    }])
    .await;
    let got = get(&s, &q).await;
    assert_eq!(
        count(&got.body, "<click_id>"),
        count(&clean_body, "<click_id>") + 1,
        "the first row only"
    );
    s.shutdown().await;

    let s = start(vec![Hostile::Latin1]).await;
    let got = get(&s, &q).await;
    let text: String = got.body.iter().map(|&b| char::from(b)).collect();
    assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>"));
    assert!(
        got.content_type.contains("iso-8859-1"),
        "{}",
        got.content_type
    );
    s.shutdown().await;

    let s = start(vec![Hostile::RowDated {
        timestamp: "2099-01-01T00:00:00".into(),
    }])
    .await;
    let got = get(&s, &q).await;
    assert_eq!(count(&got.body, "2099-01-01T00:00:00"), 1);
    s.shutdown().await;

    let s = start(vec![Hostile::RetryAfter {
        value: "999999".into(),
    }])
    .await;
    let r = client()
        .get(format!("{}{q}", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 503);
    assert_eq!(r.headers()["retry-after"], "999999");
    s.shutdown().await;

    let s = start(vec![Hostile::LargeHead { bytes: 100_000 }]).await;
    let r = client()
        .get(format!("{}{q}", s.url()))
        .send()
        .await
        .unwrap();
    let head: usize = r
        .headers()
        .iter()
        .filter(|(k, _)| k.as_str().starts_with("x-sandbox-padding-"))
        .map(|(_, v)| v.len())
        .sum();
    assert_eq!(head, 100_000);
    s.shutdown().await;

    let s = start(vec![Hostile::LargeRow { bytes: 3 << 20 }]).await;
    let got = get(&s, &q).await;
    assert_eq!(count(&got.body, "<sandbox_blob>"), 3);
    assert!(got.body.len() > 3 << 20);
    s.shutdown().await;

    let s = start(vec![Hostile::UnknownNames { names: 50 }]).await;
    let got = get(&s, &q).await;
    assert_eq!(count(&got.body, "<sandbox_unknown_"), 50);
    s.shutdown().await;

    let s = start(vec![Hostile::Silent]).await;
    let r = client()
        .get(format!("{}{q}", s.url()))
        .timeout(std::time::Duration::from_millis(300))
        .send()
        .await;
    assert!(r.unwrap_err().is_timeout());
    s.shutdown().await;
}
