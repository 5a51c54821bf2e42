//! The API key: a value that never shows in `Debug`, in messages or in logs, and the one
//! [`Scrubber`] that removes it from every text the connector prints or stores.
//!
//! A server can echo the key back in many disguises: as sent, percent-encoded with upper- or
//! lower-case hex (`%2B`, as .NET writes `%2b`), form-encoded (`+` for a space), encoded twice
//! (`%252B`), XML-escaped (`&amp;`, `&#43;`, even `&amp;amp;`), JSON-escaped (`\/`, `\u002b`), or
//! with its letters in another case. The scrubber does not enumerate encodings of the whole key:
//! it matches the key character by character, each character in any of those forms, so mixed
//! encodings are found too.

use std::borrow::Cow;
use std::fmt;

/// What replaces a secret in text.
pub const REDACTED: &str = "<redacted>";

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

    /// `text` with the key, in any encoding, replaced by `<redacted>`.
    pub fn redact(&self, text: &str) -> String {
        self.scrubber().scrub(text).into_owned()
    }

    /// A scrubber for this key.
    pub fn scrubber(&self) -> Scrubber {
        let mut s = Scrubber::default();
        s.add(&self.0);
        s
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Removes secrets, in every encoding a server or a library may give them, from text and bytes.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<Vec<u8>>,
    /// Bytes that can start a match of some secret.
    starts: Box<[bool]>,
}

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secrets)", self.secrets.len())
    }
}

/// Longest form of one character: `&` + `amp;` twice + `#x7f;`.
const MAX_FORM: usize = 1 + 2 * 4 + 6;

impl Scrubber {
    /// Adds a secret (surrounding spaces ignored; an empty one is ignored).
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim().as_bytes().to_vec();
        if secret.is_empty() || self.secrets.contains(&secret) {
            return;
        }
        self.secrets.push(secret);
        let mut starts = vec![false; 256];
        for s in &self.secrets {
            let b = s[0];
            starts[usize::from(b)] = true;
            starts[usize::from(b.to_ascii_lowercase())] = true;
            starts[usize::from(b.to_ascii_uppercase())] = true;
            for c in [b'%', b'&', b'\\', b'+'] {
                starts[usize::from(c)] = true;
            }
        }
        self.starts = starts.into_boxed_slice();
    }

    /// True when no secret is registered.
    pub fn is_empty(&self) -> bool {
        self.secrets.is_empty()
    }

    /// The longest text one encoded secret can take, for callers that scrub a stream: a
    /// secret that straddles two chunks is found when this many bytes minus one are held back.
    pub fn window(&self) -> usize {
        self.secrets
            .iter()
            .map(|s| s.len() * MAX_FORM)
            .max()
            .unwrap_or(0)
    }

    /// `text` with every secret replaced by `<redacted>`.
    pub fn scrub<'a>(&self, text: &'a str) -> Cow<'a, str> {
        match self.find(text.as_bytes(), 0) {
            None => Cow::Borrowed(text),
            Some(_) => {
                let (out, _) = self.replace(text.as_bytes(), REDACTED.as_bytes(), usize::MAX);
                // Matches cover whole characters of the (ASCII-framed) encodings, so the result
                // stays UTF-8; lossy conversion only guards against a secret with split code
                // points.
                Cow::Owned(String::from_utf8_lossy(&out).into_owned())
            }
        }
    }

    /// True when `text` holds a secret in any encoding.
    pub fn found_in(&self, text: &str) -> bool {
        self.find(text.as_bytes(), 0).is_some()
    }

    /// `bytes` with every secret replaced by `replacement`.
    pub fn scrub_bytes(&self, bytes: &[u8], replacement: &[u8]) -> Vec<u8> {
        self.replace(bytes, replacement, usize::MAX).0
    }

    /// Replaces the matches that start before `limit`; returns the output and where the
    /// scan stopped (the first byte not yet written).
    fn replace(&self, bytes: &[u8], replacement: &[u8], limit: usize) -> (Vec<u8>, usize) {
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        let stop = limit.min(bytes.len());
        while i < stop {
            match self.find(bytes, i) {
                Some((at, end)) if at < stop => {
                    out.extend_from_slice(&bytes[i..at]);
                    out.extend_from_slice(replacement);
                    i = end;
                }
                _ => {
                    out.extend_from_slice(&bytes[i..stop]);
                    i = stop;
                }
            }
        }
        (out, i)
    }

    /// The first match at or after `from`: (start, end).
    fn find(&self, bytes: &[u8], from: usize) -> Option<(usize, usize)> {
        if self.secrets.is_empty() {
            return None;
        }
        (from..bytes.len())
            .filter(|&i| self.starts[usize::from(bytes[i])])
            .find_map(|i| {
                self.secrets
                    .iter()
                    .filter_map(|s| match_secret(s, bytes, i))
                    .max()
                    .map(|end| (i, end))
            })
    }
}

