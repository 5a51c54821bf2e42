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

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use arrow_array::builder::{MapBuilder, MapFieldNames, StringBuilder};
use arrow_array::{Array, ArrayRef, Int64Array, MapArray, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType as ArrowType, Field, Fields, Schema, SchemaRef};
use delta_kernel::arrow::compute::concat;
use delta_kernel::committer::{
    CommitMetadata, CommitResponse, Committer, FileSystemCommitter, PublishMetadata,
};
use delta_kernel::engine::arrow_conversion::TryFromArrow;
use delta_kernel::engine::arrow_data::ArrowEngineData;
use delta_kernel::expressions::ColumnName;
use delta_kernel::schema::{DataType as DeltaType, StructField, StructType};
use delta_kernel::transaction::create_table::create_table;
use delta_kernel::transaction::data_layout::DataLayout;
use delta_kernel::transaction::{CommitResult, UpdateTableOperation};
use delta_kernel::{
    Engine, EngineData, FilteredEngineData, KernelError, KernelResult, KernelResultIterator,
    Snapshot, SnapshotRef,
};
use delta_kernel_default_engine::executor::tokio::TokioMultiThreadExecutor;
use delta_kernel_default_engine::stats::FileStatsAccumulator;
use delta_kernel_default_engine::{DefaultEngine, DefaultEngineBuilder};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use url::Url;

use crate::contract::{ContractCheck, ContractDifference, TableContract, CONTRACT};
use crate::file::SinkError;
use crate::lock::{now_ms, CommitHooks};
use crate::partition::{Manifest, ManifestFile, PartitionWriter};
use crate::sink::{CommittedPartition, Sink, TableOverview, WriteMode};

/// How a sink writes its tables (`parquet` or `delta` in configuration files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Plain Parquet in a hive layout, each partition with a `_SUCCESS` manifest (the default:
    /// what every Parquet reader reads).
    #[default]
    Parquet,
    /// A Delta Lake table per table: atomic commits, concurrent writers, history.
    Delta,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Delta => "delta",
        }
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "parquet" => Ok(Format::Parquet),
            "delta" => Ok(Format::Delta),
            other => Err(format!("invalid format `{other}`: use parquet or delta")),
        }
    }
}

/// The Delta log's directory in a table.
pub(crate) const DELTA_LOG: &str = "_delta_log";

/// Table properties that hold the contract's fields.
const PROPERTY_PREFIX: &str = "cake.";

/// How often a commit is tried on a fresh snapshot before it gives up.
const MAX_ATTEMPTS: u32 = 10;

/// Written to every commit (`engineInfo`).
const ENGINE_INFO: &str = concat!("cake-sink/", env!("CARGO_PKG_VERSION"));

/// How long a commit's application transaction id is remembered by the table: retries happen
/// within seconds, and expired ids keep checkpoints small.
const TXN_RETENTION: &str = "interval 7 days";

pub(crate) type DeltaEngine = DefaultEngine<TokioMultiThreadExecutor>;

/// The engine's I/O runtime, shared by every sink of the process and never shut down (a
/// runtime cannot be dropped inside another one). It is created once, under a lock: two sinks
/// opened at once must not both create one, since the one left over would be dropped, inside
/// their runtime.
fn executor() -> Result<Arc<TokioMultiThreadExecutor>, SinkError> {
    static EXECUTOR: Mutex<Option<Arc<TokioMultiThreadExecutor>>> = Mutex::new(None);
    let mut slot = EXECUTOR.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = slot.as_ref() {
        return Ok(e.clone());
    }
    let created = TokioMultiThreadExecutor::new_owned_runtime(Some(2), None)
        .map_err(|e| SinkError::Options(format!("cannot start the Delta engine's runtime: {e}")))?;
    Ok(slot.insert(Arc::new(created)).clone())
}

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
        if let Some(e) = self.delta_engine.get() {
            return Ok(e.clone());
        }
        let engine = DefaultEngineBuilder::new(self.store.object_store())
            .with_task_executor(executor()?)
            .build();
        Ok(self.delta_engine.get_or_init(|| Arc::new(engine)).clone())
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
        use crate::table::Compared;
        match self.compare_table(table, contract, rebuild).await? {
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

/// `format: the table has parquet, this run delta`.
pub(crate) fn format_difference(table: Format, run: Format) -> ContractDifference {
    ContractDifference {
        field: "format".into(),
        table: Some(table.to_string()),
        run: Some(run.to_string()),
    }
}

/// The contract kept in a snapshot's properties.
pub(crate) fn contract_of(snapshot: &Snapshot) -> TableContract {
    TableContract {
        fields: snapshot
            .table_properties()
            .unknown_properties
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(PROPERTY_PREFIX)
                    .map(|f| (f.to_string(), v.clone()))
            })
            .collect(),
    }
}

