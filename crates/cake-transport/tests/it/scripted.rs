//! The transport against a scripted loopback server: HTTP statuses, `Retry-After`, redirects,
//! stalls, resets, TLS and name failures, and what is retried and what is not.

use crate::common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cake_catalog::{find, plan, Context, Options, Plan};
use cake_transport::{
    ApiKey, Class, Classify, Client, ClientOptions, Instance, RetryPolicy, TransportError,
};
use common::ScanFactory;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "k3y-that-must-not-leak";

enum Reply {
    /// Write these bytes and close.
    Raw(String),
    /// Write these bytes and keep the connection open without writing more.
    Stall(String),
}

struct Server {
    url: String,
    requests: Arc<AtomicUsize>,
    lines: Arc<Mutex<Vec<String>>>,
}

async fn server(replies: Vec<Reply>) -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let requests = Arc::new(AtomicUsize::new(0));
    let lines = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(replies.into_iter()));
    let (r, l) = (requests.clone(), lines.clone());
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            let (r, l, replies) = (r.clone(), l.clone(), replies.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                r.fetch_add(1, Ordering::SeqCst);
                let head = String::from_utf8_lossy(&buf).into_owned();
                l.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or_default().to_string());
                let reply = replies.lock().unwrap().next();
                match reply {
                    Some(Reply::Raw(bytes)) => {
                        let _ = sock.write_all(bytes.as_bytes()).await;
                        let _ = sock.shutdown().await;
                    }
                    Some(Reply::Stall(bytes)) => {
                        let _ = sock.write_all(bytes.as_bytes()).await;
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    None => {}
                }
            });
        }
    });
    Server {
        url,
        requests,
        lines,
    }
}

fn response(status: &str, headers: &[&str], body: &str) -> String {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for h in headers {
        out.push_str(h);
        out.push_str("\r\n");
    }
    out.push_str("\r\n");
    out.push_str(body);
    out
}

const OK_BODY: &str = r#"<?xml version="1.0" encoding="utf-8"?>
<account_statuses_response xmlns="http://cakemarketing.com/api/1/"><success>true</success><row_count>2</row_count><account_statuses><account_status><account_status_id>1</account_status_id><account_status_name>Active</account_status_name></account_status><account_status><account_status_id>2</account_status_id><account_status_name>Inactive</account_status_name></account_status></account_statuses></account_statuses_response>"#;

fn ok() -> Reply {
    Reply::Raw(response(
        "200 OK",
        &["Content-Type: text/xml; charset=utf-8"],
        OK_BODY,
    ))
}

fn account_status_plan() -> Plan {
    let now = "2024-03-01T00:00:00Z".parse().unwrap();
    plan(
        find("account-status").unwrap(),
        &Options::default(),
        &Context::new(now),
    )
    .unwrap()
}

