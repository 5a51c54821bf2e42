//! Failures as Python exceptions: one table over the workspace's one classification
//! ([`Class`]); the exception types themselves are defined in `cake_connector/errors.py`.

use cake_core::failure::{chain, Class, Classify};
use pyo3::prelude::*;
use pyo3::types::PyAnyMethods;

/// The exception type of each class, by its name in `cake_connector.errors`.
pub fn exception_name(class: Class) -> &'static str {
    match class {
        Class::Usage => "ConfigError",
        Class::Authentication => "AuthError",
        Class::UnknownHost => "UnknownHostError",
        Class::Connection => "ConnectError",
        Class::Tls => "TlsError",
        Class::Timeout => "CakeTimeoutError",
        Class::NotCake => "NotCakeError",
        Class::Inconsistent => "IncompleteWindowError",
        Class::Rejected | Class::Unclassified => "RejectedError",
        Class::Unavailable => "ThrottledError",
        Class::Drift => "DriftError",
        Class::Output => "OutputError",
        Class::Interrupted => "StoppedError",
        _ => "InternalError",
    }
}

/// The exception of `class` with `message` (the command line's message for the same failure).
pub fn exception(py: Python<'_>, class: Class, message: String) -> PyErr {
    let made = (|| -> PyResult<PyErr> {
        let module = py.import("cake_connector.errors")?;
        let kind = module.getattr(exception_name(class))?;
        let value = kind.call1((message.clone(), class.as_str()))?;
        Ok(PyErr::from_value(value))
    })();
    made.unwrap_or_else(|e| e)
}

/// Any classified error of the workspace as its exception, its causes in its message.
pub fn raise<E>(error: E) -> PyErr
where
    E: std::error::Error + Classify + 'static,
{
    let class = error.class();
    let message = chain(&error);
    Python::attach(|py| exception(py, class, message))
}

/// A usage error: what was wrong with the arguments and what to give instead.
pub fn usage(message: impl Into<String>) -> PyErr {
    let message = message.into();
    Python::attach(|py| exception(py, Class::Usage, message))
}

/// Shorthand for results whose error is classified.
pub trait OrRaise<T> {
    fn or_raise(self) -> PyResult<T>;
}

impl<T, E> OrRaise<T> for Result<T, E>
where
    E: std::error::Error + Classify + 'static,
{
    fn or_raise(self) -> PyResult<T> {
        self.map_err(raise)
    }
}
