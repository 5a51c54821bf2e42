//! Bad input, each with a clear message, its documented exit code and nothing written: reports,
//! options, dates and domains the binary refuses (2), a missing or wrong key (2, 3), replies
//! that are not Cake XML or attack the parser (8: an HTML page, plain text, nesting 10,000 deep,
//! entity declarations, a 1 GiB text node, invalid UTF-8) through `pull` from a loopback server
//! and through `convert` from files, and config files with unknown keys or wrong types (2, the
//! message names the key and the line). The messages are snapshot.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use cake_sandbox::SandboxConfig;
use common::*;

const KEY: &str = "bad-input-key-7d3e55c0";

/// A huge text node: this many bytes of `a` inside one value.
const HUGE: u64 = 1 << 30;

/// A reply body, or the recipe of one too large to hold.
#[derive(Clone)]
enum Body {
    Bytes(Vec<u8>),
    /// `HEAD`, then [`HUGE`] bytes of text, then `TAIL`: streamed, never held.
    HugeText,
}

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\r\n<account_statuses_response \
    xmlns=\"http://cakemarketing.com/api/1/\"><success>true</success><row_count>1</row_count>\
    <account_statuses><account_status><account_status_id>1</account_status_id>\
    <account_status_name>";
const TAIL: &str = "</account_status_name></account_status></account_statuses>\
    </account_statuses_response>\r\n";

impl Body {
    fn len(&self) -> u64 {
        match self {
            Body::Bytes(b) => b.len() as u64,
            Body::HugeText => HEAD.len() as u64 + HUGE + TAIL.len() as u64,
        }
    }

    /// Writes the body; returns the bytes written before the reader went away.
    fn write_to(&self, w: &mut impl Write) -> u64 {
        match self {
            Body::Bytes(b) => match w.write_all(b) {
                Ok(()) => b.len() as u64,
                Err(_) => 0,
            },
            Body::HugeText => {
                let mut sent = 0;
                if w.write_all(HEAD.as_bytes()).is_err() {
                    return sent;
                }
                sent += HEAD.len() as u64;
                let chunk = vec![b'a'; 1 << 16];
                let mut left = HUGE;
                while left > 0 {
                    let n = left.min(chunk.len() as u64) as usize;
                    if w.write_all(&chunk[..n]).is_err() {
                        return sent;
                    }
                    sent += n as u64;
                    left -= n as u64;
                }
                if w.write_all(TAIL.as_bytes()).is_ok() {
                    sent += TAIL.len() as u64;
                }
                sent
            }
        }
    }
}

/// The hostile and broken replies, as `(name, content type, body)`.
fn replies() -> Vec<(&'static str, &'static str, Body)> {
    let deep = {
        let mut s = HEAD.replace("<account_status_name>", "");
        s.push_str(&"<n>".repeat(10_000));
        s.push_str(&"</n>".repeat(10_000));
        s.push_str(&TAIL.replace("</account_status_name>", ""));
        s.into_bytes()
    };
    let laughs = {
        let mut s = String::from(
            "<?xml version=\"1.0\"?>\r\n<!DOCTYPE account_statuses_response [\r\n  <!ENTITY lol \"lol\">\r\n",
        );
        for i in 1..=9 {
            let prev = if i == 1 {
                "lol".to_string()
            } else {
                format!("lol{}", i - 1)
            };
            s.push_str(&format!(
                "  <!ENTITY lol{i} \"{}\">\r\n",
                format!("&{prev};").repeat(10)
            ));
        }
        s.push_str("]>\r\n");
        s.push_str(&HEAD[HEAD.find("<account_statuses_response").unwrap()..]);
        s.push_str("&lol9;");
        s.push_str(TAIL);
        s.into_bytes()
    };
    let invalid_utf8 = {
        let mut b = HEAD.as_bytes().to_vec();
        b.extend_from_slice(b"Act\xC3\x28ive \xFF\xFE");
        b.extend_from_slice(TAIL.as_bytes());
        b
    };
    vec![
        (
            "html error page",
            "text/html",
            Body::Bytes(
                b"<!DOCTYPE html>\r\n<html><head><title>Runtime Error</title></head>\
                  <body><h1>Server Error in '/' Application.</h1></body></html>\r\n"
                    .to_vec(),
            ),
        ),
        (
            "not xml",
            "text/plain",
            Body::Bytes(b"Service is temporarily down for maintenance.\r\n".to_vec()),
        ),
        ("nesting 10000 deep", "text/xml", Body::Bytes(deep)),
        ("billion laughs", "text/xml", Body::Bytes(laughs)),
        ("1 GiB text node", "text/xml", Body::HugeText),
        ("invalid utf-8", "text/xml", Body::Bytes(invalid_utf8)),
    ]
}

