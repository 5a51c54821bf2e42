//! Hostile behaviours: answers that are well-formed enough to be believed but wrong (pages that
//! lose, repeat or miscount rows, another report's document, another day's rows, an impossible
//! timestamp, Cake's failure messages), or that try to make a client leak or print what it
//! should not (the API key echoed back in every encoding, terminal control bytes). They exist so
//! that a client's tests can prove it never commits wrong data and never shows a secret.
//!
//! Everything here is a pure function of the request: no draws, no state.

use std::fmt;
use std::str::FromStr;

use cake_catalog::Report;

use crate::request::{failure_raw, JSON, TEXT};
use crate::Response;

/// The terminal control bytes [`Hostile::ControlBytes`] writes: an OSC window-title sequence,
/// a CSI "erase line", BEL, CR, LF and a forged error line.
pub const HOSTILE_CONTROL_BYTES: &str = "\x1b]0;pwned\x07\x1b[2K\r\nerror: forged\x07";

/// What [`EchoPlace::RowValueNewlines`] appends to a text value, as written on the wire:
/// character references, so the document stays well-formed XML and the decoded text is
/// `"\r\nerror: forged\r\n"`.
pub const HOSTILE_NEWLINES_XML: &str = "&#xD;&#xA;error: forged&#xD;&#xA;";

/// The start of the `Location` header of [`EchoPlace::RedirectLocation`]; the echo follows it.
pub const REDIRECT_PREFIX: &str = "https://login.example.invalid/?return=";

/// A hostile behaviour of the sandbox (see `docs/sandbox.md`). It applies to the attempts
/// `0..Faults::hostile_attempts` of every request identity, and only to answers of a report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Hostile {
    /// Paged reports: every page that is neither the first nor the last page of the request
    /// (given `row_count` and `row_limit`) holds `missing` rows fewer than `row_limit` (the last
    /// `missing` rows of that page are dropped); `row_count` is unchanged.
    ShortMiddlePage { missing: u32 },
    /// Paged reports: on every page after the first, the first row is replaced by a copy of the
    /// last row of the previous page (a primary key appears twice, one real row is missing);
    /// page sizes and `row_count` unchanged.
    RepeatRowAcrossPages,
    /// Paged reports: pages after the first report `row_count + delta` (saturating at 0) while
    /// their rows are the real ones.
    RowCountDrift { delta: i64 },
    /// Paged reports: the first page is the real one but says `row_count` = `row_count`; every
    /// later page is an empty collection with that same `row_count`.
    EmptyPagesUnderLargeRowCount { row_count: u64 },
    /// The API key the request carried is echoed back, encoded as `encoding`, at `place`,
    /// `times` times in a row (separated by a space), so that wherever a reader cuts the text
    /// it cuts an echo.
    KeyEcho {
        encoding: KeyEncoding,
        place: EchoPlace,
        times: u32,
    },
    /// Terminal control bytes ([`HOSTILE_CONTROL_BYTES`]) are put at `place`.
    ControlBytes { place: EchoPlace },
    /// The answer is a well-formed success document of another report, HTTP 200: a Clicks
    /// request gets a Conversions document (same window and page), an Account Statuses request
    /// a Clicks document, any other request an Account Statuses document.
    WrongEndpoint,
    /// The right document, but with the default namespace
    /// `http://cakemarketing.com/api/{version + 1}/`.
    WrongVersion,
    /// Dated range reports: the rows answered are those of the window shifted by `days` days
    /// (`-1`: a request for 2024-03-05 gets the rows of 2024-03-04), `row_count` consistent with
    /// those rows: the answer is exactly the clean answer to the shifted request.
    OtherDay { days: i64 },
    /// Dated reports with a timestamp column: the first row's date field (or, without one, its
    /// first timestamp column that is always written) reads `9999-12-31T23:59:59.9999999`.
    FarFutureTimestamp,
    /// HTTP 200 `success=false` with this message and `row_count` 0, like Cake's `Restricted`.
    CakeMessage(String),
    /// Envelope documents: `<row_count>` written twice, the second time saying `delta` more
    /// (saturating at 0).
    RepeatedRowCount { delta: i64 },
    /// The first row of every page writes the element of column `column` a second time, right
    /// after the first, holding `1` (or, when the first already holds `1`, `2`).
    RepeatedElement { column: String },
    /// The document is written in ISO-8859-1 and says so in its declaration
    /// (`<?xml version="1.0" encoding="ISO-8859-1"?>`); characters outside Latin-1 are
    /// written as character references. Decoded, it is the clean answer.
    Latin1,
    /// The first row of every page has its date column (the one the report's rows are placed
    /// by: the change date of a change feed, else the date field) read `timestamp`.
    RowDated { timestamp: String },
    /// Paged dated range reports: page `page` (1-based) of every window holds the rows of that
    /// same page of the day before; `row_count` stays the window's.
    PageOfDayBefore { page: u32 },
    /// Report requests are accepted and never answered: no status line, no header, until the
    /// client gives up or the sandbox stops.
    Silent,
    /// HTTP 503 with `Retry-After: VALUE` (seconds, or an HTTP date) and a short body.
    RetryAfter { value: String },
    /// The answer's head carries `bytes` bytes of extra header (`X-Sandbox-Padding-N` headers
    /// of 8 KiB each); the body is the clean answer.
    LargeHead { bytes: usize },
    /// The first row of every page carries `bytes` bytes of unknown elements
    /// (`<sandbox_blob>` elements of 1 MiB of text each, the last one shorter).
    LargeRow { bytes: usize },
    /// The first row of every page writes its first text element `times` more times, each
    /// holding 1 MiB of text.
    RepeatedKnownElement { times: usize },
    /// The first row of every page carries `names` distinct unknown elements
    /// (`<sandbox_unknown_N>N</sandbox_unknown_N>`).
    UnknownNames { names: usize },
}

