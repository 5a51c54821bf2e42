//! Cake XML responses to typed Arrow record batches, streaming.
//!
//! **Invariant: no network.** The input is bytes, pushed as they arrive ([`Decoder`]) or read
//! from any `BufRead` ([`decode_reader`]); the output is `RecordBatch`es with exactly the
//! report's catalog schema (`Report::arrow_schema`).
//!
//! The decoder reads both wire forms of a response: the HTTP GET document (whatever its root
//! is called) and the SOAP 1.1 / 1.2 envelope of the same content, matching elements by local
//! name. It never builds a DOM and never holds the whole body: only the unparsed tail of the
//! input and the batch being filled. See `docs/decoder.md` for how it works.
//!
//! ```
//! use std::io::{BufReader, Write};
//!
//! use arrow_array::{Int32Array, RecordBatch};
//! use cake_arrow::{decode_reader, Decoder, DecoderOptions};
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let report = cake_catalog::find("account-status")?;
//! // A saved response (`GET /api/1/get.asmx/AccountStatuses`), as Cake sends it.
//! let body = br#"<account_statuses_response xmlns="http://cakemarketing.com/api/1/">
//!   <success>true</success><row_count>2</row_count>
//!   <account_statuses>
//!     <account_status><account_status_id>1</account_status_id><account_status_name>Active</account_status_name></account_status>
//!     <account_status><account_status_id>2</account_status_id><account_status_name>Inactive</account_status_name></account_status>
//!   </account_statuses>
//! </account_statuses_response>"#;
//!
//! // Pushed in chunks as they arrive: only the unparsed tail is buffered.
//! let mut decoder = Decoder::new(report, DecoderOptions::default());
//! for chunk in body.chunks(7) {
//!     decoder.push(chunk)?;
//! }
//! let summary = decoder.finish()?;
//! assert_eq!(summary.rows, 2);
//! assert_eq!(summary.envelope.row_count, Some(2));
//! let batch = decoder.pop_batch().ok_or("two rows make a batch")?;
//! assert_eq!(batch.schema(), cake_arrow::schema(report)); // exactly the catalog's schema
//! let ids = batch
//!     .column_by_name("account_status_id")
//!     .and_then(|c| c.as_any().downcast_ref::<Int32Array>())
//!     .ok_or("account_status_id is an int32 column")?;
//! assert_eq!(ids.values(), &[1, 2]);
//!
//! // A gzip'd saved response (`pull --keep-raw` keeps zstd, read the same way through a zstd
//! // decoder; `cake_pipeline::open_saved` tells them apart): the decoder takes bytes, so
//! // unzip on the way in (here with `flate2`) and read it with `decode_reader`.
//! let mut gzip = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
//! gzip.write_all(body)?;
//! let saved: Vec<u8> = gzip.finish()?;
//! let unzipped = BufReader::new(flate2::read::GzDecoder::new(saved.as_slice()));
//! let mut batches: Vec<RecordBatch> = Vec::new();
//! let summary = decode_reader(report, DecoderOptions::default(), unzipped, |batch| {
//!     batches.push(batch);
//!     Ok::<_, Box<dyn std::error::Error>>(())
//! })?;
//! assert_eq!(summary.rows, 2);
//! assert_eq!(batches.iter().map(RecordBatch::num_rows).sum::<usize>(), 2);
//! # Ok(())
//! # }
//! ```

mod batch;
mod decoder;
mod error;
mod parse;
mod paths;
mod unknown;

use std::collections::BTreeMap;
use std::io::BufRead;

use arrow_array::RecordBatch;
use cake_catalog::Report;

pub use decoder::Decoder;
pub use error::{CakeRefusal, DecodeError, CAKE_MESSAGES};
pub use unknown::{UnknownElements, MAX_UNKNOWN_PATHS};

/// How a [`Decoder`] reads a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecoderOptions {
    /// Rows per record batch (default 2048). A batch also ends early when its text passes
    /// 64 MiB. Batches of 512 to 8192 rows decode at the same speed; smaller ones hold less
    /// memory and reach the next stage (a Parquet encoder on another thread) sooner, so that
    /// less work is left for it after the last one.
    pub batch_size: usize,
    /// The Cake instance's time zone: Cake's datetimes are wall-clock times in it.
    pub timezone: chrono_tz::Tz,
    /// Fail on elements the catalog does not know instead of counting them.
    pub strict: bool,
    /// Deepest element nesting accepted (default 128).
    pub max_depth: usize,
    /// Largest text node (or tag) accepted, in bytes (default 16 MiB).
    pub max_text_bytes: usize,
    /// Most bytes one row may hold, its values, `_extra` and `_rejected` together (default
    /// 16 MiB): a larger row fails the response, so that memory stays bounded whatever a row
    /// holds.
    pub max_row_bytes: usize,
    /// Most bytes of one row's `_extra` and of the values it keeps aside (default 1 MiB).
    pub max_extra_bytes: usize,
    /// A row whose `_extra` passes `max_extra_bytes` keeps what fits, with a truncation marker
    /// and its size in `_rejected`, instead of failing the response.
    pub truncate_extra: bool,
    /// Read contact persons' details (the catalog's personal columns). Without it they are
    /// null, and counted in [`DecodeSummary::withheld`].
    pub personal_data: bool,
    /// Read a document of another API version of the same method (an archived response): what
    /// its elements match lands in the typed columns, the rest in `_extra`, and the summary
    /// names the version found. Without it such a document is refused as another answer.
    pub other_versions: bool,
    /// Threads that decode one response (0, the default: the machine's available cores). With
    /// more than one, the rows are cut into blocks of about `block_bytes` at a row's end tag
    /// and decoded side by side, at most twice this many blocks at a time, on one pool of
    /// threads (one per core) shared by every decoder of the process; the batches come out in
    /// the document's order, with the same rows, values, summary and errors as on one thread.
    /// One thread decodes as the data arrives; more hold up to a block before decoding it.
    pub threads: usize,
    /// Bytes of rows one thread decodes at a time when `threads` is not 1 (default 1 MiB).
    /// Responses smaller than this are decoded on one thread.
    pub block_bytes: usize,
}