/// Runs a blocking kernel call on Tokio's blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SinkError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SinkError::Options(format!("a Delta operation failed: {e}")))
}

/// The latest snapshot, or `None` when the table has no log. The log is listed first (the
/// kernel reports a missing table as an error, and logs it).
fn latest(engine: &dyn Engine, url: &Url) -> KernelResult<Option<SnapshotRef>> {
    // Only commits and checkpoints make a table: a log directory with nothing else (a local
    // writer's temporary file while it creates version 0) is no table yet.
    let log = url.join(&format!("{DELTA_LOG}/"))?;
    let any = engine.storage_handler().list_from(&log)?.any(|f| {
        f.is_ok_and(|f| {
            let name = f.location.path().rsplit('/').next().unwrap_or_default();
            name.len() > 20
                && name.as_bytes()[..20].iter().all(u8::is_ascii_digit)
                && (name.ends_with(".json") || name.ends_with(".parquet"))
        })
    });
    if !any {
        return Ok(None);
    }
    Snapshot::builder_for(url.as_str()).build(engine).map(Some)
}

/// One data file of a table, from its snapshot.
#[derive(Debug, Clone)]
pub(crate) struct TableFile {
    pub path: String,
    pub size: i64,
    pub rows: Option<u64>,
    /// Milliseconds since the epoch, as the add action says.
    pub modified_ms: Option<i64>,
    pub partition_values: Vec<(String, Option<String>)>,
}

/// A table's files, and the same rows as the kernel's scan metadata (selected: the files of
/// the partition asked for), ready to be removed.
pub(crate) struct Files {
    pub files: Vec<TableFile>,
    pub selected: Vec<FilteredEngineData>,
}

/// The current files of `snapshot`, restricted to the partition `name = value` when given
/// (exactly: by the files' partition values, not by pruning).
fn table_files(
    engine: &dyn Engine,
    snapshot: &SnapshotRef,
    partition: Option<(&str, &str)>,
) -> KernelResult<Files> {
    let scan = snapshot.clone().scan_builder().build()?;
    let mut out = Files {
        files: Vec::new(),
        selected: Vec::new(),
    };
    for metadata in scan.scan_metadata(engine)? {
        let (data, selection) = metadata?.scan_files.into_parts();
        let batch: RecordBatch = ArrowEngineData::try_from_engine_data(data)?.into();
        let missing = |name: &str| KernelError::MissingColumn(format!("scan metadata: {name}"));
        let paths = batch
            .column_by_name("path")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| missing("path"))?;
        let sizes = batch
            .column_by_name("size")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        let modified = batch
            .column_by_name("modificationTime")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        let stats = batch
            .column_by_name("stats")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let values = batch
            .column_by_name("fileConstantValues")
            .and_then(|c| c.as_any().downcast_ref::<StructArray>())
            .and_then(|s| s.column_by_name("partitionValues"))
            .and_then(|c| c.as_any().downcast_ref::<MapArray>())
            .ok_or_else(|| missing("fileConstantValues.partitionValues"))?;
        let mut keep = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let selected = selection.get(row).copied().unwrap_or(true) && paths.is_valid(row);
            if !selected {
                keep.push(false);
                continue;
            }
            let partition_values = map_entries(values, row);
            let matches = partition.is_none_or(|(name, value)| {
                partition_values
                    .iter()
                    .any(|(k, v)| k == name && v.as_deref() == Some(value))
            });
            keep.push(matches);
            if matches {
                out.files.push(TableFile {
                    path: paths.value(row).to_string(),
                    size: sizes.map_or(0, |s| s.value(row)),
                    modified_ms: modified.filter(|m| m.is_valid(row)).map(|m| m.value(row)),
                    rows: stats
                        .filter(|s| s.is_valid(row))
                        .and_then(|s| num_records(s.value(row))),
                    partition_values,
                });
            }
        }
        if keep.contains(&true) {
            out.selected.push(FilteredEngineData::try_new(
                Box::new(ArrowEngineData::new(batch)),
                keep,
            )?);
        }
    }
    Ok(out)
}

