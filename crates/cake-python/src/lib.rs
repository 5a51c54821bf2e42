//! `cake_connector._native`: the connector's library for Python. The module only turns keyword
//! arguments into validated plans, clients and sinks (`options.rs`), runs the library's jobs on
//! one runtime with the GIL released (`run.rs`), hands Arrow data over without a copy
//! (`stream.rs`), and raises the exception of each failure's class (`errors.rs`). The Python
//! package around it (`python/cake_connector`) adds the exception types, iteration with pyarrow,
//! the dlt source and the Spark data source.

mod errors;
mod options;
mod run;
mod sandbox;
mod stream;

use std::path::PathBuf;
use std::sync::Arc;

use cake_catalog::REPORTS;
use cake_pipeline::{Cancel, PullOptions, ReadOptions};
use cake_sink::{Format, Sink, SinkOptions, WriteMode};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use serde::Serialize;

use crate::errors::{usage, OrRaise};
use crate::options::{Job, Kwargs};

/// A serializable value as Python objects (through JSON: dicts, lists, str, int, float, bool,
/// None).
pub(crate) fn to_python<'py>(
    py: Python<'py>,
    value: &impl Serialize,
) -> PyResult<Bound<'py, PyAny>> {
    let text = serde_json::to_string(value).map_err(|e| {
        errors::exception(
            py,
            cake_core::failure::Class::Internal,
            format!("cannot describe the result: {e}"),
        )
    })?;
    py.import("json")?.call_method1("loads", (text,))
}

/// Every report of the catalog, as `reports --json` lists them.
#[pyfunction]
fn reports(py: Python<'_>) -> PyResult<Bound<'_, PyAny>> {
    let list: Vec<_> = REPORTS
        .iter()
        .map(|r| cake_pipeline::describe::report_json(r))
        .collect();
    to_python(py, &list)
}

/// One report, as `describe REPORT --json` gives it.
#[pyfunction]
fn describe<'py>(py: Python<'py>, report: &str) -> PyResult<Bound<'py, PyAny>> {
    let r = options::report(report)?;
    to_python(py, &cake_pipeline::describe::describe_json(r))
}

/// The schema of a report's batches and tables.
#[pyfunction]
fn schema(report: &str) -> PyResult<stream::Schema> {
    let r = options::report(report)?;
    Ok(stream::Schema {
        schema: Arc::new(r.arrow_schema()),
    })
}

/// The windows of a plan, each with the keyword arguments that read it alone.
#[pyfunction]
#[pyo3(signature = (report, **kwargs))]
fn plan<'py>(
    py: Python<'py>,
    report: &str,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let job = Job::new(report, Kwargs::of(kwargs)?, &["domain", "api_key"])?;
    let windows: Vec<serde_json::Value> = job
        .plan
        .requests
        .iter()
        .enumerate()
        .map(|(index, request)| {
            serde_json::json!({
                "index": index,
                "start": request.window.map(|w| w.start().to_string()),
                "end": request.window.map(|w| w.end().to_string()),
                "partition": cake_pipeline::partition_of(&job.plan, request.window),
                "options": job.window_kwargs(index),
            })
        })
        .collect();
    to_python(py, &windows)
}

/// The connection keywords every job that talks to Cake needs.
fn connection(kwargs: &mut Kwargs) -> PyResult<(String, String)> {
    let domain = kwargs
        .take("domain")
        .ok_or_else(|| usage("domain= is required: your instance's name, host or https:// URL"))?;
    let key = kwargs
        .take("api_key")
        .ok_or_else(|| usage("api_key= is required: the instance's API key"))?;
    Ok((domain, key))
}

/// Starts reading a report: a stream of checked windows' batches.
#[pyfunction]
#[pyo3(signature = (report, **kwargs))]
fn read(report: &str, kwargs: Option<&Bound<'_, PyDict>>) -> PyResult<stream::Reader> {
    let mut kwargs = Kwargs::of(kwargs)?;
    let (domain, key) = connection(&mut kwargs)?;
    let job = Job::new(report, kwargs, &[])?;
    let client = job.client(&domain, &key)?;
    let options = ReadOptions {
        decoder: job.decoder(),
        windows_in_flight: job.concurrency,
        cancel: Cancel::new(),
        ..ReadOptions::default()
    };
    stream::Reader::start(client, job.plan, options)
}

