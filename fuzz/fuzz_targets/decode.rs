//! Arbitrary bytes, in arbitrary chunks, through the decoder of any report.
//!
//! The first byte picks the report, the second the chunking; the rest is the body. The body is
//! decoded pushed whole and pushed in pieces. Neither may panic, hang or grow without bound,
//! and both must agree: the same rows, or errors of the same class (a token longer than
//! `max_text_bytes` that also holds another fault may be reported as either; see
//! docs/reliability.md).

#![no_main]

use cake_arrow::{DecodeError, Decoder, DecoderOptions};
use cake_core::failure::{Class, Classify};
use cake_catalog::{Report, REPORTS};
use libfuzzer_sys::fuzz_target;

/// Small limits, so that the fuzzer reaches them with small inputs.
fn options() -> DecoderOptions {
    DecoderOptions {
        batch_size: 3,
        max_depth: 24,
        max_text_bytes: 2048,
        ..DecoderOptions::default()
    }
}

#[derive(Debug, PartialEq)]
enum Outcome {
    Rows(u64),
    Failed(Class),
}

/// Every error names the report and is never the decoder's own bug.
fn failed(report: &Report, e: &DecodeError) -> Outcome {
    assert!(!matches!(e, DecodeError::Internal { .. }), "{e}");
    assert!(e.to_string().contains(report.id), "{e}");
    Outcome::Failed(e.class())
}

fn decode(report: &'static Report, body: &[u8], sizes: &[usize]) -> Outcome {
    let mut decoder = Decoder::new(report, options());
    let mut rows = 0u64;
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = sizes[i % sizes.len()].clamp(1, rest.len());
        i += 1;
        let (chunk, tail) = rest.split_at(n);
        rest = tail;
        if let Err(e) = decoder.push(chunk) {
            return failed(report, &e);
        }
        while let Some(b) = decoder.pop_batch() {
            assert_eq!(b.schema(), cake_arrow::schema(report));
            rows += b.num_rows() as u64;
        }
    }
    match decoder.finish() {
        Ok(summary) => {
            while let Some(b) = decoder.pop_batch() {
                rows += b.num_rows() as u64;
            }
            assert_eq!(summary.rows, rows);
            Outcome::Rows(rows)
        }
        Err(e) => failed(report, &e),
    }
}

fuzz_target!(|data: &[u8]| {
    let [pick, chunking, body @ ..] = data else {
        return;
    };
    let report = REPORTS[usize::from(*pick) % REPORTS.len()];
    let step = usize::from(*chunking % 61) + 1;
    let whole = decode(report, body, &[body.len().max(1)]);
    let pieces = decode(report, body, &[step, 1, 3 * step, 7]);
    assert_eq!(whole, pieces);
});
