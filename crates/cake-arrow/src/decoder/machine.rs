//! The state machine: elements open and close frames, a row's fields go to their slots, rows
//! and batches complete.

use super::*;

impl Decoder {
    pub(super) fn open_name(&self, i: usize) -> String {
        let start = if i == 0 { 0 } else { self.name_ends[i - 1] };
        String::from_utf8_lossy(&self.names[start..self.name_ends[i]]).into_owned()
    }

    #[inline]
    pub(super) fn start(
        &mut self,
        e: &BytesStart<'_>,
        at: u64,
        empty: bool,
    ) -> Result<(), DecodeError> {
        self.text_run = 0;
        if e.len() > self.options.max_text_bytes {
            return Err(self.too_large(at));
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
    pub(super) fn child_frame(
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

    #[inline]
    pub(super) fn capture(&mut self, field: Field, e: &BytesStart<'_>) -> Frame {
        self.scratch.clear();
        Frame::Capture {
            field,
            nil: is_nil(e),
        }
    }

    #[inline]
    pub(super) fn enter_node(&mut self, node: NodeId, e: &BytesStart<'_>) -> Frame {
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

    #[inline]
    pub(super) fn begin_row(&mut self) -> Result<(), DecodeError> {
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

    /// Counts an element the catalog does not know; an error in strict mode.
    #[cold]
    pub(super) fn drift(
        &mut self,
        parent: Option<NodeId>,
        local: &[u8],
    ) -> Result<(), DecodeError> {
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
    pub(super) fn end(&mut self, qname: &[u8], at: u64) -> Result<(), DecodeError> {
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
    pub(super) fn close(&mut self, frame: Frame) -> Result<(), DecodeError> {
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
                let reason = self.fault_reason.as_deref();
                return Err(self.soap_fault(reason.unwrap_or("(no reason given)")));
            }
            _ => {}
        }
        Ok(())
    }

    /// Ends one repeated element of a list group: lists that had no item in it get a null
    /// item, so the group's parallel lists stay aligned.
    #[inline]
    pub(super) fn close_item(&mut self, group: u32) {
        for &l in &self.map.groups[group as usize].lists {
            if !self.seen[l as usize] {
                self.batch.items[l as usize].push(Span::ABSENT);
            }
            self.seen[l as usize] = false;
        }
    }

    #[inline]
    pub(super) fn end_row(&mut self) -> Result<(), DecodeError> {
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

    pub(super) fn flush(&mut self) -> Result<(), DecodeError> {
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

    #[inline]
    pub(super) fn store_field(&mut self, field: Field, nil: bool) -> Result<(), DecodeError> {
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

    /// True when character data at this point is kept (a column's value or an envelope
    /// field), so whitespace matters.
    #[inline]
    pub(super) fn keeps_text(&self) -> bool {
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
    pub(super) fn text(&mut self, bytes: &[u8], at: u64) -> Result<(), DecodeError> {
        if bytes.is_empty() {
            return Ok(());
        }
        if self.text_run == 0 {
            self.text_run_start = at;
        }
        self.text_run += bytes.len() as u64;
        if self.text_run > self.options.max_text_bytes as u64 {
            return Err(self.too_large(self.text_run_start));
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
    #[inline]
    pub(super) fn reference(
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

/// Appends character data with XML 1.0 line-end normalisation (CR LF and lone CR become LF).
#[inline]
pub(super) fn push_text(out: &mut Vec<u8>, bytes: &[u8]) {
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
pub(super) fn local_name(qname: &[u8]) -> &[u8] {
    match memchr::memchr(b':', qname) {
        Some(i) => &qname[i + 1..],
        None => qname,
    }
}

#[inline]
pub(super) fn trim_end(b: &[u8]) -> &[u8] {
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(0, |e| e + 1);
    &b[..end]
}

/// `xsi:nil="true"` among the element's attributes.
#[inline]
pub(super) fn is_nil(e: &BytesStart<'_>) -> bool {
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
