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
//! One writer at a time per table: commits take the table's lock (a `flock`ed file under
//! `_locks/` locally, a lease object with conditional PUTs on object storage), so concurrent
//! runs wait for each other. [`Sink::open_table`] stores a [`TableContract`] with the table
//! (`<table>/_table.json`) and refuses, or rebuilds the table, when a run's contract differs.
//!
//! With [`SinkOptions::format`] set to [`Format::Delta`], each table is a Delta Lake table
//! instead, written with delta-io's kernel (`delta_kernel`): a commit is one Delta transaction
//! (replace: remove the partition's files and add the new ones; append: add), put-if-absent
//! on the log, redone on a fresh snapshot when another writer took the version; the contract
//! lives in the table's `cake.*` properties. See the `delta` module.
//!
//! [`ParquetFile`] writes one local Parquet file atomically: into a temporary file beside the
//! target (`.<name>.<pid>-<n>.tmp`), then fsync, rename over the target and fsync of the
//! directory. A file that is dropped before [`ParquetFile::finish`] leaves nothing behind.
//! While a row group is being written, its finished pages wait in unnamed temporary files in
//! the same directory rather than in memory, so memory does not grow with the row group.

mod contract;
mod delta;
mod file;
mod lock;
mod partition;
mod read;
mod spill;
mod staging;
mod store;

pub use contract::{ContractCheck, ContractDifference, TableContract, CONTRACT};
pub use delta::Format;
pub use file::{FileInfo, ParquetFile, SinkError, WriteOptions};
pub use lock::CommitHooks;
pub use partition::{
    Committed, CommittedPartition, Manifest, ManifestFile, PartitionWriter, Sink, SinkOptions,
    TableOverview, WriteMode, MANIFEST,
};
pub use read::{read_parquet, ParquetContents};
pub use store::{Store, StoreOptions};
