//! `convert`: saved Cake responses into Parquet, on two cores.
//!
//! A saved response is a body as Cake sent it (the GET document or a SOAP envelope), plain or
//! compressed: zstd (the raw responses `pull` keeps with `keep_raw`) or gzip (as earlier
//! versions kept them, or as a user saved one). [`open_saved`] recognises the compression by
//! the first bytes, whatever the file is called.
//!
//! [`convert_file`] decodes on the caller's thread and hands each batch to a
//! [`ParquetFile`], whose encoder thread encodes and compresses the previous batches meanwhile
//! (a queue of [`cake_sink::WriteOptions::encode_queue`] batches; with 0, one thread does
//! both). Memory stays bounded by the batch size and that queue, whatever the input's size. A
//! failure on either side stops the other: a decoding error drops the file (its thread stops
//! and its temporary file goes), and an encoding error comes back from the next batch handed
//! over, which ends the decoding.

// `ConvertError` holds the sink's error whole rather than boxed: a caller (the binary's exit
// codes) finds it by type in the chain of sources, which a `Box<SinkError>` would hide. One
// error per input file makes its size irrelevant.
#![allow(clippy::result_large_err)]

use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

use cake_arrow::{decode_reader, DecodeError, DecodeSummary, DecoderOptions};
use cake_catalog::Report;
use cake_core::failure::{Class, Classify};
use cake_sink::{ParquetFile, SinkError};

/// Read size for saved responses, and for their decompressed bytes.
const READ_BUFFER: usize = 256 << 10;

/// The first bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The first bytes of a zstd frame.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];

/// How a saved response is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SavedEncoding {
    /// The body as it was sent.
    Plain,
    /// gzip.
    Gzip,
    /// zstd (how `pull` keeps raw responses).
    Zstd,
}

impl SavedEncoding {
    /// The encoding of a saved response that starts with `head` (its first bytes; four are
    /// enough).
    pub fn of(head: &[u8]) -> SavedEncoding {
        if head.starts_with(&ZSTD_MAGIC) {
            SavedEncoding::Zstd
        } else if head.starts_with(&GZIP_MAGIC) {
            SavedEncoding::Gzip
        } else {
            SavedEncoding::Plain
        }
    }
}

/// Why a saved response was not converted. Each names the input; the source is the
/// decoder's, the sink's or the system's error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConvertError {
    /// The input cannot be opened or its first bytes read.
    #[error("cannot open {}: check the path of the saved response", path.display())]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The response cannot be decoded (reading or decompressing it failed midway, it is not a
    /// Cake response of this report, or Cake refused the request).
    #[error("{} was not converted", path.display())]
    Decode {
        path: PathBuf,
        #[source]
        source: DecodeError,
    },
    /// The file is not a Cake XML response at all (JSON, an HTML page, empty, an archive):
    /// nothing was decoded.
    #[error(
        "{} is not a Cake XML response: it is {what}. convert reads the XML bodies Cake's API \
         answers (saved with curl, or kept by pull --keep-raw), plain, gzip or zstd",
        path.display()
    )]
    NotCake { path: PathBuf, what: String },
    /// The file is the answer of another report of the catalog.
    #[error(
        "{} is a saved response of {answers}, not of {report}: convert it as {answers} \
         (--report {answers})",
        path.display()
    )]
    OtherReport {
        path: PathBuf,
        report: &'static str,
        answers: &'static str,
    },
    /// Writing the Parquet output failed.
    #[error("{} was not converted", path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: SinkError,
    },
}

impl Classify for ConvertError {
    fn class(&self) -> Class {
        match self {
            ConvertError::Open { .. } => Class::Usage,
            ConvertError::NotCake { .. } => Class::NotCake,
            ConvertError::OtherReport { .. } => Class::NotCake,
            ConvertError::Decode { source, .. } => source.class(),
            ConvertError::Write { source, .. } => source.class(),
        }
    }
}

/// A saved response's bytes, decompressed.
pub type SavedReader = Box<dyn BufRead + Send>;

