//! The kernel's engine, its I/O runtime and the constants of every Delta commit.

use std::sync::{Arc, Mutex, PoisonError};

use delta_kernel_default_engine::executor::tokio::TokioMultiThreadExecutor;
use delta_kernel_default_engine::DefaultEngine;

use crate::file::SinkError;

/// The Delta log's directory in a table.
pub(crate) const DELTA_LOG: &str = "_delta_log";

/// Table properties that hold the contract's fields.
pub(super) const PROPERTY_PREFIX: &str = "cake.";

/// How often a commit is tried on a fresh snapshot before it gives up.
pub(super) const MAX_ATTEMPTS: u32 = 10;

/// Written to every commit (`engineInfo`).
pub(super) const ENGINE_INFO: &str = concat!("cake-sink/", env!("CARGO_PKG_VERSION"));

/// How long a commit's application transaction id is remembered by the table: retries happen
/// within seconds, and expired ids keep checkpoints small.
pub(super) const TXN_RETENTION: &str = "interval 7 days";

pub(crate) type DeltaEngine = DefaultEngine<TokioMultiThreadExecutor>;

/// The engine's I/O runtime, shared by every sink of the process and never shut down (a
/// runtime cannot be dropped inside another one). It is created once, under a lock: two sinks
/// opened at once must not both create one, since the one left over would be dropped, inside
/// their runtime.
pub(super) fn executor() -> Result<Arc<TokioMultiThreadExecutor>, SinkError> {
    static EXECUTOR: Mutex<Option<Arc<TokioMultiThreadExecutor>>> = Mutex::new(None);
    let mut slot = EXECUTOR.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(e) = slot.as_ref() {
        return Ok(e.clone());
    }
    let created = TokioMultiThreadExecutor::new_owned_runtime(Some(2), None)
        .map_err(|e| SinkError::Options(format!("cannot start the Delta engine's runtime: {e}")))?;
    Ok(slot.insert(Arc::new(created)).clone())
}

/// Runs a blocking kernel call on Tokio's blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, SinkError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| SinkError::Options(format!("a Delta operation failed: {e}")))
}
