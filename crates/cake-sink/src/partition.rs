//! Tables of Parquet files in a hive-partitioned layout, committed a partition at a time.
//!
//! A [`PartitionWriter`] writes Parquet files into a private staging directory (rolled at a
//! size bound), then [`PartitionWriter::commit`] publishes them as a unit:
//!
//! - locally, in replace mode, the staging directory and the partition directory are swapped
//!   with one atomic `renameat2(RENAME_EXCHANGE)` (Linux; elsewhere two renames), so a reader
//!   sees either the old partition or the new one, never a mix, and the old files go only after
//!   the new ones are complete;
//! - on object storage, a replace first deletes the old manifest, then puts each file with one
//!   atomic PUT (or completed multipart upload) under a stable name (`part-00000.parquet`,
//!   ...), deletes the files the new version no longer has, and writes the manifest last. A
//!   partition of one file (the common case) is replaced atomically for every reader; with
//!   several files a reader listing during the commit can see old and new files together.
//!   Readers that require `_SUCCESS` never do: it is absent while the partition changes.
//!
//! Every committed partition holds `_SUCCESS`, written last: a JSON manifest of its files
//! (name, rows, bytes, SHA-256). Names starting with `_` or `.` are ignored by Spark, Trino,
//! DuckDB's `*.parquet` globs and pyarrow.
//!
//! A commit publishes under the table's lock (the `lock` module): two runs writing one table
//! wait for each other, so appends never lose manifest entries and the last of two replaces
//! wins whole. A table opened with [`Sink::open_table`] carries a contract
//! (`<table>/_table.json`), checked under the same lock at every commit.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::contract::{self, ContractCheck, TableContract, CONTRACT};
use crate::delta::{format_difference, DeltaEngine, Format, DELTA_LOG};
use crate::file::{FileInfo, ParquetFile, SinkError, WriteOptions};
use crate::lock::{same_hooks, CommitHooks, TableLock};
use crate::staging::Staging;
use crate::store::{sync_dir, write_atomic, Store};

/// The manifest's name in every committed partition.
pub const MANIFEST: &str = "_SUCCESS";

/// Replace a partition's files, or add to them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum WriteMode {
    /// The partition holds exactly the new files afterwards (idempotent re-runs).
    #[default]
    Replace,
    /// The new files join the existing ones.
    Append,
}

impl std::str::FromStr for WriteMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "replace" => Ok(WriteMode::Replace),
            "append" => Ok(WriteMode::Append),
            other => Err(format!("invalid mode `{other}`: use replace or append")),
        }
    }
}

/// How output is written.
#[derive(Clone)]
pub struct SinkOptions {
    /// Parquet settings; `metadata` here is added to every file.
    pub write: WriteOptions,
    /// A new file starts once the current one holds about this many bytes of Arrow data.
    pub max_file_bytes: u64,
    /// How long a commit waits for another run that writes the same table before it fails
    /// with [`SinkError::Locked`] (default 10 minutes).
    pub lock_timeout: Duration,
    /// How long a lease on object storage lasts without renewal (default 15 minutes). A run
    /// renews its lease while it commits; a lease left by a killed run is taken over once it
    /// has expired.
    pub lease_duration: Duration,
    /// How tables are written: plain Parquet with `_SUCCESS` manifests (the default), or Delta
    /// Lake tables (see the `delta` module).
    pub format: Format,
    /// Delta tables only: a checkpoint every this many commits (the table property
    /// `delta.checkpointInterval`, set when the table is created; 0 leaves it unset, which
    /// readers and writers take as 10). Default 10.
    pub checkpoint_interval: u64,
    /// Test hooks: called where a commit can interleave with another writer.
    #[doc(hidden)]
    pub hooks: Option<Arc<dyn CommitHooks>>,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            write: WriteOptions::default(),
            max_file_bytes: 1 << 30,
            lock_timeout: Duration::from_secs(10 * 60),
            lease_duration: Duration::from_secs(15 * 60),
            format: Format::Parquet,
            checkpoint_interval: 10,
            hooks: None,
        }
    }
}