impl Default for DecoderOptions {
    fn default() -> Self {
        DecoderOptions {
            batch_size: 2048,
            timezone: chrono_tz::Tz::UTC,
            strict: false,
            max_depth: 128,
            max_text_bytes: 16 << 20,
            max_row_bytes: 16 << 20,
            max_extra_bytes: 1 << 20,
            truncate_extra: false,
            personal_data: false,
            other_versions: false,
            threads: 0,
            block_bytes: 1 << 20,
        }
    }
}

impl DecoderOptions {
    /// The threads a decoder with these options uses: `threads`, or the available cores when
    /// it is 0.
    pub fn decode_threads(&self) -> usize {
        match self.threads {
            0 => cores(),
            n => n,
        }
    }
}

/// The machine's available cores, asked once per process.
pub(crate) fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES.get_or_init(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// The response envelope: what Cake says about the request, apart from the rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Envelope {
    /// `success`; `None` for documents without an envelope (`ArrayOf...`).
    pub success: Option<bool>,
    /// `message`, present on failures.
    pub message: Option<String>,
    /// `row_count`: the total number of rows matching the request (not the page size).
    pub row_count: Option<u64>,
}

/// What a completed decode saw.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeSummary {
    /// Rows decoded.
    pub rows: u64,
    pub envelope: Envelope,
    /// Character references to control characters XML 1.0 forbids (`&#x16;`), dropped.
    pub stripped_control_chars: u64,
    /// Elements the catalog does not know, by path, bounded. Those inside a row are kept in
    /// its `_extra`.
    pub unknown: UnknownElements,
    /// Elements withheld by path (`api_key`, `contacts/contact_info/first_name`): secrets,
    /// and personal data when the run did not opt in to it.
    pub withheld: BTreeMap<String, u64>,
    /// Where the rows were found when that is not where the catalog puts them (a bare list, a
    /// wrapper of another name, a row element in another case).
    pub layout: Option<String>,
    /// The API version the document declares, when it differs from the report's (read with
    /// [`DecoderOptions::other_versions`]).
    pub version: Option<u16>,
    /// Values that did not fit their column, by column: kept in the row's `_rejected`, the
    /// cell null.
    pub rejected: BTreeMap<String, Rejected>,
}

/// The values of one column that did not fit it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    pub count: u64,
    /// The first one, as sent (cut to about 200 characters).
    pub example: String,
    /// Why it did not fit.
    pub reason: String,
}

/// Blocks of rows a [`Decoder`] gave to other threads (with [`DecoderOptions::threads`] other
/// than 1): `merged` as they were, `redone` on the decoder's own thread because the copy that
/// decoded the block failed or did not end between two rows (an end tag in a comment, say).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BlockCounts {
    pub merged: u64,
    pub redone: u64,
}

/// The schema of every batch decoded for `report`: exactly `report.arrow_schema()`.
pub fn schema(report: &Report) -> arrow_schema::SchemaRef {
    std::sync::Arc::new(report.arrow_schema())
}

/// Decodes a whole response from `reader`, handing each batch to `on_batch` as soon as it is
/// complete. This is the push [`Decoder`] driven by `BufRead::fill_buf`.
pub fn decode_reader<R, E>(
    report: &'static Report,
    options: DecoderOptions,
    mut reader: R,
    mut on_batch: impl FnMut(RecordBatch) -> Result<(), E>,
) -> Result<DecodeSummary, E>
where
    R: BufRead,
    E: From<DecodeError>,
{
    let mut decoder = Decoder::new(report, options);
    loop {
        let chunk = match reader.fill_buf() {
            Ok(chunk) => chunk,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                return Err(DecodeError::Io {
                    report: report.id,
                    message: e.to_string(),
                }
                .into())
            }
        };
        if chunk.is_empty() {
            break;
        }
        let n = chunk.len();
        decoder.push(chunk)?;
        reader.consume(n);
        while let Some(batch) = decoder.pop_batch() {
            on_batch(batch)?;
        }
    }
    let summary = decoder.finish()?;
    while let Some(batch) = decoder.pop_batch() {
        on_batch(batch)?;
    }
    Ok(summary)
}

/// The README's example, run as a doctest so that it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_decoder_is_send() {
        fn send<T: Send>() {}
        send::<Decoder>();
        send::<DecodeError>();
    }
}
