//! Decoding errors, each with its class in the workspace's one classification
//! ([`cake_core::failure::Class`]).

use cake_core::failure::{Class, Classify};

/// How Cake's own `success=false` message is classified: what a client should do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CakeRefusal {
    /// The instance is throttling (`Restricted`, `Too many requests`): back off and retry.
    Throttled,
    /// `Invalid API Key`: retrying does not help.
    InvalidApiKey,
    /// A passing failure inside Cake (a database timeout or deadlock, a .NET exception, an
    /// empty message): retry.
    Transient,
    /// A refusal of the request itself (an invalid parameter, a date range, a missing entity):
    /// retrying does not help.
    Permanent,
    /// A message nobody has classified: retried a few times, then taken as a refusal.
    Other,
}

impl CakeRefusal {
    /// What the refusal means for the request.
    pub const fn class(self) -> Class {
        match self {
            CakeRefusal::Throttled | CakeRefusal::Transient => Class::Unavailable,
            CakeRefusal::InvalidApiKey => Class::Authentication,
            CakeRefusal::Permanent => Class::Rejected,
            CakeRefusal::Other => Class::Unclassified,
        }
    }
}

/// Cake's `success=false` messages by what they contain (case-insensitive), first match wins.
/// An empty message is [`CakeRefusal::Transient`]; a message matching nothing is
/// [`CakeRefusal::Other`]. `docs/reliability.md` shows this table.
pub const CAKE_MESSAGES: &[(&str, CakeRefusal)] = &[
    // soapy_cake treats `Restricted` as its rate-limit signal (cake-api.md §40.2).
    ("restricted", CakeRefusal::Throttled),
    ("too many requests", CakeRefusal::Throttled),
    ("rate limit", CakeRefusal::Throttled),
    ("throttl", CakeRefusal::Throttled),
    // The KB's error table: "API key does not exist or is expired".
    ("invalid api key", CakeRefusal::InvalidApiKey),
    ("api key does not exist", CakeRefusal::InvalidApiKey),
    ("api key is expired", CakeRefusal::InvalidApiKey),
    // SQL Server and ASP.NET failures that a new attempt usually does not meet again.
    ("timeout expired", CakeRefusal::Transient),
    ("timed out", CakeRefusal::Transient),
    ("deadlock", CakeRefusal::Transient),
    ("object reference not set", CakeRefusal::Transient),
    ("transport-level error", CakeRefusal::Transient),
    ("network-related", CakeRefusal::Transient),
    ("thread was being aborted", CakeRefusal::Transient),
    ("service unavailable", CakeRefusal::Transient),
    ("server is busy", CakeRefusal::Transient),
    ("try again", CakeRefusal::Transient),
    ("unexpected error", CakeRefusal::Transient),
    // Refusals of the request (the KB's error table: `Invalid source_affiliate_id`,
    // `Invalid Disposition ID`, `Conversion Not Found`, `Invalid Vertical Name`...).
    ("invalid", CakeRefusal::Permanent),
    ("not found", CakeRefusal::Permanent),
    ("does not exist", CakeRefusal::Permanent),
    ("missing", CakeRefusal::Permanent),
    ("date range", CakeRefusal::Permanent),
    ("must be", CakeRefusal::Permanent),
    ("not allowed", CakeRefusal::Permanent),
    ("permission", CakeRefusal::Permanent),
    ("cannot", CakeRefusal::Permanent),
];

impl CakeRefusal {
    /// Classifies Cake's message by [`CAKE_MESSAGES`].
    pub fn classify(message: &str) -> CakeRefusal {
        let m = message.trim().to_ascii_lowercase();
        if m.is_empty() || m == "(no message)" {
            return CakeRefusal::Transient;
        }
        CAKE_MESSAGES
            .iter()
            .find(|(needle, _)| m.contains(needle))
            .map_or(CakeRefusal::Other, |(_, class)| *class)
    }
}

