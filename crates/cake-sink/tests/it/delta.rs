//! Delta Lake output (`Format::Delta`), on a local directory and on S3 (moto): commits are read
//! back with the Delta kernel's own scan, independently of the sink, at the latest version
//! and at older ones.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};

use arrow_array::{
    Array, ArrayRef, Date32Array, Decimal128Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cake_sink::{
    CommitHooks, ContractCheck, Format, Sink, SinkError, SinkOptions, Store, TableContract,
    WriteMode,
};
use common::moto::Moto;
use common::Lake;
use delta_kernel::engine::arrow_data::EngineDataArrowExt;
use delta_kernel::Snapshot;
use delta_kernel_default_engine::DefaultEngineBuilder;

const TABLE: &str = "events";
const DAY: &str = "date=2024-01-31";
const DAY2: &str = "date=2024-02-01";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
        Field::new(
            "at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("amount", DataType::Decimal128(19, 4), true),
        Field::new("day", DataType::Date32, true),
    ]))
}

/// Rows `from..from + n`.
fn batch(from: i64, n: i64) -> RecordBatch {
    let ids: Vec<i64> = (from..from + n).collect();
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(StringArray::from_iter(
            ids.iter().map(|i| (i % 5 != 0).then(|| format!("row {i}"))),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(
                ids.iter().map(|i| 1_706_659_200_000_000 + i * 1_000_001),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(
            Decimal128Array::from_iter_values(ids.iter().map(|i| i128::from(*i) * 12_345))
                .with_precision_and_scale(19, 4)
                .unwrap(),
        ),
        Arc::new(Date32Array::from_iter_values(
            ids.iter().map(|i| 19_700 + (*i as i32 % 30)),
        )),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

fn delta() -> SinkOptions {
    SinkOptions {
        format: Format::Delta,
        ..SinkOptions::default()
    }
}

fn contract(fields: &[(&str, &str)]) -> TableContract {
    TableContract::new(fields.iter().copied())
}

async fn commit(
    sink: &Sink,
    partition: Option<&str>,
    ranges: &[(i64, i64)],
    mode: WriteMode,
) -> Result<cake_sink::Committed, SinkError> {
    let mut w = sink
        .partition(
            TABLE,
            partition,
            schema(),
            vec![("cake.window_start".into(), "2024-01-31".into())],
        )
        .unwrap();
    for (from, n) in ranges {
        w.write(&batch(*from, *n)).unwrap();
    }
    w.commit(mode).await
}

/// A writer in a thread of its own (another run, another process as far as the table can
/// tell): a fresh sink on the same location commits `ranges` to `partition`.
fn other_run(store: &Store, partition: &'static str, ranges: Vec<(i64, i64)>, mode: WriteMode) {
    let store = store.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let sink = Sink::open_store(store, delta()).unwrap();
            commit(&sink, Some(partition), &ranges, mode).await.unwrap();
        });
    })
    .join()
    .unwrap();
}

/// The table's root URL and an engine of the test's own (not the sink's).
fn reader(t: &Lake) -> (url::Url, Arc<dyn delta_kernel::Engine>) {
    let store = t.store();
    let url = match store.local_root() {
        Some(root) => url::Url::from_directory_path(root.join(TABLE)).unwrap(),
        None => url::Url::parse(&format!("{}/{TABLE}/", store.display())).unwrap(),
    };
    let engine = DefaultEngineBuilder::new(store.object_store()).build();
    (url, Arc::new(engine))
}

/// What the kernel reads: `(version, (partition date, id) of every row, sorted)`.
async fn read(t: &Lake, version: Option<u64>) -> (u64, Vec<(Option<i32>, i64)>, SchemaRef) {
    let (url, engine) = reader(t);
    tokio::task::spawn_blocking(move || {
        let mut builder = Snapshot::builder_for(url.as_str());
        if let Some(v) = version {
            builder = builder.at_version(v);
        }
        let snapshot = builder.build(engine.as_ref()).unwrap();
        let version = snapshot.version();
        let scan = snapshot.scan_builder().build().unwrap();
        let mut rows = Vec::new();
        let mut schema = None;
        for data in scan.execute(engine.clone()).unwrap() {
            let batch = data.try_into_record_batch().unwrap();
            schema.get_or_insert(batch.schema());
            let ids = batch
                .column_by_name("id")
                .unwrap()
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .clone();
            let dates = batch
                .column_by_name("date")
                .unwrap()
                .as_any()
                .downcast_ref::<Date32Array>()
                .unwrap()
                .clone();
            for i in 0..batch.num_rows() {
                rows.push((dates.is_valid(i).then(|| dates.value(i)), ids.value(i)));
            }
        }
        rows.sort();
        (
            version,
            rows,
            schema.unwrap_or_else(|| Arc::new(Schema::empty())),
        )
    })
    .await
    .unwrap()
}

