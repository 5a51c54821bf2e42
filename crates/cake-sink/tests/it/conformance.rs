//! One set of checks run against every kind of storage: a local directory, and S3 on a real
//! S3-compatible server (moto) that the test starts on 127.0.0.1.
//!
//! Each check gets a fresh, empty location. What is stored is listed independently of the
//! sink (a walk of the directory, hidden files included; moto's own bucket listing), so a
//! temporary file or a stray object shows up.

use crate::common;

use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cake_sink::{
    read_parquet, Class, Classify, CommitHooks, Committed, ContractCheck, ContractDifference, Sink,
    SinkError, SinkOptions, Store, StoreOptions, TableContract, WriteMode, WriteOptions, CONTRACT,
    MANIFEST,
};
use common::moto::Moto;
use common::Lake;
use parquet::basic::{
    Compression, DecimalType, LogicalType, TimeUnit as ParquetTimeUnit, TimestampType,
};
use parquet::file::metadata::ParquetMetaDataReader;
use sha2::{Digest, Sha256};

/// Every Arrow type the catalog uses.
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
        Field::new("rate", DataType::Decimal128(28, 10), true),
        Field::new("day", DataType::Date32, true),
        Field::new("count", DataType::Int32, true),
        Field::new("flag", DataType::Boolean, true),
        Field::new(
            "tags",
            DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
            true,
        ),
    ]))
}

