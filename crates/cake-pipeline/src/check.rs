//! `check`: one cheap authenticated call that proves the domain, the key and the reply format.

use std::path::Path;
use std::time::{Duration, Instant};

use arrow_array::{Array, StringArray};
use cake_arrow::DecoderOptions;
use cake_catalog::{find, plan, Context, Options};
use cake_transport::{Class, Classify, Client};

use crate::window::{fetch_window, PageSink};

use crate::decode::{DecodeFactory, DecodedPage};
use crate::error::PipelineError;

/// What a successful check learnt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckReport {
    /// The instance's origin.
    pub instance: String,
    /// The request made, key redacted.
    pub url: String,
    /// The form of the request that was answered.
    pub protocol: cake_transport::Protocol,
    /// Account status names the instance returned.
    pub account_statuses: Vec<String>,
    /// Time the call took, retries included.
    pub elapsed: Duration,
}

impl std::fmt::Display for CheckReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "OK: {} accepted the API key ({}) and answered Account Status with {} statuses ({}) in {} ms",
            self.instance,
            self.protocol,
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

/// Calls Account Status (the cheapest authenticated endpoint) and reads the reply. When the
/// instance refuses the client's form of requests (SOAP or GET) and answers the other, the
/// error says so and names the flag that works.
pub async fn check(client: &Client, temp_dir: &Path) -> Result<CheckReport, PipelineError> {
    let first = check_once(client, temp_dir).await;
    let Err(PipelineError::Transport(error)) = first else {
        return first;
    };
    // Only a refusal of the request's form is worth the other form: a key, a host or a
    // network that fails fails both.
    if !matches!(error.class(), Class::Rejected | Class::NotCake) {
        return Err(PipelineError::Transport(error));
    }
    let refused = client.protocol();
    let other = client.with_protocol(refused.other())?;
    match check_once(&other, temp_dir).await {
        Ok(_) => Err(PipelineError::ProtocolRefused {
            refused,
            works: refused.other(),
            source: error,
        }),
        Err(_) => Err(PipelineError::Transport(error)),
    }
}

async fn check_once(client: &Client, temp_dir: &Path) -> Result<CheckReport, PipelineError> {
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
    let (Names(names), _) =
        fetch_window(client, &plan, request, &factory, || Ok(Names(Vec::new()))).await?;
    Ok(CheckReport {
        instance: client.instance().to_string(),
        url: client.display_url(report, request, None),
        protocol: client.protocol(),
        account_statuses: names,
        elapsed: started.elapsed(),
    })
}
