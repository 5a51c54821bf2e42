//! One local Parquet file, written atomically, encoded on a thread of its own.
//!
//! A [`ParquetFile`] hands each batch to its encoder thread through a bounded queue
//! ([`WriteOptions::encode_queue`] batches) and returns: the caller decodes the next batch while
//! the previous ones are encoded and compressed. Memory stays bounded by the queue's depth. An
//! error of the encoder is returned, as it was, by the next call; dropping the file stops the
//! thread (after the batch in hand) and removes the temporary file before `drop` returns.

use std::fs::{self, File};
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use cake_core::failure::{Class, Classify};
use parquet::arrow::arrow_writer::ArrowWriterOptions;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use crate::contract::ContractDifference;
use crate::spill::SpillFactory;

/// How a Parquet file is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteOptions {
    /// Key/value metadata stored in the file footer (report id, versions, sources...).
    pub metadata: Vec<(String, String)>,
    /// Most rows in one row group (default 1,048,576).
    pub max_row_group_rows: usize,
    /// Most encoded bytes in one row group (default 16 MiB).
    pub max_row_group_bytes: usize,
    /// zstd level (default 3).
    pub zstd_level: i32,
    /// Batches handed to the file's encoder thread and not yet encoded (default 2). The caller
    /// goes on while the previous batches are encoded and compressed on another core; a full
    /// queue makes it wait, so memory stays bounded by this many batches. 0 encodes on the
    /// caller's thread, with no thread of its own (the output is the same, byte for byte).
    pub encode_queue: usize,
}

impl Default for WriteOptions {
    fn default() -> Self {
        WriteOptions {
            metadata: Vec::new(),
            max_row_group_rows: 1 << 20,
            max_row_group_bytes: 16 << 20,
            zstd_level: 3,
            encode_queue: 2,
        }
    }
}

/// A finished file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileInfo {
    pub path: PathBuf,
    pub rows: u64,
    pub bytes: u64,
}

/// Errors of the sink. Each names the file.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SinkError {
    #[error("cannot write {}: {source}; check that the directory exists and is writable", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot encode Parquet for {}: {source}", path.display())]
    Parquet {
        path: PathBuf,
        #[source]
        source: parquet::errors::ParquetError,
    },
    #[error(
        "cannot write a batch to {}: its columns ({found}) differ from the file's ({expected})",
        path.display()
    )]
    Schema {
        path: PathBuf,
        expected: String,
        found: String,
    },
    #[error("invalid output path {}: it must name a file", path.display())]
    BadPath { path: PathBuf },
    #[error("invalid write options: {0}")]
    Options(String), // String: which option is out of range, composed here
    #[error("cannot use the output location `{location}`: {message}")]
    Location { location: String, message: String }, // String: what is wrong with the location and what to do
    #[error("object storage failed at {location}: {message}")]
    Object { location: String, message: String }, // String: the words of object_store, parquet or the Delta kernel, with what to do
    #[error("cannot read the Parquet file {name}: {message}")]
    Read { name: String, message: String }, // String: the words of object_store, parquet or the Delta kernel, with what to do
    #[error("{location} does not match its manifest: {message}; pull that partition again to replace it")]
    Mismatch { location: String, message: String }, // String: the difference found, composed from several values
    /// The table at `location` was written under another contract (see
    /// [`crate::Sink::open_table`]). The message lists the fields and says the table is
    /// unchanged; callers add the remedy (such as rebuilding the table).
    #[error(
        "the table {table} at {location} was written with a different contract ({}); the table is unchanged",
        crate::contract::list_differences(differences)
    )]
    ContractMismatch {
        table: String,
        location: String,
        differences: Vec<ContractDifference>,
    },
    /// Another run held the table's lock (or lease) for longer than
    /// [`crate::SinkOptions::lock_timeout`], or took over this run's lease after it expired.
    #[error("another run is writing {table} ({holder}); try again once it has finished")]
    Locked { table: String, holder: String },
    /// A Delta commit found its version taken by other writers on every attempt (see
    /// the `format` module); nothing of it was committed.
    #[error(
        "cannot commit {partition} of the Delta table {table} at {location} after {attempts} attempts: {message}; run again"
    )]
    Conflict {
        table: String,
        partition: String,
        location: String,
        attempts: u32,
        message: String, // String: the words of object_store, parquet or the Delta kernel, with what to do
    },
    /// The encoder thread of a file stopped without an error of its own (it panicked), or
    /// the file is written to after a failure was returned already.
    #[error("cannot write {}: {message}", path.display())]
    Encoder { path: PathBuf, message: String }, // String: a panic payload or a state, no error type exists
    /// The Delta kernel refused or failed an operation on the table at `location`.
    #[error("the Delta table at {location}: {message}")]
    Delta { location: String, message: String }, // String: the words of object_store, parquet or the Delta kernel, with what to do
    /// A request to object storage failed; `message` says what is wrong and what to do,
    /// `source` is `object_store`'s error.
    #[error("object storage failed at {location}: {message}")]
    Storage {
        location: String,
        message: String, // String: the words of object_store, parquet or the Delta kernel, with what to do
        #[source]
        source: object_store::Error,
    },
}

