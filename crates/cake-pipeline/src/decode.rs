//! The transport's page handler that decodes bodies into Arrow as they arrive.
//!
//! One [`DecodeHandler`] reads one attempt at one page. Its batches stay in memory up to a
//! bound and are spilled to a temporary Arrow IPC file beyond it, so a page of any size is held
//! in bounded memory until the transport accepts it; a failed attempt's handler is dropped with
//! its batches and its spill file. With `keep_raw`, the body is also written, with the API key
//! scrubbed and compressed with zstd, to a temporary file for `convert` to replay later: on a
//! thread of its own, so the decoding thread only copies the bytes.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use cake_arrow::{DecodeError, DecodeSummary, Decoder, DecoderOptions};
use cake_catalog::Report;
use cake_core::failure::{Class, Classify};
use cake_transport::{
    BodyError, HandlerFactory, LocalCause, PageHandler, PageOutcome, PageRequest, RowDates, RowKey,
    Scrubber, StreamScrubber,
};
use tempfile::NamedTempFile;

use crate::rows::{DateBounds, KeyColumns};

/// Makes a [`DecodeHandler`] for every attempt at every page of one report.
#[derive(Debug, Clone)]
pub struct DecodeFactory {
    pub report: &'static Report,
    pub options: DecoderOptions,
    /// Bytes of batches kept in memory per page before spilling to disk.
    pub spill_threshold: usize,
    /// Directory of spill and raw files.
    pub temp_dir: PathBuf,
    /// Keep each body, zstd-compressed, with the secrets of this scrubber (the API key)
    /// removed.
    pub keep_raw: Option<Scrubber>,
    /// Remove these secrets (the API key) from text values before they are kept.
    pub redact: Option<Scrubber>,
    /// Where the window's rows must be dated ([`DateBounds::for_request`]); without it, row
    /// dates are not checked.
    pub bounds: Option<DateBounds>,
    keys: KeyColumns,
}

impl DecodeFactory {
    pub fn new(report: &'static Report, options: DecoderOptions, temp_dir: PathBuf) -> Self {
        DecodeFactory {
            report,
            options,
            spill_threshold: 64 << 20,
            temp_dir,
            keep_raw: None,
            redact: None,
            bounds: None,
            keys: KeyColumns::new(report),
        }
    }
}

impl HandlerFactory for DecodeFactory {
    type Handler = DecodeHandler;

    fn handler(&self, request: &PageRequest) -> DecodeHandler {
        let decoder = Decoder::new(self.report, self.options);
        // Excerpts of the body in errors and summaries are scrubbed before they are cut.
        let decoder = match &self.redact {
            Some(scrubber) => decoder.with_scrubber(scrubber.clone()),
            None => decoder,
        };
        DecodeHandler {
            decoder,
            report: self.report,
            page: *request,
            keys: self.keys.clone(),
            decoder_timezone: self.options.timezone,
            row_keys: Vec::new(),
            bounds: self.bounds,
            dates: RowDates::default(),
            redact: self.redact.clone(),
            redacted: 0,
            memory: Vec::new(),
            memory_bytes: 0,
            spill_threshold: self.spill_threshold,
            spill: None,
            temp_dir: self.temp_dir.clone(),
            raw: self
                .keep_raw
                .as_ref()
                .map(|secrets| RawWriter::new(secrets.clone(), &self.temp_dir)),
        }
    }
}

/// Reads one body.
pub struct DecodeHandler {
    decoder: Decoder,
    report: &'static Report,
    page: PageRequest,
    keys: KeyColumns,
    decoder_timezone: chrono_tz::Tz,
    row_keys: Vec<RowKey>,
    bounds: Option<DateBounds>,
    dates: RowDates,
    redact: Option<Scrubber>,
    redacted: u64,
    memory: Vec<RecordBatch>,
    memory_bytes: usize,
    spill_threshold: usize,
    spill: Option<Spill>,
    temp_dir: PathBuf,
    raw: Option<RawWriter>,
}

struct Spill {
    file: NamedTempFile,
    writer: StreamWriter<BufWriter<File>>,
}

