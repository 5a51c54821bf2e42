//! Helpers shared by the sandbox tests: typical requests built with the catalog's own planner,
//! and a small reader of the documents (quick-xml, local names only).

#![allow(dead_code)]

use cake_catalog::{plan, Context, DateSemantics, Options, ParamValue, Report, REPORTS};
use cake_sandbox::SandboxConfig;
use quick_xml::events::Event;
use quick_xml::Reader;

pub const KEY: &str = "test-key-0042";

pub fn today() -> chrono::NaiveDate {
    "2024-03-15".parse().unwrap()
}

pub fn config(rows_per_day: u32) -> SandboxConfig {
    SandboxConfig {
        seed: 7,
        api_key: KEY.to_string(),
        rows_per_day,
        port: 0,
        today: today(),
        faults: Default::default(),
    }
}

pub fn reports() -> impl Iterator<Item = &'static Report> {
    REPORTS.iter().copied()
}

/// The options of a typical request: yesterday for dated reports (changes since yesterday).
pub fn typical_options(report: &Report) -> Options {
    match report.dates {
        DateSemantics::None => Options::default(),
        _ => Options {
            past_days: Some("1".parse().unwrap()),
            ..Options::default()
        },
    }
}

/// `path?query` of the first request of the report's plan for `options`, with the key and a
/// page (`row_limit` 0: all rows).
pub fn query_with(
    report: &'static Report,
    options: &Options,
    key: &str,
    start_at_row: u32,
    row_limit: u32,
) -> String {
    let now = format!("{}T12:00:00Z", today()).parse().unwrap();
    let p = plan(report, options, &Context::new(now)).unwrap();
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for param in &p.requests[0].params {
        let value = match &param.value {
            ParamValue::ApiKey => key.to_string(),
            ParamValue::StartAtRow => start_at_row.to_string(),
            ParamValue::RowLimit => row_limit.to_string(),
            ParamValue::Value(v) => v.clone(),
        };
        q.append_pair(param.name, &value);
    }
    format!("{}?{}", report.endpoint.path(), q.finish())
}

pub fn query(report: &'static Report, key: &str) -> String {
    query_with(report, &typical_options(report), key, 1, 0)
}

/// Replaces one parameter of a query.
pub fn with_param(q: &str, name: &str, value: &str) -> String {
    let (path, query) = q.split_once('?').unwrap();
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k == name {
            s.append_pair(&k, value);
        } else {
            s.append_pair(&k, &v);
        }
    }
    format!("{path}?{}", s.finish())
}

/// Removes one parameter of a query.
pub fn without_param(q: &str, name: &str) -> String {
    let (path, query) = q.split_once('?').unwrap();
    let mut s = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in url::form_urlencoded::parse(query.as_bytes()) {
        if k != name {
            s.append_pair(&k, &v);
        }
    }
    format!("{path}?{}", s.finish())
}

/// What a document holds, read by local names.
#[derive(Debug, Default)]
pub struct Doc {
    pub root: String,
    pub default_ns: Option<String>,
    pub success: Option<String>,
    pub message: Option<String>,
    pub row_count: Option<u64>,
    pub collection: Option<String>,
    /// Each row's element paths (below the row element), with their text.
    pub rows: Vec<Vec<(String, String)>>,
    pub nil_count: usize,
    pub id_name_store: usize,
}

/// Reads a document with quick-xml. Panics on malformed XML.
pub fn read(body: &[u8], row: &str) -> Doc {
    try_read(body, row).unwrap_or_else(|e| panic!("malformed XML: {e}"))
}

pub fn try_read(body: &[u8], row: &str) -> Result<Doc, String> {
    let mut reader = Reader::from_reader(body);
    let mut doc = Doc::default();
    let mut stack: Vec<String> = Vec::new();
    let mut row_depth: Option<usize> = None;
    let mut text = String::new();
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| format!("{e} at {}", reader.buffer_position()))?;
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let empty = matches!(event, Event::Empty(_));
                let name = e.local_name().as_ref().to_string();
                for a in e.attributes() {
                    let a = a.map_err(|e| e.to_string())?;
                    let key = a.key.as_ref().to_string();
                    let value = a.value.to_string();
                    if key == "xmlns" && stack.is_empty() {
                        doc.default_ns = Some(value.clone());
                    }
                    if key == "xmlns" && value == "API:id_name_store" {
                        doc.id_name_store += 1;
                    }
                    if key == "xsi:nil" {
                        doc.nil_count += 1;
                    }
                }
                if stack.is_empty() {
                    doc.root = name.clone();
                }
                if stack.len() == 1
                    && name != "success"
                    && name != "message"
                    && name != "row_count"
                    && name != row
                {
                    doc.collection = Some(name.clone());
                }
                if name == row && row_depth.is_none() {
                    row_depth = Some(stack.len());
                    doc.rows.push(Vec::new());
                }
                stack.push(name);
                text.clear();
                if empty {
                    let path = stack.clone();
                    close(&mut doc, &path, row_depth, "");
                    stack.pop();
                    if row_depth == Some(stack.len()) {
                        row_depth = None;
                    }
                }
            }
            Event::Text(t) => {
                text.push_str(&t.xml10_content());
            }
            Event::GeneralRef(r) => {
                let name = r.xml10_content().into_owned();
                match name.as_str() {
                    "amp" => text.push('&'),
                    "lt" => text.push('<'),
                    "gt" => text.push('>'),
                    "quot" => text.push('"'),
                    "apos" => text.push('\''),
                    other => match char_ref(other) {
                        Some(c) => text.push(c),
                        None => text.push_str(&format!("&{other};")),
                    },
                }
            }
            Event::End(_) => {
                let path = stack.clone();
                let t = std::mem::take(&mut text);
                close(&mut doc, &path, row_depth, &t);
                stack.pop();
                if row_depth == Some(stack.len()) {
                    row_depth = None;
                }
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if !stack.is_empty() {
        return Err(format!("document ends inside <{}>", stack.join("/")));
    }
    if doc.root.is_empty() {
        return Err("no root element".into());
    }
    Ok(doc)
}

/// A character reference (`#xD`, `#13`) as its character.
fn char_ref(name: &str) -> Option<char> {
    let n = name.strip_prefix('#')?;
    let code = match n.strip_prefix('x') {
        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
        None => n.parse().ok()?,
    };
    char::from_u32(code)
}

fn close(doc: &mut Doc, path: &[String], row_depth: Option<usize>, text: &str) {
    if path.len() == 2 {
        match path[1].as_str() {
            "success" => doc.success = Some(text.to_string()),
            "message" => doc.message = Some(text.to_string()),
            "row_count" => doc.row_count = text.trim().parse().ok(),
            _ => {}
        }
    }
    if let Some(d) = row_depth {
        if path.len() > d + 1 {
            if let Some(row) = doc.rows.last_mut() {
                row.push((path[d + 1..].join("/"), text.to_string()));
            }
        }
    }
}

impl Doc {
    /// The values of one element path in every row, in order.
    pub fn column(&self, path: &str) -> Vec<String> {
        self.rows
            .iter()
            .flat_map(|r| r.iter().filter(|(p, _)| p == path).map(|(_, v)| v.clone()))
            .collect()
    }
}
