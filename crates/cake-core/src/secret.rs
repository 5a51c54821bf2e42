//! The API key: a value that never shows in `Debug`, in messages or in logs, and the one
//! [`Scrubber`] that removes it from every text the connector prints or stores.
//!
//! A server can echo the key back in many disguises: as sent, percent-encoded with upper- or
//! lower-case hex (`%2B`, as .NET writes `%2b`), form-encoded (`+` for a space), encoded twice
//! (`%252B`), XML-escaped (`&amp;`, `&#43;`, even `&amp;amp;`), JSON-escaped (`\/`, `\u002b`), or
//! with its letters in another case, as hex or base64, or only in part (a half cut off by a
//! length limit, two halves split by a line break). The scrubber does not enumerate encodings of
//! the whole key: it matches the key character by character, each character in any of those
//! forms, so mixed encodings are found too, and any run of [`MIN_RUN`] or more consecutive
//! characters of the key is a match.

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
#[error("the API key is empty: check CAKE_API_KEY, --api-key-file or --api-key")]
pub struct EmptyApiKey;

impl crate::failure::Classify for EmptyApiKey {
    fn class(&self) -> crate::failure::Class {
        crate::failure::Class::Usage
    }
}

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
///
/// A secret is found whole, or as any run of [`MIN_RUN`] or more of its consecutive characters
/// (half a key, the two parts of a key broken by a line break), each character in any of the
/// encodings above. Besides the secret as given, its hexadecimal and base64 forms (standard and
/// URL-safe alphabets, at the three alignments base64 can put it at) are secrets too.
#[derive(Clone, Default)]
pub struct Scrubber {
    secrets: Vec<Secret>,
    /// Bytes that can start a match of some secret.
    starts: Box<[bool]>,
    /// Runs of [`GRAM`] consecutive bytes of some secret form (letters folded to lower case),
    /// as a bit set indexed by their hash: a match written plainly starts with one of them,
    /// so most positions are ruled out by one lookup.
    grams: std::sync::Arc<[u64]>,
    /// Pairs of consecutive bytes of some secret form (letters folded to lower case), as a
    /// bit set indexed by `first << 8 | second`: where escapes make the run filter useless,
    /// the first two characters a position stands for must be one of them.
    pairs: std::sync::Arc<[u64]>,
    /// Some secret form is shorter than [`GRAM`]: the filters cannot apply.
    short: bool,
}

/// Bytes a match has at least (every secret form found in part has [`MIN_RUN`] characters or
/// more; a shorter one disables the filter that relies on it).
const GRAM: usize = 4;

/// Bits of the hash indexing [`Scrubber::grams`].
const GRAM_BITS: u32 = 15;

/// One form of a secret, with where each of its bytes sits in it.
#[derive(Clone)]
struct Secret {
    bytes: Vec<u8>,
    /// Per byte value (ASCII letters folded to lower case), the offsets in `bytes` holding it:
    /// where a run may start.
    at: Vec<Vec<u16>>,
}

/// The fewest consecutive characters of a secret that count as a match when the match is not
/// the whole secret. A secret shorter than this is only found whole.
pub const MIN_RUN: usize = 8;

impl fmt::Debug for Scrubber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Scrubber({} secret forms)", self.secrets.len())
    }
}

/// Longest form of one character: `&` + `amp;` twice + `#x7f;`.
const MAX_FORM: usize = 1 + 2 * 4 + 6;

impl Secret {
    fn new(bytes: Vec<u8>) -> Secret {
        let mut at = vec![Vec::new(); 256];
        for (i, &b) in bytes.iter().enumerate().take(usize::from(u16::MAX)) {
            at[usize::from(b.to_ascii_lowercase())].push(i as u16);
        }
        Secret { bytes, at }
    }

