//! Typed Parquet output for data lakes. **Invariant: knows nothing of Cake's XML**; input is
//! Arrow record batches and plain key/value metadata.
//!
//! [`Sink`] opens an output location (a directory, or `s3://bucket/prefix` through the
//! `object_store` crate) and writes tables in a hive-partitioned layout
//! (`<table>/date=YYYY-MM-DD/part-00000.parquet`) a partition at a time: a
//! [`PartitionWriter`] stages files privately and [`PartitionWriter::commit`] publishes them as
//! a unit with a `_SUCCESS` manifest written last (see the `partition` module for what
//! "a unit" means on each kind of storage).
//!
//! ```
//! use std::sync::Arc;
//!
//! use arrow_array::{Int64Array, RecordBatch, StringArray};
//! use arrow_schema::{DataType, Field, Schema};
//! use cake_sink::{read_parquet, ContractCheck, Sink, SinkOptions, TableContract, WriteMode};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let location = dir.path().to_str().ok_or("a UTF-8 path")?; // or s3://bucket/prefix
//! let sink = Sink::open(location, SinkOptions::default())?;
//! sink.probe().await?; // the location takes writes
//!
//! // What every run writing the table agrees on; stored as `clicks/_table.json`.
//! let contract = TableContract::new([("report", "clicks"), ("timezone", "UTC")]);
//! assert_eq!(sink.open_table("clicks", &contract, false).await?, ContractCheck::Created);
//!
//! let schema = Arc::new(Schema::new(vec![
//!     Field::new("click_id", DataType::Int64, false),
//!     Field::new("offer", DataType::Utf8, true),
//! ]));
//! let batch = RecordBatch::try_new(
//!     schema.clone(),
//!     vec![
//!         Arc::new(Int64Array::from(vec![1, 2, 3])),
//!         Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
//!     ],
//! )?;
//!
//! // Stage the partition's files privately, then publish them as a unit.
//! let metadata = vec![("source".to_string(), "example".to_string())];
//! let mut writer = sink.partition("clicks", Some("date=2026-03-09"), schema, metadata)?;
//! writer.write(&batch)?;
//! let committed = writer.commit(WriteMode::Replace).await?;
//! assert_eq!(committed.path, "clicks/date=2026-03-09");
//! assert_eq!(committed.rows, 3);
//!
//! // `_SUCCESS`, written last, lists the files with their rows and SHA-256.
//! let manifest = sink.manifest("clicks", Some("date=2026-03-09")).await?.ok_or("committed")?;
//! assert_eq!(manifest.rows, 3);
//! assert_eq!(manifest.files[0].name, "part-00000.parquet");
//! assert_eq!(sink.partitions("clicks").await?, ["date=2026-03-09"]);
//!
//! let file = "clicks/date=2026-03-09/part-00000.parquet";
//! let bytes = sink.get_document(file).await?.ok_or("the file is there")?;
//! let contents = read_parquet(file, bytes)?;
//! assert_eq!(contents.rows, 3);
//! assert!(contents.metadata.contains(&("source".into(), "example".into())));
//!
//! // A run under another contract is refused, and changes nothing.
//! let other = TableContract::new([("report", "clicks"), ("timezone", "Europe/Paris")]);
//! assert!(sink.open_table("clicks", &other, false).await.is_err());
//! # Ok(())
//! # }
//! ```
//!
//! One writer at a time per table: commits take the table's lock (a `flock`ed file under
//! `_locks/` locally, a lease object with conditional PUTs on object storage), so concurrent
//! runs wait for each other. [`Sink::open_table`] stores a [`TableContract`] with the table
//! (`<table>/_table.json`) and refuses, or rebuilds the table, when a run's contract differs.
//!
//! With [`SinkOptions::format`] set to [`Format::Delta`], each table is a Delta Lake table
//! instead, written with delta-io's kernel (`delta_kernel`): a commit is one Delta transaction
//! (replace: remove the partition's files and add the new ones; append: add), put-if-absent
//! on the log, redone on a fresh snapshot when another writer took the version; the contract
//! lives in the table's `cake.*` properties. See the `format` module.
//!
//! [`ParquetFile`] writes one local Parquet file atomically: into a temporary file beside the
//! target (`.<name>.<pid>-<n>.tmp`), then fsync, rename over the target and fsync of the
//! directory. A file that is dropped before [`ParquetFile::finish`] leaves nothing behind.
//! While a row group is being written, its finished pages wait in unnamed temporary files in
//! the same directory rather than in memory, so memory does not grow with the row group.
//! Batches are encoded and compressed on a thread of the file's own, fed through a bounded
//! queue ([`WriteOptions::encode_queue`]): the caller prepares the next batch meanwhile.

mod contract;
mod file;
mod format;
mod hooks;
mod lock;
mod partition;
mod read;
mod sink;
mod spill;
mod staging;
mod store;
mod table;

pub use cake_core::failure::{Class, Classify};
pub use contract::{ContractCheck, ContractDifference, TableContract, CONTRACT};
pub use file::{FileInfo, ParquetFile, SinkError, WriteOptions};
pub use format::kind::Format;
pub use hooks::CommitHooks;
pub use partition::{Committed, Manifest, ManifestFile, PartitionWriter, MANIFEST};
pub use read::{read_parquet, ParquetContents};
pub use sink::{CommittedPartition, Sink, SinkOptions, TableOverview, WriteMode};
pub use store::{Store, StoreOptions};

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
