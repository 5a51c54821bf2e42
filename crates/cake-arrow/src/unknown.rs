//! Elements the catalog does not know, counted by path within a fixed bound: however many
//! distinct names a server invents, what is kept and printed about them stays small.

use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Distinct paths listed; the occurrences of later ones are only counted.
pub const MAX_UNKNOWN_PATHS: usize = 100;

/// Unknown elements by path (`click/new_field`) with their counts, for the first
/// [`MAX_UNKNOWN_PATHS`] paths, and the occurrences of the others.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct UnknownElements {
    /// Occurrences by path, at most [`MAX_UNKNOWN_PATHS`] paths.
    pub listed: BTreeMap<String, u64>,
    /// Occurrences of paths beyond the listed ones.
    pub unlisted: u64,
}

impl UnknownElements {
    /// Counts `n` occurrences of `path`.
    pub fn add(&mut self, path: &str, n: u64) {
        if let Some(count) = self.listed.get_mut(path) {
            *count += n;
        } else if self.listed.len() < MAX_UNKNOWN_PATHS {
            self.listed.insert(path.to_string(), n);
        } else {
            self.unlisted += n;
        }
    }

    /// Adds everything `other` counted.
    pub fn merge(&mut self, other: &UnknownElements) {
        for (path, n) in &other.listed {
            self.add(path, *n);
        }
        self.unlisted += other.unlisted;
    }

    pub fn is_empty(&self) -> bool {
        self.listed.is_empty() && self.unlisted == 0
    }

    /// Occurrences in all.
    pub fn total(&self) -> u64 {
        self.listed.values().sum::<u64>() + self.unlisted
    }

    /// One line: the first `shown` paths with their counts, then how many more.
    /// `click/a (3), click/b (1) and 98 more paths (1,204 occurrences)`.
    pub fn describe(&self, shown: usize) -> String {
        let mut out = String::new();
        for (i, (path, n)) in self.listed.iter().take(shown).enumerate() {
            if i > 0 {
                out.push_str(", ");
            }
            let _ = write!(out, "{path} ({n})");
        }
        let hidden = self.listed.len().saturating_sub(shown);
        let hidden_count: u64 = self.listed.values().skip(shown).sum::<u64>() + self.unlisted;
        if hidden_count > 0 {
            let paths = if self.unlisted > 0 {
                format!("{hidden}+")
            } else {
                hidden.to_string()
            };
            let _ = write!(out, " and {paths} more paths ({hidden_count} occurrences)");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stays_bounded_whatever_is_merged() {
        let mut all = UnknownElements::default();
        for page in 0..50 {
            let mut one = UnknownElements::default();
            for i in 0..MAX_UNKNOWN_PATHS {
                one.add(&format!("row/p{page}_{i}"), 2);
            }
            all.merge(&one);
        }
        assert_eq!(all.listed.len(), MAX_UNKNOWN_PATHS);
        assert_eq!(all.total(), 50 * MAX_UNKNOWN_PATHS as u64 * 2);
        let line = all.describe(20);
        assert_eq!(line.matches(", ").count(), 19);
        assert!(
            line.ends_with("and 80+ more paths (9960 occurrences)"),
            "{line}"
        );
    }
}
