//! The window loop over the transport's page attempts, against the sandbox: paging exactness,
//! every retryable fault recovered with the same rows, authentication never retried, the
//! concurrency bound held, the key never shown.

use std::collections::BTreeSet;
use std::time::Duration;

use arrow_array::{Array, Int64Array};
use cake_arrow::DecoderOptions;
use cake_catalog::{find, plan, Context, Options, Plan};
use cake_pipeline::{fetch_window, DecodeFactory, DecodedPage, PageSink, PipelineError};
use cake_sandbox::{Faults, Sandbox, SandboxConfig};
use cake_transport::{ApiKey, Class, Classify, Client, ClientOptions, Instance, RetryPolicy};

/// The click ids of every page of one pull of a window, in order.
#[derive(Default)]
struct IdSink(Vec<String>);

impl PageSink for IdSink {
    type Page = DecodedPage;

    fn page(&mut self, page: DecodedPage) -> Result<(), PipelineError> {
        page.for_each_batch(|batch| {
            let column = batch.column_by_name("click_id").expect("a click_id column");
            let ids = column
                .as_any()
                .downcast_ref::<Int64Array>()
                .expect("click ids are integers");
            self.0
                .extend((0..ids.len()).map(|i| ids.value(i).to_string()));
            Ok::<(), PipelineError>(())
        })
    }
}

const KEY: &str = "sandbox-secret-0042";

fn today() -> chrono::NaiveDate {
    "2024-03-15".parse().unwrap()
}

async fn sandbox(rows_per_day: u32, faults: Faults) -> Sandbox {
    Sandbox::start(SandboxConfig {
        seed: 7,
        api_key: KEY.to_string(),
        rows_per_day,
        port: 0,
        today: today(),
        faults,
    })
    .await
    .unwrap()
}

fn client(sandbox: &Sandbox, key: &str, concurrency: usize) -> Client {
    Client::new(
        Instance::parse(&sandbox.url(), false).unwrap(),
        ApiKey::new(key).unwrap(),
        ClientOptions {
            concurrency,
            retry: RetryPolicy {
                max_attempts: 12,
                base_delay: Duration::from_millis(2),
                max_delay: Duration::from_millis(20),
                ..RetryPolicy::default()
            },
            idle_timeout: Duration::from_secs(5),
            jitter_seed: Some(3),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

fn clicks_plan(page_size: u32, days: u32) -> Plan {
    let now = format!("{}T12:00:00Z", today()).parse().unwrap();
    let mut ctx = Context::new(now);
    ctx.page_size = Some(page_size);
    let options = Options {
        past_days: Some(days.to_string().parse().unwrap()),
        ..Options::default()
    };
    plan(find("clicks").unwrap(), &options, &ctx).unwrap()
}

/// Every click id of every window of the plan, in order.
async fn click_ids(client: &Client, plan: &Plan) -> Result<Vec<String>, PipelineError> {
    let temp = tempfile::tempdir().unwrap();
    let factory = DecodeFactory::new(
        plan.report,
        DecoderOptions::default(),
        temp.path().to_path_buf(),
    );
    let mut ids = Vec::new();
    for request in &plan.requests {
        let open = || Ok(IdSink::default());
        let (sink, _) = fetch_window(client, plan, request, &factory, open).await?;
        ids.extend(sink.0);
    }
    Ok(ids)
}

#[tokio::test]
async fn paging_returns_every_row_once() {
    let s = sandbox(50, Faults::default()).await;
    let c = client(&s, KEY, 4);
    let all = click_ids(&c, &clicks_plan(1000, 2)).await.unwrap();
    assert_eq!(all.len(), 100);
    // Page sizes that divide the total and that do not, and a page of one row.
    for size in [1, 7, 10, 25, 49, 50, 51, 100] {
        let got = click_ids(&c, &clicks_plan(size, 2)).await.unwrap();
        assert_eq!(got, all, "page size {size}");
        let unique: BTreeSet<_> = got.iter().collect();
        assert_eq!(unique.len(), got.len(), "page size {size}");
    }
}

#[tokio::test]
async fn retryable_faults_recover_with_identical_rows() {
    let clean = {
        let s = sandbox(40, Faults::default()).await;
        click_ids(&client(&s, KEY, 3), &clicks_plan(9, 2))
            .await
            .unwrap()
    };
    let faults = [
        (
            "restricted",
            Faults {
                restricted_rate: 0.4,
                ..Faults::default()
            },
        ),
        (
            "http 500/503",
            Faults {
                error_rate: 0.4,
                ..Faults::default()
            },
        ),
        (
            "reset",
            Faults {
                reset_rate: 0.4,
                ..Faults::default()
            },
        ),
        (
            "truncated",
            Faults {
                truncate_rate: 0.4,
                ..Faults::default()
            },
        ),
        (
            "trickle",
            Faults {
                trickle: true,
                ..Faults::default()
            },
        ),
        (
            "latency",
            Faults {
                latency: Duration::from_millis(20),
                ..Faults::default()
            },
        ),
    ];
    for (name, f) in faults {
        let s = sandbox(40, f).await;
        let c = client(&s, KEY, 3);
        let got = click_ids(&c, &clicks_plan(9, 2))
            .await
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(got, clean, "{name}");
        if !matches!(name, "trickle" | "latency") {
            assert!(c.stats().retries > 0, "{name}: no fault was injected");
        }
    }
}

#[tokio::test]
async fn a_wrong_key_is_an_authentication_error_and_is_not_retried() {
    let s = sandbox(5, Faults::default()).await;
    let c = client(&s, "not-the-key", 2);
    let err = click_ids(&c, &clicks_plan(10, 1)).await.unwrap_err();
    assert_eq!(err.class(), Class::Authentication);
    assert_eq!(s.stats().requests, 1);
    assert!(!err.to_string().contains("not-the-key"));
}

#[tokio::test]
async fn the_concurrency_bound_holds() {
    let s = sandbox(
        60,
        Faults {
            latency: Duration::from_millis(40),
            ..Faults::default()
        },
    )
    .await;
    let c = client(&s, KEY, 3);
    // One window of 60 rows in pages of 5: 1 page, then 11 at once.
    let ids = click_ids(&c, &clicks_plan(5, 1)).await.unwrap();
    assert_eq!(ids.len(), 60);
    let peak = s.stats().max_in_flight;
    assert!(peak <= 3, "peak {peak}");
    assert!(peak >= 2, "pages did not run concurrently (peak {peak})");
    assert_eq!(c.stats().max_in_flight, peak);
}

#[tokio::test]
async fn a_requests_per_minute_budget_spaces_requests() {
    let s = sandbox(20, Faults::default()).await;
    let c = Client::new(
        Instance::parse(&s.url(), false).unwrap(),
        ApiKey::new(KEY).unwrap(),
        ClientOptions {
            requests_per_minute: Some(600),
            ..ClientOptions::default()
        },
    )
    .unwrap();
    let started = std::time::Instant::now();
    // 4 pages at 600/min: at least 3 gaps of 100 ms.
    let ids = click_ids(&c, &clicks_plan(5, 1)).await.unwrap();
    assert_eq!(ids.len(), 20);
    assert!(started.elapsed() >= Duration::from_millis(290));
}