impl std::fmt::Debug for SinkOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SinkOptions")
            .field("write", &self.write)
            .field("max_file_bytes", &self.max_file_bytes)
            .field("lock_timeout", &self.lock_timeout)
            .field("lease_duration", &self.lease_duration)
            .field("format", &self.format)
            .field("checkpoint_interval", &self.checkpoint_interval)
            .field("hooks", &self.hooks.is_some())
            .finish()
    }
}

impl PartialEq for SinkOptions {
    /// Hooks are equal when they are the same object.
    fn eq(&self, other: &Self) -> bool {
        self.write == other.write
            && self.max_file_bytes == other.max_file_bytes
            && self.lock_timeout == other.lock_timeout
            && self.lease_duration == other.lease_duration
            && self.format == other.format
            && self.checkpoint_interval == other.checkpoint_interval
            && same_hooks(&self.hooks, &other.hooks)
    }
}

impl Eq for SinkOptions {}

/// One file of a committed partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManifestFile {
    pub name: String,
    pub rows: u64,
    pub bytes: u64,
    pub sha256: String,
}

/// The `_SUCCESS` manifest of a partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// Table (directory) name.
    pub table: String,
    /// Partition directory (`date=2024-01-31`), if any.
    pub partition: Option<String>,
    pub rows: u64,
    pub files: Vec<ManifestFile>,
    /// Run that wrote the partition last.
    pub run_id: String,
    /// Key/value metadata of the files.
    pub metadata: Vec<(String, String)>,
}

/// A committed partition of a table, in either format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommittedPartition {
    /// `date=2024-01-31`, or `None` for an unpartitioned table.
    pub partition: Option<String>,
    /// Rows, when known (Delta files written without statistics leave it unknown).
    pub rows: Option<u64>,
    pub files: usize,
    /// The run that wrote it last, when the format records it (Parquet manifests do).
    pub run_id: Option<String>,
    /// When its newest file was written (milliseconds since the epoch), when the format
    /// records it (Delta add actions do).
    pub written_ms: Option<i64>,
    /// The key/value metadata of its files, when the format keeps it (Parquet manifests do).
    pub metadata: Vec<(String, String)>,
}

/// What a table holds, whatever its format: read from the location alone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableOverview {
    pub format: Format,
    pub contract: Option<TableContract>,
    /// Committed partitions, sorted.
    pub partitions: Vec<CommittedPartition>,
    /// What could not be read, each with the reason (a damaged manifest, an unreadable log).
    pub unreadable: Vec<String>,
}

/// An output location with a staging area for the current run.
#[derive(Debug)]
pub struct Sink {
    pub(crate) store: Store,
    pub(crate) staging: Staging,
    pub(crate) run_id: String,
    pub(crate) options: SinkOptions,
    /// The contracts this sink opened, by table: every commit of such a table checks that
    /// the stored contract is still this one.
    pub(crate) contracts: Mutex<HashMap<String, TableContract>>,
    /// Per table, the writers of this sink queue here before taking the table's lock.
    pub(crate) writers: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Whether the object store's conditional writes were checked.
    pub(crate) conditional_checked: tokio::sync::OnceCell<()>,
    /// The Delta kernel's engine on this sink's store, once a Delta table is used.
    pub(crate) delta_engine: std::sync::OnceLock<Arc<DeltaEngine>>,
}

static FILES: AtomicU64 = AtomicU64::new(0);

/// Where a local store keeps staged files: outside every table, on the same file system.
const STAGING: &str = "_staging";

/// Where a probe writes its object.
const PROBE: &str = "_probe";

/// Refuses names that would escape the layout or hide from readers.
fn check_name(part: &str) -> Result<(), SinkError> {
    if part.is_empty() || part.starts_with(['.', '_']) || part.contains(['/', '\\']) || part == ".."
    {
        return Err(SinkError::Options(format!(
            "invalid table or partition name `{part}`"
        )));
    }
    Ok(())
}

impl Sink {
    /// Opens `location` (a directory, or `s3://bucket/prefix`; see [`Store::open`]).
    pub fn open(location: &str, options: SinkOptions) -> Result<Sink, SinkError> {
        Sink::open_store(Store::open(location)?, options)
    }

