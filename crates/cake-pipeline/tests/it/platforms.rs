//! A read for Airbyte or Singer (`cake_pipeline::protocol::read`) emits exactly the rows a
//! `pull` of the same days writes, a state after every committed window from which the next
//! read re-reads only the lookback, and the same records under faults.

use std::collections::BTreeMap;
use std::sync::Mutex;

use crate::common;

use cake_catalog::Report;
use cake_pipeline::protocol::{self, batch_records, Emit, ReportState, Selected, SourceConfig};
use cake_sandbox::{Faults, Sandbox};
use cake_sink::WriteMode;
use cake_transport::RetryPolicy;
use common::*;
use serde_json::{Map, Value};

#[derive(Default)]
struct Collect {
    records: Mutex<BTreeMap<String, Vec<String>>>,
    states: Mutex<BTreeMap<String, ReportState>>,
}

impl Emit for Collect {
    fn record(&self, report: &Report, record: Map<String, Value>) {
        let mut r = self.records.lock().unwrap();
        r.entry(report.id.to_string())
            .or_default()
            .push(Value::Object(record).to_string());
    }

    fn state(&self, report: &Report, state: &ReportState) {
        self.states
            .lock()
            .unwrap()
            .insert(report.id.to_string(), state.clone());
    }
}

fn config(sandbox: &Sandbox, start: &str, lookback: u32) -> SourceConfig {
    SourceConfig::parse(
        &serde_json::json!({
            "domain": sandbox.url(),
            "api_key": KEY,
            "start_date": start,
            "lookback_days": lookback,
        })
        .to_string(),
    )
    .unwrap()
}

fn streams() -> Vec<Selected> {
    ["clicks", "campaigns-summary", "offers"]
        .iter()
        .map(|id| Selected {
            report: report(id),
            incremental: true,
        })
        .collect()
}

/// What `pull` writes for `id` over the same days, as the same JSON records.
async fn pulled(sandbox: &Sandbox, id: &str, start: &str) -> Vec<String> {
    let client = client(sandbox, RetryPolicy::none());
    let lake = Lake::local();
    let sink = lake.sink();
    let r = report(id);
    let options = match r.dates {
        cake_catalog::DateSemantics::None => cake_catalog::Options::default(),
        _ => range(start, &today().to_string()),
    };
    let plan = plan_at(id, &options, noon(today()), None);
    pull(
        &client,
        &plan,
        &sink,
        &pull_options(WriteMode::Replace, false),
    )
    .await;
    let mut out = Vec::new();
    for object in lake.objects_in(id) {
        let Some((partition, "_SUCCESS")) = object.rsplit_once('/').or(Some(("", &object))) else {
            continue;
        };
        let partition = (!partition.is_empty()).then_some(partition);
        for f in read_partition(&sink, r, partition).await {
            let day = partition.and_then(cake_pipeline::layout::partition_day);
            for b in &f.batches {
                out.extend(
                    batch_records(b, day)
                        .into_iter()
                        .map(|m| Value::Object(m).to_string()),
                );
            }
        }
    }
    out.sort();
    out
}

async fn read(
    sandbox: &Sandbox,
    config: &SourceConfig,
    state: &BTreeMap<String, ReportState>,
    retry: RetryPolicy,
) -> Collect {
    let client = client(sandbox, retry);
    let out = Collect::default();
    let failures = protocol::read(
        &client,
        config,
        &streams(),
        state,
        &out,
        cake_pipeline::Cancel::new(),
        noon(today()),
    )
    .await
    .unwrap();
    assert!(failures.is_empty(), "{failures:?}");
    for v in out.records.lock().unwrap().values_mut() {
        v.sort();
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_emits_what_pull_writes_and_resumes_from_its_state() {
    let sandbox = sandbox().await;
    let start = "2024-03-07";
    let first = read(
        &sandbox,
        &config(&sandbox, start, 1),
        &BTreeMap::new(),
        RetryPolicy::none(),
    )
    .await;
    let records = first.records.lock().unwrap().clone();
    for id in ["clicks", "campaigns-summary", "offers"] {
        let expected = pulled(&sandbox, id, start).await;
        assert!(!expected.is_empty(), "{id}: no rows");
        assert_eq!(
            records.get(id),
            Some(&expected),
            "{id}: read differs from pull"
        );
    }
    // Dated records carry their day; the state is the last day read.
    let states = first.states.lock().unwrap().clone();
    assert_eq!(states["clicks"].committed_through, Some(today()));
    assert!(records["clicks"][0].contains("\"date\":\"2024-03-0"));

    // The next read starts from the state, minus the lookback of one day.
    let second = read(
        &sandbox,
        &config(&sandbox, start, 1),
        &states,
        RetryPolicy::none(),
    )
    .await;
    let again = second.records.lock().unwrap().clone();
    let days: std::collections::BTreeSet<String> = again["clicks"]
        .iter()
        .map(|r| {
            serde_json::from_str::<Value>(r).unwrap()["date"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    assert_eq!(
        days.into_iter().collect::<Vec<_>>(),
        ["2024-03-09", "2024-03-10"],
        "only the lookback and after"
    );
    // A snapshot is read whole every time.
    assert_eq!(again["offers"], records["offers"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_under_faults_emits_the_same_records() {
    let clean = sandbox().await;
    let start = "2024-03-08";
    let expected = read(
        &clean,
        &config(&clean, start, 1),
        &BTreeMap::new(),
        RetryPolicy::none(),
    )
    .await;
    let faulty = Sandbox::start(sandbox_config(Faults {
        error_rate: 0.3,
        restricted_rate: 0.1,
        ..Faults::default()
    }))
    .await
    .unwrap();
    let retry = RetryPolicy {
        max_attempts: 20,
        base_delay: std::time::Duration::from_millis(1),
        max_delay: std::time::Duration::from_millis(5),
        ..RetryPolicy::default()
    };
    let got = read(&faulty, &config(&faulty, start, 1), &BTreeMap::new(), retry).await;
    let f = faulty.stats().faults;
    assert!(
        f.http_500 + f.http_503 + f.restricted > 0,
        "no fault injected"
    );
    assert_eq!(
        *got.records.lock().unwrap(),
        *expected.records.lock().unwrap()
    );
}