/// An error while decoding one response. Every variant names the report; value errors also
/// name the column, the 1-based row number within the response and the raw value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    #[error("{}", cake_message(report, message, *refusal))]
    Cake {
        report: &'static str,
        message: String, // String: Cake's own words from the body, scrubbed
        refusal: CakeRefusal,
    },

    #[error(
        "{report}: Cake answered with a SOAP fault ({code}): \"{reason}\" The request was \
         rejected; check its parameters"
    )]
    SoapFault {
        report: &'static str,
        code: String,
        reason: String, // String: the fault's text from the body, scrubbed
    },

    #[error(
        "{report}: the response is not XML but text: \"{excerpt}\". Cake answers a missing or \
         invalid parameter this way; check the request"
    )]
    NotXml {
        report: &'static str,
        excerpt: String,
    },

    #[error(
        "{report}: the response is an HTML page, not Cake XML: \"{excerpt}\". The server failed \
         or the URL is not a Cake API endpoint"
    )]
    Html {
        report: &'static str,
        excerpt: String,
    },

    #[error("{report}: the response is empty: no XML document was received; retry the request")]
    Empty { report: &'static str },

    #[error(
        "{report}: the document ends early at byte {offset} ({context}): the response was cut \
         off; retry the request"
    )]
    Truncated {
        report: &'static str,
        offset: u64,
        context: String,
    },

    #[error("{report}: malformed XML at byte {offset}: {detail}")]
    Syntax {
        report: &'static str,
        offset: u64,
        detail: String, // String: quick-xml's error rendered; its type borrows the reader
    },

    #[error(
        "{report}: malformed XML at byte {offset}: the end tag </{found}> does not match the \
         open element <{expected}>"
    )]
    Mismatched {
        report: &'static str,
        offset: u64,
        expected: String,
        found: String,
    },

    #[error(
        "{report}: invalid UTF-8 at byte {offset}: Cake responses are UTF-8; the data is damaged \
         or in another encoding"
    )]
    InvalidUtf8 { report: &'static str, offset: u64 },

    #[error(
        "{report}: the document has a DOCTYPE declaration at byte {offset}: DTDs and entity \
         declarations are rejected, never expanded (Cake responses have none)"
    )]
    Doctype { report: &'static str, offset: u64 },

    #[error(
        "{report}: unknown entity reference `&{name};` at byte {offset}: only the five XML \
         entities (&amp; &lt; &gt; &quot; &apos;) and character references are allowed"
    )]
    UnknownEntity {
        report: &'static str,
        offset: u64,
        name: String,
    },

    #[error("{report}: invalid character reference `&{reference};` at byte {offset}")]
    BadCharRef {
        report: &'static str,
        offset: u64,
        reference: String,
    },

    #[error(
        "{report}: elements nest deeper than {max} levels at byte {offset}; raise the decoder's \
         `max_depth` if the document is genuine"
    )]
    TooDeep {
        report: &'static str,
        offset: u64,
        max: usize,
    },

    #[error(
        "{report}: a text node or tag starting at byte {offset} is larger than {max} bytes; \
         raise the decoder's `max_text_bytes` if the document is genuine"
    )]
    TextTooLarge {
        report: &'static str,
        offset: u64,
        max: usize,
    },

    #[error(
        "{report}: row {row} holds more text than one batch can index (4 GiB); lower \
         `max_text_bytes` or check the document"
    )]
    BatchTooLarge { report: &'static str, row: u64 },

    #[error("{report}: content after the end of the document at byte {offset}")]
    TrailingContent { report: &'static str, offset: u64 },

    #[error("{report}: column `{column}`, row {row}: cannot read {value:?}: {reason}")]
    Value {
        report: &'static str,
        column: &'static str,
        row: u64,
        value: String,
        reason: String, // String: the parser's words about the value
    },

    #[error(
        "{report}: column `{column}`, row {row}: no value (element missing, nil or empty) but \
         the catalog says the column is never null"
    )]
    Missing {
        report: &'static str,
        column: &'static str,
        row: u64,
    },

    #[error("{report}: envelope element `{field}`: cannot read {value:?}: {reason}")]
    Envelope {
        report: &'static str,
        field: &'static str,
        value: String,
        reason: String, // String: the parser's words about the value
    },

    #[error(
        "{report}: element `{element}`{} is not in the catalog and strict mode is on: the API may \
         be newer than the catalog; update the report's spec or decode without strict mode",
        row_suffix(*row)
    )]
    UnknownElement {
        report: &'static str,
        element: String,
        row: Option<u64>,
    },

    #[error(
        "{report}: row {row} holds more than {max} bytes (values, `_extra` and `_rejected` \
         together); raise the decoder's `max_row_bytes` if the document is genuine"
    )]
    RowTooLarge {
        report: &'static str,
        row: u64,
        max: usize,
    },

    #[error(
        "{report}: row {row} holds more than {max} bytes of elements the catalog does not map \
         or of repeated values; raise the limit (--max-extra-bytes), or keep a truncation \
         marker instead (--truncate-extra)"
    )]
    ExtraTooLarge {
        report: &'static str,
        row: u64,
        max: usize,
    },

    #[error(
        "{report}: row {row} holds the key column `{column}` twice ({first:?}, then {second:?}): \
         a row with two keys cannot be placed; the answer is inconsistent"
    )]
    RepeatedKey {
        report: &'static str,
        column: &'static str,
        row: u64,
        first: String,
        second: String,
    },

    #[error(
        "{report}: the envelope element `{field}` appears twice ({first:?}, then {second:?}): \
         the answer contradicts itself"
    )]
    RepeatedEnvelope {
        report: &'static str,
        field: &'static str,
        first: String,
        second: String,
    },

    #[error(
        "{report}: no row found, but the document holds {found}: its layout differs from the \
         catalog's ({expected}); check the report, or run `cake-connector verify` against the \
         instance and update the report's spec"
    )]
    RowsNotFound {
        report: &'static str,
        found: String,
        expected: String,
    },

    #[error(
        "{report}: {detail}; strict mode refuses a layout other than the catalog's (decode \
         without strict mode to read it)"
    )]
    Layout {
        report: &'static str,
        detail: String, // String: encoding_rs/the reader's words
    },

    #[error(
        "{report}: the document declares the encoding {label:?}, which has no known decoder; \
         Cake answers in UTF-8: check what produced this body"
    )]
    UnknownEncoding { report: &'static str, label: String },

    #[error(
        "{report}: the reply is not the answer to this request: {detail}. A proxy or the \
         instance answered another endpoint; check the domain and that nothing rewrites requests"
    )]
    WrongAnswer {
        report: &'static str,
        detail: String, // String: arrow's words
        /// The report whose answer it is, when the catalog knows it.
        answers: Option<&'static str>,
    },

    #[error("{report}: reading the response failed: {message}")]
    Io {
        report: &'static str,
        message: String, // String: the reader's words, scrubbed
    },

    #[error("{report}: cannot assemble a record batch: {detail}")]
    Internal {
        report: &'static str,
        detail: String, // String: arrow's words
    },
}

