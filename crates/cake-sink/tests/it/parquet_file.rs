//! The atomic Parquet file: read back what was written, and nothing left behind otherwise.

use std::sync::Arc;

use arrow_array::{Array, ArrayRef, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use cake_sink::{ParquetFile, SinkError, WriteOptions};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;

fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]))
}

fn batch(from: i64, n: i64) -> RecordBatch {
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(from..from + n));
    let names: ArrayRef = Arc::new(StringArray::from_iter(
        (from..from + n).map(|i| (i % 3 != 0).then(|| format!("name {i} €"))),
    ));
    RecordBatch::try_new(schema(), vec![ids, names]).unwrap()
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

#[test]
fn a_finished_file_reads_back_with_its_metadata() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    let options = WriteOptions {
        metadata: vec![("cake.report".into(), "clicks".into())],
        max_row_group_rows: 1000,
        ..WriteOptions::default()
    };
    let mut file = ParquetFile::create(&path, schema(), options).unwrap();
    // While writing, only the hidden temporary file exists.
    let during = entries(dir.path());
    assert_eq!(during.len(), 1);
    assert!(
        during[0].starts_with(".out.parquet.") && during[0].ends_with(".tmp"),
        "{during:?}"
    );
    file.write(&batch(0, 1500)).unwrap();
    file.write(&batch(1500, 700)).unwrap();
    assert_eq!(file.rows(), 2200);
    let info = file.finish().unwrap();
    assert_eq!(info.rows, 2200);
    assert_eq!(info.path, path);
    assert_eq!(info.bytes, std::fs::metadata(&path).unwrap().len());
    assert_eq!(entries(dir.path()), ["out.parquet"]);

    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata().clone();
    assert_eq!(reader.schema().fields(), schema().fields());
    assert_eq!(meta.num_row_groups(), 3, "row groups bounded at 1000 rows");
    let column = meta.row_group(0).column(0);
    assert!(matches!(column.compression(), Compression::ZSTD(_)));
    assert!(column.statistics().is_some(), "statistics are on");
    let kv = meta.file_metadata().key_value_metadata().unwrap();
    assert!(kv
        .iter()
        .any(|k| k.key == "cake.report" && k.value.as_deref() == Some("clicks")));
    let batches: Vec<RecordBatch> = reader.build().unwrap().map(|b| b.unwrap()).collect();
    let all = arrow_select_concat(&batches);
    assert_eq!(all, batch(0, 2200));
}

fn arrow_select_concat(batches: &[RecordBatch]) -> RecordBatch {
    let ids: Vec<i64> = batches
        .iter()
        .flat_map(|b| {
            b.column(0)
                .as_any()
                .downcast_ref::<Int64Array>()
                .unwrap()
                .values()
                .to_vec()
        })
        .collect();
    let names: Vec<Option<String>> = batches
        .iter()
        .flat_map(|b| {
            let s = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
            (0..s.len())
                .map(|i| (!s.is_null(i)).then(|| s.value(i).to_string()))
                .collect::<Vec<_>>()
        })
        .collect();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(Int64Array::from(ids)),
            Arc::new(StringArray::from(names)),
        ],
    )
    .unwrap()
}

#[test]
fn an_unfinished_file_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    let mut file = ParquetFile::create(&path, schema(), WriteOptions::default()).unwrap();
    file.write(&batch(0, 10)).unwrap();
    drop(file);
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn finishing_replaces_an_existing_file_and_an_empty_file_is_valid() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.parquet");
    std::fs::write(&path, b"old").unwrap();
    let info = ParquetFile::create(&path, schema(), WriteOptions::default())
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(info.rows, 0);
    let reader =
        ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(&path).unwrap()).unwrap();
    assert_eq!(reader.schema().as_ref(), schema().as_ref());
    assert_eq!(reader.metadata().file_metadata().num_rows(), 0);
}

#[test]
fn errors_name_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("out.parquet");
    let e = ParquetFile::create(&path, schema(), WriteOptions::default())
        .err()
        .unwrap();
    let text = e.to_string();
    assert!(text.contains("missing-dir"), "{text}");
    assert!(text.contains("check that the directory exists"), "{text}");
    let mut file = ParquetFile::create(
        dir.path().join("x.parquet"),
        schema(),
        WriteOptions::default(),
    )
    .unwrap();
    let other = RecordBatch::try_new(
        Arc::new(Schema::new(vec![Field::new("z", DataType::Int64, false)])),
        vec![Arc::new(Int64Array::from(vec![1]))],
    )
    .unwrap();
    let e = file.write(&other).unwrap_err();
    assert!(e.to_string().contains("x.parquet"), "{e}");
}

/// Options that make many row groups and pages, with `queue` batches for the encoder thread.
fn many_groups(queue: usize) -> WriteOptions {
    WriteOptions {
        metadata: vec![("cake.report".into(), "clicks".into())],
        max_row_group_rows: 700,
        encode_queue: queue,
        ..WriteOptions::default()
    }
}

/// The encoder thread writes the same file, byte for byte, as encoding on the caller's thread,
/// whatever the depth of its queue.
#[test]
fn pipelined_files_are_the_files_written_inline() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = Vec::new();
    for queue in [0, 1, 2, 8] {
        let path = dir.path().join(format!("queue-{queue}.parquet"));
        let mut file = ParquetFile::create(&path, schema(), many_groups(queue)).unwrap();
        let mut from = 0;
        for n in [1, 500, 999, 3, 2048, 0, 1500] {
            file.write(&batch(from, n)).unwrap();
            from += n;
        }
        assert_eq!(file.rows(), from as u64);
        let info = file.finish().unwrap();
        assert_eq!(info.rows, from as u64);
        files.push(std::fs::read(&path).unwrap());
    }
    assert!(files[0].len() > 1000);
    for (i, f) in files.iter().enumerate().skip(1) {
        assert!(f == &files[0], "file {i} differs from the inline one");
    }
}

/// An error on the encoder thread (here: its directory for spilled pages is gone, so the page
/// store cannot create its file) comes back, typed and naming the file, from a call soon after
/// the batch that failed: at most a queue's depth of batches later, or from `finish`. Nothing
/// is left behind.
#[test]
fn an_encoder_error_comes_back_from_the_next_calls() {
    for queue in [0, 1, 2] {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("out");
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("out.parquet");
        let mut file = ParquetFile::create(&path, schema(), many_groups(queue)).unwrap();
        // Less than a row group: no page is stored yet.
        file.write(&batch(0, 10)).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        // This one ends a row group: its pages go to the page store, which fails.
        let mut result = file.write(&batch(10, 1000));
        let mut calls = 1;
        while result.is_ok() && calls <= queue + 1 {
            result = file.write(&batch(2000, 1));
            calls += 1;
        }
        let e = result.expect_err("the failure comes back within the queue's depth");
        assert!(
            matches!(&e, SinkError::Parquet { path: p, .. } if p == &path),
            "queue {queue}: {e:?}"
        );
        // The file is over: later calls say so, and finishing it fails too.
        let again = file.write(&batch(3000, 1)).unwrap_err();
        assert!(matches!(again, SinkError::Encoder { .. }), "{again:?}");
        assert!(file.finish().is_err());
        assert!(!dir.exists());
        assert_eq!(entries(root.path()), Vec::<String>::new());
    }
}