/// The entries of row `row` of a map of strings.
fn map_entries(map: &MapArray, row: usize) -> Vec<(String, Option<String>)> {
    if map.is_null(row) {
        return Vec::new();
    }
    let entries = map.value(row);
    let (Some(keys), Some(values)) = (
        entries.column(0).as_any().downcast_ref::<StringArray>(),
        entries.column(1).as_any().downcast_ref::<StringArray>(),
    ) else {
        return Vec::new();
    };
    (0..entries.len())
        .map(|i| {
            (
                keys.value(i).to_string(),
                values.is_valid(i).then(|| values.value(i).to_string()),
            )
        })
        .collect()
}

/// `numRecords` of a file's JSON statistics.
fn num_records(stats: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(stats)
        .ok()?
        .get("numRecords")?
        .as_u64()
}

/// A data file uploaded for a commit.
#[derive(Debug, Clone)]
pub(crate) struct NewFile {
    /// Relative to the table's root, as stored (`date=2024-01-31/part-....parquet`).
    pub path: String,
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
    pub modified_ms: i64,
    /// A local copy of the file while the commit runs (in the table locally, in this run's
    /// staging on object storage), which the statistics of its add action are read from.
    pub local: std::path::PathBuf,
}

/// Everything one Delta commit needs, owned (it runs on the blocking pool).
struct Job {
    engine: Arc<DeltaEngine>,
    url: Url,
    table: String,
    /// `(column, value)` of a partitioned table's partition.
    partition: Option<(String, String)>,
    /// The Parquet files' schema (without the partition column).
    schema: SchemaRef,
    mode: WriteMode,
    app_id: String,
    /// The contract the sink opened the table with, if any.
    contract: Option<TableContract>,
    checkpoint_interval: u64,
    files: Vec<NewFile>,
    parameters: Vec<(String, String)>,
    hooks: Option<Arc<dyn CommitHooks>>,
    partition_dir: Option<String>,
}

/// What a commit did.
struct Landed {
    version: u64,
    /// The partition's files before the commit (removed by a replace, kept by an append).
    before: Vec<TableFile>,
    /// The commit had landed already (its id was in the table).
    already: bool,
}

/// Why a commit did not land.
enum Refused {
    /// Known not to be in the table: the uploaded files may go.
    Before(KernelOrSink),
    /// Perhaps in the table (an error while the commit was written): the files stay.
    Unknown(KernelOrSink),
}

enum KernelOrSink {
    Kernel(KernelError),
    Sink(SinkError),
}

