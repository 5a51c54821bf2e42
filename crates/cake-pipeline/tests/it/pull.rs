//! `pull` from the sandbox into a local directory and into S3 (moto): the hive layout, rows
//! equal to the sandbox's, the catalog's schema in every file, footer metadata without the
//! key, empty windows, idempotent re-runs, append mode, and raw responses that replay.

use crate::common;

use std::collections::BTreeMap;

use cake_catalog::Options;
use cake_sink::WriteMode;
use cake_transport::RetryPolicy;
use common::*;

/// Clicks for three days and the Offers snapshot, pulled, checked, pulled again (same rows,
/// same files), then appended to.
async fn dated_and_undated(lake: &Lake) {
    let sandbox = sandbox().await;
    let client = client(&sandbox, RetryPolicy::none());
    let now = noon(today());
    let clicks = plan_at("clicks", &range("2024-03-07", "2024-03-09"), now, None);
    let offers = plan_at("offers", &Options::default(), now, None);
    let replace = pull_options(WriteMode::Replace, false);

    let sink = lake.sink();
    let c = pull(&client, &clicks, &sink, &replace).await;
    let o = pull(&client, &offers, &sink, &replace).await;
    assert_eq!(c.windows.len(), 3);
    assert_eq!(o.windows.len(), 1);
    // Each pull leaves its run record in `_runs/` (what `status` reads).
    let expected_layout = [
        "_runs/clicks.json",
        "_runs/offers.json",
        "clicks/_table.json",
        "clicks/date=2024-03-07/_SUCCESS",
        "clicks/date=2024-03-07/part-00000.parquet",
        "clicks/date=2024-03-08/_SUCCESS",
        "clicks/date=2024-03-08/part-00000.parquet",
        "clicks/date=2024-03-09/_SUCCESS",
        "clicks/date=2024-03-09/part-00000.parquet",
        "offers/_SUCCESS",
        "offers/_table.json",
        "offers/part-00000.parquet",
    ];
    // While the sink is open, its staging directory may exist, but it holds no file.
    assert_eq!(layout(lake), expected_layout);

    // Rows: what the sandbox holds for each window, asked for without the connector.
    for (plan, summary) in [(&clicks, &c), (&offers, &o)] {
        let report = plan.report;
        for (request, window) in plan.requests.iter().zip(&summary.windows) {
            let partition = cake_pipeline::partition_of(plan, request.window);
            assert_eq!(
                window.path,
                partition
                    .as_ref()
                    .map_or(report.id.to_string(), |p| format!("{}/{p}", report.id))
            );
            let files = read_partition(&sink, report, partition.as_deref()).await;
            assert_eq!(files.len(), 1);
            let mut got = row_strings(&files[0].batches);
            let mut want = sandbox_rows(sandbox.config(), plan, request);
            assert!(!want.is_empty(), "{}: the sandbox has rows", window.path);
            assert_eq!(window.rows, want.len() as u64);
            assert_eq!(files[0].rows, want.len() as u64);
            got.sort();
            want.sort();
            assert!(got == want, "{}: the rows are the sandbox's", window.path);

            // Footer metadata: what, when, from where; never the key.
            let meta: BTreeMap<&str, &str> = files[0]
                .metadata
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            assert_eq!(meta["cake.report"], report.id);
            assert_eq!(
                meta["cake.api_version"],
                report.endpoint.version.to_string()
            );
            assert_eq!(meta["cake.connector_version"], env!("CARGO_PKG_VERSION"));
            assert_eq!(meta["cake.timezone"], "UTC");
            assert!(meta["cake.pulled_at"].ends_with('Z'), "{meta:?}");
            if let Some(w) = request.window {
                assert_eq!(meta["cake.window_start"], w.start().to_string());
                assert_eq!(meta["cake.window_end_exclusive"], w.end().to_string());
            } else {
                assert!(!meta.contains_key("cake.window_start"));
            }
            for (k, v) in &meta {
                assert!(!v.contains(KEY) && !k.contains(KEY), "{k} holds the key");
            }
        }
    }
    assert_eq!(c.rows, 600, "200 clicks a day in the sandbox");
    assert_no_key_anywhere(&sink, lake).await;

    // The same pull again: the same rows, the same files, nothing more.
    let clicks_rows = table_rows(&sink, lake, clicks.report).await;
    let offers_rows = table_rows(&sink, lake, offers.report).await;
    drop(sink);
    let sink = lake.sink();
    pull(&client, &clicks, &sink, &replace).await;
    pull(&client, &offers, &sink, &replace).await;
    drop(sink);
    assert_eq!(layout(lake), expected_layout, "a re-run adds no file");
    let sink = lake.sink();
    assert!(table_rows(&sink, lake, clicks.report).await == clicks_rows);
    assert!(table_rows(&sink, lake, offers.report).await == offers_rows);

    // Append adds a file per window beside the old one: twice the rows.
    let append = pull_options(WriteMode::Append, false);
    let a = pull(&client, &clicks, &sink, &append).await;
    assert_eq!(a.rows, 600);
    for day in ["2024-03-07", "2024-03-08", "2024-03-09"] {
        let files = read_partition(&sink, clicks.report, Some(&format!("date={day}"))).await;
        assert_eq!(files.len(), 2, "{day}");
        assert_eq!(files.iter().map(|f| f.rows).sum::<u64>(), 400, "{day}");
        assert_eq!(files[0].name, "part-00000.parquet");
        assert!(files[1].name.starts_with("part-"), "{}", files[1].name);
    }
    let mut doubled: Vec<String> = clicks_rows.iter().chain(&clicks_rows).cloned().collect();
    doubled.sort();
    assert!(table_rows(&sink, lake, clicks.report).await == doubled);
    // And a replace brings the partition back to one file.
    pull(&client, &clicks, &sink, &replace).await;
    drop(sink);
    assert_eq!(layout(lake), expected_layout);
    sandbox.shutdown().await;
}