/// `date=2024-01-31` as days since the epoch.
const D31: i32 = 19_753;
const D01: i32 = 19_754;

fn rows(date: i32, from: i64, n: i64) -> Vec<(Option<i32>, i64)> {
    (from..from + n).map(|i| (Some(date), i)).collect()
}

fn sorted(mut v: Vec<(Option<i32>, i64)>) -> Vec<(Option<i32>, i64)> {
    v.sort();
    v
}

/// The log's entries (`00000000000000000000.json`, ...).
fn log(t: &Lake) -> Vec<String> {
    t.objects_in(&format!("{TABLE}/_delta_log"))
}

async fn commits(t: &Lake) -> Vec<serde_json::Value> {
    let store = t.store();
    let mut out = Vec::new();
    for name in log(t) {
        if !name.ends_with(".json") || name.contains('/') {
            continue;
        }
        let bytes = store
            .get_bytes(&format!("{TABLE}/_delta_log/{name}"))
            .await
            .unwrap()
            .unwrap();
        out.push(serde_json::Value::Array(
            String::from_utf8(bytes)
                .unwrap()
                .lines()
                .map(|l| serde_json::from_str(l).unwrap())
                .collect(),
        ));
    }
    out
}

/// The actions of one kind in a commit.
fn actions<'a>(commit: &'a serde_json::Value, kind: &str) -> Vec<&'a serde_json::Value> {
    commit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|a| a.get(kind))
        .collect()
}

// ---------------------------------------------------------------------------------------
// The checks.