/// A decoded page, accepted by the transport.
#[derive(Debug)]
pub struct DecodedPage {
    pub page: PageRequest,
    pub summary: DecodeSummary,
    /// Text values that held the API key, which was removed from them.
    pub redacted_values: u64,
    batches: Batches,
    /// The raw body, zstd-compressed and scrubbed of the API key, when raw responses are kept.
    pub raw: Option<NamedTempFile>,
}

#[derive(Debug)]
enum Batches {
    Memory(Vec<RecordBatch>),
    Spilled(NamedTempFile),
}

/// Reading a page back, or spilling it, failed.
#[derive(Debug, thiserror::Error)]
#[error(
    "cannot {action} the decoded rows in {dir}: {source}; check free space and permissions there"
)]
pub struct SpillError {
    pub action: &'static str,
    pub dir: String,
    /// The file system's, Arrow's or the thread's error.
    #[source]
    pub source: Box<dyn std::error::Error + Send + Sync + 'static>,
}

impl DecodedPage {
    /// Hands every batch, in order, to `f`.
    pub fn for_each_batch<E>(self, mut f: impl FnMut(RecordBatch) -> Result<(), E>) -> Result<(), E>
    where
        E: From<SpillError>,
    {
        match self.batches {
            Batches::Memory(batches) => batches.into_iter().try_for_each(f),
            Batches::Spilled(file) => {
                let err = |source: Box<dyn std::error::Error + Send + Sync>| SpillError {
                    action: "read back",
                    dir: file.path().display().to_string(),
                    source,
                };
                let reader = StreamReader::try_new(
                    BufReader::new(file.reopen().map_err(|e| err(e.into()))?),
                    None,
                )
                .map_err(|e| err(e.into()))?;
                for batch in reader {
                    f(batch.map_err(|e| err(e.into()))?)?;
                }
                Ok(())
            }
        }
    }
}

impl DecodeHandler {
    fn drain(&mut self) -> Result<(), BodyError> {
        while let Some(batch) = self.decoder.pop_batch() {
            let batch = match &self.redact {
                Some(scrubber) => {
                    let (batch, n) = crate::rows::redact_values(batch, scrubber);
                    self.redacted += n;
                    batch
                }
                None => batch,
            };
            let first_row = self.row_keys.len();
            self.row_keys.extend(self.keys.keys(&batch));
            if let Some(bounds) = &self.bounds {
                let (mut dates, outside) = bounds.check(&batch);
                if let Some((row, micros)) = outside {
                    let key = self
                        .row_keys
                        .get(first_row + row)
                        .map(|k| k.to_string())
                        .unwrap_or_default();
                    let at = chrono::DateTime::from_timestamp_micros(micros)
                        .map(|t| {
                            t.with_timezone(&self.decoder_timezone)
                                .format("%Y-%m-%d %H:%M:%S")
                                .to_string()
                        })
                        .unwrap_or_default();
                    dates.first_outside = Some(format!(
                        "row {} of page {}, {} {key}, dated {at} (instance time)",
                        first_row + row + 1,
                        self.page.page.map_or(1, |p| p.index + 1),
                        self.report.primary_key.join(", "),
                    ));
                }
                self.dates.add(dates);
            }
            if let Some(spill) = &mut self.spill {
                spill
                    .writer
                    .write(&batch)
                    .map_err(|e| spill_failure(&self.temp_dir, e))?;
                continue;
            }
            self.memory_bytes += batch.get_array_memory_size();
            self.memory.push(batch);
            if self.memory_bytes > self.spill_threshold {
                self.start_spill()?;
            }
        }
        Ok(())
    }

    fn start_spill(&mut self) -> Result<(), BodyError> {
        let file = tempfile::Builder::new()
            .prefix(".cake-spill-")
            .tempfile_in(&self.temp_dir)
            .map_err(|e| spill_failure(&self.temp_dir, e))?;
        let out = file
            .reopen()
            .map_err(|e| spill_failure(&self.temp_dir, e))?;
        let schema = std::sync::Arc::new(self.report.arrow_schema());
        let mut writer = StreamWriter::try_new(BufWriter::new(out), &schema)
            .map_err(|e| spill_failure(&self.temp_dir, e))?;
        for batch in self.memory.drain(..) {
            writer
                .write(&batch)
                .map_err(|e| spill_failure(&self.temp_dir, e))?;
        }
        self.memory_bytes = 0;
        self.spill = Some(Spill { file, writer });
        Ok(())
    }
}

