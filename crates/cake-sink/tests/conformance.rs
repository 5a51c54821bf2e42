//! One set of checks run against every kind of storage: a local directory, and S3 on a real
//! S3-compatible server (moto) that the test starts on 127.0.0.1.
//!
//! Each check gets a fresh, empty location. What is stored is listed independently of the
//! sink (a walk of the directory, hidden files included; moto's own bucket listing), so a
//! temporary file or a stray object shows up.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, BooleanArray, Date32Array, Decimal128Array, Int32Array, Int64Array, RecordBatch,
    StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use cake_sink::{
    read_parquet, Sink, SinkError, SinkOptions, Store, StoreOptions, WriteMode, WriteOptions,
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
);

/// Locally, a new sink removes the staging directories of runs whose process is gone (exited,
/// or a zombie not yet reaped) and keeps those of runs still alive: two pulls of different
/// reports into one directory do not break each other.
#[cfg(target_os = "linux")]
#[test]
fn staging_of_dead_runs_goes_and_of_live_runs_stays() {
    use std::process::Command;

    let t = Lake::local();
    let root = t.local_root().expect("a local lake");
    let staging = root.join("_staging");
    let mut alive = Command::new("sleep").arg("60").spawn().unwrap();
    let mut exited = Command::new("true").spawn().unwrap();
    exited.wait().unwrap();
    let mut zombie = Command::new("true").spawn().unwrap();
    // Until `wait`, the exited child stays a zombie.
    while std::fs::read_to_string(format!("/proc/{}/stat", zombie.id()))
        .map(|s| !s.contains(") Z "))
        .unwrap_or(false)
    {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let dir = |pid: u32| staging.join(format!("1706659200000000-{pid}"));
    for d in [
        dir(alive.id()),
        dir(exited.id()),
        dir(zombie.id()),
        staging.join("junk"),
    ] {
        std::fs::create_dir_all(d.join("p0")).unwrap();
        std::fs::write(d.join("p0/.part-00000.parquet.tmp"), b"partial").unwrap();
    }
    let sink = t.sink();
    let mut left: Vec<String> = std::fs::read_dir(&staging)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    left.sort();
    let mut expected = vec![
        format!("1706659200000000-{}", alive.id()),
        sink.run_id().to_string(),
    ];
    expected.sort();
    assert_eq!(left, expected);
    drop(sink);
    alive.kill().unwrap();
    alive.wait().unwrap();
    zombie.wait().unwrap();
    drop(t.sink());
    assert!(!staging.exists(), "the next run removes what is left");
}

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
