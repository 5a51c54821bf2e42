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
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, UpdateVersion, WriteMultipart,
};

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
    /// Opens `location`: a local path (created if missing), `file:///path`, or
    /// `s3://bucket/prefix`. S3 credentials, region and endpoint come from the usual
    /// `AWS_*` environment variables (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
    /// `AWS_REGION`, `AWS_ENDPOINT_URL` for S3-compatible servers).
    ///
    /// Anything that looks like a URL must be a well-formed one of a supported scheme:
    /// `s3:/bucket`, `s3:bucket`, `s3//bucket`, `s3://` without a bucket, `data:x` (a word of
    /// two or more letters and a colon without `//`) and other schemes (`gs://`, `az://`,
    /// `http://`, ...) are refused with [`SinkError::Location`] ([`SinkError::is_usage`]), so
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
        }
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

    /// `rel` as a URL or path, for messages.
    pub(crate) fn location_of(&self, rel: &str) -> String {
        if rel.is_empty() {
            return self.display();
        }
        format!("{}/{rel}", self.display().trim_end_matches('/'))
    }

    /// An object storage error as a [`SinkError::Storage`] whose message says what is wrong
    /// and what to do; `object_store`'s error stays as its source.
    pub(crate) fn object_error(&self, rel: &str, e: object_store::Error) -> SinkError {
        let bucket = match self {
            Store::Object { url, .. } => url
                .split_once("://")
                .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_string())
                .unwrap_or_default(),
            Store::Local { .. } => String::new(),
        };
        SinkError::Storage {
            location: self.location_of(rel),
            message: explain(&e, &bucket),
            source: e,
        }
    }

    /// Creates `rel` only if no object has that name (object storage only).
    pub(crate) async fn put_if_absent(
        &self,
        rel: &str,
        bytes: Vec<u8>,
    ) -> Result<Conditional, SinkError> {
        self.put_conditional(rel, bytes, PutMode::Create).await
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
        self.put_conditional(
            rel,
            bytes,
            PutMode::Update(UpdateVersion {
                e_tag,
                version: None,
            }),
        )
        .await
    }

    async fn put_conditional(
        &self,
        rel: &str,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Result<Conditional, SinkError> {
        let Store::Object { store, prefix, .. } = self else {
            return Err(SinkError::Options(
                "conditional writes are for object storage only".into(),
            ));
        };
        let options = PutOptions {
            mode,
            ..PutOptions::default()
        };
        match store
            .put_opts(
                &Self::object_path(prefix, rel),
                PutPayload::from(bytes),
                options,
            )
            .await
        {
            Ok(result) => Ok(Conditional::Done(result.e_tag)),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(Conditional::Conflict),
            Err(e) => Err(self.object_error(rel, e)),
        }
    }

    /// Reads `rel` with its ETag (object storage), or `None` when it does not exist.
    pub(crate) async fn get_versioned(
        &self,
        rel: &str,
    ) -> Result<Option<(Vec<u8>, Option<String>)>, SinkError> {
        match self {
            Store::Local { .. } => Ok(self.get_bytes(rel).await?.map(|b| (b, None))),
            Store::Object { store, prefix, .. } => {
                match store.get(&Self::object_path(prefix, rel)).await {
                    Ok(r) => {
                        let e_tag = r.meta.e_tag.clone();
                        let bytes = r.bytes().await.map_err(|e| self.object_error(rel, e))?;
                        Ok(Some((bytes.to_vec(), e_tag)))
                    }
                    Err(e) if is_missing_object(&e) => Ok(None),
                    Err(e) => Err(self.object_error(rel, e)),
                }
            }
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
                    Err(e) if is_missing_object(&e) => Ok(None),
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
                    Ok(()) => Ok(()),
                    Err(e) if is_missing_object(&e) => Ok(()),
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

fn open_s3(
    location: &str,
    bucket: &str,
    prefix: &str,
    options: &StoreOptions,
) -> Result<Store, SinkError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};

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
        url: format!(
            "s3://{bucket}{}{}",
            if prefix.trim_matches('/').is_empty() {
                ""
            } else {
                "/"
            },
            prefix.trim_matches('/')
        ),
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

/// A missing object, as opposed to a missing bucket (which object_store also reports as
/// `NotFound`).
fn is_missing_object(e: &object_store::Error) -> bool {
    matches!(e, object_store::Error::NotFound { .. }) && !chain_text(e).contains("NoSuchBucket")
}

/// The error and its sources as one text.
fn chain_text(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// The text of the first `<name>...</name>` in `xml`.
fn xml_element(xml: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let start = xml.find(&open)? + open.len();
    let end = xml[start..].find(&format!("</{name}>"))? + start;
    Some(xml[start..end].trim().to_string()).filter(|s| !s.is_empty())
}

/// Whether the request never reached the server (connection refused, DNS, TLS).
fn is_connect_error(e: &object_store::Error) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<HttpError>() {
            if h.kind() == HttpErrorKind::Connect {
                return true;
            }
        }
        if let Some(io) = s.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return true;
            }
        }
        source = s.source();
    }
    let text = chain_text(e);
    text.contains("Connection refused") || text.contains("dns error")
}

