//! Delta Lake tables, written with delta-io's kernel for connectors (`delta_kernel`) and its
//! default engine (Arrow, Tokio, `object_store`).
//!
//! With [`Format::Delta`], a table is a Delta table at `<location>/<table>`: its data files are
//! the sink's own Parquet files (written into staging exactly as for [`Format::Parquet`]),
//! uploaded (or, locally, moved) under `<table>/<partition>/` with names no other commit uses,
//! then published by **one kernel transaction per commit**: a replace removes every file the
//! partition holds in the snapshot it commits on and adds the new ones; an append only adds.
//!
//! - **Optimistic concurrency.** Commits are put-if-absent writes of the next log entry
//!   (`_delta_log/<version>.json`; a conditional PUT, `If-None-Match: *`, on S3; an exclusive
//!   create locally), so of two writers of one version exactly one succeeds. The loser reads
//!   the table again and redoes its commit on the new snapshot (the files to remove are
//!   computed again), a bounded number of times, then fails with [`SinkError::Conflict`]. No
//!   table lock is taken for a commit: writers of different partitions both land, and of two
//!   replaces of one partition the later one wins whole.
//! - **Exactly once.** Every commit carries an application transaction id (`txn` action) unique
//!   to its writer (`cake/<table>/<partition>/<run id>/<writer serial>`). Before each attempt
//!   the snapshot is asked for it: a commit whose answer was lost but which landed is found
//!   there and not applied again.
//! - **Contract.** A table's [`TableContract`] is stored in the table's properties, one
//!   `cake.<field>` property per field, written by the commit that creates the table (version
//!   0). Every commit compares it with the contract the sink opened the table with, on the
//!   snapshot it commits on.
//! - **History.** Every commit records the run (`operationParameters`: mode, partition, run id,
//!   the files' footer metadata; `operationMetrics`: files, rows and bytes added, files
//!   removed). A checkpoint is written every `delta.checkpointInterval` commits (set from
//!   [`crate::SinkOptions::checkpoint_interval`] when the table is created).
//!
//! The kernel's calls block: they run on Tokio's blocking pool, and the engine's I/O on a
//! runtime of its own (two worker threads, created on first use).

mod commit;
mod engine;
mod snapshot;
mod stats;

pub(crate) use engine::DELTA_LOG;
use engine::{blocking, executor, DeltaEngine};

use snapshot::{contract_of, latest, table_files};

use std::collections::BTreeMap;
use std::sync::Arc;

use delta_kernel::{KernelError, SnapshotRef};
use delta_kernel_default_engine::DefaultEngineBuilder;
use url::Url;

use crate::contract::{ContractCheck, TableContract, CONTRACT};
use crate::lock::TableLock;
use crate::partition::Committed;

use super::api::{Compared, TableFormat};
use super::kind::Format;
use crate::file::SinkError;
use crate::partition::PartitionWriter;
use crate::sink::{CommittedPartition, Sink, TableOverview, WriteMode};

/// A table's Delta state as this sink found it.
pub(crate) enum DeltaTable {
    /// No Delta log.
    Missing,
    /// A readable table at its latest version.
    Found(SnapshotRef),
    /// A log that cannot be read (an interrupted rebuild, a log written by something else).
    Unreadable(String),
}

impl Sink {
    /// The kernel's engine for this sink's store (created on first use).
    pub(crate) fn delta_engine(&self) -> Result<Arc<DeltaEngine>, SinkError> {
        let state = match self.format_state.get() {
            Some(state) => state.clone(),
            None => {
                let engine: Arc<DeltaEngine> = Arc::new(
                    DefaultEngineBuilder::new(self.store.object_store())
                        .with_task_executor(executor()?)
                        .build(),
                );
                self.format_state.get_or_init(|| engine).clone()
            }
        };
        state
            .downcast::<DeltaEngine>()
            .map_err(|_| SinkError::Delta {
                location: self.store.display(),
                message: "the sink holds another format's state; this is a bug".into(),
            })
    }

