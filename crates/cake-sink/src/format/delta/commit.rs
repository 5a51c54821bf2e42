//! A partition's commit as one Delta transaction, tried again on a fresh snapshot when its
//! version is taken, applied exactly once (see the module `delta`).

use std::sync::Arc;
use std::time::Duration;

use arrow_array::builder::{MapBuilder, MapFieldNames, StringBuilder};
use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_schema::{DataType as ArrowType, Field, Fields, Schema, SchemaRef};
use delta_kernel::committer::{
    CommitMetadata, CommitResponse, Committer, FileSystemCommitter, PublishMetadata,
};
use delta_kernel::engine::arrow_conversion::TryFromArrow;
use delta_kernel::engine::arrow_data::ArrowEngineData;
use delta_kernel::schema::{DataType as DeltaType, StructField, StructType};
use delta_kernel::transaction::create_table::create_table;
use delta_kernel::transaction::data_layout::DataLayout;
use delta_kernel::transaction::{CommitResult, UpdateTableOperation};
use delta_kernel::{
    Engine, EngineData, FilteredEngineData, KernelError, KernelResult, KernelResultIterator,
};
use url::Url;

use super::engine::{
    blocking, DeltaEngine, ENGINE_INFO, MAX_ATTEMPTS, PROPERTY_PREFIX, TXN_RETENTION,
};
use super::snapshot::{contract_of, latest, table_files, TableFile};
use super::stats::FileStats;
use crate::contract::TableContract;
use crate::file::SinkError;
use crate::hooks::CommitHooks;
use crate::lock::now_ms;
use crate::partition::{Manifest, ManifestFile, PartitionWriter};
use crate::sink::WriteMode;

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
    let locals: Vec<&std::path::Path> = job.files.iter().map(|f| f.local.as_path()).collect();
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
                let file_stats = stats.get(&job.table, &job.schema, &locals, txn.stats_columns());
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
                let file_stats = stats.get(&job.table, &job.schema, &locals, txn.stats_columns());
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