/// How [`Hostile::KeyEcho`] encodes the key. [`KeyEncoding::encode`] gives the encoded text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum KeyEncoding {
    /// The key as it is.
    Raw,
    /// Every byte outside `A-Z a-z 0-9 - . _ ~` as `%XX`, upper-case hex.
    PercentUpper,
    /// The same with lower-case hex (what .NET's `HttpUtility.UrlEncode` writes, e.g. `%2b`).
    PercentLower,
    /// `application/x-www-form-urlencoded`: space as `+`, bytes outside `A-Z a-z 0-9 * - . _`
    /// as `%XX` (upper-case hex).
    Form,
    /// Percent-encoded twice (upper-case hex; `%` itself becomes `%25`).
    Double,
    /// XML-escaped: `&` `&amp;`, `<` `&lt;`, `>` `&gt;`, `"` `&quot;`, `'` `&apos;`.
    XmlEscaped,
    /// JSON string escaping: `"` `\"`, `\` `\\`, `/` `\/`, control characters and everything
    /// outside ASCII as `\uXXXX` (lower-case hex, UTF-16 units).
    JsonEscaped,
    /// The first half of the key's characters (rounded up).
    Half,
    /// The key with a CR LF line break in the middle of its characters.
    LineBroken,
    /// The key's UTF-8 bytes in standard base64 (with padding).
    Base64,
    /// The key's UTF-8 bytes in lower-case hexadecimal.
    Hex,
}

/// Where [`Hostile::KeyEcho`] and [`Hostile::ControlBytes`] put their text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum EchoPlace {
    /// HTTP 500 with a `text/plain` body holding the text (for [`KeyEncoding::JsonEscaped`] an
    /// `application/json` body `{"Message":"...","ExceptionType":"System.Exception"}`).
    Http500Body,
    /// HTTP 200 `success=false` document whose `<message>` holds the text.
    CakeMessage,
    /// HTTP 302 with `Location: https://login.example.invalid/?return=<text>` (bytes a header
    /// cannot carry percent-encoded) and a short HTML body holding the text as it is.
    RedirectLocation,
    /// The first text value of the first row of a success document. Control bytes are written
    /// raw (ESC and BEL are not allowed in XML 1.0: the document is not well-formed); a key
    /// echo is escaped as text, so the decoded value ends with the encoded key.
    RowValue,
    /// Like [`EchoPlace::RowValue`], but control bytes are written as [`HOSTILE_NEWLINES_XML`]
    /// (CR and LF as character references): a well-formed document whose decoded value holds
    /// a line break and a forged line.
    RowValueNewlines,
}

