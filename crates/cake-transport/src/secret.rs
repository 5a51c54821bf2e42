//! The API key: a value that never shows in `Debug`, in messages or in logs.

use std::fmt;

/// A Cake API key. It has no `Display`; its `Debug` prints `ApiKey(<redacted>)`. The only way to
/// read it is [`ApiKey::expose`], used when the request URL is built, and [`ApiKey::redact`] to
/// scrub it out of text that came back from elsewhere (a server's error message, say).
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

/// An empty key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the API key is empty: give it with --api-key or the CAKE_API_KEY environment variable")]
pub struct EmptyApiKey;

impl ApiKey {
    pub fn new(key: impl Into<String>) -> Result<ApiKey, EmptyApiKey> {
        let key = key.into().trim().to_string();
        if key.is_empty() {
            Err(EmptyApiKey)
        } else {
            Ok(ApiKey(key))
        }
    }

    /// The key itself, for the request's query string only.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// `text` with every occurrence of the key (and of its URL-encoded form) replaced by
    /// `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        let encoded: String = url::form_urlencoded::byte_serialize(self.0.as_bytes()).collect();
        let out = text.replace(&self.0, "<redacted>");
        if encoded != self.0 {
            out.replace(&encoded, "<redacted>")
        } else {
            out
        }
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_printed() {
        let k = ApiKey::new("s3cr3t key/+").unwrap();
        assert_eq!(format!("{k:?}"), "ApiKey(<redacted>)");
        assert_eq!(
            k.redact("a s3cr3t key/+ b s3cr3t+key%2F%2B c"),
            "a <redacted> b <redacted> c"
        );
        assert!(ApiKey::new("  ").is_err());
    }
}
