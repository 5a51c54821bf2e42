//! The transport's page handler that decodes bodies into Arrow as they arrive.
//!
//! One [`DecodeHandler`] reads one attempt at one page. Its batches stay in memory up to a
//! bound and are spilled to a temporary Arrow IPC file beyond it, so a page of any size is held
//! in bounded memory until the transport accepts it; a failed attempt's handler is dropped with
//! its batches and its spill file. With `keep_raw`, the body is also written gzip'd to a
//! temporary file, with the API key scrubbed, for `convert` to replay later.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use arrow_array::RecordBatch;
use arrow_ipc::reader::StreamReader;
use arrow_ipc::writer::StreamWriter;
use cake_arrow::{DecodeError, DecodeSummary, Decoder, DecoderOptions, ErrorKind};
use cake_catalog::Report;
use cake_transport::{
    BodyError, HandlerFactory, PageHandler, PageOutcome, PageRequest, RowDates, RowKey, Scrubber,
    StreamScrubber,
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
    /// Keep each body, gzip'd, with the secrets of this scrubber (the API key) removed.
    pub keep_raw: Option<Scrubber>,
    /// Remove these secrets (the API key) from text values before they are kept.
    pub redact: Option<Scrubber>,
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
            keys: KeyColumns::new(report),
        }
    }
}

impl HandlerFactory for DecodeFactory {
    type Handler = DecodeHandler;

    fn handler(&self, request: &PageRequest) -> DecodeHandler {
        DecodeHandler {
            decoder: Decoder::new(self.report, self.options),
            report: self.report,
            page: *request,
            keys: self.keys.clone(),
            row_keys: Vec::new(),
            bounds: DateBounds::new(self.report, request, self.options.timezone),
            dates: RowDates::default(),
            strict: self.options.strict,
            redact: self.redact.clone(),
            redacted: 0,
            memory: Vec::new(),
            memory_bytes: 0,
            spill_threshold: self.spill_threshold,
            spill: None,
            temp_dir: self.temp_dir.clone(),
            raw: self.keep_raw.as_ref().map(|secrets| RawWriter {
                scrubber: StreamScrubber::new(secrets.clone(), b"[redacted]"),
                state: None,
            }),
        }
    }
}