/// A `--hostile` value that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "{input:?} is not a hostile behaviour: {reason}. Forms: short-middle-page=N, repeat-row, \
     row-count-drift=+N|-N, empty-pages=N, key-echo=ENCODING@PLACE[*N], control-bytes@PLACE, \
     wrong-endpoint, wrong-version, other-day=+N|-N, far-timestamp, cake-message=TEXT, \
     row-count-twice=+N|-N, element-twice=COLUMN, latin1, row-dated=TIMESTAMP, \
     page-of-day-before=N, silent, retry-after=VALUE, large-head=BYTES, large-row=BYTES, \
     repeat-known=N, unknown-names=N (ENCODING: raw, percent-upper, percent-lower, form, \
     double, xml-escaped, json-escaped, half, line-broken, base64, hex; PLACE: http-500, \
     cake-message, redirect, row-value, row-value-newlines)"
)]
pub struct InvalidHostile {
    pub input: String,
    pub reason: String,
}

fn invalid(input: &str, reason: impl Into<String>) -> InvalidHostile {
    InvalidHostile {
        input: input.to_string(),
        reason: reason.into(),
    }
}

const ENCODINGS: &[(&str, KeyEncoding)] = &[
    ("raw", KeyEncoding::Raw),
    ("percent-upper", KeyEncoding::PercentUpper),
    ("percent-lower", KeyEncoding::PercentLower),
    ("form", KeyEncoding::Form),
    ("double", KeyEncoding::Double),
    ("xml-escaped", KeyEncoding::XmlEscaped),
    ("json-escaped", KeyEncoding::JsonEscaped),
    ("half", KeyEncoding::Half),
    ("line-broken", KeyEncoding::LineBroken),
    ("base64", KeyEncoding::Base64),
    ("hex", KeyEncoding::Hex),
];

const PLACES: &[(&str, EchoPlace)] = &[
    ("http-500", EchoPlace::Http500Body),
    ("cake-message", EchoPlace::CakeMessage),
    ("redirect", EchoPlace::RedirectLocation),
    ("row-value", EchoPlace::RowValue),
    ("row-value-newlines", EchoPlace::RowValueNewlines),
];

impl fmt::Display for KeyEncoding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = ENCODINGS
            .iter()
            .find(|(_, e)| e == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

impl FromStr for KeyEncoding {
    type Err = InvalidHostile;

    fn from_str(s: &str) -> Result<KeyEncoding, InvalidHostile> {
        ENCODINGS
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, e)| *e)
            .ok_or_else(|| invalid(s, "unknown key encoding"))
    }
}

impl fmt::Display for EchoPlace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = PLACES
            .iter()
            .find(|(_, p)| p == self)
            .map_or("?", |(n, _)| n);
        f.write_str(name)
    }
}

impl FromStr for EchoPlace {
    type Err = InvalidHostile;

    fn from_str(s: &str) -> Result<EchoPlace, InvalidHostile> {
        PLACES
            .iter()
            .find(|(n, _)| *n == s)
            .map(|(_, p)| *p)
            .ok_or_else(|| invalid(s, "unknown echo place"))
    }
}

