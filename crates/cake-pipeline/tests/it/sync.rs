//! `sync` with a two-report config (Clicks, dated; Conversion Changes, a cursor) against the
//! sandbox, with a fixed "now": the second run starts at the last committed day minus the
//! lookback and replaces those partitions only; `full_refresh` ignores the state; the state
//! never moves past a window that failed.

use crate::common;

use std::collections::{BTreeMap, BTreeSet};

use cake_pipeline::layout::state_path;
use cake_pipeline::{parse_config, sync, Class, Classify, ReportState, SyncPlan};
use cake_sandbox::Faults;
use cake_sink::{Sink, WriteMode};
use cake_transport::{Instance, Page, RetryPolicy};
use chrono::NaiveDate;
use common::*;

fn config(lake: &Lake, url: &str, reports: &str) -> SyncPlan {
    let text = format!(
        "[instance]\ndomain = \"{url}\"\n\n[output]\nlocation = \"{}\"\n\n\
         [defaults]\nstart = \"2024-03-01\"\nlookback_days = 3\n\n{reports}",
        lake.location
    );
    parse_config("cake.toml", &text).unwrap()
}

const TWO_REPORTS: &str =
    "[[report]]\nreport = \"clicks\"\n\n[[report]]\nreport = \"Conversion Changes\"\n";

async fn state(sink: &Sink, id: &str) -> ReportState {
    let bytes = sink
        .get_document(&state_path(report(id).id))
        .await
        .unwrap()
        .unwrap_or_else(|| panic!("no state for {id}"));
    serde_json::from_slice(&bytes).unwrap()
}

/// The run id in each committed partition's manifest, by partition.
async fn run_ids(sink: &Sink, lake: &Lake, table: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for object in lake.objects_in(table) {
        if let Some((partition, "_SUCCESS")) = object.split_once('/') {
            let m = sink.verify(table, Some(partition)).await.unwrap();
            out.insert(partition.to_string(), m.run_id);
        }
    }
    out
}

fn days(from: &str, to: &str) -> Vec<String> {
    let (mut d, end) = (day(from), day(to));
    let mut out = Vec::new();
    while d <= end {
        out.push(format!("date={d}"));
        d = d.succ_opt().unwrap();
    }
    out
}

