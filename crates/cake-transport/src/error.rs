//! Transport errors. None of them ever holds the API key: URLs are kept redacted and any text
//! that came back from the server is scrubbed before it is stored.

use std::time::Duration;

use cake_core::failure::{Class, Classify};

/// A failed request, after retries when they apply.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("Cake at {host} refused the API key: {message}")]
    Authentication { host: String, message: String }, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    #[error("cannot resolve the host `{host}`; check the domain name (for mycompany.cake.com give `mycompany`)")]
    UnknownHost { host: String },
    #[error(
        "cannot connect to {host}: {message}; check the domain (and its port) and that the \
         instance is up and reachable from here"
    )]
    Connection { host: String, message: String }, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    #[error("the TLS handshake with {host} failed: {message}")]
    Tls { host: String, message: String }, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    #[error(
        "{what} timed out after {after:?} for {url}; the instance is slow or unreachable: \
         retry later, or allow more time (--idle-timeout, --attempt-timeout)"
    )]
    Timeout {
        url: String,
        what: &'static str,
        after: Duration,
    },
    #[error("the reply to {url} is not a Cake API response: {message}")]
    NotCake { url: String, message: String }, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    #[error("Cake refused {url}: {message}")]
    Rejected { url: String, message: String }, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    #[error("HTTP {status} from {url}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    },
    /// A body read as Cake's answer that the page handler refused: `class` says what it is
    /// (throttling, a passing failure, a refusal, not Cake's answer...). The message is the
    /// handler's, scrubbed: server text, hence a string.
    #[error("{}", refused(url, *class, message))]
    Refused {
        url: String,
        class: Class,
        message: String, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    },
    #[error("the body of {url} arrived at {rate:.1} bytes/s, below the minimum of {limit} bytes/s over {period:?}; the server or the network is stalling")]
    SlowBody {
        url: String,
        rate: f64,
        limit: u32,
        period: Duration,
    },
    #[error("reading {url} failed on this machine: {source}")]
    Local {
        url: String,
        #[source]
        source: crate::handler::LocalCause,
    },
    /// [`Client::get_document`](crate::Client::get_document) was given something else than a
    /// path from the instance's root.
    #[error("`{path}` is not a document path: name a document by its path from the instance's root (`/api/12/reports.asmx?WSDL`), without scheme, host or fragment")]
    DocumentPath { path: String },
    #[error("the response to {url} broke off: {message}")]
    Incomplete { url: String, message: String }, // String: reqwest's or the server's words, scrubbed of the key (reqwest's error holds the URL with the key)
    #[error(
        "the server asked to wait {} (Retry-After: {said}) before trying {url} again, longer \
         than the {}s --max-retry-after allows: the window fails now; run it again later, or \
         raise --max-retry-after",
        human_duration(*asked),
        max.as_secs()
    )]
    RetryAfterTooLong {
        url: String,
        asked: Duration,
        /// The header as the server sent it (cleaned).
        said: String, // String: the header as the server sent it
        max: Duration,
    },
    #[error(
        "the response head (status line and headers) from {url} is larger than the {limit} \
         bytes a response head may have: the server, or a proxy before it, is at fault"
    )]
    HeadTooLarge { url: String, limit: usize },
    /// A page contradicts itself; the window it belongs to is pulled again whole.
    #[error("the reply to {url} contradicts itself: {message}")]
    Contradiction { url: String, message: String }, // String: the two readings that disagree, composed
    #[error("gave up after {attempts} attempts in {elapsed:?}: {last}")]
    RetriesExhausted {
        attempts: u32,
        elapsed: Duration,
        last: Box<TransportError>,
    },
}

/// A wait as people read it: `45 s`, `12 min`, `3 h 20 min`, `26,322 days`.
fn human_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..120 => format!("{s} s"),
        120..7200 => format!("{} min", s / 60),
        7200..172_800 => format!("{} h {} min", s / 3600, s % 3600 / 60),
        _ => format!("{} days", s / 86_400),
    }
}

/// The words before a refused body's message, by class.
fn refused(url: &str, class: Class, message: &str) -> String {
    match class {
        Class::Unavailable => format!("Cake did not serve {url} this time: {message}"),
        Class::Rejected | Class::Unclassified => format!("Cake refused {url}: {message}"),
        Class::NotCake => format!("the reply to {url} cannot be used: {message}"),
        _ => format!("the reply to {url}: {message}"),
    }
}

impl Classify for TransportError {
    fn class(&self) -> Class {
        match self {
            TransportError::Authentication { .. } => Class::Authentication,
            TransportError::UnknownHost { .. } => Class::UnknownHost,
            TransportError::Connection { .. } => Class::Connection,
            TransportError::Tls { .. } => Class::Tls,
            TransportError::Timeout { .. } | TransportError::SlowBody { .. } => Class::Timeout,
            TransportError::NotCake { .. } | TransportError::HeadTooLarge { .. } => Class::NotCake,
            TransportError::Rejected { .. } => Class::Rejected,
            TransportError::Http { .. }
            | TransportError::Incomplete { .. }
            | TransportError::RetryAfterTooLong { .. } => Class::Unavailable,
            TransportError::Refused { class, .. } => *class,
            TransportError::Contradiction { .. } => Class::Inconsistent,
            TransportError::Local { .. } => Class::Output,
            TransportError::DocumentPath { .. } => Class::Usage,
            TransportError::RetriesExhausted { last, .. } => last.class().exhausted(),
        }
    }
}

impl TransportError {
    /// True when another attempt may succeed: its class is retryable (a longer `Retry-After`
    /// than allowed is not tried again, whatever its class).
    pub(crate) fn is_retryable(&self) -> bool {
        !matches!(self, TransportError::RetryAfterTooLong { .. }) && self.class().retryable()
    }
}
