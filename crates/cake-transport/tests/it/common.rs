//! Test support: a handler that reads just enough of a Cake body to page (row elements,
//! `row_count`, `success`/`message`) without decoding values. The real decoder is another crate;
//! the transport is tested on its own.

use cake_transport::Class;
use std::sync::Mutex;

use cake_transport::{
    BodyError, HandlerFactory, PageHandler, PageOutcome, PageRequest, RowDates, RowKey,
};

/// Collects the text of one leaf element per row (an id) and the envelope.
pub struct Scan {
    row: &'static str,
    id: &'static str,
    body: Vec<u8>,
}

pub struct Ids(pub Vec<String>);

impl PageHandler for Scan {
    type Output = Ids;

    fn feed(&mut self, chunk: &[u8]) -> Result<(), BodyError> {
        self.body.extend_from_slice(chunk);
        Ok(())
    }

    fn finish(self) -> Result<PageOutcome<Ids>, BodyError> {
        let text = String::from_utf8(self.body)
            .map_err(|_| BodyError::refused(Class::NotCake, "not UTF-8"))?;
        if !text.trim_start().starts_with("<?xml") && !text.trim_start().starts_with('<') {
            return Err(BodyError::refused(Class::NotCake, "not XML"));
        }
        let root = text
            .split('<')
            .filter(|t| !t.starts_with('?') && !t.starts_with('/'))
            .nth(1)
            .and_then(|t| t.split([' ', '>', '/']).next())
            .unwrap_or_default()
            .to_string();
        if !text.trim_end().ends_with(&format!("</{root}>")) {
            return Err(BodyError::refused(
                Class::Unavailable,
                "the document is not complete",
            ));
        }
        if text.contains("<success>false</success>") {
            let message = between(&text, "<message>", "</message>").unwrap_or_default();
            return Err(match message.as_str() {
                "Restricted" => BodyError::refused(Class::Unavailable, message),
                "Invalid API Key" => BodyError::refused(Class::Authentication, message),
                _ => BodyError::refused(Class::Rejected, message),
            });
        }
        let row_count = between(&text, "<row_count>", "</row_count>").and_then(|v| v.parse().ok());
        let open = format!("<{}>", self.row);
        let mut ids = Vec::new();
        for part in text.split(&open).skip(1) {
            let id = between(part, &format!("<{}>", self.id), &format!("</{}>", self.id))
                .unwrap_or_default();
            ids.push(id);
        }
        Ok(PageOutcome {
            rows: ids.len() as u64,
            row_count,
            keys: ids.iter().map(|id| RowKey::new(id.as_bytes())).collect(),
            dates: RowDates::default(),
            output: Ids(ids),
        })
    }
}

fn between(text: &str, open: &str, close: &str) -> Option<String> {
    let start = text.find(open)? + open.len();
    let end = text[start..].find(close)? + start;
    Some(text[start..end].to_string())
}

pub struct ScanFactory {
    pub row: &'static str,
    pub id: &'static str,
    pub attempts: Mutex<Vec<PageRequest>>,
}

impl ScanFactory {
    pub fn new(row: &'static str, id: &'static str) -> ScanFactory {
        ScanFactory {
            row,
            id,
            attempts: Mutex::new(Vec::new()),
        }
    }
}

impl HandlerFactory for ScanFactory {
    type Handler = Scan;

    fn handler(&self, request: &PageRequest) -> Scan {
        self.attempts.lock().unwrap().push(*request);
        Scan {
            row: self.row,
            id: self.id,
            body: Vec::new(),
        }
    }
}
