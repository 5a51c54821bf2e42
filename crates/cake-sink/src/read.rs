//! Reading output back: a Parquet file's schema, rows and footer metadata, and a committed
//! partition checked against its manifest.

use std::collections::BTreeSet;

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

use crate::file::SinkError;
use crate::partition::{Manifest, MANIFEST};
use crate::sink::Sink;

/// What a Parquet file holds.
#[derive(Debug, Clone)]
pub struct ParquetContents {
    /// The Arrow schema stored in the file.
    pub schema: SchemaRef,
    pub batches: Vec<RecordBatch>,
    pub rows: u64,
    /// The footer's key/value metadata, in file order (`ARROW:schema` left out).
    pub metadata: Vec<(String, String)>,
    pub row_groups: usize,
}

/// Reads a whole Parquet file from memory. `name` is only used in error messages.
pub fn read_parquet(name: &str, bytes: impl Into<Bytes>) -> Result<ParquetContents, SinkError> {
    let fail = |e: parquet::errors::ParquetError| SinkError::Read {
        name: name.to_string(),
        message: e.to_string(),
    };
    let builder = ParquetRecordBatchReaderBuilder::try_new(bytes.into()).map_err(fail)?;
    let schema = builder.schema().clone();
    let meta = builder.metadata().clone();
    let metadata = meta
        .file_metadata()
        .key_value_metadata()
        .map(|kv| {
            kv.iter()
                .filter(|k| k.key != "ARROW:schema")
                .map(|k| (k.key.clone(), k.value.clone().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    let mut batches = Vec::new();
    for batch in builder.build().map_err(fail)? {
        batches.push(batch.map_err(|e| SinkError::Read {
            name: name.to_string(),
            message: e.to_string(),
        })?);
    }
    Ok(ParquetContents {
        schema,
        rows: batches.iter().map(|b| b.num_rows() as u64).sum(),
        batches,
        metadata,
        row_groups: meta.num_row_groups(),
    })
}

impl Sink {
    /// Checks a committed partition against its `_SUCCESS` manifest: every file it lists is
    /// there with its size, SHA-256 and row count, and no other Parquet file is. Returns the
    /// manifest. Each file is read whole into memory.
    pub async fn verify(
        &self,
        table: &str,
        partition: Option<&str>,
    ) -> Result<Manifest, SinkError> {
        let dir = match partition {
            Some(p) => format!("{table}/{p}"),
            None => table.to_string(),
        };
        let location = format!("{}/{dir}", self.store().display().trim_end_matches('/'));
        let mismatch = |message: String| SinkError::Mismatch {
            location: location.clone(),
            message,
        };
        let manifest = self.manifest(table, partition).await?.ok_or_else(|| {
            mismatch(format!(
                "it has no {MANIFEST} manifest, so it was never committed (or a commit is under way)"
            ))
        })?;
        for f in &manifest.files {
            let rel = format!("{dir}/{}", f.name);
            let bytes = self
                .store()
                .get_bytes(&rel)
                .await?
                .ok_or_else(|| mismatch(format!("{} is listed but missing", f.name)))?;
            if bytes.len() as u64 != f.bytes {
                return Err(mismatch(format!(
                    "{} has {} bytes, the manifest says {}",
                    f.name,
                    bytes.len(),
                    f.bytes
                )));
            }
            let sha = hex::encode(Sha256::digest(&bytes));
            if sha != f.sha256 {
                return Err(mismatch(format!(
                    "{} has SHA-256 {sha}, the manifest says {}",
                    f.name, f.sha256
                )));
            }
            let meta = parquet::file::metadata::ParquetMetaDataReader::new()
                .parse_and_finish(&Bytes::from(bytes))
                .map_err(|e| SinkError::Read {
                    name: rel.clone(),
                    message: e.to_string(),
                })?;
            let rows = u64::try_from(meta.file_metadata().num_rows()).unwrap_or(0);
            if rows != f.rows {
                return Err(mismatch(format!(
                    "{} holds {rows} rows, the manifest says {}",
                    f.name, f.rows
                )));
            }
        }
        let listed: BTreeSet<&str> = manifest.files.iter().map(|f| f.name.as_str()).collect();
        for name in self.store().list(&dir).await? {
            if name.ends_with(".parquet")
                && !name.starts_with(['.', '_'])
                && !listed.contains(name.as_str())
            {
                return Err(mismatch(format!(
                    "{name} is not in the manifest (left by an interrupted commit?)"
                )));
            }
        }
        let total: u64 = manifest.files.iter().map(|f| f.rows).sum();
        if total != manifest.rows {
            return Err(mismatch(format!(
                "its files hold {total} rows, the manifest's total says {}",
                manifest.rows
            )));
        }
        Ok(manifest)
    }
}