    /// The longest match of this secret (whole, or a run of at least [`MIN_RUN`] characters)
    /// starting at `at`: its end.
    fn match_at(&self, bytes: &[u8], at: usize) -> Option<usize> {
        let len = self.bytes.len();
        let mut best: Option<usize> = None;
        for (b, end) in decode_at(bytes, at).as_slice() {
            for &o in &self.at[usize::from(b.to_ascii_lowercase())] {
                let o = usize::from(o);
                if !same_char(self.bytes[o], *b) {
                    continue;
                }
                // A run shorter than MIN_RUN only counts when it is the whole secret.
                let whole_from_start = o == 0;
                if !whole_from_start && len - o < MIN_RUN {
                    continue;
                }
                // Characters still needed after this one for the match to count.
                let need = if whole_from_start {
                    len.min(MIN_RUN) - 1
                } else {
                    MIN_RUN - 1
                };
                let (chars, stop) = longest(&self.bytes[o + 1..], bytes, *end, need);
                let run = chars + 1;
                let whole = whole_from_start && run == len;
                if (whole || run >= MIN_RUN) && best.is_none_or(|b| stop > b) {
                    best = Some(stop);
                }
            }
        }
        best
    }
}

impl Scrubber {
    /// Adds a secret (surrounding spaces ignored; an empty one is ignored), with its hex and
    /// base64 forms.
    pub fn add(&mut self, secret: &str) {
        let secret = secret.trim().as_bytes();
        if secret.is_empty() || self.secrets.iter().any(|s| s.bytes == secret) {
            return;
        }
        let mut forms = vec![secret.to_vec(), hex(secret)];
        for alphabet in [BASE64, BASE64_URL] {
            forms.extend(base64_forms(secret, alphabet));
        }
        for form in forms {
            if !form.is_empty() && !self.secrets.iter().any(|s| s.bytes == form) {
                self.secrets.push(Secret::new(form));
            }
        }
        let mut starts = vec![false; 256];
        for s in &self.secrets {
            for &b in &s.bytes {
                starts[usize::from(b)] = true;
                starts[usize::from(b.to_ascii_lowercase())] = true;
                starts[usize::from(b.to_ascii_uppercase())] = true;
            }
        }
        for c in ESCAPES {
            starts[usize::from(c)] = true;
        }
        self.starts = starts.into_boxed_slice();
        let mut grams = vec![0u64; 1 << (GRAM_BITS - 6)];
        for s in &self.secrets {
            for w in s.bytes.windows(GRAM) {
                let i = gram_index(w);
                grams[i / 64] |= 1 << (i % 64);
            }
        }
        self.grams = grams.into();
        let mut pairs = vec![0u64; 1 << 10];
        for s in &self.secrets {
            for w in s.bytes.windows(2) {
                let i = pair_index(w[0], w[1]);
                pairs[i / 64] |= 1 << (i % 64);
            }
        }
        self.pairs = pairs.into();
        self.short = self.secrets.iter().any(|s| s.bytes.len() < GRAM);
    }

    /// True when the gram hash `g` is a run of some secret form.
    #[inline]
    fn gram_hit(&self, g: usize) -> bool {
        self.grams[g / 64] & (1 << (g % 64)) != 0
    }