/// What an object storage error means for the user, without the server's XML.
fn explain(e: &object_store::Error, bucket: &str) -> String {
    use object_store::Error as E;
    let text = chain_text(e);
    let code = xml_element(&text, "Code");
    let server_message = xml_element(&text, "Message");
    if code.as_deref() == Some("NoSuchBucket") {
        return format!(
            "the bucket {bucket} does not exist (or the endpoint is wrong): create it or fix the location"
        );
    }
    let denied_codes = [
        "AccessDenied",
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "TokenRefreshRequired",
        "AllAccessDisabled",
    ];
    if matches!(e, E::PermissionDenied { .. } | E::Unauthenticated { .. })
        || code.as_deref().is_some_and(|c| denied_codes.contains(&c))
    {
        return format!(
            "access denied{}: check the credentials (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or the instance's role) and that they may list, read, write and delete objects under the location",
            code.map(|c| format!(" ({c})")).unwrap_or_default()
        );
    }
    if is_connect_error(e) {
        let origin = text
            .split("Error performing ")
            .nth(1)
            .and_then(|s| s.split_whitespace().nth(1))
            .and_then(|uri| {
                let (scheme, rest) = uri.split_once("://")?;
                Some(format!("{scheme}://{}", rest.split('/').next()?))
            })
            .unwrap_or_else(|| "the object storage endpoint".to_string());
        return format!(
            "cannot connect to {origin}: check AWS_ENDPOINT_URL (or the aws_endpoint setting) and that the server is running"
        );
    }
    if let E::NotImplemented { operation, .. } = e {
        return format!(
            "{operation} is not possible: conditional writes are disabled (the aws_conditional_put setting), and they keep two runs from writing one table at once; remove that setting"
        );
    }
    let status = text
        .split("status code: ")
        .nth(1)
        .and_then(|s| s.split(':').next())
        .map(str::trim)
        .filter(|s| !s.is_empty());
    match (status, code, server_message) {
        (status, Some(code), message) => format!(
            "the server answered {code}{}{}",
            message.map(|m| format!(": {m}")).unwrap_or_default(),
            status.map(|s| format!(" (HTTP {s})")).unwrap_or_default()
        ),
        _ => {
            let plain = e.to_string();
            let cut = plain.find("<?xml").or_else(|| plain.find('<'));
            plain[..cut.unwrap_or(plain.len())]
                .trim_end_matches([' ', ':'])
                .to_string()
        }
    }
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

    #[test]
    fn unreachable_endpoints_name_the_setting() {
        use object_store::client::{HttpError, HttpErrorKind};
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let e = object_store::Error::Generic {
            store: "S3",
            source: Box::new(HttpError::new(HttpErrorKind::Connect, refused)),
        };
        let message = explain(&e, "b");
        assert!(message.starts_with("cannot connect to "), "{message}");
        assert!(message.contains("check AWS_ENDPOINT_URL"), "{message}");
        let denied = object_store::Error::PermissionDenied {
            path: "p".into(),
            source: "Server returned non-2xx status code: 403 Forbidden: <Error><Code>InvalidAccessKeyId</Code></Error>".into(),
        };
        let message = explain(&denied, "b");
        assert!(
            message.starts_with("access denied (InvalidAccessKeyId): check the credentials"),
            "{message}"
        );
    }

    #[test]
    fn xml_is_read_not_shown() {
        let body = "Server returned non-2xx status code: 409 Conflict: <?xml version=\"1.0\"?><Error><Code>BucketNotEmpty</Code><Message>The bucket is not empty</Message></Error>";
        let e = object_store::Error::Generic {
            store: "S3",
            source: body.into(),
        };
        assert_eq!(
            explain(&e, "b"),
            "the server answered BucketNotEmpty: The bucket is not empty (HTTP 409 Conflict)"
        );
    }
}
