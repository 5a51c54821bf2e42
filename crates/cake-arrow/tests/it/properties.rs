//! Properties over random inputs (bounded): any chunking gives the result of one push, and
//! damaged documents never panic — they decode or fail with an error, the same error for any
//! chunking.

use crate::common;

use cake_arrow::DecoderOptions;
use common::*;
use proptest::prelude::*;

fn corpus() -> Vec<(&'static cake_catalog::Report, Vec<u8>)> {
    let mut out = Vec::new();
    for (id, path) in response_fixtures() {
        let report = cake_catalog::find(&id).unwrap();
        out.push((report, std::fs::read(&path).unwrap()));
    }
    for path in error_fixtures() {
        out.push((
            cake_catalog::find("clicks").unwrap(),
            std::fs::read(&path).unwrap(),
        ));
    }
    out
}

#[derive(Debug, Clone)]
enum Mutation {
    Delete(usize, usize),
    Insert(usize, Vec<u8>),
    Replace(usize, u8),
    Truncate(usize),
    Duplicate(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let interesting = prop::sample::select(vec![
        b'<', b'>', b'/', b'&', b';', b'"', b'=', b'!', b'?', b':', b'[', b']', b'-', 0xC3, 0xFF,
        0x00, b'x',
    ]);
    prop_oneof![
        (any::<usize>(), 1usize..16).prop_map(|(a, n)| Mutation::Delete(a, n)),
        (
            any::<usize>(),
            prop::collection::vec(interesting.clone(), 1..6)
        )
            .prop_map(|(a, b)| Mutation::Insert(a, b)),
        (any::<usize>(), interesting).prop_map(|(a, b)| Mutation::Replace(a, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), 1usize..64).prop_map(|(a, n)| Mutation::Duplicate(a, n)),
    ]
}

fn apply(body: &mut Vec<u8>, m: &Mutation) {
    if body.is_empty() {
        return;
    }
    let at = |a: usize, len: usize| a % (len + 1);
    match m {
        Mutation::Delete(a, n) => {
            let s = at(*a, body.len()).min(body.len());
            let e = (s + n).min(body.len());
            body.drain(s..e);
        }
        Mutation::Insert(a, bytes) => {
            let s = at(*a, body.len());
            body.splice(s..s, bytes.iter().copied());
        }
        Mutation::Replace(a, b) => {
            let s = *a % body.len();
            body[s] = *b;
        }
        Mutation::Truncate(a) => {
            let s = at(*a, body.len());
            body.truncate(s);
        }
        Mutation::Duplicate(a, n) => {
            let s = *a % body.len();
            let e = (s + n).min(body.len());
            let copy = body[s..e].to_vec();
            body.splice(e..e, copy);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn random_chunkings_never_change_results(
        pick in any::<prop::sample::Index>(),
        sizes in prop::collection::vec(1usize..300, 1..40),
        batch_size in 1usize..6,
    ) {
        let corpus = corpus();
        let (report, body) = &corpus[pick.index(corpus.len())];
        let options = DecoderOptions { batch_size, ..DecoderOptions::default() };
        let whole = decode_all(report, options, body);
        let chunked = decode_chunked(report, options, body, &sizes);
        prop_assert_eq!(whole, chunked);
    }

    #[test]
    fn damaged_documents_never_panic(
        pick in any::<prop::sample::Index>(),
        mutations in prop::collection::vec(mutation(), 1..5),
        sizes in prop::collection::vec(1usize..64, 1..8),
    ) {
        let corpus = corpus();
        let (report, body) = &corpus[pick.index(corpus.len())];
        let mut body = body.clone();
        for m in &mutations {
            apply(&mut body, m);
        }
        let options = DecoderOptions { batch_size: 2, max_depth: 64, ..DecoderOptions::default() };
        let whole = decode_all(report, options, &body);
        let chunked = decode_chunked(report, options, &body, &sizes);
        prop_assert_eq!(whole, chunked);
    }
}
