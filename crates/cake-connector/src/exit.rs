//! Exit codes. Each failure class has its own code so that schedulers can tell them apart; the
//! README documents them.

use std::fmt;

use cake_pipeline::{FailureKind, PipelineError};
use cake_transport::{Inconsistency, TransportError};

/// Success.
pub const OK: u8 = 0;
/// A failure not covered below.
pub const FAILURE: u8 = 1;
/// Bad command line, options or configuration: nothing was sent or written.
pub const USAGE: u8 = 2;
/// Cake refused the API key.
pub const AUTHENTICATION: u8 = 3;
/// The domain does not resolve.
pub const UNKNOWN_HOST: u8 = 4;
/// No connection to the instance.
pub const CONNECTION: u8 = 5;
/// The TLS handshake failed.
pub const TLS: u8 = 6;
/// A connect, request or idle timeout, or a body slower than the minimum rate.
pub const TIMEOUT: u8 = 7;
/// The reply is not a Cake API response, cannot be decoded, answers another request, or a
/// window's pages stayed inconsistent through their re-pulls.
pub const NOT_CAKE: u8 = 8;
/// Cake refused the request.
pub const REJECTED: u8 = 9;
/// Cake kept throttling or failing until retries ran out.
pub const UNAVAILABLE: u8 = 10;
/// Writing the output failed.
pub const OUTPUT: u8 = 11;
/// `verify`: the catalog differs from the instance's WSDL for at least one report.
pub const DRIFT: u8 = 12;

/// A failure whose exit code was decided already (the worst of several): exits with it.
#[derive(Debug)]
pub struct Failed {
    code: u8,
    message: String,
}

impl Failed {
    pub fn new(code: u8, message: impl Into<String>) -> Failed {
        Failed {
            code,
            message: message.into(),
        }
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {}

/// An error and its causes, as anyhow's `{:#}` writes them (`a: b: c`), each cause once: a
/// cause whose text an outer message already quotes is not repeated.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

/// The exit code of a pipeline error.
pub fn code_for_pipeline(e: &PipelineError) -> u8 {
    code_for_kind(e.kind())
}

/// `verify` found reports whose catalog entry differs from the instance: exits with [`DRIFT`].
#[derive(Debug)]
pub struct DriftError(String);

impl DriftError {
    pub fn new(message: impl Into<String>) -> DriftError {
        DriftError(message.into())
    }
}

impl fmt::Display for DriftError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for DriftError {}

/// An error the user fixes by changing the command: exits with [`USAGE`].
#[derive(Debug)]
pub struct UsageError(String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> UsageError {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

macro_rules! usage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for UsageError {
            fn from(e: $t) -> UsageError {
                UsageError(e.to_string())
            }
        }
    )*};
}

/// On the command line, options are named by their flags.
impl From<cake_catalog::PlanError> for UsageError {
    fn from(e: cake_catalog::PlanError) -> UsageError {
        UsageError(e.message(cake_catalog::Naming::Flags))
    }
}

usage_from!(
    cake_catalog::ParseError,
    cake_catalog::UnknownReport,
    cake_transport::InstanceError,
    cake_transport::EmptyApiKey
);

fn code_for_kind(kind: FailureKind) -> u8 {
    match kind {
        FailureKind::Authentication => AUTHENTICATION,
        FailureKind::UnknownHost => UNKNOWN_HOST,
        FailureKind::Connection => CONNECTION,
        FailureKind::Tls => TLS,
        FailureKind::Timeout => TIMEOUT,
        FailureKind::NotCake | FailureKind::Inconsistent => NOT_CAKE,
        FailureKind::Rejected => REJECTED,
        FailureKind::Unavailable => UNAVAILABLE,
        FailureKind::Output => OUTPUT,
        FailureKind::Config => USAGE,
        FailureKind::Interrupted => crate::signals::exit_code(),
        _ => FAILURE,
    }
}

/// What to do next, for the failures whose message comes from deep below (the last attempt's
/// error, a library that speaks of options rather than flags) and cannot say it.
pub fn hint(error: &anyhow::Error, code: u8) -> Option<&'static str> {
    let kind = error.chain().find_map(|c| {
        c.downcast_ref::<PipelineError>()
            .map(|e| (e.kind(), matches!(e, PipelineError::Table { .. })))
    });
    match (code, kind) {
        (USAGE, Some((FailureKind::Config, true))) => Some(
            "write it as a table of its own with --table NAME (sync: `table = \"NAME\"` in the \
             report's entry), or rebuild the table with --rebuild-table, which deletes what it holds.",
        ),
        (DRIFT, _) => Some(
            "pulls of the differing reports may fail or miss values until the catalog is \
             corrected: run again with --write-specs DIR, review the files, copy them to \
             crates/cake-catalog/spec/ and run `cargo xtask codegen`.",
        ),
        (UNAVAILABLE, _) if asked_too_long(error) => None,
        (UNAVAILABLE, _) => Some(
            "Cake kept throttling or failing until the retries ran out. Windows committed before \
             the failure are complete and the failed ones were left as they were: run the same \
             command again later, with fewer requests at once or more retries (pull: \
             --concurrency; sync: `concurrency` in [instance]; both: --retries, --retry-base-ms).",
        ),
        (NOT_CAKE, Some((FailureKind::Inconsistent, _))) => Some(match inconsistency(error) {
            Some(Inconsistency::RepeatedKey { .. }) => {
                "the failed window was left as it was. If the instance is known to repeat row \
                 keys, --allow-repeated-keys accepts them; otherwise run again later."
            }
            Some(Inconsistency::OtherDates { .. }) => {
                "the failed window was left as it was. Check the instance's time zone \
                 (--timezone); rows Cake dates outside the range asked for are accepted, in \
                 the window's own partitions, with --accept-rows-outside-window."
            }
            _ => "the failed window was left as it was: run again later.",
        }),
        _ => None,
    }
}

/// True when the server asked for a longer wait than allowed (the message says what to do).
fn asked_too_long(error: &anyhow::Error) -> bool {
    error.chain().any(|c| {
        matches!(
            c.downcast_ref::<TransportError>(),
            Some(TransportError::RetryAfterTooLong { .. })
        ) || matches!(
            c.downcast_ref::<PipelineError>(),
            Some(PipelineError::Transport(
                TransportError::RetryAfterTooLong { .. }
            ))
        )
    })
}

/// The window inconsistency behind an error, if that is what it is.
fn inconsistency(error: &anyhow::Error) -> Option<&Inconsistency> {
    error.chain().find_map(|c| {
        let transport = c.downcast_ref::<TransportError>().or_else(|| {
            match c.downcast_ref::<PipelineError>() {
                Some(PipelineError::Transport(t)) => Some(t),
                _ => None,
            }
        })?;
        match transport {
            TransportError::Inconsistent { problem, .. } => Some(problem),
            _ => None,
        }
    })
}

/// The exit code for an error: the binary's own classes (usage, drift, a decided code), else
/// the workspace's one classification ([`FailureKind::of`]) of the first cause it knows.
pub fn code_for(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return USAGE;
        }
        if cause.downcast_ref::<DriftError>().is_some() {
            return DRIFT;
        }
        if let Some(f) = cause.downcast_ref::<Failed>() {
            return f.code;
        }
        if let Some(kind) = FailureKind::of(cause) {
            return code_for_kind(kind);
        }
    }
    FAILURE
}
