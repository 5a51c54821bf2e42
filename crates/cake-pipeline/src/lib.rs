//! The connector's jobs: [`check`] an instance; pull a report into Parquet; sync many reports
//! incrementally.
//!
//! This crate is the glue between the layers: it plans with the catalog, fetches with the
//! transport, decodes with cake-arrow inside the transport's page handler ([`DecodeFactory`]),
//! and writes with the sink. It holds the logic a library user needs to run a job; the binary
//! only turns flags and config into calls of these functions.

mod cancel;
mod check;
mod contract;
mod decode;
mod error;
mod pull;
mod rows;
mod status;
mod sync;
mod verify;

pub use cancel::Cancel;
pub use check::{check, CheckReport};
pub use contract::{contract_for, schema_fingerprint};
pub use decode::{body_error, DecodeFactory, DecodeHandler, DecodedPage, SpillError};
pub use error::{FailureKind, PipelineError};
pub use pull::{
    partition_of, preflight, pull, NoProgress, Progress, PullOptions, PullSummary, WindowSummary,
};
pub use status::{last_run_path, record_run, status, RunRecord, TableStatus};
pub use sync::{
    parse_config, plan_report, state_path, sync, valid_table_name, ConfigError, ReportRun,
    ReportState, SyncConfig, SyncFailure, SyncPlan, SyncReport, SyncRun, SyncedReport,
};
pub use verify::{
    catalog_services, corrected_spec, spec_toml, verify, verify_documents, write_specs, wsdl_path,
    CorrectedSpec, Difference, DocumentCheck, ReportCheck, VerifyReport, WrittenSpec, Wsdl,
    WsdlError, WSDL_LIMIT,
};