    /// Writes into an opened store (for example one opened with explicit object storage
    /// settings by [`Store::open_with`]).
    ///
    /// The run stages its files in `_staging/<run id>/` (locally) or in
    /// `<temp dir>/cake-staging/<run id>/` (object storage), and holds a lock on that
    /// directory until the sink is dropped. Staging directories whose lock is free (their run
    /// is gone, killed or crashed, in this container or another one sharing the volume) are
    /// removed; those of runs still writing are left alone.
    pub fn open_store(store: Store, options: SinkOptions) -> Result<Sink, SinkError> {
        let run_id = run_id();
        let base = match store.local_root() {
            Some(root) => root.join(STAGING),
            None => std::env::temp_dir().join("cake-staging"),
        };
        let staging = Staging::open(&base, &run_id)?;
        Ok(Sink {
            store,
            staging,
            run_id,
            options,
            contracts: Mutex::new(HashMap::new()),
            writers: Mutex::new(HashMap::new()),
            conditional_checked: tokio::sync::OnceCell::new(),
            delta_engine: std::sync::OnceLock::new(),
        })
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This run's id (in manifests and appended file names).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// A local directory for this run's temporary files (removed with the sink).
    pub fn temp_dir(&self) -> &Path {
        &self.staging.dir
    }

    /// Checks that the location takes writes before any data is pulled: writes a small
    /// object `_probe/<run id>` and deletes it. A missing bucket, wrong credentials, an
    /// unreachable endpoint or a read-only directory fail here, with a message that says what
    /// to do. On object storage it also checks that the server honours conditional writes,
    /// which the table leases need.
    pub async fn probe(&self) -> Result<(), SinkError> {
        let rel = format!("{PROBE}/{}", self.run_id);
        self.store.put_bytes(&rel, b"probe".to_vec()).await?;
        self.store.delete(&rel).await?;
        match &self.store {
            Store::Local { root } => {
                let _ = fs::remove_dir(root.join(PROBE));
            }
            Store::Object { .. } => self.check_conditional_writes().await?,
        }
        Ok(())
    }

    /// The contract stored with `table` (`<table>/_table.json`), if it has one.
    ///
    /// With [`Format::Delta`], the contract is the Delta table's `cake.*` properties. A table
    /// of the other format counts as one with a contract (an empty one when it has none), so
    /// that [`Sink::open_table`] refuses it (or rebuilds it).
    pub async fn table_contract(&self, table: &str) -> Result<Option<TableContract>, SinkError> {
        check_name(table)?;
        if self.options.format == Format::Delta {
            return self.delta_table_contract(table).await;
        }
        let rel = format!("{table}/{CONTRACT}");
        match self.store.get_bytes(&rel).await? {
            None if self.has_delta_log(table).await? => Ok(Some(TableContract::default())),
            None => Ok(None),
            Some(bytes) => contract::parse(&rel, &bytes).map(Some),
        }
    }

    /// The committed partitions of `table` (`date=2024-01-31`, ...), sorted: the directories
    /// that hold a `_SUCCESS` manifest, or with [`Format::Delta`] the partitions of the
    /// table's current files.
    pub async fn partitions(&self, table: &str) -> Result<Vec<String>, SinkError> {
        check_name(table)?;
        if self.options.format == Format::Delta {
            return self.delta_partitions(table).await;
        }
        Ok(self
            .manifested(table)
            .await?
            .into_iter()
            .flatten()
            .collect())
    }

    /// The partitions of a Parquet table that hold a `_SUCCESS` manifest, sorted (`None`: the
    /// manifest of an unpartitioned table).
    async fn manifested(&self, table: &str) -> Result<Vec<Option<String>>, SinkError> {
        let mut out: Vec<Option<String>> = self
            .store
            .list_recursive(table)
            .await?
            .iter()
            .filter_map(|path| {
                let rest = path.strip_prefix(table)?.strip_prefix('/')?;
                if rest == MANIFEST {
                    return Some(None);
                }
                let partition = rest.strip_suffix(MANIFEST)?.strip_suffix('/')?;
                (!partition.is_empty() && !partition.contains('/'))
                    .then(|| Some(partition.to_string()))
            })
            .collect();
        out.sort();
        out.dedup();
        Ok(out)
    }

    /// What `table` holds, in whichever format it was written (a table with a Delta log is
    /// read as Delta, whatever this sink's own format): its contract and its committed
    /// partitions. Nothing is locked; a partition being committed may or may not be listed.
    pub async fn overview(&self, table: &str) -> Result<TableOverview, SinkError> {
        check_name(table)?;
        if self.has_delta_log(table).await? {
            return self.delta_overview(table).await;
        }
        let rel = format!("{table}/{CONTRACT}");
        let mut unreadable = Vec::new();
        let contract = match self.store.get_bytes(&rel).await? {
            None => None,
            Some(bytes) => match contract::parse(&rel, &bytes) {
                Ok(c) => Some(c),
                Err(e) => {
                    unreadable.push(format!("{CONTRACT}: {e}"));
                    None
                }
            },
        };
        let mut partitions = Vec::new();
        for partition in self.manifested(table).await? {
            match self.manifest(table, partition.as_deref()).await {
                Ok(Some(m)) => partitions.push(CommittedPartition {
                    partition,
                    rows: Some(m.rows),
                    files: m.files.len(),
                    run_id: Some(m.run_id),
                    written_ms: None,
                    metadata: m.metadata,
                }),
                Ok(None) => {}
                Err(e) => {
                    unreadable.push(format!("{}: {e}", partition.as_deref().unwrap_or(MANIFEST)))
                }
            }
        }
        Ok(TableOverview {
            format: Format::Parquet,
            contract,
            partitions,
            unreadable,
        })
    }

    /// Opens `table` under `contract`, under the table's lock. Without a stored contract,
    /// writes this one ([`ContractCheck::Created`]); with an equal one,
    /// [`ContractCheck::Matches`]. With a different one: when `rebuild`, deletes every object
    /// of the table (its partitions, manifests and old contract) and writes this one
    /// ([`ContractCheck::Rebuilt`]); otherwise fails with [`SinkError::ContractMismatch`],
    /// which lists the differing fields, and changes nothing.
    ///
    /// The sink remembers the contract: every later commit of the table checks, under the
    /// lock, that the stored contract is still this one (another run may have rebuilt the
    /// table under another contract in the meantime) and refuses otherwise.
    pub async fn open_table(
        &self,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        check_name(table)?;
        let mut lock = self.lock_table(table, None).await?;
        let result = self
            .open_table_locked(&mut lock, table, contract, rebuild)
            .await;
        lock.release().await;
        let check = result?;
        self.contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(table.to_string(), contract.clone());
        Ok(check)
    }

    async fn open_table_locked(
        &self,
        lock: &mut TableLock,
        table: &str,
        contract: &TableContract,
        rebuild: bool,
    ) -> Result<ContractCheck, SinkError> {
        if self.options.format == Format::Delta {
            return self
                .open_delta_table_locked(lock, table, contract, rebuild)
                .await;
        }
        let rel = format!("{table}/{CONTRACT}");
        let json = serde_json::to_vec_pretty(contract)
            .map_err(|e| SinkError::Options(format!("cannot encode the contract: {e}")))?;
        let stored = match self.store.get_bytes(&rel).await? {
            None => None,
            Some(bytes) => Some(contract::parse(&rel, &bytes)?),
        };
        if stored.is_none() && self.has_delta_log(table).await? {
            // A Delta table of this name: another format.
            if !rebuild {
                return Err(SinkError::ContractMismatch {
                    table: table.to_string(),
                    location: self.store.location_of(table),
                    differences: vec![format_difference(Format::Delta, Format::Parquet)],
                });
            }
            self.delete_table(lock, table, false).await?;
            lock.confirm().await?;
            self.put_table_file(&rel, &json).await?;
            return Ok(ContractCheck::Rebuilt);
        }
        match stored {
            None => {
                self.put_table_file(&rel, &json).await?;
                Ok(ContractCheck::Created)
            }
            Some(stored) if stored == *contract => Ok(ContractCheck::Matches),
            Some(stored) if !rebuild => Err(SinkError::ContractMismatch {
                table: table.to_string(),
                location: self.store.location_of(table),
                differences: stored.differences(contract),
            }),
            Some(_) => {
                self.delete_table(lock, table, true).await?;
                lock.confirm().await?;
                self.put_table_file(&rel, &json).await?;
                Ok(ContractCheck::Rebuilt)
            }
        }
    }

    /// Writes a file at a table's root atomically. Locally its temporary copy is written in
    /// this run's staging directory, so a run killed in the middle leaves nothing in the table
    /// (a temporary file beside the target would stay there).
    async fn put_table_file(&self, rel: &str, bytes: &[u8]) -> Result<(), SinkError> {
        match &self.store {
            Store::Local { root } => {
                let target = root.join(rel);
                let temp = self.staging.dir.join(format!(
                    "table-file{}",
                    FILES.fetch_add(1, Ordering::Relaxed)
                ));
                write_atomic(&temp, bytes)?;
                let io = |source| SinkError::Io {
                    path: target.clone(),
                    source,
                };
                let dir = target.parent().unwrap_or(root);
                fs::create_dir_all(dir).map_err(io)?;
                fs::rename(&temp, &target).map_err(io)?;
                sync_dir(dir)
            }
            Store::Object { .. } => self.store.put_bytes(rel, bytes.to_vec()).await,
        }
    }

    /// Deletes every object of `table` but, with `keep_contract`, its `_table.json`, which the
    /// caller overwrites next (so a rebuild interrupted here still fails the old contract's
    /// check): locally the table's directory is moved into staging whole and removed; on
    /// object storage a Delta log goes first (`_last_checkpoint`, then the log's entries in
    /// order, so that the table stops being readable at once), then the manifests (readers
    /// that wait for `_SUCCESS` stop reading), then the other objects.
    pub(crate) async fn delete_table(
        &self,
        lock: &mut TableLock,
        table: &str,
        keep_contract: bool,
    ) -> Result<(), SinkError> {
        match &self.store {
            Store::Local { root } => {
                let dir = root.join(table);
                let contract = match keep_contract {
                    true => self.store.get_bytes(&format!("{table}/{CONTRACT}")).await?,
                    false => None,
                };
                let trash = self
                    .staging
                    .dir
                    .join(format!("trash{}", FILES.fetch_add(1, Ordering::Relaxed)));
                match fs::rename(&dir, &trash) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(source) => return Err(SinkError::Io { path: dir, source }),
                }
                sync_dir(root)?;
                // The old contract stays in place until the new one replaces it.
                if let Some(bytes) = contract {
                    self.put_table_file(&format!("{table}/{CONTRACT}"), &bytes)
                        .await?;
                }
                fs::remove_dir_all(&trash).map_err(|source| SinkError::Io {
                    path: trash.clone(),
                    source,
                })
            }
            Store::Object { .. } => {
                let all = self.store.list_recursive(table).await?;
                let contract = format!("{table}/{CONTRACT}");
                let log = format!("{table}/{DELTA_LOG}/");
                let rank = |rel: &str| {
                    if rel == contract {
                        4
                    } else if rel == format!("{log}_last_checkpoint") {
                        0
                    } else if rel.starts_with(&log) {
                        1
                    } else if rel.rsplit('/').next() == Some(MANIFEST) {
                        2
                    } else {
                        3
                    }
                };
                let mut order: Vec<(u8, &String)> = all
                    .iter()
                    .filter(|rel| !(keep_contract && **rel == contract))
                    .map(|rel| (rank(rel), rel))
                    .collect();
                order.sort();
                for (_, rel) in order {
                    lock.keep().await?;
                    self.store.delete(rel).await?;
                }
                Ok(())
            }
        }
    }