/// Rows `from..from + n`; the same ids always give the same values.
fn batch(from: i64, n: i64) -> RecordBatch {
    let ids: Vec<i64> = (from..from + n).collect();
    let some = |i: &i64| i % 7 != 3;
    let mut tags = ListBuilder::new(StringBuilder::new());
    for i in &ids {
        if some(i) {
            for t in 0..(i % 3) {
                tags.values().append_value(format!("tag-{t}"));
            }
            tags.append(true);
        } else {
            tags.append(false);
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(ids.clone())),
        Arc::new(StringArray::from_iter(
            ids.iter().map(|i| some(i).then(|| format!("row {i} – é"))),
        )),
        Arc::new(
            TimestampMicrosecondArray::from_iter(
                ids.iter()
                    .map(|i| some(i).then_some(1_706_659_200_000_000 + i * 1_000_001)),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(
            Decimal128Array::from_iter(
                ids.iter()
                    .map(|i| some(i).then_some(i128::from(*i) * 12_345 - 999)),
            )
            .with_precision_and_scale(19, 4)
            .unwrap(),
        ),
        Arc::new(
            Decimal128Array::from_iter(
                ids.iter()
                    .map(|i| some(i).then_some(i128::from(*i) * 10_000_000_001)),
            )
            .with_precision_and_scale(28, 10)
            .unwrap(),
        ),
        Arc::new(Date32Array::from_iter(
            ids.iter()
                .map(|i| some(i).then_some(19_700 + (*i as i32 % 30))),
        )),
        Arc::new(Int32Array::from_iter(
            ids.iter().map(|i| some(i).then_some(*i as i32 * 3)),
        )),
        Arc::new(BooleanArray::from_iter(
            ids.iter().map(|i| some(i).then_some(i % 2 == 0)),
        )),
        Arc::new(tags.finish()),
    ];
    RecordBatch::try_new(schema(), columns).unwrap()
}

/// The ids of a batch.
fn ids(batches: &[RecordBatch]) -> Vec<i64> {
    batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect()
}

const TABLE: &str = "events";
const DAY: &str = "date=2024-01-31";

fn meta(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// Writes `ranges` (one batch each) into one partition of [`TABLE`] and commits it.
async fn commit(
    sink: &Sink,
    partition: Option<&str>,
    ranges: &[(i64, i64)],
    mode: WriteMode,
) -> cake_sink::Committed {
    commit_to(sink, TABLE, partition, ranges, mode).await
}

async fn commit_to(
    sink: &Sink,
    table: &str,
    partition: Option<&str>,
    ranges: &[(i64, i64)],
    mode: WriteMode,
) -> cake_sink::Committed {
    let mut w = sink
        .partition(table, partition, schema(), meta(&[("k", "v")]))
        .unwrap();
    for (from, n) in ranges {
        w.write(&batch(*from, *n)).unwrap();
    }
    w.commit(mode).await.unwrap()
}

/// Rows of a committed partition, read through its manifest, checking each file's schema.
async fn read_partition(sink: &Sink, partition: Option<&str>) -> Vec<RecordBatch> {
    let manifest = sink.manifest(TABLE, partition).await.unwrap().unwrap();
    let dir = partition.map_or(TABLE.to_string(), |p| format!("{TABLE}/{p}"));
    let mut out = Vec::new();
    for f in &manifest.files {
        let bytes = sink
            .store()
            .get_bytes(&format!("{dir}/{}", f.name))
            .await
            .unwrap()
            .unwrap();
        let contents = read_parquet(&f.name, bytes).unwrap();
        assert_eq!(contents.schema.fields(), schema().fields(), "{}", f.name);
        assert_eq!(contents.rows, f.rows, "{}", f.name);
        // The reader puts the footer's key/value metadata on the schema; compare data only.
        out.extend(
            contents
                .batches
                .into_iter()
                .map(|b| RecordBatch::try_new(schema(), b.columns().to_vec()).unwrap()),
        );
    }
    out
}

// ---------------------------------------------------------------------------------------
// The checks.

/// Small documents (state files): put, overwrite, get, list, delete.
async fn documents(t: &Lake) {
    let sink = t.sink();
    assert_eq!(sink.get_document("_state/a.json").await.unwrap(), None);
    sink.put_document("_state/a.json", b"{\"v\":1}".to_vec())
        .await
        .unwrap();
    sink.put_document("_state/b.json", b"{}".to_vec())
        .await
        .unwrap();
    sink.put_document("_state/a.json", b"{\"v\":2}".to_vec())
        .await
        .unwrap();
    assert_eq!(
        sink.get_document("_state/a.json").await.unwrap().as_deref(),
        Some(&b"{\"v\":2}"[..])
    );
    let store = sink.store();
    assert_eq!(store.list("_state").await.unwrap(), ["a.json", "b.json"]);
    assert_eq!(store.list("nowhere").await.unwrap(), Vec::<String>::new());
    assert_eq!(
        store.list_recursive("").await.unwrap(),
        ["_state/a.json", "_state/b.json"]
    );
    store.delete("_state/a.json").await.unwrap();
    store.delete("_state/a.json").await.unwrap();
    assert_eq!(sink.get_document("_state/a.json").await.unwrap(), None);
    drop(sink);
    assert_eq!(t.objects(), ["_state/b.json"]);
}

/// Replace: the partition holds exactly the last commit's rows; the layout is hive's.
async fn replace_commit(t: &Lake) {
    let sink = t.sink();
    let first = commit(&sink, Some(DAY), &[(0, 100), (100, 50)], WriteMode::Replace).await;
    assert_eq!(first.path, format!("{TABLE}/{DAY}"));
    assert_eq!(first.rows, 150);
    assert_eq!(
        ids(&read_partition(&sink, Some(DAY)).await),
        (0..150).collect::<Vec<_>>()
    );
    let second = commit(&sink, Some(DAY), &[(1000, 10)], WriteMode::Replace).await;
    assert_eq!(second.rows, 10);
    let batches = read_partition(&sink, Some(DAY)).await;
    assert_eq!(batches, vec![batch(1000, 10)]);
    // A partition next to it and an unpartitioned table (a snapshot) are independent.
    commit(
        &sink,
        Some("date=2024-02-01"),
        &[(5, 5)],
        WriteMode::Replace,
    )
    .await;
    commit_to(&sink, "lookup", None, &[(7, 3)], WriteMode::Replace).await;
    commit_to(&sink, "lookup", None, &[(8, 2)], WriteMode::Replace).await;
    drop(sink);
    let objects = t.objects();
    assert_eq!(
        objects,
        [
            "events/date=2024-01-31/_SUCCESS",
            "events/date=2024-01-31/part-00000.parquet",
            "events/date=2024-02-01/_SUCCESS",
            "events/date=2024-02-01/part-00000.parquet",
            "lookup/_SUCCESS",
            "lookup/part-00000.parquet",
        ]
    );
    // A fresh sink (a new run) replaces again, and its run id is in the manifest.
    let sink = t.sink();
    let third = commit(&sink, Some(DAY), &[(0, 3)], WriteMode::Replace).await;
    assert_eq!(third.manifest.run_id, sink.run_id());
    assert_ne!(third.manifest.run_id, second.manifest.run_id);
    assert_eq!(read_partition(&sink, Some(DAY)).await, vec![batch(0, 3)]);
}

/// Append: new files join the old ones, under names that never collide, even twice in a run.
async fn append_commit(t: &Lake) {
    let sink = t.sink();
    commit(&sink, Some(DAY), &[(0, 10)], WriteMode::Replace).await;
    let a = commit(&sink, Some(DAY), &[(10, 5)], WriteMode::Append).await;
    assert_eq!(a.rows, 5, "rows of the new files");
    assert_eq!(a.manifest.rows, 15, "rows of the partition");
    let b = commit(&sink, Some(DAY), &[(15, 5)], WriteMode::Append).await;
    assert_eq!(b.manifest.rows, 20);
    drop(sink);
    let sink = t.sink();
    let c = commit(&sink, Some(DAY), &[(20, 1)], WriteMode::Append).await;
    assert_eq!(c.manifest.files.len(), 4, "{:?}", c.manifest.files);
    let names: std::collections::BTreeSet<_> =
        c.manifest.files.iter().map(|f| f.name.clone()).collect();
    assert_eq!(names.len(), 4, "file names are unique: {names:?}");
    let mut got = ids(&read_partition(&sink, Some(DAY)).await);
    got.sort();
    assert_eq!(got, (0..21).collect::<Vec<_>>());
    sink.verify(TABLE, Some(DAY)).await.unwrap();
    // Appending to a partition that does not exist yet creates it.
    let d = commit(&sink, Some("date=2024-03-01"), &[(0, 2)], WriteMode::Append).await;
    assert_eq!(d.manifest.rows, 2);
    drop(sink);
    let stored: Vec<String> = t.objects_in(&format!("{TABLE}/{DAY}"));
    let mut expected: Vec<String> = names.into_iter().collect();
    expected.push(MANIFEST.to_string());
    expected.sort();
    assert_eq!(stored, expected);
}

/// The manifest lists every file with its rows, bytes and the SHA-256 of its bytes.
async fn manifest_matches_the_bytes(t: &Lake) {
    let sink = t.sink_with(SinkOptions {
        max_file_bytes: 1,
        ..SinkOptions::default()
    });
    let committed = commit(&sink, Some(DAY), &[(0, 30), (30, 20)], WriteMode::Replace).await;
    let m = sink.manifest(TABLE, Some(DAY)).await.unwrap().unwrap();
    assert_eq!(m, committed.manifest);
    assert_eq!(m.table, TABLE);
    assert_eq!(m.partition.as_deref(), Some(DAY));
    assert_eq!(m.rows, 50);
    assert_eq!(m.run_id, sink.run_id());
    assert!(m.metadata.contains(&("k".to_string(), "v".to_string())));
    assert_eq!(
        m.files
            .iter()
            .map(|f| (f.name.as_str(), f.rows))
            .collect::<Vec<_>>(),
        [("part-00000.parquet", 30), ("part-00001.parquet", 20)]
    );
    for f in &m.files {
        let bytes = sink
            .store()
            .get_bytes(&format!("{TABLE}/{DAY}/{}", f.name))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(f.bytes, bytes.len() as u64);
        assert_eq!(f.sha256, hex::encode(Sha256::digest(&bytes)));
    }
    assert_eq!(sink.verify(TABLE, Some(DAY)).await.unwrap(), m);
    // The manifest is JSON that other tools can read.
    let raw = sink
        .get_document(&format!("{TABLE}/{DAY}/{MANIFEST}"))
        .await
        .unwrap()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(json["rows"], 50);
    assert_eq!(json["files"][1]["name"], "part-00001.parquet");
    // A file changed behind the manifest's back, or one it does not list, is found.
    sink.store()
        .put_bytes(
            &format!("{TABLE}/{DAY}/part-00001.parquet"),
            b"PAR1".to_vec(),
        )
        .await
        .unwrap();
    let e = sink.verify(TABLE, Some(DAY)).await.unwrap_err();
    assert!(matches!(e, SinkError::Mismatch { .. }), "{e}");
    assert!(
        e.to_string().contains("part-00001.parquet has 4 bytes"),
        "{e}"
    );
    commit(&sink, Some(DAY), &[(0, 1)], WriteMode::Replace).await;
    sink.store()
        .put_bytes(&format!("{TABLE}/{DAY}/part-00009.parquet"), b"x".to_vec())
        .await
        .unwrap();
    let e = sink.verify(TABLE, Some(DAY)).await.unwrap_err();
    assert!(
        e.to_string()
            .contains("part-00009.parquet is not in the manifest"),
        "{e}"
    );
    let e = sink
        .verify(TABLE, Some("date=1999-01-01"))
        .await
        .unwrap_err();
    assert!(e.to_string().contains("never committed"), "{e}");
}

/// A partition without rows still gets one file with the full schema.
async fn empty_partition(t: &Lake) {
    let sink = t.sink();
    let committed = commit(&sink, Some(DAY), &[], WriteMode::Replace).await;
    assert_eq!(committed.rows, 0);
    assert_eq!(committed.manifest.files.len(), 1);
    assert_eq!(committed.manifest.files[0].rows, 0);
    let bytes = sink
        .store()
        .get_bytes(&format!("{TABLE}/{DAY}/part-00000.parquet"))
        .await
        .unwrap()
        .unwrap();
    let contents = read_parquet("part-00000.parquet", bytes).unwrap();
    assert_eq!(contents.schema.fields(), schema().fields());
    assert_eq!(contents.rows, 0);
    assert!(contents.metadata.contains(&("k".into(), "v".into())));
    // Writing empty batches is the same as writing none.
    let mut w = sink
        .partition("lookup", None, schema(), Vec::new())
        .unwrap();
    w.write(&batch(0, 0)).unwrap();
    let c = w.commit(WriteMode::Replace).await.unwrap();
    assert_eq!((c.rows, c.manifest.files.len()), (0, 1));
    drop(sink);
    assert_eq!(
        t.objects(),
        [
            "events/date=2024-01-31/_SUCCESS",
            "events/date=2024-01-31/part-00000.parquet",
            "lookup/_SUCCESS",
            "lookup/part-00000.parquet",
        ]
    );
}

/// A writer dropped before its commit leaves nothing, and the committed partition it would
/// have replaced stays as it was. Staging is cleaned when the sink goes.
async fn dropped_writer_leaves_nothing(t: &Lake) {
    let sink = t.sink_with(SinkOptions {
        max_file_bytes: 1,
        ..SinkOptions::default()
    });
    let staging = sink.temp_dir().to_path_buf();
    {
        let mut w = sink
            .partition(TABLE, Some(DAY), schema(), Vec::new())
            .unwrap();
        for i in 0..3 {
            w.write(&batch(i * 10, 10)).unwrap();
        }
        assert_eq!(w.rows(), 30);
        assert!(
            std::fs::read_dir(&staging).unwrap().count() > 0,
            "the writer stages its files"
        );
    }
    assert_eq!(
        std::fs::read_dir(&staging).unwrap().count(),
        0,
        "the dropped writer's files are gone from staging"
    );
    assert_eq!(t.objects(), Vec::<String>::new(), "nothing was published");
    // With a committed version in place, an abandoned replace leaves it untouched.
    let kept = commit(&sink, Some(DAY), &[(0, 5)], WriteMode::Replace).await;
    {
        let mut w = sink
            .partition(TABLE, Some(DAY), schema(), Vec::new())
            .unwrap();
        w.write(&batch(100, 10)).unwrap();
        w.write(&batch(110, 10)).unwrap();
    }
    assert_eq!(sink.verify(TABLE, Some(DAY)).await.unwrap(), kept.manifest);
    assert_eq!(read_partition(&sink, Some(DAY)).await, vec![batch(0, 5)]);
    drop(sink);
    assert!(!staging.exists(), "staging is removed with the sink");
    assert_eq!(
        t.objects(),
        [
            "events/date=2024-01-31/_SUCCESS",
            "events/date=2024-01-31/part-00000.parquet",
        ],
        "no temporary or staging file is left at the location"
    );
}

/// Files roll at `max_file_bytes`; every file is complete and in the manifest.
async fn files_roll_at_the_size_bound(t: &Lake) {
    let bound = batch(0, 200).get_array_memory_size() as u64 * 2;
    let sink = t.sink_with(SinkOptions {
        max_file_bytes: bound,
        ..SinkOptions::default()
    });
    let ranges: Vec<(i64, i64)> = (0..7).map(|i| (i * 200, 200)).collect();
    let c = commit(&sink, Some(DAY), &ranges, WriteMode::Replace).await;
    assert_eq!(
        c.manifest
            .files
            .iter()
            .map(|f| (f.name.as_str(), f.rows))
            .collect::<Vec<_>>(),
        [
            ("part-00000.parquet", 400),
            ("part-00001.parquet", 400),
            ("part-00002.parquet", 400),
            ("part-00003.parquet", 200),
        ]
    );
    assert_eq!(
        ids(&read_partition(&sink, Some(DAY)).await),
        (0..1400).collect::<Vec<_>>()
    );
    sink.verify(TABLE, Some(DAY)).await.unwrap();
}

/// A replace with fewer files than the old version deletes the extra old files.
async fn replace_with_fewer_files(t: &Lake) {
    let small = SinkOptions {
        max_file_bytes: 1,
        ..SinkOptions::default()
    };
    let sink = t.sink_with(small.clone());
    let many = commit(
        &sink,
        Some(DAY),
        &[(0, 5), (5, 5), (10, 5), (15, 5)],
        WriteMode::Replace,
    )
    .await;
    assert_eq!(many.manifest.files.len(), 4);
    let few = commit(&sink, Some(DAY), &[(50, 5), (55, 5)], WriteMode::Replace).await;
    assert_eq!(few.manifest.files.len(), 2);
    assert_eq!(
        t.objects_in(&format!("{TABLE}/{DAY}")),
        [MANIFEST, "part-00000.parquet", "part-00001.parquet"]
    );
    // Files appended earlier go too.
    commit(&sink, Some(DAY), &[(60, 1)], WriteMode::Append).await;
    assert_eq!(t.objects_in(&format!("{TABLE}/{DAY}")).len(), 4);
    let one = commit(&sink, Some(DAY), &[(70, 1)], WriteMode::Replace).await;
    assert_eq!(one.manifest.files.len(), 1);
    assert_eq!(
        t.objects_in(&format!("{TABLE}/{DAY}")),
        [MANIFEST, "part-00000.parquet"]
    );
    assert_eq!(read_partition(&sink, Some(DAY)).await, vec![batch(70, 1)]);
    sink.verify(TABLE, Some(DAY)).await.unwrap();
}

/// The footer: key/value metadata of the sink and of the partition, zstd, statistics,
/// bounded row groups.
async fn footer_metadata(t: &Lake) {
    let sink = t.sink_with(SinkOptions {
        write: WriteOptions {
            metadata: meta(&[("writer", "conformance")]),
            max_row_group_rows: 100,
            ..WriteOptions::default()
        },
        ..SinkOptions::default()
    });
    let mut w = sink
        .partition(
            TABLE,
            Some(DAY),
            schema(),
            meta(&[("report", "events"), ("window", "2024-01-31")]),
        )
        .unwrap();
    w.write(&batch(0, 250)).unwrap();
    let c = w.commit(WriteMode::Replace).await.unwrap();
    let bytes = sink
        .store()
        .get_bytes(&format!("{TABLE}/{DAY}/part-00000.parquet"))
        .await
        .unwrap()
        .unwrap();
    let contents = read_parquet("part-00000.parquet", bytes.clone()).unwrap();
    assert_eq!(
        contents.metadata,
        meta(&[
            ("writer", "conformance"),
            ("report", "events"),
            ("window", "2024-01-31")
        ])
    );
    assert_eq!(c.manifest.metadata, contents.metadata);
    assert_eq!(contents.row_groups, 3, "row groups bounded at 100 rows");
    let footer = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes))
        .unwrap();
    for rg in footer.row_groups() {
        for col in rg.columns() {
            assert!(
                matches!(col.compression(), Compression::ZSTD(_)),
                "{}",
                col.column_path()
            );
            assert!(col.statistics().is_some(), "{}", col.column_path());
        }
    }
}

/// Timestamps are TIMESTAMP(MICROS, adjusted to UTC), decimals DECIMAL with their precision
/// and scale; every type reads back as written.
async fn physical_types(t: &Lake) {
    let sink = t.sink();
    commit(&sink, Some(DAY), &[(0, 40)], WriteMode::Replace).await;
    let bytes = sink
        .store()
        .get_bytes(&format!("{TABLE}/{DAY}/part-00000.parquet"))
        .await
        .unwrap()
        .unwrap();
    let footer = ParquetMetaDataReader::new()
        .parse_and_finish(&bytes::Bytes::from(bytes.clone()))
        .unwrap();
    let descr = footer.file_metadata().schema_descr();
    let logical = |name: &str| {
        descr
            .columns()
            .iter()
            .find(|c| c.path().parts()[0] == name)
            .unwrap_or_else(|| panic!("no column {name}"))
            .logical_type_ref()
            .cloned()
    };
    assert_eq!(
        logical("at"),
        Some(LogicalType::Timestamp(TimestampType {
            is_adjusted_to_u_t_c: true,
            unit: ParquetTimeUnit::MICROS,
        }))
    );
    assert_eq!(
        logical("amount"),
        Some(LogicalType::Decimal(DecimalType {
            scale: 4,
            precision: 19
        }))
    );
    assert_eq!(
        logical("rate"),
        Some(LogicalType::Decimal(DecimalType {
            scale: 10,
            precision: 28
        }))
    );
    assert_eq!(logical("day"), Some(LogicalType::Date));
    assert_eq!(logical("name"), Some(LogicalType::String));
    assert_eq!(read_partition(&sink, Some(DAY)).await, vec![batch(0, 40)]);
}

/// Files above the multipart threshold (16 MiB) arrive whole; small ones too.
async fn large_and_small_files(t: &Lake) {
    let sink = t.sink();
    let dir = tempfile::tempdir().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let big: Vec<u8> = (0..(17 << 20) + 123)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state as u8
        })
        .collect();
    let path = dir.path().join("big.bin");
    std::fs::write(&path, &big).unwrap();
    sink.put_file("_raw/big.bin", &path).await.unwrap();
    let small = dir.path().join("small.bin");
    std::fs::write(&small, b"small").unwrap();
    sink.put_file("_raw/x/small.bin", &small).await.unwrap();
    let back = sink.get_document("_raw/big.bin").await.unwrap().unwrap();
    assert_eq!(back.len(), big.len());
    assert!(back == big, "the large file reads back byte for byte");
    assert_eq!(
        sink.get_document("_raw/x/small.bin")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"small"[..])
    );
    drop(sink);
    assert_eq!(t.objects(), ["_raw/big.bin", "_raw/x/small.bin"]);
}

