//! Helpers shared by the decoder's tests: fixture discovery, decoding with a chunking, and a
//! text rendering of batches that shows every value (strings quoted, so empty and leading
//! spaces are visible; `null` for nulls).

#![allow(dead_code)]

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use arrow_array::{
    Array, ArrayRef, ListArray, RecordBatch, StringArray, StructArray, TimestampMicrosecondArray,
};
use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::{DataType, TimeUnit};
use cake_arrow::{DecodeError, DecodeSummary, Decoder, DecoderOptions};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `fixtures/responses/<report>/<name>.xml`, sorted.
pub fn response_fixtures() -> Vec<(String, PathBuf)> {
    let mut out = Vec::new();
    for dir in std::fs::read_dir(fixtures().join("responses")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let report = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|e| e == "xml") {
                out.push((report.clone(), file));
            }
        }
    }
    out.sort();
    out
}

/// `fixtures/errors/*`, sorted.
pub fn error_fixtures() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(fixtures().join("errors"))
        .unwrap()
        .map(|f| f.unwrap().path())
        .collect();
    out.sort();
    out
}

pub type Outcome = (Vec<RecordBatch>, Result<DecodeSummary, DecodeError>);

/// Decodes `body` pushed in chunks of the given sizes (cycled), then finishes.
pub fn decode_chunked(
    report: &'static cake_catalog::Report,
    options: DecoderOptions,
    body: &[u8],
    sizes: &[usize],
) -> Outcome {
    let mut decoder = Decoder::new(report, options);
    decode_with(&mut decoder, body, sizes)
}

/// [`decode_chunked`] with the caller's decoder, which it can ask afterwards.
pub fn decode_with(decoder: &mut Decoder, body: &[u8], sizes: &[usize]) -> Outcome {
    let mut batches = Vec::new();
    let mut at = 0;
    let mut i = 0;
    while at < body.len() {
        let n = sizes[i % sizes.len()].max(1).min(body.len() - at);
        i += 1;
        if let Err(e) = decoder.push(&body[at..at + n]) {
            while let Some(b) = decoder.pop_batch() {
                batches.push(b);
            }
            return (batches, Err(e));
        }
        at += n;
        while let Some(b) = decoder.pop_batch() {
            batches.push(b);
        }
    }
    let summary = decoder.finish();
    while let Some(b) = decoder.pop_batch() {
        batches.push(b);
    }
    (batches, summary)
}

pub fn decode_all(
    report: &'static cake_catalog::Report,
    options: DecoderOptions,
    body: &[u8],
) -> Outcome {
    decode_chunked(report, options, body, &[usize::MAX])
}

/// A small deterministic generator for chunk sizes.
pub struct Lcg(pub u64);

impl Lcg {
    pub fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }

    pub fn sizes(&mut self, n: usize, max: usize) -> Vec<usize> {
        (0..n).map(|_| 1 + (self.next() as usize) % max).collect()
    }
}

/// Every row as a block of `column: value` lines.
pub fn render(batches: &[RecordBatch]) -> String {
    let mut out = String::new();
    let mut row = 0;
    for batch in batches {
        for r in 0..batch.num_rows() {
            row += 1;
            writeln!(out, "row {row}").unwrap();
            for (c, field) in batch.schema().fields().iter().enumerate() {
                writeln!(out, "  {}: {}", field.name(), value(batch.column(c), r)).unwrap();
            }
        }
    }
    out
}

pub fn value(array: &ArrayRef, i: usize) -> String {
    if array.is_null(i) {
        return "null".into();
    }
    match array.data_type() {
        DataType::Utf8 => {
            let s = array.as_any().downcast_ref::<StringArray>().unwrap();
            format!("{:?}", s.value(i))
        }
        DataType::List(_) => {
            let l = array.as_any().downcast_ref::<ListArray>().unwrap();
            let items = l.value(i);
            let parts: Vec<String> = (0..items.len()).map(|j| value(&items, j)).collect();
            format!("[{}]", parts.join(", "))
        }
        DataType::Struct(fields) => {
            let s = array.as_any().downcast_ref::<StructArray>().unwrap();
            let parts: Vec<String> = fields
                .iter()
                .enumerate()
                .map(|(c, f)| format!("{}: {}", f.name(), value(s.column(c), i)))
                .collect();
            format!("{{{}}}", parts.join(", "))
        }
        DataType::Timestamp(TimeUnit::Microsecond, _) => {
            let t = array
                .as_any()
                .downcast_ref::<TimestampMicrosecondArray>()
                .unwrap();
            chrono::DateTime::from_timestamp_micros(t.value(i))
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string()
        }
        _ => {
            let options = FormatOptions::default();
            let f = ArrayFormatter::try_new(array.as_ref(), &options).unwrap();
            f.value(i).to_string()
        }
    }
}

pub fn render_summary(summary: &DecodeSummary) -> String {
    let mut out = String::new();
    writeln!(out, "rows: {}", summary.rows).unwrap();
    writeln!(
        out,
        "envelope: success={:?} message={:?} row_count={:?}",
        summary.envelope.success, summary.envelope.message, summary.envelope.row_count
    )
    .unwrap();
    writeln!(
        out,
        "stripped control characters: {}",
        summary.stripped_control_chars
    )
    .unwrap();
    for (name, n) in &summary.unknown.listed {
        writeln!(out, "unknown element: {name} x{n}").unwrap();
    }
    if summary.unknown.unlisted > 0 {
        writeln!(
            out,
            "unknown elements not listed: {}",
            summary.unknown.unlisted
        )
        .unwrap();
    }
    for (name, n) in &summary.withheld {
        writeln!(out, "withheld: {name} x{n}").unwrap();
    }
    if let Some(layout) = &summary.layout {
        writeln!(out, "layout: {layout}").unwrap();
    }
    if let Some(version) = summary.version {
        writeln!(out, "version: {version}").unwrap();
    }
    out
}