    /// Whether a match may start at `i`, its bytes read through their escapes: the first two
    /// characters the bytes there stand for are a pair of some secret form.
    #[inline]
    fn pair_start(&self, bytes: &[u8], i: usize) -> bool {
        // Two bytes that start no escape stand for themselves only (what `decode_at` gives
        // them): the pair is looked up as it is, the usual case inside a window that holds an
        // escape elsewhere.
        if let (Some(&a), Some(&b)) = (bytes.get(i), bytes.get(i + 1)) {
            if !ESCAPES.contains(&a) && !ESCAPES.contains(&b) {
                let p = pair_index(a, b);
                return self.starts[usize::from(a)] && self.pairs[p / 64] & (1 << (p % 64)) != 0;
            }
        }
        decode_at(bytes, i).as_slice().iter().any(|&(a, end)| {
            self.starts[usize::from(a)]
                && decode_at(bytes, end).as_slice().iter().any(|&(b, _)| {
                    let p = pair_index(a, b);
                    self.pairs[p / 64] & (1 << (p % 64)) != 0
                })
        })
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
            .map(|s| s.bytes.len() * MAX_FORM)
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

    /// Whether `bytes` hold a secret, in any of its forms.
    pub fn found_in_bytes(&self, bytes: &[u8]) -> bool {
        self.find(bytes, 0).is_some()
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
        let shortest = self
            .secrets
            .iter()
            .map(|s| s.bytes.len().min(MIN_RUN))
            .min()
            .unwrap_or(MIN_RUN);
        if bytes.len().saturating_sub(from) < shortest {
            return None;
        }
        let at = |i: usize| {
            self.secrets
                .iter()
                .filter_map(|s| s.match_at(bytes, i))
                .max()
                .map(|end| (i, end))
        };
        if self.short {
            return (from..bytes.len())
                .filter(|&i| self.starts[usize::from(bytes[i])] || ESCAPES.contains(&bytes[i]))
                .find_map(at);
        }
        if bytes.len() < from + GRAM {
            return None;
        }
        // Every match spans `shortest` bytes or more, and up to its first escape its bytes
        // stand for themselves. So the window of GRAM bytes that ends a chunk of `stride`
        // positions lies inside the plain bytes of any match starting in the chunk, unless an
        // escape comes first: a chunk without an escape whose last window is no run of a
        // secret form holds no match, and is passed over. Other chunks are looked at position
        // by position.
        let stride = shortest + 1 - GRAM;
        let last = bytes.len() - GRAM;
        let escape_from = |i: usize| {
            bytes[i..]
                .iter()
                .position(|b| ESCAPES.contains(b))
                .map_or(bytes.len(), |n| i + n)
        };
        let mut next_escape = escape_from(from);
        let mut q = from;
        while q <= last {
            let p = (q + stride - 1).min(last);
            if next_escape < q {
                next_escape = escape_from(q);
            }
            if next_escape < p + GRAM || self.gram_hit(gram_index(&bytes[p..p + GRAM])) {
                for i in q..=p {
                    if self.may_start(bytes, i) {
                        if let Some(found) = at(i) {
                            return Some(found);
                        }
                    }
                }
            }
            q = p + 1;
        }
        None
    }

    /// Whether a match may start at `i` (at least GRAM bytes before the end): a window
    /// holding an escape is read through it, a plain one must be a run of a secret form.
    #[inline]
    fn may_start(&self, bytes: &[u8], i: usize) -> bool {
        let window = &bytes[i..i + GRAM];
        if window.iter().any(|b| ESCAPES.contains(b)) {
            self.pair_start(bytes, i)
        } else {
            self.gram_hit(gram_index(window)) && self.starts[usize::from(bytes[i])]
        }
    }
}

/// Bytes that start an escaped form of a character (`%2B`, `&amp;`, `\\u002b`, `+`).
const ESCAPES: [u8; 4] = [b'%', b'&', b'\\', b'+'];

/// Index of a pair of bytes in [`Scrubber::pairs`], letters folded to lower case.
#[inline]
fn pair_index(a: u8, b: u8) -> usize {
    usize::from(a.to_ascii_lowercase()) << 8 | usize::from(b.to_ascii_lowercase())
}

/// Index of [`GRAM`] bytes in [`Scrubber::grams`], letters folded to lower case.
#[inline]
fn gram_index(gram: &[u8]) -> usize {
    let mut folded = [0u8; GRAM];
    for (f, b) in folded.iter_mut().zip(gram) {
        *f = b.to_ascii_lowercase();
    }
    gram_hash(u32::from_le_bytes(folded))
}

/// The hash of [`GRAM`] folded bytes read little-endian.
#[inline]
fn gram_hash(folded: u32) -> usize {
    (folded.wrapping_mul(0x9E37_79B1) >> (32 - GRAM_BITS)) as usize
}

/// Equal bytes, letters in either case.
#[inline]
fn same_char(secret: u8, found: u8) -> bool {
    secret == found || (secret.is_ascii_alphabetic() && secret.eq_ignore_ascii_case(&found))
}

/// The hexadecimal form of `bytes` (lower case; the match ignores case).
fn hex(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 15)]])
        .collect()
}

