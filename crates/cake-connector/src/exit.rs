//! Exit codes. Each failure class has its own code so that schedulers can tell them apart.

use std::fmt;

/// Success.
pub const OK: u8 = 0;
/// A failure not covered below.
pub const FAILURE: u8 = 1;
/// Bad command line, options or configuration: nothing was sent or written.
pub const USAGE: u8 = 2;

/// An error the user fixes by changing the command: exits with [`USAGE`].
#[derive(Debug)]
pub struct UsageError(String);

impl UsageError {
    pub fn new(message: impl Into<String>) -> UsageError {
        UsageError(message.into())
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

macro_rules! usage_from {
    ($($t:ty),*) => {$(
        impl From<$t> for UsageError {
            fn from(e: $t) -> UsageError {
                UsageError(e.to_string())
            }
        }
    )*};
}

usage_from!(
    cake_catalog::ParseError,
    cake_catalog::PlanError,
    cake_catalog::UnknownReport
);

/// The exit code for an error: the most specific class found in its chain.
pub fn code_for(error: &anyhow::Error) -> u8 {
    for cause in error.chain() {
        if cause.downcast_ref::<UsageError>().is_some() {
            return USAGE;
        }
    }
    FAILURE
}
