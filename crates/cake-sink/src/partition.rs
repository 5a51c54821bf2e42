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

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::file::{FileInfo, ParquetFile, SinkError, WriteOptions};
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
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SinkOptions {
    /// Parquet settings; `metadata` here is added to every file.
    pub write: WriteOptions,
    /// A new file starts once the current one holds about this many bytes of Arrow data.
    pub max_file_bytes: u64,
}

impl Default for SinkOptions {
    fn default() -> Self {
        SinkOptions {
            write: WriteOptions::default(),
            max_file_bytes: 1 << 30,
        }
    }
}

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

/// An output location with a staging area for the current run.
#[derive(Debug)]
pub struct Sink {
    store: Store,
    staging: PathBuf,
    run_id: String,
    options: SinkOptions,
    /// Keeps a temporary staging directory (object storage) alive.
    _temp: Option<tempfile::TempDir>,
}

static FILES: AtomicU64 = AtomicU64::new(0);

/// Where a local store keeps staged files: outside every table, on the same file system.
const STAGING: &str = "_staging";

impl Sink {
    /// Opens `location` (a directory, or `s3://bucket/prefix`; see [`Store::open`]).
    pub fn open(location: &str, options: SinkOptions) -> Result<Sink, SinkError> {
        Sink::open_store(Store::open(location)?, options)
    }

    /// Writes into an opened store (for example one opened with explicit object storage
    /// settings by [`Store::open_with`]). Locally, staging directories left by runs that were
    /// killed are removed; those of runs still alive (other processes writing other tables
    /// into the same location) are left alone.
    pub fn open_store(store: Store, options: SinkOptions) -> Result<Sink, SinkError> {
        let run_id = run_id();
        let (staging, temp) = match store.local_root() {
            Some(root) => {
                let base = root.join(STAGING);
                if let Ok(entries) = fs::read_dir(&base) {
                    for e in entries.flatten() {
                        let name = e.file_name().to_string_lossy().into_owned();
                        if !run_is_alive(&name) {
                            let _ = fs::remove_dir_all(e.path());
                        }
                    }
                }
                let dir = base.join(&run_id);
                fs::create_dir_all(&dir).map_err(|source| SinkError::Io {
                    path: dir.clone(),
                    source,
                })?;
                (dir, None)
            }
            None => {
                let t = tempfile::Builder::new()
                    .prefix("cake-staging-")
                    .tempdir()
                    .map_err(|source| SinkError::Io {
                        path: std::env::temp_dir(),
                        source,
                    })?;
                (t.path().to_path_buf(), Some(t))
            }
        };
        Ok(Sink {
            store,
            staging,
            run_id,
            options,
            _temp: temp,
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
        &self.staging
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
            if part.is_empty()
                || part.starts_with(['.', '_'])
                || part.contains(['/', '\\'])
                || part == ".."
            {
                return Err(SinkError::Options(format!(
                    "invalid table or partition name `{part}`"
                )));
            }
        }
        let rel = match partition {
            Some(p) => format!("{table}/{p}"),
            None => table.to_string(),
        };
        let serial = FILES.fetch_add(1, Ordering::Relaxed);
        let stage = self.staging.join(format!("p{serial}"));
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

impl Drop for Sink {
    fn drop(&mut self) {
        if self.store.local_root().is_some() {
            let _ = fs::remove_dir_all(&self.staging);
            // The staging parent goes too when no other run uses it.
            if let Some(parent) = self.staging.parent() {
                let _ = fs::remove_dir(parent);
            }
        }
    }
}

/// Whether the process that owns the staging directory `run` (named by [`run_id`], which
/// ends with the process id) still runs. Names that are not run ids count as dead.
fn run_is_alive(run: &str) -> bool {
    let Some(pid) = run
        .rsplit_once('-')
        .and_then(|(_, pid)| pid.parse::<u32>().ok())
    else {
        return false;
    };
    if pid == std::process::id() {
        return true;
    }
    process_is_alive(pid)
}

#[cfg(target_os = "linux")]
fn process_is_alive(pid: u32) -> bool {
    // A killed process that its parent has not reaped yet is a zombie: dead for this purpose.
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat
            .rsplit_once(") ")
            .and_then(|(_, rest)| rest.chars().next())
            .is_some_and(|state| state != 'Z' && state != 'X'),
        Err(_) => false,
    }
}

#[cfg(all(unix, not(target_os = "linux")))]
fn process_is_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

#[cfg(not(unix))]
fn process_is_alive(_pid: u32) -> bool {
    false
}

fn run_id() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    format!(
        "{}{:06}-{}",
        now.as_secs(),
        now.subsec_micros(),
        std::process::id()
    )
}

/// One partition being written.
pub struct PartitionWriter<'a> {
    sink: &'a Sink,
    table: String,
    partition: Option<String>,
    rel: String,
    stage: PathBuf,
    /// Unique in this process: appended file names carry it with the run id.
    serial: u64,
    schema: SchemaRef,
    write: WriteOptions,
    current: Option<ParquetFile>,
    current_bytes: u64,
    files: Vec<FileInfo>,
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
    pub async fn commit(mut self, mode: WriteMode) -> Result<Committed, SinkError> {
        self.close_file()?;
        if self.files.is_empty() {
            self.open_file()?;
            self.close_file()?;
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
        let rows = entries.iter().map(|e| e.rows).sum();
        let bytes = entries.iter().map(|e| e.bytes).sum();
        let existing = match mode {
            WriteMode::Replace => None,
            WriteMode::Append => {
                self.sink
                    .manifest(&self.table, self.partition.as_deref())
                    .await?
            }
        };
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
        let mut files = existing.map(|m| m.files).unwrap_or_default();
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
                let target = root.join(&self.rel);
                swap_in(&self.stage, &target)?;
            }
            (Store::Local { root }, WriteMode::Append) => {
                let target = root.join(&self.rel);
                fs::create_dir_all(&target).map_err(|source| SinkError::Io {
                    path: target.clone(),
                    source,
                })?;
                for f in manifest.files.iter().rev().take(self.files.len()) {
                    fs::rename(self.stage.join(&f.name), target.join(&f.name)).map_err(
                        |source| SinkError::Io {
                            path: target.join(&f.name),
                            source,
                        },
                    )?;
                }
                sync_dir(&target)?;
                write_atomic(&target.join(MANIFEST), &manifest_json)?;
                let _ = fs::remove_dir_all(&self.stage);
            }
            (store @ Store::Object { .. }, _) => {
                let before: BTreeSet<String> = store.list(&self.rel).await?.into_iter().collect();
                // The old manifest goes first: while files are overwritten and deleted, the
                // partition has no `_SUCCESS`, so readers that wait for it do not read a mix.
                if mode == WriteMode::Replace && before.contains(MANIFEST) {
                    store.delete(&format!("{}/{MANIFEST}", self.rel)).await?;
                }
                let new: Vec<&ManifestFile> =
                    manifest.files.iter().rev().take(self.files.len()).collect();
                for f in &new {
                    store
                        .put_file(
                            &format!("{}/{}", self.rel, f.name),
                            &self.stage.join(&f.name),
                        )
                        .await?;
                }
                if mode == WriteMode::Replace {
                    let keep: BTreeSet<&str> =
                        manifest.files.iter().map(|f| f.name.as_str()).collect();
                    for old in before.iter().filter(|n| !keep.contains(n.as_str())) {
                        if old != MANIFEST {
                            store.delete(&format!("{}/{old}", self.rel)).await?;
                        }
                    }
                }
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

fn sha256_file(path: &Path) -> Result<String, SinkError> {
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
