//! `airbyte` and `singer`: the connector as a source of Airbyte and a Singer tap. Messages are
//! JSON lines on stdout, scrubbed of the key like every line the binary prints; the work is
//! `cake_pipeline::protocol`'s.

use std::collections::BTreeMap;

use cake_pipeline::protocol::{self, airbyte, singer, Emit, Selected, SourceConfig};
use cake_pipeline::{Cancel, Classify, PipelineError};
use serde_json::Value;

use crate::cli::{AirbyteArgs, AirbyteCommand, AirbyteFiles, InstanceArgs, SingerArgs};
use crate::exit::{Failed, Result};
use cake_pipeline::Failure;

/// One message, one line.
fn emit(message: &Value) {
    crate::logging::print_raw(&format!("{message}\n"));
}

fn read_file(path: &std::path::Path, what: &str) -> std::result::Result<String, PipelineError> {
    // One mapping: `PipelineError::Io` speaks of writing, and a file the platform passes is
    // read.
    std::fs::read_to_string(path).map_err(|e| {
        PipelineError::Config(format!("cannot read the {what} {}: {e}", path.display()))
    })
}

/// The configuration (its key registered with the scrubber first) and a client for it.
fn connect(
    files_config: &std::path::Path,
) -> std::result::Result<(SourceConfig, cake_transport::Client), Failure> {
    let text = read_file(files_config, "configuration")?;
    // The key is scrubbed from every line before anything can print it.
    if let Ok(v) = serde_json::from_str::<Value>(&text) {
        if let Some(key) = v["api_key"].as_str() {
            crate::logging::add_secret(key);
        }
    }
    let config = SourceConfig::parse(&text)?;
    let instance = InstanceArgs {
        domain: Some(config.domain.clone()),
        allow_insecure_http: config.allow_insecure_http,
        protocol: config.protocol.clone(),
        ..InstanceArgs::default()
    };
    let options = cake_transport::ClientOptions {
        concurrency: config.concurrency.unwrap_or(4).max(1),
        ..cake_transport::ClientOptions::default()
    };
    let client = crate::args::client(&instance, config.api_key.clone(), options)?;
    Ok((config, client))
}

pub fn airbyte(args: &AirbyteArgs) -> Result<String> {
    match &args.command {
        AirbyteCommand::Spec => emit(&airbyte::spec()),
        AirbyteCommand::Discover(_) => emit(&airbyte::catalog()),
        AirbyteCommand::Check(files) => {
            // The protocol wants the verdict as a message and exit 0 either way.
            let verdict = connect(&files.config).and_then(|(_, client)| {
                let runtime = crate::runtime()?;
                runtime.block_on(cake_pipeline::check(&client, &std::env::temp_dir()))?;
                Ok(())
            });
            emit(&airbyte::connection_status(
                verdict.map_err(|e| crate::exit::chain(&e)),
            ));
        }
        AirbyteCommand::Read(files) => return airbyte_read(files),
    }
    Ok(String::new())
}

fn airbyte_read(files: &AirbyteFiles) -> Result<String> {
    let outcome = (|| {
        let (config, client) = connect(&files.config)?;
        let catalog = files
            .catalog
            .as_deref()
            .ok_or_else(|| PipelineError::Config("read needs --catalog FILE".into()))?;
        let selected = airbyte::selected(&read_file(catalog, "catalog")?)?;
        let states = match &files.state {
            Some(path) => airbyte::states(&read_file(path, "state")?)?,
            None => BTreeMap::new(),
        };
        let out = airbyte::AirbyteEmit { out: emit };
        run_read(&client, &config, &selected, &states, &out)
    })();
    match outcome {
        Ok(failures) => report_failures(failures, |message, stream| {
            emit(&airbyte::trace_error(message, false, stream))
        }),
        Err(e) => {
            let message = crate::exit::chain(&e);
            emit(&airbyte::trace_error(
                &message,
                e.class() == cake_pipeline::Class::Usage,
                None,
            ));
            Err(e)
        }
    }
}

pub fn singer(args: &SingerArgs) -> Result<String> {
    if args.discover {
        return Ok(format!("{}\n", crate::args::json(&singer::catalog())?));
    }
    let (config, client) = connect(&args.config)?;
    let catalog = match &args.catalog {
        Some(path) => Some(read_file(path, "catalog")?),
        None => None,
    };
    let selected = singer::selected(catalog.as_deref())?;
    let states = match &args.state {
        Some(path) => singer::states(&read_file(path, "state")?)?,
        None => BTreeMap::new(),
    };
    for s in &selected {
        emit(&singer::schema_message(s.report));
    }
    let out = singer::SingerEmit::new(emit, &states);
    let failures = run_read(&client, &config, &selected, &states, &out)?;
    report_failures(failures, |message, stream| {
        crate::logging::eprint(&format!(
            "error: {}: {message}\n",
            stream.unwrap_or("the tap")
        ))
    })
}

/// Reads on a runtime of the binary's, stoppable by SIGINT/SIGTERM.
fn run_read(
    client: &cake_transport::Client,
    config: &SourceConfig,
    selected: &[Selected],
    states: &BTreeMap<String, cake_pipeline::protocol::ReportState>,
    out: &dyn Emit,
) -> std::result::Result<Vec<(&'static cake_catalog::Report, PipelineError)>, Failure> {
    let runtime = crate::runtime()?;
    let cancel = Cancel::new();
    Ok(runtime.block_on(async {
        tokio::spawn(crate::signals::watch(cancel.clone()));
        protocol::read(
            client,
            config,
            selected,
            states,
            out,
            cancel,
            chrono::Utc::now(),
        )
        .await
    })?)
}

/// Every stream that failed, told through `tell`; the first failure is the command's error.
fn report_failures(
    failures: Vec<(&'static cake_catalog::Report, PipelineError)>,
    tell: impl Fn(&str, Option<&str>),
) -> Result<String> {
    let mut first = None;
    for (report, error) in failures {
        tell(&crate::exit::chain(&error), Some(report.id));
        first.get_or_insert((report, error.class()));
    }
    match first {
        None => Ok(String::new()),
        Some((report, class)) => Err(Failed::new(
            class,
            format!(
                "the stream {} failed (its TRACE message says why)",
                report.id
            ),
        )
        .into()),
    }
}