impl Classify for SinkError {
    /// What the user asked for (a malformed or unsupported location, unknown object storage
    /// settings, a table written under another contract) is [`Class::Usage`]; everything else
    /// (the data, the storage, the network to it) is [`Class::Output`].
    fn class(&self) -> Class {
        match self {
            SinkError::Location { .. } | SinkError::ContractMismatch { .. } => Class::Usage,
            _ => Class::Output,
        }
    }
}

/// A Parquet file being written. Nothing appears at its path until [`ParquetFile::finish`].
///
/// Batches are encoded on a thread of the file's own, fed through a queue of
/// [`WriteOptions::encode_queue`] batches (or on the caller's thread when that is 0). A failure
/// of the encoder is returned by the next [`ParquetFile::write`] or by
/// [`ParquetFile::finish`]; dropping an unfinished file stops its thread and removes the
/// temporary file.
pub struct ParquetFile {
    path: PathBuf,
    schema: SchemaRef,
    /// Rows handed over so far.
    rows: u64,
    encoding: Encoding,
}

/// Where the batches are encoded.
enum Encoding {
    /// On the caller's thread.
    Inline(Box<Encoder>),
    /// On the file's encoder thread, which answers `None` when the file was abandoned.
    Thread {
        queue: SyncSender<Job>,
        worker: JoinHandle<Option<Result<FileInfo, SinkError>>>,
        /// Set when the file is dropped unfinished: the batches still queued are skipped.
        abandoned: Arc<AtomicBool>,
    },
    /// Finished, or failed: nothing more is written.
    Over,
}

/// What the encoder thread is asked to do.
enum Job {
    Batch(RecordBatch),
    /// Write the footer, sync and rename; the last job.
    Finish,
}

/// The Arrow writer into the temporary file, and what completes the file.
struct Encoder {
    path: PathBuf,
    tmp: PathBuf,
    writer: Option<ArrowWriter<BufWriter<File>>>,
    rows: u64,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Largest data page: with one page in progress per column, this bounds the memory of wide
/// tables (150 columns hold at most ~40 MiB of pages being encoded).
const PAGE_BYTES: usize = 256 << 10;

/// Largest dictionary per column chunk. A column with more distinct bytes than this (ids,
/// URLs, user agents) falls back to plain encoding early, which zstd compresses as well and
/// which costs less time and memory than a large dictionary.
const DICTIONARY_BYTES: usize = 64 << 10;

impl ParquetFile {
    /// Starts writing `path` (zstd, statistics on, bounded row groups, `options.metadata` in
    /// the footer). The data goes to a temporary file in the same directory; with
    /// `options.encode_queue` above 0, the encoder thread starts.
    pub fn create(
        path: impl AsRef<Path>,
        schema: SchemaRef,
        options: WriteOptions,
    ) -> Result<ParquetFile, SinkError> {
        let path = path.as_ref().to_path_buf();
        let encode_queue = options.encode_queue;
        let encoder = Encoder::create(&path, schema.clone(), options)?;
        let encoding = match encode_queue {
            0 => Encoding::Inline(Box::new(encoder)),
            depth => {
                let (queue, jobs) = std::sync::mpsc::sync_channel(depth);
                let abandoned = Arc::new(AtomicBool::new(false));
                let skip = abandoned.clone();
                // A failed spawn drops the encoder, which removes the temporary file.
                let worker = std::thread::Builder::new()
                    .name("cake-encode".into())
                    .spawn(move || encode(encoder, jobs, &skip))
                    .map_err(|source| SinkError::Io {
                        path: path.clone(),
                        source,
                    })?;
                Encoding::Thread {
                    queue,
                    worker,
                    abandoned,
                }
            }
        };
        Ok(ParquetFile {
            path,
            schema,
            rows: 0,
            encoding,
        })
    }

