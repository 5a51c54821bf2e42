//! Table formats behind one trait ([`api::TableFormat`]): plain Parquet in a hive layout with
//! `_SUCCESS` manifests (`hive/`) and Delta Lake tables (`delta/`). The sink stages a
//! partition's files and asks the table's format for everything that depends on it; this is
//! the one place that chooses a format.

pub(crate) mod api;
pub(crate) mod delta;
mod hive;
pub(crate) mod kind;

use crate::contract::{ContractCheck, TableContract};
use crate::file::SinkError;
use crate::lock::TableLock;
use crate::partition::{Committed, PartitionWriter};
use crate::sink::{Sink, TableOverview, WriteMode};

use api::{Compared, TableFormat};
use delta::Delta;
use hive::Hive;
use kind::Format;

/// Calls `$method` of the format `$format` with `$args`.
macro_rules! by_format {
    ($format:expr, $method:ident ( $($arg:expr),* )) => {
        match $format {
            Format::Parquet => Hive::$method($($arg),*).await,
            Format::Delta => Delta::$method($($arg),*).await,
        }
    };
}

/// The contract stored with `table`, in the sink's format.
pub(crate) async fn contract(sink: &Sink, table: &str) -> Result<Option<TableContract>, SinkError> {
    by_format!(sink.options.format, contract(sink, table))
}

/// What `table` holds against a run's `contract`, in the sink's format.
pub(crate) async fn compare(
    sink: &Sink,
    table: &str,
    contract: &TableContract,
    rebuild: bool,
) -> Result<Compared, SinkError> {
    by_format!(sink.options.format, compare(sink, table, contract, rebuild))
}

/// The committed partitions of `table`, in the sink's format.
pub(crate) async fn partitions(sink: &Sink, table: &str) -> Result<Vec<String>, SinkError> {
    by_format!(sink.options.format, partitions(sink, table))
}

/// Opens `table` under `contract` in the sink's format, the lock held.
pub(crate) async fn open_locked(
    sink: &Sink,
    lock: &mut TableLock,
    table: &str,
    contract: &TableContract,
    rebuild: bool,
) -> Result<ContractCheck, SinkError> {
    by_format!(
        sink.options.format,
        open_locked(sink, lock, table, contract, rebuild)
    )
}

/// What `table` holds in whichever format it was written: a table with a Delta log is read
/// as Delta, whatever the sink's own format.
pub(crate) async fn overview(sink: &Sink, table: &str) -> Result<TableOverview, SinkError> {
    let format = match Delta::exists(sink, table).await? {
        true => Format::Delta,
        false => Format::Parquet,
    };
    by_format!(format, overview(sink, table))
}

impl PartitionWriter<'_> {
    /// Publishes the partition as a unit, in the sink's format. An empty partition still gets
    /// one file with the full schema. Concurrent commits of one table, from this run or
    /// another, never lose each other's files, and of two replaces of one partition the last
    /// wins whole (see each format).
    pub async fn commit(mut self, mode: WriteMode) -> Result<Committed, SinkError> {
        self.finish_files()?;
        by_format!(self.sink.options.format, commit(self, mode))
    }
}
