//! A prefix of an S3 bucket (or of an S3-compatible server), through `object_store`: one PUT
//! or a completed multipart upload per object, conditional writes for the table leases, and
//! errors explained without the server's XML.

use std::fs;
use std::path::Path;
use std::sync::Arc;

use futures_util::StreamExt;
use object_store::path::Path as ObjectPath;
use object_store::{ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};

use super::{location_of, Backend, Conditional, Io, Store, StoreOptions};
use crate::file::SinkError;

/// Objects at or above this size are uploaded in parts.
const MULTIPART_THRESHOLD: u64 = 16 << 20;
const PART_SIZE: usize = 8 << 20;

/// A bucket and a prefix in it.
pub(super) struct ObjectPrefix {
    pub(super) store: Arc<dyn ObjectStore>,
    pub(super) prefix: ObjectPath,
    /// `s3://bucket/prefix`.
    pub(super) url: String,
}

impl Backend for ObjectPrefix {
    fn display(&self) -> String {
        self.url.clone()
    }

    fn local_root(&self) -> Option<&Path> {
        None
    }

    fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.store.clone()
    }

    fn put_bytes<'a>(&'a self, rel: &'a str, bytes: Vec<u8>) -> Io<'a, ()> {
        Box::pin(async move {
            self.store
                .put(&self.path(rel), PutPayload::from(bytes))
                .await
                .map(|_| ())
                .map_err(|e| self.error(rel, e))
        })
    }

    fn get_bytes<'a>(&'a self, rel: &'a str) -> Io<'a, Option<Vec<u8>>> {
        Box::pin(async move { Ok(self.get_versioned(rel).await?.map(|(b, _)| b)) })
    }

    fn get_versioned<'a>(&'a self, rel: &'a str) -> Io<'a, Option<(Vec<u8>, Option<String>)>> {
        Box::pin(async move {
            match self.store.get(&self.path(rel)).await {
                Ok(r) => {
                    let e_tag = r.meta.e_tag.clone();
                    let bytes = r.bytes().await.map_err(|e| self.error(rel, e))?;
                    Ok(Some((bytes.to_vec(), e_tag)))
                }
                Err(e) if is_missing_object(&e) => Ok(None),
                Err(e) => Err(self.error(rel, e)),
            }
        })
    }

    fn put_conditional<'a>(
        &'a self,
        rel: &'a str,
        bytes: Vec<u8>,
        mode: PutMode,
    ) -> Io<'a, Conditional> {
        Box::pin(async move {
            let options = PutOptions {
                mode,
                ..PutOptions::default()
            };
            match self
                .store
                .put_opts(&self.path(rel), PutPayload::from(bytes), options)
                .await
            {
                Ok(result) => Ok(Conditional::Done(result.e_tag)),
                Err(
                    object_store::Error::AlreadyExists { .. }
                    | object_store::Error::Precondition { .. },
                ) => Ok(Conditional::Conflict),
                Err(e) => Err(self.error(rel, e)),
            }
        })
    }

    fn put_file<'a>(&'a self, rel: &'a str, from: &'a Path) -> Io<'a, ()> {
        Box::pin(async move {
            let path = self.path(rel);
            let io = |source| SinkError::Io {
                path: from.to_path_buf(),
                source,
            };
            let size = fs::metadata(from).map_err(io)?.len();
            if size < MULTIPART_THRESHOLD {
                let bytes = fs::read(from).map_err(io)?;
                self.store
                    .put(&path, PutPayload::from(bytes))
                    .await
                    .map_err(|e| self.error(rel, e))?;
                return Ok(());
            }
            let upload = self
                .store
                .put_multipart(&path)
                .await
                .map_err(|e| self.error(rel, e))?;
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
                    .map_err(|e| self.error(rel, e))?;
                writer.write(&buf[..n]);
            }
            writer.finish().await.map_err(|e| self.error(rel, e))?;
            Ok(())
        })
    }

    fn list<'a>(&'a self, rel: &'a str) -> Io<'a, Vec<String>> {
        Box::pin(async move {
            let result = self
                .store
                .list_with_delimiter(Some(&self.path(rel)))
                .await
                .map_err(|e| self.error(rel, e))?;
            let mut names: Vec<String> = result
                .objects
                .iter()
                .filter_map(|o| o.location.filename().map(str::to_string))
                .collect();
            names.sort();
            Ok(names)
        })
    }

    fn list_recursive<'a>(&'a self, rel: &'a str) -> Io<'a, Vec<String>> {
        Box::pin(async move {
            let dir = self.path(rel);
            let mut stream = self.store.list(Some(&dir));
            let mut out = Vec::new();
            let skip = self.prefix.parts().count();
            while let Some(meta) = stream.next().await {
                let meta = meta.map_err(|e| self.error(rel, e))?;
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
        })
    }

    fn delete<'a>(&'a self, rel: &'a str) -> Io<'a, ()> {
        Box::pin(async move {
            match self.store.delete(&self.path(rel)).await {
                Ok(()) => Ok(()),
                Err(e) if is_missing_object(&e) => Ok(()),
                Err(e) => Err(self.error(rel, e)),
            }
        })
    }
}

