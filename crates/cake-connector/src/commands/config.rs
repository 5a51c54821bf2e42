//! `config`: a starter sync config, the check of one, and its JSON Schema.

use std::fmt::Write as _;

use crate::cli::ConfigCommand;
use crate::exit::{Result, UsageError};

pub fn run(command: &ConfigCommand) -> Result<String> {
    match command {
        ConfigCommand::Init => Ok(cake_pipeline::starter_config()),
        ConfigCommand::Schema => Ok(format!(
            "{}\n",
            crate::args::json(&cake_pipeline::config_schema())?
        )),
        ConfigCommand::Validate { file } => validate(file),
    }
}

/// The text of the config file at `path`, or what to do when it cannot be read.
pub fn read(path: &std::path::Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| {
        UsageError::new(format!(
            "cannot read the config {}: {e}; check the path (`cake-connector config init > \
             cake.toml` writes a starter file)",
            path.display()
        ))
        .into()
    })
}

/// The config read as `sync` reads it: the same errors (file, line, key), or what it would
/// pull, and where.
fn validate(file: &std::path::Path) -> Result<String> {
    let text = read(file)?;
    let plan = cake_pipeline::parse_config(&file.display().to_string(), &text)
        .map_err(|e| UsageError::new(e.to_string()))?;
    let output = &plan.config.output;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: valid: {} report(s) into {} ({}, {} windows, time zone {})",
        file.display(),
        plan.reports.len(),
        output.location,
        output.format,
        plan.window,
        plan.timezone
    );
    for r in &plan.reports {
        let options = r
            .options
            .chosen()
            .iter()
            .filter_map(|o| r.options.text(o.name).map(|v| format!("{} = {v}", o.key)))
            .collect::<Vec<_>>()
            .join(", ");
        let _ = writeln!(
            out,
            "  {:<28} {}{}",
            r.table,
            r.report.id,
            if options.is_empty() {
                String::new()
            } else {
                format!(" ({options})")
            }
        );
    }
    let instance = &plan.config.instance;
    if instance.api_key.is_some() {
        let _ = writeln!(
            out,
            "note: the file holds the API key; CAKE_API_KEY or CAKE_API_KEY_FILE keep it out \
             of files that get copied and committed"
        );
    }
    if instance.domain.is_none() && std::env::var_os("CAKE_DOMAIN").is_none() {
        let _ = writeln!(
            out,
            "note: no domain: set `domain` under [instance], CAKE_DOMAIN, or give --domain to \
             sync"
        );
    }
    if plan.reports.is_empty() {
        let _ = writeln!(
            out,
            "note: no [[report]] entry: sync would pull nothing (`config init` shows one)"
        );
    }
    Ok(out)
}