    /// Under the table's lock: refuses a commit when this sink opened the table with a
    /// contract and the stored one is no longer it.
    async fn check_contract(&self, table: &str) -> Result<(), SinkError> {
        let expected = self
            .contracts
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(table)
            .cloned();
        let Some(expected) = expected else {
            return Ok(());
        };
        let stored = self.table_contract(table).await?.unwrap_or_default();
        if stored == expected {
            return Ok(());
        }
        Err(SinkError::ContractMismatch {
            table: table.to_string(),
            location: self.store.location_of(table),
            differences: stored.differences(&expected),
        })
    }

    /// Starts writing a partition of `table` (`partition` such as `date=2024-01-31`, or
    /// `None` for an unpartitioned table). `metadata` goes into every file's footer.
    pub fn partition(
        &self,
        table: &str,
        partition: Option<&str>,
        schema: SchemaRef,
        metadata: Vec<(String, String)>,
    ) -> Result<PartitionWriter<'_>, SinkError> {
        for part in std::iter::once(table).chain(partition) {
            check_name(part)?;
        }
        let rel = match partition {
            Some(p) => format!("{table}/{p}"),
            None => table.to_string(),
        };
        let serial = FILES.fetch_add(1, Ordering::Relaxed);
        let stage = self.staging.dir.join(format!("p{serial}"));
        fs::create_dir_all(&stage).map_err(|source| SinkError::Io {
            path: stage.clone(),
            source,
        })?;
        let mut write = self.options.write.clone();
        write.metadata.extend(metadata);
        Ok(PartitionWriter {
            sink: self,
            table: table.to_string(),
            partition: partition.map(str::to_string),
            rel,
            stage,
            serial,
            schema,
            write,
            current: None,
            current_bytes: 0,
            files: Vec::new(),
        })
    }

    /// Stores a small document (state, for example) at `rel`, atomically.
    pub async fn put_document(&self, rel: &str, bytes: Vec<u8>) -> Result<(), SinkError> {
        self.store.put_bytes(rel, bytes).await
    }

    /// Reads a document written by [`Sink::put_document`].
    pub async fn get_document(&self, rel: &str) -> Result<Option<Vec<u8>>, SinkError> {
        self.store.get_bytes(rel).await
    }

    /// Moves (locally) or uploads a finished local file to `rel`.
    pub async fn put_file(&self, rel: &str, local: &Path) -> Result<(), SinkError> {
        self.store.put_file(rel, local).await
    }

    /// The manifest of a committed partition, if there is one.
    pub async fn manifest(
        &self,
        table: &str,
        partition: Option<&str>,
    ) -> Result<Option<Manifest>, SinkError> {
        let rel = match partition {
            Some(p) => format!("{table}/{p}/{MANIFEST}"),
            None => format!("{table}/{MANIFEST}"),
        };
        match self.store.get_bytes(&rel).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                SinkError::Options(format!("the manifest {rel} is not valid JSON: {e}"))
            }),
        }
    }
}

