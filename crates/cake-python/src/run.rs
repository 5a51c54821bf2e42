//! Where the module's async work runs, and how Python waits for it: one Tokio runtime per
//! process; every wait releases the GIL and looks for Ctrl-C (a pending signal) every tenth of
//! a second, so an interrupt in a notebook stops the job.

use std::future::Future;
use std::sync::OnceLock;
use std::time::Duration;

use cake_core::failure::Class;
use cake_pipeline::Cancel;
use pyo3::prelude::*;

/// How often a wait looks for a pending signal.
pub const POLL: Duration = Duration::from_millis(100);

/// The module's runtime: two workers, like the command line's.
pub fn runtime() -> PyResult<&'static tokio::runtime::Runtime> {
    static RUNTIME: OnceLock<Result<tokio::runtime::Runtime, String>> = OnceLock::new();
    RUNTIME
        .get_or_init(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .thread_name("cake-connector")
                .enable_all()
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| {
            Python::attach(|py| {
                crate::errors::exception(
                    py,
                    Class::Internal,
                    format!("cannot start the connector's runtime: {e}"),
                )
            })
        })
}

/// Runs the job `make` builds to its end on this thread, with the GIL released (the job's own
/// tasks run on the runtime's workers). A signal's exception (Ctrl-C: `KeyboardInterrupt`)
/// cancels `cancel`, waits for the job to stop, and is raised.
pub fn wait<T, F, M>(py: Python<'_>, cancel: &Cancel, make: M) -> PyResult<T>
where
    M: FnOnce() -> F + Send,
    F: Future<Output = T>,
    T: Send,
{
    let rt = runtime()?;
    let (result, interrupted) = py.detach(|| {
        rt.block_on(async {
            let job = make();
            tokio::pin!(job);
            let mut interrupted: Option<PyErr> = None;
            loop {
                tokio::select! {
                    result = &mut job => return (result, interrupted),
                    () = tokio::time::sleep(POLL) => {
                        if interrupted.is_none() {
                            if let Err(e) = Python::attach(|py| py.check_signals()) {
                                cancel.cancel();
                                interrupted = Some(e);
                            }
                        }
                    }
                }
            }
        })
    });
    match interrupted {
        Some(e) => Err(e),
        None => Ok(result),
    }
}
