//! Everything the binary prints goes through here: logs, progress lines, the result on stdout
//! and the final error. Each line is scrubbed of every registered secret in every encoding (the
//! transport's [`Scrubber`]) and its control characters are escaped, so neither a key nor a
//! terminal escape sequence that slipped past the libraries reaches the terminal.
//!
//! `CAKE_LOG` sets the filter (`warn` by default; `info`, `debug`, `trace`, or per-crate
//! directives such as `cake_transport=debug`).

use std::io::{self, Write};
use std::sync::{OnceLock, RwLock};

use cake_transport::Scrubber;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

fn scrubber() -> &'static RwLock<Scrubber> {
    static SCRUBBER: OnceLock<RwLock<Scrubber>> = OnceLock::new();
    SCRUBBER.get_or_init(|| RwLock::new(Scrubber::default()))
}

/// Registers a value that must never be printed.
pub fn add_secret(secret: &str) {
    scrubber()
        .write()
        .unwrap_or_else(|p| p.into_inner())
        .add(secret);
}

/// `text` as it may be printed: secrets replaced by `<redacted>`, control characters other than
/// line ends and tabs escaped (`\x1b`, `\r`, `\x07`).
pub fn clean(text: &str) -> String {
    let scrubbed = scrubber()
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .scrub(text)
        .into_owned();
    scrubbed
        .split_inclusive('\n')
        .map(|line| {
            let (body, end) = match line.strip_suffix('\n') {
                Some(body) => (body, "\n"),
                None => (line, ""),
            };
            let escaped: String = body
                .split('\t')
                .map(|part| cake_catalog::text::escape_controls(part).into_owned())
                .collect::<Vec<_>>()
                .join("\t");
            escaped + end
        })
        .collect()
}

/// Prints `text` on stderr, cleaned.
pub fn eprint(text: &str) {
    let _ = io::stderr().lock().write_all(clean(text).as_bytes());
}

/// Prints `text` on stdout, cleaned. A closed pipe (`| head`) is not an error worth a message.
pub fn print(text: &str) {
    let _ = io::stdout().lock().write_all(clean(text).as_bytes());
}

struct CleanStderr;

impl Write for CleanStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        io::stderr()
            .lock()
            .write_all(clean(&String::from_utf8_lossy(buf)).as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        io::stderr().flush()
    }
}

struct MakeClean;

impl<'a> MakeWriter<'a> for MakeClean {
    type Writer = CleanStderr;

    fn make_writer(&'a self) -> Self::Writer {
        CleanStderr
    }
}

/// Installs the subscriber. Call once, first thing.
pub fn init() {
    let filter = EnvFilter::try_from_env("CAKE_LOG").unwrap_or_else(|_| EnvFilter::new("warn"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeClean)
        .with_ansi(false)
        .with_target(true)
        .try_init();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_are_scrubbed_and_escaped() {
        add_secret("t0p+s3cret/k");
        let text = "a t0p%2Bs3cret%2fk b\x1b[2J c\r\n\tnext line\u{7}\n";
        assert_eq!(
            clean(text),
            "a <redacted> b\\x1b[2J c\\r\n\tnext line\\x07\n"
        );
    }
}
