//! Where output lives: a local directory, or a bucket and prefix on object storage.
//!
//! Both take whole objects atomically: locally by writing a temporary file, fsync, rename and
//! fsync of the directory; on object storage with a single PUT or a completed multipart upload,
//! which readers never see half-done.
//!
//! [`Store`] is one type whatever the backend: the two (`local`, `object`) sit behind the
//! internal [`Backend`] trait, so nothing outside this module names an `object_store` type
//! but [`Store::object_store`], the view that the Delta kernel's engine reads through. Code
//! whose protocol differs by backend (a directory swap locally, manifests last on object
//! storage) asks [`Store::local_root`].

use std::fs;
use std::future::Future;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use object_store::{ObjectStore, PutMode, UpdateVersion};

use crate::file::SinkError;

mod local;
mod object;

use local::LocalDir;
use object::open_s3;

/// An output location: a local directory or a prefix of a bucket.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.display())
    }
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// How [`Store::open_with`] reaches object storage. Local directories ignore it.
#[derive(Clone, PartialEq, Eq)]
pub struct StoreOptions {
    /// Start from the `AWS_*` environment variables (what [`Store::open`] does). With
    /// `false`, only `settings` count.
    pub from_env: bool,
    /// Settings applied on top, by `object_store`'s names (the lower-case names of the
    /// environment variables): `aws_endpoint`, `aws_access_key_id`,
    /// `aws_secret_access_key`, `aws_region`, `aws_session_token`, `aws_allow_http`, ...
    pub settings: Vec<(String, String)>,
    /// Longest one request to object storage may take, body included (default 30 s).
    pub request_timeout: std::time::Duration,
    /// Longest a request is retried for, from its first attempt (default 60 s): an endpoint
    /// that never answers fails within about this long, saying which setting names it.
    pub retry_timeout: std::time::Duration,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            from_env: true,
            settings: Vec::new(),
            request_timeout: std::time::Duration::from_secs(30),
            retry_timeout: std::time::Duration::from_secs(60),
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    /// Names only: values may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("from_env", &self.from_env)
            .field("request_timeout", &self.request_timeout)
            .field("retry_timeout", &self.retry_timeout)
            .field(
                "settings",
                &self.settings.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What a backend's operations return: a boxed future, so that [`Backend`] is object safe.
type Io<'a, T> = Pin<Box<dyn Future<Output = Result<T, SinkError>> + Send + 'a>>;

/// The operations a location offers, implemented once per backend. Every write is atomic for
/// readers; `rel` is a `/`-separated path below the location.
trait Backend: Send + Sync {
    /// The location as a user wrote it (a path or a URL).
    fn display(&self) -> String;
    /// The directory, for a local location.
    fn local_root(&self) -> Option<&Path>;
    /// The location as an `object_store` (a local file system for a directory).
    fn object_store(&self) -> Arc<dyn ObjectStore>;
    fn put_bytes<'a>(&'a self, rel: &'a str, bytes: Vec<u8>) -> Io<'a, ()>;
    /// `None` when `rel` does not exist.
    fn get_bytes<'a>(&'a self, rel: &'a str) -> Io<'a, Option<Vec<u8>>>;
    /// The bytes with their ETag (object storage only has ETags).
    fn get_versioned<'a>(&'a self, rel: &'a str) -> Io<'a, Option<(Vec<u8>, Option<String>)>>;
    /// A write that happens only if `mode`'s condition holds (object storage only).
    fn put_conditional<'a>(
        &'a self,
        rel: &'a str,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Io<'a, Conditional>;
    /// Moves (locally) or uploads the local file `from` to `rel`.
    fn put_file<'a>(&'a self, rel: &'a str, from: &'a Path) -> Io<'a, ()>;
    /// Names of the objects directly inside `rel`, sorted.
    fn list<'a>(&'a self, rel: &'a str) -> Io<'a, Vec<String>>;
    /// Paths of every object below `rel`, relative to the location, sorted.
    fn list_recursive<'a>(&'a self, rel: &'a str) -> Io<'a, Vec<String>>;
    /// A missing object is not an error.
    fn delete<'a>(&'a self, rel: &'a str) -> Io<'a, ()>;
}

impl Store {
    fn new(backend: impl Backend + 'static) -> Store {
        Store {
            backend: Arc::new(backend),
        }
    }

    /// Opens `location`: a local path (created if missing), `file:///path`, or
    /// `s3://bucket/prefix`. S3 credentials, region and endpoint come from the usual
    /// `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers).
    ///
    /// Anything that looks like a URL must be a well-formed one of a supported scheme:
    /// `s3:/bucket`, `s3:bucket`, `s3//bucket`, `s3://` without a bucket, `data:x` (a word of
    /// two or more letters and a colon without `//`) and other schemes (`gs://`, `az://`,
    /// `http://`, ...) are refused with [`SinkError::Location`] (of the class `Usage`), so
    /// a typo never becomes a local folder. Windows drive letters (`C:\lake`) and relative
    /// paths (`./lake`, `lake`) are paths.
    pub fn open(location: &str) -> Result<Store, SinkError> {
        Store::open_with(location, &StoreOptions::default())
    }

