//! The push decoder: stage 1 (quick-xml events into the records of each level) and the
//! buffering that lets it take the input in chunks of any size.
//!
//! [`Decoder`] and its public methods live here; the work is split by concern:
//! - `input`: chunks in (transcoded when the document declares another encoding), windows out
//!   to quick-xml, parser errors placed;
//! - `sniff`: XML, HTML or neither, decided from the first bytes;
//! - `machine`: the state machine from elements to records, values, rows and batches;
//! - `layout`: rows found where the catalog does not put them (a bare list, another wrapper,
//!   another case), and bodies whose rows were not found at all;
//! - `answer`: whether the document is the answer asked for (refusal, fault, other report or
//!   version);
//! - `extra`: elements of a row the catalog does not map, and JSON columns, kept as JSON with
//!   their structure;
//! - `parallel`: one response decoded on several threads, in blocks of rows cut at a row's
//!   end tag, with the sequential decoder's output and errors.

mod answer;
mod extra;
mod input;
mod layout;
mod machine;
mod parallel;
mod sniff;

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use cake_catalog::Report;
use cake_core::secret::Scrubber;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::batch::{Batch, Rejects, Span};
use crate::error::{CakeRefusal, DecodeError};
use crate::parse::ZoneCache;
use crate::paths::{same, LevelId, NodeId, NodeKind, PathMap, Slot, ROW};
use crate::{BlockCounts, DecodeSummary, DecoderOptions, Envelope, Rejected};

use answer::other_report;
use extra::Capture;
use input::{is_xml_space, Encoding};
use machine::{is_nil, local_name, push_text};
use sniff::{is_html_doctype, is_html_doctype_content};

/// Bytes of the body kept to describe a response that is not XML.
const HEAD: usize = 4096;
/// A batch is closed early when its text passes this size, whatever its row count.
const TEXT_FLUSH: usize = 16 << 20;
const BOM: &[u8] = b"\xEF\xBB\xBF";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Doc {
    /// Before the document element.
    Prolog,
    /// Inside the document element.
    Open,
    /// After the document element.
    Closed,
    /// The body is plain text.
    NotXml,
    /// The body is an HTML page.
    Html,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Success,
    Message,
    RowCount,
    FaultCode,
    FaultReason,
}

/// What an open element is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    SoapEnvelope,
    SoapBody {
        wrapper_seen: bool,
    },
    SoapWrapper {
        content_seen: bool,
    },
    Fault,
    FaultCode,
    FaultReason,
    Capture {
        field: Field,
        nil: bool,
    },
    /// The element holding `success`, `message`, `row_count` and the rows: the document
    /// element of a GET response, the `...Result` element of a SOAP one.
    Content,
    Collection,
    /// An element of the content that is neither the envelope nor the catalog's collection or
    /// row: a row under another name, or a wrapper of rows, which its first child tells.
    Probe {
        depth: u8,
        children: bool,
    },
    Row,
    Node(NodeId),
    Leaf {
        node: NodeId,
        start: u32,
        nil: bool,
    },
    /// An element inside a JSON capture: an element of a row the catalog does not map (kept
    /// in `_extra`), or of a JSON column.
    Subtree {
        nil: bool,
    },
    Skip,
}

/// A streaming decoder of one Cake response into record batches of the report's schema.
///
/// Feed it bytes with [`Decoder::push`] as they arrive, in chunks of any size; take completed
/// batches with [`Decoder::pop_batch`]; call [`Decoder::finish`] at the end of the input and
/// pop the last batch. It holds only the unparsed tail of the input and the batch being
/// filled. After an error every later call returns the same error.
pub struct Decoder {
    report: &'static Report,
    options: DecoderOptions,
    map: Arc<PathMap>,
    schema: SchemaRef,
    zone: ZoneCache,
    /// Secrets removed from every excerpt the decoder quotes, before it is shortened.
    scrubber: Option<Scrubber>,