fn client(url: &str, attempts: u32) -> Client {
    Client::new(
        Instance::parse(url, false).unwrap(),
        ApiKey::new(KEY).unwrap(),
        ClientOptions {
            retry: RetryPolicy {
                max_attempts: attempts,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
                max_retry_after: Duration::from_secs(2),
                ..RetryPolicy::default()
            },
            connect_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(300),
            request_timeout: Duration::from_secs(5),
            jitter_seed: Some(1),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

async fn fetch(client: &Client) -> Result<Vec<String>, TransportError> {
    let plan = account_status_plan();
    let factory = ScanFactory::new("account_status", "account_status_id");
    let page = client
        .fetch_page(plan.report, &plan.requests[0], None, &factory)
        .await?;
    Ok(page.outcome.output.0)
}

fn assert_no_key(text: &str) {
    assert!(!text.contains(KEY), "the key leaked: {text}");
}

#[tokio::test]
async fn the_request_carries_every_parameter_and_the_key() {
    // SOAP by default: posted to the service, no key in the URL.
    let s = server(vec![ok()]).await;
    let ids = fetch(&client(&s.url, 1)).await.unwrap();
    assert_eq!(ids, ["1", "2"]);
    let line = s.lines.lock().unwrap()[0].clone();
    assert_eq!(line, "POST /api/1/get.asmx HTTP/1.1");
    // GET, asked for: every parameter and the key in the query string.
    let s = server(vec![ok()]).await;
    let get = client(&s.url, 1)
        .with_protocol(cake_transport::Protocol::Get)
        .unwrap();
    let ids = fetch(&get).await.unwrap();
    assert_eq!(ids, ["1", "2"]);
    let line = s.lines.lock().unwrap()[0].clone();
    assert_eq!(
        line,
        format!("GET /api/1/get.asmx/AccountStatuses?api_key={KEY} HTTP/1.1")
    );
}

#[tokio::test]
async fn server_errors_are_retried_until_success() {
    let s = server(vec![
        Reply::Raw(response("503 Service Unavailable", &[], "busy")),
        Reply::Raw(response("500 Internal Server Error", &[], "boom")),
        ok(),
    ])
    .await;
    let c = client(&s.url, 5);
    assert_eq!(fetch(&c).await.unwrap(), ["1", "2"]);
    assert_eq!(s.requests.load(Ordering::SeqCst), 3);
    assert_eq!(c.stats().retries, 2);
}

#[tokio::test]
async fn retries_are_bounded_and_say_so() {
    let s = server(
        (0..10)
            .map(|_| Reply::Raw(response("503 Service Unavailable", &[], "busy")))
            .collect(),
    )
    .await;
    let err = fetch(&client(&s.url, 3)).await.unwrap_err();
    assert_eq!(s.requests.load(Ordering::SeqCst), 3);
    assert_eq!(err.class(), Class::Unavailable);
    let text = err.to_string();
    assert!(text.starts_with("gave up after 3 attempts"), "{text}");
    assert!(text.contains("HTTP 503"), "{text}");
    assert_no_key(&text);
    assert_no_key(&format!("{err:?}"));
}

#[tokio::test]
async fn too_many_requests_honours_retry_after() {
    let s = server(vec![
        Reply::Raw(response(
            "429 Too Many Requests",
            &["Retry-After: 1"],
            "slow down",
        )),
        ok(),
    ])
    .await;
    let started = std::time::Instant::now();
    assert_eq!(fetch(&client(&s.url, 3)).await.unwrap(), ["1", "2"]);
    // The backoff of this client is at most 20 ms; only Retry-After explains a 1 s wait.
    assert!(started.elapsed() >= Duration::from_millis(900));
}

#[tokio::test]
async fn parameter_errors_fail_at_once() {
    let s = server(vec![
        Reply::Raw(response(
            "500 Internal Server Error",
            &["Content-Type: text/plain"],
            "Missing parameter: start_date.\r\n",
        )),
        ok(),
    ])
    .await;
    let err = fetch(&client(&s.url, 5)).await.unwrap_err();
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
    assert_eq!(err.class(), Class::Rejected);
    assert!(err.to_string().contains("Missing parameter: start_date."));
}

#[tokio::test]
async fn authentication_errors_are_never_retried() {
    let body = r#"<?xml version="1.0" encoding="utf-8"?><account_statuses_response><success>false</success><message>Invalid API Key</message><row_count>0</row_count></account_statuses_response>"#;
    let s = server(vec![Reply::Raw(response("200 OK", &[], body)), ok()]).await;
    let err = fetch(&client(&s.url, 5)).await.unwrap_err();
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
    assert_eq!(err.class(), Class::Authentication);
    assert_no_key(&err.to_string());
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let s = server(vec![Reply::Raw(response(
        "302 Found",
        &["Location: https://elsewhere.example.com/login"],
        "",
    ))])
    .await;
    let err = fetch(&client(&s.url, 3)).await.unwrap_err();
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
    assert_eq!(err.class(), Class::NotCake);
    assert!(err.to_string().contains("elsewhere.example.com"));
}

#[tokio::test]
async fn unknown_endpoints_are_not_cake() {
    let s = server(vec![Reply::Raw(response("404 Not Found", &[], "nope"))]).await;
    let err = fetch(&client(&s.url, 3)).await.unwrap_err();
    assert_eq!(err.class(), Class::NotCake);
    assert_eq!(s.requests.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_stalled_body_times_out_and_is_retried() {
    let head = "HTTP/1.1 200 OK\r\nContent-Length: 5000\r\n\r\n<?xml version=\"1.0\"?><account_statuses_response>";
    let s = server(vec![Reply::Stall(head.to_string()), ok()]).await;
    let c = client(&s.url, 3);
    assert_eq!(fetch(&c).await.unwrap(), ["1", "2"]);
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn a_silent_server_times_out() {
    let s = server(vec![
        Reply::Stall(String::new()),
        Reply::Stall(String::new()),
    ])
    .await;
    let mut c = client(&s.url, 2);
    // Waiting for headers is bounded by the whole-request timeout.
    c = Client::new(
        c.instance().clone(),
        ApiKey::new(KEY).unwrap(),
        ClientOptions {
            request_timeout: Duration::from_millis(300),
            retry: RetryPolicy {
                max_attempts: 2,
                base_delay: Duration::from_millis(1),
                ..RetryPolicy::default()
            },
            ..c.options().clone()
        },
    )
    .unwrap();
    let err = fetch(&c).await.unwrap_err();
    assert_eq!(err.class(), Class::Timeout, "{err}");
    assert_eq!(s.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn a_body_cut_short_is_retried() {
    let cut = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{}",
        OK_BODY.len(),
        &OK_BODY[..OK_BODY.len() / 2]
    );
    let s = server(vec![Reply::Raw(cut), ok()]).await;
    let c = client(&s.url, 3);
    assert_eq!(fetch(&c).await.unwrap(), ["1", "2"]);
    assert_eq!(s.requests.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn refused_connections_are_connection_errors() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let err = fetch(&client(&url, 2)).await.unwrap_err();
    assert_eq!(err.class(), Class::Connection, "{err}");
}

#[tokio::test]
async fn tls_to_a_plain_server_is_a_tls_error() {
    // A plain HTTP server answers the TLS hello with plain text.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let https = format!("https://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let _ = sock
                .write_all(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                .await;
        }
    });
    let err = fetch(&client(&https, 1)).await.unwrap_err();
    assert_eq!(err.class(), Class::Tls, "{err}");
    assert_no_key(&err.to_string());
}

#[tokio::test]
async fn unknown_hosts_are_named() {
    let err = fetch(&client("https://no-such-host.invalid", 1))
        .await
        .unwrap_err();
    assert_eq!(err.class(), Class::UnknownHost, "{err}");
    assert!(err.to_string().contains("no-such-host.invalid"));
}