    /// Opens `location` like [`Store::open`], with object storage settings given explicitly
    /// (`options.settings`) on top of, or instead of, the `AWS_*` environment variables.
    pub fn open_with(location: &str, options: &StoreOptions) -> Result<Store, SinkError> {
        let loc = location.trim();
        let refuse = |message: String| SinkError::Location {
            location: location.to_string(),
            message,
        };
        match parse_location(loc).map_err(refuse)? {
            Parsed::S3 { bucket, prefix } => open_s3(loc, bucket, prefix, options),
            Parsed::Local(path) => {
                let path = PathBuf::from(path);
                // A file (or a file among the parents) in the way is a mistyped location,
                // not a failing disk.
                if let Some(file) = path.ancestors().find(|p| p.is_file()) {
                    return Err(refuse(format!(
                        "{} is a file, not a directory: give a directory (it is created if \
                         missing) or s3://bucket/prefix",
                        file.display()
                    )));
                }
                fs::create_dir_all(&path).map_err(|source| SinkError::Io {
                    path: path.clone(),
                    source,
                })?;
                let root = fs::canonicalize(&path).map_err(|source| SinkError::Io {
                    path: path.clone(),
                    source,
                })?;
                Ok(Store::new(LocalDir { root }))
            }
        }
    }

    /// The location as a user wrote it (a path or a URL).
    pub fn display(&self) -> String {
        self.backend.display()
    }

    /// The local root, for local stores.
    pub fn local_root(&self) -> Option<&Path> {
        self.backend.local_root()
    }

    /// The location as an [`ObjectStore`] whose paths are relative to the location's root
    /// (a bucket, or the local file system for a directory: paths are then absolute). For
    /// engines that read through `object_store`, such as the Delta kernel's.
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.backend.object_store()
    }

    /// `rel` as a URL or path, for messages.
    pub(crate) fn location_of(&self, rel: &str) -> String {
        location_of(&self.display(), rel)
    }

    /// An object storage error as a [`SinkError::Storage`] whose message says what is wrong
    /// and what to do; `object_store`'s error stays as its source.
    pub(crate) fn object_error(&self, rel: &str, e: object_store::Error) -> SinkError {
        object::storage_error(&self.display(), rel, e)
    }

    /// Creates `rel` only if no object has that name (object storage only).
    pub(crate) async fn put_if_absent(
        &self,
        rel: &str,
        bytes: Vec<u8>,
    ) -> Result<Conditional, SinkError> {
        self.backend
            .put_conditional(rel, bytes, PutMode::Create)
            .await
    }

    /// Replaces `rel` only if it is still the version `e_tag` (object storage only).
    pub(crate) async fn put_if_match(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        e_tag: Option<String>,
    ) -> Result<Conditional, SinkError> {
        if e_tag.is_none() {
            // Nothing to compare with: a server without ETags cannot do this safely.
            return Ok(Conditional::Conflict);
        }
        let version = UpdateVersion {
            e_tag,
            version: None,
        };
        self.backend
            .put_conditional(rel, bytes, PutMode::Update(version))
            .await
    }

    /// Reads `rel` with its ETag (object storage), or `None` when it does not exist.
    pub(crate) async fn get_versioned(
        &self,
        rel: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, SinkError> {
        self.backend.get_versioned(rel).await
    }

    /// Writes `bytes` at `rel` atomically.
    pub async fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> Result<(), SinkError> {
        self.backend.put_bytes(rel, bytes).await
    }

    /// Reads `rel`, or `None` when it does not exist.
    pub async fn get_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>, SinkError> {
        self.backend.get_bytes(rel).await
    }

    /// Uploads (or, locally, moves) the local file `from` to `rel`, atomically.
    pub async fn put_file(&self, rel: &str, from: &Path) -> Result<(), SinkError> {
        self.backend.put_file(rel, from).await
    }

    /// Names (not paths) of the objects directly inside the directory `rel`.
    pub async fn list(&self, rel: &str) -> Result<Vec<String>, SinkError> {
        self.backend.list(rel).await
    }

    /// Every object path below `rel`, relative to the store's root (object storage only walks;
    /// locally this recurses).
    pub async fn list_recursive(&self, rel: &str) -> Result<Vec<String>, SinkError> {
        self.backend.list_recursive(rel).await
    }

    /// Deletes `rel`; a missing object is not an error.
    pub async fn delete(&self, rel: &str) -> Result<(), SinkError> {
        self.backend.delete(rel).await
    }
}

/// `rel` below the location `display`, for messages.
fn location_of(display: &str, rel: &str) -> String {
    if rel.is_empty() {
        return display.to_string();
    }
    format!("{}/{rel}", display.trim_end_matches('/'))
}

/// Writes `bytes` to `path` atomically: a temporary file beside it, fsync, rename, fsync of the
/// directory.
pub(crate) fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), SinkError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let io = |source| SinkError::Io {
        path: path.to_path_buf(),
        source,
    };
    fs::create_dir_all(dir).map_err(io)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(
        ".{name}.{}-{}.tmp",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, path)
    })();
    if let Err(source) = result {
        let _ = fs::remove_file(&tmp);
        return Err(SinkError::Io {
            path: path.to_path_buf(),
            source,
        });
    }
    sync_dir(dir)
}

