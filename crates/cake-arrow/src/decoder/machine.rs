//! The state machine: elements open and close frames, records of each level begin and end, a
//! row's values go to their slots once each, rows and batches complete.

use super::*;

/// Why a value is kept aside in `_rejected` when its element repeats where one value goes.
const REPEATED: &str = "the element appears again where one value goes: the first value is kept";

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
        self.names.extend_from_slice(qname.as_bytes());
        self.name_ends.push(self.names.len());
        self.stack.push(frame);
        if empty {
            self.pop_frame()?;
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
                    Some(node) => self.enter_node(node, e)?,
                    None => {
                        self.drift(Some(parent_node), local)?;
                        self.begin_extra(local, e)?
                    }
                }
            }
            Frame::Skip => Frame::Skip,
            Frame::Leaf { node, .. } => {
                self.drift(Some(node), local)?;
                self.begin_extra(local, e)?
            }
            Frame::Subtree { .. } => self.open_subtree(local, e)?,
            Frame::Collection => {
                if local == self.report.response.row.as_bytes() {
                    self.begin_row()?;
                    Frame::Row
                } else {
                    self.unplaced_child(local, 1)?
                }
            }
            Frame::Probe { depth, .. } => self.probe_child(local, depth, e)?,
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
                        self.unplaced_child(local, 1)?
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
    pub(super) fn enter_node(
        &mut self,
        node: NodeId,
        e: &BytesStart<'_>,
    ) -> Result<Frame, DecodeError> {
        let nil = is_nil(e);
        if let Some(level) = self.map.nodes[node as usize].item_of {
            self.begin_record(level);
        }
        let n = &self.map.nodes[node as usize];
        if !n.container_of.is_empty() && !nil {
            for &l in n.container_of.iter() {
                self.present_now[l as usize] = true;
            }
        }
        Ok(match n.kind {
            NodeKind::Container => Frame::Node(node),
            NodeKind::Value(_) => Frame::Leaf {
                node,
                start: self.batch.text.len() as u32,
                nil,
            },
            NodeKind::Json(slot) => self.begin_json(node, slot, nil),
            NodeKind::Withheld => {
                let path = &self.map.nodes[node as usize].path;
                match self.withheld.get_mut(path.as_str()) {
                    Some(n) => *n += 1,
                    None => {
                        self.withheld.insert(path.clone(), 1);
                    }
                }
                Frame::Skip
            }
        })
    }

    /// Begins a record of `level`: every value of the level starts absent, and the levels
    /// below start their lists for it.
    #[inline]
    pub(super) fn begin_record(&mut self, level: LevelId) {
        let l = level as usize;
        let (parent_record, pos) = match self.map.levels[l].parent {
            Some(p) => {
                let records = self.batch.levels[p as usize].records() as u32;
                let mine = self.batch.levels[l].records() as u32;
                (records.saturating_sub(1), mine - self.start_count[l])
            }
            None => (0, 0),
        };
        let data = &mut self.batch.levels[l];
        for v in &mut data.values {
            v.push(Span::ABSENT);
        }
        data.row.push(self.batch.rows as u32);
        data.parent.push(parent_record);
        data.pos.push(pos);
        for &c in &self.map.levels[l].children {
            let c = c as usize;
            self.present_now[c] = self.map.levels[c].always_present;
            self.start_count[c] = self.batch.levels[c].records() as u32;
        }
    }

    /// Ends the record of `level` open now: the lists below it end.
    #[inline]
    pub(super) fn end_record(&mut self, level: LevelId) {
        for &c in &self.map.levels[level as usize].children {
            let c = c as usize;
            let records = self.batch.levels[c].records() as u32;
            let data = &mut self.batch.levels[c];
            data.ends.push(records);
            data.present.push(self.present_now[c]);
        }
    }

    #[inline]
    pub(super) fn begin_row(&mut self) -> Result<(), DecodeError> {
        if let Some(detail) = self.other_version.take() {
            return Err(self.wrong_answer(detail));
        }
        self.in_row = true;
        // The row's frame is pushed right after this.
        self.row_depth = self.stack.len() + 1;
        self.row_text_start = self.batch.text.len();
        self.row_extra.clear();
        self.extra_bytes = 0;
        self.extra_truncated = false;
        self.batch.kept_aside.push(Vec::new());
        self.begin_record(0);
        Ok(())
    }

    /// Counts an element the catalog does not know; an error in strict mode.
    #[cold]
    pub(super) fn drift(
        &mut self,
        parent: Option<NodeId>,
        local: &[u8],
    ) -> Result<(), DecodeError> {
        let mut path = String::new();
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
                element: path,
                row,
            });
        }
        self.count_unknown(path);
        Ok(())
    }

    /// Counts one occurrence of an unknown element.
    pub(super) fn count_unknown(&mut self, path: String) {
        self.unknown.add(&path, 1);
    }

    #[inline]
    pub(super) fn end(&mut self, qname: &[u8], at: u64) -> Result<(), DecodeError> {
        self.text_run = 0;
        let Some(&end) = self.name_ends.last() else {
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
        let start = if self.name_ends.len() > 1 {
            self.name_ends[self.name_ends.len() - 2]
        } else {
            0
        };
        let qname = trim_end(qname);
        if !same(&self.names[start..end], qname) {
            return Err(DecodeError::Mismatched {
                report: self.report.id,
                offset: at,
                expected: String::from_utf8_lossy(&self.names[start..end]).into_owned(),
                found: String::from_utf8_lossy(qname).into_owned(),
            });
        }
        self.pop_frame()
    }

    /// Closes the element open now.
    fn pop_frame(&mut self) -> Result<(), DecodeError> {
        let frame = self.stack.pop().unwrap_or(Frame::Skip);
        self.close(frame)?;
        self.name_ends.pop();
        let start = self.name_ends.last().copied().unwrap_or(0);
        if frame == Frame::Row && self.row_name != self.names[start..] {
            self.row_name.clear();
            self.row_name.extend_from_slice(&self.names[start..]);
        }
        self.names.truncate(start);
        if self.stack.is_empty() && self.doc == Doc::Open {
            self.doc = Doc::Closed;
        }
        Ok(())
    }

    /// Completes an element (its frame is already off the stack; its name is still on it).
    #[inline]
    pub(super) fn close(&mut self, frame: Frame) -> Result<(), DecodeError> {
        match frame {
            Frame::Leaf { node, start, nil } => {
                let n = &self.map.nodes[node as usize];
                let item = n.item_of;
                let NodeKind::Value(slot) = n.kind else {
                    return Ok(());
                };
                let span = if nil {
                    self.batch.text.truncate(start as usize);
                    Span::NIL
                } else {
                    if self.batch.text.len() > (u32::MAX - 2) as usize {
                        return Err(DecodeError::BatchTooLarge {
                            report: self.report.id,
                            row: self.rows + 1,
                        });
                    }
                    Span {
                        start,
                        len: (self.batch.text.len() - start as usize) as u32,
                    }
                };
                self.set_value(slot, span, start)?;
                if let Some(level) = item {
                    self.end_record(level);
                }
            }
            Frame::Node(node) => {
                if let Some(level) = self.map.nodes[node as usize].item_of {
                    self.end_record(level);
                }
            }
            Frame::Row => self.end_row()?,
            Frame::Subtree { nil } => self.close_subtree(nil)?,
            Frame::Capture { field, nil } => self.store_field(field, nil)?,
            Frame::Probe { children, .. } => self.close_probe(children)?,
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

    /// Puts a value in its slot, once: a second value of the same slot in the same record is
    /// kept aside in `_rejected` (the first stays), or fails the row for a key column.
    #[inline]
    pub(super) fn set_value(
        &mut self,
        slot: Slot,
        span: Span,
        start: u32,
    ) -> Result<(), DecodeError> {
        let level = slot.level as usize;
        let values = &mut self.batch.levels[level].values[slot.value as usize];
        match values.last_mut() {
            Some(last) if *last == Span::ABSENT => {
                *last = span;
                Ok(())
            }
            Some(first) => {
                let first = *first;
                self.repeated_value(slot, first, span, start)
            }
            None => Ok(()),
        }
    }

    #[cold]
    fn repeated_value(
        &mut self,
        slot: Slot,
        first: Span,
        second: Span,
        start: u32,
    ) -> Result<(), DecodeError> {
        let def = self.map.levels[slot.level as usize].values[slot.value as usize];
        let text = |s: Span| -> &[u8] {
            if s.is_value() {
                &self.batch.text[s.start as usize..(s.start + s.len) as usize]
            } else {
                &[]
            }
        };
        if def.key {
            return Err(DecodeError::RepeatedKey {
                report: self.report.id,
                column: def.column.name,
                row: self.rows + 1,
                first: self.excerpt(text(first)),
                second: self.excerpt(text(second)),
            });
        }
        let second_len = if second.is_value() {
            second.len as usize
        } else {
            0
        };
        let record = self.batch.levels[slot.level as usize]
            .records()
            .saturating_sub(1);
        let list = self.map.levels[slot.level as usize].list_group;
        let (key, column) = crate::batch::reject_names(
            &self.map,
            &self.batch.levels,
            def.column,
            slot.level,
            record,
            list,
        );
        let keep = self.keep_aside(second_len + key.len());
        let value = match keep {
            Ok(true) if second.is_value() => {
                let at = second.start as usize;
                String::from_utf8_lossy(&self.batch.text[at..at + second_len]).into_owned()
            }
            _ => String::new(),
        };
        // The second value's text is the tail of the buffer: it goes.
        self.batch.text.truncate(start as usize);
        if !keep? {
            return Ok(());
        }
        if let Some(row) = self.batch.kept_aside.last_mut() {
            row.push(crate::batch::Reject {
                key,
                column,
                list,
                value,
                reason: REPEATED,
            });
        }
        Ok(())
    }

    /// Counts `bytes` kept aside for the row (its `_extra` and repeated values) against the
    /// row's bound: past it the row fails, or, with `truncate_extra`, what follows is dropped
    /// and the row says so. True when the bytes may be kept.
    pub(super) fn keep_aside(&mut self, bytes: usize) -> Result<bool, DecodeError> {
        self.extra_bytes += bytes;
        if self.extra_truncated {
            return Ok(false);
        }
        if self.extra_bytes > self.options.max_extra_bytes {
            if self.options.truncate_extra {
                self.extra_truncated = true;
                return Ok(false);
            }
            return Err(DecodeError::ExtraTooLarge {
                report: self.report.id,
                row: self.rows + 1,
                max: self.options.max_extra_bytes,
            });
        }
        Ok(true)
    }

    #[inline]
    pub(super) fn end_row(&mut self) -> Result<(), DecodeError> {
        self.end_record(0);
        let extra = self.take_row_extra();
        self.batch.extra.push(extra);
        self.in_row = false;
        self.batch.rows += 1;
        self.rows += 1;
        if self.batch.rows >= self.options.batch_size || self.batch.text.len() > TEXT_FLUSH {
            self.flush()?;
        }
        Ok(())
    }

    pub(super) fn flush(&mut self) -> Result<(), DecodeError> {
        let scrubber = self.scrubber.clone();
        let excerpt = move |b: &[u8]| crate::error::excerpt_with(b, scrubber.as_ref());
        let target = crate::batch::Target {
            report: self.report,
            map: &self.map,
            schema: &self.schema,
        };
        let batch = self.batch.build(
            target,
            &mut self.zone,
            self.batch_first_row,
            &mut self.rejects,
            &excerpt,
        )?;
        // Counted here, reported once per column by whoever runs the decoder (a run's
        // summary), not once per response.
        for row in &self.rejects.rows {
            for r in row {
                let entry = self
                    .rejected
                    .entry(r.column.clone())
                    .or_insert_with(|| Rejected {
                        count: 0,
                        example: excerpt(r.value.as_bytes()),
                        reason: r.reason.to_string(),
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
        let index = match field {
            Field::Success => Some(0),
            Field::Message => Some(1),
            Field::RowCount => Some(2),
            _ => None,
        };
        if let Some(i) = index {
            let name = ["success", "message", "row_count"][i];
            if self.envelope_seen[i] {
                let first = match i {
                    0 => self.envelope.success.map(|s| s.to_string()),
                    1 => self.envelope.message.clone(),
                    _ => self.envelope.row_count.map(|n| n.to_string()),
                }
                .unwrap_or_default();
                return Err(DecodeError::RepeatedEnvelope {
                    report,
                    field: name,
                    first: self.excerpt(first.as_bytes()),
                    second: self.excerpt(value.as_bytes()),
                });
            }
            self.envelope_seen[i] = true;
        }
        let bad = |this: &Self, field: &'static str, reason: &str| DecodeError::Envelope {
            report,
            field,
            value: this.excerpt(value.as_bytes()),
            reason: reason.into(),
        };
        match field {
            Field::Success if !nil => {
                let v = crate::parse::trim(value.as_bytes());
                let success = crate::parse::parse_bool(v).map_err(|r| bad(self, "success", r))?;
                self.envelope.success = Some(success);
            }
            Field::Message if !nil => self.envelope.message = Some(value),
            Field::RowCount if !nil => {
                let v = crate::parse::trim(value.as_bytes());
                if !v.is_empty() {
                    let n = crate::parse::parse_int(v, 0, i64::MAX)
                        .map_err(|r| bad(self, "row_count", r))?;
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

    /// True when character data at this point is kept (a column's value, an envelope field or
    /// the text of a captured element), so whitespace matters.
    #[inline]
    pub(super) fn keeps_text(&self) -> bool {
        matches!(
            self.stack.last(),
            Some(
                Frame::Leaf { nil: false, .. }
                    | Frame::Capture { .. }
                    | Frame::Subtree { nil: false }
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
            Some(Frame::Leaf { nil: false, .. }) => {
                push_text(&mut self.batch.text, bytes);
                if self.batch.text.len() - self.row_text_start > self.options.max_row_bytes {
                    return Err(self.row_too_large());
                }
            }
            Some(Frame::Capture { .. }) => push_text(&mut self.scratch, bytes),
            Some(Frame::Subtree { nil: false }) => self.subtree_text(bytes)?,
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

    #[cold]
    pub(super) fn row_too_large(&self) -> DecodeError {
        DecodeError::RowTooLarge {
            report: self.report.id,
            row: self.rows + 1,
            max: self.options.max_row_bytes,
        }
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
                        reference: self.excerpt(name.as_bytes()),
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
                            reference: self.excerpt(name.as_bytes()),
                        })
                    }
                }
            }
            _ => {
                return Err(DecodeError::UnknownEntity {
                    report: self.report.id,
                    offset: at,
                    name: self.excerpt(name.as_bytes()),
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
