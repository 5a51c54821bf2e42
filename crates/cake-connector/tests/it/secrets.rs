//! The API key appears in no output, whatever happens: every command that takes a key, in
//! success and in failure, the bad inputs, a hostile server that echoes the key back in error
//! bodies and redirects, all at `CAKE_LOG=trace`. Each run's stdout, stderr and run summary,
//! and every file under its output (Parquet bytes, footer metadata and decoded rows, raw
//! responses decompressed, state, manifests, staging leftovers) are scanned for the key, its
//! URL-encoded forms and its distinctive halves.

use crate::common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};

use cake_sandbox::{Faults, SandboxConfig};
use common::*;

/// A key with characters that URL encoding changes, so an unencoded and an encoded leak are
/// both visible.
const KEY: &str = "LEAKCHECKa1b2c3d4e5+/=&tail9z8y7x6w5v";
/// Parts that survive a partial leak (a key cut at `+` or `&`).
const HALVES: [&str; 2] = ["LEAKCHECKa1b2c3d4e5", "tail9z8y7x6w5v"];

fn needles() -> Vec<String> {
    let upper: String = KEY
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let lower = upper
        .replace("%2B", "%2b")
        .replace("%2F", "%2f")
        .replace("%3D", "%3d");
    let mut v = vec![KEY.to_string(), upper, lower];
    v.extend(HALVES.iter().map(|h| h.to_string()));
    v
}

/// Every readable form of every file below `dir`.
fn texts_of(dir: &Path, out: &mut Vec<(String, String)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            texts_of(&p, out);
            continue;
        }
        let name = p.display().to_string();
        let bytes = std::fs::read(&p).unwrap();
        out.push((name.clone(), String::from_utf8_lossy(&bytes).into_owned()));
        if name.contains("/_raw/") {
            assert!(name.ends_with(".xml.zst"), "{name}");
            let text = zstd::stream::decode_all(bytes.as_slice()).unwrap();
            out.push((
                format!("{name} (decompressed)"),
                String::from_utf8_lossy(&text).into_owned(),
            ));
        }
        if name.ends_with(".parquet") {
            let rows = parquet_rows(&p).unwrap();
            out.push((format!("{name} (rows)"), rows.join("\n")));
            let reader =
                parquet::file::reader::SerializedFileReader::new(std::fs::File::open(&p).unwrap())
                    .unwrap();
            let meta = parquet::file::reader::FileReader::metadata(&reader);
            let kv: Vec<String> = meta
                .file_metadata()
                .key_value_metadata()
                .map(|kv| {
                    kv.iter()
                        .map(|k| format!("{}={}", k.key, k.value.clone().unwrap_or_default()))
                        .collect()
                })
                .unwrap_or_default();
            out.push((format!("{name} (footer metadata)"), kv.join("\n")));
        }
    }
}

/// One scanned case.
struct Scan {
    leaks: Vec<String>,
    scanned: usize,
}

impl Scan {
    fn new() -> Scan {
        Scan {
            leaks: Vec::new(),
            scanned: 0,
        }
    }

    fn text(&mut self, case: &str, what: &str, text: &str) {
        self.scanned += 1;
        for n in needles() {
            if text.contains(&n) {
                self.leaks.push(format!("{case}: `{n}` in {what}"));
            }
        }
    }

    fn run(&mut self, case: &str, r: &Run, dirs: &[&Path]) {
        self.text(case, "stdout", &r.stdout);
        self.text(case, "stderr", &r.stderr);
        let mut files = Vec::new();
        for d in dirs {
            texts_of(d, &mut files);
        }
        for (name, text) in files {
            self.text(case, &name, &text);
        }
    }
}

fn traced(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut all = vec![("CAKE_LOG", "trace")];
    all.extend_from_slice(env);
    run(args, &all)
}

/// A hostile server: answers every request with `status`, a `Location` and a body that all
/// repeat the request line, key included.
fn echo_server(status: &'static str, content_type: &'static str) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for sock in listener.incoming() {
            let Ok(mut sock) = sock else { continue };
            std::thread::spawn(move || {
                let mut head = Vec::new();
                let mut buf = [0u8; 4096];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut buf) {
                        Ok(0) | Err(_) => return,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let line = String::from_utf8_lossy(&head)
                    .lines()
                    .next()
                    .unwrap_or_default()
                    .to_string();
                let target = line.split(' ').nth(1).unwrap_or_default().to_string();
                let body = format!("You asked for {target} with the key {KEY}\r\n");
                let reply = format!(
                    "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nLocation: https://elsewhere.example{target}\r\n\
                     Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes());
            });
        }
    });
    format!("http://{addr}")
}