async fn twice_then_full_refresh(lake: &Lake) {
    let sandbox = sandbox().await;
    let client = client(&sandbox, RetryPolicy::none());
    let plan = config(lake, &sandbox.url(), TWO_REPORTS);
    let options = pull_options(WriteMode::Replace, false);

    // Run 1, on 2024-03-10: everything from the configured start through today.
    let sink = lake.sink();
    let run1 = sync(&client, &sink, &plan, false, noon(today()), &options, false)
        .await
        .into_result()
        .unwrap();
    let first_run = sink.run_id().to_string();
    assert_eq!(run1.len(), 2);
    assert_eq!(run1[0].covered, "2024-03-01 to 2024-03-10");
    assert_eq!(run1[0].pull.windows.len(), 10);
    // 200 clicks a day, and today's up to the run's start (noon): the window that reaches into
    // the present ends at the run's start.
    let whole = plan_at(
        "clicks",
        &range("2024-03-01", "2024-03-10"),
        noon(today()),
        None,
    );
    let today_window = whole.requests.last().unwrap();
    assert!(today_window.cutoff.is_some());
    let before_noon = sandbox_rows(sandbox.config(), &whole, today_window).len() as u64;
    assert!(0 < before_noon && before_noon < 200, "{before_noon}");
    assert_eq!(run1[0].pull.rows, 9 * 200 + before_noon);
    assert_eq!(run1[1].covered, "changes since 2024-03-01");
    assert!(run1[1].pull.rows > 0);
    let clicks = state(&sink, "clicks").await;
    assert_eq!(clicks.report, "clicks");
    assert_eq!(clicks.committed_through, Some(day("2024-03-10")));
    assert_eq!(clicks.changes_since, None);
    assert_eq!(clicks.last_run.as_deref(), Some("2024-03-10T12:00:00Z"));
    assert_eq!(clicks.connector_version, env!("CARGO_PKG_VERSION"));
    let changes = state(&sink, "conversion-changes").await;
    assert_eq!(changes.changes_since, Some(day("2024-03-10")));
    assert_eq!(changes.committed_through, None);
    assert_eq!(run1[0].state, clicks);
    assert_eq!(run1[1].state, changes);
    let after1 = run_ids(&sink, lake, "clicks").await;
    assert_eq!(
        after1.keys().cloned().collect::<Vec<_>>(),
        days("2024-03-01", "2024-03-10")
    );
    assert!(after1.values().all(|r| *r == first_run));
    drop(sink);

    // Run 2, a day later: from the last committed day minus the 3-day lookback.
    let sink = lake.sink();
    let run2 = sync(
        &client,
        &sink,
        &plan,
        false,
        noon(day("2024-03-11")),
        &options,
        false,
    )
    .await
    .into_result()
    .unwrap();
    let second_run = sink.run_id().to_string();
    assert_eq!(run2[0].covered, "2024-03-07 to 2024-03-11");
    let starts: Vec<_> = run2[0]
        .pull
        .windows
        .iter()
        .map(|w| w.start.clone().unwrap())
        .collect();
    assert_eq!(
        starts,
        [
            "2024-03-07",
            "2024-03-08",
            "2024-03-09",
            "2024-03-10",
            "2024-03-11"
        ]
    );
    // The sandbox's data ends on its today (2024-03-10): the new day is an empty partition.
    assert_eq!(run2[0].pull.windows[4].rows, 0);
    assert_eq!(run2[0].pull.rows, 800);
    assert_eq!(run2[1].covered, "changes since 2024-03-07");
    let after2 = run_ids(&sink, lake, "clicks").await;
    for (partition, run) in &after2 {
        let replaced = partition.as_str() >= "date=2024-03-07";
        let expected = if replaced { &second_run } else { &first_run };
        assert_eq!(run, expected, "{partition}");
    }
    assert_eq!(after2.len(), 11);
    let clicks2 = state(&sink, "clicks").await;
    assert_eq!(clicks2.committed_through, Some(day("2024-03-11")));
    assert_eq!(clicks2.last_run.as_deref(), Some("2024-03-11T12:00:00Z"));
    let changes2 = state(&sink, "conversion-changes").await;
    assert_eq!(changes2.changes_since, Some(day("2024-03-11")));
    // Conversion Changes is laid out by the day of each change: the second run replaced the
    // days from its cursor on, and no conversion is in two partitions.
    let changed = run_ids(&sink, lake, "conversion-changes").await;
    assert!(changed.len() > 4, "{changed:?}");
    for (partition, run) in &changed {
        let replaced = partition.as_str() >= "date=2024-03-07";
        let expected = if replaced { &second_run } else { &first_run };
        assert_eq!(run, expected, "{partition}");
    }
    let changes = report("conversion-changes");
    let keys = table_keys(&sink, lake, changes).await;
    assert!(!keys.is_empty());
    assert_eq!(repeated(&keys), Vec::<String>::new());
    // Every row of a re-pulled day is the sandbox's, once: replaced, not duplicated.
    for w in &run2[0].pull.windows[..4] {
        let p = format!("date={}", w.start.as_deref().unwrap());
        let files = read_partition(&sink, report("clicks"), Some(&p)).await;
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 200, "{p}");
    }
    drop(sink);

    // Full refresh: the state is ignored, every day from the start again.
    let sink = lake.sink();
    let run3 = sync(
        &client,
        &sink,
        &plan,
        true,
        noon(day("2024-03-11")),
        &options,
        false,
    )
    .await
    .into_result()
    .unwrap();
    let third_run = sink.run_id().to_string();
    assert_eq!(run3[0].covered, "2024-03-01 to 2024-03-11");
    assert_eq!(run3[0].pull.windows.len(), 11);
    assert_eq!(run3[1].covered, "changes since 2024-03-01");
    let after3 = run_ids(&sink, lake, "clicks").await;
    assert_eq!(after3.len(), 11);
    assert!(after3.values().all(|r| *r == third_run));
    assert_eq!(
        state(&sink, "clicks").await.committed_through,
        Some(day("2024-03-11"))
    );
    assert_eq!(
        state(&sink, "conversion-changes").await.changes_since,
        Some(day("2024-03-11"))
    );
    drop(sink);
    let states: Vec<String> = lake.objects_in("_state");
    assert_eq!(states, ["clicks.json", "conversion-changes.json"]);
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_twice_then_full_refresh() {
    twice_then_full_refresh(&Lake::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_twice_then_full_refresh() {
    let Some(moto) = moto("s3_twice_then_full_refresh") else {
        return;
    };
    twice_then_full_refresh(&Lake::s3(&moto, "lake", "sync")).await;
}

/// The windows of `plan` whose request fails on both of its two attempts under `faults`
/// in a sandbox seeded with `seed`
/// (the sandbox's draws are deterministic: seed, request, attempt number).
fn failing_days(seed: u64, faults: &Faults, plan: &cake_catalog::Plan) -> BTreeSet<NaiveDate> {
    let instance = Instance::parse("http://127.0.0.1:1", false).unwrap();
    plan.requests
        .iter()
        .filter(|req| {
            let page = plan.page_size.map(|size| Page {
                index: 0,
                start_at_row: 1,
                row_limit: size,
            });
            let url = cake_transport::display_url(
                &instance,
                plan.report,
                req,
                page,
                cake_transport::Protocol::Get,
            );
            let path = url.strip_prefix("http://127.0.0.1:1").unwrap();
            (0..2).all(|attempt| faults.plan(seed, path, attempt).error.is_some())
        })
        .map(|req| req.window.unwrap().start())
        .collect()
}

/// A window that keeps failing stops the state at the day before it, even when later windows
/// were committed; the next run picks up from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_never_passes_a_failed_window() {
    // The second run covers 2024-03-02 (03-05 minus 3 days) to 2024-03-10. Choose a seed and
    // an error rate whose first failing window lies after 03-06, with a window after it that
    // succeeds: the state must then stop before the failure, not at the last day committed.
    let run2 = plan_at(
        "clicks",
        &range("2024-03-02", "2024-03-10"),
        noon(today()),
        None,
    );
    let (seed, faults, failing) = (1..200)
        .flat_map(|seed| {
            (1..20).map(move |i| {
                let f = Faults {
                    error_rate: f64::from(i) * 0.05,
                    ..Faults::default()
                };
                (seed, f)
            })
        })
        .map(|(seed, f)| {
            let failing = failing_days(seed, &f, &run2);
            (seed, f, failing)
        })
        .find(|(_, _, failing)| {
            failing.first().is_some_and(|first| {
                *first > day("2024-03-06")
                    && *first < day("2024-03-10")
                    && !failing.contains(&day("2024-03-10"))
            })
        })
        .expect("a seed and an error rate that fail a window in the middle of the run");
    let lake = Lake::local();
    let sandbox = cake_sandbox::Sandbox::start(cake_sandbox::SandboxConfig {
        seed,
        ..sandbox_config(Faults::default())
    })
    .await
    .unwrap();
    // Two attempts, so a window fails only when its retry fails too.
    let client = client(
        &sandbox,
        RetryPolicy {
            max_attempts: 2,
            base_delay: std::time::Duration::from_millis(1),
            max_delay: std::time::Duration::from_millis(1),
            ..RetryPolicy::default()
        },
    );
    let plan = config(&lake, &sandbox.url(), "[[report]]\nreport = \"clicks\"\n");
    let options = pull_options(WriteMode::Replace, false);
    let sink = lake.sink();
    sync(
        &client,
        &sink,
        &plan,
        false,
        noon(day("2024-03-05")),
        &options,
        false,
    )
    .await
    .into_result()
    .unwrap();
    assert_eq!(
        state(&sink, "clicks").await.committed_through,
        Some(day("2024-03-05"))
    );
    drop(sink);

    let first_failure = *failing.first().unwrap();
    sandbox.reset_stats();
    sandbox.set_faults(faults);
    let sink = lake.sink();
    let e = sync(&client, &sink, &plan, false, noon(today()), &options, false)
        .await
        .into_result()
        .unwrap_err();
    assert_eq!(e.class(), Class::Unavailable, "{e}");
    let second_run = sink.run_id().to_string();
    let replaced: BTreeSet<NaiveDate> = run_ids(&sink, &lake, "clicks")
        .await
        .into_iter()
        .filter(|(_, run)| *run == second_run)
        .map(|(p, _)| p.trim_start_matches("date=").parse().unwrap())
        .collect();
    let all: BTreeSet<NaiveDate> = run2
        .requests
        .iter()
        .map(|r| r.window.unwrap().start())
        .collect();
    // Every window before the failure was committed; after it, no new window starts, and only
    // windows already in flight (which did not fail) may have committed.
    let not_failing: BTreeSet<NaiveDate> = all.difference(&failing).copied().collect();
    assert!(
        replaced.is_subset(&not_failing),
        "a failed window was committed"
    );
    assert!(
        all.iter()
            .filter(|d| **d < first_failure)
            .all(|d| replaced.contains(d)),
        "every window before the failure was committed"
    );
    let st = state(&sink, "clicks").await;
    assert_eq!(
        st.committed_through,
        first_failure.pred_opt(),
        "the state stops before {first_failure}"
    );
    assert_eq!(
        st.last_run.as_deref(),
        Some("2024-03-05T12:00:00Z"),
        "a failed run is not a successful run"
    );
    drop(sink);

    // Without faults the next run resumes from the state minus the lookback and completes.
    sandbox.set_faults(Faults::default());
    let sink = lake.sink();
    let resumed = sync(&client, &sink, &plan, false, noon(today()), &options, false)
        .await
        .into_result()
        .unwrap();
    let resumed_from = first_failure.pred_opt().unwrap() - chrono::Days::new(3);
    assert_eq!(
        resumed[0].pull.windows[0].start.as_deref(),
        Some(resumed_from.to_string().as_str())
    );
    assert_eq!(
        state(&sink, "clicks").await.committed_through,
        Some(today())
    );
    sandbox.shutdown().await;
}

/// A dated report's options reach every window's request, and the config refuses an option
/// the report does not take before anything is sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn options_reach_the_requests_and_bad_ones_stop_early() {
    let lake = Lake::local();
    let sandbox = sandbox().await;
    let plan = config(
        &lake,
        &sandbox.url(),
        "[[report]]\nreport = \"clicks\"\noffer_id = 3\n",
    );
    assert_eq!(plan.reports[0].options.offer_id.map(|i| i.get()), Some(3));
    let client = client(&sandbox, RetryPolicy::none());
    let sink = lake.sink();
    let run = sync(
        &client,
        &sink,
        &plan,
        false,
        noon(day("2024-03-02")),
        &pull_options(WriteMode::Replace, false),
        false,
    )
    .await
    .into_result()
    .unwrap();
    let other = Lake::local();
    let all = pull(
        &client,
        &plan_at(
            "clicks",
            &range("2024-03-01", "2024-03-02"),
            noon(today()),
            None,
        ),
        &other.sink(),
        &pull_options(WriteMode::Replace, false),
    )
    .await;
    assert!(
        run[0].pull.rows < all.rows,
        "the offer filter narrows the rows ({} of {})",
        run[0].pull.rows,
        all.rows
    );
    let e = parse_config(
        "cake.toml",
        &format!(
            "[instance]\ndomain = \"{}\"\n[output]\nlocation = \"x\"\n[[report]]\nreport = \"offers\"\nstart = \"2024-03-01\"\nconversion_type = \"all\"\n",
            sandbox.url()
        ),
    )
    .unwrap_err();
    assert!(e.to_string().contains("does not take"), "{e}");
    sandbox.shutdown().await;
}