/// A loopback HTTP server answering every request with one body, counting what it sent.
struct Reply {
    addr: String,
    sent: Arc<AtomicU64>,
    stop: Arc<AtomicBool>,
}

impl Reply {
    fn start(content_type: &'static str, body: Body) -> Reply {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let sent = Arc::new(AtomicU64::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let (sent2, stop2) = (sent.clone(), stop.clone());
        std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let mut sock = match listener.accept() {
                    Ok((sock, _)) => sock,
                    Err(_) => {
                        std::thread::sleep(Duration::from_millis(5));
                        continue;
                    }
                };
                let body = body.clone();
                let sent = sent2.clone();
                std::thread::spawn(move || {
                    sock.set_nonblocking(false).unwrap();
                    let mut head = Vec::new();
                    let mut buf = [0u8; 1024];
                    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                        match sock.read(&mut buf) {
                            Ok(0) | Err(_) => return,
                            Ok(n) => head.extend_from_slice(&buf[..n]),
                        }
                    }
                    let header = format!(
                        "HTTP/1.1 200 OK\r\nContent-Type: {content_type}; charset=utf-8\r\n\
                         Content-Length: {}\r\nConnection: close\r\n\r\n",
                        body.len()
                    );
                    if sock.write_all(header.as_bytes()).is_ok() {
                        sent.fetch_add(body.write_to(&mut sock), Ordering::SeqCst);
                    }
                });
            }
        });
        Reply { addr, sent, stop }
    }

    fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

impl Drop for Reply {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
    }
}

/// Nothing was written: the location does not exist, or is empty.
fn nothing_in(dir: &Path) -> Result<(), String> {
    match std::fs::read_dir(dir) {
        Err(_) => Ok(()),
        Ok(entries) => {
            let names: Vec<String> = entries
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            if names.is_empty() {
                Ok(())
            } else {
                Err(format!("{} holds {names:?}", dir.display()))
            }
        }
    }
}

fn transcript_entry(label: &str, r: &Run, dir: &Path) -> String {
    let verdict = stable(&r.verdict()).replace(s(dir), "DIR");
    format!("$ {label}\nexit {}: {verdict}\n\n", r.code)
}

/// The peak memory a failing run may reach: far below the 1 GiB it was offered.
const MEMORY_BOUND: u64 = 256 << 20;

