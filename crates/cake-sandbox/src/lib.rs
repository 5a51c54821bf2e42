//! A CAKE-compatible HTTP server for the demo, the tests and the benchmarks.
//!
//! It answers Cake's admin API over HTTP GET (`/api/{version}/{service}.asmx/{Method}?...`) for
//! every report of the catalog, with deterministic synthetic data generated from the catalog's
//! column types and a seed, Cake's semantics (parameter binding errors as HTTP 500 plain text,
//! `Invalid API Key` as HTTP 200 `success=false`, exclusive end dates, the one-month cap of the
//! summary reports, 1-based `start_at_row`, `row_count` as the total) and injectable faults
//! (latency, `Restricted`, HTTP 500/503, connection resets, truncated bodies, forbidden
//! control-character references, trickling bodies) and hostile behaviours ([`Hostile`]: pages
//! that lose, repeat or miscount rows, another report's document, another day's rows, the API
//! key echoed back, terminal control bytes, Cake's failure messages).
//!
//! A test starts one on a free port of 127.0.0.1, points its client at [`Sandbox::url`] with
//! [`Sandbox::api_key`], and shuts it down at the end:
//!
//! ```
//! use cake_sandbox::{Faults, Sandbox, SandboxConfig};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start(SandboxConfig {
//!     api_key: "test-key".into(),
//!     rows_per_day: 10,
//!     ..SandboxConfig::default() // seed 1, any free port, today's date, no faults
//! })
//! .await?;
//! let http = reqwest::Client::builder().no_proxy().build()?; // any HTTP client
//! let url = format!(
//!     "{}/api/1/get.asmx/AccountStatuses?api_key={}",
//!     sandbox.url(),
//!     sandbox.api_key()
//! );
//! let answer = http.get(&url).send().await?;
//! assert_eq!(answer.status(), 200);
//! let body = answer.text().await?;
//! assert!(body.contains("<success>true</success>") && body.contains("<account_status>"));
//!
//! // From now on, Cake's throttling on every request.
//! sandbox.set_faults(Faults { restricted_rate: 1.0, ..Faults::default() });
//! let body = http.get(&url).send().await?.text().await?;
//! assert!(body.contains("<message>Restricted</message>"));
//! assert_eq!(sandbox.stats().requests, 2);
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! Each service also describes itself at `/api/{version}/{service}.asmx?WSDL`, as ASMX does: a
//! WSDL generated from the catalog ([`wsdl_document`]), which a test can make drift from it
//! ([`WsdlDrift`], [`Sandbox::set_wsdl_drifts`]).
//!
//! [`respond`] gives the same bytes without a server, for tests and benchmarks.

mod hash;
mod hostile;
mod request;
mod rows;
mod server;
mod shape;
mod soap;
mod tables;
mod values;
mod world;
mod wsdl;
mod xml;

use std::borrow::Cow;
use std::time::Duration;

use chrono::NaiveDate;

pub use hostile::{
    header_safe, EchoPlace, Hostile, InvalidHostile, KeyEncoding, FAR_FUTURE_TIMESTAMP,
    HOSTILE_CONTROL_BYTES, HOSTILE_NEWLINES_XML, REDIRECT_PREFIX,
};
pub use request::{TEXT as TEXT_CONTENT_TYPE, XML as XML_CONTENT_TYPE};
pub use rows::ROWS_PER_DAY_MAX;
pub use server::{FaultCounts, FaultPlan, RequestSeen, Sandbox, Stats};
pub use wsdl::{wsdl_document, WsdlDrift};

/// How a sandbox is set up.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Seed of the synthetic data and of the fault draws. Same seed, same bytes.
    pub seed: u64,
    /// The only API key the sandbox accepts.
    pub api_key: String,
    /// Rows per day of the click- and conversion-level reports (at most [`ROWS_PER_DAY_MAX`]).
    /// Lead reports have a tenth of it (at least one), Login Export three per day.
    pub rows_per_day: u32,
    /// Port on 127.0.0.1; `0` takes any free port.
    pub port: u16,
    /// Anchor of the synthetic world: entities are created before it and dated rows exist up to
    /// and including it (and at most three years back).
    pub today: NaiveDate,
    pub faults: Faults,
}

