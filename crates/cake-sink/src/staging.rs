//! A run's private staging directory, owned through a file-system lock rather than a process
//! id (process ids mean nothing across containers that share a volume).
//!
//! A run creates `<base>/<run id>/` and holds an exclusive lock for as long as its sink is
//! open: on the directory itself where the file system can lock directories (local file
//! systems on Linux and macOS: no file appears), otherwise on the file `<base>/<run id>.lock`
//! (NFS, and systems that cannot open a directory as a file). The kernel releases the lock
//! when the process ends, however it ends. When a sink opens, it removes every other run's
//! staging directory whose lock it can take (its owner is gone) and leaves the others.
//!
//! Lock then check: after taking a lock, the owner checks that the path still names the
//! locked file (a cleaner may have removed it in between) and starts again if not, so a
//! cleaner never removes a directory whose owner holds its lock.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::file::SinkError;

/// A staging directory owned by this run.
#[derive(Debug)]
pub(crate) struct Staging {
    pub dir: PathBuf,
    base: PathBuf,
    /// The lock file, when the directory itself could not be locked.
    lock_file: Option<PathBuf>,
    /// Holds the lock until the staging is dropped.
    _lock: File,
}

enum Take {
    Held(File),
    Busy,
    /// The file system cannot lock this (a directory on NFS, for example).
    Unsupported,
}

impl Staging {
    /// Removes the staging directories of runs that are gone from `base`, then creates and
    /// locks `<base>/<run_id>`.
    pub fn open(base: &Path, run_id: &str) -> Result<Staging, SinkError> {
        clean(base, run_id);
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| SinkError::Io { path, source }
        };
        let dir = base.join(run_id);
        let lock_path = base.join(format!("{run_id}.lock"));
        let mut last = None;
        for _ in 0..1000 {
            fs::create_dir_all(base).map_err(io(base))?;
            match fs::create_dir(&dir) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                // Another run removed the empty base in between.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    last = Some(e);
                    continue;
                }
                Err(e) => return Err(io(&dir)(e)),
            }
            match take_dir(&dir) {
                Take::Held(file) => {
                    if same_file(&dir, &file) {
                        return Ok(Staging {
                            dir,
                            base: base.to_path_buf(),
                            lock_file: None,
                            _lock: file,
                        });
                    }
                }
                Take::Busy => std::thread::sleep(Duration::from_millis(2)),
                // Another run's cleaning removed the directory between its creation and its
                // lock (it looked abandoned): create it again.
                Take::Unsupported if !dir.is_dir() => continue,
                Take::Unsupported => match take_file(&lock_path, true) {
                    Ok(Take::Held(file)) => {
                        if same_file(&lock_path, &file) && dir.is_dir() {
                            return Ok(Staging {
                                dir,
                                base: base.to_path_buf(),
                                lock_file: Some(lock_path),
                                _lock: file,
                            });
                        }
                        // The directory went meanwhile: the lock file goes too, so nothing of
                        // this attempt stays behind.
                        if same_file(&lock_path, &file) {
                            let _ = fs::remove_file(&lock_path);
                        }
                    }
                    Ok(_) => std::thread::sleep(Duration::from_millis(2)),
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => last = Some(e),
                    Err(e) => {
                        return Err(SinkError::Io {
                            path: lock_path,
                            source: std::io::Error::new(
                                e.kind(),
                                format!("cannot lock the run's staging: {e}"),
                            ),
                        })
                    }
                },
            }
        }
        Err(SinkError::Io {
            path: dir,
            source: last.unwrap_or_else(|| {
                std::io::Error::other("other runs kept removing this run's staging directory")
            }),
        })
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        // The lock is still held here (fields drop after this body), so no other run can
        // mistake the directory for a dead run's while it goes.
        let _ = fs::remove_dir_all(&self.dir);
        if let Some(lock) = &self.lock_file {
            let _ = fs::remove_file(lock);
        }
        // The base goes too when no other run uses it.
        let _ = fs::remove_dir(&self.base);
    }
}

