//! The CAKE report catalog: the connector's 37 reports as data, and the validation that turns a
//! report and the user's options into a plan of requests.
//!
//! **Invariant: no I/O.** This crate reads no file, opens no socket and asks no clock: the
//! current instant is an input ([`Context::now`]). The catalog itself is generated from the
//! spec files in `spec/` by `cargo xtask codegen` and committed.
//!
//! ```
//! use cake_catalog::{find, parse_date, parse_timezone, plan, Context, Options, WindowSize};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! // "Now" and the instance's time zone are inputs: the same inputs always give the same plan.
//! let mut context = Context::new("2026-03-10T12:00:00Z".parse()?);
//! context.timezone = parse_timezone("America/New_York")?;
//!
//! // Past Days as the menu writes it: the 3 whole days before today, today excluded.
//! let report = find("Campaigns Summary")?; // or its id, `campaigns-summary`
//! let options = Options { past_days: Some("3days".parse()?), ..Options::default() };
//! let past = plan(report, &options, &context)?;
//! assert_eq!(past.requests.len(), 3); // one request per day: March 7, 8 and 9
//! let first = &past.requests[0];
//! assert_eq!(first.value("start_date"), Some("2026-03-07T00:00:00"));
//! assert_eq!(first.value("end_date"), Some("2026-03-08T00:00:00")); // Cake's end is exclusive
//!
//! // A date range includes both ends; month windows widen it to the months it touches.
//! context.window = WindowSize::Month;
//! let options = Options {
//!     start: Some(parse_date("2026-01-10")?),
//!     end: Some(parse_date("2026-02-15")?),
//!     ..Options::default()
//! };
//! let range = plan(find("conversions")?, &options, &context)?;
//! for request in &range.requests {
//!     let window = request.window.ok_or("a dated report has windows")?;
//!     // Every GET parameter in the endpoint's order; the API key is a slot, never a value.
//!     let query: Vec<String> =
//!         request.params.iter().map(|p| format!("{}={}", p.name, p.value)).collect();
//!     println!("{window}: {}", query.join("&"));
//! }
//! let windows: Vec<String> = range
//!     .requests
//!     .iter()
//!     .filter_map(|r| r.window.map(|w| w.to_string()))
//!     .collect();
//! assert_eq!(windows, ["2026-01-01 to 2026-01-31", "2026-02-01 to 2026-02-28"]);
//!
//! // An option the report does not take is an error that names the options it does take.
//! let undated = Options { past_days: Some("7".parse()?), ..Options::default() };
//! assert!(plan(find("offers")?, &undated, &context).is_err());
//! # Ok(())
//! # }
//! ```

#[cfg(feature = "arrow")]
mod arrow;
pub mod dates;
mod generated;
mod lookup;
pub mod model;
pub mod options;
mod plan;

/// Text from outside made safe to print (re-exported from `cake-core`).
pub use cake_core::text;

pub use dates::{DateRange, WindowSize};
pub use generated::REPORTS;
pub use lookup::{find, UnknownReport};
pub use model::*;
pub use options::{
    parse_date, parse_days, parse_timezone, ConversionType, Naming, OptionSpec, Options,
    ParseError, PastDays, PositiveId, ValueForm,
};
pub use plan::{
    plan, Context, ParamValue, Plan, PlanError, PlannedDates, PlannedRequest, QueryParam,
    ShardError,
};

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
