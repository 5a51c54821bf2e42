//! `sandbox`.

use anyhow::{bail, Result};

use crate::cli::SandboxArgs;

pub fn run(_args: &SandboxArgs) -> Result<String> {
    bail!("`sandbox` is not built yet")
}
