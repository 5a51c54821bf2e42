//! A real S3-compatible server for tests: `moto_server` (from PyPI) on 127.0.0.1, started by
//! the test process and killed when the guard drops. Std only, so that the test crates of
//! other packages can include this file with `#[path]`.
//!
//! The binary is looked up at `$CAKE_MOTO_SERVER`, then `<workspace>/.venv/bin/moto_server`,
//! then on `PATH`. Without it, [`Moto::start`] panics when `CI` is set (CI installs it) and
//! otherwise prints why the S3 half is skipped and returns `None`.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server.
pub struct Moto {
    child: Child,
    port: u16,
}

/// Credentials moto accepts (it checks none, but the client signs every request).
pub const ACCESS_KEY_ID: &str = "test";
pub const SECRET_ACCESS_KEY: &str = "test";
pub const REGION: &str = "us-east-1";

fn find_binary(workspace: &Path) -> Result<PathBuf, String> {
    if let Some(p) = std::env::var_os("CAKE_MOTO_SERVER") {
        let p = PathBuf::from(p);
        return if p.is_file() {
            Ok(p)
        } else {
            Err(format!(
                "CAKE_MOTO_SERVER is set to {}, which is not a file",
                p.display()
            ))
        };
    }
    let venv = workspace.join(".venv/bin/moto_server");
    if venv.is_file() {
        return Ok(venv);
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let candidate = dir.join("moto_server");
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Err(format!(
        "no moto_server: set CAKE_MOTO_SERVER, create {} (bash .ci/run does), or put it on PATH",
        venv.display()
    ))
}

fn free_port() -> u16 {
    let listener = TcpListener::bind(("127.0.0.1", 0)).expect("a free port on 127.0.0.1");
    listener.local_addr().expect("a bound address").port()
}

impl Moto {
    /// Starts moto for `test` (named in the skip message). `workspace` is the workspace root.
    pub fn start(test: &str, workspace: &Path) -> Option<Moto> {
        let binary = match find_binary(workspace) {
            Ok(b) => b,
            Err(why) => {
                if std::env::var_os("CI").is_some() {
                    panic!("{test}: the S3 half needs moto_server and CI is set: {why}");
                }
                // Straight to the process's stderr: the harness hides what `eprintln!`
                // prints in passing tests, and a skip must be seen.
                let _ = writeln!(std::io::stderr(), "SKIPPED the S3 half of {test}: {why}");
                return None;
            }
        };
        // A port taken between the probe and moto's bind is retried with another one.
        let mut last_error = String::new();
        for _ in 0..3 {
            let port = free_port();
            let child = Command::new(&binary)
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start {}: {e}", binary.display()));
            let mut moto = Moto { child, port };
            match moto.wait_ready() {
                Ok(()) => return Some(moto),
                Err(e) => last_error = e,
            }
        }
        panic!(
            "{test}: {} did not answer on 127.0.0.1: {last_error}",
            binary.display()
        );
    }

    fn wait_ready(&mut self) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("it exited with {status}"));
            }
            if let Ok((status, _)) = self.request("GET", "/") {
                if status == 200 {
                    return Ok(());
                }
            }
            if Instant::now() > deadline {
                return Err("no answer within 60 s".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// One plain HTTP/1.1 request (moto checks no signature); the status and the body.
    pub fn request(&self, method: &str, path: &str) -> std::io::Result<(u16, String)> {
        let mut stream = TcpStream::connect(("127.0.0.1", self.port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            self.port
        )?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response)?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let status = text
            .split(' ')
            .nth(1)
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b.to_string())
            .unwrap_or_default();
        Ok((status, body))
    }

    /// Creates `bucket` (a PUT on the bucket's path).
    pub fn create_bucket(&self, bucket: &str) {
        let (status, body) = self
            .request("PUT", &format!("/{bucket}"))
            .expect("moto answers");
        assert_eq!(status, 200, "creating bucket {bucket}: {body}");
    }

    /// Whether `bucket` exists.
    pub fn bucket_exists(&self, bucket: &str) -> bool {
        matches!(self.request("HEAD", &format!("/{bucket}")), Ok((200, _)))
    }

    /// Every key in `bucket`, as moto lists them (independent of the connector's own listing).
    pub fn keys(&self, bucket: &str) -> Vec<String> {
        let mut keys = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut path = format!("/{bucket}?list-type=2");
            if let Some(t) = &token {
                path.push_str("&continuation-token=");
                path.push_str(&percent(t));
            }
            let (status, body) = self.request("GET", &path).expect("moto answers");
            assert_eq!(status, 200, "listing {bucket}: {body}");
            keys.extend(elements(&body, "Key"));
            token = elements(&body, "NextContinuationToken").into_iter().next();
            if token.is_none() {
                break;
            }
        }
        keys.sort();
        keys
    }

    /// Settings for `cake_sink::StoreOptions::settings`.
    pub fn settings(&self) -> Vec<(String, String)> {
        vec![
            ("aws_endpoint".into(), self.endpoint()),
            ("aws_access_key_id".into(), ACCESS_KEY_ID.into()),
            ("aws_secret_access_key".into(), SECRET_ACCESS_KEY.into()),
            ("aws_region".into(), REGION.into()),
        ]
    }

    /// The same as environment variables, for a child process.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY_ID.into()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY.into()),
            ("AWS_REGION", REGION.into()),
            // Credentials are static: nothing may look for an instance's metadata service
            // beyond loopback.
            ("AWS_METADATA_ENDPOINT", "http://127.0.0.1:1".into()),
        ]
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn elements(xml: &str, name: &str) -> Vec<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let mut out = Vec::new();
    let mut rest = xml;
    while let Some(start) = rest.find(&open) {
        let after = &rest[start + open.len()..];
        let Some(end) = after.find(&close) else { break };
        out.push(
            after[..end]
                .replace("&amp;", "&")
                .replace("&lt;", "<")
                .replace("&gt;", ">")
                .replace("&quot;", "\"")
                .replace("&apos;", "'"),
        );
        rest = &after[end + close.len()..];
    }
    out
}

fn percent(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
