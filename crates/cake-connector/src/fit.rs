//! Text that fits the terminal: every table and paragraph the binary prints is at most 80
//! columns wide (`WIDTH`), long values wrapped with a hanging indent or cut with an ellipsis.

use std::fmt::Write as _;

/// The widest line the binary prints in its tables and descriptions.
pub const WIDTH: usize = 80;

/// `text` in lines of at most `width` characters, cut at spaces (a longer word is cut).
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let width = width.max(1);
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        let word = short(word, width);
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// The width the binary's lines wrap at: the terminal's when stderr is one, else `COLUMNS`
/// when set, else [`WIDTH`]; never under 40.
pub fn columns() -> usize {
    static COLUMNS: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *COLUMNS.get_or_init(measure_columns)
}

/// [`columns`], measured once per process (every printed line asks).
fn measure_columns() -> usize {
    use std::io::IsTerminal as _;
    let terminal = std::io::stderr()
        .is_terminal()
        .then(|| terminal_size::terminal_size_of(std::io::stderr()))
        .flatten()
        .map(|(w, _)| usize::from(w.0));
    let set = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse().ok());
    terminal.or(set).unwrap_or(WIDTH).max(40)
}

/// `text` with every line longer than `width` wrapped at spaces, continuation lines indented
/// by the line's own indent plus two spaces. Nothing is lost: a word longer than a line is
/// split across lines, every character kept.
pub fn fold(text: &str, width: usize) -> String {
    let width = width.max(8);
    let mut out = String::with_capacity(text.len() + text.len() / width * 4);
    for line in text.split_inclusive('\n') {
        let (body, end) = match line.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (line, ""),
        };
        if body.chars().count() <= width {
            out.push_str(line);
            continue;
        }
        let lead = body.len() - body.trim_start_matches(' ').len();
        let indent = " ".repeat((lead + 2).min(width / 2));
        let mut current = " ".repeat(lead.min(width / 2));
        let mut empty = true;
        for word in body[lead..].split(' ').filter(|w| !w.is_empty()) {
            let mut word: Vec<char> = word.chars().collect();
            while !word.is_empty() {
                let used = current.chars().count();
                let sep = usize::from(!empty);
                if used + sep + word.len() <= width {
                    if !empty {
                        current.push(' ');
                    }
                    current.extend(word.drain(..));
                    empty = false;
                    continue;
                }
                if empty {
                    // Alone on its line and still too long: the part that fits.
                    current.extend(word.drain(..width - used));
                }
                out.push_str(&current);
                out.push('\n');
                current.clone_from(&indent);
                empty = true;
            }
        }
        if !empty {
            out.push_str(&current);
        }
        out.push_str(end);
    }
    out
}

/// `text` cut to `width` characters, with an ellipsis when cut.
pub fn short(text: &str, width: usize) -> String {
    if text.chars().count() <= width {
        return text.to_string();
    }
    let mut out: String = text.chars().take(width.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// Appends `prefix` followed by `text` wrapped to [`WIDTH`], continuation lines indented to
/// the prefix's width. When the prefix leaves less than `min` columns, or too few for the
/// longest word of `text` (a path is never cut when it can fit), `text` starts on the next
/// line, indented by `fallback`.
pub fn hanging(out: &mut String, prefix: &str, text: &str, min: usize, fallback: usize) {
    let used = prefix.chars().count();
    let longest = text
        .split_whitespace()
        .map(|w| w.chars().count())
        .max()
        .unwrap_or(0);
    let (first, indent) = if used + min.max(longest) <= WIDTH {
        (prefix.to_string(), used)
    } else {
        let _ = writeln!(out, "{}", prefix.trim_end());
        (" ".repeat(fallback), fallback)
    };
    let lines = wrap(text, WIDTH - indent);
    if lines.is_empty() {
        let _ = writeln!(out, "{}", first.trim_end());
        return;
    }
    for (i, line) in lines.iter().enumerate() {
        if i == 0 {
            let _ = writeln!(out, "{first}{line}");
        } else {
            let _ = writeln!(out, "{}{line}", " ".repeat(indent));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folded_lines_fit_and_keep_every_character() {
        let path = "/".to_string() + &"segment/".repeat(20);
        let text = format!(
            "error: cannot write {path}file.parquet: the disk is full; free space or \
             point --out elsewhere and run again\nshort\n    an indented line that is far \
             too long to fit in forty columns of text\n"
        );
        for width in [40, 80] {
            let folded = fold(&text, width);
            assert!(
                folded.lines().all(|l| l.chars().count() <= width),
                "{folded}"
            );
            let squeeze = |t: &str| t.split_whitespace().collect::<String>();
            assert_eq!(squeeze(&folded), squeeze(&text));
            assert!(folded.ends_with('\n'));
            assert!(folded.lines().any(|l| l == "short"));
            // Continuation lines are indented under their line (the indented line is 74
            // characters: at 80 columns it stays whole).
            let after = folded
                .lines()
                .skip_while(|l| !l.starts_with("    an"))
                .nth(1);
            if width < 74 {
                assert!(after.is_some_and(|l| l.starts_with("      ")), "{folded}");
            } else {
                assert!(folded.contains("    an indented line that is far too long"));
            }
        }
        assert_eq!(fold("fits\n", 80), "fits\n");
        assert_eq!(fold("one two three", 8), "one two\n  three");
    }

    #[test]
    fn hanging_text_fits_and_keeps_every_word() {
        let text = "one two three four five six seven eight nine ten eleven twelve thirteen \
                    fourteen fifteen sixteen seventeen eighteen nineteen twenty";
        let mut out = String::new();
        hanging(&mut out, "Notes:     ", text, 20, 4);
        assert!(out.lines().all(|l| l.chars().count() <= WIDTH), "{out}");
        assert!(out.lines().skip(1).all(|l| l.starts_with("           ")));
        let words: Vec<&str> = out.split_whitespace().skip(1).collect();
        assert_eq!(
            words.join(" "),
            text.split_whitespace().collect::<Vec<_>>().join(" ")
        );
        // A prefix too wide for the text: the text goes below it.
        let mut out = String::new();
        hanging(
            &mut out,
            &format!("  {:<70} ", "a_long_name"),
            "some path here",
            20,
            6,
        );
        assert_eq!(out, "  a_long_name\n      some path here\n");
        // A word that fits below but not beside: below, whole.
        let path = "a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q/r/s/t/u/v/w/x/y/z/a/b/c/d";
        let mut out = String::new();
        hanging(&mut out, &format!("  {:<40} ", "name"), path, 16, 6);
        assert_eq!(out, format!("  name\n      {path}\n"));
    }
}