/// Scrubs a byte stream chunk by chunk: holds back the bytes that may be the beginning of a
/// secret until the next chunk tells.
#[derive(Debug)]
pub struct StreamScrubber {
    scrubber: Scrubber,
    replacement: Vec<u8>,
    pending: Vec<u8>,
}

impl StreamScrubber {
    pub fn new(scrubber: Scrubber, replacement: &[u8]) -> StreamScrubber {
        StreamScrubber {
            scrubber,
            replacement: replacement.to_vec(),
            pending: Vec::new(),
        }
    }

    /// The next bytes; returns what can be written now.
    pub fn push(&mut self, chunk: &[u8]) -> Vec<u8> {
        self.pending.extend_from_slice(chunk);
        let hold = self.scrubber.window().saturating_sub(1);
        let limit = self.pending.len().saturating_sub(hold);
        let (out, done) = self
            .scrubber
            .replace(&self.pending, &self.replacement, limit);
        self.pending.drain(..done);
        out
    }

    /// The end of the stream: the rest.
    pub fn finish(mut self) -> Vec<u8> {
        let rest = std::mem::take(&mut self.pending);
        self.scrubber.scrub_bytes(&rest, &self.replacement)
    }
}

/// Where a match of `secret` starting at `at` ends, if there is one (the longest).
fn match_secret(secret: &[u8], bytes: &[u8], at: usize) -> Option<usize> {
    let (&first, rest) = secret.split_first()?;
    let mut best = None;
    for &end in forms(first, bytes, at).as_slice() {
        let found = if rest.is_empty() {
            Some(end)
        } else {
            match_secret(rest, bytes, end)
        };
        best = best.max(found);
    }
    best
}

/// The ends of the forms of one byte found at one position.
struct Ends {
    ends: [usize; 8],
    len: usize,
}

impl Ends {
    fn push(&mut self, end: Option<usize>) {
        if let Some(e) = end {
            if self.len < self.ends.len() {
                self.ends[self.len] = e;
                self.len += 1;
            }
        }
    }

    fn as_slice(&self) -> &[usize] {
        &self.ends[..self.len]
    }
}

/// The ends of every form of byte `b` that starts at `at`.
fn forms(b: u8, bytes: &[u8], at: usize) -> Ends {
    let mut ends = Ends {
        ends: [0; 8],
        len: 0,
    };
    let rest = bytes.get(at..).unwrap_or_default();
    let Some(&c) = rest.first() else {
        return ends;
    };
    ends.push(
        (c == b || (b.is_ascii_alphabetic() && c.eq_ignore_ascii_case(&b))).then_some(at + 1),
    );
    ends.push((b == b' ' && c == b'+').then_some(at + 1));
    for n in percent(b, rest) {
        ends.push(n.map(|n| at + n));
    }
    ends.push(json(b, rest).map(|n| at + n));
    // XML references, their `&` itself escaped up to twice (`&amp;lt;`, `&amp;amp;`).
    if let Some(mut tail) = rest.strip_prefix(b"&") {
        let mut len = 1;
        for _ in 0..3 {
            ends.push(reference_body(b, tail).map(|n| at + len + n));
            match tail.strip_prefix(b"amp;") {
                Some(t) => {
                    tail = t;
                    len += 4;
                }
                None => break,
            }
        }
    }
    ends
}

fn hex_value(h: u8) -> Option<u8> {
    (h as char).to_digit(16).map(|d| d as u8)
}

fn hex_byte(pair: &[u8]) -> Option<u8> {
    match pair {
        [h, l, ..] => Some(hex_value(*h)? << 4 | hex_value(*l)?),
        _ => None,
    }
}

