//! A partition's commit in the hive layout: its files published as a unit with a `_SUCCESS`
//! manifest.
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
use std::path::Path;

use crate::contract::CONTRACT;
use crate::file::SinkError;
use crate::lock::TableLock;
use crate::partition::{sha256_file, Committed, Manifest, ManifestFile, PartitionWriter, MANIFEST};
use crate::sink::WriteMode;
use crate::store::{sync_dir, write_atomic};

impl PartitionWriter<'_> {
    /// Publishes the partition's files with a `_SUCCESS` manifest.
    ///
    /// The files are hashed and named first; then, under the table's lock (see
    /// [`CommitHooks`](crate::CommitHooks)), the contract is checked (when this sink opened
    /// the table with one), an append reads the current manifest, and the files and the new
    /// manifest are published. Concurrent commits of one table, from this run or another, are thus
    /// serialized: appends never lose each other's manifest entries, and of two replaces the
    /// last wins whole.
    pub(crate) async fn commit_hive(self, mode: WriteMode) -> Result<Committed, SinkError> {
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
        let store = &self.sink.store;
        match (store.local_root(), mode) {
            (Some(root), WriteMode::Replace) => {
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
            (Some(root), WriteMode::Append) => {
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
            (None, _) => {
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