#[test]
fn pull_refuses_bad_reports_options_dates_domains_and_keys() {
    let server = Server::start(SandboxConfig {
        api_key: KEY.into(),
        rows_per_day: 5,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let date: &[&str] = &["clicks", "--date", "2024-03-01"];
    let cases: Vec<(&str, Vec<&str>, Option<&str>, i32)> = vec![
        (
            "unknown report",
            vec!["clikcs", "--past-days", "1"],
            Some(&url),
            2,
        ),
        (
            "an option the report does not take",
            vec!["offers", "--past-days", "3"],
            Some(&url),
            2,
        ),
        (
            "an impossible date",
            vec!["clicks", "--date", "2024-02-30"],
            Some(&url),
            2,
        ),
        (
            "a negative Past Days",
            vec!["clicks", "--past-days", "-3"],
            Some(&url),
            2,
        ),
        (
            "two reports",
            vec!["clicks", "conversions", "--past-days", "1"],
            Some(&url),
            2,
        ),
        (
            "a date in another format",
            vec!["clicks", "--date", "03/01/2024"],
            Some(&url),
            2,
        ),
        (
            "Past Days of zero",
            vec!["clicks", "--past-days", "0"],
            Some(&url),
            2,
        ),
        (
            "a range that ends before it starts",
            vec!["clicks", "--start", "2024-03-02", "--end", "2024-03-01"],
            Some(&url),
            2,
        ),
        (
            "a range without an end",
            vec!["clicks", "--start", "2024-03-01"],
            Some(&url),
            2,
        ),
        (
            "a date and a range",
            vec![
                "clicks",
                "--date",
                "2024-03-01",
                "--start",
                "2024-03-01",
                "--end",
                "2024-03-02",
            ],
            Some(&url),
            2,
        ),
        (
            "an unknown window",
            vec![
                "campaigns-summary",
                "--start",
                "2024-01-01",
                "--end",
                "2024-01-31",
                "--window",
                "year",
            ],
            Some(&url),
            2,
        ),
        (
            "a domain with a path",
            date.to_vec(),
            Some("https://mycompany.cake.com/api/1"),
            2,
        ),
        (
            "a domain with a query",
            date.to_vec(),
            Some("https://mycompany.cake.com?x=1"),
            2,
        ),
        (
            "a domain with user info",
            date.to_vec(),
            Some("https://admin:hunter2@mycompany.cake.com"),
            2,
        ),
        (
            "a domain with another scheme",
            date.to_vec(),
            Some("ftp://mycompany.cake.com"),
            2,
        ),
        (
            "http:// to a host that is not loopback",
            date.to_vec(),
            Some("http://mycompany.cake.com"),
            2,
        ),
        ("no domain", date.to_vec(), None, 2),
    ];
    let mut transcript = String::new();
    for (name, report_args, domain, expected) in cases {
        let mut args = vec!["pull"];
        args.extend(report_args);
        if let Some(d) = domain {
            args.extend(["--domain", d]);
        }
        args.extend(["--out", s(&out)]);
        let r = run(&args, &[("CAKE_API_KEY", KEY)]);
        assert_eq!(r.code, expected, "{name}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{name}: {}", r.stdout);
        nothing_in(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        transcript.push_str(&transcript_entry(name, &r, dir.path()));
    }
    // Keys: missing, empty, refused by Cake.
    let base = ["pull", "clicks", "--date", "2024-03-01", "--domain", &url];
    type KeyCase<'a> = (&'a str, Vec<&'a str>, Vec<(&'a str, &'a str)>, i32);
    let key_cases: Vec<KeyCase> = vec![
        ("no API key", vec![], vec![], 2),
        ("an empty API key", vec!["--api-key", " "], vec![], 2),
        (
            "a wrong API key",
            vec![],
            vec![("CAKE_API_KEY", "not-the-key-but-long-enough")],
            3,
        ),
    ];
    for (name, extra, env, expected) in key_cases {
        let mut args = base.to_vec();
        args.extend(extra);
        args.extend(["--out", s(&out), "--retries", "0"]);
        let r = run(&args, &env);
        assert_eq!(r.code, expected, "{name}: {}", r.stderr);
        nothing_in(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        transcript.push_str(&transcript_entry(name, &r, dir.path()));
    }
    insta::assert_snapshot!("pull-usage", transcript);
}

#[test]
fn pull_refuses_replies_that_are_not_cake_xml() {
    let dir = tempfile::tempdir().unwrap();
    let mut transcript = String::new();
    for (name, content_type, body) in replies() {
        let server = Reply::start(content_type, body.clone());
        let out = dir.path().join("lake");
        let url = server.url();
        let mut c = command(&[
            "pull",
            "account-status",
            "--domain",
            &url,
            "--out",
            s(&out),
            "--retries",
            "0",
        ]);
        c.env("CAKE_API_KEY", KEY);
        let (r, peak) = run_measured(c);
        assert_eq!(r.code, 8, "{name}: {}", r.stderr);
        nothing_in(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let sent = server.sent.load(Ordering::SeqCst);
        eprintln!(
            "pull | {name} | exit {} | peak RSS {} MiB | {} of {} bytes sent",
            r.code,
            peak >> 20,
            sent,
            body.len()
        );
        assert!(peak > 0);
        if let Body::HugeText = body {
            assert!(
                peak < MEMORY_BOUND,
                "{name}: the process reached {} MiB",
                peak >> 20
            );
            assert!(sent < HUGE / 4, "{name}: {sent} bytes were read");
        }
        transcript.push_str(&transcript_entry(name, &r, dir.path()));
    }
    insta::assert_snapshot!("pull-replies", transcript);
}

/// Feeds the huge text node through a named pipe, so no file of 1 GiB is ever written.
fn huge_fifo(path: &Path) -> std::thread::JoinHandle<u64> {
    let c = std::ffi::CString::new(s(path)).unwrap();
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
    let path = path.to_path_buf();
    std::thread::spawn(move || {
        // Blocks until the reader opens the pipe.
        let mut f = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        Body::HugeText.write_to(&mut f)
    })
}

#[test]
fn convert_refuses_files_that_are_not_cake_xml() {
    let dir = tempfile::tempdir().unwrap();
    let inputs = dir.path().join("in");
    std::fs::create_dir(&inputs).unwrap();
    let mut transcript = String::new();
    for (i, (name, _, body)) in replies().into_iter().enumerate() {
        let file: PathBuf = inputs.join(format!("reply-{i}.xml"));
        let writer = match &body {
            Body::Bytes(b) => {
                std::fs::write(&file, b).unwrap();
                None
            }
            Body::HugeText => Some(huge_fifo(&file)),
        };
        let out = dir.path().join("out");
        std::fs::create_dir_all(&out).unwrap();
        let target = out.join("account-status.parquet");
        let (r, peak) = run_measured(command(&[
            "convert",
            "--report",
            "account-status",
            s(&file),
            "--out",
            s(&target),
        ]));
        if let Some(w) = writer {
            // The writer sees the reader go away (or, if it never came, is let go here).
            let unblock = std::fs::OpenOptions::new()
                .read(true)
                .custom_flags(libc::O_NONBLOCK)
                .open(&file);
            drop(unblock);
            let written = w.join().unwrap();
            eprintln!("convert | {name} | {written} bytes went into the pipe");
            assert!(written < HUGE / 4, "{name}: {written} bytes were read");
            assert!(
                peak < MEMORY_BOUND,
                "{name}: the process reached {} MiB",
                peak >> 20
            );
        }
        eprintln!(
            "convert | {name} | exit {} | peak RSS {} MiB",
            r.code,
            peak >> 20
        );
        assert_eq!(r.code, 8, "{name}: {}", r.stderr);
        assert!(r.stdout.is_empty(), "{name}: {}", r.stdout);
        nothing_in(&out).unwrap_or_else(|e| panic!("{name}: {e}"));
        let label = format!("convert {name}");
        transcript.push_str(&transcript_entry(&label, &r, dir.path()));
    }
    insta::assert_snapshot!("convert-replies", transcript);
}

#[test]
fn sync_refuses_config_files_with_unknown_keys_or_wrong_types() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let head = format!(
        "[instance]\ndomain = \"http://127.0.0.1:9\"\n\n[output]\nlocation = \"{}\"\n\n",
        s(&lake)
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "an unknown key in a report",
            format!("{head}[[report]]\nreport = \"offers\"\nofer_id = 3\n"),
        ),
        (
            "an unknown key in [output]",
            format!("{head}windw = \"day\"\n[[report]]\nreport = \"offers\"\n"),
        ),
        (
            "an unknown table",
            format!("{head}[instances]\nconcurrency = 2\n[[report]]\nreport = \"offers\"\n"),
        ),
        (
            "a word for an id",
            format!("{head}[[report]]\nreport = \"offers\"\noffer_id = \"twelve\"\n"),
        ),
        (
            "a fraction for an id",
            format!("{head}[[report]]\nreport = \"offers\"\noffer_id = 1.5\n"),
        ),
        (
            "a date option in a sync entry",
            format!(
                "{head}[[report]]\nreport = \"clicks\"\nstart = \"2024-01-01\"\npast_days = 3\n"
            ),
        ),
        (
            "a negative lookback",
            format!("{head}[defaults]\nlookback_days = -3\n[[report]]\nreport = \"offers\"\n"),
        ),
        (
            "a string for a boolean",
            format!(
                "[instance]\ndomain = \"http://127.0.0.1:9\"\nallow_insecure_http = \"yes\"\n\n\
                 [output]\nlocation = \"{}\"\n[[report]]\nreport = \"offers\"\n",
                s(&lake)
            ),
        ),
        (
            "an unknown report",
            format!("{head}[[report]]\nreport = \"clikcs\"\n"),
        ),
        (
            "an option the report does not take",
            format!("{head}[[report]]\nreport = \"offers\"\nsearch = \"x\"\n"),
        ),
        (
            "an impossible start date",
            format!("{head}[[report]]\nreport = \"clicks\"\nstart = \"2024-02-30\"\n"),
        ),
        (
            "not TOML",
            format!("{head}[[report]\nreport = \"offers\"\n"),
        ),
        (
            "one bracket around report",
            format!("{head}[report]\nreport = \"offers\"\n"),
        ),
        (
            "a TOML date that does not exist",
            format!("{head}[[report]]\nreport = \"clicks\"\nstart = 2024-02-30\n"),
        ),
    ];
    let mut transcript = String::new();
    for (name, text) in cases {
        let config = dir.path().join("cake.toml");
        std::fs::write(&config, &text).unwrap();
        let r = run(&["sync", "--config", s(&config)], &[("CAKE_API_KEY", KEY)]);
        assert_eq!(r.code, 2, "{name}: {}", r.stderr);
        assert!(r.verdict().contains("line "), "{name}: {}", r.stderr);
        nothing_in(&lake).unwrap_or_else(|e| panic!("{name}: {e}"));
        transcript.push_str(&transcript_entry(name, &r, dir.path()));
    }
    insta::assert_snapshot!("sync-config", transcript);
}

/// Messages that used to say too little, each with what to do.
#[test]
fn weak_messages_now_say_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    // A TOML date is a date: the config is accepted (its plan prints with --dry-run).
    let config = dir.path().join("dates.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\ndomain = \"http://127.0.0.1:9\"\n\n[output]\nlocation = \"{}\"\n\n\
             [defaults]\nstart = 2024-01-01\n[[report]]\nreport = \"offers\"\n",
            s(&lake)
        ),
    )
    .unwrap();
    let r = run(
        &["sync", "--config", s(&config), "--dry-run"],
        &[("CAKE_API_KEY", KEY)],
    );
    assert!(!r.stderr.contains("invalid type: map"), "{}", r.stderr);
    // A page size on a report that does not page, and no concurrency at all.
    for (args, needle) in [
        (
            vec!["currencies", "--page-size", "10"],
            "applies only to paged reports",
        ),
        (
            vec!["clicks", "--past-days", "1", "--concurrency", "0"],
            "--concurrency must be at least 1",
        ),
    ] {
        let mut all = vec!["pull"];
        all.extend(args);
        all.extend(["--domain", "http://127.0.0.1:9", "--out", s(&lake)]);
        let r = run(&all, &[("CAKE_API_KEY", KEY)]);
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.verdict().contains(needle), "{}", r.stderr);
    }
    // A Clicks response converted as Conversions is refused, not read as 0 rows.
    let clicks = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/responses/clicks/get.xml");
    let r = run(
        &[
            "convert",
            "--report",
            "conversions",
            s(&clicks),
            "--out",
            s(&dir.path().join("x.parquet")),
        ],
        &[],
    );
    assert_eq!(r.code, 8, "{}", r.stderr);
    assert!(r.verdict().contains("--report clicks"), "{}", r.stderr);
}
