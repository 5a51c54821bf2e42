//! A read as a stream of Arrow record batches, through the Arrow C data interface: the
//! PyCapsule interface (`__arrow_c_stream__`, `__arrow_c_schema__`) hands the batches over
//! without a copy, and `next_batch` hands them one at a time to the Python wrapper.
//!
//! The read runs on the module's runtime and sends whole, checked windows down a channel of
//! one; the consumer takes their batches in order. Dropping or closing the stream cancels the
//! read.

use std::collections::VecDeque;
use std::ffi::CStr;
use std::sync::{Arc, Mutex};

use arrow_array::ffi::{FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::FFI_ArrowArrayStream;
use arrow_array::{Array, RecordBatch, RecordBatchReader, StructArray};
use arrow_schema::{ArrowError, SchemaRef};
use cake_core::failure::{chain, Class, Classify};
use cake_pipeline::{Cancel, PipelineError, ReadOptions, ReadWindow, WindowSummary};
use futures_util::StreamExt;
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use tokio::sync::mpsc;

use crate::run::{runtime, POLL};

const STREAM: &CStr = c"arrow_array_stream";
const SCHEMA: &CStr = c"arrow_schema";
const ARRAY: &CStr = c"arrow_array";

/// A schema, with the PyCapsule interface.
#[pyclass(module = "cake_connector._native", frozen)]
pub struct Schema {
    pub schema: SchemaRef,
}

#[pymethods]
impl Schema {
    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &self.schema)
    }

    fn __repr__(&self) -> String {
        let fields: Vec<String> = self
            .schema
            .fields()
            .iter()
            .map(|f| format!("{}: {}", f.name(), f.data_type()))
            .collect();
        format!("Schema({})", fields.join(", "))
    }
}

fn schema_capsule<'py>(py: Python<'py>, schema: &SchemaRef) -> PyResult<Bound<'py, PyCapsule>> {
    let ffi = FFI_ArrowSchema::try_from(schema.as_ref()).map_err(|e| {
        crate::errors::exception(
            py,
            Class::Internal,
            format!("cannot export the schema: {e}"),
        )
    })?;
    PyCapsule::new_with_value(py, ffi, SCHEMA)
}

/// What the read sends: a whole window, or the error that ended the read.
type Item = Result<ReadWindow, PipelineError>;

/// The consumer's side of a read.
struct Batches {
    schema: SchemaRef,
    windows: mpsc::Receiver<Item>,
    /// The batches of the window being handed out.
    current: VecDeque<RecordBatch>,
    /// The windows handed out so far, shared with the [`Reader`].
    done: Arc<Mutex<Vec<WindowSummary>>>,
    cancel: Cancel,
    finished: bool,
}

/// Why a batch could not be had.
enum Stop {
    /// The read failed with this class and message.
    Failed(Class, String),
    /// A signal's exception (Ctrl-C).
    Signal(PyErr),
}

impl Batches {
    /// The next batch, waiting for the next window when needed; `None` at the end.
    fn next(&mut self) -> Result<Option<RecordBatch>, Stop> {
        self.fill()?;
        Ok(self.current.pop_front())
    }

    /// Waits until a batch is at hand or the read has ended. While it waits, a pending signal
    /// stops the read (checked with the GIL, every [`POLL`]).
    fn fill(&mut self) -> Result<(), Stop> {
        while self.current.is_empty() && !self.finished {
            let rt = runtime().map_err(Stop::Signal)?;
            let received =
                rt.block_on(async { tokio::time::timeout(POLL, self.windows.recv()).await });
            match received {
                Err(_) => {
                    let signal = Python::attach(|py| py.check_signals());
                    if let Err(e) = signal {
                        self.cancel.cancel();
                        self.finished = true;
                        return Err(Stop::Signal(e));
                    }
                }
                Ok(None) => self.finished = true,
                Ok(Some(Err(e))) => {
                    self.finished = true;
                    return Err(Stop::Failed(e.class(), chain(&e)));
                }
                Ok(Some(Ok(window))) => {
                    self.done
                        .lock()
                        .unwrap_or_else(|p| p.into_inner())
                        .push(window.summary.clone());
                    let mut batches = VecDeque::new();
                    window
                        .for_each_batch(|b| {
                            batches.push_back(b);
                            Ok::<_, PipelineError>(())
                        })
                        .map_err(|e| {
                            self.finished = true;
                            Stop::Failed(e.class(), chain(&e))
                        })?;
                    self.current = batches;
                }
            }
        }
        Ok(())
    }
}

impl Drop for Batches {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

/// The Arrow C stream's reader: the batches, taken by whoever consumes the capsule.
struct Exported(Batches);

impl Iterator for Exported {
    type Item = Result<RecordBatch, ArrowError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self.0.next() {
            Ok(batch) => batch.map(Ok),
            Err(Stop::Failed(class, message)) => Some(Err(ArrowError::ExternalError(
                format!("{} ({class})", message).into(),
            ))),
            Err(Stop::Signal(e)) => {
                // The consumer raises its own error; the signal's is raised again with it.
                Python::attach(|py| e.restore(py));
                Some(Err(ArrowError::ExternalError(
                    "the read was interrupted".into(),
                )))
            }
        }
    }
}

