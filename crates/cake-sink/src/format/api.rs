//! What a table format does, the same for every format: the sink stages a partition's files,
//! then asks the table's format for its contract, its partitions and the commit.

use crate::contract::{ContractCheck, ContractDifference, TableContract};
use crate::file::SinkError;
use crate::lock::TableLock;
use crate::partition::{Committed, PartitionWriter};
use crate::sink::{Sink, TableOverview, WriteMode};

use super::kind::Format;

/// What a table holds against a run's contract ([`Sink::preview_table`]).
pub(crate) enum Compared {
    /// No table of this name.
    Missing,
    /// A table with the run's contract.
    Same,
    /// A table with another contract: `other_format` when it is a table of the other format.
    Differs {
        differences: Vec<ContractDifference>,
        other_format: bool,
    },
}

impl Compared {
    /// A stored contract against the run's.
    pub(crate) fn against(stored: TableContract, contract: &TableContract) -> Compared {
        if stored == *contract {
            Compared::Same
        } else {
            Compared::Differs {
                differences: stored.differences(contract),
                other_format: false,
            }
        }
    }

    /// A table of the format `table` found by a run of the format `run`.
    pub(crate) fn other_format(table: Format, run: Format) -> Compared {
        Compared::Differs {
            differences: vec![ContractDifference {
                field: "format".into(),
                table: Some(table.to_string()),
                run: Some(run.to_string()),
            }],
            other_format: true,
        }
    }
}

/// One table format: how its contract is stored, which partitions it holds, how a table is
/// opened under a contract (under the table's lock) and how a staged partition is committed.
pub(crate) trait TableFormat {
    /// The format's name.
    const FORMAT: Format;

    /// Whether `table` exists in this format at the location.
    async fn exists(sink: &Sink, table: &str) -> Result<bool, SinkError>;

    /// The contract stored with `table`; a table of the other format counts as one with an
    /// empty contract, so that opening it is refused (or rebuilds it).
    async fn contract(sink: &Sink, table: &str) -> Result<Option<TableContract>, SinkError>;

    /// What `table` holds against a run's `contract`, read only.
    async fn compare(
        sink: &Sink,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<Compared, SinkError>;

    /// The committed partitions (`date=2024-01-31`, ...), sorted.
    async fn partitions(sink: &Sink, table: &str) -> Result<Vec<String>, SinkError>;

    /// Opens `table` under `contract`, the table's lock held.
    async fn open_locked(
        sink: &Sink,
        lock: &mut TableLock,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError>;

    /// Publishes a staged partition (its files closed).
    async fn commit(writer: PartitionWriter<'_>, mode: WriteMode) -> Result<Committed, SinkError>;

    /// What a table of this format holds: its contract and its committed partitions.
    async fn overview(sink: &Sink, table: &str) -> Result<TableOverview, SinkError>;
}