const BASE64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_URL: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// Base64 of `bytes` without padding.
fn base64(bytes: &[u8], alphabet: &[u8; 64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(alphabet[((n >> (18 - 6 * i)) & 63) as usize]);
        }
    }
    out
}

/// The base64 characters that `secret` alone decides when it is encoded after 0, 1 or 2 other
/// bytes: the characters that mix its bits with a neighbour's are left out.
fn base64_forms(secret: &[u8], alphabet: &[u8; 64]) -> Vec<Vec<u8>> {
    (0..3usize)
        .map(|shift| {
            let mut padded = vec![0u8; shift];
            padded.extend_from_slice(secret);
            let encoded = base64(&padded, alphabet);
            // Characters before the secret's first bit, and the one mixing the padding in.
            let skip = match shift {
                0 => 0,
                1 => 2,
                _ => 3,
            };
            // A last character that holds fewer than 6 of the secret's bits mixes with the
            // next byte's.
            let keep = if padded.len() % 3 == 0 {
                encoded.len()
            } else {
                encoded.len() - 1
            };
            encoded
                .get(skip..keep)
                .map(<[u8]>::to_vec)
                .unwrap_or_default()
        })
        .collect()
}

/// The longest match of `rest` (the secret's next bytes, in order) starting at `at`: how many
/// of its bytes matched, and where the match ends (`(0, at)` when none did). Of the matches
/// with at least `need` bytes, the one reaching furthest into the text wins, so that a form is
/// scrubbed whole (`&amp;` read as `&`, not as `&` and the start of a key's next `a`); only
/// when none has `need` bytes does the one with the most bytes win.
fn longest(rest: &[u8], bytes: &[u8], at: usize, need: usize) -> (usize, usize) {
    let Some((&next, more)) = rest.split_first() else {
        return (0, at);
    };
    let mut best = (0, at);
    let better = |a: (usize, usize), b: (usize, usize)| -> bool {
        match (a.0 >= need, b.0 >= need) {
            (true, false) => true,
            (false, true) => false,
            (true, true) => a.1 > b.1 || (a.1 == b.1 && a.0 > b.0),
            (false, false) => a.0 > b.0 || (a.0 == b.0 && a.1 > b.1),
        }
    };
    // Depth-first over the forms of each next byte; forms rarely branch.
    for &end in forms(next, bytes, at).as_slice() {
        let (done, stop) = longest(more, bytes, end, need.saturating_sub(1));
        if better((done + 1, stop), best) {
            best = (done + 1, stop);
        }
    }
    best
}