    // Input.
    encoding: Encoding,
    pending: Vec<u8>,
    /// Offset in the body of `pending[0]`.
    consumed: u64,
    /// Size `pending` must reach before an event cut by the last window is parsed again.
    retry_len: usize,
    /// Offset of text found outside the document element.
    stray: Option<u64>,
    /// Bytes pushed so far.
    total: u64,
    /// The first bytes of the body, to describe a body that is not XML.
    head: Vec<u8>,
    /// The first significant byte has been seen.
    sniffed: bool,

    // Document state.
    doc: Doc,
    stack: Vec<Frame>,
    names: Vec<u8>,
    name_ends: Vec<usize>,
    hints: Vec<u32>,
    text_run: u64,
    text_run_start: u64,
    scratch: Vec<u8>,
    envelope: Envelope,
    /// Envelope fields read so far: each is read once.
    envelope_seen: [bool; 3],
    fault_code: Option<String>,
    fault_reason: Option<String>,
    /// The document declares another API version than the endpoint's: refused at the first
    /// row or at the end, unless it is Cake's refusal (whose namespace can differ).
    other_version: Option<String>,
    /// The API version the document declares, when another one is read on purpose.
    found_version: Option<u16>,
    in_row: bool,
    /// Depth of the stack at the row's element (its frame is `stack[row_depth - 1]`).
    row_depth: usize,
    /// Size of the batch's text when the row began, to bound what one row holds.
    row_text_start: usize,
    /// Per level: whether its list is there in the current record of the level above.
    present_now: Vec<bool>,
    /// Per level: its records when the current record of the level above began.
    start_count: Vec<u32>,
    /// The JSON capture open now (an unknown element of a row, or a JSON column's element).
    capture: Option<Capture>,
    /// The row's `_extra` entries so far: path and content.
    row_extra: Vec<(String, serde_json::Value)>,
    /// Bytes of the row's `_extra` and kept-aside values so far.
    extra_bytes: usize,
    /// The row's `_extra` passed its bound and was truncated (with `truncate_extra`).
    extra_truncated: bool,
    /// Elements of the content that may have held rows the catalog could not place: how many,
    /// and the first one's name.
    unplaced: u64,
    first_unplaced: Option<String>,
    /// The last element looked at outside the catalog's layout: its depth and name.
    probe_last: (usize, Vec<u8>),
    /// Some element outside the catalog's layout looked like a row: it repeated, or held an
    /// element of the catalog's row.
    probe_row_like: bool,

    // Output.
    batch: Batch,
    rows: u64,
    batch_first_row: u64,
    ready: VecDeque<RecordBatch>,
    stripped: u64,
    unknown: crate::UnknownElements,
    withheld: BTreeMap<String, u64>,
    layout: Option<String>,
    rejects: Rejects,
    rejected: BTreeMap<String, Rejected>,
    failed: Option<DecodeError>,
    finished: bool,

    /// The qualified name of the last row element closed, where a block of rows may be cut.
    row_name: Vec<u8>,
    /// The blocks decoded on other threads, when there are several.
    parallel: Option<Box<parallel::Parallel>>,
    blocks: BlockCounts,
}

impl Decoder {
    /// A decoder for one response of `report`.
    pub fn new(report: &'static Report, options: DecoderOptions) -> Decoder {
        let map = Arc::new(PathMap::new(report, options.personal_data));
        let schema = Arc::new(report.arrow_schema());
        let mut decoder = Decoder::with_map(report, options, map, schema);
        decoder.parallel = parallel::Parallel::new(&decoder.options);
        decoder
    }

