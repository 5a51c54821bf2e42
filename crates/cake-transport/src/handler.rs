//! The seam between the transport and whoever reads the bodies.
//!
//! The transport moves bytes; it does not parse Cake's XML. For each attempt at a page it asks a
//! [`HandlerFactory`] for a fresh [`PageHandler`], feeds it the body as it arrives, and asks it
//! what the page held (rows, `row_count`) and whether Cake accepted the request. A retried page
//! gets a new handler, and the failed attempt's handler is dropped with whatever it had read, so a
//! retry can neither duplicate nor lose rows.

use cake_catalog::DateRange;
use cake_core::failure::Class;
use chrono::NaiveDateTime;

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
    /// Where the request ends instead of the window's end (instance-local), for a window that
    /// reaches into the present.
    pub cutoff: Option<NaiveDateTime>,
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
    /// The identity of each row (its primary key), in order, when the handler knows it; empty
    /// otherwise. The window's check refuses a key seen twice.
    pub keys: Vec<RowKey>,
    /// The rows whose own date lies outside the window asked for, when the handler knows the
    /// rows' dates.
    pub dates: RowDates,
    /// Whatever the handler produced (decoded batches, a spooled file, ...).
    pub output: T,
}

/// How the rows' own dates sit against the window they were asked for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RowDates {
    /// Rows with a date.
    pub dated: u64,
    /// Of them, rows dated outside the window.
    pub outside: u64,
    /// Sum over the dated rows of their distance from the middle of the window, in seconds:
    /// with `dated`, the average shift of the answer against the window.
    pub shift_seconds: i128,
    /// The first row dated outside, for messages (`event_conversion_id 42, dated 2026-11-29`).
    pub first_outside: Option<String>,
}

impl RowDates {
    pub fn add(&mut self, other: RowDates) {
        self.dated += other.dated;
        self.outside += other.outside;
        self.shift_seconds += other.shift_seconds;
        if self.first_outside.is_none() {
            self.first_outside = other.first_outside;
        }
    }
}

/// A row's identity, as a page handler computes it from the row's key: the key's bytes
/// themselves when they fit in 15 bytes (ids, short codes), otherwise a 128-bit hash of them.
/// Equal keys give equal `RowKey`s; distinct short keys never collide.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RowKey([u8; 16]);

impl RowKey {
    /// Marks a hashed key in the last byte (inline keys keep their length there, at most 15).
    const HASHED: u8 = 0xff;

    /// The identity of the key whose canonical bytes are `key` (for a composite key, its parts
    /// joined by a separator that cannot occur in them, such as `0x1f`).
    pub fn new(key: &[u8]) -> RowKey {
        let mut out = [0u8; 16];
        if key.len() < 16 {
            out[..key.len()].copy_from_slice(key);
            out[15] = key.len() as u8;
        } else {
            use std::hash::{Hash, Hasher};
            for (i, salt) in [0x9e37_79b9_u32, 0x85eb_ca6b].into_iter().enumerate() {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                salt.hash(&mut h);
                key.hash(&mut h);
                out[i * 8..i * 8 + 8].copy_from_slice(&h.finish().to_le_bytes());
            }
            out[15] = Self::HASHED;
        }
        RowKey(out)
    }
}

impl std::fmt::Debug for RowKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RowKey({self})")
    }
}

impl std::fmt::Display for RowKey {
    /// The key as text (parts of a composite key joined by `, `), or its hash.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0[15] == Self::HASHED {
            write!(f, "a long key (hash ")?;
            for b in &self.0[..8] {
                write!(f, "{b:02x}")?;
            }
            return f.write_str(")");
        }
        let text =
            String::from_utf8_lossy(&self.0[..usize::from(self.0[15])]).replace('\u{1f}', ", ");
        f.write_str(&cake_catalog::text::escape_controls(&text))
    }
}

/// Why a body cannot be accepted.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum BodyError {
    /// The body, read as Cake's answer, cannot be accepted; its class decides what the
    /// transport does next: retry ([`Class::retryable`]), or stop and say so; the window loop
    /// pulls the window again on [`Class::Inconsistent`]. The message quotes the server (the transport scrubs
    /// it before keeping it), hence a string.
    #[error("{message}")]
    Refused { class: Class, message: String }, // String: the page handler's words (server text, scrubbed)
    /// The handler failed on its own side (a full disk while spilling): not the server's fault.
    /// Its error is kept whole, so that callers find its type and causes.
    #[error("{0}")]
    Local(LocalCause),
}

impl BodyError {
    pub fn refused(class: Class, message: impl Into<String>) -> BodyError {
        BodyError::Refused {
            class,
            message: message.into(),
        }
    }
}

/// A page handler's own failure (a local file, a thread), kept whole: it displays as the error
/// it holds, and that error (with its own causes) is its source, so `downcast_ref` finds it.
#[derive(Debug, Clone)]
pub struct LocalCause(std::sync::Arc<dyn std::error::Error + Send + Sync + 'static>);

impl LocalCause {
    pub fn new(error: impl std::error::Error + Send + Sync + 'static) -> LocalCause {
        LocalCause(std::sync::Arc::new(error))
    }

    /// The error held.
    pub fn get(&self) -> &(dyn std::error::Error + Send + Sync + 'static) {
        &*self.0
    }
}

impl std::fmt::Display for LocalCause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LocalCause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// Two causes are equal when they say the same (errors rarely compare otherwise).
impl PartialEq for LocalCause {
    fn eq(&self, other: &LocalCause) -> bool {
        self.to_string() == other.to_string()
    }
}

impl Eq for LocalCause {}

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
