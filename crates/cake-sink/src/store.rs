//! Where output lives: a local directory, or a bucket and prefix on object storage.
//!
//! Both take whole objects atomically: locally by writing a temporary file, fsync, rename and
//! fsync of the directory; on object storage with a single PUT or a completed multipart upload,
//! which readers never see half-done.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload, WriteMultipart};

use crate::file::SinkError;

/// Objects at or above this size are uploaded in parts.
const MULTIPART_THRESHOLD: u64 = 16 << 20;
const PART_SIZE: usize = 8 << 20;

/// An output location.
#[derive(Clone)]
pub enum Store {
    Local {
        root: PathBuf,
    },
    Object {
        store: Arc<dyn ObjectStore>,
        prefix: ObjectPath,
        url: String,
    },
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
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            from_env: true,
            settings: Vec::new(),
        }
    }
}

impl std::fmt::Debug for StoreOptions {
    /// Names only: values may be secrets.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StoreOptions")
            .field("from_env", &self.from_env)
            .field(
                "settings",
                &self.settings.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Store {
    /// Opens `location`: a local path (created if missing), `file://path`, or
    /// `s3://bucket/prefix`. S3 credentials, region and endpoint come from the usual
    /// `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers).
    pub fn open(location: &str) -> Result<Store, SinkError> {
        Store::open_with(location, &StoreOptions::default())
    }

    /// Opens `location` like [`Store::open`], with object storage settings given explicitly
    /// (`options.settings`) on top of, or instead of, the `AWS_*` environment variables.
    pub fn open_with(location: &str, options: &StoreOptions) -> Result<Store, SinkError> {
        let loc = location.trim();
        if loc.is_empty() {
            return Err(SinkError::Location {
                location: location.to_string(),
                message: "it is empty; give a directory or s3://bucket/prefix".into(),
            });
        }
        if let Some(rest) = loc.strip_prefix("s3://") {
            return open_s3(loc, rest, options);
        }
        if let Some((scheme, _)) = loc.split_once("://") {
            if scheme != "file" {
                return Err(SinkError::Location {
                    location: loc.to_string(),
                    message: format!(
                        "the {scheme}:// scheme is not supported; give a local directory or s3://bucket/prefix"
                    ),
                });
            }
        }
        let path = PathBuf::from(loc.strip_prefix("file://").unwrap_or(loc));
        fs::create_dir_all(&path).map_err(|source| SinkError::Io {
            path: path.clone(),
            source,
        })?;
        let root = fs::canonicalize(&path).map_err(|source| SinkError::Io {
            path: path.clone(),
            source,
        })?;
        Ok(Store::Local { root })
    }

    /// The location as a user wrote it (a path or a URL).
    pub fn display(&self) -> String {
        match self {
            Store::Local { root } => root.display().to_string(),
            Store::Object { url, .. } => url.clone(),
        }
    }

    /// The local root, for local stores.
    pub fn local_root(&self) -> Option<&Path> {
        match self {
            Store::Local { root } => Some(root),
            Store::Object { .. } => None,
        }
    }

    fn object_path(prefix: &ObjectPath, rel: &str) -> ObjectPath {
        let mut parts: Vec<String> = prefix.parts().map(|p| p.as_ref().to_string()).collect();
        parts.extend(rel.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        ObjectPath::from_iter(parts)
    }

    fn object_error(&self, rel: &str, e: object_store::Error) -> SinkError {
        SinkError::Object {
            location: format!("{}/{rel}", self.display().trim_end_matches('/')),
            message: e.to_string(),
        }
    }

    /// Writes `bytes` at `rel` atomically.
    pub async fn put_bytes(&self, rel: &str, bytes: Vec<u8>) -> Result<(), SinkError> {
        match self {
            Store::Local { root } => write_atomic(&root.join(rel), &bytes),
            Store::Object { store, prefix, .. } => store
                .put(&Self::object_path(prefix, rel), PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| self.object_error(rel, e)),
        }
    }

    /// Reads `rel`, or `None` when it does not exist.
    pub async fn get_bytes(&self, rel: &str) -> Result<Option<Vec<u8>>, SinkError> {
        match self {
            Store::Local { root } => match fs::read(root.join(rel)) {
                Ok(b) => Ok(Some(b)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(SinkError::Io {
                    path: root.join(rel),
                    source,
                }),
            },
            Store::Object { store, prefix, .. } => {
                match store.get(&Self::object_path(prefix, rel)).await {
                    Ok(r) => r
                        .bytes()
                        .await
                        .map(|b| Some(b.to_vec()))
                        .map_err(|e| self.object_error(rel, e)),
                    Err(object_store::Error::NotFound { .. }) => Ok(None),
                    Err(e) => Err(self.object_error(rel, e)),
                }
            }
        }
    }

    /// Uploads (or, locally, moves) the local file `from` to `rel`, atomically.
    pub async fn put_file(&self, rel: &str, from: &Path) -> Result<(), SinkError> {
        match self {
            Store::Local { root } => {
                let to = root.join(rel);
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
                sync_dir(to.parent().unwrap_or(root))
            }
            Store::Object { store, prefix, .. } => {
                let path = Self::object_path(prefix, rel);
                let io = |source| SinkError::Io {
                    path: from.to_path_buf(),
                    source,
                };
                let size = fs::metadata(from).map_err(io)?.len();
                if size < MULTIPART_THRESHOLD {
                    let bytes = fs::read(from).map_err(io)?;
                    store
                        .put(&path, PutPayload::from(bytes))
                        .await
                        .map_err(|e| self.object_error(rel, e))?;
                    return Ok(());
                }
                let upload = store
                    .put_multipart(&path)
                    .await
                    .map_err(|e| self.object_error(rel, e))?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, PART_SIZE);
                let mut file = fs::File::open(from).map_err(io)?;
                let mut buf = vec![0u8; PART_SIZE];
                loop {
                    let n = std::io::Read::read(&mut file, &mut buf).map_err(io)?;
                    if n == 0 {
                        break;
                    }
                    writer
                        .wait_for_capacity(4)
                        .await
                        .map_err(|e| self.object_error(rel, e))?;
                    writer.write(&buf[..n]);
                }
                writer
                    .finish()
                    .await
                    .map_err(|e| self.object_error(rel, e))?;
                Ok(())
            }
        }
    }

    /// Names (not paths) of the objects directly inside the directory `rel`.
    pub async fn list(&self, rel: &str) -> Result<Vec<String>, SinkError> {
        match self {
            Store::Local { root } => {
                let dir = root.join(rel);
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
            Store::Object { store, prefix, .. } => {
                let dir = Self::object_path(prefix, rel);
                let result = store
                    .list_with_delimiter(Some(&dir))
                    .await
                    .map_err(|e| self.object_error(rel, e))?;
                let mut names: Vec<String> = result
                    .objects
                    .iter()
                    .filter_map(|o| o.location.filename().map(str::to_string))
                    .collect();
                names.sort();
                Ok(names)
            }
        }
    }

    /// Every object path below `rel`, relative to the store's root (object storage only walks;
    /// locally this recurses).
    pub async fn list_recursive(&self, rel: &str) -> Result<Vec<String>, SinkError> {
        match self {
            Store::Local { root } => {
                let mut out = Vec::new();
                walk(root, &root.join(rel), &mut out)?;
                out.sort();
                Ok(out)
            }
            Store::Object { store, prefix, .. } => {
                let dir = Self::object_path(prefix, rel);
                let mut stream = store.list(Some(&dir));
                let mut out = Vec::new();
                let skip = prefix.parts().count();
                while let Some(meta) = stream.next().await {
                    let meta = meta.map_err(|e| self.object_error(rel, e))?;
                    let parts: Vec<String> = meta
                        .location
                        .parts()
                        .skip(skip)
                        .map(|p| p.as_ref().to_string())
                        .collect();
                    out.push(parts.join("/"));
                }
                out.sort();
                Ok(out)
            }
        }
    }

    /// Deletes `rel`; a missing object is not an error.
    pub async fn delete(&self, rel: &str) -> Result<(), SinkError> {
        match self {
            Store::Local { root } => match fs::remove_file(root.join(rel)) {
                Ok(()) => Ok(()),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
                Err(source) => Err(SinkError::Io {
                    path: root.join(rel),
                    source,
                }),
            },
            Store::Object { store, prefix, .. } => {
                match store.delete(&Self::object_path(prefix, rel)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(self.object_error(rel, e)),
                }
            }
        }
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

fn open_s3(location: &str, rest: &str, options: &StoreOptions) -> Result<Store, SinkError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(SinkError::Location {
            location: location.to_string(),
            message: "no bucket: write s3://bucket/prefix".into(),
        });
    }
    let mut builder = if options.from_env {
        AmazonS3Builder::from_env()
    } else {
        AmazonS3Builder::new()
    };
    for (name, value) in &options.settings {
        let key: AmazonS3ConfigKey =
            name.to_ascii_lowercase()
                .parse()
                .map_err(|_| SinkError::Location {
                    location: location.to_string(),
                    message: format!(
                        "unknown object storage setting `{name}`; use names such as aws_endpoint, aws_access_key_id, aws_secret_access_key, aws_region"
                    ),
                })?;
        builder = builder.with_config(key, value);
    }
    builder = builder.with_bucket_name(bucket);
    // S3-compatible servers (MinIO, moto, R2...) are addressed by path, not by virtual host.
    if let Some(endpoint) = builder.get_config_value(&AmazonS3ConfigKey::Endpoint) {
        builder = builder.with_virtual_hosted_style_request(false);
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
    }
    if builder
        .get_config_value(&AmazonS3ConfigKey::Region)
        .is_none()
    {
        builder = builder.with_region("us-east-1");
    }
    let store = builder.build().map_err(|e| SinkError::Location {
        location: location.to_string(),
        message: format!(
            "{e}; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_ENDPOINT_URL for an S3-compatible server)"
        ),
    })?;
    Ok(Store::Object {
        store: Arc::new(store),
        prefix: ObjectPath::from(prefix.trim_matches('/')),
        url: location.trim_end_matches('/').to_string(),
    })
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