/// Create, replace, append: each commit is one version; the kernel reads the rows of the last
/// one, with the catalog's types and `date` as a DATE partition column; the first version
/// holds the protocol, the schema, the partitioning and the contract.
async fn create_replace_append(t: &Lake) {
    let sink = t.sink_with(delta());
    let c = contract(&[("report", "events"), ("timezone", "UTC")]);
    assert_eq!(
        sink.open_table(TABLE, &c, false).await.unwrap(),
        ContractCheck::Created
    );
    assert!(t.objects().is_empty(), "nothing is written before a commit");
    let first = commit(&sink, Some(DAY), &[(0, 100), (100, 50)], WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(first.rows, 150);
    assert_eq!(first.path, format!("{TABLE}/{DAY}"));
    commit(&sink, Some(DAY2), &[(500, 10)], WriteMode::Replace)
        .await
        .unwrap();
    let (version, got, read_schema) = read(t, None).await;
    assert_eq!(version, 1);
    assert_eq!(
        got,
        sorted([rows(D31, 0, 150), rows(D01, 500, 10)].concat())
    );
    let types: Vec<(String, DataType)> = read_schema
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    let mut want: Vec<(String, DataType)> = schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect();
    want.push(("date".into(), DataType::Date32));
    assert_eq!(types, want);

    // Replace: the partition holds the new rows only; the other partition is untouched.
    let second = commit(&sink, Some(DAY), &[(1000, 10)], WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(second.manifest.rows, 10);
    // Append: new rows join.
    let third = commit(&sink, Some(DAY), &[(2000, 5)], WriteMode::Append)
        .await
        .unwrap();
    assert_eq!(third.rows, 5);
    assert_eq!(
        third.manifest.rows, 15,
        "rows of the partition after the append"
    );
    assert_eq!(third.manifest.files.len(), 2);
    let (version, got, _) = read(t, None).await;
    assert_eq!(version, 3);
    assert_eq!(
        got,
        sorted([rows(D31, 1000, 10), rows(D31, 2000, 5), rows(D01, 500, 10)].concat())
    );
    assert_eq!(sink.partitions(TABLE).await.unwrap(), [DAY, DAY2]);

    // The log: version 0 creates the table; each version is one commit with its run's facts.
    let log = commits(t).await;
    assert_eq!(log.len(), 4);
    let protocol = actions(&log[0], "protocol");
    assert_eq!(protocol.len(), 1);
    // The kernel creates tables with table features (reader 3, writer 7), no reader feature;
    // a non-null column adds the `invariants` writer feature.
    assert_eq!(protocol[0]["minReaderVersion"], 3, "{}", protocol[0]);
    assert_eq!(protocol[0]["minWriterVersion"], 7, "{}", protocol[0]);
    assert_eq!(protocol[0]["readerFeatures"], serde_json::json!([]));
    let metadata = actions(&log[0], "metaData");
    assert_eq!(metadata[0]["partitionColumns"], serde_json::json!(["date"]));
    assert_eq!(metadata[0]["configuration"]["cake.report"], "events");
    assert_eq!(metadata[0]["configuration"]["cake.timezone"], "UTC");
    let schema_string: serde_json::Value =
        serde_json::from_str(metadata[0]["schemaString"].as_str().unwrap()).unwrap();
    let at = &schema_string["fields"][2];
    assert_eq!(
        at["type"], "timestamp",
        "timestamps carry a time zone: {at}"
    );
    assert_eq!(schema_string["fields"][3]["type"], "decimal(19,4)");
    assert_eq!(schema_string["fields"][5]["type"], "date");
    let info = actions(&log[2], "commitInfo");
    assert_eq!(info[0]["operation"], "WRITE");
    assert_eq!(info[0]["operationParameters"]["mode"], "Overwrite");
    assert_eq!(info[0]["operationParameters"]["partition"], DAY);
    assert_eq!(info[0]["operationParameters"]["cake.run_id"], sink.run_id());
    assert_eq!(
        info[0]["operationParameters"]["cake.window_start"],
        "2024-01-31"
    );
    assert_eq!(info[0]["operationMetrics"]["numOutputRows"], "10");
    assert_eq!(info[0]["operationMetrics"]["numRemovedFiles"], "1");
    assert_eq!(
        actions(&log[2], "remove").len(),
        1,
        "the replace removed the old file"
    );
    assert_eq!(actions(&log[2], "add").len(), 1);
    assert_eq!(
        actions(&log[2], "txn").len(),
        1,
        "every commit has its transaction id"
    );
    assert_eq!(
        actions(&log[3], "remove").len(),
        0,
        "an append removes nothing"
    );
    let add = actions(&log[3], "add")[0];
    assert_eq!(add["partitionValues"]["date"], "2024-01-31");
    assert!(add["path"]
        .as_str()
        .unwrap()
        .starts_with("date=2024-01-31/part-"));
    let stats: serde_json::Value = serde_json::from_str(add["stats"].as_str().unwrap()).unwrap();
    assert_eq!(stats["numRecords"], 5);
}

/// A rerun of the same window (a new run) replaces it: the same rows, not twice.
async fn rerun_replaces(t: &Lake) {
    for _ in 0..2 {
        let sink = t.sink_with(delta());
        commit(&sink, Some(DAY), &[(0, 20)], WriteMode::Replace)
            .await
            .unwrap();
    }
    let (version, got, _) = read(t, None).await;
    assert_eq!(version, 1);
    assert_eq!(got, rows(D31, 0, 20));
    // An unpartitioned table: replace swaps all its files.
    let sink = t.sink_with(delta());
    for from in [0, 7] {
        let mut w = sink
            .partition("lookup", None, schema(), Vec::new())
            .unwrap();
        w.write(&batch(from, 3)).unwrap();
        w.commit(WriteMode::Replace).await.unwrap();
    }
    // An empty partition is one file of 0 rows: the partition exists and is empty.
    let empty = commit(&sink, Some(DAY2), &[], WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!((empty.rows, empty.manifest.files.len()), (0, 1));
    let (_, got, _) = read(t, None).await;
    assert_eq!(got, rows(D31, 0, 20));
    assert_eq!(sink.partitions(TABLE).await.unwrap(), [DAY, DAY2]);
    // A commit must match the table's partitioning.
    let e = commit(&sink, None, &[(0, 1)], WriteMode::Replace)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("partitioned by (date)"), "{e}");
    // And its columns: files of another schema are refused, and their files removed again.
    let narrow = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let mut w = sink
        .partition(TABLE, Some(DAY), narrow.clone(), Vec::new())
        .unwrap();
    w.write(&RecordBatch::try_new(narrow, vec![Arc::new(Int64Array::from(vec![1]))]).unwrap())
        .unwrap();
    let e = w.commit(WriteMode::Replace).await.unwrap_err();
    assert!(e.to_string().contains("has the columns"), "{e}");
    let (_, got, _) = read(t, None).await;
    assert_eq!(got, rows(D31, 0, 20));
}

/// Two runs committing different partitions at the same time: every commit lands.
async fn concurrent_writers_of_different_partitions(t: &Lake) {
    let barrier = Arc::new(Barrier::new(2));
    let writers: Vec<_> = [(DAY, 0), (DAY2, 1000)]
        .into_iter()
        .map(|(partition, base)| {
            let store = t.store();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap();
                rt.block_on(async move {
                    let sink = Sink::open_store(store, delta()).unwrap();
                    barrier.wait();
                    for k in 0..4 {
                        commit(
                            &sink,
                            Some(partition),
                            &[(base + k * 10, 10)],
                            WriteMode::Append,
                        )
                        .await
                        .unwrap();
                    }
                });
            })
        })
        .collect();
    for w in writers {
        w.join().unwrap();
    }
    let (version, got, _) = read(t, None).await;
    assert_eq!(version, 7, "eight commits, versions 0 to 7");
    assert_eq!(
        got,
        sorted([rows(D31, 0, 40), rows(D01, 1000, 40)].concat())
    );
}

