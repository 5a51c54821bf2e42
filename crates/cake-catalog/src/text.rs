//! Text from outside (a server's message, a value quoted in an error) made safe to print.
//!
//! Every layer that quotes foreign text in a message passes it through [`escape_controls`], so
//! nothing a server sends can move the cursor, clear the screen, set a terminal's title, ring
//! its bell or start a line that looks like the connector's own output.

use std::borrow::Cow;

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
}