/// Reads one body.
pub struct DecodeHandler {
    decoder: Decoder,
    report: &'static Report,
    page: PageRequest,
    keys: KeyColumns,
    row_keys: Vec<RowKey>,
    bounds: Option<DateBounds>,
    dates: RowDates,
    strict: bool,
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
    /// The raw body, gzip'd, when raw responses are kept.
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
    "cannot {action} the decoded rows in {dir}: {message}; check free space and permissions there"
)]
pub struct SpillError {
    pub action: &'static str,
    pub dir: String,
    pub message: String,
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
                let err = |message: String| SpillError {
                    action: "read back",
                    dir: file.path().display().to_string(),
                    message,
                };
                let reader = StreamReader::try_new(
                    BufReader::new(file.reopen().map_err(|e| err(e.to_string()))?),
                    None,
                )
                .map_err(|e| err(e.to_string()))?;
                for batch in reader {
                    f(batch.map_err(|e| err(e.to_string()))?)?;
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
                let (dates, outside) = bounds.check(&batch);
                self.dates.add(dates);
                if let (true, Some(row)) = (self.strict, outside) {
                    return Err(BodyError::Invalid(format!(
                        "{}: row {} is dated outside the window {} asked for ({} in the instance's time zone), and strict mode refuses rows outside their window",
                        self.report.id,
                        first_row + row + 1,
                        self.page.window.map(|w| w.to_string()).unwrap_or_default(),
                        self.report.date_field.unwrap_or_default(),
                    )));
                }
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

fn spill_failure(dir: &std::path::Path, e: impl std::fmt::Display) -> BodyError {
    BodyError::Local(
        SpillError {
            action: "spill",
            dir: dir.display().to_string(),
            message: e.to_string(),
        }
        .to_string(),
    )
}

/// How a decoding failure steers the transport.
pub fn body_error(e: DecodeError) -> BodyError {
    let text = e.to_string();
    match e.kind() {
        ErrorKind::Throttled => BodyError::Throttled(text),
        ErrorKind::Transient => BodyError::Transient(text),
        ErrorKind::Unclassified => BodyError::Unrecognised(text),
        ErrorKind::Authentication => BodyError::Authentication(text),
        ErrorKind::Request => BodyError::Rejected(text),
        ErrorKind::WrongAnswer => BodyError::WrongAnswer(text),
        ErrorKind::Value | ErrorKind::Drift => BodyError::OffCatalog(text),
        ErrorKind::Malformed if e.is_truncated() => BodyError::Incomplete(text),
        _ => BodyError::Invalid(text),
    }
}

impl PageHandler for DecodeHandler {
    type Output = DecodedPage;

    fn feed(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        if let Some(raw) = &mut self.raw {
            raw.write(chunk, &self.temp_dir)?;
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
            Some(raw) => Some(raw.finish(&self.temp_dir)?),
            None => None,
        };
        Ok(PageOutcome {
            rows: summary.rows,
            row_count: summary.envelope.row_count,
            keys: std::mem::take(&mut self.row_keys),
            dates: self.dates,
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

/// The raw body, gzip'd, with secrets scrubbed in every encoding. A secret split across two
/// chunks is still found: the scrubber holds back what may be the start of one.
struct RawWriter {
    scrubber: StreamScrubber,
    state: Option<(NamedTempFile, flate2::write::GzEncoder<BufWriter<File>>)>,
}

impl RawWriter {
    fn encoder(
        &mut self,
        dir: &std::path::Path,
    ) -> Result<&mut flate2::write::GzEncoder<BufWriter<File>>, BodyError> {
        if self.state.is_none() {
            let file = tempfile::Builder::new()
                .prefix(".cake-raw-")
                .tempfile_in(dir)
                .map_err(|e| spill_failure(dir, e))?;
            let out = file.reopen().map_err(|e| spill_failure(dir, e))?;
            let gz =
                flate2::write::GzEncoder::new(BufWriter::new(out), flate2::Compression::fast());
            self.state = Some((file, gz));
        }
        match &mut self.state {
            Some((_, gz)) => Ok(gz),
            None => Err(spill_failure(dir, "no raw file")),
        }
    }

    fn write(&mut self, chunk: &[u8], dir: &std::path::Path) -> Result<(), BodyError> {
        let ready = self.scrubber.push(chunk);
        self.encoder(dir)?
            .write_all(&ready)
            .map_err(|e| spill_failure(dir, e))
    }

    fn finish(mut self, dir: &std::path::Path) -> Result<NamedTempFile, BodyError> {
        self.encoder(dir)?;
        let (file, mut gz) = self
            .state
            .take()
            .ok_or_else(|| spill_failure(dir, "no raw file"))?;
        let tail = self.scrubber.finish();
        gz.write_all(&tail).map_err(|e| spill_failure(dir, e))?;
        let mut out = gz.finish().map_err(|e| spill_failure(dir, e))?;
        out.flush().map_err(|e| spill_failure(dir, e))?;
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_scrubbed_across_chunk_boundaries() {
        let dir = tempfile::tempdir().unwrap();
        let mut raw = RawWriter {
            scrubber: StreamScrubber::new(
                cake_transport::ApiKey::new("SE+RET").unwrap().scrubber(),
                b"[redacted]",
            ),
            state: None,
        };
        for chunk in [&b"<a>SE"[..], b"%2bRET</a><b>SE&amp;#43;RET", b"</b>"] {
            raw.write(chunk, dir.path()).unwrap();
        }
        let file = raw.finish(dir.path()).unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(
            &mut flate2::read::GzDecoder::new(File::open(file.path()).unwrap()),
            &mut text,
        )
        .unwrap();
        assert_eq!(text, "<a>[redacted]</a><b>[redacted]</b>");
    }
}
