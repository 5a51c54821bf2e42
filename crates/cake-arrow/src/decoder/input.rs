//! Input buffering: chunks of any size in, windows that end after a `>` out to quick-xml, the
//! tail of an event cut by a window kept for the next push; the parser's errors placed at the
//! byte where the event starts.
//!
//! **Encodings.** Cake answers in UTF-8. A body whose byte order mark or XML declaration says
//! otherwise (`encoding="ISO-8859-1"`, UTF-16 with its mark) is transcoded to UTF-8 with
//! `encoding_rs` (WHATWG labels: ISO-8859-1 reads as windows-1252, its superset) before it is
//! parsed; a label nothing decodes is refused. Bytes are never read in an encoding other than
//! the one the body declares.

use super::*;

/// Bytes held at most while the XML declaration is read.
const DECLARATION: usize = 1024;

/// The body's encoding, as far as it is known.
pub(super) enum Encoding {
    /// Not known yet: the first bytes, held until the declaration (or its absence) tells.
    Undecided(Vec<u8>),
    Utf8,
    /// Transcoded to UTF-8 as it arrives.
    Transcode(Box<encoding_rs::Decoder>),
}

impl Default for Encoding {
    fn default() -> Self {
        Encoding::Undecided(Vec::new())
    }
}

/// What the first bytes of a body say of its encoding: `None` until they say enough.
fn declared(head: &[u8], done: bool) -> Option<Result<Encoding, String>> {
    if head.starts_with(BOM) {
        return Some(Ok(Encoding::Utf8));
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Some(Ok(Encoding::Transcode(Box::new(
            encoding_rs::UTF_16LE.new_decoder_with_bom_removal(),
        ))));
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Some(Ok(Encoding::Transcode(Box::new(
            encoding_rs::UTF_16BE.new_decoder_with_bom_removal(),
        ))));
    }
    const OPEN: &[u8] = b"<?xml";
    if head.len() < OPEN.len() {
        return (done || !OPEN.starts_with(head)).then_some(Ok(Encoding::Utf8));
    }
    if !head.starts_with(OPEN) {
        return Some(Ok(Encoding::Utf8));
    }
    let Some(end) = head.windows(2).position(|w| w == b"?>") else {
        return (done || head.len() >= DECLARATION).then_some(Ok(Encoding::Utf8));
    };
    let decl = &head[..end];
    let Some(at) = decl.windows(8).position(|w| w == b"encoding") else {
        return Some(Ok(Encoding::Utf8));
    };
    let rest = &decl[at + 8..];
    let rest = rest
        .iter()
        .position(|&b| b == b'=')
        .map_or(&[][..], |i| &rest[i + 1..]);
    let rest = rest.trim_ascii_start();
    let Some((&quote, rest)) = rest
        .split_first()
        .filter(|(q, _)| matches!(q, b'"' | b'\''))
    else {
        return Some(Ok(Encoding::Utf8));
    };
    let label = rest.split(|&b| b == quote).next().unwrap_or_default();
    Some(match encoding_rs::Encoding::for_label(label) {
        None => Err(String::from_utf8_lossy(label).into_owned()),
        // UTF-8, or UTF-16 declared in bytes that are not UTF-16 (no mark, an ASCII
        // declaration): the bytes are what they are.
        Some(e)
            if e == encoding_rs::UTF_8
                || e == encoding_rs::UTF_16LE
                || e == encoding_rs::UTF_16BE =>
        {
            Ok(Encoding::Utf8)
        }
        Some(e) => Ok(Encoding::Transcode(Box::new(
            e.new_decoder_without_bom_handling(),
        ))),
    })
}

/// `src` transcoded to UTF-8 (`last` at the end of the body).
fn transcode(decoder: &mut encoding_rs::Decoder, src: &[u8], last: bool) -> Vec<u8> {
    let capacity = decoder
        .max_utf8_buffer_length(src.len())
        .unwrap_or(src.len() * 3 + 16);
    let mut out = String::with_capacity(capacity);
    let _ = decoder.decode_to_string(src, &mut out, last);
    out.into_bytes()
}

impl Decoder {
    /// Feeds bytes in the body's own encoding: held until the encoding is known, then
    /// transcoded to UTF-8 when it is another one.
    pub(super) fn push_decoded(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
        match &mut self.encoding {
            Encoding::Utf8 => self.push_inner(chunk),
            Encoding::Transcode(decoder) => {
                let out = transcode(decoder, chunk, false);
                self.push_inner(&out)
            }
            Encoding::Undecided(held) => {
                held.extend_from_slice(chunk);
                let Some(decision) = declared(held, false) else {
                    return Ok(());
                };
                self.decided(decision)
            }
        }
    }

    /// The encoding is known: the bytes held go through it.
    fn decided(&mut self, decision: Result<Encoding, String>) -> Result<(), DecodeError> {
        let encoding = decision.map_err(|label| DecodeError::UnknownEncoding {
            report: self.report.id,
            label: self.excerpt(label.as_bytes()),
        })?;
        let held = match std::mem::replace(&mut self.encoding, encoding) {
            Encoding::Undecided(held) => held,
            _ => Vec::new(),
        };
        self.push_decoded(&held)
    }

    /// The end of the body: what the encoding still holds.
    pub(super) fn flush_encoding(&mut self) -> Result<(), DecodeError> {
        match &mut self.encoding {
            Encoding::Utf8 => Ok(()),
            Encoding::Transcode(decoder) => {
                let out = transcode(decoder, &[], true);
                self.encoding = Encoding::Utf8;
                self.push_inner(&out)
            }
            Encoding::Undecided(held) => {
                let decision = declared(held, true).unwrap_or(Ok(Encoding::Utf8));
                self.decided(decision)
            }
        }
    }

    pub(super) fn push_inner(&mut self, chunk: &[u8]) -> Result<(), DecodeError> {
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
                self.parse_pending(old + i + 1)?;
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
                self.parse_pending(i + 1)?;
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

    /// Parses the buffered input up to `end` (just after a `>`) and keeps what an event cut by
    /// that end left over.
    pub(super) fn parse_pending(&mut self, end: usize) -> Result<(), DecodeError> {
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
        Ok(())
    }

    pub(super) fn finish_inner(&mut self) -> Result<(), DecodeError> {
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
        self.check_rows_found()?;
        if self.batch.rows > 0 {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn oversized_pending(&self) -> DecodeError {
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
        self.too_large(offset)
    }

    /// Parses one window of input that ends after a `>` (or at the end of the input when
    /// `last`). Returns how many bytes were consumed: all of them, or up to the start of an
    /// event that the window cut.
    #[inline]
    pub(super) fn parse_window(&mut self, buf: &[u8], last: bool) -> Result<usize, DecodeError> {
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
    pub(super) fn reader_error(
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
    pub(super) fn event(&mut self, event: Event<'_>, at: u64) -> Result<(), DecodeError> {
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
    pub(super) fn stray_error(&self) -> DecodeError {
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

    #[cold]
    pub(super) fn too_large(&self, offset: u64) -> DecodeError {
        DecodeError::TextTooLarge {
            report: self.report.id,
            offset,
            max: self.options.max_text_bytes,
        }
    }

    /// Comments, processing instructions and declarations are skipped, within the size limit.
    pub(super) fn markup_size(&self, len: usize, at: u64) -> Result<(), DecodeError> {
        if len > self.options.max_text_bytes {
            return Err(self.too_large(at));
        }
        Ok(())
    }
}

/// XML whitespace, as quick-xml trims it.
#[inline]
pub(super) fn is_xml_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}
