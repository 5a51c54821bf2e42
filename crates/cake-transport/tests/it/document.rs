//! `Client::get_document` against a scripted loopback server: the document whole and without
//! the key, server failures retried, 404 and oversized bodies refused at once, server text
//! cleaned of the key.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use cake_transport::{ApiKey, Class, Classify, Client, ClientOptions, Instance, RetryPolicy};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "k3y-that-must-not-leak";

/// A server answering the n-th connection with the n-th reply (and closing), recording each
/// request line.
async fn server(replies: Vec<String>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let lines = Arc::new(Mutex::new(Vec::new()));
    let replies = Arc::new(Mutex::new(replies.into_iter()));
    let l = lines.clone();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            let (l, replies) = (l.clone(), replies.clone());
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut tmp = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut tmp).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&tmp[..n]),
                    }
                }
                let head = String::from_utf8_lossy(&buf).into_owned();
                l.lock()
                    .unwrap()
                    .push(head.lines().next().unwrap_or_default().to_string());
                let reply = replies.lock().unwrap().next();
                if let Some(bytes) = reply {
                    let _ = sock.write_all(bytes.as_bytes()).await;
                    let _ = sock.shutdown().await;
                }
            });
        }
    });
    (url, lines)
}

fn response(status: &str, body: &str) -> String {
    format!(
        "HTTP/1.1 {status}\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

fn client(url: &str) -> Client {
    Client::new(
        Instance::parse(url, false).unwrap(),
        ApiKey::new(KEY).unwrap(),
        ClientOptions {
            retry: RetryPolicy {
                max_attempts: 3,
                base_delay: Duration::from_millis(5),
                max_delay: Duration::from_millis(20),
                ..RetryPolicy::default()
            },
            connect_timeout: Duration::from_millis(500),
            idle_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_secs(5),
            jitter_seed: Some(1),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

const WSDL: &str =
    "<?xml version=\"1.0\"?><wsdl:definitions xmlns:wsdl=\"http://schemas.xmlsoap.org/wsdl/\"/>";

#[tokio::test]
async fn a_document_arrives_whole_and_without_the_key() {
    let (url, lines) = server(vec![response("200 OK", WSDL)]).await;
    let body = client(&url)
        .get_document("/api/12/reports.asmx?WSDL", 1 << 20)
        .await
        .unwrap();
    assert_eq!(body, WSDL.as_bytes());
    assert_eq!(
        lines.lock().unwrap().as_slice(),
        ["GET /api/12/reports.asmx?WSDL HTTP/1.1"]
    );
}

#[tokio::test]
async fn server_errors_are_retried() {
    let (url, lines) = server(vec![
        response("503 Service Unavailable", "busy"),
        response("200 OK", WSDL),
    ])
    .await;
    let c = client(&url);
    let body = c.get_document("/api/1/get.asmx?wsdl", 1 << 20).await;
    assert_eq!(body.unwrap(), WSDL.as_bytes());
    assert_eq!(lines.lock().unwrap().len(), 2);
    assert_eq!(c.stats().retries, 1);
}

#[tokio::test]
async fn missing_documents_fail_at_once_as_not_cake() {
    let (url, lines) = server(vec![
        response("404 Not Found", "no"),
        response("200 OK", WSDL),
    ])
    .await;
    let err = client(&url)
        .get_document("/api/99/reports.asmx?WSDL", 1 << 20)
        .await
        .unwrap_err();
    assert_eq!(err.class(), Class::NotCake);
    assert!(err.to_string().contains("404"), "{err}");
    assert_eq!(lines.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn oversized_documents_are_refused() {
    let big = "x".repeat(4096);
    let (url, lines) = server(vec![response("200 OK", &big), response("200 OK", &big)]).await;
    let err = client(&url)
        .get_document("/api/1/get.asmx?WSDL", 1000)
        .await
        .unwrap_err();
    assert_eq!(err.class(), Class::NotCake);
    assert!(err.to_string().contains("larger than 1000 bytes"), "{err}");
    assert_eq!(lines.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn server_text_is_cleaned_of_the_key() {
    let (url, _) = server(vec![response(
        "400 Bad Request",
        &format!("bad request for api_key={KEY}\x1b[2J"),
    )])
    .await;
    let err = client(&url)
        .get_document("/api/1/get.asmx?WSDL", 1 << 20)
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(!text.contains(KEY), "{text}");
    assert!(!text.contains('\x1b'), "{text}");
}

#[tokio::test]
async fn only_paths_from_the_root_are_documents() {
    let c = client("http://127.0.0.1:9");
    for bad in [
        "api/1/get.asmx?WSDL",
        "//evil.example/x",
        "https://evil.example/x",
    ] {
        let err = c.get_document(bad, 1 << 20).await.unwrap_err();
        assert_eq!(err.class(), Class::Usage, "{bad}");
    }
    assert_eq!(c.stats().requests, 0);
}
