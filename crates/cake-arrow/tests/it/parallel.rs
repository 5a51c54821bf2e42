//! One response decoded on several threads gives what one thread gives: the same rows in the
//! same order, the same values, the same summary, and the same error (offset and row number
//! included), for every fixture, every block size, every chunking, and bodies whose row end
//! tags sit where a byte search cannot tell (comments, CDATA, attribute values, nested
//! elements of the row's name).

use crate::common;

#[path = "../../examples/common/clicks.rs"]
mod clicks;

use cake_arrow::{BlockCounts, DecodeError, DecodeSummary, Decoder, DecoderOptions};
use common::*;
use proptest::prelude::*;

/// What a decoding gives, batch boundaries aside: every row rendered, and the summary or the
/// error.
#[derive(Debug)]
struct Content {
    rows: String,
    end: Result<DecodeSummary, DecodeError>,
}

/// The same content: the same summary and rows, or the same error. Rows handed out before an
/// error are a prefix of the response's rows either way, and may be more or fewer: several
/// threads complete a batch early where a block begins.
impl PartialEq for Content {
    fn eq(&self, other: &Content) -> bool {
        self.end == other.end
            && match self.end {
                Ok(_) => self.rows == other.rows,
                Err(_) => self.rows.starts_with(&other.rows) || other.rows.starts_with(&self.rows),
            }
    }
}

fn decode(
    report: &'static cake_catalog::Report,
    options: DecoderOptions,
    body: &[u8],
    sizes: &[usize],
) -> (Content, BlockCounts) {
    let mut decoder = Decoder::new(report, options);
    let (batches, end) = decode_with(&mut decoder, body, sizes);
    (
        Content {
            rows: render(&batches),
            end,
        },
        decoder.blocks(),
    )
}

fn one_thread(options: DecoderOptions) -> DecoderOptions {
    DecoderOptions {
        threads: 1,
        ..options
    }
}

fn threads(options: DecoderOptions, threads: usize, block_bytes: usize) -> DecoderOptions {
    DecoderOptions {
        threads,
        block_bytes,
        ..options
    }
}

/// Every fixture with the options it is read with: the responses, the error bodies (as
/// Clicks), and the other versions' responses (read with `other_versions`).
fn corpus() -> Vec<(&'static cake_catalog::Report, DecoderOptions, Vec<u8>)> {
    let base = DecoderOptions {
        batch_size: 3,
        ..DecoderOptions::default()
    };
    let mut out = Vec::new();
    for (id, path) in response_fixtures() {
        let report = cake_catalog::find(&id).unwrap();
        out.push((report, base, std::fs::read(&path).unwrap()));
        out.push((
            report,
            DecoderOptions {
                strict: true,
                ..base
            },
            std::fs::read(&path).unwrap(),
        ));
    }
    for path in error_fixtures() {
        let report = cake_catalog::find("clicks").unwrap();
        out.push((report, base, std::fs::read(&path).unwrap()));
    }
    for dir in std::fs::read_dir(fixtures().join("versions")).unwrap() {
        let dir = dir.unwrap().path();
        if !dir.is_dir() {
            continue;
        }
        let report = cake_catalog::find(&dir.file_name().unwrap().to_string_lossy()).unwrap();
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|f| f.unwrap().path())
            .filter(|f| f.extension().is_some_and(|e| e == "xml"))
            .collect();
        files.sort();
        for file in files {
            let options = DecoderOptions {
                other_versions: true,
                ..base
            };
            out.push((report, options, std::fs::read(&file).unwrap()));
        }
    }
    out
}

#[test]
fn every_fixture_decodes_the_same_on_several_threads() {
    let mut merged = 0;
    let mut with_rows = 0;
    for (report, options, body) in corpus() {
        let (sequential, _) = decode(report, one_thread(options), &body, &[usize::MAX]);
        let many_rows = sequential
            .end
            .as_ref()
            .is_ok_and(|summary| summary.rows >= 2);
        with_rows += usize::from(many_rows);
        let mut merged_here = 0;
        for (n, block) in [(2, 1), (3, 64), (2, 500), (4, 4096)] {
            for sizes in [&[usize::MAX][..], &[1000], &[37, 5, 211]] {
                let (parallel, blocks) = decode(report, threads(options, n, block), &body, sizes);
                assert_eq!(
                    parallel, sequential,
                    "{} with {n} threads, blocks of {block} bytes, chunks of {sizes:?}",
                    report.id
                );
                merged_here += blocks.merged;
            }
        }
        if many_rows {
            assert!(
                merged_here > 0,
                "{}: no block decoded on another thread",
                report.id
            );
        }
        merged += merged_here;
    }
    assert!(with_rows > 20 && merged > 100, "{with_rows} {merged}");
}

