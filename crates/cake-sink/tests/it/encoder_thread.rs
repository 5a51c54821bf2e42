//! A file's encoder thread never outlives the file: finished, failed or dropped half-written,
//! the thread is gone when the call returns. The test counts the process's threads, so it runs
//! in a process of its own (the test binary run again for this test alone): no other test's
//! threads are counted.

use std::sync::Arc;

use arrow_array::{ArrayRef, Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};
use cake_sink::{ParquetFile, WriteOptions};

fn batch(n: i64) -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
    let ids: ArrayRef = Arc::new(Int64Array::from_iter_values(0..n));
    RecordBatch::try_new(schema, vec![ids]).unwrap()
}

/// Threads of this process (the test's own and the harness's, and encoder threads: nothing
/// else runs here).
fn threads() -> usize {
    std::fs::read_dir("/proc/self/task").unwrap().count()
}

/// The check below, run alone in a child process of this test binary.
#[test]
fn encoder_threads_end_with_their_files() {
    if !std::path::Path::new("/proc/self/task").exists() {
        return;
    }
    let name = "encoder_thread::encoder_threads_end_with_their_files_alone";
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--ignored", "--test-threads=1"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
#[ignore = "counts the process's threads: run alone by encoder_threads_end_with_their_files"]
fn encoder_threads_end_with_their_files_alone() {
    let dir = tempfile::tempdir().unwrap();
    let options = || WriteOptions {
        max_row_group_rows: 100,
        ..WriteOptions::default()
    };
    let schema = batch(0).schema();
    let before = threads();
    let encoder_threads = || threads() - before;

    let mut file =
        ParquetFile::create(dir.path().join("a.parquet"), schema.clone(), options()).unwrap();
    assert_eq!(encoder_threads(), 1, "a file has an encoder thread");
    for _ in 0..20 {
        file.write(&batch(250)).unwrap();
    }
    file.finish().unwrap();
    assert_eq!(encoder_threads(), 0, "finished");

    let mut file =
        ParquetFile::create(dir.path().join("b.parquet"), schema.clone(), options()).unwrap();
    for _ in 0..20 {
        file.write(&batch(250)).unwrap();
    }
    drop(file);
    assert_eq!(encoder_threads(), 0, "dropped half-written");
    assert!(!dir.path().join("b.parquet").exists());

    let sub = dir.path().join("sub");
    std::fs::create_dir(&sub).unwrap();
    let mut file = ParquetFile::create(sub.join("c.parquet"), schema.clone(), options()).unwrap();
    file.write(&batch(10)).unwrap();
    std::fs::remove_dir_all(&sub).unwrap();
    let mut failed = false;
    for _ in 0..10 {
        if file.write(&batch(250)).is_err() {
            failed = true;
            break;
        }
    }
    assert!(failed, "the encoder's error came back");
    assert_eq!(encoder_threads(), 0, "failed");
    drop(file);

    let inline = WriteOptions {
        encode_queue: 0,
        ..options()
    };
    let mut file = ParquetFile::create(dir.path().join("d.parquet"), schema, inline).unwrap();
    assert_eq!(
        encoder_threads(),
        0,
        "a queue of 0 encodes on the caller's thread"
    );
    file.write(&batch(250)).unwrap();
    file.finish().unwrap();
}