impl PartitionWriter<'_> {
    /// [`PartitionWriter::commit`] for [`Format::Delta`]: the staged files are uploaded (or
    /// moved) under the partition's directory with names unique to this writer, then committed
    /// in one kernel transaction (see the module's documentation).
    pub(crate) async fn commit_delta(
        self,
        mode: WriteMode,
    ) -> Result<crate::partition::Committed, SinkError> {
        let sink = self.sink;
        let table = self.table.clone();
        let partition = match &self.partition {
            None => None,
            Some(p) => match p.split_once('=') {
                Some((k, v)) if !k.is_empty() && !v.is_empty() && !v.contains('=') => {
                    Some((k.to_string(), v.to_string()))
                }
                _ => {
                    return Err(SinkError::Options(format!(
                    "the partition `{p}` is not of the form name=value, which a Delta table needs"
                )))
                }
            },
        };
        if let Some((column, _)) = &partition {
            if self.schema.field_with_name(column).is_ok() {
                return Err(SinkError::Options(format!(
                    "the table {table} has a column named {column}, which is also its partition column"
                )));
            }
        }
        let started = std::time::Instant::now();
        let modified_ms = i64::try_from(now_ms()).unwrap_or(i64::MAX);
        let mut files = Vec::with_capacity(self.files.len());
        for (i, f) in self.files.iter().enumerate() {
            let name = format!("part-{}-{}-{i:05}.parquet", sink.run_id, self.serial);
            let path = match &self.partition {
                Some(p) => format!("{p}/{name}"),
                None => name.clone(),
            };
            let local = match sink.store.local_root() {
                Some(root) => root.join(&table).join(&path),
                None => f.path.clone(),
            };
            files.push(NewFile {
                sha256: crate::partition::sha256_file(&f.path)?,
                local,
                path,
                name,
                rows: f.rows,
                bytes: f.bytes,
                modified_ms,
            });
        }
        for (f, info) in files.iter().zip(&self.files) {
            sink.store
                .put_file(&format!("{table}/{}", f.path), &info.path)
                .await?;
        }
        let contract = sink
            .contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&table)
            .cloned();
        let mut parameters = vec![
            (
                "mode".to_string(),
                match mode {
                    WriteMode::Replace => "Overwrite",
                    WriteMode::Append => "Append",
                }
                .to_string(),
            ),
            (
                "partition".to_string(),
                self.partition.clone().unwrap_or_default(),
            ),
            ("cake.run_id".to_string(), sink.run_id.clone()),
        ];
        parameters.extend(self.write.metadata.iter().cloned());
        let job = Job {
            engine: sink.delta_engine()?,
            url: sink.delta_url(&table)?,
            table: table.clone(),
            partition,
            schema: self.schema.clone(),
            mode,
            app_id: format!(
                "cake/{table}/{}/{}/{}",
                self.partition.as_deref().unwrap_or("-"),
                sink.run_id,
                self.serial
            ),
            contract,
            checkpoint_interval: sink.options.checkpoint_interval,
            files: files.clone(),
            parameters,
            hooks: sink.options.hooks.clone(),
            partition_dir: self.partition.clone(),
        };
        // The writers of this run queue per table, so that they do not conflict with each
        // other; other runs' commits are handled by optimistic concurrency.
        let uploaded = started.elapsed();
        let queue = sink.writer_queue(&table);
        let guard = queue.lock_owned().await;
        let committing = std::time::Instant::now();
        let result = blocking(move || commit(job)).await?;
        let commit_time = committing.elapsed();
        drop(guard);
        let landed = match result {
            Ok(landed) => landed,
            Err(refused) => {
                let (gone, error) = match refused {
                    Refused::Before(e) => (true, e),
                    Refused::Unknown(e) => (false, e),
                };
                if gone {
                    for f in &files {
                        let _ = sink.store.delete(&format!("{table}/{}", f.path)).await;
                    }
                }
                return Err(match error {
                    KernelOrSink::Kernel(e) => sink.kernel_error(&table, e),
                    KernelOrSink::Sink(e) => e,
                });
            }
        };
        tracing::debug!(
            table,
            partition = self.partition.as_deref().unwrap_or(""),
            version = landed.version,
            upload_seconds = uploaded.as_secs_f64(),
            commit_seconds = commit_time.as_secs_f64(),
            already = landed.already,
            "committed a Delta version"
        );
        let mut manifest_files: Vec<ManifestFile> = match mode {
            WriteMode::Replace => Vec::new(),
            WriteMode::Append => landed
                .before
                .iter()
                .map(|f| ManifestFile {
                    name: f.path.rsplit('/').next().unwrap_or(&f.path).to_string(),
                    rows: f.rows.unwrap_or(0),
                    bytes: u64::try_from(f.size).unwrap_or(0),
                    sha256: String::new(),
                })
                .collect(),
        };
        manifest_files.extend(files.iter().map(|f| ManifestFile {
            name: f.name.clone(),
            rows: f.rows,
            bytes: f.bytes,
            sha256: f.sha256.clone(),
        }));
        let _ = std::fs::remove_dir_all(&self.stage);
        Ok(crate::partition::Committed {
            path: self.rel.clone(),
            manifest: Manifest {
                table: table.clone(),
                partition: self.partition.clone(),
                rows: manifest_files.iter().map(|f| f.rows).sum(),
                files: manifest_files,
                run_id: sink.run_id.clone(),
                metadata: self.write.metadata.clone(),
            },
            rows: files.iter().map(|f| f.rows).sum(),
            bytes: files.iter().map(|f| f.bytes).sum(),
        })
    }
}