/// A Clicks response of `rows` rows from the benchmark's generator.
fn clicks_body(rows: u64, seed: u64) -> Vec<u8> {
    let mut out = Vec::new();
    clicks::head(&mut out, rows).unwrap();
    for i in 0..rows {
        clicks::row(&mut out, i, seed).unwrap();
    }
    clicks::tail(&mut out).unwrap();
    out
}

/// Pieces that put a row's end tag where it does not end a row, or break the document.
fn insert() -> impl Strategy<Value = &'static [u8]> {
    prop::sample::select(vec![
        &b"<!-- </click> -->"[..],
        b"<![CDATA[</click>]]>",
        b"<?pi </click> ?>",
        b"<click>",
        b"</click>",
        b"<click><click>1</click></click>",
        b"<x a=\"</click>\"/>",
        b"<success>true</success>",
        b"</clicks>",
        b"junk",
        b"&amp;",
        b"&bad",
        b"\xFF",
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random chunk boundaries, block sizes and thread counts over a generated response,
    /// with pieces inserted at random offsets: the content is always one thread's.
    #[test]
    fn random_blocks_and_chunks_never_change_the_content(
        rows in 1u64..40,
        seed in any::<u64>(),
        inserts in prop::collection::vec((any::<prop::sample::Index>(), insert()), 0..4),
        sizes in prop::collection::vec(1usize..5000, 1..20),
        block in 1usize..20_000,
        n in 2usize..5,
        batch_size in 1usize..50,
    ) {
        let report = cake_catalog::find("clicks").unwrap();
        let mut body = clicks_body(rows, seed);
        for (at, piece) in &inserts {
            let at = at.index(body.len() + 1);
            body.splice(at..at, piece.iter().copied());
        }
        let options = DecoderOptions { batch_size, ..DecoderOptions::default() };
        let (sequential, _) = decode(report, one_thread(options), &body, &[usize::MAX]);
        let (parallel, _) = decode(report, threads(options, n, block), &body, &sizes);
        prop_assert_eq!(parallel, sequential);
    }
}

#[test]
fn blocks_go_to_other_threads_and_misplaced_end_tags_are_redone() {
    let report = cake_catalog::find("clicks").unwrap();
    let options = DecoderOptions::default();
    let body = clicks_body(200, 7);
    let (sequential, _) = decode(report, one_thread(options), &body, &[usize::MAX]);
    let (parallel, blocks) = decode(report, threads(options, 2, 8192), &body, &[65536]);
    assert_eq!(parallel, sequential);
    assert!(blocks.merged > 20, "{blocks:?}");
    assert_eq!(blocks.redone, 0);

    // Comments holding the row's end tag, each followed by 2,000 spaces: a block whose
    // last end tag is a comment's is cut inside the comment, and decoded again here.
    let text = String::from_utf8(body).unwrap();
    let damaged = text.replace(
        "</click>",
        &format!("<!-- </click>{} --></click>", " ".repeat(2000)),
    );
    let (sequential, _) = decode(
        report,
        one_thread(options),
        damaged.as_bytes(),
        &[usize::MAX],
    );
    assert!(sequential.end.is_ok());
    let mut total = BlockCounts::default();
    for block in (10_000..30_000).step_by(1_500) {
        let (parallel, blocks) = decode(
            report,
            threads(options, 2, block),
            damaged.as_bytes(),
            &[usize::MAX],
        );
        assert_eq!(parallel, sequential, "blocks of {block} bytes");
        total.merged += blocks.merged;
        total.redone += blocks.redone;
    }
    assert!(total.redone >= 1 && total.merged >= 1, "{total:?}");
}
