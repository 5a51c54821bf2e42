//! A page store that keeps the finished pages of the row group being written in an unnamed
//! temporary file instead of the heap, so the writer's memory does not grow with the row
//! group: only the pages being encoded are in memory.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use bytes::Bytes;
use parquet::arrow::arrow_writer::{PageKey, PageStore, PageStoreArgs, PageStoreFactory};
use parquet::errors::{ParquetError, Result};

/// Creates one [`SpillStore`] per column chunk, with its file in `dir`.
#[derive(Debug)]
pub(crate) struct SpillFactory {
    pub dir: PathBuf,
}

impl PageStoreFactory for SpillFactory {
    fn create(&self, _args: &PageStoreArgs<'_>) -> Result<Box<dyn PageStore>> {
        Ok(Box::new(SpillStore {
            dir: self.dir.clone(),
            file: None,
            end: 0,
            blobs: Vec::new(),
        }))
    }
}

/// Blobs appended to a temporary file (created on the first page, removed by the system when
/// closed), read back by offset.
struct SpillStore {
    dir: PathBuf,
    file: Option<File>,
    end: u64,
    /// (offset, length) per key.
    blobs: Vec<(u64, usize)>,
}

fn io(e: std::io::Error) -> ParquetError {
    ParquetError::External(Box::new(e))
}

impl PageStore for SpillStore {
    fn put(&mut self, value: Bytes) -> Result<PageKey> {
        let file = match &mut self.file {
            Some(f) => f,
            None => self
                .file
                .insert(tempfile::tempfile_in(&self.dir).map_err(io)?),
        };
        file.seek(SeekFrom::Start(self.end)).map_err(io)?;
        file.write_all(&value).map_err(io)?;
        let key = PageKey::new(self.blobs.len() as u64);
        self.blobs.push((self.end, value.len()));
        self.end += value.len() as u64;
        Ok(key)
    }

    fn take(&mut self, key: PageKey) -> Result<Bytes> {
        let (offset, len) = usize::try_from(key.get())
            .ok()
            .and_then(|k| self.blobs.get(k).copied())
            .ok_or_else(|| ParquetError::General(format!("unknown spilled page {}", key.get())))?;
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| ParquetError::General("no spill file".into()))?;
        file.seek(SeekFrom::Start(offset)).map_err(io)?;
        let mut buf = vec![0; len];
        file.read_exact(&mut buf).map_err(io)?;
        Ok(Bytes::from(buf))
    }
}
