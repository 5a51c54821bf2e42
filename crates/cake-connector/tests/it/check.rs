//! `check`: OK against a Cake-compatible server, and a distinct message and exit code for each
//! failure class, never printing the key.

use std::process::{Command, Output};

use cake_sandbox::{Sandbox, SandboxConfig};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const KEY: &str = "check-secret-key-123";

fn check(domain: &str, key: &str) -> (i32, String) {
    let out: Output = Command::new(env!("CARGO_BIN_EXE_cake-connector"))
        .env("COLUMNS", "1000")
        .args(["check", "--domain", domain, "--timeout", "1"])
        .env("CAKE_API_KEY", key)
        .env("CAKE_LOG", "trace")
        .output()
        .expect("the binary runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!text.contains(key), "the key leaked: {text}");
    (out.status.code().unwrap_or(-1), text)
}

/// A loopback server that answers every connection with `reply` (or stays silent), after the
/// request's head or, with `eager`, at once (as a plain server answers a TLS hello).
async fn serve(reply: Option<&'static str>, eager: bool) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((mut sock, _)) = listener.accept().await {
            tokio::spawn(async move {
                if !eager {
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf).await {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                }
                if let Some(r) = reply {
                    let _ = sock.write_all(r.as_bytes()).await;
                    let _ = sock.shutdown().await;
                } else {
                    tokio::time::sleep(std::time::Duration::from_secs(30)).await;
                }
            });
        }
    });
    addr.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_failure_class_has_its_own_exit_code() {
    let sandbox = Sandbox::start(SandboxConfig {
        api_key: KEY.into(),
        ..SandboxConfig::default()
    })
    .await
    .unwrap();
    let html = serve(Some(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 42\r\n\r\n<html><body>Welcome to nginx</body></html>",
    ), false)
    .await;
    let plain = serve(
        Some("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n"),
        true,
    )
    .await;
    let silent = serve(None, false).await;
    let refused = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let url = sandbox.url();
    let cases: Vec<(&str, String, &str, i32)> = vec![
        ("ok", url.clone(), KEY, 0),
        ("wrong key", url.clone(), "not-the-key-999", 3),
        (
            "unknown host",
            "https://no-such-cake.invalid".into(),
            KEY,
            4,
        ),
        ("refused", format!("http://{refused}"), KEY, 5),
        ("tls", format!("https://{plain}"), KEY, 6),
        ("timeout", format!("http://{silent}"), KEY, 7),
        ("not cake", format!("http://{html}"), KEY, 8),
        ("insecure", "http://example.com".into(), KEY, 2),
        ("path", "https://example.com/api".into(), KEY, 2),
    ];
    let mut transcript = String::new();
    for (name, domain, key, expected) in cases {
        let domain = domain.clone();
        let (code, text) = tokio::task::spawn_blocking(move || check(&domain, key))
            .await
            .unwrap();
        assert_eq!(code, expected, "{name}: {text}");
        if name == "tls" {
            // The server behind https:// speaks plain http: the message says so.
            assert!(text.contains("speaks plain http"), "{text}");
        }
        // Logs at trace level come first; the verdict is the last line. Ports and timings
        // vary; the first words of each verdict are stable.
        if code != 2 {
            assert!(
                text.contains("TRACE") || text.contains("DEBUG"),
                "{name}: no logs: {text}"
            );
        }
        let verdict = text
            .lines()
            .rfind(|l| l.starts_with("error:") || l.starts_with("OK:"))
            .unwrap_or_default();
        let stable: String = verdict
            .split_whitespace()
            .take(5)
            .map(|w| match w.find("127.0.0.1:") {
                Some(i) => format!("{}127.0.0.1:PORT", &w[..i]),
                None => w.to_string(),
            })
            .collect::<Vec<_>>()
            .join(" ");
        transcript.push_str(&format!("{name}: exit {code}: {stable}\n"));
    }
    insta::assert_snapshot!(transcript);
    sandbox.shutdown().await;
}
