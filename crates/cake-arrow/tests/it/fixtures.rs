//! Data-driven tests over `fixtures/`: every response decodes into its report's catalog schema
//! with the values in the snapshots; every error body gives the error in the snapshots; and no
//! chunking of the input changes any of it.

use crate::common;

use std::collections::BTreeSet;

use cake_arrow::{decode_reader, DecodeError, DecoderOptions};
use cake_core::failure::Classify;
use common::*;

fn report(id: &str) -> &'static cake_catalog::Report {
    cake_catalog::find(id).unwrap_or_else(|e| panic!("fixture folder {id}: {e}"))
}

#[test]
fn every_report_has_a_get_fixture() {
    let folders: BTreeSet<String> = response_fixtures()
        .into_iter()
        .filter(|(_, p)| p.file_name().unwrap() == "get.xml")
        .map(|(r, _)| r)
        .collect();
    for r in cake_catalog::REPORTS.iter() {
        assert!(
            folders.contains(r.id),
            "no fixtures/responses/{}/get.xml",
            r.id
        );
    }
    assert_eq!(folders.len(), cake_catalog::REPORTS.len());
}

#[test]
fn responses_decode_to_the_snapshot_values() {
    for (id, path) in response_fixtures() {
        let report = report(&id);
        let body = std::fs::read(&path).unwrap();
        let (batches, summary) = decode_all(report, DecoderOptions::default(), &body);
        let summary = summary.unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let schema = report.arrow_schema();
        for b in &batches {
            assert_eq!(b.schema().as_ref(), &schema, "{}", path.display());
        }
        assert!(summary.rows >= 2, "{}: fewer than two rows", path.display());
        assert_eq!(
            batches.iter().map(|b| b.num_rows() as u64).sum::<u64>(),
            summary.rows
        );
        let name = format!("{id}__{}", path.file_stem().unwrap().to_string_lossy());
        let text = format!("{}\n{}", render_summary(&summary), render(&batches));
        insta::assert_snapshot!(name, text);
    }
}

#[test]
fn soap_forms_decode_like_the_get_form() {
    for (id, path) in response_fixtures() {
        let stem = path.file_stem().unwrap().to_string_lossy().into_owned();
        if !stem.starts_with("soap") {
            continue;
        }
        let report = report(&id);
        let get = std::fs::read(path.with_file_name("get.xml")).unwrap();
        let soap = std::fs::read(&path).unwrap();
        let (a, sa) = decode_all(report, DecoderOptions::default(), &get);
        let (b, sb) = decode_all(report, DecoderOptions::default(), &soap);
        assert_eq!(a, b, "{}", path.display());
        assert_eq!(sa.unwrap(), sb.unwrap(), "{}", path.display());
    }
}

#[test]
fn error_bodies_give_the_snapshot_errors() {
    let clicks = report("clicks");
    // Strict, so that a value that does not fit is an error too (otherwise it is kept in the
    // row's `_rejected`).
    let strict = DecoderOptions {
        strict: true,
        ..DecoderOptions::default()
    };
    for path in error_fixtures() {
        let body = std::fs::read(&path).unwrap();
        let (_, result) = decode_all(clicks, strict, &body);
        let error = match result {
            Ok(s) => panic!("{} decoded: {s:?}", path.display()),
            Err(e) => e,
        };
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        insta::assert_snapshot!(
            name,
            format!(
                "kind: {}\ntruncated: {}\nmessage: {error}",
                error.class(),
                error.is_truncated()
            )
        );
    }
}

/// All at once, one byte at a time, random chunk sizes and through `decode_reader` with a
/// small buffer: the same batches, the same summary or the same error.
#[test]
fn chunking_never_changes_the_result() {
    let mut rng = Lcg(7);
    let mut cases: Vec<(String, std::path::PathBuf)> = response_fixtures();
    cases.extend(
        error_fixtures()
            .into_iter()
            .map(|p| ("clicks".to_string(), p)),
    );
    for (id, path) in cases {
        let report = report(&id);
        let body = std::fs::read(&path).unwrap();
        let options = DecoderOptions {
            batch_size: 3,
            ..DecoderOptions::default()
        };
        let whole = decode_all(report, options, &body);
        let bytewise = decode_chunked(report, options, &body, &[1]);
        assert_eq!(whole, bytewise, "{} byte by byte", path.display());
        for round in 0..4 {
            let sizes = rng.sizes(64, [7, 64, 512, 4096][round]);
            let chunked = decode_chunked(report, options, &body, &sizes);
            assert_eq!(whole, chunked, "{} chunks {sizes:?}", path.display());
        }
        let mut batches = Vec::new();
        let reader = std::io::BufReader::with_capacity(5, body.as_slice());
        let result = decode_reader(report, options, reader, |b| {
            batches.push(b);
            Ok::<(), DecodeError>(())
        });
        assert_eq!(
            whole,
            (batches, result),
            "{} via decode_reader",
            path.display()
        );
    }
}