/// Opens a saved response for reading: plain, gzip or zstd, recognised by its first bytes.
pub fn open_saved(path: &Path) -> Result<SavedReader, ConvertError> {
    let open = |source| ConvertError::Open {
        path: path.to_path_buf(),
        source,
    };
    let file = File::open(path).map_err(open)?;
    saved_reader(BufReader::with_capacity(READ_BUFFER, file)).map_err(open)
}

/// The decompressed bytes of a saved response read from `reader`, whose compression is
/// recognised by its first bytes.
pub fn saved_reader(
    mut reader: impl BufRead + Send + 'static,
) -> Result<SavedReader, std::io::Error> {
    let encoding = SavedEncoding::of(reader.fill_buf()?);
    Ok(match encoding {
        SavedEncoding::Plain => Box::new(reader),
        SavedEncoding::Gzip => Box::new(BufReader::with_capacity(
            READ_BUFFER,
            flate2::bufread::GzDecoder::new(reader),
        )),
        SavedEncoding::Zstd => Box::new(BufReader::with_capacity(
            READ_BUFFER,
            zstd::stream::read::Decoder::with_buffer(reader)?,
        )),
    })
}

/// Decodes the saved response at `input` into `out` (see the module documentation): the
/// decoder's summary, or what failed.
pub fn convert_file(
    report: &'static Report,
    options: DecoderOptions,
    input: &Path,
    out: &mut ParquetFile,
) -> Result<DecodeSummary, ConvertError> {
    let mut reader = open_saved(input)?;
    let head = match reader.fill_buf() {
        Ok(head) => describe(head),
        Err(e) => Some(format!("compressed data that does not decompress ({e})")),
    };
    if let Some(what) = head {
        let what = match SavedEncoding::of(&first_bytes(input)) {
            SavedEncoding::Plain => what,
            SavedEncoding::Gzip => format!("gzip of {what}"),
            SavedEncoding::Zstd => format!("zstd of {what}"),
        };
        return Err(ConvertError::NotCake {
            path: input.to_path_buf(),
            what,
        });
    }
    convert_reader(report, options, input, reader, out)
}

/// Whether the first bytes of `bytes` are UTF-8 text without control characters (a
/// character cut at the end of the sample does not count).
fn looks_like_text(bytes: &[u8]) -> bool {
    let sample = &bytes[..bytes.len().min(64)];
    let valid = match std::str::from_utf8(sample) {
        Ok(_) => sample.len(),
        Err(e) if e.error_len().is_none() => e.valid_up_to(),
        Err(_) => return false,
    };
    sample[..valid]
        .iter()
        .all(|b| !b.is_ascii_control() || b.is_ascii_whitespace())
}

/// The first four bytes of a file (fewer when it is shorter or unreadable).
fn first_bytes(path: &Path) -> Vec<u8> {
    use std::io::Read as _;
    let mut head = Vec::new();
    if let Ok(f) = File::open(path) {
        let _ = f.take(4).read_to_end(&mut head);
    }
    head
}

