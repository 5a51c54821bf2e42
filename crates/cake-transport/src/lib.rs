//! HTTP transport to a CAKE instance.
//!
//! **Invariant: knows nothing of Arrow.** The transport builds each request from a validated
//! [`cake_catalog::Plan`] (every parameter, in the documented order), sends it with the key,
//! pages with `start_at_row` (1-based) until Cake's `row_count` is reached, retries transient
//! failures with exponential backoff and full jitter, bounds the requests in flight, and hands
//! every body, chunk by chunk, to a [`PageHandler`] that the caller provides. It never holds a
//! whole response in memory and never parses the XML itself: the handler says how many rows a
//! body held and whether Cake accepted the request.
//!
//! The API key lives in an [`ApiKey`], which has no `Display` and a redacted `Debug`; it is put
//! into a URL only when the request is sent. Every URL kept for messages and logs is redacted,
//! and text that comes back from the server is scrubbed of the key before it is stored.

mod client;
mod error;
mod failure;
mod handler;
mod instance;
mod limiter;
mod pace;
mod query;
mod retry;
mod secret;
mod window;

pub use client::{Client, ClientOptions, ClientStats, PageResult};
pub use error::{ErrorKind, TransportError};
pub use handler::{
    BodyError, HandlerFactory, Page, PageHandler, PageOutcome, PageRequest, RowDates, RowKey,
};
pub use instance::{Instance, InstanceError};
pub use pace::LowSpeed;
pub use query::display_url;
pub use retry::{parse_retry_after, RetryPolicy};
pub use secret::{ApiKey, EmptyApiKey, Scrubber, StreamScrubber, REDACTED};
pub use window::{Inconsistency, PageSink, WindowResult};
