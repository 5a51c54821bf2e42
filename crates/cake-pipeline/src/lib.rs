//! The connector's jobs: [`check`] an instance; pull a report into Parquet; sync many reports
//! incrementally; convert saved responses into Parquet ([`convert_file`]).
//!
//! This crate is the glue between the layers: it plans with the catalog, runs each window's
//! loop over the transport's page attempts and checks its pages as a whole, decodes with cake-arrow inside the transport's page handler ([`DecodeFactory`]),
//! and writes with the sink. It holds the logic a library user needs to run a job; the binary
//! only turns flags and config into calls of these functions.
//!
//! A pull of three days of Clicks into a local directory, as `cake-connector demo` does it: the
//! sandbox (`cake-sandbox`, a Cake-compatible server on loopback) stands in for an instance.
//!
//! ```
//! use cake_catalog::{find, parse_date, plan, Context, Options};
//! use cake_pipeline::{pull, status, PullOptions};
//! use cake_sandbox::{Sandbox, SandboxConfig};
//! use cake_sink::{Sink, SinkOptions};
//! use cake_transport::{ApiKey, Client, ClientOptions, Instance};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let sandbox = Sandbox::start(SandboxConfig {
//!     rows_per_day: 20,
//!     today: parse_date("2026-03-10")?,
//!     ..SandboxConfig::default()
//! })
//! .await?;
//! // With a real instance: Instance::parse("mycompany", false) and its API key.
//! let instance = Instance::parse(&sandbox.url(), false)?;
//! let client = Client::new(instance, ApiKey::new(sandbox.api_key())?, ClientOptions::default())?;
//!
//! let out = tempfile::tempdir()?;
//! let sink = Sink::open(out.path().to_str().ok_or("a UTF-8 path")?, SinkOptions::default())?;
//!
//! let now = "2026-03-10T12:00:00Z".parse()?;
//! let options = Options { past_days: Some("3days".parse()?), ..Options::default() };
//! let plan = plan(find("clicks")?, &options, &Context::new(now))?;
//! let on_commit = |window: &cake_pipeline::WindowSummary| {
//!     println!("{}: {} rows", window.path, window.rows);
//! };
//! let summary = pull(&client, &plan, &sink, &PullOptions::default(), &on_commit).await?;
//! assert_eq!(summary.rows, 60);
//! assert_eq!(summary.windows.len(), 3); // one committed partition per day
//! assert!(out.path().join("clicks/date=2026-03-09/part-00000.parquet").is_file());
//!
//! // What the location holds, read from the location alone.
//! let tables = status(&sink, now).await?;
//! assert_eq!(tables[0].table, "clicks");
//! assert_eq!((tables[0].partitions, tables[0].rows), (3, 60));
//! assert_eq!(tables[0].last_day, Some(parse_date("2026-03-09")?));
//! sandbox.shutdown().await;
//! # Ok(())
//! # }
//! ```
//!
//! # What is public, and why
//!
//! - **The jobs and their options and summaries**: [`check`] / [`CheckReport`]; [`pull`],
//!   [`preflight`] (the checks a pull makes before it sends anything, for a caller that fans
//!   windows out itself), [`PullOptions`], [`PullSummary`], [`WindowSummary`], [`Progress`] /
//!   [`NoProgress`] (what the caller is told as windows commit), [`partition_of`] (the
//!   partition a window replaces, for dry runs); [`sync`] with its config ([`parse_config`],
//!   [`SyncConfig`], [`SyncPlan`], [`SyncReport`], [`plan_report`], [`valid_table_name`],
//!   [`ConfigError`]) and results ([`SyncRun`], [`SyncedReport`], [`ReportRun`],
//!   [`ReportState`], [`SyncFailure`]); [`status`] with [`TableStatus`], [`RunRecord`],
//!   [`RunStatus`] and [`record_run`] (a front end records its own runs' end); [`convert_file`]
//!   / [`convert_reader`] with the saved-file readers ([`open_saved`], [`saved_reader`],
//!   [`SavedReader`], [`SavedEncoding`]) and [`ConvertError`]; [`Cancel`].
//! - **A read, written nowhere**: [`read`] with [`ReadOptions`] and [`ReadWindow`] (each window
//!   whole and checked, as `pull` checks it), for front ends that hand Arrow over themselves
//!   (the Python module); [`describe`], the catalog as the JSON of `reports --json` and
//!   `describe --json`.
//! - **Errors and their one classification**: [`PipelineError`], and [`Class`], [`Classify`],
//!   [`Failure`] from `cake-core`, so that a front end maps failures to exit codes or
//!   exceptions without another dependency.
//! - **The window loop, for callers that write pages their own way**: [`fetch_window`] (every
//!   page of one window, from the transport's page attempts, checked as a whole), [`PageSink`]
//!   (where a pull's pages go), [`WindowResult`] and [`Inconsistency`] (what
//!   [`PipelineError::Inconsistent`] names).
//! - **The page handler, for callers that drive the transport themselves**: [`DecodeFactory`],
//!   [`DecodeHandler`], [`DecodedPage`], [`SpillError`], [`body_error`] (a decoder error as the
//!   transport's refusal), [`DateBounds`] (the days a window owns), [`RAW_ZSTD_LEVEL`].
//! - **What a location holds, named once**: [`layout`] (partition names, `_state/`, `_runs/`,
//!   `_raw/` paths) and [`metadata`] (the key/value metadata every file carries), with
//!   [`contract_for`] and [`schema_fingerprint`] (a table's contract), for readers of the lake
//!   that check what wrote it.

mod cancel;
mod check;
mod contract;
mod convert;
mod decode;
pub mod describe;
mod error;
pub mod layout;
pub mod metadata;
pub mod protocol;
mod pull;
mod read;
mod rows;
mod state;
mod status;
mod sync;
mod window;

pub use cake_core::failure::{Class, Classify, Failure};
pub use cancel::Cancel;
pub use check::{check, CheckReport};
pub use contract::{contract_for, schema_fingerprint};
pub use convert::{
    convert_file, convert_reader, open_saved, saved_reader, ConvertError, SavedEncoding,
    SavedReader,
};
pub use decode::{
    body_error, DecodeFactory, DecodeHandler, DecodedPage, SpillError, RAW_ZSTD_LEVEL,
};
pub use error::PipelineError;
pub use pull::{
    partition_of, preflight, preflight_dry, pull, NoProgress, Progress, PullOptions, PullSummary,
    WindowSummary,
};
pub use read::{read, ReadOptions, ReadWindow};
pub use rows::DateBounds;
pub use status::{
    covered, record_run, run_history, status, RunRecord, RunStatus, TableStatus, HISTORY_KEPT,
};
pub use sync::{
    config_schema, parse_config, plan_report, starter_config, sync, valid_table_name, ConfigError,
    ConfigKey, KeyKind, ReportRun, ReportState, SyncConfig, SyncFailure, SyncPlan, SyncReport,
    SyncRun, SyncedReport, CONFIG_KEYS, CONFIG_TABLES,
};
pub use window::{fetch_window, Inconsistency, PageSink, WindowResult};

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