    /// The final path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Rows written so far (handed to the encoder, on its thread).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Appends a batch (its schema must be the file's). On the encoder thread, this waits
    /// only while the queue is full; an error of an earlier batch is returned here.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        if batch.schema().fields() != self.schema.fields() {
            let names = |s: &arrow_schema::Schema| {
                s.fields()
                    .iter()
                    .map(|f| format!("{} {}", f.name(), f.data_type()))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            return Err(SinkError::Schema {
                path: self.path.clone(),
                expected: names(&self.schema),
                found: names(&batch.schema()),
            });
        }
        match &mut self.encoding {
            Encoding::Inline(encoder) => {
                if let Err(e) = encoder.write(batch) {
                    self.encoding = Encoding::Over;
                    return Err(e);
                }
            }
            Encoding::Thread { queue, .. } => {
                if queue.send(Job::Batch(batch.clone())).is_err() {
                    // The encoder failed and dropped its end of the queue.
                    return Err(self.stop());
                }
            }
            Encoding::Over => return Err(self.over()),
        }
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    /// Completes the file: footer, fsync, rename over the final path, fsync of the directory.
    /// Waits for the encoder to finish the batches in its queue.
    pub fn finish(mut self) -> Result<FileInfo, SinkError> {
        match std::mem::replace(&mut self.encoding, Encoding::Over) {
            Encoding::Inline(encoder) => encoder.finish(),
            Encoding::Thread { queue, worker, .. } => {
                let _ = queue.send(Job::Finish);
                drop(queue);
                joined(&self.path, worker)
            }
            Encoding::Over => Err(self.over()),
        }
    }

    /// Stops the encoder thread: its error, or why there is none.
    fn stop(&mut self) -> SinkError {
        match std::mem::replace(&mut self.encoding, Encoding::Over) {
            Encoding::Thread { queue, worker, .. } => {
                drop(queue);
                match joined(&self.path, worker) {
                    Err(e) => e,
                    Ok(_) => self.over(),
                }
            }
            _ => self.over(),
        }
    }