    /// A decoder on one thread with `map` and `schema` (shared with the decoder it is a copy
    /// of).
    fn with_map(
        report: &'static Report,
        options: DecoderOptions,
        map: Arc<PathMap>,
        schema: SchemaRef,
    ) -> Decoder {
        let options = DecoderOptions {
            batch_size: options.batch_size.max(1),
            max_depth: options.max_depth.max(1),
            ..options
        };
        let batch = Batch::new(&map, options.batch_size.min(65_536));
        let levels = map.levels.len();
        Decoder {
            report,
            schema,
            zone: ZoneCache::new(options.timezone),
            scrubber: None,
            hints: vec![0; map.nodes.len()],
            present_now: vec![false; levels],
            start_count: vec![0; levels],
            map,
            options,
            encoding: Encoding::default(),
            pending: Vec::new(),
            consumed: 0,
            retry_len: 0,
            stray: None,
            total: 0,
            head: Vec::new(),
            sniffed: false,
            doc: Doc::Prolog,
            stack: Vec::new(),
            names: Vec::new(),
            name_ends: Vec::new(),
            text_run: 0,
            text_run_start: 0,
            scratch: Vec::new(),
            envelope: Envelope::default(),
            envelope_seen: [false; 3],
            fault_code: None,
            fault_reason: None,
            other_version: None,
            found_version: None,
            in_row: false,
            row_depth: 0,
            row_text_start: 0,
            capture: None,
            row_extra: Vec::new(),
            extra_bytes: 0,
            extra_truncated: false,
            unplaced: 0,
            first_unplaced: None,
            probe_last: (0, Vec::new()),
            probe_row_like: false,
            batch,
            rows: 0,
            batch_first_row: 1,
            ready: VecDeque::new(),
            stripped: 0,
            unknown: crate::UnknownElements::default(),
            withheld: BTreeMap::new(),
            layout: None,
            rejects: Rejects {
                lenient: !options.strict,
                rows: Vec::new(),
            },
            rejected: BTreeMap::new(),
            failed: None,
            finished: false,
            row_name: Vec::new(),
            parallel: None,
            blocks: BlockCounts::default(),
        }
    }

    /// Removes `scrubber`'s secrets (the API key) from every excerpt of the body the decoder
    /// quotes in an error or a summary, before the excerpt is shortened.
    pub fn with_scrubber(mut self, scrubber: Scrubber) -> Decoder {
        self.scrubber = Some(scrubber);
        self
    }

    /// The report this decoder reads.
    pub fn report(&self) -> &'static Report {
        self.report
    }

    /// The schema of every batch: exactly `report.arrow_schema()`.
    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    /// The envelope (`success`, `message`, `row_count`) as far as it has been read.
    pub fn envelope(&self) -> &Envelope {
        &self.envelope
    }

    /// Rows decoded so far (including those of the batch not yet completed).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// Blocks of rows given to other threads so far.
    pub fn blocks(&self) -> BlockCounts {
        self.blocks
    }

    /// Takes the next completed batch, in document order.
    pub fn pop_batch(&mut self) -> Option<RecordBatch> {
        self.ready.pop_front()
    }

    /// Feeds the next bytes of the response. Chunks may split the document anywhere, down to
    /// one byte at a time.
    pub fn push(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if self.finished {
            return Err(DecodeError::TrailingContent {
                report: self.report.id,
                offset: self.total,
            });
        }
        let result = match self.parallel.take() {
            Some(mut parallel) => {
                let result = self.push_parallel(&mut parallel, chunk);
                self.parallel = Some(parallel);
                result
            }
            None => self.push_decoded(chunk),
        };
        if let Err(e) = &result {
            self.failed = Some(e.clone());
        }
        result
    }

    /// Ends the input: decodes what is left, completes the last batch and returns the summary.
    /// Pop the remaining batches afterwards.
    pub fn finish(&mut self) -> Result<DecodeSummary, DecodeError> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        if !self.finished {
            let result = match self.parallel.take() {
                Some(mut parallel) => self.finish_parallel(&mut parallel),
                None => Ok(()),
            }
            .and_then(|()| self.flush_encoding())
            .and_then(|()| self.finish_inner());
            if let Err(e) = result {
                self.failed = Some(e.clone());
                return Err(e);
            }
            self.finished = true;
        }
        Ok(DecodeSummary {
            rows: self.rows,
            envelope: self.envelope.clone(),
            stripped_control_chars: self.stripped,
            unknown: self.unknown.clone(),
            withheld: self.withheld.clone(),
            layout: self.layout.clone(),
            version: self.found_version,
            rejected: self.rejected.clone(),
        })
    }

    /// Raw text as quoted in an error or a summary: the secrets removed, control characters
    /// escaped, then shortened.
    pub(crate) fn excerpt(&self, bytes: &[u8]) -> String {
        crate::error::excerpt_with(bytes, self.scrubber.as_ref())
    }
}