    /// The table's root as the kernel addresses it (`file:///.../table/`,
    /// `s3://bucket/prefix/table/`).
    pub(crate) fn delta_url(&self, table: &str) -> Result<Url, SinkError> {
        let fail = |message: String| SinkError::Location {
            location: self.store.location_of(table),
            message,
        };
        match self.store.local_root() {
            Some(root) => Url::from_directory_path(root.join(table))
                .map_err(|()| fail("not an absolute path".into())),
            None => Url::parse(&format!("{}/", self.store.location_of(table)))
                .map_err(|e| fail(format!("not a URL: {e}"))),
        }
    }

    /// Whether `table` has a Delta log (one listing).
    pub(crate) async fn has_delta_log(&self, table: &str) -> Result<bool, SinkError> {
        Ok(!self
            .store
            .list(&format!("{table}/{DELTA_LOG}"))
            .await?
            .is_empty())
    }

    /// Reads the latest version of `table`.
    pub(crate) async fn delta_table(&self, table: &str) -> Result<DeltaTable, SinkError> {
        let engine = self.delta_engine()?;
        let url = self.delta_url(table)?;
        let read = blocking(move || latest(engine.as_ref(), &url)).await?;
        match read {
            Ok(Some(s)) => Ok(DeltaTable::Found(s)),
            Ok(None) => Ok(DeltaTable::Missing),
            Err(e) => match self.kernel_error(table, e) {
                // Storage that cannot be reached is not a damaged table.
                e @ SinkError::Storage { .. } => Err(e),
                e => Ok(DeltaTable::Unreadable(e.to_string())),
            },
        }
    }

    /// The contract stored in a Delta table's properties (`None`: no Delta table), in a
    /// Parquet table's `_table.json` when `table` is one (so a run in Delta format opens the
    /// table and is told its format differs), or an empty one for a log that cannot be read.
    pub(crate) async fn delta_table_contract(
        &self,
        table: &str,
    ) -> Result<Option<TableContract>, SinkError> {
        match self.delta_table(table).await? {
            DeltaTable::Found(s) => Ok(Some(contract_of(&s))),
            DeltaTable::Unreadable(_) => Ok(Some(TableContract::default())),
            DeltaTable::Missing => {
                let rel = format!("{table}/{CONTRACT}");
                match self.store.get_bytes(&rel).await? {
                    None => Ok(None),
                    Some(bytes) => crate::contract::parse(&rel, &bytes).map(Some),
                }
            }
        }
    }

    /// [`Sink::open_table`] for a Delta table, under the table's lock: nothing is written for
    /// a table that does not exist yet (its first commit creates it with the contract as its
    /// properties); a table whose contract differs is refused or, with `rebuild`, deleted
    /// whole (log first) so that the next commit creates it again. A Parquet table of the
    /// same name, or a log that cannot be read, is refused the same way.
    pub(crate) async fn open_delta_table_locked(
        &self,
        lock: &mut crate::lock::TableLock,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        match Delta::compare(self, table, contract, rebuild).await? {
            // Nothing is written: the first commit creates the table with the contract.
            Compared::Missing => Ok(ContractCheck::Created),
            Compared::Same => Ok(ContractCheck::Matches),
            Compared::Differs { differences, .. } if !rebuild => {
                Err(self.mismatch(table, differences))
            }
            Compared::Differs { .. } => {
                self.delete_table(lock, table, false).await?;
                Ok(ContractCheck::Rebuilt)
            }
        }
    }

    /// The in-process queue of this run's writers of `table`.
    pub(crate) fn writer_queue(&self, table: &str) -> Arc<tokio::sync::Mutex<()>> {
        self.writers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(table.to_string())
            .or_default()
            .clone()
    }

    /// A kernel error as a sink error: storage failures keep their explanations.
    pub(crate) fn kernel_error(&self, table: &str, e: KernelError) -> SinkError {
        match e {
            KernelError::Backtraced { source, .. } => self.kernel_error(table, *source),
            KernelError::ObjectStore(e) => self.store.object_error(table, e),
            e => SinkError::Delta {
                location: self.store.location_of(table),
                message: e.to_string(),
            },
        }
    }