/// Counts reads and runs `on_read` on the chosen ones.
struct Interleave {
    reads: AtomicUsize,
    on_read: Box<dyn Fn(usize) + Send + Sync>,
}

impl CommitHooks for Interleave {
    fn delta_read(&self, _table: &str, _partition: Option<&str>, _version: Option<u64>) {
        let n = self.reads.fetch_add(1, Ordering::SeqCst);
        (self.on_read)(n);
    }
}

/// A sink whose commits call `on_read(n, store)` at their `n`-th read of the table (from 0),
/// with the counting hooks to look at afterwards.
fn interleaved(
    t: &Lake,
    on_read: impl Fn(usize, &Store) + Send + Sync + 'static,
) -> (Sink, Arc<Interleave>) {
    let other = t.store();
    let hooks = Arc::new(Interleave {
        reads: AtomicUsize::new(0),
        on_read: Box::new(move |n| on_read(n, &other)),
    });
    let sink = t.sink_with(SinkOptions {
        hooks: Some(hooks.clone()),
        ..delta()
    });
    (sink, hooks)
}

/// A commit whose snapshot went stale (another run replaced the same partition after it read
/// the table) finds its version taken, reads the table again and redoes its commit on the new
/// snapshot, removing the other run's files: one winner, never both sets of files.
async fn stale_snapshot_is_redone(t: &Lake) {
    let first = t.sink_with(delta());
    commit(&first, Some(DAY), &[(0, 10)], WriteMode::Replace)
        .await
        .unwrap();
    let (sink, hooks) = interleaved(t, |n, other| {
        if n == 0 {
            other_run(other, DAY, vec![(100, 10)], WriteMode::Replace);
        }
    });
    commit(&sink, Some(DAY), &[(200, 10)], WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(hooks.reads.load(Ordering::SeqCst), 2, "one redo");
    let (version, got, _) = read(t, None).await;
    assert_eq!(version, 2);
    assert_eq!(got, rows(D31, 200, 10));
    // The other run's version is in the history, whole.
    let (_, between, _) = read(t, Some(1)).await;
    assert_eq!(between, rows(D31, 100, 10));
    let log = commits(t).await;
    assert_eq!(
        actions(&log[2], "remove").len(),
        1,
        "the redo removed the other run's file"
    );

    // Another partition committed meanwhile: the redo keeps it (both land).
    let (sink, hooks) = interleaved(t, |n, other| {
        if n == 0 {
            other_run(other, DAY2, vec![(700, 3)], WriteMode::Replace);
        }
    });
    commit(&sink, Some(DAY), &[(200, 10)], WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(hooks.reads.load(Ordering::SeqCst), 2, "one redo");
    let (version, got, _) = read(t, None).await;
    assert_eq!(version, 4);
    assert_eq!(
        got,
        sorted([rows(D31, 200, 10), rows(D01, 700, 3)].concat())
    );

    // An append on a stale snapshot is redone too, and keeps the other run's rows.
    let (sink, _) = interleaved(t, |n, other| {
        if n == 0 {
            other_run(other, DAY, vec![(300, 5)], WriteMode::Append);
        }
    });
    commit(&sink, Some(DAY), &[(400, 5)], WriteMode::Append)
        .await
        .unwrap();
    let (_, got, _) = read(t, None).await;
    assert_eq!(
        got,
        sorted(
            [
                rows(D31, 200, 10),
                rows(D31, 300, 5),
                rows(D31, 400, 5),
                rows(D01, 700, 3)
            ]
            .concat()
        )
    );
}

/// A commit that loses every race gives up after a bounded number of attempts with a clear
/// error; the partition holds the other run's last files only, and this run's uploaded files
/// are removed again.
async fn endless_conflicts_are_refused(t: &Lake) {
    let first = t.sink_with(delta());
    commit(&first, Some(DAY), &[(0, 10)], WriteMode::Replace)
        .await
        .unwrap();
    let (sink, hooks) = interleaved(t, |n, other| {
        let ranges = vec![(1000 + n as i64 * 10, 10)];
        other_run(other, DAY, ranges, WriteMode::Replace);
    });
    let e = commit(&sink, Some(DAY), &[(500, 10)], WriteMode::Replace)
        .await
        .unwrap_err();
    let attempts = hooks.reads.load(Ordering::SeqCst);
    assert!(matches!(e, SinkError::Conflict { .. }), "{e}");
    let message = e.to_string();
    assert!(
        message.contains(&format!("after {attempts} attempts")) && message.contains("run again"),
        "{message}"
    );
    let (_, got, _) = read(t, None).await;
    assert_eq!(got, rows(D31, 1000 + (attempts as i64 - 1) * 10, 10));
    let run = sink.run_id().to_string();
    assert!(
        !t.objects().iter().any(|o| o.contains(&run)),
        "the refused commit's files are gone: {:?}",
        t.objects()
    );
}

/// Pretends the answer to a commit that landed was lost.
struct LoseFirstAnswer(AtomicUsize);

impl CommitHooks for LoseFirstAnswer {
    fn delta_lose_response(&self, _table: &str, _partition: Option<&str>) -> bool {
        self.0.fetch_add(1, Ordering::SeqCst) == 0
    }
}

/// A commit whose answer was lost is retried; its transaction id is then found in the table,
/// so it is not applied twice (an append would double its rows).
async fn transaction_ids_apply_once(t: &Lake) {
    let sink = t.sink_with(delta());
    commit(&sink, Some(DAY), &[(0, 10)], WriteMode::Replace)
        .await
        .unwrap();
    let hooks = Arc::new(LoseFirstAnswer(AtomicUsize::new(0)));
    let lossy = t.sink_with(SinkOptions {
        hooks: Some(hooks.clone()),
        ..delta()
    });
    let c = commit(&lossy, Some(DAY), &[(10, 5)], WriteMode::Append)
        .await
        .unwrap();
    assert_eq!(c.rows, 5);
    assert_eq!(hooks.0.load(Ordering::SeqCst), 1, "one commit written");
    let (version, got, _) = read(t, None).await;
    assert_eq!(version, 1, "the retry found its commit and wrote no other");
    assert_eq!(got, rows(D31, 0, 15));
    let log = commits(t).await;
    let txn = actions(&log[1], "txn");
    assert_eq!(txn.len(), 1);
    let app_id = txn[0]["appId"].as_str().unwrap();
    assert!(
        app_id.starts_with(&format!("cake/{TABLE}/{DAY}/{}/", lossy.run_id())),
        "{app_id}"
    );
}

/// The contract lives in the table's properties: the same one matches, another is refused
/// with the differing fields and leaves the table as it was; a rebuild deletes the table and
/// the next commit creates it again under the new contract. A Parquet run on a Delta table,
/// and a Delta run on a Parquet table, are refused as another format.
async fn contracts(t: &Lake) {
    let a = contract(&[("report", "events"), ("timezone", "UTC")]);
    let b = contract(&[("report", "events"), ("timezone", "America/New_York")]);
    let sink = t.sink_with(delta());
    sink.open_table(TABLE, &a, false).await.unwrap();
    commit(&sink, Some(DAY), &[(0, 10)], WriteMode::Replace)
        .await
        .unwrap();
    assert_eq!(sink.table_contract(TABLE).await.unwrap(), Some(a.clone()));
    let again = t.sink_with(delta());
    assert_eq!(
        again.open_table(TABLE, &a, false).await.unwrap(),
        ContractCheck::Matches
    );
    let other = t.sink_with(delta());
    let e = other.open_table(TABLE, &b, false).await.unwrap_err();
    let message = e.to_string();
    assert!(
        matches!(e, SinkError::ContractMismatch { .. })
            && message.contains("timezone: the table has UTC, this run America/New_York"),
        "{message}"
    );
    let before = t.objects();
    let parquet = t.sink();
    let e = parquet.open_table(TABLE, &a, false).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("format: the table has delta, this run parquet"),
        "{e}"
    );
    assert!(parquet.table_contract(TABLE).await.unwrap().is_some());
    assert_eq!(t.objects(), before, "refusals change nothing");

    // Rebuild under b: the table goes, and comes back with b at the next commit.
    assert_eq!(
        other.open_table(TABLE, &b, true).await.unwrap(),
        ContractCheck::Rebuilt
    );
    assert!(t.objects_in(TABLE).is_empty(), "{:?}", t.objects());
    commit(&other, Some(DAY2), &[(50, 5)], WriteMode::Replace)
        .await
        .unwrap();
    let (version, got, _) = read(t, None).await;
    assert_eq!((version, got), (0, rows(D01, 50, 5)));
    assert_eq!(other.table_contract(TABLE).await.unwrap(), Some(b.clone()));
    // The first run opened the table under a: its next commit is refused.
    let e = commit(&sink, Some(DAY), &[(0, 1)], WriteMode::Replace)
        .await
        .unwrap_err();
    assert!(matches!(e, SinkError::ContractMismatch { .. }), "{e}");
    let (version, _, _) = read(t, None).await;
    assert_eq!(version, 0);

    // A Parquet table is refused by a Delta run, and rebuilt as a Delta table on request.
    let parquet = t.sink();
    parquet.open_table("plain", &a, false).await.unwrap();
    let mut w = parquet
        .partition("plain", Some(DAY), schema(), Vec::new())
        .unwrap();
    w.write(&batch(0, 3)).unwrap();
    w.commit(WriteMode::Replace).await.unwrap();
    let sink = t.sink_with(delta());
    assert!(sink.table_contract("plain").await.unwrap().is_some());
    let e = sink.open_table("plain", &a, false).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("format: the table has parquet, this run delta"),
        "{e}"
    );
    assert_eq!(
        sink.open_table("plain", &a, true).await.unwrap(),
        ContractCheck::Rebuilt
    );
    assert!(t.objects_in("plain").is_empty(), "{:?}", t.objects());
}