impl RecordBatchReader for Exported {
    fn schema(&self) -> SchemaRef {
        self.0.schema.clone()
    }
}

/// A read in progress (`cake_connector.read`).
#[pyclass(module = "cake_connector._native")]
pub struct Reader {
    schema: SchemaRef,
    batches: Arc<Mutex<Option<Batches>>>,
    windows: Arc<Mutex<Vec<WindowSummary>>>,
}

impl Reader {
    /// Starts reading `plan` with `client` on the module's runtime.
    pub fn start(
        client: cake_transport::Client,
        plan: cake_catalog::Plan,
        options: ReadOptions,
    ) -> PyResult<Reader> {
        let schema: SchemaRef = Arc::new(plan.report.arrow_schema());
        let done = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel::<Item>(1);
        let cancel = options.cancel.clone();
        runtime()?.spawn(async move {
            let windows = cake_pipeline::read(&client, &plan, &options);
            futures_util::pin_mut!(windows);
            while let Some(item) = windows.next().await {
                if tx.send(item).await.is_err() {
                    // The consumer went away.
                    options.cancel.cancel();
                    break;
                }
            }
        });
        Ok(Reader {
            schema: schema.clone(),
            batches: Arc::new(Mutex::new(Some(Batches {
                schema,
                windows: rx,
                current: VecDeque::new(),
                done: done.clone(),
                cancel,
                finished: false,
            }))),
            windows: done,
        })
    }

    fn take(&self) -> PyResult<Batches> {
        self.batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
            .ok_or_else(|| crate::errors::usage("this stream was read already: call read() again"))
    }
}

#[pymethods]
impl Reader {
    /// The schema of every batch.
    #[getter]
    fn schema(&self) -> Schema {
        Schema {
            schema: self.schema.clone(),
        }
    }

    fn __arrow_c_schema__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyCapsule>> {
        schema_capsule(py, &self.schema)
    }

    /// The whole stream as an Arrow C stream (it can be taken once). A requested schema is
    /// accepted only when it is the stream's own.
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyAny>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let _ = requested_schema;
        let mut batches = self.take()?;
        // The first window is awaited here, so that the failures a read meets first (the key,
        // the domain, the options) raise their own exception; a later window's failure is the
        // consumer's error, with the same message and class.
        if let Err(stop) = py.detach(|| batches.fill()) {
            return Err(match stop {
                Stop::Failed(class, message) => crate::errors::exception(py, class, message),
                Stop::Signal(e) => e,
            });
        }
        let stream = FFI_ArrowArrayStream::new(Box::new(Exported(batches)));
        PyCapsule::new_with_value(py, stream, STREAM)
    }

    /// The next batch as `(schema capsule, array capsule)`, or `None` at the end; the GIL is
    /// released while the batch is awaited, and Ctrl-C raises `KeyboardInterrupt`.
    fn next_batch<'py>(
        &self,
        py: Python<'py>,
    ) -> PyResult<Option<(Bound<'py, PyCapsule>, Bound<'py, PyCapsule>)>> {
        let mut guard = self.batches.lock().unwrap_or_else(|p| p.into_inner());
        let Some(batches) = guard.as_mut() else {
            return Err(crate::errors::usage(
                "this stream was handed over already (to pyarrow or another reader)",
            ));
        };
        let next = py.detach(|| batches.next());
        match next {
            Ok(None) => Ok(None),
            Ok(Some(batch)) => {
                let array = StructArray::from(batch);
                let data = array.into_data();
                let ffi_array = FFI_ArrowArray::new(&data);
                let ffi_schema = FFI_ArrowSchema::try_from(data.data_type()).map_err(|e| {
                    crate::errors::exception(
                        py,
                        Class::Internal,
                        format!("cannot export a batch: {e}"),
                    )
                })?;
                Ok(Some((
                    PyCapsule::new_with_value(py, ffi_schema, SCHEMA)?,
                    PyCapsule::new_with_value(py, ffi_array, ARRAY)?,
                )))
            }
            Err(Stop::Failed(class, message)) => Err(crate::errors::exception(py, class, message)),
            Err(Stop::Signal(e)) => Err(e),
        }
    }

    /// The windows handed out so far, as dicts (start, end, partition, rows, pages, ...): the
    /// window summaries of `pull`, with the partition the window would replace.
    #[getter]
    fn windows<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let windows = self.windows.lock().unwrap_or_else(|p| p.into_inner());
        let list: Vec<serde_json::Value> = windows
            .iter()
            .map(|w| {
                let mut v = serde_json::to_value(w).unwrap_or_default();
                if let serde_json::Value::Object(o) = &mut v {
                    let partition = (!w.path.is_empty()).then(|| w.path.clone());
                    o.insert("partition".into(), serde_json::json!(partition));
                }
                v
            })
            .collect();
        crate::to_python(py, &list)
    }

    /// Stops the read; the stream ends.
    fn close(&self) {
        if let Some(b) = self
            .batches
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
        {
            drop(b);
        }
    }
}