/// Pulls a report into a table, as the command line's `pull` does.
#[pyfunction]
#[pyo3(signature = (report, **kwargs))]
fn pull<'py>(
    py: Python<'py>,
    report: &str,
    kwargs: Option<&Bound<'py, PyDict>>,
) -> PyResult<Bound<'py, PyAny>> {
    let mut kwargs = Kwargs::of(kwargs)?;
    let (domain, key) = connection(&mut kwargs)?;
    let out = kwargs
        .take("out")
        .ok_or_else(|| usage("out= is required: a directory or s3://bucket/prefix"))?;
    let format: Format = kwargs
        .take("format")
        .unwrap_or_else(|| "parquet".into())
        .parse()
        .map_err(usage)?;
    let mode: WriteMode = kwargs
        .take("mode")
        .unwrap_or_else(|| "replace".into())
        .parse()
        .map_err(usage)?;
    let table = kwargs.take("table");
    if let Some(t) = &table {
        if !cake_pipeline::valid_table_name(t) {
            return Err(usage(format!(
                "table={t:?}: use letters, digits, `-` and `_`, not starting with `_` or `.`"
            )));
        }
    }
    let job = Job::new(report, kwargs, &[])?;
    let client = job.client(&domain, &key)?;
    let sink = Sink::open(
        &out,
        SinkOptions {
            format,
            ..SinkOptions::default()
        },
    )
    .or_raise()?;
    let cancel = Cancel::new();
    let options = PullOptions {
        mode,
        decoder: job.decoder(),
        windows_in_flight: job.concurrency,
        table,
        cancel: cancel.clone(),
        ..PullOptions::default()
    };
    let plan = job.plan;
    let result = run::wait(py, &cancel, move || async move {
        cake_pipeline::pull(&client, &plan, &sink, &options, &|_| {}).await
    })?;
    to_python(py, &result.or_raise()?)
}

/// Runs a sync config, as the command line's `sync --config FILE` does.
#[pyfunction]
#[pyo3(signature = (config_path, *, api_key = None, domain = None, full_refresh = false))]
fn sync<'py>(
    py: Python<'py>,
    config_path: PathBuf,
    api_key: Option<String>,
    domain: Option<String>,
    full_refresh: bool,
) -> PyResult<Bound<'py, PyAny>> {
    let name = config_path.display().to_string();
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| usage(format!("cannot read the config {name}: {e}")))?;
    let plan = cake_pipeline::parse_config(&name, &text).map_err(|e| usage(e.to_string()))?;
    let instance = &plan.config.instance;
    let key = api_key
        .or_else(|| instance.api_key.clone())
        .or_else(|| std::env::var("CAKE_API_KEY").ok())
        .ok_or_else(|| {
            usage("no API key: give api_key=, set CAKE_API_KEY, or put it in the config")
        })?;
    let domain = domain
        .or_else(|| instance.domain.clone())
        .or_else(|| std::env::var("CAKE_DOMAIN").ok())
        .ok_or_else(|| {
            usage("no domain: give domain=, set CAKE_DOMAIN, or put it in the config")
        })?;
    let mut client_options = cake_transport::ClientOptions {
        concurrency: instance.concurrency.unwrap_or(4).max(1),
        requests_per_minute: instance.requests_per_minute,
        ..cake_transport::ClientOptions::default()
    };
    if let Some(p) = plan.protocol {
        client_options.protocol = p;
    }
    let client = options::client(&domain, &key, instance.allow_insecure_http, client_options)?;
    let output = &plan.config.output;
    let sink = Sink::open(
        &output.location,
        SinkOptions {
            format: output.format,
            ..SinkOptions::default()
        },
    )
    .or_raise()?;
    let cancel = Cancel::new();
    let options = PullOptions {
        keep_raw: output.keep_raw,
        decoder: output.decoder(plan.timezone),
        windows_in_flight: instance.concurrency.unwrap_or(4).max(1),
        cancel: cancel.clone(),
        ..PullOptions::default()
    };
    let run = run::wait(py, &cancel, move || async move {
        let run = cake_pipeline::sync(
            &client,
            &sink,
            &plan,
            full_refresh,
            chrono::Utc::now(),
            &options,
            false,
        )
        .await;
        let reports: Vec<serde_json::Value> = run
            .synced
            .iter()
            .map(|s| {
                serde_json::json!({
                    "report": s.pull.report,
                    "table": s.pull.table,
                    "status": "ok",
                    "covered": s.covered,
                    "rows": s.pull.rows,
                    "windows": s.pull.windows.len(),
                    "summary": s.pull,
                })
            })
            .collect();
        (reports, run.skipped.clone(), run.into_result().err())
    })?;
    let (reports, skipped, failure) = run;
    if let Some(e) = failure {
        return Err(errors::raise(e));
    }
    to_python(
        py,
        &serde_json::json!({ "reports": reports, "skipped": skipped }),
    )
}

