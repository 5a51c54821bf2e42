//! The one classification of every failure of the workspace.
//!
//! A [`Class`] says what went wrong in terms of what to do about it: whether another attempt
//! may help ([`Class::retryable`]) and what the user should check. Every library error of the
//! workspace says its class ([`Classify`]); nothing maps one error kind onto another. The
//! binary's exit codes and the Python module's exception types are each one table over
//! [`Class`].
//!
//! [`Failure`] carries any classified error whole (its type, its message, its causes) with its
//! class, for callers that handle errors of several crates at once.
//!
//! ```
//! use cake_core::failure::{Class, Classify, Failure};
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("the bucket does not exist")]
//! struct NoBucket;
//!
//! impl Classify for NoBucket {
//!     fn class(&self) -> Class {
//!         Class::Output
//!     }
//! }
//!
//! let failure = Failure::from(NoBucket);
//! assert_eq!(failure.class(), Class::Output);
//! assert!(!failure.class().retryable());
//! assert_eq!(failure.to_string(), "the bucket does not exist");
//! assert!(failure.downcast_ref::<NoBucket>().is_some());
//! ```

use std::error::Error as StdError;
use std::fmt;

/// What kind of failure an error is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Class {
    /// Bad command line, options or configuration, or a run the output refuses (another table
    /// contract, a state from the future): nothing was sent or written.
    Usage,
    /// Cake refused the API key.
    Authentication,
    /// The domain does not resolve.
    UnknownHost,
    /// No connection could be made, or it broke before a response.
    Connection,
    /// The TLS handshake failed.
    Tls,
    /// A connect, response-head, idle or attempt timeout, or a body slower than the minimum.
    Timeout,
    /// The reply is not a Cake API response, cannot be decoded, does not fit the catalog (in
    /// strict mode), or answers another request.
    NotCake,
    /// A window's answer contradicted itself or did not add up through its re-pulls.
    Inconsistent,
    /// Cake refused the request: a parameter, a date range.
    Rejected,
    /// Cake answered `success=false` with a message nobody has classified: tried again a few
    /// times, then taken as a refusal.
    Unclassified,
    /// Cake is throttling, or failed for a passing reason (HTTP 5xx, a database timeout, a body
    /// cut short): tried again with backoff.
    Unavailable,
    /// The catalog and the instance's own description differ (`verify`).
    Drift,
    /// Reading or writing local files or the output location failed.
    Output,
    /// The job was stopped from outside before it finished.
    Interrupted,
    /// A bug: something the code did not expect.
    Internal,
}

impl Class {
    /// Every class, in declaration order.
    pub const ALL: [Class; 15] = [
        Class::Usage,
        Class::Authentication,
        Class::UnknownHost,
        Class::Connection,
        Class::Tls,
        Class::Timeout,
        Class::NotCake,
        Class::Inconsistent,
        Class::Rejected,
        Class::Unclassified,
        Class::Unavailable,
        Class::Drift,
        Class::Output,
        Class::Interrupted,
        Class::Internal,
    ];

    /// True when another attempt at the same request may succeed.
    pub const fn retryable(self) -> bool {
        matches!(
            self,
            Class::Connection | Class::Timeout | Class::Unavailable | Class::Unclassified
        )
    }

    /// The class of a request whose retries ran out while it failed as `self`: a refusal
    /// nobody classified is a refusal; every other class stays itself.
    pub const fn exhausted(self) -> Class {
        match self {
            Class::Unclassified => Class::Rejected,
            other => other,
        }
    }

    /// A stable name (`not-cake`), for JSON summaries and logs.
    pub const fn as_str(self) -> &'static str {
        match self {
            Class::Usage => "usage",
            Class::Authentication => "authentication",
            Class::UnknownHost => "unknown-host",
            Class::Connection => "connection",
            Class::Tls => "tls",
            Class::Timeout => "timeout",
            Class::NotCake => "not-cake",
            Class::Inconsistent => "inconsistent",
            Class::Rejected => "rejected",
            Class::Unclassified => "unclassified",
            Class::Unavailable => "unavailable",
            Class::Drift => "drift",
            Class::Output => "output",
            Class::Interrupted => "interrupted",
            Class::Internal => "internal",
        }
    }
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error and its causes, as anyhow's `{:#}` writes them (`a: b: c`), each cause once: a
/// cause whose text an outer message already quotes is not repeated.
pub fn chain(e: &(dyn StdError + 'static)) -> String {
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

/// An error that knows its class.
pub trait Classify {
    fn class(&self) -> Class;
}

/// Any classified error of the workspace, kept whole, with its class.
pub struct Failure {
    class: Class,
    error: Box<dyn StdError + Send + Sync + 'static>,
}

impl Failure {
    /// `error` under an explicit class (for errors that do not classify themselves, such as
    /// an I/O error of a caller).
    pub fn new(
        class: Class,
        error: impl Into<Box<dyn StdError + Send + Sync + 'static>>,
    ) -> Failure {
        Failure {
            class,
            error: error.into(),
        }
    }

    pub fn class(&self) -> Class {
        self.class
    }

    /// The error itself, if it is an `E`.
    pub fn downcast_ref<E: StdError + 'static>(&self) -> Option<&E> {
        self.error.downcast_ref::<E>()
    }

    /// The first error of type `E` in the chain of causes, the error itself included.
    pub fn find<E: StdError + 'static>(&self) -> Option<&E> {
        let mut cause: Option<&(dyn StdError + 'static)> = Some(self.error.as_ref());
        while let Some(c) = cause {
            if let Some(e) = c.downcast_ref::<E>() {
                return Some(e);
            }
            cause = c.source();
        }
        None
    }

    /// The error, as a trait object.
    pub fn error(&self) -> &(dyn StdError + Send + Sync + 'static) {
        self.error.as_ref()
    }
}

impl<E> From<E> for Failure
where
    E: Classify + StdError + Send + Sync + 'static,
{
    fn from(error: E) -> Failure {
        Failure {
            class: error.class(),
            error: Box::new(error),
        }
    }
}

impl fmt::Debug for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Failure")
            .field("class", &self.class)
            .field("error", &self.error)
            .finish()
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.error, f)
    }
}

impl StdError for Failure {
    /// The error's own cause: a `Failure` displays as its error, so the chain goes on from
    /// there.
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.error.source()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_retries_go_to_passing_failures_only() {
        let names: std::collections::BTreeSet<&str> =
            Class::ALL.iter().map(|c| c.as_str()).collect();
        assert_eq!(names.len(), Class::ALL.len());
        let retryable: Vec<Class> = Class::ALL.into_iter().filter(|c| c.retryable()).collect();
        assert_eq!(
            retryable,
            [
                Class::Connection,
                Class::Timeout,
                Class::Unclassified,
                Class::Unavailable
            ]
        );
        assert_eq!(Class::Unclassified.exhausted(), Class::Rejected);
        assert_eq!(Class::Unavailable.exhausted(), Class::Unavailable);
    }
}
