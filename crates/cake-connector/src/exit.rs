//! Exit codes: one table over the workspace's one classification of failures
//! ([`cake_core::failure::Class`]), so that schedulers can tell failures apart; the README
//! documents them. Every command returns a [`Failure`] that carries its class.

use std::fmt;

use cake_core::failure::{Class, Classify, Failure};
use cake_pipeline::{Inconsistency, PipelineError};
use cake_transport::TransportError;

/// What a command returns.
pub type Result<T, E = Failure> = std::result::Result<T, E>;

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

/// A failure whose class was decided already (the worst of several): exits with its code.
#[derive(Debug)]
pub struct Failed {
    class: Class,
    message: String,
}

/// The class with the highest exit code of `classes` (the last of equals), if any: what a run
/// of several reports exits with.
pub fn worst(classes: impl IntoIterator<Item = Class>) -> Option<Class> {
    classes.into_iter().max_by_key(|c| code(*c))
}

impl Failed {
    pub fn new(class: Class, message: impl Into<String>) -> Failed {
        Failed {
            class,
            message: message.into(),
        }
    }
}

impl Classify for Failed {
    fn class(&self) -> Class {
        self.class
    }
}

impl fmt::Display for Failed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Failed {}

pub use cake_core::failure::chain;

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

impl Classify for DriftError {
    fn class(&self) -> Class {
        Class::Drift
    }
}

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

impl Classify for UsageError {
    fn class(&self) -> Class {
        Class::Usage
    }
}

/// An error of this binary's own (a local file, a document it writes) under the class the
/// caller gives it.
pub fn failure(
    class: Class,
    error: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> Failure {
    Failure::new(class, error)
}

/// An error that says what was being done when it happened, its cause kept as its source.
#[derive(Debug)]
struct Doing {
    what: String,
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl fmt::Display for Doing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.what)
    }
}

impl std::error::Error for Doing {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(self.source.as_ref())
    }
}

/// Says what was being done, and under which class, when an error of a foreign type (I/O,
/// the runtime) happens.
pub trait WhileDoing<T> {
    fn doing(self, class: Class, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E> WhileDoing<T> for std::result::Result<T, E>
where
    E: std::error::Error + Send + Sync + 'static,
{
    fn doing(self, class: Class, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|source| {
            Failure::new(
                class,
                Doing {
                    what: what(),
                    source: Box::new(source),
                },
            )
        })
    }
}

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
    cake_catalog::ShardError,
    cake_transport::InstanceError,
    cake_transport::EmptyApiKey
);

/// The exit code of a class: the one table.
pub fn code(class: Class) -> u8 {
    match class {
        Class::Usage => USAGE,
        Class::Authentication => AUTHENTICATION,
        Class::UnknownHost => UNKNOWN_HOST,
        Class::Connection => CONNECTION,
        Class::Tls => TLS,
        Class::Timeout => TIMEOUT,
        Class::NotCake | Class::Inconsistent => NOT_CAKE,
        Class::Rejected | Class::Unclassified => REJECTED,
        Class::Unavailable => UNAVAILABLE,
        Class::Output => OUTPUT,
        Class::Drift => DRIFT,
        Class::Interrupted => crate::signals::exit_code(),
        _ => FAILURE,
    }
}

/// What to do next, for the failures whose message comes from deep below (the last attempt's
/// error, a library that speaks of options rather than flags) and cannot say it.
pub fn hint(error: &Failure) -> Option<&'static str> {
    let pipeline = error.find::<PipelineError>();
    let table = matches!(pipeline, Some(PipelineError::Table { .. }));
    let inconsistency = match pipeline {
        Some(PipelineError::Inconsistent { problem, .. }) => Some(problem),
        _ => None,
    };
    let transport = error
        .find::<TransportError>()
        .or_else(|| match error.find() {
            Some(PipelineError::Transport(t)) => Some(t),
            _ => None,
        });
    match error.class() {
        Class::Usage if table => Some(
            "write it as a table of its own with --table NAME (sync: `table = \"NAME\"` in the \
             report's entry), or rebuild the table with --rebuild-table, which deletes what it holds.",
        ),
        Class::Drift => Some(
            "pulls of the differing reports may fail or miss values until the catalog is \
             corrected: run again with --write-specs DIR, review the files, copy them to \
             crates/cake-catalog/spec/ and run `cargo xtask codegen`.",
        ),
        Class::Unavailable
            if matches!(transport, Some(TransportError::RetryAfterTooLong { .. })) =>
        {
            None
        }
        Class::Unavailable => Some(
            "Cake kept throttling or failing until the retries ran out. Windows committed before \
             the failure are complete and the failed ones were left as they were: run the same \
             command again later, with fewer requests at once or more retries (pull: \
             --concurrency; sync: `concurrency` in [instance]; both: --retries, --retry-base-ms).",
        ),
        Class::Inconsistent => Some(match inconsistency {
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
