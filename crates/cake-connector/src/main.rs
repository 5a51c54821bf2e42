//! `cake-connector`: turns flags and config into validated plans and hands them to the
//! libraries. No logic a library user would need lives here.

use std::io::Write as _;
use std::process::ExitCode;

use clap::Parser;

mod args;
mod cli;
mod commands;
mod exit;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    let result = match &cli.command {
        cli::Command::Reports(a) => commands::catalog::reports(a),
        cli::Command::Describe(a) => commands::catalog::describe(a),
        cli::Command::Pull(a) => commands::pull::pull(a),
        cli::Command::Convert(a) => commands::convert::run(a),
        cli::Command::Sandbox(a) => commands::sandbox::run(a),
        cli::Command::Check(a) => commands::check::run(a),
        cli::Command::Demo(_) => Err(anyhow::anyhow!(
            "the demo pulls every report from the embedded sandbox through the HTTP transport \
             into Parquet; the sandbox, the transport and the sink are not built yet. \
             `cake-connector reports` lists the catalog meanwhile"
        )),
    };
    match result {
        Ok(text) => {
            let mut stdout = std::io::stdout().lock();
            // A closed pipe (`| head`) is not an error worth a message.
            let _ = stdout.write_all(text.as_bytes());
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(exit::code_for(&e))
        }
    }
}