/// Names that would escape the layout or hide from readers are refused.
async fn bad_names_are_refused(t: &Lake) {
    let sink = t.sink();
    for (table, partition) in [
        ("", None),
        ("_state", None),
        (".hidden", None),
        ("a/b", None),
        ("..", None),
        ("events", Some("")),
        ("events", Some("_tmp")),
        ("events", Some("date=1/x")),
        ("events", Some("a\\b")),
    ] {
        let e = sink
            .partition(table, partition, schema(), Vec::new())
            .err()
            .unwrap_or_else(|| panic!("{table:?} {partition:?} was accepted"));
        assert!(matches!(e, SinkError::Options(_)), "{e}");
    }
    drop(sink);
    assert_eq!(t.objects(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// Table contracts.

fn contract(fields: &[(&str, &str)]) -> TableContract {
    TableContract::new(fields.iter().copied())
}

/// Every object of the location (staging, locks and leases aside) with the SHA-256 of its
/// bytes.
async fn snapshot(t: &Lake) -> Vec<(String, String)> {
    let store = t.store();
    let mut out = Vec::new();
    for rel in t.objects() {
        if rel.starts_with("_staging/") || rel.starts_with("_locks/") {
            continue;
        }
        let bytes = store.get_bytes(&rel).await.unwrap().unwrap_or_default();
        out.push((rel, hex::encode(Sha256::digest(&bytes))));
    }
    out
}

/// Created, then Matches for the next run; a different contract is refused with every
/// differing field named, and the table stays byte for byte as it was.
async fn contract_created_matches_mismatch(t: &Lake) {
    let utc = contract(&[("timezone", "UTC"), ("report", "events")]);
    let sink = t.sink();
    assert_eq!(sink.table_contract(TABLE).await.unwrap(), None);
    assert_eq!(
        sink.open_table(TABLE, &utc, false).await.unwrap(),
        ContractCheck::Created
    );
    assert_eq!(sink.table_contract(TABLE).await.unwrap(), Some(utc.clone()));
    commit(&sink, Some(DAY), &[(0, 10)], WriteMode::Replace).await;
    commit(&sink, Some(DAY), &[(10, 5)], WriteMode::Append).await;
    drop(sink);
    let stored: serde_json::Value = serde_json::from_slice(
        &t.store()
            .get_bytes(&format!("{TABLE}/{CONTRACT}"))
            .await
            .unwrap()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(stored["fields"]["timezone"], "UTC");

    let sink = t.sink();
    assert_eq!(
        sink.open_table(TABLE, &utc, false).await.unwrap(),
        ContractCheck::Matches
    );
    commit(
        &sink,
        Some("date=2024-02-01"),
        &[(0, 1)],
        WriteMode::Replace,
    )
    .await;
    drop(sink);

    let before = snapshot(t).await;
    let other = contract(&[
        ("timezone", "America/New_York"),
        ("report", "events"),
        ("offer_id", "12"),
    ]);
    let sink = t.sink();
    let e = sink.open_table(TABLE, &other, false).await.unwrap_err();
    let SinkError::ContractMismatch {
        table, differences, ..
    } = &e
    else {
        panic!("{e}");
    };
    assert_eq!(table, TABLE);
    assert_eq!(
        differences,
        &[
            ContractDifference {
                field: "offer_id".into(),
                table: None,
                run: Some("12".into()),
            },
            ContractDifference {
                field: "timezone".into(),
                table: Some("UTC".into()),
                run: Some("America/New_York".into()),
            },
        ]
    );
    let message = e.to_string();
    assert!(
        message.contains("timezone: the table has UTC, this run America/New_York"),
        "{message}"
    );
    assert!(
        message.contains("offer_id: the table has (none), this run 12"),
        "{message}"
    );
    assert!(message.contains("the table is unchanged"), "{message}");
    assert!(!message.contains("--"), "no command-line flag: {message}");
    assert_eq!(e.class(), Class::Usage, "the run asked for another table");
    drop(sink);
    assert_eq!(snapshot(t).await, before, "the table is byte-identical");
}

/// A rebuild deletes every partition and manifest of the table (and only of that table) and
/// stores the new contract.
async fn contract_rebuild(t: &Lake) {
    let old = contract(&[("timezone", "UTC")]);
    let new = contract(&[("timezone", "Europe/Paris")]);
    let sink = t.sink();
    sink.open_table(TABLE, &old, false).await.unwrap();
    commit(&sink, Some(DAY), &[(0, 10)], WriteMode::Replace).await;
    commit(
        &sink,
        Some("date=2024-02-01"),
        &[(0, 10)],
        WriteMode::Append,
    )
    .await;
    commit_to(&sink, "other", None, &[(0, 2)], WriteMode::Replace).await;
    drop(sink);
    let sink = t.sink();
    assert_eq!(
        sink.open_table(TABLE, &new, true).await.unwrap(),
        ContractCheck::Rebuilt
    );
    assert_eq!(sink.table_contract(TABLE).await.unwrap(), Some(new.clone()));
    // The rebuilt table takes commits under its new contract.
    let c = commit(&sink, Some(DAY), &[(100, 3)], WriteMode::Append).await;
    assert_eq!(c.manifest.rows, 3, "nothing of the old partition is left");
    drop(sink);
    let objects: Vec<String> = t
        .objects()
        .into_iter()
        .filter(|o| !o.ends_with(".parquet"))
        .collect();
    assert_eq!(
        objects,
        [
            format!("{TABLE}/{CONTRACT}"),
            format!("{TABLE}/{DAY}/{MANIFEST}"),
            format!("other/{MANIFEST}"),
        ]
    );
    assert_eq!(t.objects_in(&format!("{TABLE}/date=2024-02-01")).len(), 0);
    // Opening with `rebuild` when the contract matches changes nothing.
    let before = snapshot(t).await;
    let sink = t.sink();
    assert_eq!(
        sink.open_table(TABLE, &new, true).await.unwrap(),
        ContractCheck::Matches
    );
    drop(sink);
    assert_eq!(snapshot(t).await, before);
}

/// An unpartitioned table's directory is replaced whole at each commit: its contract
/// survives, and readers that skip `_` names see only the data.
async fn contract_survives_unpartitioned_commits(t: &Lake) {
    let c = contract(&[("report", "offers"), ("api_version", "4")]);
    let small = SinkOptions {
        max_file_bytes: 1,
        ..SinkOptions::default()
    };
    let sink = t.sink_with(small);
    sink.open_table("offers", &c, false).await.unwrap();
    commit_to(&sink, "offers", None, &[(0, 5), (5, 5)], WriteMode::Replace).await;
    commit_to(&sink, "offers", None, &[(0, 2)], WriteMode::Replace).await;
    commit_to(&sink, "offers", None, &[(7, 1)], WriteMode::Append).await;
    let last = commit_to(&sink, "offers", None, &[(9, 1)], WriteMode::Replace).await;
    assert_eq!(
        sink.table_contract("offers").await.unwrap(),
        Some(c.clone())
    );
    sink.verify("offers", None).await.unwrap();
    drop(sink);
    assert_eq!(
        t.objects_in("offers"),
        [MANIFEST, CONTRACT, "part-00000.parquet"]
    );
    assert_eq!(last.manifest.files.len(), 1);
    // A new run finds it and matches.
    let sink = t.sink();
    assert_eq!(
        sink.open_table("offers", &c, false).await.unwrap(),
        ContractCheck::Matches
    );
}

/// A run that opened a table under one contract cannot commit once another run has rebuilt
/// the table under another: the commit is refused and the table left as the rebuild left it.
async fn commit_after_rebuild_is_refused(t: &Lake) {
    let first = contract(&[("timezone", "UTC")]);
    let second = contract(&[("timezone", "Asia/Tokyo")]);
    let a = t.sink();
    a.open_table(TABLE, &first, false).await.unwrap();
    commit(&a, Some(DAY), &[(0, 4)], WriteMode::Replace).await;
    let b = t.sink();
    b.open_table(TABLE, &second, true).await.unwrap();
    commit(&b, Some("date=2024-02-01"), &[(0, 2)], WriteMode::Replace).await;
    let before = snapshot(t).await;
    for mode in [WriteMode::Replace, WriteMode::Append] {
        let mut w = a.partition(TABLE, Some(DAY), schema(), Vec::new()).unwrap();
        w.write(&batch(50, 5)).unwrap();
        let e = w.commit(mode).await.unwrap_err();
        let SinkError::ContractMismatch { differences, .. } = &e else {
            panic!("{e}");
        };
        assert_eq!(
            differences,
            &[ContractDifference {
                field: "timezone".into(),
                table: Some("Asia/Tokyo".into()),
                run: Some("UTC".into()),
            }]
        );
    }
    // Unpartitioned tables are checked too.
    a.open_table("snap", &first, false).await.unwrap();
    b.open_table("snap", &second, true).await.unwrap();
    let before_snap = snapshot(t).await;
    let mut w = a.partition("snap", None, schema(), Vec::new()).unwrap();
    w.write(&batch(0, 1)).unwrap();
    assert!(matches!(
        w.commit(WriteMode::Replace).await,
        Err(SinkError::ContractMismatch { .. })
    ));
    assert_eq!(snapshot(t).await, before_snap);
    drop(a);
    drop(b);
    assert_eq!(
        snapshot(t)
            .await
            .into_iter()
            .filter(|(k, _)| !k.starts_with("snap/"))
            .collect::<Vec<_>>(),
        before
    );
}

// ---------------------------------------------------------------------------------------
// Two writers of one table, interleaved on purpose.

/// Parks the first commit that takes the lock until the test releases it.
struct Park {
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl CommitHooks for Park {
    fn locked(&self, _table: &str, _partition: Option<&str>) {
        let entered = self.entered.lock().unwrap().take();
        if let Some(tx) = entered {
            tx.send(()).unwrap();
            self.release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(120))
                .expect("the test releases the parked writer");
        }
    }
}

/// Reports each wait, with the holder it names.
struct Waits(Mutex<mpsc::Sender<String>>);

impl CommitHooks for Waits {
    fn waiting(&self, _table: &str, _partition: Option<&str>, holder: &str) {
        let _ = self.0.lock().unwrap().send(holder.to_string());
    }
}

/// One writer: a sink of its own (a run), a partition, batches, a mode.
#[derive(Clone)]
struct Job {
    options: SinkOptions,
    table: &'static str,
    partition: Option<&'static str>,
    ranges: Vec<(i64, i64)>,
    mode: WriteMode,
}

impl Job {
    fn new(ranges: &[(i64, i64)], mode: WriteMode) -> Job {
        Job {
            options: SinkOptions::default(),
            table: TABLE,
            partition: Some(DAY),
            ranges: ranges.to_vec(),
            mode,
        }
    }
}

/// Runs `job` on a sink of its own, in this thread, on a runtime of its own: the run id and
/// what the commit returned.
fn run_job(t: &Lake, job: Job) -> (String, Result<Committed, SinkError>) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let sink = t.sink_with(job.options.clone());
    let run = sink.run_id().to_string();
    let result = runtime.block_on(async {
        let mut w = sink.partition(job.table, job.partition, schema(), meta(&[("k", "v")]))?;
        for (from, n) in &job.ranges {
            w.write(&batch(*from, *n))?;
        }
        w.commit(job.mode).await
    });
    (run, result)
}

struct Race {
    a: (String, Result<Committed, SinkError>),
    b: (String, Result<Committed, SinkError>),
    /// The holder `b` saw when it found the table locked.
    b_waited_for: String,
    /// The location while `a` held the lock and `b` had given up (with `b_gives_up`).
    while_parked: Option<Vec<(String, String)>>,
}

/// `a` takes the table's lock and is parked there; then `b` starts and must find the table
/// locked. Unless `b_gives_up` (a short lock timeout), `a` is then released and both finish;
/// otherwise `b` is awaited first, while `a` still holds the lock.
fn race(t: &Lake, a: Job, b: Job, b_gives_up: bool) -> Race {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let (wait_tx, wait_rx) = mpsc::channel();
    let mut a = a;
    a.options.hooks = Some(Arc::new(Park {
        entered: Mutex::new(Some(entered_tx)),
        release: Mutex::new(release_rx),
    }));
    let mut b = b;
    b.options.hooks = Some(Arc::new(Waits(Mutex::new(wait_tx))));
    std::thread::scope(|s| {
        let ha = s.spawn(|| run_job(t, a));
        entered_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("a takes the lock");
        let hb = s.spawn(|| run_job(t, b));
        let b_waited_for = wait_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("b finds the table locked and waits");
        let mut while_parked = None;
        let b_result = if b_gives_up {
            let r = hb.join().unwrap();
            // In a thread of its own: this one may be inside the test's runtime.
            while_parked = Some(
                s.spawn(|| {
                    tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()
                        .unwrap()
                        .block_on(snapshot(t))
                })
                .join()
                .unwrap(),
            );
            release_tx.send(()).unwrap();
            r
        } else {
            release_tx.send(()).unwrap();
            hb.join().unwrap()
        };
        Race {
            a: ha.join().unwrap(),
            b: b_result,
            b_waited_for,
            while_parked,
        }
    })
}

/// The manifest of the partition lists exactly the Parquet files stored there, each once.
async fn manifest_lists_every_file(t: &Lake, table: &str, partition: &str) -> cake_sink::Manifest {
    let sink = t.sink();
    let manifest = sink.verify(table, Some(partition)).await.unwrap();
    let mut listed: Vec<String> = manifest.files.iter().map(|f| f.name.clone()).collect();
    listed.sort();
    let before = listed.len();
    listed.dedup();
    assert_eq!(listed.len(), before, "each file once: {listed:?}");
    let stored: Vec<String> = t
        .objects_in(&format!("{table}/{partition}"))
        .into_iter()
        .filter(|n| n.ends_with(".parquet"))
        .collect();
    assert_eq!(stored, listed, "every stored file is in the manifest");
    manifest
}

/// Two runs append to one partition at once (the second finds the first inside its commit):
/// no manifest entry is lost, trial after trial.
async fn concurrent_appends(t: &Lake) {
    let mut expected: Vec<i64> = Vec::new();
    for trial in 0..3i64 {
        let base = trial * 1000;
        let a = Job::new(&[(base, 7)], WriteMode::Append);
        let b = Job::new(&[(base + 500, 4), (base + 600, 2)], WriteMode::Append);
        let r = race(t, a, b, false);
        let (run_a, a) = r.a;
        let a = a.unwrap();
        let b = r.b.1.unwrap();
        assert!(r.b_waited_for.contains(&run_a), "{}", r.b_waited_for);
        expected.extend(base..base + 7);
        expected.extend(base + 500..base + 504);
        expected.extend(base + 600..base + 602);
        let manifest = manifest_lists_every_file(t, TABLE, DAY).await;
        assert_eq!(manifest.rows, expected.len() as u64, "trial {trial}");
        assert_eq!(b.manifest, manifest, "b committed last, on top of a");
        assert!(b.manifest.files.len() > a.manifest.files.len());
        let sink = t.sink();
        let mut got = ids(&read_partition(&sink, Some(DAY)).await);
        got.sort();
        let mut want = expected.clone();
        want.sort();
        assert_eq!(got, want, "trial {trial}");
    }
}

/// Two runs replace one partition at once: the partition ends up holding exactly the files of
/// the one that committed last, and neither fails.
async fn concurrent_replaces(t: &Lake) {
    let small = SinkOptions {
        max_file_bytes: 1,
        ..SinkOptions::default()
    };
    for (a_ranges, b_ranges) in [
        (vec![(0, 3), (3, 3), (6, 3)], vec![(100, 2)]),
        (vec![(200, 1)], vec![(300, 2), (302, 2), (304, 2), (306, 2)]),
    ] {
        let mut a = Job::new(&a_ranges, WriteMode::Replace);
        a.options = small.clone();
        let mut b = Job::new(&b_ranges, WriteMode::Replace);
        b.options = small.clone();
        let r = race(t, a, b, false);
        r.a.1.unwrap();
        let b = r.b.1.unwrap();
        let manifest = manifest_lists_every_file(t, TABLE, DAY).await;
        assert_eq!(manifest, b.manifest, "the last commit wins whole");
        let sink = t.sink();
        let want: Vec<i64> = b_ranges.iter().flat_map(|(f, n)| *f..f + n).collect();
        assert_eq!(ids(&read_partition(&sink, Some(DAY)).await), want);
    }
    // An unpartitioned table too (its directory is swapped whole).
    let mut a = Job::new(&[(0, 3), (3, 3)], WriteMode::Replace);
    a.options = small.clone();
    a.table = "snapshot";
    a.partition = None;
    let mut b = Job::new(&[(10, 1)], WriteMode::Replace);
    b.table = "snapshot";
    b.partition = None;
    let r = race(t, a, b, false);
    r.a.1.unwrap();
    let b = r.b.1.unwrap();
    let sink = t.sink();
    assert_eq!(sink.verify("snapshot", None).await.unwrap(), b.manifest);
    assert_eq!(t.objects_in("snapshot"), [MANIFEST, "part-00000.parquet"]);
}

/// A writer that waits longer than its lock timeout fails with `Locked`, naming the table and
/// the run holding it, and changes nothing; the holder then finishes.
async fn lock_timeout_fails_cleanly(t: &Lake) {
    let sink = t.sink();
    commit(&sink, Some(DAY), &[(0, 3)], WriteMode::Replace).await;
    drop(sink);
    let before = snapshot(t).await;
    for mode in [WriteMode::Append, WriteMode::Replace] {
        let a = Job::new(&[(10, 2)], mode);
        let mut b = Job::new(&[(20, 2)], mode);
        b.options.lock_timeout = Duration::from_millis(300);
        let r = race(t, a, b, true);
        let (run_a, a) = r.a;
        let e = r.b.1.unwrap_err();
        let SinkError::Locked { table, holder } = &e else {
            panic!("{e}");
        };
        assert_eq!(table, TABLE);
        assert!(holder.contains(&run_a), "{holder}");
        assert!(
            e.to_string()
                .starts_with(&format!("another run is writing {TABLE} (run {run_a}")),
            "{e}"
        );
        if mode == WriteMode::Append {
            assert_eq!(r.while_parked.unwrap(), before, "b changed nothing");
        }
        a.unwrap();
    }
    let sink = t.sink();
    assert_eq!(ids(&read_partition(&sink, Some(DAY)).await), vec![10, 11]);
    drop(sink);
    assert!(
        !t.objects().iter().any(|o| o.starts_with("_locks")),
        "locks and leases are gone: {:?}",
        t.objects()
    );
}

/// Writers of one run queue for the table too (windows committed concurrently by one pull).
async fn same_run_writers_queue(t: &Lake) {
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel();
    let (wait_tx, wait_rx) = mpsc::channel::<String>();
    struct Both(Park, Waits);
    impl CommitHooks for Both {
        fn locked(&self, table: &str, partition: Option<&str>) {
            self.0.locked(table, partition)
        }
        fn waiting(&self, table: &str, partition: Option<&str>, holder: &str) {
            self.1.waiting(table, partition, holder)
        }
    }
    let options = SinkOptions {
        hooks: Some(Arc::new(Both(
            Park {
                entered: Mutex::new(Some(entered_tx)),
                release: Mutex::new(release_rx),
            },
            Waits(Mutex::new(wait_tx)),
        ))),
        ..SinkOptions::default()
    };
    // One sink, two writers, each committing from a thread of its own on one runtime (the
    // first one blocks its thread in the hook; the runtime's workers stay free).
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let sink = t.sink_with(options);
    let write = |from: i64| {
        let mut w = sink
            .partition(TABLE, Some(DAY), schema(), Vec::new())
            .unwrap();
        w.write(&batch(from, 2)).unwrap();
        w
    };
    let (a, b) = (write(0), write(10));
    std::thread::scope(|s| {
        let ha = s.spawn(|| runtime.block_on(a.commit(WriteMode::Append)));
        entered_rx
            .recv_timeout(Duration::from_secs(60))
            .expect("the first writer takes the lock");
        let hb = s.spawn(|| runtime.block_on(b.commit(WriteMode::Append)));
        let holder = wait_rx.recv_timeout(Duration::from_secs(60)).unwrap();
        assert!(holder.contains(sink.run_id()), "{holder}");
        release_tx.send(()).unwrap();
        ha.join().unwrap().unwrap();
        hb.join().unwrap().unwrap();
    });
    drop(sink);
    std::thread::spawn(move || drop(runtime)).join().unwrap();
    let manifest = manifest_lists_every_file(t, TABLE, DAY).await;
    assert_eq!(manifest.rows, 4);
}

/// The probe writes and deletes one object and leaves nothing.
async fn probe_leaves_nothing(t: &Lake) {
    let sink = t.sink();
    sink.probe().await.unwrap();
    sink.probe().await.unwrap();
    drop(sink);
    assert_eq!(t.objects(), Vec::<String>::new());
}

// ---------------------------------------------------------------------------------------
// Every check against every storage.

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

macro_rules! conformance {
    ($($check:ident),* $(,)?) => {
        /// Each check against a fresh local directory.
        mod local {
            $(
                #[tokio::test]
                async fn $check() {
                    let t = super::Lake::local();
                    assert!(t.is_local());
                    super::$check(&t).await;
                }
            )*
        }

        /// Every check against S3 on moto, one server for all, one prefix per check.
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn s3_conformance() {
            let Some(moto) = Moto::start("s3_conformance", &workspace()) else {
                return;
            };
            let moto = Arc::new(moto);
            moto.create_bucket("lake");
            $(
                eprintln!("s3: {}", stringify!($check));
                let t = Lake::s3(&moto, "lake", stringify!($check));
                assert!(!t.is_local());
                $check(&t).await;
            )*
        }
    };
}

conformance!(
    documents,
    replace_commit,
    append_commit,
    manifest_matches_the_bytes,
    empty_partition,
    dropped_writer_leaves_nothing,
    files_roll_at_the_size_bound,
    replace_with_fewer_files,
    footer_metadata,
    physical_types,
    large_and_small_files,
    bad_names_are_refused,
    contract_created_matches_mismatch,
    contract_rebuild,
    contract_survives_unpartitioned_commits,
    commit_after_rebuild_is_refused,
    concurrent_appends,
    concurrent_replaces,
    lock_timeout_fails_cleanly,
    same_run_writers_queue,
    probe_leaves_nothing,
);

/// Explicit object storage settings: an unknown name is refused with the names to use, and
/// the options never print their values (they hold secrets).
#[test]
fn store_settings_are_checked_and_never_printed() {
    let options = |settings: &[(&str, &str)]| StoreOptions {
        from_env: false,
        settings: settings
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..StoreOptions::default()
    };
    let e = Store::open_with("s3://bucket/p", &options(&[("aws_endpoitn", "http://x")]))
        .err()
        .unwrap();
    assert!(
        e.to_string().contains(
            "unknown object storage setting `aws_endpoitn`; use names such as aws_endpoint"
        ),
        "{e}"
    );
    // A secret without its key id is an error that says what to set.
    let e = Store::open_with(
        "s3://bucket/p",
        &options(&[("aws_secret_access_key", "s3cr3t-value")]),
    )
    .err()
    .unwrap();
    assert!(e.to_string().contains("set AWS_ACCESS_KEY_ID"), "{e}");
    assert!(!e.to_string().contains("s3cr3t-value"), "{e}");
    let secret = options(&[
        ("AWS_ENDPOINT", "http://127.0.0.1:9"),
        ("aws_access_key_id", "id"),
        ("aws_secret_access_key", "s3cr3t-value"),
    ]);
    let store = Store::open_with("s3://bucket/some/prefix/", &secret).unwrap();
    assert_eq!(store.display(), "s3://bucket/some/prefix");
    assert!(store.local_root().is_none());
    let shown = format!("{secret:?}");
    assert!(!shown.contains("s3cr3t-value"), "{shown}");
    assert!(shown.contains("aws_secret_access_key"), "{shown}");
    let e = Store::open_with("s3:///p", &secret).err().unwrap();
    assert!(e.to_string().contains("no bucket"), "{e}");
}