/// The commit loop: read the latest snapshot, stop if this commit is in it already, check the
/// contract and the partitioning, build the transaction (removes computed on this snapshot),
/// commit; on a taken version or an I/O error, again on a fresh snapshot.
fn commit(job: Job) -> Result<Landed, Refused> {
    let engine = job.engine.as_ref();
    let mut unknown = false;
    let refuse = |unknown: bool, e: KernelOrSink| {
        if unknown {
            Refused::Unknown(e)
        } else {
            Refused::Before(e)
        }
    };
    let kernel = |unknown: bool| move |e: KernelError| refuse(unknown, KernelOrSink::Kernel(e));
    let mut versions = Vec::new();
    let mut stats = FileStats::default();
    for attempt in 0..MAX_ATTEMPTS {
        if attempt > 0 {
            // Writers that collided try again a little apart.
            let jitter = u64::from(rand_u32() % 20);
            std::thread::sleep(Duration::from_millis(10 * u64::from(attempt) + jitter));
        }
        let snapshot = latest(engine, &job.url).map_err(kernel(unknown))?;
        if let Some(h) = &job.hooks {
            h.delta_read(
                &job.table,
                job.partition_dir.as_deref(),
                snapshot.as_ref().map(|s| s.version()),
            );
        }
        let committer = Box::new(Hooked {
            inner: FileSystemCommitter::new(),
            hooks: job.hooks.clone(),
            table: job.table.clone(),
            partition: job.partition_dir.clone(),
        });
        let taken: u64 = match &snapshot {
            Some(s) => {
                if s.get_app_id_version(&job.app_id, engine)
                    .map_err(kernel(unknown))?
                    .is_some()
                {
                    return Ok(Landed {
                        version: s.version(),
                        before: Vec::new(),
                        already: true,
                    });
                }
                if let Some(expected) = &job.contract {
                    let stored = contract_of(s);
                    if stored != *expected {
                        return Err(refuse(
                            unknown,
                            KernelOrSink::Sink(SinkError::ContractMismatch {
                                table: job.table.clone(),
                                location: job.url.to_string(),
                                differences: stored.differences(expected),
                            }),
                        ));
                    }
                }
                let partition = job
                    .partition
                    .as_ref()
                    .map(|(k, v)| (k.as_str(), v.as_str()));
                let current = table_files(engine, s, partition).map_err(kernel(unknown))?;
                let removed = match job.mode {
                    WriteMode::Replace => current.files.len(),
                    WriteMode::Append => 0,
                };
                let mut txn = s
                    .clone()
                    .update_table(UpdateTableOperation::Write, ENGINE_INFO, true)
                    .with_transaction_id(job.app_id.clone(), 1)
                    .with_operation_parameters(
                        job.parameters
                            .iter()
                            .map(|(k, v)| (k.clone(), Some(v.clone()))),
                    )
                    .with_operation_metrics(metrics(&job.files, removed))
                    .build(engine, committer)
                    .map_err(kernel(unknown))?;
                let expected: Vec<String> = job.partition.iter().map(|(k, _)| k.clone()).collect();
                if txn.logical_partition_columns() != expected.as_slice() {
                    return Err(refuse(
                        unknown,
                        KernelOrSink::Sink(SinkError::Options(format!(
                            "the Delta table at {} is partitioned by ({}), this commit by ({})",
                            job.url,
                            txn.logical_partition_columns().join(", "),
                            expected.join(", ")
                        ))),
                    ));
                }
                let columns = |t: &StructType| -> Vec<String> {
                    t.fields()
                        .map(|f| format!("{} {}", f.name(), f.data_type()))
                        .collect()
                };
                let ours = columns(&delta_schema(&job).map_err(|e| refuse(unknown, e))?);
                let table_columns = columns(&s.schema());
                if ours != table_columns {
                    return Err(refuse(
                        unknown,
                        KernelOrSink::Sink(SinkError::Options(format!(
                            "the Delta table at {} has the columns ({}), this commit's files ({}); write it as another table or rebuild it",
                            job.url,
                            table_columns.join(", "),
                            ours.join(", ")
                        ))),
                    ));
                }
                if job.mode == WriteMode::Replace {
                    for files in current.selected {
                        txn.remove_files(files);
                    }
                }
                let file_stats = stats.get(&job, txn.stats_columns());
                txn.add_files(add_files(&job, file_stats).map_err(kernel(unknown))?);
                let before = current.files;
                match txn.commit(engine) {
                    Ok(CommitResult::Committed(c)) => {
                        return Ok(finish(&job, c, before));
                    }
                    Ok(CommitResult::Conflicted(c)) => c.conflict_version(),
                    Ok(CommitResult::Retryable(r)) => {
                        unknown = true;
                        tracing::warn!(
                            table = job.table,
                            "a Delta commit failed, retrying: {}",
                            r.error
                        );
                        s.version() + 1
                    }
                    Err(e) => return Err(Refused::Unknown(KernelOrSink::Kernel(e))),
                }
            }
            None => {
                let schema = delta_schema(&job).map_err(|e| refuse(unknown, e))?;
                let mut properties: Vec<(String, String)> = job
                    .contract
                    .iter()
                    .flat_map(|c| c.fields.iter())
                    .map(|(k, v)| (format!("{PROPERTY_PREFIX}{k}"), v.clone()))
                    .collect();
                properties.push((
                    "delta.setTransactionRetentionDuration".into(),
                    TXN_RETENTION.into(),
                ));
                if job.checkpoint_interval > 0 {
                    properties.push((
                        "delta.checkpointInterval".into(),
                        job.checkpoint_interval.to_string(),
                    ));
                }
                let mut builder =
                    create_table(job.url.as_str(), Arc::new(schema), ENGINE_INFO, true)
                        .with_table_properties(properties)
                        .with_transaction_id(job.app_id.clone(), 1)
                        .with_operation_parameters(
                            job.parameters
                                .iter()
                                .map(|(k, v)| (k.clone(), Some(v.clone()))),
                        )
                        .with_operation_metrics(metrics(&job.files, 0));
                if let Some((column, _)) = &job.partition {
                    builder = builder.with_data_layout(DataLayout::partitioned([column]));
                }
                let mut txn = match builder.build(engine, committer) {
                    Ok(t) => t,
                    // Another writer created the table meanwhile: commit on it.
                    Err(e) if is_already_exists(&e) => {
                        versions.push(0);
                        continue;
                    }
                    Err(e) => return Err(refuse(unknown, KernelOrSink::Kernel(e))),
                };
                let file_stats = stats.get(&job, txn.stats_columns());
                txn.add_files(add_files(&job, file_stats).map_err(kernel(unknown))?);
                match txn.commit(engine) {
                    Ok(CommitResult::Committed(c)) => return Ok(finish(&job, c, Vec::new())),
                    Ok(CommitResult::Conflicted(c)) => c.conflict_version(),
                    Ok(CommitResult::Retryable(r)) => {
                        unknown = true;
                        tracing::warn!(
                            table = job.table,
                            "a Delta commit failed, retrying: {}",
                            r.error
                        );
                        0
                    }
                    Err(e) => return Err(Refused::Unknown(KernelOrSink::Kernel(e))),
                }
            }
        };
        versions.push(taken);
    }
    let seen = match (versions.first(), versions.last()) {
        (Some(a), Some(b)) if a != b => format!("versions {a} to {b}"),
        (Some(a), _) => format!("version {a}"),
        _ => "the next version".into(),
    };
    Err(refuse(
        unknown,
        KernelOrSink::Sink(SinkError::Conflict {
            table: job.table.clone(),
            partition: job.partition_dir.clone().unwrap_or_default(),
            location: job.url.to_string(),
            attempts: MAX_ATTEMPTS,
            message: format!(
                "other writers took {seen} each time this run tried to commit; its files were not committed"
            ),
        }),
    ))
}