/// What a document that starts with `head` is, when it is clearly not XML (`None`: it may be
/// a Cake response, the decoder decides).
pub fn describe(head: &[u8]) -> Option<String> {
    let text = head.strip_prefix(b"\xef\xbb\xbf").unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    let Some(start) = start else {
        return Some(if head.is_empty() {
            "empty (0 bytes)".to_string()
        } else {
            format!("{} byte(s) of whitespace only", head.len())
        });
    };
    let text = &text[start..];
    let lower: Vec<u8> = text.iter().take(15).map(u8::to_ascii_lowercase).collect();
    let excerpt = || {
        let s: String = String::from_utf8_lossy(&text[..text.len().min(200)])
            .chars()
            .map(|c| if c.is_control() { ' ' } else { c })
            .collect();
        let s = s.split_whitespace().collect::<Vec<_>>().join(" ");
        cake_core::text::excerpt(&s, None, 40)
    };
    if lower.starts_with(b"<!doctype html") || lower.starts_with(b"<html") {
        let page = String::from_utf8_lossy(text);
        let gist = cake_core::text::excerpt(&cake_core::text::page_summary(&page), None, 60);
        return Some(format!("an HTML page (\"{gist}\")"));
    }
    if text.starts_with(b"<") {
        return None;
    }
    if text.starts_with(b"{") || text.starts_with(b"[") {
        return Some(format!("a JSON document (\"{}\")", excerpt()));
    }
    let kind = if text.starts_with(b"PK\x03\x04") {
        "a ZIP archive"
    } else if text.starts_with(b"%PDF") {
        "a PDF document"
    } else if text.starts_with(b"BZh") {
        "bzip2 data, which convert does not read (decompress it first)"
    } else if text.starts_with(&[0xfd, b'7', b'z', b'X', b'Z']) {
        "xz data, which convert does not read (decompress it first)"
    } else if text.starts_with(b"PAR1") {
        "a Parquet file"
    } else if looks_like_text(text) {
        return Some(format!("text (\"{}\")", excerpt()));
    } else {
        "binary data"
    };
    Some(kind.to_string())
}

/// Decodes a response read from `reader` into `out`; `input` names it in errors.
pub fn convert_reader(
    report: &'static Report,
    options: DecoderOptions,
    input: &Path,
    reader: impl BufRead,
    out: &mut ParquetFile,
) -> Result<DecodeSummary, ConvertError> {
    decode_reader(report, options, reader, |batch| {
        out.write(&batch).map_err(Failure::Write)
    })
    .map_err(|failure| match failure {
        Failure::Decode(DecodeError::WrongAnswer {
            report: asked,
            answers: Some(answers),
            ..
        }) => ConvertError::OtherReport {
            path: input.to_path_buf(),
            report: asked,
            answers,
        },
        Failure::Decode(source) => ConvertError::Decode {
            path: input.to_path_buf(),
            source,
        },
        Failure::Write(source) => ConvertError::Write {
            path: input.to_path_buf(),
            source,
        },
    })
}

/// Either side's error, inside the decoding loop.
enum Failure {
    Decode(DecodeError),
    Write(SinkError),
}

impl From<DecodeError> for Failure {
    fn from(e: DecodeError) -> Failure {
        Failure::Decode(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_is_not_xml_is_described() {
        let cases: [(&[u8], Option<&str>); 10] = [
            (b"", Some("empty (0 bytes)")),
            (b"  \n", Some("3 byte(s) of whitespace only")),
            (b"{\"d\": 1}", Some("a JSON document (\"{\"d\": 1}\")")),
            (b"<!DOCTYPE html><html>", Some("an HTML page")),
            (b"\n<HTML><body>", Some("an HTML page")),
            (b"PK\x03\x04zz", Some("a ZIP archive")),
            (b"Server Error", Some("text (\"Server Error\")")),
            (b"<?xml version=\"1.0\"?><a/>", None),
            (b"\xef\xbb\xbf<response/>", None),
            (&[0, 159, 146, 150, 1, 2], Some("binary data")),
        ];
        for (head, want) in cases {
            let got = describe(head);
            match want {
                None => assert_eq!(got, None, "{head:?}"),
                Some(w) => assert!(got.as_deref().is_some_and(|g| g.starts_with(w)), "{got:?}"),
            }
        }
    }

    #[test]
    fn encodings_are_recognised_by_their_first_bytes() {
        assert_eq!(SavedEncoding::of(b"<?xml"), SavedEncoding::Plain);
        assert_eq!(SavedEncoding::of(b""), SavedEncoding::Plain);
        assert_eq!(SavedEncoding::of(&[0x1f, 0x8b, 8, 0]), SavedEncoding::Gzip);
        assert_eq!(SavedEncoding::of(&ZSTD_MAGIC), SavedEncoding::Zstd);
        assert_eq!(SavedEncoding::of(&ZSTD_MAGIC[..3]), SavedEncoding::Plain);
    }
}
