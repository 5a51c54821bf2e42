//! Criterion benchmark of the decoder on a 4 MB Clicks response held in memory: quick-xml's
//! raw event scan next to the decoder to Arrow, in bytes per second. The full-size figures
//! (150 MB and more, streaming from a file, with Parquet and peak memory) come from
//! `cargo xtask bench decode`.

#[path = "../examples/common/clicks.rs"]
mod clicks;

use cake_arrow::{Decoder, DecoderOptions};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use quick_xml::events::Event;

fn body() -> Vec<u8> {
    let mut out = Vec::new();
    clicks::write_response(&mut out, 4 << 20, 7).expect("writing to memory");
    out
}

fn raw_scan(body: &[u8]) -> usize {
    let mut reader = quick_xml::Reader::from_reader(body);
    let mut n = 0;
    loop {
        match reader.read_event().expect("well-formed") {
            Event::Text(t) => n += t.xml10_content().len(),
            Event::GeneralRef(r) => n += r.len(),
            Event::Start(e) | Event::Empty(e) => n += e.local_name().as_ref().len(),
            Event::Eof => return n,
            _ => {}
        }
    }
}

fn decode(body: &[u8], chunk: usize) -> u64 {
    let report = cake_catalog::find("clicks").expect("in the catalog");
    let mut decoder = Decoder::new(report, DecoderOptions::default());
    let mut rows = 0;
    for part in body.chunks(chunk) {
        decoder.push(part).expect("decodes");
        while let Some(b) = decoder.pop_batch() {
            rows += b.num_rows() as u64;
        }
    }
    decoder.finish().expect("decodes");
    while let Some(b) = decoder.pop_batch() {
        rows += b.num_rows() as u64;
    }
    rows
}

fn bench(c: &mut Criterion) {
    let body = body();
    let mut group = c.benchmark_group("clicks_4mb");
    group.throughput(Throughput::Bytes(body.len() as u64));
    group.sample_size(20);
    group.bench_function("quick_xml_raw_scan", |b| b.iter(|| raw_scan(&body)));
    group.bench_function("decode_to_arrow", |b| b.iter(|| decode(&body, usize::MAX)));
    group.bench_function("decode_to_arrow_64k_chunks", |b| {
        b.iter(|| decode(&body, 64 << 10))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
