//! The CAKE report catalog: the connector's 37 reports as data, and the validation that turns a
//! report and the user's options into a plan of requests.
//!
//! **Invariant: no I/O.** This crate reads no file, opens no socket and asks no clock: the
//! current instant is an input ([`Context::now`]). The catalog itself is generated from the
//! spec files in `spec/` by `cargo xtask codegen` and committed.
//!
//! ```
//! use cake_catalog::{find, plan, Context, Options};
//!
//! let report = find("Campaigns Summary").unwrap();
//! let options = Options { past_days: Some("3days".parse().unwrap()), ..Options::default() };
//! let now = "2026-03-10T12:00:00Z".parse().unwrap();
//! let plan = plan(report, &options, &Context::new(now)).unwrap();
//! assert_eq!(plan.requests.len(), 3); // one request per day: 2026-03-07, -08, -09
//! assert_eq!(plan.requests[0].value("start_date"), Some("2026-03-07T00:00:00"));
//! assert_eq!(plan.requests[0].value("end_date"), Some("2026-03-08T00:00:00"));
//! ```

#[cfg(feature = "arrow")]
mod arrow;
pub mod dates;
mod generated;
mod lookup;
pub mod model;
pub mod options;
mod plan;
pub mod text;

pub use dates::{DateRange, WindowSize};
pub use generated::REPORTS;
pub use lookup::{find, UnknownReport};
pub use model::*;
pub use options::{
    parse_date, parse_days, parse_timezone, ConversionType, Options, ParseError, PastDays,
    PositiveId,
};
pub use plan::{
    plan, Context, ParamValue, Plan, PlanError, PlannedDates, PlannedRequest, QueryParam,
};
