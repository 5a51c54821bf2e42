//! The catalog's table key of every report is unique in its table, on the sandbox's data: over
//! several windows, after overlapping pulls, and across incremental syncs with month windows.

use crate::common;

use cake_catalog::{DateSemantics, Options, REPORTS};
use cake_pipeline::{parse_config, sync};
use cake_sink::WriteMode;
use cake_transport::RetryPolicy;
use common::*;

fn options_for(report: &cake_catalog::Report, start: &str, end: &str) -> Options {
    match report.dates {
        DateSemantics::None => Options::default(),
        DateSemantics::Range { .. } => range(start, end),
        DateSemantics::ChangesSince => Options {
            date: Some(day(start)),
            ..Options::default()
        },
    }
}

/// Every report, pulled over three days and then over three overlapping days: no table key
/// repeats, and summary reports (whose entities recur in every window) are unique per day.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_report_keeps_its_table_key_unique() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, RetryPolicy::none());
    let lake = Lake::local();
    let sink = lake.sink();
    let now = noon(today());
    let options = pull_options(WriteMode::Replace, false);
    let mut checked = 0;
    for report in REPORTS {
        for (start, end) in [("2024-03-01", "2024-03-03"), ("2024-03-02", "2024-03-05")] {
            let plan = plan_at(report.id, &options_for(report, start, end), now, None);
            pull(&client, &plan, &sink, &options).await;
        }
        let keys = table_keys(&sink, &lake, report).await;
        assert!(!keys.is_empty(), "{}: no rows", report.id);
        assert_eq!(
            repeated(&keys),
            Vec::<String>::new(),
            "{}: {:?}",
            report.id,
            report.table_key
        );
        if report.table_key.contains(&cake_catalog::PARTITION_DAY) {
            // The entity alone does recur: the day is what makes the key unique.
            let entity: Vec<String> = keys
                .iter()
                .map(|k| {
                    k.split_once(" | ")
                        .map_or(k.clone(), |(_, rest)| rest.to_string())
                })
                .collect();
            assert!(
                !repeated(&entity).is_empty(),
                "{}: no entity recurs",
                report.id
            );
        }
        checked += 1;
    }
    assert_eq!(checked, 37);
    // Exchange rates: a rate period belongs to every day window it overlaps; two overlapping
    // ranges keep each period once per day.
    let rates = report("exchange-rates");
    let mut planned = std::collections::BTreeSet::new();
    for (start, end) in [("2024-02-01", "2024-02-10"), ("2024-02-05", "2024-03-14")] {
        let plan = plan_at(rates.id, &range(start, end), now, None);
        for r in &plan.requests {
            let w = r.window.expect("a window");
            assert_eq!(
                w.start().succ_opt(),
                Some(w.end()),
                "one request per day window"
            );
            planned.insert(format!("date={}", w.start()));
        }
        pull(&client, &plan, &sink, &options).await;
    }
    let keys = table_keys(&sink, &lake, rates).await;
    assert_eq!(repeated(&keys), Vec::<String>::new());
    let days: std::collections::BTreeSet<String> = keys
        .iter()
        .filter_map(|k| k.split(" | ").next())
        .map(str::to_string)
        .collect();
    assert_eq!(
        days, planned,
        "every day asked for holds the rates in effect that day"
    );
    sandbox.shutdown().await;
}

/// Month windows, synced twice on the same day: whole months replaced, no click twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn month_windows_synced_twice_never_overlap() {
    let sandbox = sandbox().await;
    let client = client(&sandbox, RetryPolicy::none());
    let lake = Lake::local();
    let text = format!(
        "[instance]\ndomain = \"{}\"\n\n[output]\nlocation = \"{}\"\nwindow = \"month\"\n\n\
         [defaults]\nstart = \"2024-01-20\"\nlookback_days = 2\n\n[[report]]\nreport = \"clicks\"\n",
        sandbox.url(),
        lake.location
    );
    let plan = parse_config("cake.toml", &text).unwrap();
    let options = pull_options(WriteMode::Replace, false);
    let clicks = report("clicks");
    let mut partitions = Vec::new();
    for run in 0..2 {
        let sink = lake.sink();
        let synced = sync(&client, &sink, &plan, false, noon(today()), &options, false)
            .await
            .into_result()
            .unwrap();
        partitions = synced[0]
            .pull
            .windows
            .iter()
            .map(|w| w.path.clone())
            .collect();
        let keys = table_keys(&sink, &lake, clicks).await;
        assert_eq!(repeated(&keys), Vec::<String>::new(), "run {run}");
    }
    // The second run's lookback reached back to the first of the month: whole months only.
    assert_eq!(partitions, ["clicks/date=2024-03-01"]);
    let all: Vec<String> = lake
        .objects_in("clicks")
        .into_iter()
        .filter_map(|o| o.strip_suffix("/_SUCCESS").map(str::to_string))
        .collect();
    assert_eq!(
        all,
        ["date=2024-01-01", "date=2024-02-01", "date=2024-03-01"]
    );
    sandbox.shutdown().await;
}
