//! Transport errors. None of them ever holds the API key: URLs are kept redacted and any text
//! that came back from the server is scrubbed before it is stored.

use std::time::Duration;

/// The class of a failure, for exit codes and for deciding what the user should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The API key was refused.
    Authentication,
    /// The host name does not resolve.
    UnknownHost,
    /// No connection could be made (refused, reset before a response, unreachable).
    Connection,
    /// The TLS handshake failed (certificate, protocol).
    Tls,
    /// A connect, request or idle-body timeout.
    Timeout,
    /// The reply is not a Cake API response (not XML, unexpected shape, no such endpoint).
    NotCake,
    /// Cake refused the request (a parameter, a window, another `success=false`).
    Rejected,
    /// Cake kept throttling or failing until the retry budget ran out.
    Unavailable,
    /// Paging went wrong (a repeated page, more rows than asked for).
    Paging,
    /// A window's pages stayed inconsistent through its re-pulls (rows that do not add up to
    /// `row_count`, a short page, a key seen twice).
    Inconsistent,
    /// The page handler failed on this machine (a full disk), not the server.
    Local,
}

/// A failed request, after retries when they apply.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    #[error("Cake at {host} refused the API key: {message}")]
    Authentication { host: String, message: String },
    #[error("cannot resolve the host `{host}`; check the domain name (for mycompany.cake.com give `mycompany`)")]
    UnknownHost { host: String },
    #[error("cannot connect to {host}: {message}")]
    Connection { host: String, message: String },
    #[error("the TLS handshake with {host} failed: {message}; check that the domain is right and serves https")]
    Tls { host: String, message: String },
    #[error("{what} timed out after {after:?} for {url}")]
    Timeout {
        url: String,
        what: &'static str,
        after: Duration,
    },
    #[error("the reply to {url} is not a Cake API response: {message}")]
    NotCake { url: String, message: String },
    #[error("Cake refused {url}: {message}")]
    Rejected { url: String, message: String },
    #[error("HTTP {status} from {url}: {message}")]
    Http {
        url: String,
        status: u16,
        message: String,
    },
    #[error("Cake is throttling requests ({message}) for {url}")]
    Throttled { url: String, message: String },
    #[error("Cake failed {url} for a passing reason: {message}")]
    Transient { url: String, message: String },
    #[error("Cake refused {url}: {message}")]
    Unrecognised { url: String, message: String },
    #[error("the reply to {url} answers another request: {message}")]
    WrongAnswer { url: String, message: String },
    #[error("the reply to {url} does not fit the catalog: {message}")]
    OffCatalog { url: String, message: String },
    #[error("the body of {url} arrived at {rate:.1} bytes/s, below the minimum of {limit} bytes/s over {period:?}; the server or the network is stalling")]
    SlowBody {
        url: String,
        rate: f64,
        limit: u32,
        period: Duration,
    },
    #[error("the answer for {url} was still inconsistent after {attempts} pull(s) of the whole window: {problem}; nothing of this window was written")]
    Inconsistent {
        url: String,
        attempts: u32,
        problem: crate::window::Inconsistency,
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
    Incomplete { url: String, message: String },
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
        said: String,
        max: Duration,
    },
    #[error(
        "the response head (status line and headers) from {url} is larger than the {limit} \
         bytes a response head may have: the server, or a proxy before it, is at fault"
    )]
    HeadTooLarge { url: String, limit: usize },
    #[error("paging {url} failed: {message}")]
    Paging { url: String, message: String },
    /// A page contradicts itself; the window it belongs to is pulled again whole.
    #[error("the reply to {url} contradicts itself: {message}")]
    Contradiction { url: String, message: String },
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

impl TransportError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TransportError::Authentication { .. } => ErrorKind::Authentication,
            TransportError::UnknownHost { .. } => ErrorKind::UnknownHost,
            TransportError::Connection { .. } => ErrorKind::Connection,
            TransportError::Tls { .. } => ErrorKind::Tls,
            TransportError::Timeout { .. } => ErrorKind::Timeout,
            TransportError::NotCake { .. } | TransportError::HeadTooLarge { .. } => {
                ErrorKind::NotCake
            }
            TransportError::RetryAfterTooLong { .. } => ErrorKind::Unavailable,
            TransportError::Rejected { .. } => ErrorKind::Rejected,
            TransportError::Http { .. }
            | TransportError::Throttled { .. }
            | TransportError::Transient { .. }
            | TransportError::Incomplete { .. } => ErrorKind::Unavailable,
            TransportError::Unrecognised { .. } => ErrorKind::Rejected,
            TransportError::WrongAnswer { .. } | TransportError::OffCatalog { .. } => {
                ErrorKind::NotCake
            }
            TransportError::SlowBody { .. } => ErrorKind::Timeout,
            TransportError::Inconsistent { .. } | TransportError::Contradiction { .. } => {
                ErrorKind::Inconsistent
            }
            TransportError::Local { .. } | TransportError::DocumentPath { .. } => ErrorKind::Local,
            TransportError::Paging { .. } => ErrorKind::Paging,
            TransportError::RetriesExhausted { last, .. } => match last.kind() {
                // Exhausting retries on a transient failure means Cake is unavailable; on a
                // network class, or on a refusal nobody classified, the class itself is the
                // better answer.
                k @ (ErrorKind::UnknownHost
                | ErrorKind::Connection
                | ErrorKind::Tls
                | ErrorKind::Timeout
                | ErrorKind::Rejected) => k,
                _ => ErrorKind::Unavailable,
            },
        }
    }

    /// True when another attempt may succeed.
    pub(crate) fn is_retryable(&self) -> bool {
        matches!(
            self,
            TransportError::Connection { .. }
                | TransportError::Timeout { .. }
                | TransportError::SlowBody { .. }
                | TransportError::Http { .. }
                | TransportError::Throttled { .. }
                | TransportError::Transient { .. }
                | TransportError::Unrecognised { .. }
                | TransportError::Incomplete { .. }
        )
    }
}
