//! A local directory: files written beside their target and renamed into place, directories
//! fsync'd, so that a crash leaves either the old file or the new one.

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use object_store::{ObjectStore, PutMode};

use super::{sync_dir, write_atomic, Backend, Conditional, Io};
use crate::file::SinkError;

/// A directory (canonical path).
pub(super) struct LocalDir {
    pub(super) root: PathBuf,
}

impl Backend for LocalDir {
    fn display(&self) -> String {
        self.root.display().to_string()
    }

    fn local_root(&self) -> Option<&Path> {
        Some(&self.root)
    }

    fn object_store(&self) -> Arc<dyn ObjectStore> {
        Arc::new(object_store::local::LocalFileSystem::new())
    }

    fn put_bytes<'a>(&'a self, rel: &'a str, bytes: Vec<u8>) -> Io<'a, ()> {
        Box::pin(std::future::ready(write_atomic(
            &self.root.join(rel),
            &bytes,
        )))
    }

    fn get_bytes<'a>(&'a self, rel: &'a str) -> Io<'a, Option<Vec<u8>>> {
        Box::pin(std::future::ready(self.read(rel)))
    }

    fn get_versioned<'a>(&'a self, rel: &'a str) -> Io<'a, Option<(Vec<u8>, Option<String>)>> {
        Box::pin(std::future::ready(
            self.read(rel).map(|b| b.map(|b| (b, None))),
        ))
    }

    fn put_conditional<'a>(
        &'a self,
        _rel: &'a str,
        _bytes: Vec<u8>,
        _mode: PutMode,
    ) -> Io<'a, Conditional> {
        Box::pin(std::future::ready(Err(SinkError::Options(
            "conditional writes are for object storage only".into(),
        ))))
    }

    fn put_file<'a>(&'a self, rel: &'a str, from: &'a Path) -> Io<'a, ()> {
        Box::pin(std::future::ready(self.move_in(rel, from)))
    }

    fn list<'a>(&'a self, rel: &'a str) -> Io<'a, Vec<String>> {
        Box::pin(std::future::ready(self.files_in(rel)))
    }

    fn list_recursive<'a>(&'a self, rel: &'a str) -> Io<'a, Vec<String>> {
        let mut out = Vec::new();
        let result = walk(&self.root, &self.root.join(rel), &mut out).map(|()| {
            out.sort();
            out
        });
        Box::pin(std::future::ready(result))
    }

    fn delete<'a>(&'a self, rel: &'a str) -> Io<'a, ()> {
        let path = self.root.join(rel);
        let result = match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(source) => Err(SinkError::Io { path, source }),
        };
        Box::pin(std::future::ready(result))
    }
}

impl LocalDir {
    fn read(&self, rel: &str) -> Result<Option<Vec<u8>>, SinkError> {
        let path = self.root.join(rel);
        match fs::read(&path) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(SinkError::Io { path, source }),
        }
    }

    fn move_in(&self, rel: &str, from: &Path) -> Result<(), SinkError> {
        let to = self.root.join(rel);
        if let Some(dir) = to.parent() {
            fs::create_dir_all(dir).map_err(|source| SinkError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        fs::rename(from, &to).map_err(|source| SinkError::Io {
            path: to.clone(),
            source,
        })?;
        sync_dir(to.parent().unwrap_or(&self.root))
    }

    fn files_in(&self, rel: &str) -> Result<Vec<String>, SinkError> {
        let dir = self.root.join(rel);
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(SinkError::Io { path: dir, source }),
        };
        let mut names = Vec::new();
        for entry in entries {
            let entry = entry.map_err(|source| SinkError::Io {
                path: dir.clone(),
                source,
            })?;
            if entry.file_type().map(|t| t.is_file()).unwrap_or(false) {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<String>) -> Result<(), SinkError> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(source) => {
            return Err(SinkError::Io {
                path: dir.to_path_buf(),
                source,
            })
        }
    };
    for entry in entries {
        let entry = entry.map_err(|source| SinkError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        let path = entry.path();
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false) {
            walk(root, &path, out)?;
        } else if let Ok(rel) = path.strip_prefix(root) {
            out.push(rel.to_string_lossy().replace('\\', "/"));
        }
    }
    Ok(())
}
