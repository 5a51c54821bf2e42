//! `read`: one report's plan as a stream of checked windows of Arrow batches, written nowhere.
//!
//! Every window is fetched and checked by the transport exactly as [`pull`](crate::pull)
//! fetches it (the same page handler, date bounds, re-pulls and consistency checks); a window is
//! handed out only once it is whole, with its batches in page order, and the windows come in
//! plan order. A window that stays inconsistent ends the stream with its error: the caller
//! never sees part of a window. Pages are held as the page handler holds them (in memory up to
//! a bound, spilled to a temporary Arrow IPC file beyond it), so a window of any size is read
//! in bounded memory.

use std::path::PathBuf;
use std::time::Instant;

use arrow_array::RecordBatch;
use cake_arrow::DecoderOptions;
use cake_catalog::{Plan, PlannedRequest};
use cake_transport::Client;

use crate::window::{fetch_window, PageSink};
use futures_util::stream::{self, Stream, StreamExt};

use crate::cancel::Cancel;
use crate::decode::{DecodeFactory, DecodedPage, SpillError};
use crate::error::PipelineError;
use crate::pull::{Found, WindowSummary};
use crate::rows::DateBounds;

/// How a read runs.
#[derive(Clone)]
pub struct ReadOptions {
    pub decoder: DecoderOptions,
    /// Windows fetched at once (their requests share the client's bound). Windows are still
    /// handed out in plan order.
    pub windows_in_flight: usize,
    /// Directory of the pages spilled to disk.
    pub temp_dir: PathBuf,
    /// Stops the read from outside: the stream ends with [`PipelineError::Interrupted`].
    pub cancel: Cancel,
}

impl Default for ReadOptions {
    fn default() -> Self {
        ReadOptions {
            decoder: DecoderOptions::default(),
            windows_in_flight: 4,
            temp_dir: std::env::temp_dir(),
            cancel: Cancel::new(),
        }
    }
}

/// One whole, checked window: what it held ([`WindowSummary`]; no files, no bytes written) and
/// its batches.
#[derive(Debug)]
pub struct ReadWindow {
    pub summary: WindowSummary,
    pages: Vec<DecodedPage>,
}

impl ReadWindow {
    /// Hands every batch of the window, in page order, to `f`.
    pub fn for_each_batch<E>(self, mut f: impl FnMut(RecordBatch) -> Result<(), E>) -> Result<(), E>
    where
        E: From<SpillError>,
    {
        for page in self.pages {
            page.for_each_batch(&mut f)?;
        }
        Ok(())
    }
}

/// The pages of one pull of a window, kept until the window is known to be whole.
struct Pages(Vec<DecodedPage>);

impl PageSink for Pages {
    type Page = DecodedPage;

    fn page(&mut self, page: DecodedPage) -> Result<(), PipelineError> {
        self.0.push(page);
        Ok(())
    }
}

/// The windows of `plan`, each whole and checked, in plan order; the first error ends the
/// stream. Up to `options.windows_in_flight` windows are fetched ahead of the one handed out.
pub fn read<'a>(
    client: &'a Client,
    plan: &'a Plan,
    options: &'a ReadOptions,
) -> impl Stream<Item = Result<ReadWindow, PipelineError>> + Send + 'a {
    let now = chrono::Utc::now();
    let windows = stream::iter(&plan.requests)
        .map(move |request| read_window(client, plan, request, options, now))
        .buffered(options.windows_in_flight.max(1));
    // The stream ends after its first error.
    windows.scan(false, |failed, item| {
        let next = if *failed {
            None
        } else {
            *failed = item.is_err();
            Some(item)
        };
        std::future::ready(next)
    })
}

async fn read_window(
    client: &Client,
    plan: &Plan,
    request: &PlannedRequest,
    options: &ReadOptions,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<ReadWindow, PipelineError> {
    let started = Instant::now();
    let cancel = &options.cancel;
    if cancel.is_cancelled() {
        return Err(PipelineError::Interrupted);
    }
    let mut factory = DecodeFactory::new(plan.report, options.decoder, options.temp_dir.clone());
    factory.redact = Some(client.api_key().scrubber());
    factory.bounds = DateBounds::for_request(plan, request, now);
    let open = || Ok::<_, PipelineError>(Pages(Vec::new()));
    let (pages, result) = tokio::select! {
        biased;
        () = cancel.cancelled() => return Err(PipelineError::Interrupted),
        r = fetch_window(client, plan, request, &factory, open) => r?,
    };
    let mut summary = WindowSummary::of_window(plan, request, &result, started);
    let mut found = Found::default();
    for page in &pages.0 {
        found.add(page);
    }
    found.into_summary(&mut summary);
    Ok(ReadWindow {
        summary,
        pages: pages.0,
    })
}