impl fmt::Display for Hostile {
    /// The form [`Hostile::from_str`] reads (`short-middle-page=4`, `key-echo=raw@redirect`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Hostile::ShortMiddlePage { missing } => write!(f, "short-middle-page={missing}"),
            Hostile::RepeatRowAcrossPages => f.write_str("repeat-row"),
            Hostile::RowCountDrift { delta } => write!(f, "row-count-drift={delta:+}"),
            Hostile::EmptyPagesUnderLargeRowCount { row_count } => {
                write!(f, "empty-pages={row_count}")
            }
            Hostile::KeyEcho {
                encoding,
                place,
                times: 1,
            } => write!(f, "key-echo={encoding}@{place}"),
            Hostile::KeyEcho {
                encoding,
                place,
                times,
            } => write!(f, "key-echo={encoding}@{place}*{times}"),
            Hostile::ControlBytes { place } => write!(f, "control-bytes@{place}"),
            Hostile::WrongEndpoint => f.write_str("wrong-endpoint"),
            Hostile::WrongVersion => f.write_str("wrong-version"),
            Hostile::OtherDay { days } => write!(f, "other-day={days:+}"),
            Hostile::FarFutureTimestamp => f.write_str("far-timestamp"),
            Hostile::CakeMessage(message) => write!(f, "cake-message={message}"),
            Hostile::RepeatedRowCount { delta } => write!(f, "row-count-twice={delta:+}"),
            Hostile::RepeatedElement { column } => write!(f, "element-twice={column}"),
            Hostile::Latin1 => f.write_str("latin1"),
            Hostile::RowDated { timestamp } => write!(f, "row-dated={timestamp}"),
            Hostile::PageOfDayBefore { page } => write!(f, "page-of-day-before={page}"),
            Hostile::Silent => f.write_str("silent"),
            Hostile::RetryAfter { value } => write!(f, "retry-after={value}"),
            Hostile::LargeHead { bytes } => write!(f, "large-head={bytes}"),
            Hostile::LargeRow { bytes } => write!(f, "large-row={bytes}"),
            Hostile::RepeatedKnownElement { times } => write!(f, "repeat-known={times}"),
            Hostile::UnknownNames { names } => write!(f, "unknown-names={names}"),
        }
    }
}

impl FromStr for Hostile {
    type Err = InvalidHostile;

    /// Reads the forms [`Hostile`]'s `Display` writes: `short-middle-page=4`, `repeat-row`,
    /// `row-count-drift=+3`, `empty-pages=4000000`, `key-echo=percent-lower@cake-message`,
    /// `control-bytes@http-500`, `wrong-endpoint`, `wrong-version`, `other-day=-1`,
    /// `far-timestamp`, `cake-message=Too many requests` (everything after the first `=`,
    /// possibly empty).
    fn from_str(s: &str) -> Result<Hostile, InvalidHostile> {
        let split = s.find(['=', '@']).unwrap_or(s.len());
        let (name, rest) = s.split_at(split);
        let value = |what: &str| {
            rest.strip_prefix('=')
                .ok_or_else(|| invalid(s, format!("{name} needs ={what}")))
        };
        let none = |h: Hostile| {
            if rest.is_empty() {
                Ok(h)
            } else {
                Err(invalid(s, format!("{name} takes no value")))
            }
        };
        let number = |what: &str| -> Result<i64, InvalidHostile> {
            let v = value(what)?;
            let n: i64 = v
                .parse()
                .map_err(|_| invalid(s, format!("{v:?} is not a whole number")))?;
            if n == 0 {
                return Err(invalid(s, format!("{name}=0 would change nothing")));
            }
            Ok(n)
        };
        let count = |what: &str, allow_zero: bool| -> Result<u64, InvalidHostile> {
            let v = value(what)?;
            let n: u64 = v
                .parse()
                .ok()
                .filter(|_| !v.starts_with('+'))
                .ok_or_else(|| invalid(s, format!("{v:?} is not a count (digits, no sign)")))?;
            if n == 0 && !allow_zero {
                return Err(invalid(s, format!("{name}=0 would change nothing")));
            }
            Ok(n)
        };
        let size = |what: &str| -> Result<usize, InvalidHostile> {
            usize::try_from(count(what, false)?).map_err(|_| invalid(s, "too large a count"))
        };
        match name {
            "short-middle-page" => {
                let missing = u32::try_from(count("ROWS", false)?)
                    .map_err(|_| invalid(s, "too many rows"))?;
                Ok(Hostile::ShortMiddlePage { missing })
            }
            "repeat-row" => none(Hostile::RepeatRowAcrossPages),
            "row-count-drift" => Ok(Hostile::RowCountDrift {
                delta: number("+N or -N")?,
            }),
            "empty-pages" => Ok(Hostile::EmptyPagesUnderLargeRowCount {
                row_count: count("ROW_COUNT", true)?,
            }),
            "key-echo" => {
                let v = value("ENCODING@PLACE")?;
                let Some((encoding, place)) = v.split_once('@') else {
                    return Err(invalid(s, "key-echo needs =ENCODING@PLACE"));
                };
                let (place, times) = match place.split_once('*') {
                    Some((place, n)) => (
                        place,
                        n.parse::<u32>()
                            .ok()
                            .filter(|n| *n > 0)
                            .ok_or_else(|| invalid(s, format!("{n:?} is not a count above 0")))?,
                    ),
                    None => (place, 1),
                };
                Ok(Hostile::KeyEcho {
                    times,
                    encoding: encoding.parse().map_err(|e: InvalidHostile| {
                        invalid(s, format!("{:?} is an {}", e.input, e.reason))
                    })?,
                    place: place.parse().map_err(|e: InvalidHostile| {
                        invalid(s, format!("{:?} is an {}", e.input, e.reason))
                    })?,
                })
            }
            "control-bytes" => {
                let Some(place) = rest.strip_prefix('@') else {
                    return Err(invalid(s, "control-bytes needs @PLACE"));
                };
                Ok(Hostile::ControlBytes {
                    place: place.parse().map_err(|e: InvalidHostile| {
                        invalid(s, format!("{:?} is an {}", e.input, e.reason))
                    })?,
                })
            }
            "wrong-endpoint" => none(Hostile::WrongEndpoint),
            "wrong-version" => none(Hostile::WrongVersion),
            "other-day" => Ok(Hostile::OtherDay {
                days: number("+N or -N")?,
            }),
            "far-timestamp" => none(Hostile::FarFutureTimestamp),
            "cake-message" => Ok(Hostile::CakeMessage(value("TEXT")?.to_string())),
            "row-count-twice" => Ok(Hostile::RepeatedRowCount {
                delta: number("+N or -N")?,
            }),
            "element-twice" => Ok(Hostile::RepeatedElement {
                column: value("COLUMN")?.to_string(),
            }),
            "latin1" => none(Hostile::Latin1),
            "row-dated" => Ok(Hostile::RowDated {
                timestamp: value("TIMESTAMP")?.to_string(),
            }),
            "page-of-day-before" => Ok(Hostile::PageOfDayBefore {
                page: u32::try_from(count("PAGE", false)?)
                    .map_err(|_| invalid(s, "too large a page"))?,
            }),
            "silent" => none(Hostile::Silent),
            "retry-after" => Ok(Hostile::RetryAfter {
                value: value("VALUE")?.to_string(),
            }),
            "large-head" => Ok(Hostile::LargeHead {
                bytes: size("BYTES")?,
            }),
            "large-row" => Ok(Hostile::LargeRow {
                bytes: size("BYTES")?,
            }),
            "repeat-known" => Ok(Hostile::RepeatedKnownElement { times: size("N")? }),
            "unknown-names" => Ok(Hostile::UnknownNames { names: size("N")? }),
            _ => Err(invalid(s, "unknown kind")),
        }
    }
}