fn spill_failure(
    dir: &std::path::Path,
    e: impl Into<Box<dyn std::error::Error + Send + Sync>>,
) -> BodyError {
    BodyError::Local(LocalCause::new(SpillError {
        action: "spill",
        dir: dir.display().to_string(),
        source: e.into(),
    }))
}

/// How a decoding failure steers the transport: by its class, except that a body cut short
/// is a passing failure of the network (tried again), not a document that is not Cake's.
pub fn body_error(e: DecodeError) -> BodyError {
    let class = if e.is_truncated() {
        Class::Unavailable
    } else {
        e.class()
    };
    BodyError::refused(class, e.to_string())
}

impl PageHandler for DecodeHandler {
    type Output = DecodedPage;

    fn feed(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        if let Some(raw) = &mut self.raw {
            raw.write(chunk)?;
        }
        self.decoder.push(chunk).map_err(body_error)?;
        self.drain()
    }

    fn finish(mut self) -> Result<PageOutcome<DecodedPage>, BodyError> {
        let summary = self.decoder.finish().map_err(body_error)?;
        self.drain()?;
        let batches = match self.spill.take() {
            None => Batches::Memory(std::mem::take(&mut self.memory)),
            Some(mut spill) => {
                spill
                    .writer
                    .finish()
                    .map_err(|e| spill_failure(&self.temp_dir, e))?;
                Batches::Spilled(spill.file)
            }
        };
        let raw = match self.raw.take() {
            Some(raw) => Some(raw.finish()?),
            None => None,
        };
        Ok(PageOutcome {
            rows: summary.rows,
            row_count: summary.envelope.row_count,
            keys: std::mem::take(&mut self.row_keys),
            dates: std::mem::take(&mut self.dates),
            output: DecodedPage {
                page: self.page,
                summary,
                redacted_values: self.redacted,
                batches,
                raw,
            },
        })
    }
}

/// zstd level of raw responses: level 1 compresses Cake's XML about as well as gzip's default
/// level, several times faster than gzip's fastest.
pub const RAW_ZSTD_LEVEL: i32 = 1;

/// Bytes of the body gathered before they are handed to the raw writer's thread.
const RAW_BLOCK: usize = 256 << 10;

/// Blocks waiting for the raw writer's thread: the memory of a page's raw copy is bounded by
/// this many blocks, plus the one being gathered.
const RAW_QUEUE: usize = 4;

/// The raw body, scrubbed of secrets in every encoding and compressed with zstd into a
/// temporary file, on a thread of its own: the handler only gathers the body's bytes into
/// blocks and hands them over. A secret split across two chunks or blocks is still found: the
/// scrubber holds back what may be the start of one. Dropped unfinished (a failed attempt),
/// the thread stops and the temporary file is removed before the drop returns.
struct RawWriter {
    secrets: Scrubber,
    dir: PathBuf,
    block: Vec<u8>,
    /// Started with the first block.
    thread: Option<RawThread>,
}

struct RawThread {
    queue: SyncSender<RawJob>,
    worker: JoinHandle<Option<std::io::Result<NamedTempFile>>>,
    /// Set when the page is abandoned: the blocks still queued are skipped.
    abandoned: Arc<AtomicBool>,
}

enum RawJob {
    Block(Vec<u8>),
    /// The end of the body: complete the file.
    Finish,
}

impl RawWriter {
    fn new(secrets: Scrubber, dir: &Path) -> RawWriter {
        RawWriter {
            secrets,
            dir: dir.to_path_buf(),
            block: Vec::new(),
            thread: None,
        }
    }

    fn write(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        self.block.extend_from_slice(chunk);
        if self.block.len() >= RAW_BLOCK {
            self.hand_over()?;
        }
        Ok(())
    }