fn cake_message(report: &str, message: &str, refusal: CakeRefusal) -> String {
    match refusal {
        CakeRefusal::Throttled => format!(
            "{report}: Cake answered success=false with \"{message}\": the instance is throttling \
             API calls; retry after a pause, with fewer concurrent requests"
        ),
        CakeRefusal::InvalidApiKey => format!(
            "{report}: Cake answered success=false with \"{message}\": the API key does not exist \
             or has expired; check the key configured for this instance"
        ),
        CakeRefusal::Transient => format!(
            "{report}: Cake answered success=false with \"{message}\": a passing failure inside \
             Cake; retry later"
        ),
        CakeRefusal::Permanent | CakeRefusal::Other => format!(
            "{report}: Cake answered success=false with \"{message}\": the request was refused; \
             check the report's options"
        ),
    }
}

fn row_suffix(row: Option<u64>) -> String {
    match row {
        Some(r) => format!(" (row {r})"),
        None => String::new(),
    }
}

impl Classify for DecodeError {
    /// A body cut short is [`Class::NotCake`] here, as a document; a transport that reads it
    /// from the network takes it for a passing failure ([`DecodeError::is_truncated`]).
    fn class(&self) -> Class {
        match self {
            DecodeError::Cake { refusal, .. } => refusal.class(),
            DecodeError::SoapFault { .. } => Class::Rejected,
            DecodeError::WrongAnswer { .. }
            | DecodeError::NotXml { .. }
            | DecodeError::Html { .. }
            | DecodeError::Empty { .. }
            | DecodeError::Truncated { .. }
            | DecodeError::Syntax { .. }
            | DecodeError::Mismatched { .. }
            | DecodeError::InvalidUtf8 { .. }
            | DecodeError::Doctype { .. }
            | DecodeError::UnknownEntity { .. }
            | DecodeError::BadCharRef { .. }
            | DecodeError::TooDeep { .. }
            | DecodeError::TextTooLarge { .. }
            | DecodeError::BatchTooLarge { .. }
            | DecodeError::RowTooLarge { .. }
            | DecodeError::ExtraTooLarge { .. }
            | DecodeError::RowsNotFound { .. }
            | DecodeError::UnknownEncoding { .. }
            | DecodeError::TrailingContent { .. }
            | DecodeError::Value { .. }
            | DecodeError::Missing { .. }
            | DecodeError::Envelope { .. }
            | DecodeError::UnknownElement { .. }
            | DecodeError::Layout { .. } => Class::NotCake,
            DecodeError::RepeatedKey { .. } | DecodeError::RepeatedEnvelope { .. } => {
                Class::Inconsistent
            }
            DecodeError::Internal { .. } => Class::Internal,
            DecodeError::Io { .. } => Class::Output,
        }
    }
}

