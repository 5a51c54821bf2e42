//! The embedded sandbox (a Cake-compatible server on 127.0.0.1) for examples and tests:
//! `cake_connector.sandbox(...)` wraps it in a context manager.

use std::time::Duration;

use cake_sandbox::{Faults, Hostile, SandboxConfig};
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::errors::usage;
use crate::options::Kwargs;
use crate::run::runtime;

/// A running sandbox.
#[pyclass(module = "cake_connector._native")]
pub struct Sandbox {
    inner: Option<cake_sandbox::Sandbox>,
    domain: String,
    api_key: String,
    today: String,
}

#[pymethods]
impl Sandbox {
    /// Starts a sandbox. Keywords: `seed`, `rows_per_day`, `today`, `api_key`, `latency_ms`,
    /// `error_rate`, `restricted_rate`, `reset_rate`, `truncate_rate`, `hostile` (a list of the
    /// command line's `--hostile` values) and `hostile_attempts`.
    #[new]
    #[pyo3(signature = (*, hostile = None, **kwargs))]
    fn new(
        py: Python<'_>,
        hostile: Option<Vec<String>>,
        kwargs: Option<&Bound<'_, PyDict>>,
    ) -> PyResult<Sandbox> {
        let mut kw = Kwargs::of(kwargs)?;
        let mut config = SandboxConfig::default();
        if let Some(seed) = kw.take_number("seed", "a number")? {
            config.seed = seed;
        }
        if let Some(rows) = kw.take_number("rows_per_day", "a number")? {
            config.rows_per_day = rows;
        }
        if let Some(key) = kw.take("api_key") {
            config.api_key = key;
        }
        if let Some(today) = kw.take("today") {
            config.today = cake_catalog::parse_date(&today)
                .map_err(|e| usage(format!("today={today:?}: {e}")))?;
        }
        let mut faults = Faults::default();
        if let Some(ms) = kw.take_number::<u64>("latency_ms", "a number")? {
            faults.latency = Duration::from_millis(ms);
        }
        for (key, rate) in [
            ("error_rate", &mut faults.error_rate),
            ("restricted_rate", &mut faults.restricted_rate),
            ("reset_rate", &mut faults.reset_rate),
            ("truncate_rate", &mut faults.truncate_rate),
        ] {
            if let Some(r) = kw.take_number(key, "a number")? {
                *rate = r;
            }
        }
        for h in hostile.unwrap_or_default() {
            faults.hostile.push(
                h.parse::<Hostile>()
                    .map_err(|e| usage(format!("hostile {h:?}: {e}")))?,
            );
        }
        if let Some(n) = kw.take_number("hostile_attempts", "a number")? {
            faults.hostile_attempts = n;
        }
        faults.validate().map_err(|e| usage(e.to_string()))?;
        if let Some(key) = kw.take_any() {
            return Err(usage(format!(
                "unknown sandbox setting `{key}`: the settings are seed, rows_per_day, today, \
                 api_key, latency_ms, error_rate, restricted_rate, reset_rate, truncate_rate, \
                 hostile, hostile_attempts"
            )));
        }
        config.faults = faults;
        let today = config.today.to_string();
        let rt = runtime()?;
        let inner = py
            .detach(|| rt.block_on(cake_sandbox::Sandbox::start(config)))
            .map_err(|e| usage(format!("cannot start the sandbox on 127.0.0.1: {e}")))?;
        Ok(Sandbox {
            domain: inner.url(),
            api_key: inner.api_key().to_string(),
            today,
            inner: Some(inner),
        })
    }

    /// `http://127.0.0.1:PORT`, to give as `domain=`.
    #[getter]
    fn domain(&self) -> String {
        self.domain.clone()
    }

    /// The only key the sandbox accepts.
    #[getter]
    fn api_key(&self) -> String {
        self.api_key.clone()
    }

    /// The sandbox's today (a `datetime.date`): dated rows exist up to and including it.
    #[getter]
    fn today<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        py.import("datetime")?
            .getattr("date")?
            .call_method1("fromisoformat", (self.today.as_str(),))
    }

    /// Requests the sandbox has answered.
    #[getter]
    fn requests(&self) -> u64 {
        self.inner.as_ref().map_or(0, |s| s.stats().requests)
    }

    /// Stops the sandbox.
    fn stop(&mut self, py: Python<'_>) -> PyResult<()> {
        if let Some(inner) = self.inner.take() {
            let rt = runtime()?;
            py.detach(|| rt.block_on(inner.shutdown()));
        }
        Ok(())
    }
}
