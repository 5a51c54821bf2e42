//! `cake-connector`: turns flags and config into validated plans and hands them to the
//! libraries. No logic a library user would need lives here.

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

mod args;
mod cli;
mod commands;
mod exit;
mod fit;
mod logging;
mod progress;
mod signals;

/// The async runtime of the commands that talk to the network.
pub(crate) fn runtime() -> exit::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| exit::failure(cake_core::failure::Class::Internal, e))
}

/// The command line, parsed; help and errors are wrapped at the terminal's width like every
/// other line (80 columns when not a terminal).
fn parse() -> cli::Cli {
    let width = fit::columns();
    let matches = cli::Cli::command()
        .term_width(width)
        .try_get_matches()
        .and_then(|m| cli::Cli::from_arg_matches(&m));
    match matches {
        Ok(cli) => cli,
        Err(e) => {
            let text = e.render().to_string();
            if e.use_stderr() {
                logging::eprint(&text);
            } else {
                logging::print(&text);
            }
            std::process::exit(e.exit_code());
        }
    }
}

fn main() -> ExitCode {
    let cli = parse();
    logging::init(&cli.log);
    // The key is registered before anything can echo it (a key pasted into --domain, say).
    let key = match &cli.command {
        cli::Command::Pull(a) => Some(&a.connection.instance.key),
        cli::Command::Check(a) => Some(&a.instance.key),
        cli::Command::Sync(a) => Some(&a.instance.key),
        cli::Command::Verify(a) => Some(&a.instance.key),
        _ => None,
    };
    if let Some(key) = key.and_then(|k| k.api_key.as_deref()) {
        logging::add_secret(key);
    }
    let result = match &cli.command {
        cli::Command::Reports(a) => commands::catalog::reports(a),
        cli::Command::Describe(a) => commands::catalog::describe(a),
        cli::Command::Pull(a) => commands::pull::run(a),
        cli::Command::Convert(a) => commands::convert::run(a),
        cli::Command::Sandbox(a) => commands::sandbox::run(a),
        cli::Command::Check(a) => commands::check::run(a),
        cli::Command::Sync(a) => commands::sync::run(a),
        cli::Command::Verify(a) => commands::verify::run(a),
        cli::Command::Status(a) => commands::status::run(a),
        cli::Command::Completions(a) => commands::catalog::completions(a),
        cli::Command::Man => commands::catalog::man(),
        cli::Command::Demo(a) => commands::demo::run(a),
        cli::Command::Airbyte(a) => commands::platforms::airbyte(a),
        cli::Command::Singer(a) => commands::platforms::singer(a),
        cli::Command::Config(c) => commands::config::run(c),
    };
    match result {
        Ok(text) => {
            // Text for people is wrapped at the terminal's width; what programs read (JSON,
            // completion scripts, the manual page, protocol messages, a config file) is not.
            let machine = matches!(
                cli.command,
                cli::Command::Completions(_)
                    | cli::Command::Man
                    | cli::Command::Airbyte(_)
                    | cli::Command::Singer(_)
                    | cli::Command::Config(cli::ConfigCommand::Init)
            );
            if machine {
                logging::print_raw(&text);
            } else {
                logging::print(&text);
            }
            ExitCode::from(exit::OK)
        }
        Err(e) => {
            // One line: the error and its causes, with any line end inside them escaped.
            let message = exit::chain(&e).replace('\n', "\\n");
            logging::line(logging::Line::Error, &format!("error: {message}"));
            let code = exit::code(e.class());
            if let Some(hint) = exit::hint(&e) {
                logging::line(logging::Line::Hint, &format!("hint: {hint}"));
            }
            ExitCode::from(code)
        }
    }
}
