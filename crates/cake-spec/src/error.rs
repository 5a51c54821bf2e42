//! What can be wrong with a spec file or the options table.

use std::path::PathBuf;

/// A spec file or the options table that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    #[error("cannot read {}: {source}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{}: not a valid spec file: {source}", path.display())]
    Toml {
        path: PathBuf,
        #[source]
        source: toml::de::Error,
    },

    /// A rule of the format is broken. The rule is a sentence that names the field and says
    /// what it must be, so the message is text rather than a typed source.
    #[error("{}: {rule}", path.display())]
    Invalid { path: PathBuf, rule: String },
}

/// The result of a check: `Err` holds the rule that is broken.
pub(crate) type Checked = Result<(), String>;

/// `Err(rule)` unless `cond`.
macro_rules! require {
    ($cond:expr, $($rule:tt)+) => {
        if !$cond {
            return Err(format!($($rule)+));
        }
    };
}
pub(crate) use require;
