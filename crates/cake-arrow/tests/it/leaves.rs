//! Nothing silently lost: every leaf of every row of every fixture (the current API versions and
//! the older ones under `fixtures/versions/`) is in a typed column, in a JSON column, in the
//! row's `_extra` (with its structure) or, when its value does not fit, in `_rejected`; only
//! secrets are withheld, and they are counted. Checked by counting, per row and per column, the
//! leaves of the XML against the values of the Arrow output.

use crate::common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow_array::cast::AsArray;
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::DataType;
use cake_arrow::DecoderOptions;
use cake_catalog::{Column, ColumnType, Report};
use common::*;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;

/// A leaf of a row: its path of element names below the row, its text, whether it is nil.
#[derive(Debug, Clone)]
struct Leaf {
    path: Vec<String>,
    text: String,
    nil: bool,
}

/// Reads the rows of a document (found by their element name, in any case).
struct Rows<'r> {
    row: &'r str,
    /// Open elements: name, nil, has children.
    stack: Vec<(String, bool, bool)>,
    /// Depth of the open row's element.
    in_row: Option<usize>,
    text: String,
    current: Vec<Leaf>,
    rows: Vec<Vec<Leaf>>,
}

impl Rows<'_> {
    fn open(&mut self, e: &BytesStart<'_>) {
        let local = e.local_name();
        let name: &str = local.as_ref();
        let name = name.to_string();
        let nil = e.attributes().flatten().any(|a| {
            let key = a.key.local_name();
            let key: &str = key.as_ref();
            key == "nil" && &*a.value == "true"
        });
        if let Some(last) = self.stack.last_mut() {
            last.2 = true;
        }
        if self.in_row.is_none() && name.eq_ignore_ascii_case(self.row) {
            self.in_row = Some(self.stack.len());
            self.current.clear();
        }
        self.stack.push((name, nil, false));
        self.text.clear();
    }

    fn close(&mut self) {
        let Some((_, nil, children)) = self.stack.last().cloned() else {
            return;
        };
        if let Some(depth) = self.in_row {
            if self.stack.len() - 1 == depth {
                self.rows.push(std::mem::take(&mut self.current));
                self.in_row = None;
            } else if !children {
                let path = self.stack[depth + 1..]
                    .iter()
                    .map(|(n, ..)| n.clone())
                    .collect();
                self.current.push(Leaf {
                    path,
                    text: std::mem::take(&mut self.text),
                    nil,
                });
            }
        }
        self.text.clear();
        self.stack.pop();
    }
}

fn rows_of(report: &Report, body: &[u8]) -> Vec<Vec<Leaf>> {
    let mut reader = Reader::from_reader(body);
    let mut rows = Rows {
        row: report.response.row,
        stack: Vec::new(),
        in_row: None,
        text: String::new(),
        current: Vec::new(),
        rows: Vec::new(),
    };
    loop {
        match reader.read_event().unwrap() {
            Event::Start(e) => rows.open(&e),
            Event::Empty(e) => {
                rows.open(&e);
                rows.close();
            }
            Event::End(_) => rows.close(),
            Event::Text(t) => rows.text.push_str(&t.xml10_content()),
            Event::GeneralRef(r) => {
                let name: &str = &r;
                let resolved = match name {
                    "amp" => "&".to_string(),
                    "lt" => "<".to_string(),
                    "gt" => ">".to_string(),
                    "quot" => "\"".to_string(),
                    "apos" => "'".to_string(),
                    _ => {
                        let code = match name.strip_prefix("#x") {
                            Some(h) => u32::from_str_radix(h, 16).ok(),
                            None => name.strip_prefix('#').and_then(|d| d.parse().ok()),
                        };
                        code.and_then(char::from_u32)
                            .filter(|c| !c.is_control() || matches!(c, '\t' | '\n' | '\r'))
                            .map(String::from)
                            .unwrap_or_default()
                    }
                };
                rows.text.push_str(&resolved);
            }
            Event::CData(c) => {
                let raw: &str = &c;
                rows.text.push_str(raw);
            }
            Event::Eof => break,
            _ => {}
        }
    }
    rows.rows
}

/// Where a leaf's value goes.
#[derive(Debug, PartialEq)]
enum Place {
    /// A value of the column (or field) with this dotted name.
    Value(String),
    /// Inside the JSON column with this dotted name.
    Json(String),
    /// A secret: withheld, counted under this path.
    Secret(String),
    /// Not in the catalog: the row's `_extra`.
    Extra,
    /// A known element on the way to values, here without children (`<tags />`): no value.
    Container,
}

fn matches_path(path: &[String], column: &Column) -> Option<usize> {
    std::iter::once(column.path)
        .chain(column.also.iter().copied())
        .find(|p| p.len() <= path.len() && p.iter().zip(path).all(|(a, b)| *a == b))
        .map(<[&str]>::len)
}

