//! `convert`.

use anyhow::{bail, Result};

use crate::cli::ConvertArgs;

pub fn run(_args: &ConvertArgs) -> Result<String> {
    bail!("`convert` is not built yet")
}
