//! `convert_file` and `convert_reader`: the decoder on the caller's thread, the Parquet encoder
//! on the file's own. The pipelined file is the single-threaded one, byte for byte; saved
//! responses are read plain, gzip'd or zstd-compressed whatever their names; a failure on
//! either side stops the other with its own error and leaves nothing behind.

#[path = "../../../cake-arrow/examples/common/clicks.rs"]
mod clicks;

use std::io::{BufRead, Read, Write};
use std::path::{Path, PathBuf};

use cake_arrow::DecoderOptions;
use cake_catalog::Report;
use cake_pipeline::{
    convert_file, convert_reader, open_saved, Class, Classify, ConvertError, SavedEncoding,
};
use cake_sink::{ParquetFile, SinkError, WriteOptions};

fn report() -> &'static Report {
    cake_catalog::find("clicks").unwrap()
}

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/responses/clicks/get.xml")
}

/// A synthetic Clicks response of about `bytes` bytes (4.4 KB a row).
fn response(bytes: u64) -> Vec<u8> {
    let mut out = Vec::new();
    clicks::write_response(&mut out, bytes, 3).unwrap();
    out
}

/// Small batches, blocks and row groups, so that a small input makes many of each.
fn decoder() -> DecoderOptions {
    DecoderOptions {
        batch_size: 64,
        block_bytes: 64 << 10,
        ..DecoderOptions::default()
    }
}

fn write_options(queue: usize) -> WriteOptions {
    WriteOptions {
        metadata: vec![("cake.report".into(), "clicks".into())],
        max_row_group_rows: 200,
        encode_queue: queue,
        ..WriteOptions::default()
    }
}

fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Converts `input` into `dir/name` with `queue` batches for the encoder thread: the file's
/// bytes.
fn convert(input: &Path, dir: &Path, name: &str, queue: usize) -> Vec<u8> {
    let path = dir.join(name);
    let mut out =
        ParquetFile::create(&path, cake_arrow::schema(report()), write_options(queue)).unwrap();
    let summary = convert_file(report(), decoder(), input, &mut out).unwrap();
    assert_eq!(out.rows(), summary.rows);
    out.finish().unwrap();
    std::fs::read(path).unwrap()
}

/// Decoding and encoding on two threads writes the file that one thread writes, byte for
/// byte (so the same rows, in the same order, in the same row groups).
#[test]
fn the_pipelined_file_is_the_single_threaded_file() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("clicks.xml");
    std::fs::write(&input, response(2 << 20)).unwrap();
    let single = convert(&input, dir.path(), "single.parquet", 0);
    for queue in [1, 2, 16] {
        let pipelined = convert(&input, dir.path(), &format!("q{queue}.parquet"), queue);
        assert!(pipelined == single, "queue {queue}: the files differ");
    }
    let rows = cake_sink::read_parquet("single.parquet", single).unwrap();
    assert!(rows.rows > 400, "{} rows", rows.rows);
}

/// The same response saved plain, gzip'd (as earlier versions kept raw responses) and
/// zstd-compressed (as `pull` keeps them now) converts to the same file, whatever the names
/// say: the compression is recognised by the first bytes.
#[test]
fn plain_gzip_and_zstd_responses_convert_alike() {
    let dir = tempfile::tempdir().unwrap();
    let body = std::fs::read(fixture()).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&body).unwrap();
    let zst = zstd::stream::encode_all(body.as_slice(), cake_pipeline::RAW_ZSTD_LEVEL).unwrap();
    let cases = [
        ("plain.xml", body.clone(), SavedEncoding::Plain),
        (
            "page-00001.xml.gz",
            gz.finish().unwrap(),
            SavedEncoding::Gzip,
        ),
        ("page-00002.xml.zst", zst.clone(), SavedEncoding::Zstd),
        // Misnamed: zstd in a `.gz`.
        ("misnamed.xml.gz", zst, SavedEncoding::Zstd),
    ];
    let mut files = Vec::new();
    for (name, bytes, encoding) in cases {
        let input = dir.path().join(name);
        std::fs::write(&input, &bytes).unwrap();
        assert_eq!(SavedEncoding::of(&bytes), encoding, "{name}");
        let mut text = Vec::new();
        open_saved(&input).unwrap().read_to_end(&mut text).unwrap();
        assert!(text == body, "{name} reads back as the body");
        files.push(convert(&input, dir.path(), &format!("{name}.parquet"), 2));
    }
    for f in &files[1..] {
        assert!(f == &files[0]);
    }
}

