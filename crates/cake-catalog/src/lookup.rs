//! Finding a report by id or display name.

use crate::model::Report;
use crate::REPORTS;

/// A report name that matches nothing, with the closest names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown report `{name}`{}; `cake-connector reports` lists them all", suggestion(.suggestions))]
pub struct UnknownReport {
    pub name: String,
    /// Ids of the closest reports, best first.
    pub suggestions: Vec<&'static str>,
}

impl cake_core::failure::Classify for UnknownReport {
    fn class(&self) -> cake_core::failure::Class {
        cake_core::failure::Class::Usage
    }
}

fn suggestion(s: &[&str]) -> String {
    if s.is_empty() {
        String::new()
    } else {
        format!(" (did you mean {}?)", s.join(" or "))
    }
}

/// Lowercase, with spaces, underscores and hyphens alike: "Campaigns Summary",
/// "campaigns_summary" and "campaigns-summary" are the same name.
fn normalize(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for word in s
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('-');
        }
        out.push_str(&word.to_lowercase());
    }
    out
}

/// Finds a report by id (`campaigns-summary`) or display name (`Campaigns Summary`),
/// case-insensitively.
pub fn find(name: &str) -> Result<&'static Report, UnknownReport> {
    let wanted = normalize(name);
    if let Some(r) = REPORTS
        .iter()
        .copied()
        .find(|r| r.id == wanted || normalize(r.name) == wanted)
    {
        return Ok(r);
    }
    let mut scored: Vec<(f64, &'static str)> = REPORTS
        .iter()
        .map(|r| {
            let id_score = strsim::normalized_damerau_levenshtein(&wanted, r.id);
            let contains = !wanted.is_empty() && (r.id.contains(&wanted) || wanted.contains(r.id));
            (
                if contains {
                    id_score.max(0.75)
                } else {
                    id_score
                },
                r.id,
            )
        })
        .filter(|(score, _)| *score >= 0.5)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(b.1)));
    Err(UnknownReport {
        name: name.to_string(),
        suggestions: scored.into_iter().take(3).map(|(_, id)| id).collect(),
    })
}
