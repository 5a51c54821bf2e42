//! Text from outside (a server's message, a value quoted in an error) made safe to print.
//!
//! Every layer that quotes foreign text in a message passes it through [`escape_controls`], so
//! nothing a server sends can move the cursor, clear the screen, set a terminal's title, ring
//! its bell or start a line that looks like the connector's own output. An error page (an IIS or
//! ASP.NET page, a proxy's HTML) is shown by its gist, [`page_summary`], the same everywhere.
//!
//! Text quoted in a message is shortened by [`excerpt`] alone, which scrubs the secrets out
//! before it cuts: a cut made first could leave half a key that no scrubber recognises.

use std::borrow::Cow;

use crate::secret::Scrubber;

/// `text` as quoted in a message: the secrets of `scrubber` removed first, control characters
/// escaped, then cut to at most `max_chars` characters (an ellipsis marks a cut).
pub fn excerpt(text: &str, scrubber: Option<&Scrubber>, max_chars: usize) -> String {
    let scrubbed = match scrubber {
        Some(s) => s.scrub(text),
        None => Cow::Borrowed(text),
    };
    let escaped = escape_controls(&scrubbed);
    match escaped.char_indices().nth(max_chars) {
        Some((cut, _)) => format!("{}…", &escaped[..cut]),
        None => escaped.into_owned(),
    }
}

/// `text` as XML character data or an attribute value: `&`, `<`, `>`, `"` and `'` escaped.
pub fn escape_xml(text: &str) -> Cow<'_, str> {
    if !text.contains(['&', '<', '>', '"', '\'']) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` with every control character written as a visible escape: `\n`, `\r`, `\t`, `\x1b`,
/// `\x7f`, `\u{85}` for C1 controls, and the Unicode direction overrides (`\u{202e}`), which
/// reorder what a terminal shows. Printable text, spaces and non-ASCII letters are unchanged.
pub fn escape_controls(text: &str) -> Cow<'_, str> {
    if !text.chars().any(needs_escape) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && needs_escape(c) => {
                out.push_str(&format!("\\x{:02x}", c as u32));
            }
            c if needs_escape(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// The gist of an error page or of a body that is not Cake's XML: the page's `<title>` when it
/// has one, otherwise its first non-empty line with the markup removed; whitespace collapsed.
/// Empty when there is nothing to show. Not escaped nor shortened: callers quote it through
/// their own excerpt, which does both.
pub fn page_summary(text: &str) -> String {
    let lower = text.to_ascii_lowercase();
    let title = lower.find("<title>").and_then(|s| {
        let from = s + "<title>".len();
        lower[from..]
            .find("</title>")
            .map(|e| &text[from..from + e])
    });
    if let Some(title) = title.map(collapse).filter(|t| !t.is_empty()) {
        return title;
    }
    // Markup: its tags go, and its references are read (`&apos;` is `'`, `&#62;` is `>`).
    let plain = if text.contains('<') {
        Cow::Owned(decode_references(&strip_tags(text)))
    } else {
        Cow::Borrowed(text)
    };
    plain
        .split(['\n', '\r'])
        .map(collapse)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
}

/// `s` with XML's named references and character references replaced by their characters;
/// anything else that starts with `&` is left as it is.
fn decode_references(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(at) = rest.find('&') {
        out.push_str(&rest[..at]);
        let tail = &rest[at + 1..];
        let end = tail.find(';').filter(|&e| e <= 10);
        let decoded = end.and_then(|e| {
            let name = &tail[..e];
            let c = match name {
                "amp" => Some('&'),
                "lt" => Some('<'),
                "gt" => Some('>'),
                "quot" => Some('"'),
                "apos" => Some('\''),
                _ => {
                    let n = name.strip_prefix('#')?;
                    let code = match n.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok(),
                        None => n.parse().ok(),
                    };
                    code.and_then(char::from_u32)
                }
            };
            c.map(|c| (c, e))
        });
        match decoded {
            Some((c, e)) => {
                out.push(c);
                rest = &tail[e + 1..];
            }
            None => {
                out.push('&');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

fn collapse(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `s` with every `<...>` tag replaced by a space.
fn strip_tags(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut in_tag = false;
    for c in s.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn needs_escape(c: char) -> bool {
    c.is_control() || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_become_visible() {
        let cases = [
            ("plain text, ünïcode €", "plain text, ünïcode €"),
            ("a\nerror: forged", "a\\nerror: forged"),
            ("\x1b]0;title\x07", "\\x1b]0;title\\x07"),
            ("cr\rlf\n\ttab", "cr\\rlf\\n\\ttab"),
            ("\x7f\u{85}\u{9b}", "\\x7f\\u{85}\\u{9b}"),
            ("abc\u{202e}fed", "abc\\u{202e}fed"),
        ];
        for (raw, shown) in cases {
            let out = escape_controls(raw);
            assert_eq!(out, shown);
            assert!(!out.chars().any(needs_escape), "{out:?}");
        }
        assert!(matches!(escape_controls("fine"), Cow::Borrowed(_)));
    }

    #[test]
    fn pages_are_summarized_by_title_or_first_line() {
        let cases = [
            (
                "<html><head><title> Runtime\n Error </title></head><body>x</body></html>",
                "Runtime Error",
            ),
            (
                "<HTML><TITLE>Service Unavailable</TITLE></HTML>",
                "Service Unavailable",
            ),
            (
                "<html><title></title><body>\n<h1>Bad   gateway</h1>\n</body>",
                "Bad gateway",
            ),
            (
                "\n\n  Missing parameter: x.\nsecond line\n",
                "Missing parameter: x.",
            ),
            ("a < b", "a"),
            // A SOAP fault's text, its references read.
            (
                "<soap:Reason><soap:Text>Server Error in &apos;/&apos; ---&gt; &#65;&#x42; &amp;c &unknown;</soap:Text></soap:Reason>",
                "Server Error in '/' ---> AB &c &unknown;",
            ),
            ("", ""),
            ("  \n \r\n", ""),
        ];
        for (page, gist) in cases {
            assert_eq!(page_summary(page), gist, "{page:?}");
        }
    }
}
