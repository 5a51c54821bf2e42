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

/// Prints `text` on stderr, cleaned, then wrapped at the terminal's width (scrubbed before it is
/// cut: a secret split across two lines would escape the scrub).
pub fn eprint(text: &str) {
    let folded = crate::fit::fold(&clean(text), crate::fit::columns());
    let _ = io::stderr().lock().write_all(folded.as_bytes());
}

/// How a line of the binary's own output counts when logs are JSON.
#[derive(Debug, Clone, Copy)]
pub enum Line {
    /// Progress: a report starts, a window is committed.
    Progress,
    Warning,
    Error,
    Hint,
}

/// Prints one line of the binary's own output on stderr (with `-q`, errors and hints only): in
/// text mode wrapped at the terminal's width ([`crate::fit::columns`]), as a JSON event (`"level"`, `"fields": {"message"}`) with `--log-format json`, so that stderr is all
/// JSON lines for a log shipper.
pub fn line(kind: Line, text: &str) {
    if quiet() && matches!(kind, Line::Progress | Line::Warning) {
        return;
    }
    if !JSON.load(std::sync::atomic::Ordering::Relaxed) {
        // Scrubbed before it is cut: a secret split across two lines would escape the scrub.
        eprint(&format!("{text}\n"));
        return;
    }
    let text = text.trim_end();
    match kind {
        Line::Progress => tracing::info!(target: "cake_connector", "{text}"),
        Line::Warning => tracing::warn!(target: "cake_connector", "{text}"),
        Line::Error => tracing::error!(target: "cake_connector", "{text}"),
        Line::Hint => tracing::error!(target: "cake_connector", kind = "hint", "{text}"),
    }
}

static JSON: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Prints `text` on stdout, cleaned; text for people (anything but JSON) is wrapped at the
/// terminal's width, scrubbed before it is cut. A closed pipe (`| head`) is not an error
/// worth a message.
pub fn print(text: &str) {
    let cleaned = clean(text);
    let shown = if text.starts_with(['{', '[']) {
        cleaned
    } else {
        crate::fit::fold(&cleaned, crate::fit::columns())
    };
    let _ = io::stdout().lock().write_all(shown.as_bytes());
}

/// Prints what a program reads on stdout (a completion script, a manual page, protocol
/// messages, a config file), cleaned and never wrapped.
pub fn print_raw(text: &str) {
    let _ = io::stdout().lock().write_all(clean(text).as_bytes());
}

struct CleanStderr;

impl Write for CleanStderr {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        // Log lines wrap like every line (scrubbed before they are cut); JSON lines do not.
        let text = clean(&String::from_utf8_lossy(buf));
        let text = if JSON.load(std::sync::atomic::Ordering::Relaxed) {
            text
        } else {
            crate::fit::fold(&text, crate::fit::columns())
        };
        io::stderr().lock().write_all(text.as_bytes())?;
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

/// Whether progress lines may be printed (not under `-q`).
static QUIET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// True under `-q`: only errors are printed.
pub fn quiet() -> bool {
    QUIET.load(std::sync::atomic::Ordering::Relaxed)
}

/// Installs the subscriber. Call once, first thing. `CAKE_LOG` wins over the flags.
pub fn init(args: &crate::cli::LogArgs) {
    install_panic_hook(args.verbose >= 3);
    QUIET.store(args.quiet, std::sync::atomic::Ordering::Relaxed);
    JSON.store(
        args.log_format == crate::cli::LogFormat::Json,
        std::sync::atomic::Ordering::Relaxed,
    );
    let level = match (args.quiet, args.verbose) {
        (true, _) => "error",
        (false, 0) => "warn",
        // A line per request (the transport's), and what each run does.
        (false, 1) => "info,cake_transport=debug",
        (false, 2) => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_env("CAKE_LOG").unwrap_or_else(|_| EnvFilter::new(level));
    // `CAKE_LOG=error` (or `off`) silences the progress and warning lines too, as `-q` does.
    if filter
        .max_level_hint()
        .is_some_and(|l| l <= tracing_subscriber::filter::LevelFilter::ERROR)
    {
        QUIET.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(MakeClean)
        .with_ansi(false)
        .with_target(true);
    let _ = match args.log_format {
        crate::cli::LogFormat::Text => builder.try_init(),
        crate::cli::LogFormat::Json => builder.json().flatten_event(true).try_init(),
    };
}

/// A panic (a bug) is reported as one error line, scrubbed like every line, saying where it
/// happened; the backtrace only with `-vvv`, whatever `RUST_BACKTRACE` says.
fn install_panic_hook(backtrace: bool) {
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_string())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "a panic without a message".into());
        let at = info
            .location()
            .map(|l| format!(" (at {}:{})", l.file(), l.line()))
            .unwrap_or_default();
        line(
            Line::Error,
            &format!(
                "error: internal error: {}{at}; this is a bug: please report it with the \
                 command that led to it (-vvv adds a backtrace)",
                crate::logging::clean(&message)
            ),
        );
        if backtrace {
            eprint(&format!("{}\n", std::backtrace::Backtrace::force_capture()));
        }
    }));
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
