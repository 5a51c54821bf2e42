//! The seam between the transport and whoever reads the bodies.
//!
//! The transport moves bytes; it does not parse Cake's XML. For each attempt at a page it asks a
//! [`HandlerFactory`] for a fresh [`PageHandler`], feeds it the body as it arrives, and asks it
//! what the page held (rows, `row_count`) and whether Cake accepted the request. A retried page
//! gets a new handler, and the failed attempt's handler is dropped with whatever it had read, so a
//! retry can neither duplicate nor lose rows.

use cake_catalog::DateRange;

/// One page of one window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// 0-based page number within the window.
    pub index: u32,
    /// 1-based first row (`start_at_row`).
    pub start_at_row: u64,
    /// Page size (`row_limit`).
    pub row_limit: u32,
}

/// What a handler is reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    /// The date window of the request, for dated range reports.
    pub window: Option<DateRange>,
    /// The page, for paged reports.
    pub page: Option<Page>,
    /// 1 for the first attempt, 2 for the first retry, ...
    pub attempt: u32,
}

/// What a complete body held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageOutcome<T> {
    /// Rows in this body.
    pub rows: u64,
    /// Cake's `row_count`: the total number of rows matching the request (all pages), when the
    /// document has an envelope.
    pub row_count: Option<u64>,
    /// Whatever the handler produced (decoded batches, a spooled file, ...).
    pub output: T,
}

/// Why a body cannot be accepted. The variant decides what the transport does next.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    /// Cake is throttling (`success=false`, `Restricted`): back off and retry.
    #[error("Cake is throttling requests: {0}")]
    Throttled(String),
    /// The body ended early or broke off in a way a new attempt may not repeat: retry.
    #[error("incomplete response: {0}")]
    Incomplete(String),
    /// The API key was refused: never retried.
    #[error("Cake refused the API key: {0}")]
    Authentication(String),
    /// Cake refused the request itself: retrying cannot help.
    #[error("Cake refused the request: {0}")]
    Rejected(String),
    /// The body is not a usable Cake response (not XML, wrong shape, a bad value).
    #[error("{0}")]
    Invalid(String),
}

/// Reads one attempt at one page.
pub trait PageHandler: Send {
    type Output: Send;

    /// The next bytes of the body, in order.
    fn feed(&mut self, chunk: &[u8]) -> Result<(), BodyError>;

    /// The body is complete: what it held, or why it cannot be accepted.
    fn finish(self) -> Result<PageOutcome<Self::Output>, BodyError>;
}

/// Makes a fresh handler for every attempt at every page.
pub trait HandlerFactory: Sync {
    type Handler: PageHandler;

    fn handler(&self, request: &PageRequest) -> Self::Handler;
}