/// `<microseconds since the epoch>-<pid>`, unique in this process (two sinks opened in the
/// same microsecond get consecutive numbers).
fn run_id() -> String {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX / 2))
        .unwrap_or_default();
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| {
            Some(now.max(last + 1))
        })
        .unwrap_or(now);
    let micros = now.max(previous + 1);
    format!("{micros}-{}", std::process::id())
}

/// One partition being written.
pub struct PartitionWriter<'a> {
    pub(crate) sink: &'a Sink,
    pub(crate) table: String,
    pub(crate) partition: Option<String>,
    pub(crate) rel: String,
    pub(crate) stage: PathBuf,
    /// Unique in this process: appended file names carry it with the run id.
    pub(crate) serial: u64,
    pub(crate) schema: SchemaRef,
    pub(crate) write: WriteOptions,
    current: Option<ParquetFile>,
    current_bytes: u64,
    pub(crate) files: Vec<FileInfo>,
}

/// What a commit published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// `table/partition` relative to the location.
    pub path: String,
    pub manifest: Manifest,
    /// Rows and bytes of the new files.
    pub rows: u64,
    pub bytes: u64,
}

impl PartitionWriter<'_> {
    fn open_file(&mut self) -> Result<(), SinkError> {
        let name = format!("part-{:05}.parquet", self.files.len());
        self.current = Some(ParquetFile::create(
            self.stage.join(name),
            self.schema.clone(),
            self.write.clone(),
        )?);
        self.current_bytes = 0;
        Ok(())
    }

    fn close_file(&mut self) -> Result<(), SinkError> {
        if let Some(f) = self.current.take() {
            self.files.push(f.finish()?);
        }
        Ok(())
    }

    /// Adds a batch; a new file starts when the current one reaches the size bound.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        if self.current.is_none() {
            self.open_file()?;
        }
        if let Some(f) = &mut self.current {
            f.write(batch)?;
        }
        self.current_bytes += batch.get_array_memory_size() as u64;
        if self.current_bytes >= self.sink.options.max_file_bytes {
            self.close_file()?;
        }
        Ok(())
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.files.iter().map(|f| f.rows).sum::<u64>()
            + self.current.as_ref().map_or(0, |f| f.rows())
    }

    /// Publishes the partition. An empty partition still gets one file with the full schema.
    ///
    /// The files are hashed and named first; then, under the table's lock (see
    /// [`CommitHooks`]), the contract is checked (when this sink opened the table with one),
    /// an append reads the current manifest, and the files and the new manifest are
    /// published. Concurrent commits of one table, from this run or another, are thus
    /// serialized: appends never lose each other's manifest entries, and of two replaces the
    /// last wins whole.
    pub async fn commit(mut self, mode: WriteMode) -> Result<Committed, SinkError> {
        self.close_file()?;
        if self.files.is_empty() {
            self.open_file()?;
            self.close_file()?;
        }
        if self.sink.options.format == Format::Delta {
            return self.commit_delta(mode).await;
        }
        let mut entries = Vec::new();
        for f in &self.files {
            entries.push(ManifestFile {
                name: f
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                rows: f.rows,
                bytes: f.bytes,
                sha256: sha256_file(&f.path)?,
            });
        }
        // Appended files get this run's id and the writer's serial in their names, so they
        // collide neither with other runs nor with other appends of this run.
        if mode == WriteMode::Append {
            for (i, e) in entries.iter_mut().enumerate() {
                let name = format!("part-{}-{}-{i:05}.parquet", self.sink.run_id, self.serial);
                fs::rename(self.stage.join(&e.name), self.stage.join(&name)).map_err(|source| {
                    SinkError::Io {
                        path: self.stage.join(&name),
                        source,
                    }
                })?;
                e.name = name;
            }
        }
        let mut lock = self
            .sink
            .lock_table(&self.table, self.partition.as_deref())
            .await?;
        let result = self.publish(&mut lock, mode, entries).await;
        lock.release().await;
        result
    }

    /// The part of a commit that runs under the table's lock.
    async fn publish(
        &self,
        lock: &mut TableLock,
        mode: WriteMode,
        entries: Vec<ManifestFile>,
    ) -> Result<Committed, SinkError> {
        self.sink.check_contract(&self.table).await?;
        let rows = entries.iter().map(|e| e.rows).sum();
        let bytes = entries.iter().map(|e| e.bytes).sum();
        let new_names: Vec<String> = entries.iter().map(|e| e.name.clone()).collect();
        let existing = match mode {
            WriteMode::Replace => None,
            WriteMode::Append => {
                self.sink
                    .manifest(&self.table, self.partition.as_deref())
                    .await?
            }
        };
        let mut files = existing.map(|m| m.files).unwrap_or_default();
        files.retain(|f| !new_names.contains(&f.name));
        files.extend(entries);
        let manifest = Manifest {
            table: self.table.clone(),
            partition: self.partition.clone(),
            rows: files.iter().map(|f| f.rows).sum(),
            files,
            run_id: self.sink.run_id.clone(),
            metadata: self.write.metadata.clone(),
        };
        let manifest_json = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| SinkError::Options(format!("cannot encode the manifest: {e}")))?;
        match (&self.sink.store, mode) {
            (Store::Local { root }, WriteMode::Replace) => {
                write_atomic(&self.stage.join(MANIFEST), &manifest_json)?;
                if self.partition.is_none() {
                    // The table's directory is swapped whole: its contract goes along.
                    let contract = format!("{}/{CONTRACT}", self.table);
                    if let Some(bytes) = self.sink.store.get_bytes(&contract).await? {
                        write_atomic(&self.stage.join(CONTRACT), &bytes)?;
                    }
                }
                let target = root.join(&self.rel);
                swap_in(&self.stage, &target)?;
            }
            (Store::Local { root }, WriteMode::Append) => {
                let target = root.join(&self.rel);
                fs::create_dir_all(&target).map_err(|source| SinkError::Io {
                    path: target.clone(),
                    source,
                })?;
                for name in &new_names {
                    fs::rename(self.stage.join(name), target.join(name)).map_err(|source| {
                        SinkError::Io {
                            path: target.join(name),
                            source,
                        }
                    })?;
                }
                sync_dir(&target)?;
                write_atomic(&target.join(MANIFEST), &manifest_json)?;
                let _ = fs::remove_dir_all(&self.stage);
            }
            (store @ Store::Object { .. }, _) => {
                let before: BTreeSet<String> = store.list(&self.rel).await?.into_iter().collect();
                // Before each change: a lease that this run may have lost (it stalled past the
                // lease's expiry, for example while hooked in a test) is renewed or refused.
                lock.keep().await?;
                // The old manifest goes first: while files are overwritten and deleted, the
                // partition has no `_SUCCESS`, so readers that wait for it do not read a mix.
                if mode == WriteMode::Replace && before.contains(MANIFEST) {
                    store.delete(&format!("{}/{MANIFEST}", self.rel)).await?;
                }
                for name in &new_names {
                    lock.keep().await?;
                    store
                        .put_file(&format!("{}/{name}", self.rel), &self.stage.join(name))
                        .await?;
                }
                if mode == WriteMode::Replace {
                    let keep: BTreeSet<&str> =
                        manifest.files.iter().map(|f| f.name.as_str()).collect();
                    for old in before.iter().filter(|n| !keep.contains(n.as_str())) {
                        // The manifest is rewritten below; the contract of an unpartitioned
                        // table is the table's, not the partition's.
                        if old != MANIFEST && old != CONTRACT {
                            lock.keep().await?;
                            store.delete(&format!("{}/{old}", self.rel)).await?;
                        }
                    }
                }
                lock.confirm().await?;
                store
                    .put_bytes(&format!("{}/{MANIFEST}", self.rel), manifest_json)
                    .await?;
                let _ = fs::remove_dir_all(&self.stage);
            }
        }
        Ok(Committed {
            path: self.rel.clone(),
            manifest,
            rows,
            bytes,
        })
    }
}

