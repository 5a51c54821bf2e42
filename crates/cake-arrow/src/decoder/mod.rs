//! The push decoder: stage 1 (quick-xml events into row slots) and the buffering that lets it
//! take the input in chunks of any size.
//!
//! [`Decoder`] and its public methods live here; the work is split by concern:
//! - `input`: chunks in, windows out to quick-xml, parser errors placed;
//! - `sniff`: XML, HTML or neither, decided from the first bytes;
//! - `machine`: the state machine from elements to row slots, rows and batches;
//! - `answer`: whether the document is the answer asked for (refusal, fault, other report);
//! - `extra`: unmapped elements of a row kept as its `_extra`.

mod answer;
mod extra;
mod input;
mod machine;
mod sniff;

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use cake_catalog::Report;
use quick_xml::errors::{Error as XmlError, IllFormedError, SyntaxError};
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

use crate::batch::{Batch, Rejects, Span};
use crate::error::{excerpt, CakeRefusal, DecodeError};
use crate::parse::ZoneCache;
use crate::paths::{same, NodeId, NodeKind, PathMap, Slot, ROW};
use crate::{DecodeSummary, DecoderOptions, Envelope, Rejected};

use answer::other_report;
use input::is_xml_space;
use machine::is_nil;
use sniff::{is_html_doctype, is_html_doctype_content};

/// Bytes of the body kept to describe a response that is not XML.
const HEAD: usize = 4096;
/// A batch is closed early when its text passes this size, whatever its row count.
const TEXT_FLUSH: usize = 64 << 20;
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
    Row,
    Node(NodeId),
    Leaf {
        node: NodeId,
        start: u32,
        nil: bool,
    },
    /// An element of a row the catalog does not map, kept for the row's `_extra`.
    Extra {
        nil: bool,
    },
    Skip,
}

/// An open element of a row's `_extra`.
#[derive(Debug, Clone, Copy)]
struct ExtraFrame {
    /// Length of the extra path before this element's name.
    path_len: usize,
    /// Where this element's text starts in the text buffer of the extras.
    text_start: usize,
    /// Whether an element opened inside it (its own text is then not a value).
    children: bool,
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
    map: PathMap,
    schema: SchemaRef,
    zone: ZoneCache,

    // Input.
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
    fault_code: Option<String>,
    fault_reason: Option<String>,
    /// The document declares another API version than the endpoint's: refused at the first
    /// row or at the end, unless it is Cake's refusal (whose namespace can differ).
    other_version: Option<String>,
    in_row: bool,
    /// Per list column: seen in the current repeated element.
    seen: Vec<bool>,
    /// Per list group: its container was present in the current row.
    group_present: Vec<bool>,
    /// Per list column: its group.
    list_group: Vec<usize>,
    drift_path: String,
    /// The path below the row of the `_extra` element open now, its open elements, their
    /// text, and the row's extras so far.
    extra_path: String,
    extra_frames: Vec<ExtraFrame>,
    extra_text: Vec<u8>,
    row_extra: Vec<(String, Option<String>)>,

    // Output.
    batch: Batch,
    rows: u64,
    batch_first_row: u64,
    ready: VecDeque<RecordBatch>,
    stripped: u64,
    unknown: BTreeMap<String, u64>,
    rejects: Rejects,
    rejected: BTreeMap<String, Rejected>,
    warned: BTreeSet<String>,
    failed: Option<DecodeError>,
    finished: bool,
}

impl Decoder {
    /// A decoder for one response of `report`.
    pub fn new(report: &'static Report, options: DecoderOptions) -> Decoder {
        let map = PathMap::new(report);
        let options = DecoderOptions {
            batch_size: options.batch_size.max(1),
            max_depth: options.max_depth.max(1),
            ..options
        };
        let batch = Batch::new(&map, options.batch_size.min(65_536));
        Decoder {
            report,
            schema: Arc::new(report.arrow_schema()),
            zone: ZoneCache::new(options.timezone),
            hints: vec![0; map.nodes.len()],
            seen: vec![false; map.list_count],
            group_present: vec![false; map.groups.len()],
            list_group: map
                .slots
                .iter()
                .filter_map(|s| match s {
                    Slot::List { group, .. } => Some(*group as usize),
                    Slot::Scalar(_) => None,
                })
                .collect(),
            map,
            options,
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
            fault_code: None,
            fault_reason: None,
            other_version: None,
            in_row: false,
            drift_path: String::new(),
            extra_path: String::new(),
            extra_frames: Vec::new(),
            extra_text: Vec::new(),
            row_extra: Vec::new(),
            batch,
            rows: 0,
            batch_first_row: 1,
            ready: VecDeque::new(),
            stripped: 0,
            unknown: BTreeMap::new(),
            rejects: Rejects {
                lenient: !options.strict,
                rows: Vec::new(),
            },
            rejected: BTreeMap::new(),
            warned: BTreeSet::new(),
            failed: None,
            finished: false,
        }
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
        let result = self.push_inner(chunk);
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
            if let Err(e) = self.finish_inner() {
                self.failed = Some(e.clone());
                return Err(e);
            }
            self.finished = true;
        }
        Ok(DecodeSummary {
            rows: self.rows,
            envelope: self.envelope.clone(),
            stripped_control_chars: self.stripped,
            unknown_elements: self.unknown.clone(),
            rejected: self.rejected.clone(),
        })
    }
}