/// Removes the staging of every run in `base` other than `own` whose lock is free.
pub(crate) fn clean(base: &Path, own: &str) {
    let Ok(entries) = fs::read_dir(base) else {
        return;
    };
    let own_lock = format!("{own}.lock");
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name == own || name == own_lock {
            continue;
        }
        let path = entry.path();
        let is_dir = entry.file_type().map(|t| t.is_dir()).unwrap_or(false);
        if is_dir {
            let lock_path = base.join(format!("{name}.lock"));
            if fs::symlink_metadata(&lock_path).is_ok() {
                // Its owner locked a file: the directory goes only with that lock.
                if let Ok(Take::Held(file)) = take_file(&lock_path, false) {
                    if same_file(&lock_path, &file) {
                        let _ = fs::remove_dir_all(&path);
                        let _ = fs::remove_file(&lock_path);
                    }
                }
            } else if let Take::Held(file) = take_dir(&path) {
                if same_file(&path, &file) {
                    let _ = fs::remove_dir_all(&path);
                }
            }
            // Busy: a live run. Unsupported without a lock file: an owner between creating
            // its directory and its lock file, or a directory of an older version; left.
        } else if let Some(stem) = name.strip_suffix(".lock") {
            // A lock file without its directory (a run killed while it started or ended).
            if base.join(stem).exists() {
                continue;
            }
            if let Ok(Take::Held(file)) = take_file(&path, false) {
                if same_file(&path, &file) && !base.join(stem).exists() {
                    let _ = fs::remove_file(&path);
                }
            }
        }
    }
}

/// Locks the directory itself.
fn take_dir(dir: &Path) -> Take {
    let Ok(file) = File::open(dir) else {
        return Take::Unsupported;
    };
    match file.try_lock() {
        Ok(()) => Take::Held(file),
        Err(TryLockError::WouldBlock) => Take::Busy,
        Err(TryLockError::Error(_)) => Take::Unsupported,
    }
}

/// Locks the file `path` (created when `create`).
fn take_file(path: &Path, create: bool) -> std::io::Result<Take> {
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .create(create)
        .truncate(false)
        .open(path)?;
    match file.try_lock() {
        Ok(()) => Ok(Take::Held(file)),
        Err(TryLockError::WouldBlock) => Ok(Take::Busy),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether `path` still names the open `file` (not removed or replaced since it was opened).
pub(crate) fn same_file(path: &Path, file: &File) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (fs::metadata(path), file.metadata()) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir)
            .map(|e| {
                e.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    }

    /// The lock-file form (what NFS gets): a held lock file keeps its directory, a free one
    /// lets it go, and a stray free lock file goes.
    #[test]
    fn lock_files_guard_directories() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("_staging");
        for run in ["live", "dead", "stray"] {
            if run != "stray" {
                fs::create_dir_all(base.join(run).join("p0")).unwrap();
                fs::write(base.join(run).join("p0/x"), b"x").unwrap();
            }
            fs::write(base.join(format!("{run}.lock")), b"").unwrap();
        }
        let held = take_file(&base.join("live.lock"), false).unwrap();
        assert!(matches!(held, Take::Held(_)));
        clean(&base, "me");
        assert_eq!(names(&base), ["live", "live.lock"]);
        drop(held);
        clean(&base, "me");
        assert_eq!(names(&base), Vec::<String>::new());
    }

    /// The directory form: a run's own staging holds no file, survives other runs' cleaning
    /// while it is open, and goes with the run.
    #[cfg(unix)]
    #[test]
    fn directory_locks_keep_live_runs() {
        let t = tempfile::tempdir().unwrap();
        let base = t.path().join("_staging");
        let a = Staging::open(&base, "a").unwrap();
        assert!(
            a.lock_file.is_none(),
            "a local file system locks directories"
        );
        fs::write(a.dir.join("f"), b"x").unwrap();
        let b = Staging::open(&base, "b").unwrap();
        assert_eq!(names(&base), ["a", "b"]);
        assert!(a.dir.join("f").exists());
        drop(a);
        assert_eq!(names(&base), ["b"]);
        drop(b);
        assert!(!base.exists());
    }
}
