//! Every fault knob observed from a client over real HTTP, the fault draws predicted by
//! `Faults::plan`, and the request counters.

use crate::common;

use std::time::Duration;

use cake_catalog::find;
use cake_sandbox::{respond, Faults, Sandbox, SandboxConfig};
use common::*;
use futures_util::StreamExt;

async fn start(faults: Faults) -> Sandbox {
    Sandbox::start(SandboxConfig {
        faults,
        ..config(20)
    })
    .await
    .unwrap()
}

fn clicks_query(day: u32) -> String {
    let q = query(find("clicks").unwrap(), KEY);
    let q = with_param(&q, "start_date", &format!("2024-03-{day:02}"));
    with_param(&q, "end_date", &format!("2024-03-{:02}", day + 1))
}

#[tokio::test]
async fn error_rate_answers_500_and_503() {
    let s = start(Faults {
        error_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for day in 1..=12 {
        let r = client
            .get(format!("{}{}", s.url(), clicks_query(day)))
            .send()
            .await
            .unwrap();
        statuses.push(r.status().as_u16());
        assert!(r.text().await.unwrap().contains("sandbox fault"));
    }
    assert!(
        statuses.iter().all(|s| *s == 500 || *s == 503),
        "{statuses:?}"
    );
    assert!(
        statuses.contains(&500) && statuses.contains(&503),
        "{statuses:?}"
    );
    let stats = s.stats();
    assert_eq!(stats.requests, 12);
    assert_eq!(stats.faults.http_500 + stats.faults.http_503, 12);
    s.shutdown().await;
}

#[tokio::test]
async fn restricted_rate_answers_success_false_restricted() {
    let s = start(Faults {
        restricted_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let client = reqwest::Client::new();
    for id in ["clicks", "offers", "accepted-dispositions"] {
        let report = find(id).unwrap();
        let r = client
            .get(format!("{}{}", s.url(), query(report, KEY)))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let d = read(&r.bytes().await.unwrap(), report.response.row);
        assert_eq!(d.success.as_deref(), Some("false"), "{id}");
        assert_eq!(d.message.as_deref(), Some("Restricted"), "{id}");
        assert_eq!(d.row_count, Some(0), "{id}");
    }
    assert_eq!(s.stats().faults.restricted, 3);
    s.shutdown().await;
}

#[tokio::test]
async fn reset_rate_breaks_the_body() {
    let s = start(Faults {
        reset_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}{}", s.url(), clicks_query(10)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "the head arrives");
    let err = r.bytes().await.expect_err("the body must fail");
    assert!(
        err.is_body() || err.is_decode() || err.is_request(),
        "{err:?}"
    );
    assert_eq!(s.stats().faults.resets, 1);
    // The client can connect again afterwards.
    s.set_faults(Faults::default());
    let r = client
        .get(format!("{}{}", s.url(), clicks_query(10)))
        .send()
        .await
        .unwrap();
    assert!(r.bytes().await.is_ok());
    s.shutdown().await;
}

#[tokio::test]
async fn truncate_rate_cuts_the_xml() {
    let s = start(Faults {
        truncate_rate: 1.0,
        ..Faults::default()
    })
    .await;
    let client = reqwest::Client::new();
    let q = clicks_query(10);
    let r = client.get(format!("{}{q}", s.url())).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let body = r.bytes().await.expect("a clean HTTP response");
    let full = respond(&config(20), &q).body;
    assert!(body.len() < full.len() && !body.is_empty());
    assert_eq!(
        &full[..body.len()],
        body.as_ref(),
        "a prefix of the real answer"
    );
    assert!(try_read(&body, "click").is_err(), "the XML is incomplete");
    assert_eq!(s.stats().faults.truncated, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn control_char_rate_puts_forbidden_references_into_text() {
    let s = start(Faults {
        control_char_rate: 0.3,
        ..Faults::default()
    })
    .await;
    let client = reqwest::Client::new();
    let body = client
        .get(format!("{}{}", s.url(), clicks_query(10)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let n = body.matches("&#x16;").count() + body.matches("&#x13;").count();
    assert!(n > 0);
    assert_eq!(s.stats().faults.control_chars, n as u64);
    // Only inside text values: the document is otherwise the clean one.
    let clean = respond(&config(20), &clicks_query(10)).text().into_owned();
    assert_eq!(body.replace("&#x16;", "").replace("&#x13;", ""), clean);
    s.set_faults(Faults::default());
    let body = client
        .get(format!("{}{}", s.url(), clicks_query(10)))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!body.contains("&#x"));
    s.shutdown().await;
}

#[tokio::test]
async fn trickle_sends_many_small_pieces() {
    let s = start(Faults {
        trickle: true,
        trickle_chunk: 512,
        trickle_pause: Duration::from_millis(3),
        ..Faults::default()
    })
    .await;
    let client = reqwest::Client::new();
    let q = clicks_query(10);
    let r = client.get(format!("{}{q}", s.url())).send().await.unwrap();
    let mut stream = r.bytes_stream();
    let mut chunks = 0;
    let mut body = Vec::new();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        assert!(chunk.len() <= 512 * 2);
        body.extend_from_slice(&chunk);
        chunks += 1;
    }
    let full = respond(&config(20), &q).body;
    assert_eq!(body, full);
    assert!(
        chunks >= full.len() / 512 / 2,
        "{chunks} pieces for {} bytes",
        full.len()
    );
    assert_eq!(s.stats().faults.trickled, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn latency_and_max_in_flight_are_counted() {
    let s = start(Faults {
        latency: Duration::from_millis(400),
        ..Faults::default()
    })
    .await;
    let client = reqwest::Client::new();
    let requests = (1..=6).map(|day| {
        let client = client.clone();
        let url = format!("{}{}", s.url(), clicks_query(day));
        async move { client.get(url).send().await.unwrap().bytes().await.unwrap() }
    });
    let bodies = futures_util::future::join_all(requests).await;
    assert_eq!(bodies.len(), 6);
    let stats = s.stats();
    assert_eq!(stats.requests, 6);
    assert_eq!(stats.faults.delayed, 6);
    assert_eq!(stats.max_in_flight, 6, "all six were answered at once");
    assert_eq!(stats.in_flight, 0);
    s.reset_stats();
    let stats = s.stats();
    assert_eq!(
        (stats.requests, stats.max_in_flight, stats.faults.delayed),
        (0, 0, 0)
    );
    // One at a time: never more than one in flight.
    s.set_faults(Faults::default());
    for day in 1..=3 {
        client
            .get(format!("{}{}", s.url(), clicks_query(day)))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    assert_eq!(s.stats().max_in_flight, 1);
    s.shutdown().await;
}

#[tokio::test]
async fn fault_draws_are_predictable_per_attempt() {
    let faults = Faults {
        error_rate: 0.3,
        restricted_rate: 0.3,
        truncate_rate: 0.2,
        ..Faults::default()
    };
    let s = start(faults.clone()).await;
    let client = reqwest::Client::new();
    let mut kinds = std::collections::BTreeSet::new();
    for day in 1..=8 {
        let q = clicks_query(day);
        for attempt in 0..3 {
            let plan = faults.plan(7, &q, attempt);
            let r = client.get(format!("{}{q}", s.url())).send().await.unwrap();
            let status = r.status().as_u16();
            let body = r.bytes().await.unwrap();
            let kind = if let Some(code) = plan.error {
                assert_eq!(status, code);
                "error"
            } else if plan.restricted {
                assert!(String::from_utf8_lossy(&body).contains("<message>Restricted</message>"));
                "restricted"
            } else if plan.truncate {
                assert!(try_read(&body, "click").is_err());
                "truncate"
            } else {
                assert_eq!(body.as_ref(), respond(&config(20), &q).body.as_slice());
                "clean"
            };
            kinds.insert(kind);
        }
    }
    assert_eq!(kinds.len(), 4, "{kinds:?}");
    // The key is not part of the draw; the attempt number is.
    let a = faults.plan(7, "/api/12/reports.asmx/Clicks?api_key=a&offer_id=1", 0);
    let b = faults.plan(7, "/api/12/reports.asmx/Clicks?api_key=b&offer_id=1", 0);
    assert_eq!(a, b);
    let plans: Vec<_> = (0..20).map(|n| faults.plan(7, "/x?y=1", n)).collect();
    assert!(plans.windows(2).any(|w| w[0] != w[1]));
    s.shutdown().await;
}

#[test]
fn rates_outside_zero_to_one_are_refused() {
    assert!(Faults::default().validate().is_ok());
    let bad = Faults {
        reset_rate: 1.5,
        ..Faults::default()
    };
    let err = bad.validate().unwrap_err();
    assert!(err.to_string().contains("reset rate is 1.5"), "{err}");
    assert!(Faults {
        error_rate: -0.1,
        ..Faults::default()
    }
    .validate()
    .is_err());
    assert!(Faults {
        truncate_rate: f64::NAN,
        ..Faults::default()
    }
    .validate()
    .is_err());
}

#[tokio::test]
async fn the_server_answers_what_respond_answers_and_counts_every_request() {
    let s = start(Faults::default()).await;
    assert!(s.url().starts_with("http://127.0.0.1:"));
    assert_eq!(s.addr().ip().to_string(), "127.0.0.1");
    assert_eq!(s.api_key(), KEY);
    let client = reqwest::Client::new();
    let r = client
        .get(format!("{}/nowhere", s.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    // A POST that is not a SOAP call.
    let r = client
        .post(format!("{}{}", s.url(), clicks_query(3)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let q = without_param(&clicks_query(3), "offer_id");
    let r = client.get(format!("{}{q}", s.url())).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert_eq!(r.text().await.unwrap(), "Missing parameter: offer_id.\r\n");
    assert_eq!(s.stats().requests, 3);
    s.shutdown().await;
}