/// A window without rows still gets one file with the full schema, and a manifest of 0 rows.
async fn empty_window(lake: &Lake) {
    let sandbox = sandbox().await;
    let client = client(&sandbox, RetryPolicy::none());
    // More than three years before the sandbox's today: no data there.
    let plan = plan_at(
        "conversions",
        &range("2020-06-01", "2020-06-01"),
        noon(today()),
        None,
    );
    let sink = lake.sink();
    let s = pull(
        &client,
        &plan,
        &sink,
        &pull_options(WriteMode::Replace, false),
    )
    .await;
    assert_eq!((s.rows, s.windows.len()), (0, 1));
    assert!(sandbox_rows(sandbox.config(), &plan, &plan.requests[0]).is_empty());
    let files = read_partition(&sink, plan.report, Some("date=2020-06-01")).await;
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].rows, 0);
    let manifest = sink
        .manifest("conversions", Some("date=2020-06-01"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(manifest.rows, 0);
    drop(sink);
    assert_eq!(
        layout(lake),
        [
            "_runs/conversions.json",
            "conversions/_table.json",
            "conversions/date=2020-06-01/_SUCCESS",
            "conversions/date=2020-06-01/part-00000.parquet"
        ]
    );
    sandbox.shutdown().await;
}

/// `keep_raw`: each page's body, zstd-compressed and without the key, under `_raw/<report>/`;
/// decoding those files gives the rows of the Parquet output.
async fn raw_responses_replay(lake: &Lake) {
    let sandbox = sandbox().await;
    let client = client(&sandbox, RetryPolicy::none());
    // 75 rows a page: 200 clicks make three pages.
    let clicks = plan_at(
        "clicks",
        &range("2024-03-08", "2024-03-08"),
        noon(today()),
        Some(75),
    );
    let offers = plan_at("offers", &Options::default(), noon(today()), None);
    let sink = lake.sink();
    let options = pull_options(WriteMode::Replace, true);
    let c = pull(&client, &clicks, &sink, &options).await;
    assert_eq!(c.windows[0].pages, 3);
    pull(&client, &offers, &sink, &options).await;
    let run = sink.run_id().to_string();
    let raw: Vec<String> = lake
        .objects()
        .into_iter()
        .filter(|o| o.starts_with("_raw/"))
        .collect();
    assert_eq!(
        raw,
        [
            format!("_raw/clicks/date=2024-03-08/{run}-page-00001.xml.zst"),
            format!("_raw/clicks/date=2024-03-08/{run}-page-00002.xml.zst"),
            format!("_raw/clicks/date=2024-03-08/{run}-page-00003.xml.zst"),
            format!("_raw/offers/snapshot/{run}-page-00001.xml.zst"),
        ]
    );
    assert_no_key_anywhere(&sink, lake).await;
    for (plan, prefix, partition) in [
        (&clicks, "_raw/clicks/", Some("date=2024-03-08")),
        (&offers, "_raw/offers/", None),
    ] {
        let mut replayed = Vec::new();
        for object in raw.iter().filter(|o| o.starts_with(prefix)) {
            let zst = sink.store().get_bytes(object).await.unwrap().unwrap();
            let xml = zstd::stream::decode_all(zst.as_slice()).unwrap();
            cake_arrow::decode_reader(
                plan.report,
                cake_arrow::DecoderOptions::default(),
                xml.as_slice(),
                |b| {
                    replayed.push(b);
                    Ok::<(), cake_arrow::DecodeError>(())
                },
            )
            .unwrap();
        }
        let files = read_partition(&sink, plan.report, partition).await;
        let parquet: Vec<String> = files.iter().flat_map(|f| row_strings(&f.batches)).collect();
        assert!(!parquet.is_empty());
        assert!(
            row_strings(&replayed) == parquet,
            "{prefix}: the raw responses decode to the Parquet rows, in order"
        );
    }
    sandbox.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_dated_and_undated() {
    dated_and_undated(&Lake::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_empty_window() {
    empty_window(&Lake::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_raw_responses_replay() {
    raw_responses_replay(&Lake::local()).await;
}

/// The same checks on S3, one moto server for all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_pulls() {
    let Some(moto) = moto("s3_pulls") else {
        return;
    };
    dated_and_undated(&Lake::s3(&moto, "lake", "dated-and-undated")).await;
    empty_window(&Lake::s3(&moto, "lake", "empty-window")).await;
    raw_responses_replay(&Lake::s3(&moto, "lake", "raw")).await;
}

/// The objects of a location without the run history (`_runs/<table>/<instant>.json`, named
/// by when each run ended): each table's history holds one entry per recorded run.
fn layout(lake: &Lake) -> Vec<String> {
    let objects = lake.objects();
    let history: Vec<&String> = objects
        .iter()
        .filter(|o| o.starts_with("_runs/") && o.matches('/').count() == 2)
        .collect();
    for entry in &history {
        assert!(entry.ends_with(".json"), "{entry}");
    }
    objects
        .iter()
        .filter(|o| !history.contains(o))
        .cloned()
        .collect()
}