/// A report that fails does not stop the others; with `fail_fast` it does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_report_does_not_stop_the_others() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, RetryPolicy::none());
    let lake = Lake::local();
    // Clicks' table was written under another contract: the run refuses it.
    let root = std::path::PathBuf::from(&lake.location);
    std::fs::create_dir_all(root.join("clicks")).unwrap();
    std::fs::write(
        root.join("clicks/_table.json"),
        br#"{"fields": {"report": "clicks", "timezone": "Asia/Tokyo"}}"#,
    )
    .unwrap();
    let plan = config(
        &lake,
        &sandbox.url(),
        "[[report]]\nreport = \"clicks\"\n\n[[report]]\nreport = \"offers\"\n",
    );
    let options = pull_options(WriteMode::Replace, false);
    for fail_fast in [false, true] {
        let sink = lake.sink();
        let run = sync(
            &client,
            &sink,
            &plan,
            false,
            noon(today()),
            &options,
            fail_fast,
        )
        .await;
        assert_eq!(run.failures.len(), 1);
        assert_eq!(run.failures[0].table, "clicks");
        assert_eq!(run.failures[0].error.class(), Class::Usage);
        if fail_fast {
            assert!(run.synced.is_empty());
            assert_eq!(run.skipped, ["offers"]);
        } else {
            assert_eq!(run.synced.len(), 1);
            assert_eq!(run.synced[0].pull.table, "offers");
            assert!(run.synced[0].pull.rows > 0);
        }
    }
    sandbox.shutdown().await;
}
