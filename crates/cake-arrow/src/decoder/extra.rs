//! Elements kept as JSON with their structure: the elements of a row the catalog does not map
//! (the row's `_extra`) and the elements of JSON columns.
//!
//! A captured element becomes its text (`null` for `xsi:nil`), or, when it has children, an
//! object of them: a child that repeats is an array of its contents in document order, and
//! text beside children is kept under `#text`. A row's `_extra` maps each unknown element's
//! path below the row to its content; the path names the repeated elements it runs through by
//! their position (`offer_contracts/offer_contract_info[1]/new_field`), and an unknown element
//! that occurs twice under the same path is an array of its contents.

use serde_json::{Map, Value};

use super::*;

/// Where a capture's JSON goes.
#[derive(Debug)]
enum Target {
    /// The row's `_extra`, under this path.
    Extra(String),
    /// A JSON column's value.
    Json(Slot),
}

/// One open element of a capture.
#[derive(Debug)]
struct Open {
    name: String,
    /// Where its text starts in the capture's text.
    text_start: usize,
    children: Vec<(String, Value)>,
    nil: bool,
}

/// A capture in progress: one subtree being turned into JSON.
#[derive(Debug)]
pub(super) struct Capture {
    target: Target,
    open: Vec<Open>,
    text: Vec<u8>,
}

impl Decoder {
    /// Opens an element of a row that the catalog does not map: the root of an `_extra` entry.
    pub(super) fn begin_extra(
        &mut self,
        local: &[u8],
        e: &BytesStart<'_>,
    ) -> Result<Frame, DecodeError> {
        let name = String::from_utf8_lossy(local).into_owned();
        if !self.keep_aside(name.len())? {
            return Ok(Frame::Skip);
        }
        let path = self.path_in_row(&name);
        self.capture = Some(Capture {
            target: Target::Extra(path),
            open: Vec::new(),
            text: Vec::new(),
        });
        self.open_capture(name, is_nil(e))
    }

    /// Opens the element of a JSON column.
    pub(super) fn begin_json(&mut self, node: NodeId, slot: Slot, nil: bool) -> Frame {
        let name = String::from_utf8_lossy(&self.map.nodes[node as usize].name).into_owned();
        self.capture = Some(Capture {
            target: Target::Json(slot),
            open: Vec::new(),
            text: Vec::new(),
        });
        match self.open_capture(name, nil) {
            Ok(frame) => frame,
            Err(_) => Frame::Skip,
        }
    }

    /// Opens an element inside the capture open now.
    pub(super) fn open_subtree(
        &mut self,
        local: &[u8],
        e: &BytesStart<'_>,
    ) -> Result<Frame, DecodeError> {
        let name = String::from_utf8_lossy(local).into_owned();
        self.charge(name.len())?;
        if self.extra_truncated && self.capturing_extra() {
            return Ok(Frame::Skip);
        }
        self.open_capture(name, is_nil(e))
    }

    fn open_capture(&mut self, name: String, nil: bool) -> Result<Frame, DecodeError> {
        let Some(capture) = &mut self.capture else {
            return Ok(Frame::Skip);
        };
        capture.open.push(Open {
            name,
            text_start: capture.text.len(),
            children: Vec::new(),
            nil,
        });
        Ok(Frame::Subtree { nil })
    }

    fn capturing_extra(&self) -> bool {
        matches!(
            self.capture,
            Some(Capture {
                target: Target::Extra(_),
                ..
            })
        )
    }

    /// Counts bytes of a capture: against the row's `_extra` bound for an unknown element,
    /// against the row's bound for a JSON column.
    fn charge(&mut self, bytes: usize) -> Result<(), DecodeError> {
        if self.capturing_extra() {
            self.keep_aside(bytes).map(|_| ())
        } else {
            Ok(())
        }
    }

    /// Text inside the capture open now.
    pub(super) fn subtree_text(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        self.charge(bytes.len())?;
        if self.extra_truncated && self.capturing_extra() {
            return Ok(());
        }
        if let Some(capture) = &mut self.capture {
            push_text(&mut capture.text, bytes);
            if !matches!(capture.target, Target::Extra(_))
                && capture.text.len() > self.options.max_row_bytes
            {
                return Err(self.row_too_large());
            }
        }
        Ok(())
    }

