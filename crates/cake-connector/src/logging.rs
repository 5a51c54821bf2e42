//! Logs on stderr, with every known secret scrubbed from every line at every level.
//!
//! The libraries never log the API key, but a dependency at trace level might log a URL. The
//! writer here replaces each registered secret before anything reaches stderr, so no log level
//! can leak it. `CAKE_LOG` sets the filter (`warn` by default; `info`, `debug`, `trace`, or
//! per-crate directives such as `cake_transport=debug`).

use std::io::{self, Write};
use std::sync::{OnceLock, RwLock};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

fn secrets() -> &'static RwLock<Vec<String>> {
    static SECRETS: OnceLock<RwLock<Vec<String>>> = OnceLock::new();
    SECRETS.get_or_init(|| RwLock::new(Vec::new()))
}

/// Registers a value that must never be printed.
pub fn add_secret(secret: &str) {
    let secret = secret.trim();
    if secret.is_empty() {
        return;
    }
    let mut list = secrets().write().unwrap_or_else(|p| p.into_inner());
    for s in [secret.to_string(), url_encoded(secret)] {
        if !list.contains(&s) {
            list.push(s);
        }
    }
}

fn url_encoded(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// `text` with every registered secret replaced by `<redacted>`.
pub fn redact(text: &str) -> String {
    let list = secrets().read().unwrap_or_else(|p| p.into_inner());
    let mut out = text.to_string();
    for s in list.iter() {
        if out.contains(s.as_str()) {
            out = out.replace(s.as_str(), "<redacted>");
        }
    }
    out
}

struct RedactingStderr;

impl Write for RedactingStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let text = redact(&String::from_utf8_lossy(buf));
        io::stderr().lock().write_all(text.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

struct MakeRedacting;

impl<'a> MakeWriter<'a> for MakeRedacting {
    type Writer = RedactingStderr;

    fn make_writer(&'a self) -> Self::Writer {
        RedactingStderr
    }
}

/// Installs the subscriber. Call once, first thing.
pub fn init() {
    let filter = EnvFilter::try_from_env("CAKE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeRedacting)
        .with_ansi(false)
        .with_target(true)
        .try_init();
}