    fn hand_over(&mut self) -> Result<(), BodyError> {
        let block = std::mem::replace(&mut self.block, Vec::with_capacity(RAW_BLOCK));
        let sent = self.thread()?.queue.send(RawJob::Block(block)).is_ok();
        if sent {
            Ok(())
        } else {
            // The thread failed and dropped its end of the queue: its error.
            Err(self
                .stop(false)
                .unwrap_or_else(|| spill_failure(&self.dir, "the raw response's writer stopped")))
        }
    }

    fn thread(&mut self) -> Result<&RawThread, BodyError> {
        if self.thread.is_none() {
            let (queue, jobs) = std::sync::mpsc::sync_channel(RAW_QUEUE);
            let (secrets, dir) = (self.secrets.clone(), self.dir.clone());
            let abandoned = Arc::new(AtomicBool::new(false));
            let skip = abandoned.clone();
            let worker = std::thread::Builder::new()
                .name("cake-raw".into())
                .spawn(move || write_raw(secrets, &dir, jobs, &skip))
                .map_err(|e| spill_failure(&self.dir, e))?;
            self.thread = Some(RawThread {
                queue,
                worker,
                abandoned,
            });
        }
        self.thread
            .as_ref()
            .ok_or_else(|| spill_failure(&self.dir, "no raw writer"))
    }

    /// Ends the thread (`abandon`: skipping the blocks still queued) and waits for it: its
    /// error, if it failed.
    fn stop(&mut self, abandon: bool) -> Option<BodyError> {
        let RawThread {
            queue,
            worker,
            abandoned,
        } = self.thread.take()?;
        abandoned.store(abandon, Ordering::Release);
        drop(queue);
        match worker.join() {
            Ok(Some(Err(e))) => Some(spill_failure(&self.dir, e)),
            Ok(_) => None,
            Err(_) => Some(spill_failure(
                &self.dir,
                "the raw response's writer panicked",
            )),
        }
    }

    fn finish(mut self) -> Result<NamedTempFile, BodyError> {
        if !self.block.is_empty() {
            self.hand_over()?;
        }
        let RawThread { queue, worker, .. } = match self.thread.take() {
            Some(thread) => thread,
            // An empty body: still a file (an empty zstd frame).
            None => {
                self.thread()?;
                self.thread
                    .take()
                    .ok_or_else(|| spill_failure(&self.dir, "no raw writer"))?
            }
        };
        let _ = queue.send(RawJob::Finish);
        drop(queue);
        match worker.join() {
            Ok(Some(Ok(file))) => Ok(file),
            Ok(Some(Err(e))) => Err(spill_failure(&self.dir, e)),
            Ok(None) => Err(spill_failure(
                &self.dir,
                "the raw response's writer stopped",
            )),
            Err(_) => Err(spill_failure(
                &self.dir,
                "the raw response's writer panicked",
            )),
        }
    }
}

impl Drop for RawWriter {
    fn drop(&mut self) {
        // Unfinished (a failed attempt): the thread skips the queued blocks, sees its queue
        // close and drops the temporary file, before this returns.
        let _ = self.stop(true);
    }
}

