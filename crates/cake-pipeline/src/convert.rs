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
    let reader = open_saved(input)?;
    convert_reader(report, options, input, reader, out)
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
    fn encodings_are_recognised_by_their_first_bytes() {
        assert_eq!(SavedEncoding::of(b"<?xml"), SavedEncoding::Plain);
        assert_eq!(SavedEncoding::of(b""), SavedEncoding::Plain);
        assert_eq!(SavedEncoding::of(&[0x1f, 0x8b, 8, 0]), SavedEncoding::Gzip);
        assert_eq!(SavedEncoding::of(&ZSTD_MAGIC), SavedEncoding::Zstd);
        assert_eq!(SavedEncoding::of(&ZSTD_MAGIC[..3]), SavedEncoding::Plain);
    }
}