/// After a commit: a checkpoint when one is due (best effort: a failed checkpoint leaves the
/// table as it is, readable from its commits).
fn finish(
    job: &Job,
    committed: delta_kernel::transaction::CommittedTransaction,
    before: Vec<TableFile>,
) -> Landed {
    let version = committed.commit_version();
    if let Some(snapshot) = committed.post_commit_snapshot() {
        let interval = snapshot
            .table_properties()
            .checkpoint_interval
            .map_or(0, |n| n.get());
        if interval > 0 && committed.post_commit_stats().commits_since_checkpoint >= interval {
            if let Err(e) = snapshot.checkpoint(job.engine.as_ref(), None) {
                tracing::warn!(
                    table = job.table,
                    version,
                    "cannot write a Delta checkpoint: {e}"
                );
            }
        }
    }
    Landed {
        version,
        before,
        already: false,
    }
}

fn metrics(files: &[NewFile], removed: usize) -> Vec<(String, Option<String>)> {
    vec![
        ("numFiles".into(), Some(files.len().to_string())),
        (
            "numOutputRows".into(),
            Some(files.iter().map(|f| f.rows).sum::<u64>().to_string()),
        ),
        (
            "numOutputBytes".into(),
            Some(files.iter().map(|f| f.bytes).sum::<u64>().to_string()),
        ),
        ("numRemovedFiles".into(), Some(removed.to_string())),
    ]
}

