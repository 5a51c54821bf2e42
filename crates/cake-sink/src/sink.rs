//! The output location of a run: its store, its staging area, its run id and its options.
//!
//! A [`Sink`] is opened once per run on a directory or an object store prefix. It refuses
//! names that would escape the layout, checks with [`Sink::probe`] that the location takes
//! writes before anything is pulled, and hands out the writers of partitions
//! (`partition`) and the table-level operations (`table`).

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::contract::TableContract;
use crate::file::{SinkError, WriteOptions};
use crate::format::kind::Format;
use crate::hooks::{same_hooks, CommitHooks};
use crate::staging::Staging;
use crate::store::Store;

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
    /// How long a lease on object storage lasts without renewal (default 60 s). A run renews
    /// its lease every third of this while it lives; a lease left by a killed run is taken
    /// over once it has expired (at once when its process, on this machine, is gone).
    pub lease_duration: Duration,
    /// How tables are written: plain Parquet with `_SUCCESS` manifests (the default), or Delta
    /// Lake tables (see the `format` module).
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
            lease_duration: Duration::from_secs(60),
            format: Format::default(),
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
    /// The state a table format keeps for the sink's store (the Delta kernel's engine, once a
    /// Delta table is used); the sink does not know what it is.
    pub(crate) format_state: std::sync::OnceLock<Arc<dyn std::any::Any + Send + Sync>>,
}

pub(crate) static FILES: AtomicU64 = AtomicU64::new(0);

/// Where a local store keeps staged files: outside every table, on the same file system.
const STAGING: &str = "_staging";

/// Where a probe writes its object.
const PROBE: &str = "_probe";

/// Refuses names that would escape the layout or hide from readers.
pub(crate) fn check_name(part: &str) -> Result<(), SinkError> {
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
            format_state: std::sync::OnceLock::new(),
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
    /// object `_probe.<run id>` and deletes it. A missing bucket, wrong credentials, an
    /// unreachable endpoint or a read-only directory fail here, with a message that says what
    /// to do. On object storage it also checks that the server honours conditional writes,
    /// which the table leases need.
    pub async fn probe(&self) -> Result<(), SinkError> {
        // Beside the tables, not in a shared directory: runs starting at once never remove
        // a directory another run is writing into.
        let rel = format!("{PROBE}.{}", self.run_id);
        self.store.put_bytes(&rel, b"probe".to_vec()).await?;
        self.store.delete(&rel).await?;
        if self.store.local_root().is_none() {
            self.check_conditional_writes().await?;
        }
        Ok(())
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
