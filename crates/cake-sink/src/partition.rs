//! Tables of Parquet files in a hive-partitioned layout, committed a partition at a time.
//!
//! A [`PartitionWriter`] writes Parquet files into a private staging directory (rolled at a
//! size bound), then [`PartitionWriter::commit`] asks the table's format to publish them as a
//! unit (the `format` module: a hive layout with `_SUCCESS` manifests, or Delta).
//!
//! A commit publishes under the table's lock (the `lock` module): two runs writing one table
//! wait for each other, so appends never lose manifest entries and the last of two replaces
//! wins whole. A table opened with [`Sink::open_table`] carries a contract
//! (`<table>/_table.json`), checked under the same lock at every commit.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::file::{FileInfo, ParquetFile, SinkError, WriteOptions};
use crate::sink::{check_name, Sink, FILES};

/// The manifest's name in every committed partition.
pub const MANIFEST: &str = "_SUCCESS";

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

impl Sink {
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

    /// Closes the current file; a partition with no rows still gets one file with the full
    /// schema.
    pub(crate) fn finish_files(&mut self) -> Result<(), SinkError> {
        self.close_file()?;
        if self.files.is_empty() {
            self.open_file()?;
            self.close_file()?;
        }
        Ok(())
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
