//! `check`.

use anyhow::{bail, Result};

use crate::cli::CheckArgs;

pub fn run(_args: &CheckArgs) -> Result<String> {
    bail!("`check` is not built yet")
}