impl Hostile {
    /// True for the behaviours that replace the whole answer rather than alter the document.
    pub(crate) fn replaces(&self) -> bool {
        match self {
            Hostile::KeyEcho { place, .. } | Hostile::ControlBytes { place } => !place.in_row(),
            Hostile::CakeMessage(_) | Hostile::WrongEndpoint | Hostile::RetryAfter { .. } => true,
            _ => false,
        }
    }
}

impl EchoPlace {
    fn in_row(self) -> bool {
        matches!(self, EchoPlace::RowValue | EchoPlace::RowValueNewlines)
    }
}

fn percent(s: &str, upper: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else if upper {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push_str(&format!("%{b:02x}"));
        }
    }
    out
}

fn json_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 16);
    for ch in s.chars() {
        match ch {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '/' => out.push_str("\\/"),
            c if c.is_ascii_control() || !c.is_ascii() => {
                let mut units = [0u16; 2];
                for u in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{u:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

impl KeyEncoding {
    /// The key as this encoding writes it.
    pub fn encode(self, key: &str) -> String {
        match self {
            KeyEncoding::Raw => key.to_string(),
            KeyEncoding::PercentUpper => percent(key, true),
            KeyEncoding::PercentLower => percent(key, false),
            KeyEncoding::Form => url::form_urlencoded::byte_serialize(key.as_bytes()).collect(),
            KeyEncoding::Double => percent(&percent(key, true), true),
            KeyEncoding::XmlEscaped => cake_core::text::escape_xml(key).into_owned(),
            KeyEncoding::JsonEscaped => json_escape(key),
            KeyEncoding::Half => {
                let n = key.chars().count().div_ceil(2);
                key.chars().take(n).collect()
            }
            KeyEncoding::LineBroken => {
                let n = key.chars().count() / 2;
                let mut out: String = key.chars().take(n).collect();
                out.push_str("\r\n");
                out.extend(key.chars().skip(n));
                out
            }
            KeyEncoding::Base64 => base64(key.as_bytes()),
            KeyEncoding::Hex => key.bytes().map(|b| format!("{b:02x}")).collect(),
        }
    }
}

/// Standard base64 with padding.
fn base64(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `text` made a valid header value: bytes a header cannot carry (control bytes, DEL, bytes
/// outside ASCII, and a trailing space or tab that parsers would strip) as `%XX`; every other
/// byte as it is.
pub fn header_safe(text: &str) -> String {
    let bytes = text.as_bytes();
    let keep_until = bytes.len()
        - bytes
            .iter()
            .rev()
            .take_while(|b| matches!(b, b' ' | b'\t'))
            .count();
    let mut out = String::with_capacity(text.len() + 16);
    for (i, &b) in bytes.iter().enumerate() {
        if !(0x20..0x7f).contains(&b) || i >= keep_until {
            out.push_str(&format!("%{b:02X}"));
        } else {
            out.push(b as char);
        }
    }
    out
}

/// Escapes `&`, `<` and `>` as the documents do for text.
fn text_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// An answer that replaces the document, with its `Location` header if any.
pub(crate) struct Replaced {
    pub response: Response,
    /// Extra headers (valid header values).
    pub headers: Vec<(String, String)>,
}

/// The key a request carried: its `api_key` parameter, decoded (empty when it has none).
pub(crate) fn carried_key(pairs: &[(String, String)]) -> &str {
    pairs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("api_key"))
        .map_or("", |(_, v)| v.as_str())
}

/// The answer of a replacing behaviour ([`Hostile::replaces`] but not `WrongEndpoint`, which
/// needs the bound request).
pub(crate) fn replace(report: &Report, hostile: &Hostile, key: &str) -> Option<Replaced> {
    match hostile {
        Hostile::RetryAfter { value } => Some(Replaced {
            response: Response {
                status: 503,
                content_type: TEXT,
                body: b"Service Unavailable: try again later.\r\n".to_vec(),
            },
            headers: vec![("retry-after".into(), header_safe(value))],
        }),
        Hostile::CakeMessage(message) => Some(Replaced {
            response: failure_raw(report, &text_escape(message)),
            headers: Vec::new(),
        }),
        Hostile::KeyEcho {
            encoding,
            place,
            times,
        } => {
            let one = encoding.encode(key);
            let echo = vec![one.as_str(); *times as usize].join(" ");
            let json = *encoding == KeyEncoding::JsonEscaped;
            let wire_message = if *encoding == KeyEncoding::XmlEscaped {
                // The document's own escaping: decoded, the first echo is the raw key and the
                // second the escaped form.
                format!("{KEY_LEAD}{echo} (escaped: {})", text_escape(&echo))
            } else {
                format!("{KEY_LEAD}{}", text_escape(&echo))
            };
            Some(echo_at(
                report,
                *place,
                KEY_LEAD,
                &echo,
                json,
                &wire_message,
            ))
        }
        Hostile::ControlBytes { place } => {
            let wire_message = format!("{CONTROL_LEAD}{HOSTILE_CONTROL_BYTES}");
            Some(echo_at(
                report,
                *place,
                CONTROL_LEAD,
                HOSTILE_CONTROL_BYTES,
                false,
                &wire_message,
            ))
        }
        _ => None,
    }
}

/// The words before an echoed key.
const KEY_LEAD: &str = "Could not process the request for api_key=";
/// The words before control bytes.
const CONTROL_LEAD: &str = "Could not process the request: ";

/// `lead` and `text` put at `place`; `wire_message` is the `<message>` content as written on
/// the wire.
fn echo_at(
    report: &Report,
    place: EchoPlace,
    lead: &str,
    text: &str,
    json: bool,
    wire_message: &str,
) -> Replaced {
    match place {
        EchoPlace::Http500Body if json => Replaced {
            response: Response {
                status: 500,
                content_type: JSON,
                body: format!(
                    "{{\"Message\":\"{lead}{text}\",\"ExceptionType\":\"System.Exception\"}}"
                )
                .into_bytes(),
            },
            headers: Vec::new(),
        },
        EchoPlace::Http500Body => Replaced {
            response: Response {
                status: 500,
                content_type: TEXT,
                body: format!(
                    "Server Error in '/' Application.\r\n\r\nSystem.Exception: {lead}{text}\r\n   \
                     at Cake.Api.Authorize()\r\n"
                )
                .into_bytes(),
            },
            headers: Vec::new(),
        },
        EchoPlace::RedirectLocation => {
            let location = format!("{REDIRECT_PREFIX}{}", header_safe(text));
            Replaced {
                response: Response {
                    status: 302,
                    content_type: crate::request::HTML,
                    body: format!(
                        "<html><head><title>Object moved</title></head><body>\r\n<h2>Object \
                         moved to <a href=\"{REDIRECT_PREFIX}{text}\">here</a>.</h2>\r\n\
                         </body></html>\r\n"
                    )
                    .into_bytes(),
                },
                headers: vec![("location".into(), location)],
            }
        }
        // The row places are not replacements; `CakeMessage` is the only one left.
        _ => Replaced {
            response: failure_raw(report, wire_message),
            headers: Vec::new(),
        },
    }
}

/// The raw bytes a row-place behaviour appends to the first text value of the first row, or
/// `None` when the behaviour does not write into a row.
pub(crate) fn row_append(hostile: &Hostile, key: &str) -> Option<Vec<u8>> {
    match hostile {
        Hostile::KeyEcho {
            encoding,
            place,
            times,
        } if place.in_row() => {
            let one = encoding.encode(key);
            Some(text_escape(&vec![one.as_str(); *times as usize].join(" ")).into_bytes())
        }
        Hostile::ControlBytes {
            place: EchoPlace::RowValue,
        } => Some(HOSTILE_CONTROL_BYTES.as_bytes().to_vec()),
        Hostile::ControlBytes {
            place: EchoPlace::RowValueNewlines,
        } => Some(HOSTILE_NEWLINES_XML.as_bytes().to_vec()),
        _ => None,
    }
}

/// The text [`Hostile::FarFutureTimestamp`] writes.
pub const FAR_FUTURE_TIMESTAMP: &str = "9999-12-31T23:59:59.9999999";

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y+/ =&<\"'é%";

    #[test]
    fn encodings_of_a_key_with_reserved_characters() {
        let e = |enc: KeyEncoding| enc.encode(KEY);
        assert_eq!(e(KeyEncoding::Raw), KEY);
        assert_eq!(
            e(KeyEncoding::PercentUpper),
            "k3y%2B%2F%20%3D%26%3C%22%27%C3%A9%25"
        );
        assert_eq!(
            e(KeyEncoding::PercentLower),
            "k3y%2b%2f%20%3d%26%3c%22%27%c3%a9%25"
        );
        assert_eq!(e(KeyEncoding::Form), "k3y%2B%2F+%3D%26%3C%22%27%C3%A9%25");
        assert_eq!(
            e(KeyEncoding::Double),
            "k3y%252B%252F%2520%253D%2526%253C%2522%2527%25C3%25A9%2525"
        );
        assert_eq!(e(KeyEncoding::XmlEscaped), "k3y+/ =&amp;&lt;&quot;&apos;é%");
        assert_eq!(e(KeyEncoding::JsonEscaped), "k3y+\\/ =&<\\\"'\\u00e9%");
        assert_eq!(
            KeyEncoding::JsonEscaped.encode("a\\b\u{1b}😀"),
            "a\\\\b\\u001b\\ud83d\\ude00"
        );
    }

    #[test]
    fn header_values_carry_only_what_a_header_can() {
        assert_eq!(header_safe(KEY), "k3y+/ =&<\"'%C3%A9%");
        assert_eq!(
            header_safe(HOSTILE_CONTROL_BYTES),
            "%1B]0;pwned%07%1B[2K%0D%0Aerror: forged%07"
        );
        assert_eq!(header_safe("a b \t"), "a b%20%09");
    }
}
