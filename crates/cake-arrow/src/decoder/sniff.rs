//! Is it XML at all? The first significant byte decides, an HTML page is recognised by its
//! DOCTYPE or `<html>` element, and a body that is neither is described by its first bytes.

use super::*;

impl Decoder {
    /// Decides from the first bytes whether the body is XML at all: the first byte after an
    /// optional byte order mark and whitespace must be `<`.
    pub(super) fn sniff(&mut self) {
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

    /// The error for a body that is not XML, from its first bytes.
    pub(super) fn body_error(&self) -> DecodeError {
        let text = String::from_utf8_lossy(&self.head);
        if self.doc == Doc::Html {
            let shown = cake_catalog::text::page_summary(&text);
            DecodeError::Html {
                report: self.report.id,
                excerpt: self.excerpt(shown.as_bytes()),
            }
        } else {
            DecodeError::NotXml {
                report: self.report.id,
                excerpt: self.excerpt(collapse(&text).as_bytes()),
            }
        }
    }
}

/// `<!DOCTYPE html` at the start of `b`.
pub(super) fn is_html_doctype(b: &[u8]) -> bool {
    b.len() >= 9 && b[..9].eq_ignore_ascii_case(b"<!DOCTYPE") && is_html_doctype_content(&b[9..])
}

/// The content of a DOCTYPE event (after `<!DOCTYPE`) names `html`.
pub(super) fn is_html_doctype_content(b: &[u8]) -> bool {
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

pub(super) fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}