#[test]
fn the_key_appears_in_no_output() {
    let server = Server::start(SandboxConfig {
        seed: 9,
        api_key: KEY.into(),
        rows_per_day: 15,
        ..SandboxConfig::default()
    });
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let path = |name: &str| -> PathBuf { dir.path().join(name) };
    let key_env = [("CAKE_API_KEY", KEY)];
    let mut scan = Scan::new();
    let mut transcript = String::new();
    let mut record = |scan: &mut Scan, case: &str, r: &Run, dirs: &[&Path]| {
        scan.run(case, r, dirs);
        let logged = r.stderr.lines().filter(|l| l.contains("TRACE")).count();
        transcript.push_str(&format!(
            "{case}: exit {}, {} TRACE lines\n",
            r.code,
            if logged > 0 { "some" } else { "no" }
        ));
    };

    // check: accepted, and refused by a server that expects another key.
    let r = traced(&["check", "--domain", &url], &key_env);
    assert_eq!(r.code, 0, "{}", r.stderr);
    record(&mut scan, "check ok", &r, &[]);
    let other = Server::start(SandboxConfig {
        api_key: "another-key-entirely".into(),
        ..SandboxConfig::default()
    });
    let r = traced(&["check", "--domain", &other.url()], &key_env);
    assert_eq!(r.code, 3, "{}", r.stderr);
    record(&mut scan, "check refused", &r, &[]);

    // pull: complete, with raw responses and a summary; then failing after retries.
    let out = path("pull-ok");
    let summary = path("pull-ok.json");
    let r = traced(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--page-size",
            "6",
            "--keep-raw",
            "--domain",
            &url,
            "--out",
            s(&out),
            "--summary-json",
            s(&summary),
        ],
        &key_env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(out.join("_raw").exists());
    record(&mut scan, "pull ok", &r, &[&out, &summary]);
    for (case, faults) in [
        (
            "pull failing (HTTP 5xx)",
            Faults {
                error_rate: 1.0,
                ..Faults::default()
            },
        ),
        (
            "pull failing (reset)",
            Faults {
                reset_rate: 1.0,
                ..Faults::default()
            },
        ),
    ] {
        server.faults(faults);
        let r = traced(
            &[
                "pull",
                "campaigns-summary",
                "--past-days",
                "2",
                "--keep-raw",
                "--domain",
                &url,
                "--out",
                s(&out),
                "--retries",
                "1",
                "--retry-base-ms",
                "1",
            ],
            &key_env,
        );
        assert_eq!(r.code, 10, "{}", r.stderr);
        record(&mut scan, case, &r, &[&out]);
    }
    server.faults(Faults::default());

    // convert the raw responses kept by the pull.
    let raw_dir = out.join("_raw").join("clicks");
    let mut raws = Vec::new();
    let mut stack = vec![raw_dir];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                raws.push(p);
            }
        }
    }
    raws.sort();
    let converted = path("converted.parquet");
    let mut args = vec!["convert", "--report", "clicks", "--out", s(&converted)];
    args.extend(raws.iter().map(|p| s(p)));
    let r = traced(&args, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    record(&mut scan, "convert raw responses", &r, &[&converted]);

    // dry-run, with the key in the environment and with the key pasted into the domain.
    let r = traced(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--dry-run",
            "--domain",
            &url,
            "--out",
            s(&dir.path().join("dry")),
        ],
        &key_env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    record(&mut scan, "dry-run", &r, &[]);
    let pasted = format!("https://mycompany.cake.com/?api_key={KEY}");
    let r = traced(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--dry-run",
            "--domain",
            &pasted,
        ],
        &key_env,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    record(&mut scan, "dry-run, key pasted into the domain", &r, &[]);
    let r = traced(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--domain",
            &pasted,
            "--out",
            s(&out),
        ],
        &key_env,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    record(&mut scan, "pull, key pasted into the domain", &r, &[&out]);
    let r = traced(&["check", "--domain", &pasted], &key_env);
    assert_eq!(r.code, 2, "{}", r.stderr);
    record(&mut scan, "check, key pasted into the domain", &r, &[]);
    let userinfo = format!("https://admin:{KEY}@mycompany.cake.com");
    let r = traced(
        &[
            "pull",
            "clicks",
            "--past-days",
            "2",
            "--domain",
            &userinfo,
            "--out",
            s(&out),
        ],
        &key_env,
    );
    assert_eq!(r.code, 2, "{}", r.stderr);
    record(&mut scan, "pull, key as the domain's password", &r, &[&out]);

    // sync: complete with state and a summary, then failing.
    let lake = path("lake");
    let config = path("cake.toml");
    std::fs::write(
        &config,
        format!(
            "[instance]\ndomain = \"{url}\"\n\n[output]\nlocation = \"{}\"\nkeep_raw = true\n\n\
             [defaults]\nstart = \"{}\"\n\n[[report]]\nreport = \"clicks\"\npage_size = 8\n\n\
             [[report]]\nreport = \"offers\"\n\n[[report]]\nreport = \"conversion-changes\"\n",
            s(&lake),
            chrono::Utc::now().date_naive() - chrono::Days::new(2)
        ),
    )
    .unwrap();
    let sync_summary = path("sync.json");
    let r = traced(
        &[
            "sync",
            "--config",
            s(&config),
            "--summary-json",
            s(&sync_summary),
        ],
        &key_env,
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(lake.join("_state").exists());
    record(&mut scan, "sync ok", &r, &[&lake, &sync_summary]);
    server.faults(Faults {
        restricted_rate: 1.0,
        ..Faults::default()
    });
    let r = traced(
        &[
            "sync",
            "--config",
            s(&config),
            "--full-refresh",
            "--retries",
            "1",
            "--retry-base-ms",
            "1",
        ],
        &key_env,
    );
    assert_eq!(r.code, 10, "{}", r.stderr);
    record(&mut scan, "sync failing", &r, &[&lake]);
    server.faults(Faults::default());
    // The key written into the config file (accepted, though discouraged), with a config error.
    let keyed = path("keyed.toml");
    std::fs::write(
        &keyed,
        format!(
            "[instance]\ndomain = \"{url}\"\napi_key = \"{KEY}\"\nconcurrency = \"four\"\n\n\
             [output]\nlocation = \"{}\"\n\n[[report]]\nreport = \"offers\"\n",
            s(&lake)
        ),
    )
    .unwrap();
    let r = traced(&["sync", "--config", s(&keyed)], &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    record(
        &mut scan,
        "sync, key in a config with an error",
        &r,
        &[&lake],
    );

    // Bad input: a wrong type of domain, an unknown report, hostile replies.
    let r = traced(
        &[
            "pull",
            "clikcs",
            "--past-days",
            "1",
            "--domain",
            &url,
            "--out",
            s(&out),
        ],
        &key_env,
    );
    assert_eq!(r.code, 2);
    record(&mut scan, "pull, unknown report", &r, &[&out]);
    for (case, status, content_type, code) in [
        (
            "echoed in an HTTP 500 body",
            "500 Internal Server Error",
            "text/plain",
            10,
        ),
        ("echoed in a plain-text 200 body", "200 OK", "text/plain", 8),
        ("echoed in an HTML 200 page", "200 OK", "text/html", 8),
        ("echoed in a redirect", "302 Found", "text/plain", 8),
        ("echoed in a 403", "403 Forbidden", "text/plain", 3),
    ] {
        let echo = echo_server(status, content_type);
        let hostile = path("hostile");
        let r = traced(
            &[
                "pull",
                "clicks",
                "--past-days",
                "1",
                "--keep-raw",
                "--domain",
                &echo,
                "--out",
                s(&hostile),
                "--retries",
                "1",
                "--retry-base-ms",
                "1",
            ],
            &key_env,
        );
        assert_eq!(r.code, code, "{case}: {}", r.stderr);
        record(&mut scan, &format!("pull, key {case}"), &r, &[&hostile]);
        let r = traced(&["check", "--domain", &echo, "--timeout", "2"], &key_env);
        assert_ne!(r.code, 0, "{case}: {}", r.stderr);
        record(&mut scan, &format!("check, key {case}"), &r, &[]);
    }

    eprintln!(
        "{} texts scanned for {} forms of the key",
        scan.scanned,
        needles().len()
    );
    assert!(
        scan.leaks.is_empty(),
        "the key leaked:\n{}",
        scan.leaks.join("\n")
    );
    insta::assert_snapshot!("cases", transcript);
}