impl Drop for PartitionWriter<'_> {
    fn drop(&mut self) {
        // An uncommitted partition leaves nothing behind; after a commit the directory is
        // gone already (or holds the previous version, which goes too).
        let _ = fs::remove_dir_all(&self.stage);
    }
}

pub(crate) fn sha256_file(path: &Path) -> Result<String, SinkError> {
    let mut f = fs::File::open(path).map_err(|source| SinkError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let mut h = Sha256::new();
    std::io::copy(&mut f, &mut h).map_err(|source| SinkError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(hex::encode(h.finalize()))
}

/// Puts the complete directory `stage` at `target` in one step. If `target` exists, the two
/// are exchanged atomically and the old content (now at `stage`) is removed.
fn swap_in(stage: &Path, target: &Path) -> Result<(), SinkError> {
    let io = |source| SinkError::Io {
        path: target.to_path_buf(),
        source,
    };
    let parent = target.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(parent).map_err(io)?;
    sync_dir(stage)?;
    if target.exists() {
        exchange(stage, target).map_err(io)?;
        sync_dir(parent)?;
        fs::remove_dir_all(stage).map_err(io)?;
    } else {
        fs::rename(stage, target).map_err(io)?;
        sync_dir(parent)?;
    }
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let ca = CString::new(a.as_os_str().as_bytes())?;
    let cb = CString::new(b.as_os_str().as_bytes())?;
    // SAFETY: both paths are valid NUL-terminated strings that outlive the call.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_renameat2,
            libc::AT_FDCWD,
            ca.as_ptr(),
            libc::AT_FDCWD,
            cb.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        let err = std::io::Error::last_os_error();
        // Kernels or file systems without RENAME_EXCHANGE fall back to two renames.
        match err.raw_os_error() {
            Some(libc::EINVAL) | Some(libc::ENOSYS) => exchange_by_renames(a, b),
            _ => Err(err),
        }
    }
}

#[cfg(not(target_os = "linux"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    exchange_by_renames(a, b)
}

/// The portable exchange: for a moment `b` does not exist (a reader sees the partition
/// missing, never mixed).
fn exchange_by_renames(a: &Path, b: &Path) -> std::io::Result<()> {
    let tmp = a.with_extension("swap");
    fs::rename(b, &tmp)?;
    fs::rename(a, b)?;
    fs::rename(&tmp, a)
}