impl ObjectPrefix {
    fn path(&self, rel: &str) -> ObjectPath {
        let mut parts: Vec<String> = self
            .prefix
            .parts()
            .map(|p| p.as_ref().to_string())
            .collect();
        parts.extend(rel.split('/').filter(|s| !s.is_empty()).map(str::to_string));
        ObjectPath::from_iter(parts)
    }

    fn error(&self, rel: &str, e: object_store::Error) -> SinkError {
        storage_error(&self.url, rel, e)
    }
}

/// An object storage error at `rel` below the location `display` (`s3://bucket/prefix`), as a
/// [`SinkError::Storage`] whose message says what is wrong and what to do.
pub(super) fn storage_error(display: &str, rel: &str, e: object_store::Error) -> SinkError {
    let bucket = display
        .split_once("://")
        .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_string())
        .unwrap_or_default();
    SinkError::Storage {
        location: location_of(display, rel),
        message: explain(&e, &bucket),
        source: e,
    }
}

pub(super) fn open_s3(
    location: &str,
    bucket: &str,
    prefix: &str,
    options: &StoreOptions,
) -> Result<Store, SinkError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::{ClientConfigKey, RetryConfig};

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
    builder = builder
        .with_bucket_name(bucket)
        .with_config(
            AmazonS3ConfigKey::Client(ClientConfigKey::Timeout),
            format!("{}ms", options.request_timeout.as_millis().max(1)),
        )
        .with_retry(RetryConfig {
            max_retries: 3,
            retry_timeout: options.retry_timeout,
            ..RetryConfig::default()
        });
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
    Ok(Store::new(ObjectPrefix {
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
    }))
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

/// Whether requests timed out (the endpoint accepts connections but does not answer).
fn is_timeout(e: &object_store::Error) -> bool {
    use object_store::client::{HttpError, HttpErrorKind};
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if let Some(h) = s.downcast_ref::<HttpError>() {
            if h.kind() == HttpErrorKind::Timeout {
                return true;
            }
        }
        source = s.source();
    }
    chain_text(e).contains("timed out")
}

/// What an object storage error means for the user, without the server's XML.
fn explain(e: &object_store::Error, bucket: &str) -> String {
    use object_store::Error as E;
    let text = chain_text(e);
    let code = xml_element(&text, "Code");
    let server_message = xml_element(&text, "Message");
    // With no credentials in the environment, object_store asks the instance metadata service
    // (or the container's credential endpoint) for a role; where there is none, that lookup
    // is what fails, whatever the bucket.
    if text.contains("/latest/api/token")
        || text.contains("/latest/meta-data/")
        || text.contains("169.254.170.2")
    {
        return "no AWS credentials found: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY \
                (or AWS_WEB_IDENTITY_TOKEN_FILE with AWS_ROLE_ARN), or run where the instance \
                or container has a role; the lookup of instance credentials failed"
            .to_string()
            + if std::env::var_os("AWS_PROFILE").is_some() {
                " (AWS_PROFILE is not read: export the profile's keys, for instance with \
                 `aws configure export-credentials --format env`)"
            } else {
                ""
            };
    }
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
    let origin = || {
        text.split("Error performing ")
            .nth(1)
            .and_then(|s| s.split_whitespace().nth(1))
            .and_then(|uri| {
                let (scheme, rest) = uri.split_once("://")?;
                Some(format!("{scheme}://{}", rest.split('/').next()?))
            })
            .unwrap_or_else(|| "the object storage endpoint".to_string())
    };
    if is_connect_error(e) {
        return format!(
            "cannot connect to {}: check AWS_ENDPOINT_URL (or the aws_endpoint setting) and that the server is running",
            origin()
        );
    }
    if is_timeout(e) {
        return format!(
            "{} did not answer in time, through retries: check AWS_ENDPOINT_URL (or the aws_endpoint setting), that the server is running, and that nothing between drops the requests",
            origin()
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

    /// A failed credential lookup is not blamed on the endpoint, even when the lookup was
    /// refused like a connection.
    #[test]
    fn a_failed_credential_lookup_says_no_credentials() {
        let e = object_store::Error::Generic {
            store: "S3",
            source: "Error performing PUT http://169.254.169.254/latest/api/token in 1ms - \
                     Server returned non-2xx status code: 403 Forbidden"
                .into(),
        };
        let message = explain(&e, "b");
        assert!(message.starts_with("no AWS credentials found"), "{message}");
        assert!(message.contains("AWS_ACCESS_KEY_ID"), "{message}");
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
