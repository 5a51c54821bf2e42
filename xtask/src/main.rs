//! Project automation: `cargo xtask <command>`.
//!
//! - `codegen [--check]`: report specs to `crates/cake-catalog/src/generated.rs` and
//!   `docs/reports.md`; with `--check`, fail when they are stale.
//! - `bench [NAME...]`: the benchmarks, which print their figures.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

mod bench;

use xtask::codegen;

const USAGE: &str = "usage: cargo xtask <command>

commands:
  codegen [--check]   regenerate the report catalog and docs/reports.md from the specs;
                      --check fails when the committed files are stale
  bench [NAME...]     run the benchmarks (decode, pull, transport) and print their figures";

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["codegen"] => codegen::run(&workspace_root(), codegen::Mode::Write),
        ["codegen", "--check"] => codegen::run(&workspace_root(), codegen::Mode::Check),
        ["bench", names @ ..] => bench::run(names),
        ["help" | "--help" | "-h"] | [] => {
            println!("{USAGE}");
            Ok(())
        }
        other => bail!("unknown arguments {other:?}\n\n{USAGE}"),
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("."))
}