/// The raw writer's thread: scrubs and compresses blocks until the end of the body (then
/// returns the file) or until the handler goes away (then drops the file, which removes it).
fn write_raw(
    secrets: Scrubber,
    dir: &Path,
    jobs: Receiver<RawJob>,
    abandoned: &AtomicBool,
) -> Option<std::io::Result<NamedTempFile>> {
    let mut scrubber = StreamScrubber::new(secrets, b"[redacted]");
    let opened = tempfile::Builder::new()
        .prefix(".cake-raw-")
        .tempfile_in(dir)
        .and_then(|file| {
            let out = BufWriter::new(file.reopen()?);
            let mut zstd = zstd::stream::write::Encoder::new(out, RAW_ZSTD_LEVEL)?;
            zstd.include_checksum(true)?;
            Ok((file, zstd))
        });
    let (file, mut zstd) = match opened {
        Ok(opened) => opened,
        Err(e) => return Some(Err(e)),
    };
    while let Ok(job) = jobs.recv() {
        if abandoned.load(Ordering::Acquire) {
            return None;
        }
        match job {
            RawJob::Block(block) => {
                if let Err(e) = zstd.write_all(&scrubber.push(&block)) {
                    return Some(Err(e));
                }
            }
            RawJob::Finish => {
                let tail = scrubber.finish();
                let done = zstd
                    .write_all(&tail)
                    .and_then(|()| zstd.finish())
                    .and_then(|mut out| out.flush());
                return Some(done.map(|()| file));
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unzstd(file: &NamedTempFile) -> Vec<u8> {
        let bytes = std::fs::read(file.path()).unwrap();
        assert!(bytes.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]), "a zstd frame");
        zstd::stream::decode_all(bytes.as_slice()).unwrap()
    }

    fn scrubber(key: &str) -> Scrubber {
        cake_transport::ApiKey::new(key).unwrap().scrubber()
    }

    #[test]
    fn secrets_are_scrubbed_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = RawWriter::new(scrubber("SE+RET"), dir.path());
        for chunk in [&b"<a>SE"[..], b"%2bRET</a><b>SE&amp;#43;RET", b"</b>"] {
            raw.write(chunk).unwrap();
        }
        let file = raw.finish().unwrap();
        assert_eq!(unzstd(&file), b"<a>[redacted]</a><b>[redacted]</b>");
    }

    /// A body of several blocks with the key in several encodings, one of them across each
    /// boundary between the blocks handed to the thread, fed in chunks of several sizes: the
    /// file decompresses to exactly the scrubbed body.
    #[test]
    fn a_kept_body_is_the_scrubbed_body() {
        let key = "k3y-RAW-test";
        let forms = [
            "k3y-RAW-test",
            "k3y%2DRAW%2Dtest",
            "K3Y-raw-TEST",
            "k3y&#45;RAW-test",
        ];
        for chunk in [1000, 4093, 65536, RAW_BLOCK + 1] {
            // A block is handed over once it holds RAW_BLOCK bytes or more: after this many.
            let block = RAW_BLOCK.div_ceil(chunk) * chunk;
            let mut body = Vec::new();
            let mut n = 0;
            while body.len() < 3 * block + 1000 {
                let row = format!("<row n=\"{n}\">{}</row>\r\n", forms[n % 4]);
                let next = (body.len() / block + 1) * block;
                let start = row.find('>').unwrap_or(0) + 1;
                if body.len() + row.len() > next && body.len() + start + 5 <= next {
                    // A row that would cross the boundary: its key does.
                    body.resize(next - start - 5, b' ');
                }
                body.extend_from_slice(row.as_bytes());
                n += 1;
            }
            let expected = scrubber(key).scrub_bytes(&body, b"[redacted]");
            assert!(!String::from_utf8_lossy(&expected)
                .to_lowercase()
                .contains("k3y"));
            let dir = tempfile::tempdir().unwrap();
            let mut raw = RawWriter::new(scrubber(key), dir.path());
            for part in body.chunks(chunk) {
                raw.write(part).unwrap();
            }
            let file = raw.finish().unwrap();
            assert!(unzstd(&file) == expected, "chunks of {chunk}");
        }
    }

    #[test]
    fn an_empty_body_is_an_empty_file_and_an_abandoned_one_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let file = RawWriter::new(scrubber("key"), dir.path())
            .finish()
            .unwrap();
        assert_eq!(unzstd(&file), b"");
        drop(file);
        let mut raw = RawWriter::new(scrubber("key"), dir.path());
        raw.write(&vec![b'a'; 3 * RAW_BLOCK]).unwrap();
        drop(raw);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    /// A failure of the raw writer's thread (its directory is gone) comes back as a local
    /// failure of the page, from the next block handed over or from the end of the body.
    #[test]
    fn a_failing_raw_writer_fails_the_page() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("gone");
        let mut raw = RawWriter::new(scrubber("key"), &dir);
        let mut result = Ok(());
        for _ in 0..RAW_QUEUE + 2 {
            result = raw.write(&vec![b'a'; RAW_BLOCK]);
            if result.is_err() {
                break;
            }
        }
        let e = match result {
            Err(e) => e,
            Ok(()) => raw.finish().unwrap_err(),
        };
        assert!(
            matches!(&e, BodyError::Local(m) if m.to_string().contains("gone")
                && m.get().downcast_ref::<SpillError>().is_some()),
            "{e:?}"
        );
    }
}
