//! Elements of a row that the catalog does not map, kept whole as the row's `_extra` JSON.

use super::*;

impl Decoder {
    /// Opens an element of the row's `_extra`: below the node `parent` (an element the catalog
    /// does not map), or, with `None`, below the `_extra` element open now.
    pub(super) fn begin_extra(
        &mut self,
        parent: Option<NodeId>,
        local: &[u8],
        e: &BytesStart<'_>,
    ) -> Frame {
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
    pub(super) fn end_extra(&mut self, nil: bool) {
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
    #[inline]
    pub(super) fn take_row_extra(&mut self) -> Option<String> {
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
}
