//! The scrubber against keys made of every reserved character, in every encoding a server or a
//! library may echo them in, whole and split across chunks.

use cake_core::secret::{ApiKey, StreamScrubber};
use proptest::prelude::*;

/// Unreserved and reserved characters of URLs, XML and JSON, and a space.
const ALPHABET: &[u8] = b"abcXYZ019-._~!*'();:@&=+$,/?#[]%<>\"\\ {}|^`";

fn percent(key: &str, lower: bool, space_plus: bool) -> String {
    let mut out = String::new();
    for b in key.bytes() {
        match b {
            b' ' if space_plus => out.push('+'),
            b if b.is_ascii_alphanumeric() || b"-._~".contains(&b) => out.push(b as char),
            b if lower => out.push_str(&format!("%{b:02x}")),
            b => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn xml(key: &str) -> String {
    key.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

fn json(key: &str) -> String {
    let mut out = String::new();
    for c in key.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            '<' | '>' | '&' | '\'' => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out
}

fn encodings(key: &str) -> Vec<(&'static str, String)> {
    vec![
        ("raw", key.to_string()),
        ("percent upper", percent(key, false, false)),
        ("percent lower", percent(key, true, false)),
        ("form", percent(key, false, true)),
        ("double", percent(&percent(key, false, false), false, false)),
        ("xml", xml(key)),
        ("xml twice", xml(&xml(key))),
        ("json", json(key)),
        ("xml of percent lower", xml(&percent(key, true, true))),
    ]
}

fn key_strategy() -> impl Strategy<Value = String> {
    proptest::collection::vec(proptest::sample::select(ALPHABET), 6..24).prop_map(|bytes| {
        let mut s = String::from_utf8(bytes).unwrap();
        // Keys are trimmed when registered.
        s = s.trim().to_string();
        if s.len() < 6 {
            s.push_str("k3Y9");
        }
        s
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn every_encoding_is_scrubbed(key in key_strategy()) {
        let api = ApiKey::new(key.clone()).unwrap();
        for (name, form) in encodings(&key) {
            let text = format!("before\u{2588}{form}\u{2588}after");
            prop_assert_eq!(
                api.redact(&text),
                "before\u{2588}<redacted>\u{2588}after",
                "{} form {:?} of key {:?}", name, form, key
            );
        }
    }

    #[test]
    fn streams_are_scrubbed_in_any_chunking(key in key_strategy(), cut in 1usize..40) {
        let api = ApiKey::new(key.clone()).unwrap();
        let body: String = encodings(&key)
            .iter()
            .map(|(_, form)| format!("<v>{form}</v>"))
            .collect();
        let mut s = StreamScrubber::new(api.scrubber(), b"[redacted]");
        let mut out = Vec::new();
        for chunk in body.as_bytes().chunks(cut) {
            out.extend(s.push(chunk));
        }
        out.extend(s.finish());
        let expected = "<v>[redacted]</v>".repeat(encodings(&key).len());
        prop_assert_eq!(String::from_utf8(out).unwrap(), expected);
    }
}

/// Every substring of `s` with `n` characters.
fn runs(s: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    if chars.len() < n {
        return vec![s.to_string()];
    }
    chars.windows(n).map(|w| w.iter().collect()).collect()
}

/// Base64 with padding, standard alphabet.
fn base64(bytes: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Keys as instances issue them: letters, digits and a few separators.
fn plain_key() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        proptest::sample::select(&b"abcdefghXYZ0123456789-_"[..]),
        8..40,
    )
    .prop_map(|b| String::from_utf8(b).unwrap())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(120))]

    /// A key cut at any offset (a length limit applied before scrubbing, somewhere): whatever
    /// is left of it is scrubbed once it has 8 characters, in every encoding.
    #[test]
    fn a_cut_key_is_scrubbed_at_every_offset(key in key_strategy()) {
        let api = ApiKey::new(key.clone()).unwrap();
        let chars: Vec<char> = key.chars().collect();
        for cut in 0..=chars.len() {
            let head: String = chars[..cut].iter().collect();
            let tail: String = chars[cut..].iter().collect();
            for part in [&head, &tail] {
                for (name, form) in encodings(part) {
                    let out = api.redact(&format!("«{form}»"));
                    if part.chars().count() >= 8 || *part == key {
                        prop_assert_eq!(&out, "«<redacted>»", "{} {:?} of {:?}", name, form, key);
                    }
                }
            }
        }
    }

    /// A key broken by a line break (or any character it does not contain) at any offset:
    /// each part of 8 characters or more is scrubbed.
    #[test]
    fn a_key_broken_across_lines_is_scrubbed_at_every_offset(key in plain_key()) {
        let api = ApiKey::new(key.clone()).unwrap();
        for cut in 1..key.len() {
            for brk in ["\r\n", "\n", " ", "<br/>"] {
                let text = format!("[{}{brk}{}]", &key[..cut], &key[cut..]);
                let out = api.redact(&text);
                for part in [&key[..cut], &key[cut..]] {
                    if part.len() >= 8 {
                        prop_assert!(!out.contains(part), "{:?} in {:?}", part, out);
                    }
                }
                for run in runs(&key, 8) {
                    prop_assert!(!out.contains(&run), "{:?} left in {:?}", run, out);
                }
            }
        }
    }

    /// The key's hex and base64 forms (at every alignment base64 can put it at) are scrubbed:
    /// no 8 characters of them that the key alone decides are left.
    #[test]
    fn hex_and_base64_echoes_are_scrubbed(key in plain_key(), before in "[a-z]{0,4}") {
        let api = ApiKey::new(key.clone()).unwrap();
        let hex: String = key.bytes().map(|b| format!("{b:02x}")).collect();
        for form in [hex.clone(), hex.to_uppercase()] {
            let out = api.redact(&format!("id={form};"));
            prop_assert_eq!(out, "id=<redacted>;");
        }
        let mut bytes = before.as_bytes().to_vec();
        bytes.extend_from_slice(key.as_bytes());
        let encoded = base64(&bytes);
        // The characters that only the key's bits decide.
        let first = (before.len() * 8).div_ceil(6);
        let last = (bytes.len() * 8) / 6;
        let decided = &encoded[first..last];
        for text in [
            format!("Authorization: Basic {encoded}"),
            format!("x={}", encoded.replace('+', "-").replace('/', "_")),
        ] {
            let out = api.redact(&text);
            let decided = if text.starts_with('x') {
                decided.replace('+', "-").replace('/', "_")
            } else {
                decided.to_string()
            };
            for run in runs(&decided, 8) {
                prop_assert!(!out.contains(&run), "{:?} left in {:?}", run, out);
            }
        }
    }
}

/// A key's `&` escaped in XML is scrubbed as the whole reference, even where the literal `&`
/// followed by the reference's `a` would match one more of the key's characters.
#[test]
fn an_escaped_ampersand_is_scrubbed_whole() {
    let api = ApiKey::new("aaaaaaa&a").unwrap();
    assert_eq!(api.redact("«aaaaaaa&amp;»"), "«<redacted>»");
    assert_eq!(api.redact("«aaaaaaa&amp;a»"), "«<redacted>»");
    assert_eq!(api.redact("«aaaaaaa&a»"), "«<redacted>»");
}