impl DecodeError {
    /// True when the body stopped before the document was complete (or held nothing): what a
    /// reset connection leaves behind. Such a response is worth requesting again.
    pub fn is_truncated(&self) -> bool {
        matches!(
            self,
            DecodeError::Truncated { .. } | DecodeError::Empty { .. }
        )
    }

    /// Cake's own message for a `success=false` answer or a SOAP Fault.
    pub fn cake_message(&self) -> Option<&str> {
        match self {
            DecodeError::Cake { message, .. } => Some(message),
            DecodeError::SoapFault { reason, .. } => Some(reason),
            _ => None,
        }
    }

    /// The report the response belongs to.
    pub fn report(&self) -> &'static str {
        match self {
            DecodeError::Cake { report, .. }
            | DecodeError::SoapFault { report, .. }
            | DecodeError::NotXml { report, .. }
            | DecodeError::Html { report, .. }
            | DecodeError::Empty { report }
            | DecodeError::Truncated { report, .. }
            | DecodeError::Syntax { report, .. }
            | DecodeError::Mismatched { report, .. }
            | DecodeError::InvalidUtf8 { report, .. }
            | DecodeError::Doctype { report, .. }
            | DecodeError::UnknownEntity { report, .. }
            | DecodeError::BadCharRef { report, .. }
            | DecodeError::TooDeep { report, .. }
            | DecodeError::TextTooLarge { report, .. }
            | DecodeError::BatchTooLarge { report, .. }
            | DecodeError::RowTooLarge { report, .. }
            | DecodeError::ExtraTooLarge { report, .. }
            | DecodeError::RepeatedKey { report, .. }
            | DecodeError::RepeatedEnvelope { report, .. }
            | DecodeError::RowsNotFound { report, .. }
            | DecodeError::Layout { report, .. }
            | DecodeError::UnknownEncoding { report, .. }
            | DecodeError::TrailingContent { report, .. }
            | DecodeError::Value { report, .. }
            | DecodeError::Missing { report, .. }
            | DecodeError::Envelope { report, .. }
            | DecodeError::UnknownElement { report, .. }
            | DecodeError::WrongAnswer { report, .. }
            | DecodeError::Io { report, .. }
            | DecodeError::Internal { report, .. } => report,
        }
    }
}

/// Longest raw value quoted in an error, in characters.
const EXCERPT_CHARS: usize = 200;

/// A raw value as quoted in an error: lossy UTF-8, the secrets of `scrubber` removed, control
/// characters escaped (a value can carry terminal escapes), then cut to about 200 characters.
pub(crate) fn excerpt_with(bytes: &[u8], scrubber: Option<&cake_core::secret::Scrubber>) -> String {
    cake_core::text::excerpt(&String::from_utf8_lossy(bytes), scrubber, EXCERPT_CHARS)
}