fn place_in(columns: &[Column], path: &[String], prefix: &str) -> Option<Place> {
    for c in columns {
        let is_prefix = std::iter::once(c.path)
            .chain(c.also.iter().copied())
            .any(|p| p.len() > path.len() && p.iter().zip(path).all(|(a, b)| *a == b));
        if is_prefix {
            return Some(Place::Container);
        }
        let Some(n) = matches_path(path, c) else {
            continue;
        };
        let name = format!("{prefix}{}", c.name);
        match c.ty {
            ColumnType::Json => return Some(Place::Json(name)),
            ColumnType::List(ColumnType::Struct(fields)) => {
                return place_in(fields, &path[n..], &format!("{name}."));
            }
            _ if n == path.len() => return Some(Place::Value(name)),
            _ => {}
        }
    }
    None
}

fn place(report: &Report, leaf: &Leaf) -> Place {
    for secret in report.response.secret {
        let s: Vec<&str> = secret.split('/').collect();
        if s.len() <= leaf.path.len() && s.iter().zip(&leaf.path).all(|(a, b)| a == b) {
            return Place::Secret(secret.to_string());
        }
    }
    place_in(report.columns, &leaf.path, "").unwrap_or(Place::Extra)
}

/// Non-null scalar values per dotted column name in one cell of `array`.
fn count_values(array: &ArrayRef, i: usize, name: &str, out: &mut BTreeMap<String, u64>) {
    if array.is_null(i) {
        return;
    }
    match array.data_type() {
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            for j in 0..items.len() {
                count_values(&items, j, name, out);
            }
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            for (c, f) in fields.iter().enumerate() {
                count_values(s.column(c), i, &format!("{name}.{}", f.name()), out);
            }
        }
        _ => *out.entry(name.to_string()).or_default() += 1,
    }
}

/// The texts of a JSON column or field (dotted name `rest`, below `array`) in one cell: one per
/// item it sits in.
fn texts(array: &ArrayRef, i: usize, rest: &[&str], out: &mut Vec<Option<String>>) {
    if array.is_null(i) {
        if rest.is_empty() {
            out.push(None);
        }
        return;
    }
    match array.data_type() {
        DataType::List(_) => {
            let items = array.as_list::<i32>().value(i);
            for j in 0..items.len() {
                texts(&items, j, rest, out);
            }
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let c = fields.iter().position(|f| f.name() == rest[0]).unwrap();
            texts(s.column(c), i, &rest[1..], out);
        }
        _ => out.push(Some(array.as_string::<i32>().value(i).to_string())),
    }
}

/// The string and null leaves of a JSON value.
fn json_leaves(v: &serde_json::Value) -> u64 {
    match v {
        serde_json::Value::Object(o) => o
            .iter()
            .filter(|(k, _)| k.as_str() != "#text" && k.as_str() != "#truncated")
            .map(|(_, v)| json_leaves(v))
            .sum(),
        serde_json::Value::Array(a) => a.iter().map(json_leaves).sum(),
        _ => 1,
    }
}

/// `_rejected` entries per dotted column name (`offer_contracts[1].payout_amount` counts for
/// `offer_contracts.payout_amount`).
fn rejected(cell: Option<&str>) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    let Some(text) = cell else {
        return out;
    };
    let v: serde_json::Value = serde_json::from_str(text).unwrap();
    for (key, entries) in v.as_object().unwrap() {
        let mut name = String::new();
        let mut skip = false;
        for ch in key.chars() {
            match ch {
                '[' => skip = true,
                ']' => skip = false,
                c if !skip => name.push(c),
                _ => {}
            }
        }
        let n = entries.as_array().map_or(1, |a| a.len() as u64);
        *out.entry(name).or_default() += n;
    }
    out
}

fn cell(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let a = batch.column_by_name(column).unwrap().as_string::<i32>();
    (!a.is_null(row)).then(|| a.value(row).to_string())
}

