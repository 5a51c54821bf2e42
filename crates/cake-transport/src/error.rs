//! Transport errors. None of them ever holds the API key: URLs are kept redacted and any text
//! that came back from the server is scrubbed before it is stored.

use std::time::Duration;

/// The class of a failure, for exit codes and for deciding what the user should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
}

/// A failed request, after retries when they apply.
#[derive(Debug, Clone, thiserror::Error)]
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
    #[error("the response to {url} broke off: {message}")]
    Incomplete { url: String, message: String },
    #[error("paging {url} failed: {message}")]
    Paging { url: String, message: String },
    #[error("gave up after {attempts} attempts in {elapsed:?}: {last}")]
    RetriesExhausted {
        attempts: u32,
        elapsed: Duration,
        last: Box<TransportError>,
    },
}

impl TransportError {
    pub fn kind(&self) -> ErrorKind {
        match self {
            TransportError::Authentication { .. } => ErrorKind::Authentication,
            TransportError::UnknownHost { .. } => ErrorKind::UnknownHost,
            TransportError::Connection { .. } => ErrorKind::Connection,
            TransportError::Tls { .. } => ErrorKind::Tls,
            TransportError::Timeout { .. } => ErrorKind::Timeout,
            TransportError::NotCake { .. } => ErrorKind::NotCake,
            TransportError::Rejected { .. } => ErrorKind::Rejected,
            TransportError::Http { .. }
            | TransportError::Throttled { .. }
            | TransportError::Incomplete { .. } => ErrorKind::Unavailable,
            TransportError::Paging { .. } => ErrorKind::Paging,
            TransportError::RetriesExhausted { last, .. } => match last.kind() {
                // Exhausting retries on a transient failure means Cake is unavailable; on a
                // network class the class itself is the better answer.
                k @ (ErrorKind::UnknownHost
                | ErrorKind::Connection
                | ErrorKind::Tls
                | ErrorKind::Timeout) => k,
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
                | TransportError::Http { .. }
                | TransportError::Throttled { .. }
                | TransportError::Incomplete { .. }
        )
    }
}
