//! Exit codes. Each failure class has its own code so that schedulers can tell them apart; the
//! README documents them.

use std::fmt;

use cake_pipeline::{FailureKind, PipelineError};
use cake_transport::TransportError;

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
/// A connect, request or idle timeout.
pub const TIMEOUT: u8 = 7;
/// The reply is not a Cake API response, or cannot be decoded.
pub const NOT_CAKE: u8 = 8;
/// Cake refused the request.
pub const REJECTED: u8 = 9;
/// Cake kept throttling or failing until retries ran out.
pub const UNAVAILABLE: u8 = 10;
/// Writing the output failed.
pub const OUTPUT: u8 = 11;

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

usage_from!(
    cake_catalog::ParseError,
    cake_catalog::PlanError,
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
        FailureKind::NotCake => NOT_CAKE,
        FailureKind::Rejected => REJECTED,
        FailureKind::Unavailable => UNAVAILABLE,
        FailureKind::Output => OUTPUT,
        FailureKind::Config => USAGE,
    }
}

/// What to do next, for the classes whose message comes from deep below (the last attempt's
/// error) and cannot say it.
pub fn hint(code: u8) -> Option<&'static str> {
    match code {
        UNAVAILABLE => Some(
            "Cake kept throttling or failing until the retries ran out. Windows committed before \
             the failure are complete and the failed ones were left as they were: run the same \
             command again later, with fewer requests at once or more retries (pull and sync: \
             --concurrency, --retries, --retry-base-ms).",
        ),
        _ => None,
    }
}

/// The exit code for an error: the most specific class found in its chain.
pub fn code_for(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return USAGE;
        }
        if let Some(e) = cause.downcast_ref::<PipelineError>() {
            return code_for_kind(e.kind());
        }
        if let Some(e) = cause.downcast_ref::<TransportError>() {
            return code_for_kind(PipelineError::Transport(e.clone()).kind());
        }
        if let Some(e) = cause.downcast_ref::<cake_arrow::DecodeError>() {
            use cake_arrow::ErrorKind as K;
            return match e.kind() {
                K::Authentication => AUTHENTICATION,
                K::Throttled => UNAVAILABLE,
                K::Request => REJECTED,
                K::Malformed | K::Value | K::Drift => NOT_CAKE,
                K::Io => FAILURE,
            };
        }
    }
    FAILURE
}