fn is_already_exists(e: &KernelError) -> bool {
    match e {
        KernelError::Backtraced { source, .. } => is_already_exists(source),
        KernelError::TableAlreadyExistsAtPath(_) | KernelError::FileAlreadyExists(_) => true,
        _ => false,
    }
}

/// The Delta schema of a new table: the files' columns, then the partition column (a `date`
/// for values such as `2024-01-31`, a string otherwise), which Delta keeps in the log only.
fn delta_schema(job: &Job) -> Result<StructType, KernelOrSink> {
    let files = StructType::try_from_arrow(job.schema.as_ref())
        .map_err(|e| KernelOrSink::Kernel(KernelError::Arrow(e)))?;
    let mut fields: Vec<StructField> = files.fields().cloned().collect();
    if let Some((column, value)) = &job.partition {
        let ty = if is_date(value) {
            DeltaType::DATE
        } else {
            DeltaType::STRING
        };
        fields.push(StructField::nullable(column.clone(), ty));
    }
    StructType::try_new(fields).map_err(KernelOrSink::Kernel)
}

/// `YYYY-MM-DD`.
fn is_date(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter()
            .enumerate()
            .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// The statistics of a commit's files (`numRecords`, and `nullCount`, `minValues`, `maxValues`
/// and `tightBounds` of the table's statistics columns), for readers that skip files by them:
/// read back from the local copies with the kernel's own statistics collector, once per set of
/// columns (a retried commit asks again, the table's settings may have changed meanwhile).
#[derive(Default)]
struct FileStats {
    columns: Option<Vec<ColumnName>>,
    stats: Option<StructArray>,
}

impl FileStats {
    /// One row per file of `job`, or `None` when they could not be read (the add actions then
    /// carry the row count alone: readers read every file rather than skip one wrongly).
    fn get(&mut self, job: &Job, columns: Vec<ColumnName>) -> Option<&StructArray> {
        if self.columns.as_ref() != Some(&columns) {
            self.stats = match collect_file_stats(job, &columns) {
                Ok(stats) => Some(stats),
                Err(e) => {
                    tracing::warn!(
                        table = job.table,
                        error = %e,
                        "the statistics of the new files could not be collected; their add actions carry the row count only"
                    );
                    None
                }
            };
            self.columns = Some(columns);
        }
        self.stats.as_ref()
    }
}

fn collect_file_stats(
    job: &Job,
    columns: &[ColumnName],
) -> Result<StructArray, Box<dyn std::error::Error + Send + Sync>> {
    let physical = StructType::try_from_arrow(job.schema.as_ref())?;
    let mut rows = Vec::with_capacity(job.files.len());
    for file in &job.files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&file.local)?)?
            .with_batch_size(8192)
            .build()?;
        let mut accumulator = FileStatsAccumulator::new(columns, &physical);
        let mut merged = false;
        for batch in reader {
            accumulator.merge(&batch?)?;
            merged = true;
        }
        if !merged {
            // A file of no rows still gets statistics (numRecords 0).
            accumulator.merge(&RecordBatch::new_empty(job.schema.clone()))?;
        }
        rows.push(accumulator.finish()?.ok_or("no statistics")?);
    }
    let parts: Vec<&dyn Array> = rows.iter().map(|r| r as &dyn Array).collect();
    let all = concat(&parts)?;
    Ok(all
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or("the statistics are not a struct")?
        .clone())
}

