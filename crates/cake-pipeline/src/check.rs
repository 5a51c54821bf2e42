//! `check`: one cheap authenticated call that proves the domain, the key and the reply format.

use std::path::Path;
use std::time::{Duration, Instant};

use arrow_array::{Array, StringArray};
use cake_arrow::DecoderOptions;
use cake_catalog::{find, plan, Context, Options};
use cake_transport::{Client, PageSink};

use crate::decode::{DecodeFactory, DecodedPage};
use crate::error::PipelineError;

/// What a successful check learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The instance's origin.
    pub instance: String,
    /// The request made, key redacted.
    pub url: String,
    /// Account status names the instance returned.
    pub account_statuses: Vec<String>,
    /// Time the call took, retries included.
    pub elapsed: Duration,
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OK: {} accepted the API key and answered Account Status with {} statuses ({}) in {} ms",
            self.instance,
            self.account_statuses.len(),
            self.account_statuses.join(", "),
            self.elapsed.as_millis()
        )
    }
}

/// The account statuses of an answer.
struct Names(Vec<String>);

impl PageSink for Names {
    type Page = DecodedPage;
    type Error = PipelineError;

    fn page(&mut self, page: DecodedPage) -> Result<(), PipelineError> {
        page.for_each_batch(|batch| {
            if let Some(col) = batch
                .column_by_name("account_status_name")
                .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            {
                for i in 0..col.len() {
                    if col.is_valid(i) {
                        self.0.push(col.value(i).to_string());
                    }
                }
            }
            Ok::<(), PipelineError>(())
        })
    }
}

/// Calls Account Status (the cheapest authenticated endpoint) and reads the reply.
pub async fn check(client: &Client, temp_dir: &Path) -> Result<CheckReport, PipelineError> {
    let report = find("account-status").map_err(|e| PipelineError::Config(e.to_string()))?;
    let plan = plan(
        report,
        &Options::default(),
        &Context::new(chrono::Utc::now()),
    )
    .map_err(|e| PipelineError::Config(e.to_string()))?;
    let request = plan
        .requests
        .first()
        .ok_or_else(|| PipelineError::Config("Account Status has no request".into()))?;
    let factory = DecodeFactory::new(report, DecoderOptions::default(), temp_dir.to_path_buf());
    let started = Instant::now();
    let (Names(names), _) = client
        .fetch_window(&plan, request, &factory, || Ok(Names(Vec::new())))
        .await?;
    Ok(CheckReport {
        instance: client.instance().to_string(),
        url: client.display_url(report, request, None),
        account_statuses: names,
        elapsed: started.elapsed(),
    })
}
