//! The connector's jobs: [`check`] an instance; pull a report into Parquet; sync many reports
//! incrementally.
//!
//! This crate is the glue between the layers: it plans with the catalog, fetches with the
//! transport, decodes with cake-arrow inside the transport's page handler ([`DecodeFactory`]),
//! and writes with the sink. It holds the logic a library user needs to run a job; the binary
//! only turns flags and config into calls of these functions.

mod check;
mod decode;
mod error;
mod pull;
mod sync;

pub use check::{check, CheckReport};
pub use decode::{body_error, DecodeFactory, DecodeHandler, DecodedPage, SpillError};
pub use error::{FailureKind, PipelineError};
pub use pull::{partition_of, pull, NoProgress, Progress, PullOptions, PullSummary, WindowSummary};
pub use sync::{
    parse_config, state_path, sync, ConfigError, ReportState, SyncConfig, SyncPlan, SyncReport,
    SyncedReport,
};