/// Converts saved responses of a report into one Parquet file, as the command line's `convert`
/// does.
#[pyfunction]
#[pyo3(signature = (report, input, *, out, timezone = None))]
fn convert<'py>(
    py: Python<'py>,
    report: &str,
    input: PathBuf,
    out: PathBuf,
    timezone: Option<String>,
) -> PyResult<Bound<'py, PyAny>> {
    let r = options::report(report)?;
    let tz_name = timezone.unwrap_or_else(|| "UTC".into());
    let tz = cake_catalog::parse_timezone(&tz_name).or_raise()?;
    let decoder = cake_arrow::DecoderOptions {
        timezone: tz,
        ..cake_arrow::DecoderOptions::default()
    };
    let source = input
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let metadata = cake_pipeline::metadata::convert_metadata(r, &tz_name, &[source]);
    let summary = py.detach(|| -> Result<_, ConvertFailure> {
        let mut file = cake_sink::ParquetFile::create(
            &out,
            cake_arrow::schema(r),
            cake_sink::WriteOptions {
                metadata,
                ..cake_sink::WriteOptions::default()
            },
        )?;
        let summary = cake_pipeline::convert_file(r, decoder, &input, &mut file)?;
        file.finish()?;
        Ok(summary)
    });
    let summary = summary.map_err(|e| match e {
        ConvertFailure::Sink(e) => errors::raise(e),
        ConvertFailure::Convert(e) => errors::raise(*e),
    })?;
    to_python(
        py,
        &serde_json::json!({
            "report": r.id,
            "file": out.display().to_string(),
            "rows": summary.rows,
            "row_count": summary.envelope.row_count,
            "rejected": summary.rejected,
            "stripped_control_chars": summary.stripped_control_chars,
            "layout": summary.layout,
        }),
    )
}

/// The two failures of a conversion.
enum ConvertFailure {
    Sink(cake_sink::SinkError),
    Convert(Box<cake_pipeline::ConvertError>),
}

impl From<cake_sink::SinkError> for ConvertFailure {
    fn from(e: cake_sink::SinkError) -> Self {
        ConvertFailure::Sink(e)
    }
}

impl From<cake_pipeline::ConvertError> for ConvertFailure {
    fn from(e: cake_pipeline::ConvertError) -> Self {
        ConvertFailure::Convert(Box::new(e))
    }
}

#[pymodule]
#[pyo3(name = "_native")]
fn native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(reports, m)?)?;
    m.add_function(wrap_pyfunction!(describe, m)?)?;
    m.add_function(wrap_pyfunction!(schema, m)?)?;
    m.add_function(wrap_pyfunction!(plan, m)?)?;
    m.add_function(wrap_pyfunction!(read, m)?)?;
    m.add_function(wrap_pyfunction!(pull, m)?)?;
    m.add_function(wrap_pyfunction!(sync, m)?)?;
    m.add_function(wrap_pyfunction!(convert, m)?)?;
    m.add_class::<stream::Reader>()?;
    m.add_class::<stream::Schema>()?;
    m.add_class::<sandbox::Sandbox>()?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
