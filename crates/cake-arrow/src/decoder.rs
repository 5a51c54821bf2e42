//! The push decoder: stage 1 (quick-xml events into row slots) and the buffering that lets it
//! take the input in chunks of any size.

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

    fn push_inner(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        if chunk.is_empty() {
            return Ok(());
        }
        if self.head.len() < HEAD {
            let take = (HEAD - self.head.len()).min(chunk.len());
            self.head.extend_from_slice(&chunk[..take]);
        }
        self.total += chunk.len() as u64;
        if self.doc == Doc::Prolog && !self.sniffed {
            self.sniff();
        }
        if matches!(self.doc, Doc::NotXml | Doc::Html) {
            return if self.head.len() >= HEAD {
                Err(self.body_error())
            } else {
                Ok(())
            };
        }

        if self.pending.is_empty() {
            // Parse straight from the chunk up to its last `>`; keep the rest.
            let end = memchr::memrchr(b'>', chunk).map_or(0, |i| i + 1);
            let used = if end > 0 {
                self.parse_window(&chunk[..end], false)?
            } else {
                0
            };
            self.consumed += used as u64;
            if !matches!(self.doc, Doc::NotXml | Doc::Html) {
                self.pending.extend_from_slice(&chunk[used..]);
            }
            self.retry_len = if used < end {
                2 * self.pending.len()
            } else {
                0
            };
        } else {
            let old = self.pending.len();
            self.pending.extend_from_slice(chunk);
            // After a window that ended inside an event (a comment or an attribute value
            // holding `>`), the event is parsed again only once the buffer has doubled, so
            // a long one costs linear time, not quadratic.
            let ready = self.pending.len() >= self.retry_len;
            if let Some(i) = memchr::memrchr(b'>', chunk).filter(|_| ready) {
                let end = old + i + 1;
                let pending = std::mem::take(&mut self.pending);
                let result = self.parse_window(&pending[..end], false);
                self.pending = pending;
                let used = result?;
                self.pending.drain(..used);
                self.consumed += used as u64;
                self.retry_len = if used < end {
                    2 * self.pending.len()
                } else {
                    0
                };
            }
        }
        if matches!(self.doc, Doc::NotXml | Doc::Html) {
            self.pending.clear();
            return if self.head.len() >= HEAD {
                Err(self.body_error())
            } else {
                Ok(())
            };
        }
        if self.pending.len() > self.options.max_text_bytes && self.retry_len > 0 {
            // A parse deferred by the doubling rule above may hold the end of the cut event
            // already: the event, not the buffer, must be over the limit to be refused.
            if let Some(i) = memchr::memrchr(b'>', &self.pending) {
                let end = i + 1;
                let pending = std::mem::take(&mut self.pending);
                let result = self.parse_window(&pending[..end], false);
                self.pending = pending;
                let used = result?;
                self.pending.drain(..used);
                self.consumed += used as u64;
                self.retry_len = if used < end {
                    2 * self.pending.len()
                } else {
                    0
                };
            }
        }
        if self.pending.len() > self.options.max_text_bytes {
            // Whitespace between elements is dropped unread, however long.
            if !self.keeps_text() && self.pending.iter().all(|&b| is_xml_space(b)) {
                self.consumed += self.pending.len() as u64;
                self.pending.clear();
            } else {
                return Err(self.oversized_pending());
            }
        }
        Ok(())
    }

    /// Decides from the first bytes whether the body is XML at all: the first byte after an
    /// optional byte order mark and whitespace must be `<`.
    fn sniff(&mut self) {
        if self.head.len() < BOM.len() && BOM.starts_with(&self.head) {
            return; // Perhaps the start of a byte order mark.
        }
        let body = self.head.strip_prefix(BOM).unwrap_or(&self.head);
        match body.iter().find(|b| !b.is_ascii_whitespace()) {
            Some(&b) => {
                self.sniffed = true;
                if b != b'<' {
                    self.doc = Doc::NotXml;
                }
            }
            // Only whitespace so far; past the head the parser decides.
            None => self.sniffed = self.head.len() >= HEAD,
        }
    }

    fn finish_inner(&mut self) -> Result<(), DecodeError> {
        if matches!(self.doc, Doc::NotXml | Doc::Html) {
            return Err(self.body_error());
        }
        if !self.pending.is_empty() {
            let pending = std::mem::take(&mut self.pending);
            let result = self.parse_window(&pending, true);
            self.pending = pending;
            let used = match result {
                Ok(used) => used,
                // A refusal or a fault cut short is still Cake's answer.
                Err(e) if e.is_truncated() => return Err(self.cut_answer().unwrap_or(e)),
                Err(e) => return Err(e),
            };
            self.consumed += used as u64;
            self.pending.clear();
        }
        if self.stray.is_some() {
            return Err(self.stray_error());
        }
        match self.doc {
            Doc::NotXml | Doc::Html => return Err(self.body_error()),
            Doc::Prolog => {
                return Err(if self.head.iter().all(|b| b.is_ascii_whitespace()) {
                    DecodeError::Empty {
                        report: self.report.id,
                    }
                } else {
                    DecodeError::Truncated {
                        report: self.report.id,
                        offset: self.total,
                        context: "no document element".into(),
                    }
                });
            }
            Doc::Open => {
                if let Some(e) = self.cut_answer() {
                    return Err(e);
                }
                let open = self
                    .name_ends
                    .len()
                    .checked_sub(1)
                    .map(|i| self.open_name(i))
                    .unwrap_or_default();
                return Err(DecodeError::Truncated {
                    report: self.report.id,
                    offset: self.total,
                    context: format!("inside <{open}>"),
                });
            }
            Doc::Closed => {}
        }
        if self.batch.rows > 0 {
            self.flush()?;
        }
        Ok(())
    }

    /// The error for a body that is not XML, from its first bytes.
    fn body_error(&self) -> DecodeError {
        let text = String::from_utf8_lossy(&self.head);
        if self.doc == Doc::Html {
            let lower = text.to_ascii_lowercase();
            let title = lower.find("<title>").and_then(|s| {
                let from = s + "<title>".len();
                lower[from..]
                    .find("</title>")
                    .map(|e| &text[from..from + e])
            });
            let shown = match title {
                Some(t) => collapse(t),
                None => collapse(&strip_tags(&text)),
            };
            DecodeError::Html {
                report: self.report.id,
                excerpt: cut(&shown),
            }
        } else {
            DecodeError::NotXml {
                report: self.report.id,
                excerpt: cut(&collapse(&text)),
            }
        }
    }

    fn oversized_pending(&self) -> DecodeError {
        let first_lt = memchr::memchr(b'<', &self.pending);
        if let Some(p) = first_lt {
            let rest = &self.pending[p..];
            if rest.len() >= 9 && rest[..9].eq_ignore_ascii_case(b"<!DOCTYPE") {
                return DecodeError::Doctype {
                    report: self.report.id,
                    offset: self.consumed + p as u64,
                };
            }
        }
        let offset = match first_lt {
            // A tag that does not end.
            Some(p) if p <= self.options.max_text_bytes => self.consumed + p as u64,
            // A text node that does not end.
            _ if self.text_run > 0 => self.text_run_start,
            _ => self.consumed,
        };
        DecodeError::TextTooLarge {
            report: self.report.id,
            offset,
            max: self.options.max_text_bytes,
        }
    }

    /// Parses one window of input that ends after a `>` (or at the end of the input when
    /// `last`). Returns how many bytes were consumed: all of them, or up to the start of an
    /// event that the window cut.
    fn parse_window(&mut self, buf: &[u8], last: bool) -> Result<usize, DecodeError> {
        let base = self.consumed;
        // quick-xml drops a byte order mark at the start of its input. Only the body's first
        // one is a BOM; elsewhere the bytes are the character U+FEFF of a text.
        let mut from = 0;
        while buf[from..].starts_with(BOM) {
            if base + from as u64 != 0 {
                self.text(&buf[from..from + 3], base + from as u64)?;
            }
            from += 3;
        }
        let slice = &buf[from..];
        let mut reader = Reader::from_reader(slice);
        {
            let config = reader.config_mut();
            config.check_end_names = false;
            config.allow_unmatched_ends = true;
            config.expand_empty_elements = false;
            // Whitespace before markup (the indentation between elements) produces no event;
            // where text matters, the skipped bytes are put back below.
            config.trim_text_start = true;
            config.trim_text_end = false;
        }
        loop {
            let pos = reader.buffer_position() as usize;
            let event = reader.read_event();
            // The whitespace quick-xml skipped before the event.
            let ws = slice[pos..]
                .iter()
                .take_while(|&&b| is_xml_space(b))
                .count();
            let at = base + (from + pos + ws) as u64;
            match event {
                Ok(event) => {
                    if ws > 0 && self.keeps_text() {
                        self.text(&slice[pos..pos + ws], base + (from + pos) as u64)?;
                    }
                    if let Event::Eof = event {
                        return Ok(buf.len());
                    }
                    self.event(event, at)?;
                    if matches!(self.doc, Doc::NotXml | Doc::Html) {
                        return Ok(buf.len());
                    }
                }
                Err(e) => {
                    return self.reader_error(e, slice, pos, ws, from, base, last, &reader);
                }
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    #[cold]
    fn reader_error(
        &mut self,
        error: XmlError,
        slice: &[u8],
        pos: usize,
        ws: usize,
        from: usize,
        base: u64,
        last: bool,
        reader: &Reader<&[u8]>,
    ) -> Result<usize, DecodeError> {
        // Errors are reported where the event starts, after the whitespace before it; an
        // event cut by the window is parsed again from before that whitespace.
        let at = base + (from + pos + ws) as u64;
        let report = self.report.id;
        match error {
            XmlError::Syntax(SyntaxError::InvalidBangMarkup) => Err(DecodeError::Syntax {
                report,
                offset: at,
                detail: "`<!` starts neither a comment, a CDATA section nor a DOCTYPE".into(),
            }),
            XmlError::Syntax(_) if !last => Ok(from + pos),
            XmlError::Syntax(e) => {
                if let SyntaxError::UnclosedDoctype = e {
                    let rest = &slice[pos + ws..];
                    if !is_html_doctype(rest) {
                        return Err(DecodeError::Doctype { report, offset: at });
                    }
                }
                let context = match e {
                    SyntaxError::UnclosedComment => "inside a comment",
                    SyntaxError::UnclosedCData => "inside a CDATA section",
                    SyntaxError::UnclosedPI | SyntaxError::UnclosedXmlDecl => {
                        "inside a processing instruction"
                    }
                    SyntaxError::UnclosedDoctype => "inside a DOCTYPE",
                    _ => "inside a tag",
                };
                Err(DecodeError::Truncated {
                    report,
                    offset: at,
                    context: context.into(),
                })
            }
            XmlError::Encoding(_) => {
                let valid = match std::str::from_utf8(&slice[pos + ws..]) {
                    Ok(_) => 0,
                    Err(e) => e.valid_up_to(),
                };
                Err(DecodeError::InvalidUtf8 {
                    report,
                    offset: at + valid as u64,
                })
            }
            XmlError::IllFormed(IllFormedError::UnclosedReference) => {
                let start = (reader.error_position() as usize).min(slice.len());
                let offset = base + (from + start) as u64;
                // The window ends inside the reference: it may continue in the next bytes.
                let open_to_end = slice
                    .get(start + 1..)
                    .is_some_and(|rest| memchr::memchr3(b';', b'&', b'<', rest).is_none());
                if open_to_end && !last {
                    return Ok(from + start);
                }
                if open_to_end && self.doc == Doc::Open {
                    return Err(DecodeError::Truncated {
                        report,
                        offset,
                        context: "inside a character or entity reference".into(),
                    });
                }
                Err(DecodeError::Syntax {
                    report,
                    offset,
                    detail: "`&` does not start a reference ending in `;` (a literal & must be \
                             written &amp;)"
                        .into(),
                })
            }
            other => Err(DecodeError::Syntax {
                report,
                offset: base + (from as u64) + reader.error_position(),
                detail: other.to_string(),
            }),
        }
    }

    #[inline]
    fn event(&mut self, event: Event<'_>, at: u64) -> Result<(), DecodeError> {
        if self.stray.is_some() && !matches!(event, Event::Text(_) | Event::GeneralRef(_)) {
            return Err(self.stray_error());
        }
        match event {
            Event::Start(e) => self.start(&e, at, false),
            Event::Empty(e) => self.start(&e, at, true),
            Event::End(e) => self.end(e.name().as_ref().as_bytes(), at),
            Event::Text(t) => self.text(t.as_bytes(), at),
            Event::GeneralRef(r) => self.reference(&r, at),
            Event::CData(c) => {
                let raw: &str = &c;
                self.text(raw.as_bytes(), at)
            }
            Event::DocType(d) => {
                let raw: &str = &d;
                if self.doc == Doc::Prolog && is_html_doctype_content(raw.as_bytes()) {
                    self.doc = Doc::Html;
                    Ok(())
                } else {
                    Err(DecodeError::Doctype {
                        report: self.report.id,
                        offset: at,
                    })
                }
            }
            Event::Comment(c) => self.markup_size(c.len(), at),
            Event::PI(p) => self.markup_size(p.len(), at),
            Event::Decl(d) => self.markup_size(d.len(), at),
            Event::Eof => Ok(()),
        }
    }

    /// The error for text outside the document element.
    #[cold]
    fn stray_error(&self) -> DecodeError {
        let offset = self.stray.unwrap_or(self.total);
        if self.doc == Doc::Closed {
            DecodeError::TrailingContent {
                report: self.report.id,
                offset,
            }
        } else {
            DecodeError::Syntax {
                report: self.report.id,
                offset,
                detail: "text before the document element".into(),
            }
        }
    }

    /// Comments, processing instructions and declarations are skipped, within the size limit.
    fn markup_size(&self, len: usize, at: u64) -> Result<(), DecodeError> {
        if len > self.options.max_text_bytes {
            return Err(DecodeError::TextTooLarge {
                report: self.report.id,
                offset: at,
                max: self.options.max_text_bytes,
            });
        }
        Ok(())
    }

    fn open_name(&self, i: usize) -> String {
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        String::from_utf8_lossy(&self.names[start..self.name_ends[i]]).into_owned()
    }

    #[inline]
    fn start(&mut self, e: &BytesStart<'_>, at: u64, empty: bool) -> Result<(), DecodeError> {
        self.text_run = 0;
        if e.len() > self.options.max_text_bytes {
            return Err(DecodeError::TextTooLarge {
                report: self.report.id,
                offset: at,
                max: self.options.max_text_bytes,
            });
        }
        if self.stack.len() >= self.options.max_depth {
            return Err(DecodeError::TooDeep {
                report: self.report.id,
                offset: at,
                max: self.options.max_depth,
            });
        }
        let qname = e.name();
        let qname: &str = qname.as_ref();
        let local = local_name(qname.as_bytes());
        let frame = match self.doc {
            Doc::Prolog => {
                if local == b"Envelope" {
                    self.doc = Doc::Open;
                    Frame::SoapEnvelope
                } else if local.eq_ignore_ascii_case(b"html") {
                    self.doc = Doc::Html;
                    return Ok(());
                } else {
                    self.doc = Doc::Open;
                    self.check_answer(local, e, "document element")?;
                    Frame::Content
                }
            }
            Doc::Closed => {
                return Err(DecodeError::TrailingContent {
                    report: self.report.id,
                    offset: at,
                })
            }
            Doc::NotXml | Doc::Html => return Ok(()),
            Doc::Open => {
                let top = self.stack.last().copied().unwrap_or(Frame::Skip);
                self.child_frame(top, local, e)?
            }
        };
        if empty {
            self.close(frame)?;
            if self.stack.is_empty() && self.doc == Doc::Open {
                self.doc = Doc::Closed;
            }
        } else {
            self.names.extend_from_slice(qname.as_bytes());
            self.name_ends.push(self.names.len());
            self.stack.push(frame);
        }
        Ok(())
    }

    /// What a new element below `parent` is.
    #[inline]
    fn child_frame(
        &mut self,
        parent: Frame,
        local: &[u8],
        e: &BytesStart<'_>,
    ) -> Result<Frame, DecodeError> {
        Ok(match parent {
            Frame::Row | Frame::Node(_) => {
                let parent_node = match parent {
                    Frame::Node(n) => n,
                    _ => ROW,
                };
                let hint = &mut self.hints[parent_node as usize];
                match self.map.child(parent_node, local, hint) {
                    Some(node) => self.enter_node(node, e),
                    None => {
                        self.drift(Some(parent_node), local)?;
                        self.begin_extra(Some(parent_node), local, e)
                    }
                }
            }
            Frame::Skip => Frame::Skip,
            Frame::Leaf { node, .. } => {
                self.drift(Some(node), local)?;
                self.begin_extra(Some(node), local, e)
            }
            Frame::Extra { .. } => self.begin_extra(None, local, e),
            Frame::Collection => {
                if local == self.report.response.row.as_bytes() {
                    self.begin_row()?;
                    Frame::Row
                } else {
                    self.drift(None, local)?;
                    Frame::Skip
                }
            }
            Frame::Content => {
                let response = &self.report.response;
                match local {
                    b"success" => self.capture(Field::Success, e),
                    b"message" => self.capture(Field::Message, e),
                    b"row_count" => self.capture(Field::RowCount, e),
                    _ if response.collection.map(str::as_bytes) == Some(local) => Frame::Collection,
                    // Rows directly below the document element: the bare `ArrayOf...` layout,
                    // accepted for every report (sources disagree for some, such as Traffic
                    // Export and Verticals).
                    _ if local == response.row.as_bytes() => {
                        self.begin_row()?;
                        Frame::Row
                    }
                    // A report documented as a bare `ArrayOf...` may come wrapped in an
                    // envelope's collection: its rows are read inside whatever wraps them.
                    _ if response.collection.is_none() && self.envelope.success.is_some() => {
                        Frame::Collection
                    }
                    _ => {
                        if let Some(other) = other_report(|r| {
                            r.response.collection.map(str::as_bytes) == Some(local)
                                || (r.response.collection.is_none()
                                    && r.response.row.as_bytes() == local)
                        }) {
                            return Err(self.wrong_answer(format!(
                                "it holds <{}>, the rows of {}",
                                String::from_utf8_lossy(local),
                                other.name
                            )));
                        }
                        self.drift(None, local)?;
                        Frame::Skip
                    }
                }
            }
            Frame::SoapEnvelope => {
                if local == b"Body" {
                    Frame::SoapBody {
                        wrapper_seen: false,
                    }
                } else {
                    Frame::Skip
                }
            }
            Frame::SoapBody { wrapper_seen } => {
                if local == b"Fault" {
                    Frame::Fault
                } else if !wrapper_seen {
                    if let Some(Frame::SoapBody { wrapper_seen }) = self.stack.last_mut() {
                        *wrapper_seen = true;
                    }
                    self.check_answer(local, e, "SOAP response element")?;
                    Frame::SoapWrapper {
                        content_seen: false,
                    }
                } else {
                    Frame::Skip
                }
            }
            Frame::SoapWrapper { content_seen } => {
                if !content_seen {
                    if let Some(Frame::SoapWrapper { content_seen }) = self.stack.last_mut() {
                        *content_seen = true;
                    }
                    Frame::Content
                } else {
                    Frame::Skip
                }
            }
            Frame::Fault => match local {
                b"Code" => Frame::FaultCode,
                b"Reason" => Frame::FaultReason,
                b"faultcode" => self.capture(Field::FaultCode, e),
                b"faultstring" => self.capture(Field::FaultReason, e),
                _ => Frame::Skip,
            },
            Frame::FaultCode if local == b"Value" => self.capture(Field::FaultCode, e),
            Frame::FaultReason if local == b"Text" => self.capture(Field::FaultReason, e),
            Frame::FaultCode | Frame::FaultReason | Frame::Capture { .. } => Frame::Skip,
        })
    }

    /// Opens an element of the row's `_extra`: below the node `parent` (an element the catalog
    /// does not map), or, with `None`, below the `_extra` element open now.
    fn begin_extra(&mut self, parent: Option<NodeId>, local: &[u8], e: &BytesStart<'_>) -> Frame {
        if let Some(node) = parent {
            // An unknown element below a mapped one: its path starts from that one's.
            self.extra_path.clear();
            self.extra_path
                .push_str(&self.map.nodes[node as usize].path);
        } else if let Some(open) = self.extra_frames.last_mut() {
            open.children = true;
        }
        let path_len = self.extra_path.len();
        if !self.extra_path.is_empty() {
            self.extra_path.push('/');
        }
        self.extra_path.push_str(&String::from_utf8_lossy(local));
        self.extra_frames.push(ExtraFrame {
            path_len,
            text_start: self.extra_text.len(),
            children: false,
        });
        Frame::Extra { nil: is_nil(e) }
    }

    /// Closes an element of the row's `_extra`: a leaf becomes an entry (its text, or null
    /// for `xsi:nil`).
    fn end_extra(&mut self, nil: bool) {
        let Some(f) = self.extra_frames.pop() else {
            return;
        };
        if !f.children {
            let value = (!nil)
                .then(|| String::from_utf8_lossy(&self.extra_text[f.text_start..]).into_owned());
            self.row_extra.push((self.extra_path.clone(), value));
        }
        self.extra_text.truncate(f.text_start);
        self.extra_path.truncate(f.path_len);
    }

    /// The row's extras as a JSON object, or `None` without any.
    fn take_row_extra(&mut self) -> Option<String> {
        if self.row_extra.is_empty() {
            return None;
        }
        let mut by_path: BTreeMap<String, Vec<Option<String>>> = BTreeMap::new();
        for (path, value) in self.row_extra.drain(..) {
            by_path.entry(path).or_default().push(value);
        }
        let object: serde_json::Map<String, serde_json::Value> = by_path
            .into_iter()
            .map(|(path, mut values)| {
                let value = if values.len() == 1 {
                    values
                        .pop()
                        .flatten()
                        .map_or(serde_json::Value::Null, serde_json::Value::String)
                } else {
                    serde_json::Value::Array(
                        values
                            .into_iter()
                            .map(|v| v.map_or(serde_json::Value::Null, serde_json::Value::String))
                            .collect(),
                    )
                };
                (path, value)
            })
            .collect();
        Some(serde_json::Value::Object(object).to_string())
    }

    fn capture(&mut self, field: Field, e: &BytesStart<'_>) -> Frame {
        self.scratch.clear();
        Frame::Capture {
            field,
            nil: is_nil(e),
        }
    }

    #[inline]
    fn enter_node(&mut self, node: NodeId, e: &BytesStart<'_>) -> Frame {
        let n = &self.map.nodes[node as usize];
        if let Some(g) = n.item_of {
            for &l in &self.map.groups[g as usize].lists {
                self.seen[l as usize] = false;
            }
        }
        if !n.container_of.is_empty() && !is_nil(e) {
            for &g in n.container_of.iter() {
                self.group_present[g as usize] = true;
            }
        }
        match n.kind {
            NodeKind::Container => Frame::Node(node),
            NodeKind::Leaf(_) => Frame::Leaf {
                node,
                start: self.batch.text.len() as u32,
                nil: is_nil(e),
            },
            NodeKind::Skip => Frame::Skip,
        }
    }

    fn begin_row(&mut self) -> Result<(), DecodeError> {
        if let Some(detail) = self.other_version.take() {
            return Err(self.wrong_answer(detail));
        }
        self.in_row = true;
        self.row_extra.clear();
        self.batch.begin_row();
        self.group_present.iter_mut().for_each(|p| *p = false);
        // Lists repeated directly below the row element are always present.
        for &g in self.map.nodes[ROW as usize].container_of.iter() {
            self.group_present[g as usize] = true;
        }
        Ok(())
    }

    /// Checks that the element holding the answer (the GET document element, or the SOAP
    /// `{Method}Response` element) belongs to this report: not another report's root or method,
    /// and not another API version.
    fn check_answer(
        &mut self,
        local: &[u8],
        e: &BytesStart<'_>,
        what: &str,
    ) -> Result<(), DecodeError> {
        let response = &self.report.response;
        let method = self.report.endpoint.method;
        let soap = what.starts_with("SOAP");
        let ours = if soap {
            local.strip_suffix(b"Response") == Some(method.as_bytes())
        } else {
            local == response.root.as_bytes()
        };
        if !ours {
            let other = other_report(|r| {
                if soap {
                    local.strip_suffix(b"Response") == Some(r.endpoint.method.as_bytes())
                } else {
                    r.response.root.as_bytes() == local
                }
            });
            if let Some(other) = other {
                return Err(self.wrong_answer(format!(
                    "its {what} is <{}>, which answers {}",
                    String::from_utf8_lossy(local),
                    other.name
                )));
            }
        }
        for attr in e.attributes().with_checks(false).flatten() {
            let key: &str = attr.key.as_ref();
            if key != "xmlns" {
                continue;
            }
            let ns: &str = &attr.value;
            if let Some(version) = api_version(ns) {
                if version != self.report.endpoint.version {
                    self.other_version = Some(format!(
                        "its namespace {} is API version {version}, but the request was for version {}",
                        excerpt(ns.as_bytes()),
                        self.report.endpoint.version
                    ));
                }
            }
        }
        Ok(())
    }

    fn wrong_answer(&self, detail: String) -> DecodeError {
        DecodeError::WrongAnswer {
            report: self.report.id,
            detail,
        }
    }

    /// Counts an element the catalog does not know; an error in strict mode.
    #[cold]
    fn drift(&mut self, parent: Option<NodeId>, local: &[u8]) -> Result<(), DecodeError> {
        let path = &mut self.drift_path;
        path.clear();
        match parent {
            Some(node) => {
                path.push_str(self.report.response.row);
                let p = &self.map.nodes[node as usize].path;
                if !p.is_empty() {
                    path.push('/');
                    path.push_str(p);
                }
                path.push('/');
            }
            None => {
                if let Some(Frame::Collection) = self.stack.last() {
                    if let Some(c) = self.report.response.collection {
                        path.push_str(c);
                        path.push('/');
                    }
                }
            }
        }
        path.push_str(&String::from_utf8_lossy(local));
        // Elements the catalog knows without a column go to `_extra` without a word.
        if parent.is_some() {
            let below_row = path
                .strip_prefix(self.report.response.row)
                .and_then(|p| p.strip_prefix('/'))
                .unwrap_or_default();
            if self
                .report
                .response
                .unmapped
                .iter()
                .any(|u| below_row == *u || below_row.starts_with(&format!("{u}/")))
            {
                return Ok(());
            }
        }
        let row = self.in_row.then_some(self.rows + 1);
        if self.options.strict {
            return Err(DecodeError::UnknownElement {
                report: self.report.id,
                element: path.clone(),
                row,
            });
        }
        match self.unknown.get_mut(path.as_str()) {
            Some(n) => *n += 1,
            None => {
                self.unknown.insert(path.clone(), 1);
            }
        }
        if !self.warned.contains(path.as_str()) {
            self.warned.insert(path.clone());
            tracing::warn!(
                report = self.report.id,
                element = path.as_str(),
                "element not in the catalog (a newer API version?); it is counted and kept in _extra when it is inside a row"
            );
        }
        Ok(())
    }

    #[inline]
    fn end(&mut self, qname: &[u8], at: u64) -> Result<(), DecodeError> {
        self.text_run = 0;
        let Some(end) = self.name_ends.pop() else {
            return Err(if self.doc == Doc::Closed {
                DecodeError::TrailingContent {
                    report: self.report.id,
                    offset: at,
                }
            } else {
                DecodeError::Syntax {
                    report: self.report.id,
                    offset: at,
                    detail: format!(
                        "end tag </{}> without a start tag",
                        String::from_utf8_lossy(qname)
                    ),
                }
            });
        };
        let start = self.name_ends.last().copied().unwrap_or(0);
        let qname = trim_end(qname);
        if !same(&self.names[start..end], qname) {
            return Err(DecodeError::Mismatched {
                report: self.report.id,
                offset: at,
                expected: String::from_utf8_lossy(&self.names[start..end]).into_owned(),
                found: String::from_utf8_lossy(qname).into_owned(),
            });
        }
        self.names.truncate(start);
        let frame = self.stack.pop().unwrap_or(Frame::Skip);
        self.close(frame)?;
        if self.stack.is_empty() {
            self.doc = Doc::Closed;
        }
        Ok(())
    }

    /// Completes an element.
    #[inline]
    fn close(&mut self, frame: Frame) -> Result<(), DecodeError> {
        match frame {
            Frame::Leaf { node, start, nil } => {
                let n = &self.map.nodes[node as usize];
                let NodeKind::Leaf(col) = n.kind else {
                    return Ok(());
                };
                let span = if nil {
                    self.batch.text.truncate(start as usize);
                    Span::NIL
                } else {
                    let len = self.batch.text.len() - start as usize;
                    if self.batch.text.len() > (u32::MAX - 2) as usize {
                        return Err(DecodeError::BatchTooLarge {
                            report: self.report.id,
                            row: self.rows + 1,
                        });
                    }
                    Span {
                        start,
                        len: len as u32,
                    }
                };
                match self.map.slots[col as usize] {
                    Slot::Scalar(s) => {
                        if let Some(last) = self.batch.scalars[s as usize].last_mut() {
                            *last = span;
                        }
                    }
                    Slot::List { list, .. } => {
                        self.batch.items[list as usize].push(span);
                        self.seen[list as usize] = true;
                    }
                }
                if let Some(g) = n.item_of {
                    self.close_item(g);
                }
            }
            Frame::Node(node) => {
                if let Some(g) = self.map.nodes[node as usize].item_of {
                    self.close_item(g);
                }
            }
            Frame::Row => self.end_row()?,
            Frame::Extra { nil } => self.end_extra(nil),
            Frame::Capture { field, nil } => self.store_field(field, nil)?,
            Frame::Content => {
                if let Some(e) = self.cake_refusal() {
                    return Err(e);
                }
                if let Some(detail) = self.other_version.take() {
                    return Err(self.wrong_answer(detail));
                }
            }
            Frame::Fault => {
                return Err(DecodeError::SoapFault {
                    report: self.report.id,
                    code: excerpt(self.fault_code.as_deref().unwrap_or_default().as_bytes()),
                    reason: excerpt(
                        self.fault_reason
                            .as_deref()
                            .unwrap_or("(no reason given)")
                            .as_bytes(),
                    ),
                });
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends one repeated element of a list group: lists that had no item in it get a null
    /// item, so the group's parallel lists stay aligned.
    #[inline]
    fn close_item(&mut self, group: u32) {
        for &l in &self.map.groups[group as usize].lists {
            if !self.seen[l as usize] {
                self.batch.items[l as usize].push(Span::ABSENT);
            }
            self.seen[l as usize] = false;
        }
    }

    fn end_row(&mut self) -> Result<(), DecodeError> {
        let extra = self.take_row_extra();
        self.batch.extra.push(extra);
        for (l, &group) in self.list_group.iter().enumerate() {
            let count = self.batch.items[l].len() as u32;
            self.batch.ends[l].push(count);
            self.batch.present[l].push(self.group_present[group]);
        }
        self.in_row = false;
        self.batch.rows += 1;
        self.rows += 1;
        if self.batch.rows >= self.options.batch_size || self.batch.text.len() > TEXT_FLUSH {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), DecodeError> {
        let batch = self.batch.build(
            self.report,
            &self.map,
            &self.schema,
            &mut self.zone,
            self.batch_first_row,
            &mut self.rejects,
        )?;
        // Counted here, reported once per column by whoever runs the decoder (a run's
        // summary), not once per response.
        for row in &self.rejects.rows {
            for (column, value, reason) in row {
                let entry = self
                    .rejected
                    .entry(column.to_string())
                    .or_insert_with(|| Rejected {
                        count: 0,
                        example: excerpt(value.as_bytes()),
                        reason: reason.to_string(),
                    });
                entry.count += 1;
            }
        }
        self.batch_first_row += batch.num_rows() as u64;
        self.ready.push_back(batch);
        Ok(())
    }

    fn store_field(&mut self, field: Field, nil: bool) -> Result<(), DecodeError> {
        let value = String::from_utf8_lossy(&self.scratch).into_owned();
        self.scratch.clear();
        let report = self.report.id;
        let bad = |field: &'static str, reason: &str| DecodeError::Envelope {
            report,
            field,
            value: excerpt(value.as_bytes()),
            reason: reason.into(),
        };
        match field {
            Field::Success if !nil => {
                let v = crate::parse::trim(value.as_bytes());
                let success = crate::parse::parse_bool(v).map_err(|r| bad("success", r))?;
                self.envelope.success = Some(success);
            }
            Field::Message if !nil => self.envelope.message = Some(value),
            Field::RowCount if !nil => {
                let v = crate::parse::trim(value.as_bytes());
                if !v.is_empty() {
                    let n =
                        crate::parse::parse_int(v, 0, i64::MAX).map_err(|r| bad("row_count", r))?;
                    self.envelope.row_count = Some(n as u64);
                }
            }
            Field::FaultCode if self.fault_code.is_none() => {
                self.fault_code = Some(value.trim().to_string());
            }
            Field::FaultReason if self.fault_reason.is_none() => {
                self.fault_reason = Some(value.trim().to_string());
            }
            _ => {}
        }
        Ok(())
    }

    /// Cake's refusal or SOAP fault in a document that ends early.
    fn cut_answer(&self) -> Option<DecodeError> {
        if let Some(e) = self.cake_refusal() {
            return Some(e);
        }
        self.fault_reason
            .as_ref()
            .map(|reason| DecodeError::SoapFault {
                report: self.report.id,
                code: excerpt(self.fault_code.as_deref().unwrap_or_default().as_bytes()),
                reason: excerpt(reason.as_bytes()),
            })
    }

    fn cake_refusal(&self) -> Option<DecodeError> {
        if self.envelope.success != Some(false) {
            return None;
        }
        let message = self
            .envelope
            .message
            .clone()
            .unwrap_or_else(|| "(no message)".into());
        Some(DecodeError::Cake {
            report: self.report.id,
            refusal: CakeRefusal::classify(&message),
            message: excerpt(message.as_bytes()),
        })
    }

    /// True when character data at this point is kept (a column's value or an envelope
    /// field), so whitespace matters.
    #[inline]
    fn keeps_text(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(
                Frame::Leaf { nil: false, .. }
                    | Frame::Capture { .. }
                    | Frame::Extra { nil: false }
            )
        )
    }

    /// A piece of character data at `at`.
    #[inline]
    fn text(&mut self, bytes: &[u8], at: u64) -> Result<(), DecodeError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.text_run == 0 {
            self.text_run_start = at;
        }
        self.text_run += bytes.len() as u64;
        if self.text_run > self.options.max_text_bytes as u64 {
            return Err(DecodeError::TextTooLarge {
                report: self.report.id,
                offset: self.text_run_start,
                max: self.options.max_text_bytes,
            });
        }
        match self.stack.last() {
            Some(Frame::Leaf { nil: false, .. }) => push_text(&mut self.batch.text, bytes),
            Some(Frame::Capture { .. }) => push_text(&mut self.scratch, bytes),
            Some(Frame::Extra { nil: false }) => push_text(&mut self.extra_text, bytes),
            _ => {
                // Text outside the document element is an error, raised at the next markup
                // (or the end) so that it does not depend on where the input was split.
                if matches!(self.doc, Doc::Prolog | Doc::Closed)
                    && self.stray.is_none()
                    && !bytes.iter().all(|&b| is_xml_space(b))
                {
                    self.stray = Some(at);
                }
            }
        }
        Ok(())
    }

    /// An entity or character reference (`&amp;`, `&#x16;`).
    fn reference(
        &mut self,
        r: &quick_xml::events::BytesRef<'_>,
        at: u64,
    ) -> Result<(), DecodeError> {
        let name: &str = r;
        let mut buf = [0u8; 4];
        let resolved: &str = match name {
            "amp" => "&",
            "lt" => "<",
            "gt" => ">",
            "quot" => "\"",
            "apos" => "'",
            _ if name.starts_with('#') => {
                let code = match name.as_bytes().get(1) {
                    Some(b'x') => u32::from_str_radix(&name[2..], 16).ok(),
                    _ => name[1..].parse::<u32>().ok(),
                }
                .filter(|_| name.len() > 1 && !name[1..].starts_with(['+', '-']))
                .filter(|_| !name[2.min(name.len())..].starts_with(['+', '-']));
                let Some(code) = code else {
                    return Err(DecodeError::BadCharRef {
                        report: self.report.id,
                        offset: at,
                        reference: excerpt(name.as_bytes()),
                    });
                };
                if code < 0x20 && !matches!(code, 0x9 | 0xA | 0xD) {
                    // A control character XML 1.0 forbids: dropped and counted.
                    self.stripped += 1;
                    if self.text_run == 0 {
                        self.text_run_start = at;
                    }
                    return Ok(());
                }
                match char::from_u32(code) {
                    Some(c) => c.encode_utf8(&mut buf),
                    None => {
                        return Err(DecodeError::BadCharRef {
                            report: self.report.id,
                            offset: at,
                            reference: excerpt(name.as_bytes()),
                        })
                    }
                }
            }
            _ => {
                return Err(DecodeError::UnknownEntity {
                    report: self.report.id,
                    offset: at,
                    name: excerpt(name.as_bytes()),
                })
            }
        };
        // A resolved reference is text, but a CR from `&#xD;` is kept (no line-end
        // normalisation applies to it).
        if resolved == "\r" {
            if let Some(Frame::Leaf { nil: false, .. }) = self.stack.last() {
                self.text_run += 1;
                self.batch.text.push(b'\r');
                return Ok(());
            }
        }
        self.text(resolved.as_bytes(), at)
    }
}

/// XML whitespace, as quick-xml trims it.
#[inline]
fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Appends character data with XML 1.0 line-end normalisation (CR LF and lone CR become LF).
#[inline]
fn push_text(out: &mut Vec<u8>, bytes: &[u8]) {
    match memchr::memchr(b'\r', bytes) {
        None => out.extend_from_slice(bytes),
        Some(_) => {
            let mut i = 0;
            while i < bytes.len() {
                let b = bytes[i];
                if b == b'\r' {
                    out.push(b'\n');
                    if bytes.get(i + 1) == Some(&b'\n') {
                        i += 1;
                    }
                } else {
                    out.push(b);
                }
                i += 1;
            }
        }
    }
}

#[inline]
/// Another report of the catalog (not one sharing this report's answer) that `is` picks.
fn other_report(is: impl Fn(&Report) -> bool) -> Option<&'static Report> {
    cake_catalog::REPORTS.iter().copied().find(|r| is(r))
}

/// The API version of a Cake namespace (`http://cakemarketing.com/api/12/`).
fn api_version(ns: &str) -> Option<u16> {
    let rest = ns.trim().strip_prefix("http://cakemarketing.com/")?;
    let rest = rest.strip_prefix("affiliates/").unwrap_or(rest);
    rest.strip_prefix("api/")?
        .trim_end_matches('/')
        .parse()
        .ok()
}

fn local_name(qname: &[u8]) -> &[u8] {
    match memchr::memchr(b':', qname) {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |e| e + 1);
    &b[..end]
}

/// `xsi:nil="true"` among the element's attributes.
#[inline]
fn is_nil(e: &BytesStart<'_>) -> bool {
    let raw = e.attributes_raw().as_bytes();
    if raw.len() < 8
        || !raw
            .windows(3)
            .any(|w| w[0] == b'n' && w[1] == b'i' && w[2] == b'l')
    {
        return false;
    }
    e.attributes().with_checks(false).flatten().any(|a| {
        let key: &str = a.key.as_ref();
        local_name(key.as_bytes()) == b"nil" && matches!(a.value.trim(), "true" | "1")
    })
}

/// `<!DOCTYPE html` at the start of `b`.
fn is_html_doctype(b: &[u8]) -> bool {
    b.len() >= 9 && b[..9].eq_ignore_ascii_case(b"<!DOCTYPE") && is_html_doctype_content(&b[9..])
}

/// The content of a DOCTYPE event (after `<!DOCTYPE`) names `html`.
fn is_html_doctype_content(b: &[u8]) -> bool {
    let b = b
        .strip_prefix(b"DOCTYPE")
        .or_else(|| b.strip_prefix(b"doctype"))
        .unwrap_or(b);
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let rest = &b[start..];
    rest.len() >= 4
        && rest[..4].eq_ignore_ascii_case(b"html")
        && rest.get(4).is_none_or(|c| !c.is_ascii_alphanumeric())
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn cut(s: &str) -> String {
    excerpt(s.as_bytes())
}

fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}