    /// Closes an element of the capture open now; the capture's root delivers its JSON.
    pub(super) fn close_subtree(&mut self, nil: bool) -> Result<(), DecodeError> {
        let Some(capture) = &mut self.capture else {
            return Ok(());
        };
        let Some(open) = capture.open.pop() else {
            return Ok(());
        };
        let text = &capture.text[open.text_start..];
        let value = if !open.children.is_empty() {
            let mut object = Map::new();
            for (name, value) in open.children {
                match object.get_mut(&name) {
                    None => {
                        object.insert(name, value);
                    }
                    // Arrays are only made by repetition: a repeated child's.
                    Some(Value::Array(items)) => items.push(value),
                    Some(existing) => {
                        let first = existing.take();
                        *existing = Value::Array(vec![first, value]);
                    }
                }
            }
            // Mixed content: the text beside the children is kept too.
            if text.iter().any(|b| !is_xml_space(*b)) {
                object.insert(
                    "#text".into(),
                    Value::String(String::from_utf8_lossy(text).into_owned()),
                );
            }
            Value::Object(object)
        } else if nil || open.nil {
            Value::Null
        } else {
            Value::String(String::from_utf8_lossy(text).into_owned())
        };
        capture.text.truncate(open.text_start);
        if let Some(parent) = capture.open.last_mut() {
            parent.children.push((open.name, value));
            return Ok(());
        }
        let Some(capture) = self.capture.take() else {
            return Ok(());
        };
        match capture.target {
            Target::Extra(path) => self.row_extra.push((path, value)),
            Target::Json(slot) if value.is_null() => {
                let start = self.batch.text.len() as u32;
                self.set_value(slot, Span::NIL, start)?;
            }
            Target::Json(slot) => {
                let start = self.batch.text.len();
                if serde_json::to_writer(&mut self.batch.text, &value).is_err() {
                    self.batch.text.truncate(start);
                }
                if self.batch.text.len() - self.row_text_start > self.options.max_row_bytes {
                    return Err(self.row_too_large());
                }
                let span = Span {
                    start: start as u32,
                    len: (self.batch.text.len() - start) as u32,
                };
                self.set_value(slot, span, start as u32)?;
            }
        }
        Ok(())
    }

    /// The path below the row of an element named `name` opened now: the open elements' names
    /// from the row down, each repeated one with its position (`tags/tag[2]/new`).
    fn path_in_row(&self, name: &str) -> String {
        let mut path = String::new();
        for i in self.row_depth..self.stack.len() {
            let qname = self.open_name(i);
            let local = String::from_utf8_lossy(local_name(qname.as_bytes())).into_owned();
            path.push_str(&local);
            let node = match self.stack[i] {
                Frame::Node(n) | Frame::Leaf { node: n, .. } => Some(n),
                _ => None,
            };
            let level = node.and_then(|n| self.map.nodes[n as usize].item_of);
            if let Some(level) = level.filter(|&l| l != 0) {
                let pos = self.batch.levels[level as usize]
                    .pos
                    .last()
                    .copied()
                    .unwrap_or(0);
                path.push_str(&format!("[{pos}]"));
            }
            path.push('/');
        }
        path.push_str(name);
        path
    }

    /// The row's extras as a JSON object, or `None` without any. Past its bound (with
    /// `truncate_extra`), the object says so and the row's `_rejected` tells its size.
    #[inline]
    pub(super) fn take_row_extra(&mut self) -> Option<String> {
        if self.row_extra.is_empty() && !self.extra_truncated {
            return None;
        }
        let mut object = Map::new();
        for (path, value) in self.row_extra.drain(..) {
            match object.get_mut(&path) {
                None => {
                    object.insert(path, value);
                }
                Some(Value::Array(items)) => items.push(value),
                Some(existing) => {
                    let first = existing.take();
                    *existing = Value::Array(vec![first, value]);
                }
            }
        }
        if self.extra_truncated {
            object.insert("#truncated".into(), Value::Bool(true));
            if let Some(row) = self.batch.kept_aside.last_mut() {
                row.push(crate::batch::Reject {
                    key: cake_catalog::EXTRA_COLUMN.into(),
                    column: cake_catalog::EXTRA_COLUMN.into(),
                    list: false,
                    value: format!("{} bytes", self.extra_bytes),
                    reason: "the row's elements outside the catalog pass the bound of _extra: \
                             what followed was dropped",
                });
            }
        }
        Some(Value::Object(object).to_string())
    }
}