/// fsync of a directory, so a rename in it survives a crash.
pub(crate) fn sync_dir(dir: &Path) -> Result<(), SinkError> {
    #[cfg(unix)]
    {
        let f = fs::File::open(dir).map_err(|source| SinkError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
        f.sync_all().map_err(|source| SinkError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// What a conditional write did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Conditional {
    /// Written; the new version's ETag.
    Done(Option<String>),
    /// The condition failed: the object exists (create) or changed (update).
    Conflict,
}

/// A location, parsed.
#[derive(Debug, PartialEq, Eq)]
enum Parsed<'a> {
    Local(&'a str),
    S3 { bucket: &'a str, prefix: &'a str },
}

const SUPPORTED: &str =
    "give a local directory, file:///path, or s3://bucket/prefix (S3 or an S3-compatible server)";

/// Scheme names that `name//...` (a URL without its colon) most likely meant.
const SCHEMES: &[&str] = &[
    "s3", "s3a", "s3n", "file", "gs", "gcs", "az", "abfs", "abfss", "adl", "azure", "wasb",
    "wasbs", "http", "https", "hdfs", "r2", "oss", "cos", "minio",
];

/// Tells a local path from a URL and checks the URL. Windows drive letters (`C:\x`) and
/// relative paths are paths; anything else of the form `word:` must be a well-formed URL of
/// a supported scheme.
fn parse_location(loc: &str) -> Result<Parsed<'_>, String> {
    if loc.is_empty() {
        return Err(format!("it is empty; {SUPPORTED}"));
    }
    let end = loc
        .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
        .unwrap_or(loc.len());
    let (word, rest) = loc.split_at(end);
    let scheme = word.to_ascii_lowercase();
    let is_scheme = word.starts_with(|c: char| c.is_ascii_alphabetic());
    if is_scheme && rest.starts_with(':') {
        if word.len() == 1 {
            // A drive letter: C:\lake, C:/lake.
            return Ok(Parsed::Local(loc));
        }
        let Some(after) = rest[1..].strip_prefix("//") else {
            let example = match scheme.as_str() {
                "s3" => "s3://bucket/prefix".to_string(),
                "file" => "file:///path".to_string(),
                _ => format!("{scheme}://..."),
            };
            return Err(format!(
                "`{word}:` is not followed by `//`, so this is neither a URL nor a plain path: write {example} (a local directory whose name has a colon: start it with ./)"
            ));
        };
        return match scheme.as_str() {
            "s3" => {
                let (bucket, prefix) = after.split_once('/').unwrap_or((after, ""));
                if bucket.is_empty() {
                    return Err("no bucket: write s3://bucket/prefix".into());
                }
                if !bucket
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'))
                {
                    return Err(format!(
                        "`{bucket}` is not a bucket name (letters, digits, `-` and `.`): write s3://bucket/prefix"
                    ));
                }
                Ok(Parsed::S3 { bucket, prefix })
            }
            "file" => {
                let path = after
                    .strip_prefix("localhost/")
                    .map_or(after, |_| &after[9..]);
                if path.is_empty() {
                    return Err("no path: write file:///path".into());
                }
                Ok(Parsed::Local(path))
            }
            "s3a" | "s3n" => Err(format!(
                "{scheme}:// is Hadoop's name for S3; write s3://bucket/prefix"
            )),
            _ => Err(format!(
                "the {scheme}:// scheme is not supported; {SUPPORTED}"
            )),
        };
    }
    if rest.starts_with("//") && SCHEMES.contains(&scheme.as_str()) {
        return Err(format!(
            "`{word}//` lacks the colon of a URL: write {scheme}://... ({SUPPORTED})"
        ));
    }
    Ok(Parsed::Local(loc))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse() {
        assert_eq!(parse_location("./lake"), Ok(Parsed::Local("./lake")));
        assert_eq!(parse_location("C:\\lake"), Ok(Parsed::Local("C:\\lake")));
        assert_eq!(parse_location("file:///tmp/x"), Ok(Parsed::Local("/tmp/x")));
        assert_eq!(
            parse_location("file://localhost/tmp/x"),
            Ok(Parsed::Local("/tmp/x"))
        );
        assert_eq!(
            parse_location("S3://b/p/q"),
            Ok(Parsed::S3 {
                bucket: "b",
                prefix: "p/q"
            })
        );
        for bad in [
            "s3:/b/x",
            "s3//b",
            "s3:b",
            "S3://",
            "gs://b",
            "ab:cd",
            "s3://b c/x",
        ] {
            assert!(parse_location(bad).is_err(), "{bad}");
        }
    }
}