    fn over(&self) -> SinkError {
        SinkError::Encoder {
            path: self.path.clone(),
            message: "the file failed earlier and takes no more rows".into(),
        }
    }
}

/// The encoder thread's answer: the finished file, or the error that stopped it.
fn joined(
    path: &Path,
    worker: JoinHandle<Option<Result<FileInfo, SinkError>>>,
) -> Result<FileInfo, SinkError> {
    match worker.join() {
        Ok(Some(result)) => result,
        Ok(None) => Err(SinkError::Encoder {
            path: path.to_path_buf(),
            message: "the encoder stopped before the end of the file".into(),
        }),
        Err(_) => Err(SinkError::Encoder {
            path: path.to_path_buf(),
            message: "the encoder thread panicked".into(),
        }),
    }
}

/// The encoder thread: encodes batches until asked to finish. The first error ends it (its end
/// of the queue goes, so the writer's next call returns at once); so does the writer's end of
/// the queue going away, or `abandoned` (the file is dropped unfinished: the batches still
/// queued are skipped, and the encoder's drop removes the temporary file).
fn encode(
    mut encoder: Encoder,
    jobs: Receiver<Job>,
    abandoned: &AtomicBool,
) -> Option<Result<FileInfo, SinkError>> {
    while let Ok(job) = jobs.recv() {
        if abandoned.load(Ordering::Acquire) {
            return None;
        }
        match job {
            Job::Batch(batch) => {
                if let Err(e) = encoder.write(&batch) {
                    return Some(Err(e));
                }
            }
            Job::Finish => return Some(encoder.finish()),
        }
    }
    None
}

impl Drop for ParquetFile {
    fn drop(&mut self) {
        // An unfinished file: the encoder thread stops after the batch in hand (the queued ones
        // are skipped) and removes the temporary file; waiting for it means nothing is left
        // behind once the file is dropped. Inline, the encoder's own drop removes it.
        if let Encoding::Thread {
            queue,
            worker,
            abandoned,
        } = std::mem::replace(&mut self.encoding, Encoding::Over)
        {
            abandoned.store(true, Ordering::Release);
            drop(queue);
            let _ = worker.join();
        }
    }
}

impl Encoder {
    fn create(path: &Path, schema: SchemaRef, options: WriteOptions) -> Result<Encoder, SinkError> {
        let path = path.to_path_buf();
        let name = path
            .file_name()
            .ok_or_else(|| SinkError::BadPath { path: path.clone() })?
            .to_string_lossy()
            .into_owned();
        if options.max_row_group_rows == 0 || options.max_row_group_bytes == 0 {
            return Err(SinkError::Options(
                "row group limits must be greater than zero".into(),
            ));
        }
        let level = ZstdLevel::try_new(options.zstd_level)
            .map_err(|e| SinkError::Options(format!("zstd level {}: {e}", options.zstd_level)))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let tmp = path.with_file_name(format!(".{name}.{}-{n}.tmp", std::process::id()));
        let file = File::options()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .map_err(|source| SinkError::Io {
                path: tmp.clone(),
                source,
            })?;
        let metadata: Vec<KeyValue> = options
            .metadata
            .into_iter()
            .map(|(k, v)| KeyValue::new(k, v))
            .collect();
        let props = WriterProperties::builder()
            .set_compression(Compression::ZSTD(level))
            .set_statistics_enabled(EnabledStatistics::Page)
            .set_max_row_group_row_count(Some(options.max_row_group_rows))
            .set_max_row_group_bytes(Some(options.max_row_group_bytes))
            .set_data_page_size_limit(PAGE_BYTES)
            .set_dictionary_page_size_limit(DICTIONARY_BYTES)
            .set_key_value_metadata((!metadata.is_empty()).then_some(metadata))
            .build();
        let mut out = Encoder {
            path,
            tmp,
            writer: None,
            rows: 0,
        };
        // From here on, dropping `out` removes the temporary file.
        let dir = match out.path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let writer_options = ArrowWriterOptions::new()
            .with_properties(props)
            .with_page_store_factory(Arc::new(SpillFactory { dir }));
        let writer = ArrowWriter::try_new_with_options(
            BufWriter::with_capacity(1 << 20, file),
            schema,
            writer_options,
        )
        .map_err(|source| SinkError::Parquet {
            path: out.path.clone(),
            source,
        })?;
        out.writer = Some(writer);
        Ok(out)
    }

    fn write(&mut self, batch: &RecordBatch) -> Result<(), SinkError> {
        let writer = self.writer.as_mut().ok_or_else(|| SinkError::BadPath {
            path: self.path.clone(),
        })?;
        writer.write(batch).map_err(|source| SinkError::Parquet {
            path: self.path.clone(),
            source,
        })?;
        self.rows += batch.num_rows() as u64;
        Ok(())
    }

    fn finish(mut self) -> Result<FileInfo, SinkError> {
        let writer = self.writer.take().ok_or_else(|| SinkError::BadPath {
            path: self.path.clone(),
        })?;
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SinkError::Io { path, source }
        };
        let buffered = writer.into_inner().map_err(|source| SinkError::Parquet {
            path: self.path.clone(),
            source,
        })?;
        let file = buffered.into_inner().map_err(|e| SinkError::Io {
            path: self.tmp.clone(),
            source: e.into_error(),
        })?;
        file.sync_all().map_err(io(&self.tmp))?;
        let bytes = file.metadata().map_err(io(&self.tmp))?.len();
        drop(file);
        fs::rename(&self.tmp, &self.path).map_err(io(&self.path))?;
        sync_dir(&self.path).map_err(io(&self.path))?;
        Ok(FileInfo {
            path: std::mem::take(&mut self.path),
            rows: self.rows,
            bytes,
        })
    }
}

impl Drop for Encoder {
    fn drop(&mut self) {
        // Unfinished (or failed while finishing): the temporary file goes. After a successful
        // rename it no longer exists and this does nothing.
        self.writer = None;
        let _ = fs::remove_file(&self.tmp);
    }
}

#[cfg(unix)]
fn sync_dir(path: &Path) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_path: &Path) -> std::io::Result<()> {
    Ok(())
}