impl Default for SandboxConfig {
    /// Seed 1, key `sandbox-key`, 200 rows per day, any port, today's UTC date, no faults.
    fn default() -> SandboxConfig {
        SandboxConfig {
            seed: 1,
            api_key: "sandbox-key".to_string(),
            rows_per_day: 200,
            port: 0,
            today: chrono::Utc::now().date_naive(),
            faults: Faults::default(),
        }
    }
}

/// Faults the server injects. Every draw is deterministic: it hashes the seed, the fault kind,
/// the request's path and query without `api_key`, and the attempt number of that same query
/// (0 for its first request), so a retry sees a fresh but reproducible draw.
/// [`Faults::plan`] tells in advance what a given attempt gets.
#[derive(Clone, Debug)]
pub struct Faults {
    /// Added before every answer.
    pub latency: Duration,
    /// Share of requests answered HTTP 200 `success=false` `Restricted` (Cake's throttle).
    pub restricted_rate: f64,
    /// Share of requests answered HTTP 500 or 503 (alternating by draw) with a short body.
    pub error_rate: f64,
    /// Share of responses whose connection is dropped part-way through the body.
    pub reset_rate: f64,
    /// Share of responses whose body stops part-way (a clean HTTP response, incomplete XML).
    pub truncate_rate: f64,
    /// Share of text values that carry a `&#x16;` or `&#x13;` reference (not well-formed XML).
    pub control_char_rate: f64,
    /// Send every body in `trickle_chunk`-byte pieces with `trickle_pause` between them.
    pub trickle: bool,
    /// Piece size when trickling (default 1 KiB).
    pub trickle_chunk: usize,
    /// Pause between pieces when trickling (default 2 ms).
    pub trickle_pause: Duration,
    /// Hostile behaviours (default none). They alter or replace report answers (never routing
    /// errors) of the attempts `0..hostile_attempts` of every request identity; a behaviour
    /// that does not apply to a report leaves its answer clean. A request that draws an HTTP
    /// error or `Restricted` gets that instead; resets, truncation, control characters,
    /// latency and trickling come on top.
    pub hostile: Vec<Hostile>,
    /// How many attempts of each request identity (path and query without `api_key`) get the
    /// hostile behaviours: `1` misbehaves on the first attempt only (a retry gets the clean
    /// answer); `u32::MAX` (the default) always.
    pub hostile_attempts: u32,
    /// Answer every SOAP call with the fault of an instance that does not take SOAP (HTTP 500,
    /// `soap:Sender`); GET is answered as usual.
    pub refuse_soap: bool,
}

impl Default for Faults {
    fn default() -> Faults {
        Faults {
            latency: Duration::ZERO,
            restricted_rate: 0.0,
            error_rate: 0.0,
            reset_rate: 0.0,
            truncate_rate: 0.0,
            control_char_rate: 0.0,
            trickle: false,
            trickle_chunk: 1024,
            trickle_pause: Duration::from_millis(2),
            hostile: Vec::new(),
            hostile_attempts: u32::MAX,
            refuse_soap: false,
        }
    }
}

/// A fault rate outside `0..=1`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{name} is {value}: a rate is a share of requests from 0 to 1 (0.1 is one in ten)")]
pub struct InvalidRate {
    pub name: &'static str,
    pub value: f64,
}

impl Faults {
    /// Checks that every rate lies in `0..=1`.
    pub fn validate(&self) -> Result<(), InvalidRate> {
        for (name, value) in [
            ("restricted rate", self.restricted_rate),
            ("error rate", self.error_rate),
            ("reset rate", self.reset_rate),
            ("truncate rate", self.truncate_rate),
            ("control-char rate", self.control_char_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(InvalidRate { name, value });
            }
        }
        Ok(())
    }
}

/// An answer: HTTP status, content type and body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Response {
    pub status: u16,
    pub content_type: &'static str,
    pub body: Vec<u8>,
}

impl Response {
    /// The body as text (lossy for invalid UTF-8, which the sandbox never writes).
    pub fn text(&self) -> Cow<'_, str> {
        String::from_utf8_lossy(&self.body)
    }
}

/// Answers one GET request (`/api/12/reports.asmx/Clicks?api_key=...&...`, or a service's
/// `/api/12/reports.asmx?WSDL`) without a server and without faults. The server answers with exactly these bytes, plus the faults it injects.
pub fn respond(config: &SandboxConfig, path_and_query: &str) -> Response {
    if let Some(wsdl) = wsdl::answer(path_and_query, &[]) {
        return wsdl;
    }
    request::answer(config, path_and_query, None, &[]).response
}

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