/// The lengths of `%XX` and `%25XX` (either hex case) standing for `b`, where found.
fn percent(b: u8, rest: &[u8]) -> [Option<usize>; 2] {
    let Some(tail) = rest.strip_prefix(b"%") else {
        return [None; 2];
    };
    let once = (hex_byte(tail) == Some(b)).then_some(3);
    let twice = tail
        .strip_prefix(b"25")
        .filter(|t| hex_byte(t) == Some(b))
        .map(|_| 5);
    [once, twice]
}

/// The part after `&` of a reference to `b`: its length.
fn reference_body(b: u8, tail: &[u8]) -> Option<usize> {
    let named: &[u8] = match b {
        b'<' => b"lt;",
        b'>' => b"gt;",
        b'"' => b"quot;",
        b'\'' => b"apos;",
        b'&' => b"amp;",
        _ => b"",
    };
    if !named.is_empty() && tail.starts_with(named) {
        return Some(named.len());
    }
    let digits = tail.strip_prefix(b"#")?;
    let (radix, digits, skip) = match digits.first() {
        Some(b'x' | b'X') => (16, &digits[1..], 2),
        _ => (10, digits, 1),
    };
    let end = digits.iter().position(|&d| d == b';')?;
    if end == 0 || end > 6 {
        return None;
    }
    let text = std::str::from_utf8(&digits[..end]).ok()?;
    (u32::from_str_radix(text, radix).ok()? == u32::from(b)).then_some(skip + end + 1)
}

/// A JSON string escape standing for `b` (`\/`, `\"`, `\\`, `\u002B`): its length.
fn json(b: u8, rest: &[u8]) -> Option<usize> {
    let tail = rest.strip_prefix(b"\\")?;
    match tail.first()? {
        b'u' => {
            let code = tail.get(1..5)?;
            (hex_byte(&code[..2]) == Some(0) && hex_byte(&code[2..]) == Some(b)).then_some(6)
        }
        &c if c == b && matches!(b, b'"' | b'\\' | b'/') => Some(2),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubbed(key: &str, text: &str) -> String {
        ApiKey::new(key).unwrap().redact(text)
    }

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

    #[test]
    fn every_encoding_is_found() {
        let key = "Ab+/ =&<\"'%c";
        let cases = [
            "Ab+/ =&<\"'%c",
            "Ab%2B%2F%20%3D%26%3C%22%27%25c",
            "Ab%2b%2f%20%3d%26%3c%22%27%25c",
            "Ab%2B%2F+%3D%26%3C%22%27%25c",
            "Ab%252B%252F%2520%253D%2526%253C%2522%2527%2525c",
            "Ab+/ =&amp;&lt;&quot;&apos;%c",
            "Ab+/ =&#38;&#x3C;&#34;&#39;%c",
            "Ab+/ =&amp;amp;&amp;lt;&amp;quot;&amp;apos;%c",
            "Ab+\\/ =&<\\\"'%c",
            "Ab\\u002b\\u002F\\u0020=\\u0026\\u003c\\u0022\\u0027\\u0025c",
            "aB+/ =&<\"'%C",
            "Ab%2B/ =&amp;%3C\"'%25c",
        ];
        for form in cases {
            let text = format!("before {form} after");
            assert_eq!(
                scrubbed(key, &text),
                "before <redacted> after",
                "form {form:?}"
            );
        }
    }

    #[test]
    fn other_text_is_left_alone() {
        let key = "k3yK3Y";
        for text in ["k3y", "%6B3y", "&amp; %25 + \\u0041", "k3yK3", "plain"] {
            assert_eq!(scrubbed(key, text), text);
        }
    }

    #[test]
    fn streams_are_scrubbed_across_chunk_boundaries() {
        let key = "SE+RET";
        let body = b"<a>SE%2BRET</a><b>se+ret</b><c>SE&amp;#43;RET</c>";
        for size in 1..body.len() {
            let mut s = StreamScrubber::new(ApiKey::new(key).unwrap().scrubber(), b"[redacted]");
            let mut out = Vec::new();
            for chunk in body.chunks(size) {
                out.extend(s.push(chunk));
            }
            out.extend(s.finish());
            assert_eq!(
                String::from_utf8(out).unwrap(),
                "<a>[redacted]</a><b>[redacted]</b><c>[redacted]</c>",
                "chunks of {size}"
            );
        }
    }
}