/// A reader of `bytes` that calls `hook` once `at` bytes were consumed, and counts them.
struct Hooked<'a> {
    bytes: &'a [u8],
    pos: usize,
    at: usize,
    hook: Option<Box<dyn FnOnce() + 'a>>,
}

impl Read for Hooked<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.fill_buf()?.len().min(buf.len());
        buf[..n].copy_from_slice(&self.bytes[self.pos..self.pos + n]);
        self.consume(n);
        Ok(n)
    }
}

impl BufRead for Hooked<'_> {
    fn fill_buf(&mut self) -> std::io::Result<&[u8]> {
        let end = (self.pos + (64 << 10)).min(self.bytes.len());
        Ok(&self.bytes[self.pos..end])
    }

    fn consume(&mut self, n: usize) {
        self.pos += n;
        if self.pos >= self.at {
            if let Some(hook) = self.hook.take() {
                hook();
            }
        }
    }
}

/// The encoder fails midway (its directory goes, so the page store cannot create a file): the
/// decoding stops at the next batch it hands over, long before the end of the input, with the
/// sink's error, and the output leaves nothing behind. Single-threaded and pipelined alike.
#[test]
fn an_encoding_error_stops_the_decoding() {
    let body = response(8 << 20);
    for queue in [0, 2] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("clicks.parquet");
        let mut out =
            ParquetFile::create(&path, cake_arrow::schema(report()), write_options(queue)).unwrap();
        let gone = dir.clone();
        let mut reader = Hooked {
            bytes: &body,
            pos: 0,
            at: 1 << 20,
            hook: Some(Box::new(move || std::fs::remove_dir_all(gone).unwrap())),
        };
        let input = Path::new("saved.xml");
        let e = convert_reader(report(), decoder(), input, &mut reader, &mut out).unwrap_err();
        assert!(
            matches!(
                &e,
                ConvertError::Write { path, source: SinkError::Parquet { path: file, .. } }
                    if path == input && file == &dir.join("clicks.parquet")
            ),
            "queue {queue}: {e:?}"
        );
        assert!(
            e.to_string().starts_with("saved.xml was not converted"),
            "{e}"
        );
        // The sink's error is in the chain as itself (the binary's exit codes look for it).
        let source = std::error::Error::source(&e).and_then(|s| s.downcast_ref::<SinkError>());
        assert!(source.is_some(), "{e:?}");
        assert!(
            reader.pos < 2 << 20,
            "queue {queue}: the decoding went on to byte {} of {}",
            reader.pos,
            body.len()
        );
        drop(out);
        assert_eq!(entries(root.path()), Vec::<String>::new());
    }
}

/// The input breaks off midway (a body cut short, then garbage): the decoder's error, typed,
/// and the unfinished file removed with its encoder thread.
#[test]
fn a_decoding_error_drops_the_output() {
    let mut body = response(4 << 20);
    body.truncate(body.len() / 2);
    body.extend_from_slice(b"</click><<garbage");
    for queue in [0, 2] {
        let dir = tempfile::tempdir().unwrap();
        let input = dir.path().join("broken.xml");
        std::fs::write(&input, &body).unwrap();
        let path = dir.path().join("clicks.parquet");
        let mut out =
            ParquetFile::create(&path, cake_arrow::schema(report()), write_options(queue)).unwrap();
        let e = convert_file(report(), decoder(), &input, &mut out).unwrap_err();
        let ConvertError::Decode {
            path: named,
            source,
        } = &e
        else {
            panic!("queue {queue}: {e:?}");
        };
        assert_eq!(named, &input);
        assert_eq!(source.class(), Class::NotCake, "{source}");
        assert!(out.rows() > 0, "rows before the break were handed over");
        drop(out);
        assert_eq!(entries(dir.path()), ["broken.xml"]);
    }
}

/// A missing input names itself and says what to check.
#[test]
fn a_missing_input_is_an_open_error() {
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("missing.xml.zst");
    let e = open_saved(&input).err().unwrap();
    assert!(matches!(e, ConvertError::Open { .. }), "{e:?}");
    assert!(e.to_string().contains("missing.xml.zst"), "{e}");
}