/// Time travel: every version stays readable, before and after checkpoints (one every two
/// commits here), which the kernel writes.
async fn time_travel(t: &Lake) {
    let sink = t.sink_with(SinkOptions {
        checkpoint_interval: 2,
        ..delta()
    });
    for k in 0..5 {
        commit(&sink, Some(DAY), &[(k * 100, 10 + k)], WriteMode::Replace)
            .await
            .unwrap();
    }
    let log = log(t);
    assert!(
        log.iter().any(|n| n.ends_with(".checkpoint.parquet"))
            && log.contains(&"_last_checkpoint".to_string()),
        "{log:?}"
    );
    for k in 0..5u64 {
        let (version, got, _) = read(t, Some(k)).await;
        assert_eq!(version, k);
        assert_eq!(got, rows(D31, k as i64 * 100, 10 + k as i64), "version {k}");
    }
    let (version, got, _) = read(t, None).await;
    assert_eq!((version, got), (4, rows(D31, 400, 14)));
    // Files of older versions stay until vacuumed: a reader at version 0 still finds them.
    let files: Vec<String> = t
        .objects_in(&format!("{TABLE}/{DAY}"))
        .into_iter()
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    assert_eq!(files.len(), 5);
}

// ---------------------------------------------------------------------------------------

/// Every add action carries the file's statistics, as the kernel's own writer would: the row
/// count, and per column the nulls, the least and the greatest value, which readers skip files
/// by. A file of no rows counts 0 rows.
async fn file_statistics(t: &Lake) {
    let sink = t.sink_with(delta());
    commit(&sink, Some(DAY), &[(0, 100), (100, 50)], WriteMode::Replace)
        .await
        .unwrap();
    commit(&sink, Some(DAY2), &[], WriteMode::Replace)
        .await
        .unwrap();
    let commits = commits(t).await;
    let stats = |commit: &serde_json::Value| -> serde_json::Value {
        let adds = actions(commit, "add");
        assert_eq!(adds.len(), 1, "{commit}");
        serde_json::from_str(adds[0]["stats"].as_str().unwrap()).unwrap()
    };
    let full = stats(&commits[0]);
    assert_eq!(full["numRecords"], 150, "{full}");
    assert_eq!(full["nullCount"]["id"], 0, "{full}");
    assert_eq!(full["nullCount"]["name"], 30, "{full}");
    assert_eq!(full["minValues"]["id"], 0, "{full}");
    assert_eq!(full["maxValues"]["id"], 149, "{full}");
    assert_eq!(full["minValues"]["name"], "row 1", "{full}");
    assert_eq!(full["maxValues"]["name"], "row 99", "{full}");
    assert_eq!(full["minValues"]["day"], "2023-12-09", "{full}");
    assert_eq!(full["maxValues"]["day"], "2024-01-07", "{full}");
    let at = full["minValues"]["at"].as_str().unwrap_or_default();
    assert!(at.starts_with("2024-01-31T00:00:00"), "{full}");
    assert_eq!(
        full["maxValues"]["amount"].to_string(),
        "183.9405",
        "{full}"
    );
    assert!(full.get("date").is_none() && full["minValues"].get("date").is_none());
    let empty = stats(&commits[1]);
    assert_eq!(empty["numRecords"], 0, "{empty}");
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

macro_rules! checks {
    ($($check:ident),* $(,)?) => {
        mod local {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    let t = super::Lake::local();
                    super::$check(&t).await;
                }
            )*
        }

        /// Every check against S3 on moto, one server for all, one prefix per check.
        /// (Racing writers are left to the local half: moto does not lock between its check of
        /// `If-None-Match` and its write, so a real race there can let both writers "win"; the
        /// stale-snapshot checks interleave writers deterministically instead.)
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn s3_delta() {
            let Some(moto) = Moto::start("s3_delta", &workspace()) else {
                return;
            };
            let moto = Arc::new(moto);
            moto.create_bucket("lake");
            $(
                if stringify!($check) != "concurrent_writers_of_different_partitions" {
                    eprintln!("s3: {}", stringify!($check));
                    let t = Lake::s3(&moto, "lake", stringify!($check));
                    $check(&t).await;
                }
            )*
        }
    };
}

checks!(
    create_replace_append,
    rerun_replaces,
    concurrent_writers_of_different_partitions,
    stale_snapshot_is_redone,
    endless_conflicts_are_refused,
    transaction_ids_apply_once,
    contracts,
    time_travel,
    file_statistics,
);

/// The format is parsed from the words users write.
#[test]
fn format_names() {
    assert_eq!("delta".parse::<Format>(), Ok(Format::Delta));
    assert_eq!(Format::default(), Format::Parquet);
    assert!("csv"
        .parse::<Format>()
        .unwrap_err()
        .contains("parquet or delta"));
}
