//! Rows found where the catalog does not put them, and bodies whose rows were not found.
//!
//! Sources disagree on some layouts (Verticals v1 is a bare list of `<Vertical>` under
//! `VerticalsResult`; the catalog's v2 guess is a `verticals/vertical` collection). An element
//! of the content that is neither the envelope, the collection nor the row is read as:
//! - the collection in another case;
//! - a row under another name or case (`Vertical` for `vertical`), when its first child is an
//!   element of the catalog's row (`vertical_id`): the row is unambiguous by its column names;
//! - a wrapper of rows, when its child is the row element in any case (`traffic/Traffic`);
//! - otherwise a wrapper, whose children are looked at the same way, three levels deep.
//!
//! Rows read so are reported as layout drift ([`crate::DecodeSummary::layout`]; refused in
//! strict mode). A body in which no row was found but elements that look like rows were (they
//! repeat, or hold an element of the catalog's row) fails: the table would be empty although
//! the body is not.

use super::*;

/// How deep below the content rows are looked for.
const MAX_PROBE: u8 = 3;

impl Decoder {
    /// An element of the content (or of the collection) that is neither the envelope, nor the
    /// collection, nor the row.
    pub(super) fn unplaced_child(&mut self, local: &[u8], depth: u8) -> Result<Frame, DecodeError> {
        let response = &self.report.response;
        let in_content = matches!(self.stack.last(), Some(Frame::Content));
        if in_content
            && response
                .collection
                .is_some_and(|c| local.eq_ignore_ascii_case(c.as_bytes()))
        {
            self.note_layout(format!(
                "rows are in <{}> (the catalog's collection is <{}>)",
                String::from_utf8_lossy(local),
                response.collection.unwrap_or_default()
            ))?;
            return Ok(Frame::Collection);
        }
        self.probe_sibling(local);
        Ok(Frame::Probe {
            depth,
            children: false,
        })
    }

    /// A child of an element that may be a row under another name or a wrapper of rows.
    pub(super) fn probe_child(
        &mut self,
        local: &[u8],
        depth: u8,
        e: &BytesStart<'_>,
    ) -> Result<Frame, DecodeError> {
        let first = match self.stack.last_mut() {
            Some(Frame::Probe { children, .. }) => !std::mem::replace(children, true),
            _ => false,
        };
        if self.map.is_row_child(local) {
            self.probe_row_like = true;
            if first {
                // The element is a row under another name: its frame becomes the row's.
                let name = self.open_name(self.stack.len() - 1);
                self.stack.pop();
                self.begin_row()?;
                self.stack.push(Frame::Row);
                self.note_layout(format!(
                    "rows are <{}> elements (the catalog's row is <{}>)",
                    String::from_utf8_lossy(local_name(name.as_bytes())),
                    self.report.response.row
                ))?;
                return self.child_frame(Frame::Row, local, e);
            }
        }
        if local.eq_ignore_ascii_case(self.report.response.row.as_bytes()) {
            let wrapper = self.open_name(self.stack.len() - 1);
            self.begin_row()?;
            self.note_layout(format!(
                "rows are <{}> elements inside <{}> (the catalog's layout is {})",
                String::from_utf8_lossy(local),
                String::from_utf8_lossy(local_name(wrapper.as_bytes())),
                self.catalog_layout()
            ))?;
            return Ok(Frame::Row);
        }
        self.probe_sibling(local);
        if depth >= MAX_PROBE {
            return Ok(Frame::Skip);
        }
        Ok(Frame::Probe {
            depth: depth + 1,
            children: false,
        })
    }

    /// Notes a probed element's name: one that repeats its previous sibling's looks like a row.
    fn probe_sibling(&mut self, local: &[u8]) {
        let depth = self.stack.len();
        if self.probe_last.0 == depth && self.probe_last.1 == local {
            self.probe_row_like = true;
        }
        self.probe_last = (depth, local.to_vec());
    }

    /// A probed element ends without having become a row.
    pub(super) fn close_probe(&mut self, children: bool) -> Result<(), DecodeError> {
        // The element's name is still on the name stack.
        let qname = self.open_name(self.stack.len());
        let local = String::from_utf8_lossy(local_name(qname.as_bytes())).into_owned();
        if children {
            self.unplaced += 1;
            if self.first_unplaced.is_none() {
                self.first_unplaced = Some(local.clone());
            }
        }
        // Counted as an unknown element where it sits (refused in strict mode).
        let collection = matches!(self.stack.last(), Some(Frame::Collection));
        let mut path = String::new();
        if collection {
            if let Some(c) = self.report.response.collection {
                path.push_str(c);
                path.push('/');
            }
        }
        path.push_str(&local);
        if self.options.strict && !matches!(self.stack.last(), Some(Frame::Probe { .. })) {
            return Err(DecodeError::UnknownElement {
                report: self.report.id,
                element: path,
                row: None,
            });
        }
        if !matches!(self.stack.last(), Some(Frame::Probe { .. })) {
            self.count_unknown(path);
        }
        Ok(())
    }

    /// Where the catalog puts the rows: `collection/row`, or `row` for a bare list.
    fn catalog_layout(&self) -> String {
        let r = &self.report.response;
        match r.collection {
            Some(c) => format!("<{c}>/<{}>", r.row),
            None => format!("<{}> directly in the document", r.row),
        }
    }

    /// Records the first layout drift (an error in strict mode).
    fn note_layout(&mut self, detail: String) -> Result<(), DecodeError> {
        if self.options.strict {
            return Err(DecodeError::Layout {
                report: self.report.id,
                detail,
            });
        }
        if self.layout.is_none() {
            self.layout = Some(detail);
        }
        Ok(())
    }

    /// At the end of a document without a row: an error when it held elements that look like
    /// rows.
    pub(super) fn check_rows_found(&self) -> Result<(), DecodeError> {
        if self.rows > 0 || !self.probe_row_like || self.unplaced == 0 {
            return Ok(());
        }
        let first = self.first_unplaced.as_deref().unwrap_or("?");
        Err(DecodeError::RowsNotFound {
            report: self.report.id,
            found: format!(
                "{} element(s) with children outside the catalog's layout (the first is <{first}>)",
                self.unplaced
            ),
            expected: self.catalog_layout(),
        })
    }
}
