//! The scrubber against keys made of every reserved character, in every encoding a server or a
//! library may echo them in, whole and split across chunks.

use cake_transport::{ApiKey, StreamScrubber};
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