/// The characters a form starting at `at` can stand for: (byte, end of the form).
fn decode_at(bytes: &[u8], at: usize) -> Chars {
    let mut out = Chars::default();
    let rest = bytes.get(at..).unwrap_or_default();
    let Some(&c) = rest.first() else {
        return out;
    };
    out.push(c, at + 1);
    if c == b'+' {
        out.push(b' ', at + 1);
    }
    if let Some(tail) = rest.strip_prefix(b"%") {
        if let Some(b) = hex_byte(tail) {
            out.push(b, at + 3);
        }
        if let Some(b) = tail.strip_prefix(b"25").and_then(hex_byte) {
            out.push(b, at + 5);
        }
    }
    if let Some(tail) = rest.strip_prefix(b"\\") {
        match tail.first() {
            Some(&q @ (b'"' | b'\\' | b'/')) => out.push(q, at + 2),
            Some(b'u') => {
                if let Some(code) = tail.get(1..5) {
                    if hex_byte(&code[..2]) == Some(0) {
                        if let Some(b) = hex_byte(&code[2..]) {
                            out.push(b, at + 6);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    if let Some(mut tail) = rest.strip_prefix(b"&") {
        let mut len = 1;
        for _ in 0..3 {
            if let Some((b, n)) = reference_value(tail) {
                out.push(b, at + len + n);
            }
            match tail.strip_prefix(b"amp;") {
                Some(t) => {
                    tail = t;
                    len += 4;
                }
                None => break,
            }
        }
    }
    out
}

/// The byte an XML reference after `&` stands for, and the reference's length.
fn reference_value(tail: &[u8]) -> Option<(u8, usize)> {
    for (name, b) in [
        (&b"lt;"[..], b'<'),
        (b"gt;", b'>'),
        (b"quot;", b'"'),
        (b"apos;", b'\''),
        (b"amp;", b'&'),
    ] {
        if tail.starts_with(name) {
            return Some((b, name.len()));
        }
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
    let value = u32::from_str_radix(text, radix).ok()?;
    u8::try_from(value).ok().map(|b| (b, skip + end + 1))
}

/// The characters a form can stand for, at most a few.
#[derive(Default)]
struct Chars {
    found: [(u8, usize); 8],
    len: usize,
}

impl Chars {
    fn push(&mut self, b: u8, end: usize) {
        if self.len < self.found.len() {
            self.found[self.len] = (b, end);
            self.len += 1;
        }
    }

    fn as_slice(&self) -> &[(u8, usize)] {
        &self.found[..self.len]
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
    /// Every position looked at, as the scan did before chunks were passed over: the
    /// reference the scan is held to.
    fn find_everywhere(scrubber: &Scrubber, bytes: &[u8], from: usize) -> Option<(usize, usize)> {
        let at = |i: usize| {
            scrubber
                .secrets
                .iter()
                .filter_map(|s| s.match_at(bytes, i))
                .max()
                .map(|end| (i, end))
        };
        (from..=bytes.len().checked_sub(GRAM)?)
            .filter(|&i| scrubber.may_start(bytes, i))
            .find_map(at)
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(400))]

        /// Text made of pieces of the key's forms, escapes and other bytes: the scan finds
        /// the first match the position-by-position scan finds, from any offset.
        #[test]
        fn passing_over_chunks_finds_what_every_position_finds(
            key in "[a-zA-Z0-9_-]{8,20}",
            pieces in proptest::collection::vec((0usize..8, 0usize..24, 1usize..12), 1..30),
            from in 0usize..16,
        ) {
            let mut scrubber = Scrubber::default();
            scrubber.add(&key);
            proptest::prop_assume!(!scrubber.short);
            let forms: Vec<Vec<u8>> = scrubber.secrets.iter().map(|s| s.bytes.clone()).collect();
            let noise: &[&[u8]] = &[b"%20", b"&amp;", b"+", b"\\u00", b"<a>", b"xyz", b" ", b"%"];
            let mut text = Vec::new();
            for (kind, start, len) in pieces {
                match kind {
                    0..=3 => {
                        let form = &forms[start % forms.len()];
                        let s = start % form.len();
                        text.extend_from_slice(&form[s..(s + len).min(form.len())]);
                    }
                    4 => {
                        // A character of the key, percent-encoded.
                        let b = key.as_bytes()[start % key.len()];
                        text.extend_from_slice(format!("%{b:02X}").as_bytes());
                    }
                    _ => text.extend_from_slice(noise[(start + len) % noise.len()]),
                }
            }
            let from = from.min(text.len());
            proptest::prop_assert_eq!(
                scrubber.find(&text, from),
                find_everywhere(&scrubber, &text, from)
            );
        }
    }
}