    /// [`Sink::overview`] of a table that has a Delta log: its contract from the table's
    /// properties, its partitions from the current files (rows from their statistics).
    pub(crate) async fn delta_overview(&self, table: &str) -> Result<TableOverview, SinkError> {
        let snapshot = match self.delta_table(table).await? {
            DeltaTable::Found(s) => s,
            DeltaTable::Missing => {
                return Ok(TableOverview {
                    format: Format::Delta,
                    contract: None,
                    partitions: Vec::new(),
                    unreadable: Vec::new(),
                })
            }
            DeltaTable::Unreadable(message) => {
                return Ok(TableOverview {
                    format: Format::Delta,
                    contract: None,
                    partitions: Vec::new(),
                    unreadable: vec![format!("{DELTA_LOG}: {message}")],
                })
            }
        };
        let contract = contract_of(&snapshot);
        let engine = self.delta_engine()?;
        let files = blocking(move || table_files(engine.as_ref(), &snapshot, None))
            .await?
            .map_err(|e| self.kernel_error(table, e))?;
        let mut by_partition: BTreeMap<Option<String>, CommittedPartition> = BTreeMap::new();
        for file in files.files {
            let partition = (!file.partition_values.is_empty()).then(|| {
                file.partition_values
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or_default()))
                    .collect::<Vec<_>>()
                    .join("/")
            });
            let entry =
                by_partition
                    .entry(partition.clone())
                    .or_insert_with(|| CommittedPartition {
                        partition,
                        rows: Some(0),
                        files: 0,
                        run_id: None,
                        written_ms: None,
                        metadata: Vec::new(),
                    });
            entry.files += 1;
            entry.rows = entry.rows.zip(file.rows).map(|(a, b)| a + b);
            entry.written_ms = entry.written_ms.max(file.modified_ms);
        }
        Ok(TableOverview {
            format: Format::Delta,
            contract: Some(contract),
            partitions: by_partition.into_values().collect(),
            unreadable: Vec::new(),
        })
    }

    /// The distinct partitions (`name=value`) of a Delta table's current files.
    pub(crate) async fn delta_partitions(&self, table: &str) -> Result<Vec<String>, SinkError> {
        let DeltaTable::Found(snapshot) = self.delta_table(table).await? else {
            return Ok(Vec::new());
        };
        let engine = self.delta_engine()?;
        let files = blocking(move || table_files(engine.as_ref(), &snapshot, None))
            .await?
            .map_err(|e| self.kernel_error(table, e))?;
        let mut out: Vec<String> = files
            .files
            .iter()
            .flat_map(|f| {
                f.partition_values
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or_default()))
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }
}

/// Delta Lake tables.
pub(crate) struct Delta;

impl TableFormat for Delta {
    const FORMAT: Format = Format::Delta;

    async fn exists(sink: &Sink, table: &str) -> Result<bool, SinkError> {
        sink.has_delta_log(table).await
    }

    async fn contract(sink: &Sink, table: &str) -> Result<Option<TableContract>, SinkError> {
        sink.delta_table_contract(table).await
    }

    /// A Parquet table of the same name differs by its format; a log that cannot be read is
    /// refused unless `rebuild`.
    async fn compare(
        sink: &Sink,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<Compared, SinkError> {
        let rel = format!("{table}/{CONTRACT}");
        Ok(match sink.delta_table(table).await? {
            DeltaTable::Missing if sink.store.get_bytes(&rel).await?.is_some() => {
                Compared::other_format(Format::Parquet, Self::FORMAT)
            }
            DeltaTable::Missing => Compared::Missing,
            DeltaTable::Found(snapshot) => Compared::against(contract_of(&snapshot), contract),
            DeltaTable::Unreadable(why) if !rebuild => {
                return Err(SinkError::Delta {
                    location: sink.store.location_of(table),
                    message: format!(
                        "its Delta log cannot be read ({why}); if a rebuild was \
                         interrupted, rebuild the table again"
                    ),
                });
            }
            DeltaTable::Unreadable(_) => Compared::Differs {
                differences: Vec::new(),
                other_format: false,
            },
        })
    }

    async fn partitions(sink: &Sink, table: &str) -> Result<Vec<String>, SinkError> {
        sink.delta_partitions(table).await
    }

    async fn open_locked(
        sink: &Sink,
        lock: &mut TableLock,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        sink.open_delta_table_locked(lock, table, contract, rebuild)
            .await
    }

    async fn commit(writer: PartitionWriter<'_>, mode: WriteMode) -> Result<Committed, SinkError> {
        writer.commit_delta(mode).await
    }

    async fn overview(sink: &Sink, table: &str) -> Result<TableOverview, SinkError> {
        sink.delta_overview(table).await
    }
}