/// The add-file metadata of the new files, in the layout of `Transaction::add_files_schema`, with
/// `stats` (one row per file) or, without them, the row count alone.
fn add_files(job: &Job, stats: Option<&StructArray>) -> KernelResult<Box<dyn EngineData>> {
    let n = job.files.len();
    let paths = StringArray::from_iter_values(job.files.iter().map(|f| encode_path(&f.path)));
    let names = MapFieldNames {
        entry: "key_value".into(),
        key: "key".into(),
        value: "value".into(),
    };
    let mut partitions = MapBuilder::new(Some(names), StringBuilder::new(), StringBuilder::new());
    for _ in 0..n {
        if let Some((k, v)) = &job.partition {
            partitions.keys().append_value(k);
            partitions.values().append_value(v);
        }
        partitions.append(true)?;
    }
    let partitions = partitions.finish();
    let size = Int64Array::from_iter_values(
        job.files
            .iter()
            .map(|f| i64::try_from(f.bytes).unwrap_or(i64::MAX)),
    );
    let modified = Int64Array::from_iter_values(job.files.iter().map(|f| f.modified_ms));
    let stats = match stats {
        Some(stats) => stats.clone(),
        None => {
            let records = Int64Array::from_iter_values(
                job.files
                    .iter()
                    .map(|f| i64::try_from(f.rows).unwrap_or(i64::MAX)),
            );
            StructArray::try_new(
                Fields::from(vec![Field::new("numRecords", ArrowType::Int64, true)]),
                vec![Arc::new(records) as ArrayRef],
                None,
            )?
        }
    };
    let schema = Schema::new(vec![
        Field::new("path", ArrowType::Utf8, false),
        Field::new("partitionValues", partitions.data_type().clone(), false),
        Field::new("size", ArrowType::Int64, false),
        Field::new("modificationTime", ArrowType::Int64, false),
        Field::new("stats", stats.data_type().clone(), true),
    ]);
    let batch = RecordBatch::try_new(
        Arc::new(schema),
        vec![
            Arc::new(paths),
            Arc::new(partitions),
            Arc::new(size),
            Arc::new(modified),
            Arc::new(stats),
        ],
    )?;
    Ok(Box::new(ArrowEngineData::new(batch)))
}

/// A relative path as a URI path: characters outside `A-Z a-z 0-9 - _ . ~ = /` percent-encoded.
fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'=' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A small random number, for jitter.
fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now_ms());
    h.finish() as u32
}

/// The kernel's file-system committer (put-if-absent of the next log entry), with the test
/// hook that pretends a landed commit's answer was lost.
struct Hooked {
    inner: FileSystemCommitter,
    hooks: Option<Arc<dyn CommitHooks>>,
    table: String,
    partition: Option<String>,
}

impl Committer for Hooked {
    fn commit(
        &self,
        engine: &dyn Engine,
        actions: KernelResultIterator<'_, FilteredEngineData>,
        commit_metadata: CommitMetadata,
    ) -> KernelResult<CommitResponse> {
        let response = self.inner.commit(engine, actions, commit_metadata)?;
        if matches!(response, CommitResponse::Committed { .. }) {
            if let Some(h) = &self.hooks {
                if h.delta_lose_response(&self.table, self.partition.as_deref()) {
                    return Err(KernelError::IOError(std::io::Error::other(
                        "the answer to the commit was lost (test hook)",
                    )));
                }
            }
        }
        Ok(response)
    }

    fn is_catalog_committer(&self) -> bool {
        self.inner.is_catalog_committer()
    }

    fn publish(&self, engine: &dyn Engine, publish_metadata: PublishMetadata) -> KernelResult<()> {
        self.inner.publish(engine, publish_metadata)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_parse_and_print() {
        assert_eq!("Delta".parse::<Format>(), Ok(Format::Delta));
        assert_eq!(" parquet ".parse::<Format>(), Ok(Format::Parquet));
        assert!("iceberg".parse::<Format>().is_err());
        assert_eq!(Format::default().to_string(), "parquet");
    }

    #[test]
    fn dates_and_paths() {
        assert!(is_date("2024-01-31"));
        assert!(!is_date("2024-1-31"));
        assert!(!is_date("snapshot"));
        assert_eq!(
            encode_path("date=2024-01-31/part-1-2-00000.parquet"),
            "date=2024-01-31/part-1-2-00000.parquet"
        );
        assert_eq!(encode_path("k=a b/x"), "k=a%20b/x");
    }
}