fn check(report: &'static Report, path: &PathBuf, options: DecoderOptions) {
    let body = std::fs::read(path).unwrap();
    let (batches, summary) = decode_all(report, options, &body);
    let summary = summary.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let xml_rows = rows_of(report, &body);
    let cells: Vec<(&RecordBatch, usize)> = batches
        .iter()
        .flat_map(|b| (0..b.num_rows()).map(move |i| (b, i)))
        .collect();
    assert_eq!(cells.len(), xml_rows.len(), "{}: rows", path.display());
    let mut secrets: BTreeMap<String, u64> = BTreeMap::new();
    for (index, leaves) in xml_rows.iter().enumerate() {
        let (batch, r) = cells[index];
        let at = format!("{} row {}", path.display(), index + 1);
        // What the XML holds, per place.
        let mut expected: BTreeMap<String, u64> = BTreeMap::new();
        let mut json: BTreeMap<String, u64> = BTreeMap::new();
        let mut extra = 0;
        for leaf in leaves {
            match place(report, leaf) {
                Place::Value(name) => {
                    let column_type = value_type(report, &name);
                    let blank = leaf.text.trim().is_empty();
                    let counts = !leaf.nil && (column_type == ColumnType::Utf8 || !blank);
                    if counts {
                        *expected.entry(name).or_default() += 1;
                    }
                }
                // A nil JSON element is a null cell: no leaf to find.
                Place::Json(name) if leaf.nil && json_depth(report, &name) == leaf.path.len() => {
                    json.entry(name).or_default();
                }
                Place::Json(name) => *json.entry(name).or_default() += 1,
                Place::Secret(path) => {
                    secrets.insert(path, 1);
                }
                Place::Extra => extra += 1,
                Place::Container => {}
            }
        }
        // What the output holds: values, plus those kept aside in `_rejected`.
        let mut found: BTreeMap<String, u64> = BTreeMap::new();
        for c in report.columns {
            let array = batch.column_by_name(c.name).unwrap();
            if c.ty == ColumnType::Json {
                continue;
            }
            count_values(array, r, c.name, &mut found);
        }
        for (name, n) in rejected(cell(batch, "_rejected", r).as_deref()) {
            *found.entry(name).or_default() += n;
        }
        for (name, n) in &expected {
            assert_eq!(found.get(name), Some(n), "{at}: column {name}");
        }
        for (name, n) in &json {
            let parts: Vec<&str> = name.split('.').collect();
            let mut cells = Vec::new();
            texts(
                batch.column_by_name(parts[0]).unwrap(),
                r,
                &parts[1..],
                &mut cells,
            );
            // A JSON column holds its element's leaves (an element without children is one).
            let leaves: u64 = cells
                .iter()
                .flatten()
                .map(|t| json_leaves(&serde_json::from_str(t).unwrap()))
                .sum();
            assert_eq!(leaves, *n, "{at}: {name} ({cells:?})");
        }
        let extra_leaves = cell(batch, "_extra", r)
            .map(|t| json_leaves(&serde_json::from_str(&t).unwrap()))
            .unwrap_or(0);
        assert_eq!(extra_leaves, extra, "{at}: _extra");
    }
    for secret in secrets.keys() {
        assert!(
            summary.withheld.get(secret).is_some_and(|n| *n > 0),
            "{}: the secret {secret} is not counted",
            path.display()
        );
    }
}

/// The depth below the row of a JSON column's (or field's) element.
fn json_depth(report: &Report, dotted: &str) -> usize {
    let mut columns = report.columns;
    let mut depth = 0;
    for part in dotted.split('.') {
        let c = columns.iter().find(|c| c.name == part).unwrap();
        depth += c.path.len();
        if let Some(fields) = c.fields() {
            columns = fields;
        }
    }
    depth
}

/// The scalar type of a dotted column or field name.
fn value_type(report: &Report, dotted: &str) -> ColumnType {
    let mut columns = report.columns;
    let mut parts = dotted.split('.').peekable();
    while let Some(part) = parts.next() {
        let c = columns.iter().find(|c| c.name == part).unwrap();
        if parts.peek().is_none() {
            return *c.ty.leaf();
        }
        columns = c.fields().unwrap();
    }
    unreachable!("{dotted}")
}

#[test]
fn every_leaf_of_every_fixture_is_kept() {
    let options = DecoderOptions {
        personal_data: true,
        ..DecoderOptions::default()
    };
    for (id, path) in response_fixtures() {
        let report = cake_catalog::find(&id).unwrap();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // Misfits and control characters are checked by their own tests.
        if name == "misfits.xml" || name == "control-chars.xml" {
            continue;
        }
        check(report, &path, options);
    }
}

#[test]
fn every_leaf_of_older_versions_is_kept() {
    let options = DecoderOptions {
        personal_data: true,
        other_versions: true,
        ..DecoderOptions::default()
    };
    let dir = fixtures().join("versions");
    let mut checked = 0;
    for report_dir in std::fs::read_dir(&dir).unwrap() {
        let report_dir = report_dir.unwrap().path();
        if !report_dir.is_dir() {
            continue;
        }
        let report =
            cake_catalog::find(&report_dir.file_name().unwrap().to_string_lossy()).unwrap();
        for file in std::fs::read_dir(&report_dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "xml") {
                check(report, &file, options);
                checked += 1;
            }
        }
    }
    assert!(checked >= 5, "{checked} fixtures of older versions");
}
