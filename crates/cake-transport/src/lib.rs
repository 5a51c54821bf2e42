//! HTTP transport to a CAKE instance.
//!
//! **Invariant: knows nothing of Arrow.** The transport offers page attempts and their
//! classification: it builds each request from a validated [`cake_catalog::Plan`] (every
//! parameter, in the documented order, a page by `start_at_row` (1-based) and `row_limit`),
//! sends it with the key, retries transient failures with exponential backoff and full jitter
//! (within a window's [`WaitBudget`]), bounds the requests in flight, and hands every body,
//! chunk by chunk, to a [`PageHandler`] that the caller provides. It never holds a whole
//! response in memory and never parses the XML itself: the handler says how many rows a body
//! held and whether Cake accepted the request. Which pages a window has and whether they agree
//! with each other is the caller's window loop (cake-pipeline's `fetch_window`).
//!
//! Requests take one of the two forms Cake documents for every method ([`Protocol`]): SOAP 1.2
//! (the default; `POST /api/N/svc.asmx`, the key in the body, never in a URL) or HTTP GET (the
//! key in the query string). The API key lives in an [`ApiKey`], which has no `Display` and a
//! redacted `Debug`; it is put into a request only when it is sent. Every request kept for
//! messages and logs is shown without the key, and text that comes back from the server is
//! scrubbed of the key before it is stored.
//!
//! Here the transport pages one day of Clicks from the sandbox (a Cake-compatible server on
//! loopback, `cake-sandbox`) with a handler that only counts rows; cake-pipeline's
//! `DecodeFactory` is the handler that decodes the bodies to Arrow.
//!
//! ```
//! use cake_catalog::{find, parse_date, plan, Context, Options};
//! use cake_sandbox::{Sandbox, SandboxConfig};
//! use cake_transport::{
//!     ApiKey, BodyError, Client, ClientOptions, HandlerFactory, Instance, Page, PageHandler,
//!     PageOutcome, PageRequest, RowDates,
//! };
//!
//! /// Reads just enough of a body to page: its rows and Cake's `row_count`.
//! struct CountRows;
//! struct Body(Vec<u8>);
//!
//! impl HandlerFactory for CountRows {
//!     type Handler = Body;
//!     fn handler(&self, _attempt: &PageRequest) -> Body {
//!         Body(Vec::new()) // a fresh handler for every attempt at every page
//!     }
//! }
//!
//! impl PageHandler for Body {
//!     type Output = u64;
//!     fn feed(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
//!         self.0.extend_from_slice(chunk);
//!         Ok(())
//!     }
//!     fn finish(self) -> Result<PageOutcome<u64>, BodyError> {
//!         let text = String::from_utf8_lossy(&self.0);
//!         let rows = text.matches("<click>").count() as u64;
//!         let row_count = text
//!             .split("<row_count>")
//!             .nth(1)
//!             .and_then(|t| t.split('<').next())
//!             .and_then(|n| n.parse().ok());
//!         let dates = RowDates::default();
//!         Ok(PageOutcome { rows, row_count, keys: Vec::new(), dates, output: rows })
//!     }
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start(SandboxConfig {
//!     rows_per_day: 120,
//!     today: parse_date("2026-03-10")?,
//!     ..SandboxConfig::default()
//! })
//! .await?;
//!
//! // The Domain Name field: `mycompany`, a host name or an https:// URL. Plain http:// only
//! // on loopback (or when allowed explicitly).
//! assert_eq!(Instance::parse("mycompany", false)?.origin(), "https://mycompany.cake.com");
//! assert!(Instance::parse("http://mycompany.example", false).is_err());
//! let instance = Instance::parse(&sandbox.url(), false)?;
//! let client = Client::new(instance, ApiKey::new(sandbox.api_key())?, ClientOptions::default())?;
//!
//! // Yesterday's clicks, in pages of 50 rows.
//! let mut context = Context::new("2026-03-10T12:00:00Z".parse()?);
//! context.page_size = Some(50);
//! let options = Options { past_days: Some("1day".parse()?), ..Options::default() };
//! let plan = plan(find("clicks")?, &options, &context)?;
//! let request = &plan.requests[0];
//! // What logs show: every parameter; the key travels in the SOAP body, never in a URL.
//! let shown = client.display_url(plan.report, request, None);
//! assert!(shown.contains("/api/12/reports.asmx/Clicks?start_date=2026-03-09T00%3A00%3A00&"));
//! assert!(!shown.contains("api_key"));
//!
//! // The last page: rows 101 to 150 of the 120 Cake counts.
//! let page = Page { index: 2, start_at_row: 101, row_limit: 50 };
//! let last = client.fetch_page(plan.report, request, Some(page), &CountRows).await?;
//! assert_eq!((last.outcome.rows, last.outcome.row_count), (20, Some(120)));
//! assert_eq!(last.attempts, 1);
//! sandbox.shutdown().await;
//!
//! // The key never shows: `Debug` is redacted, and the scrubber finds it in any encoding.
//! let key = ApiKey::new("s3cr+t/Key")?;
//! assert_eq!(format!("{key:?}"), "ApiKey(<redacted>)");
//! assert_eq!(key.scrubber().scrub("echo: S3CR%2bT%2FKEY"), "echo: <redacted>");
//! # Ok(())
//! # }
//! ```

mod client;
mod error;
mod failure;
mod handler;
mod instance;
mod limiter;
mod pace;
mod query;
mod retry;

pub use cake_core::failure::{Class, Classify};
pub use cake_core::secret::{ApiKey, EmptyApiKey, Scrubber, StreamScrubber, REDACTED};
pub use client::{Client, ClientOptions, ClientStats, PageResult, WaitBudget};
pub use error::TransportError;
pub use handler::{
    BodyError, HandlerFactory, LocalCause, Page, PageHandler, PageOutcome, PageRequest, RowDates,
    RowKey,
};
pub use instance::{Instance, InstanceError};
pub use pace::LowSpeed;
pub use query::{display_body, display_url, Protocol, SOAP12_CONTENT_TYPE};
pub use retry::{parse_retry_after, RetryPolicy};

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
