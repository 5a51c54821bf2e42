//! What the pipeline tests share: a sandbox with a fixed "today", a client for it, output
//! locations (a local directory, or S3 on moto) listed without the sink, and readers that turn
//! committed Parquet back into comparable rows.

#![allow(dead_code)]

#[path = "../../../../cake-sink/tests/it/common/lake.rs"]
mod lake;
#[path = "../../../../cake-sink/tests/it/common/moto.rs"]
pub mod moto;

pub use lake::Lake;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow_array::{Array, RecordBatch};
use cake_arrow::DecoderOptions;
use cake_catalog::{Context, Options, Plan, PlannedRequest, Report};
use cake_pipeline::{PullOptions, PullSummary};
use cake_sandbox::{Faults, Sandbox, SandboxConfig};
use cake_sink::{read_parquet, Sink, WriteMode};
use cake_transport::{ApiKey, Client, ClientOptions, Instance, RetryPolicy};
use chrono::{DateTime, NaiveDate, Utc};

use moto::Moto;

/// The sandbox's key: long and distinctive, so finding it anywhere in the output means a leak.
pub const KEY: &str = "k3y-PIPELINE-test-9f2c41";

/// The sandbox's "today": dated rows exist up to it and three years back.
pub fn today() -> NaiveDate {
    day("2024-03-10")
}

pub fn day(s: &str) -> NaiveDate {
    s.parse().unwrap()
}

/// Noon UTC of `d`.
pub fn noon(d: NaiveDate) -> DateTime<Utc> {
    d.and_hms_opt(12, 0, 0).unwrap().and_utc()
}

pub fn sandbox_config(faults: Faults) -> SandboxConfig {
    SandboxConfig {
        seed: 11,
        api_key: KEY.to_string(),
        rows_per_day: 200,
        port: 0,
        today: today(),
        faults,
    }
}

pub async fn sandbox() -> Sandbox {
    Sandbox::start(sandbox_config(Faults::default()))
        .await
        .unwrap()
}

pub fn client(sandbox: &Sandbox, retry: RetryPolicy) -> Client {
    Client::new(
        Instance::parse(&sandbox.url(), false).unwrap(),
        ApiKey::new(KEY).unwrap(),
        ClientOptions {
            retry,
            jitter_seed: Some(5),
            ..ClientOptions::default()
        },
    )
    .unwrap()
}

pub fn report(id: &str) -> &'static Report {
    cake_catalog::find(id).unwrap()
}

pub fn plan_at(id: &str, options: &Options, now: DateTime<Utc>, page_size: Option<u32>) -> Plan {
    let mut ctx = Context::new(now);
    ctx.page_size = page_size;
    cake_catalog::plan(report(id), options, &ctx).unwrap()
}

pub fn range(start: &str, end: &str) -> Options {
    Options {
        start: Some(day(start)),
        end: Some(day(end)),
        ..Options::default()
    }
}

pub fn pull_options(mode: WriteMode, keep_raw: bool) -> PullOptions {
    PullOptions {
        mode,
        keep_raw,
        ..PullOptions::default()
    }
}

pub async fn pull(client: &Client, plan: &Plan, sink: &Sink, options: &PullOptions) -> PullSummary {
    cake_pipeline::pull(client, plan, sink, options, &|_| {})
        .await
        .unwrap()
}

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts moto for `test`, or `None` (skipped, said on stderr) when it is not installed and
/// CI is not set.
pub fn moto(test: &str) -> Option<Arc<Moto>> {
    Moto::start(test, &workspace()).map(Arc::new)
}

/// One committed Parquet file, read back.
pub struct FileBack {
    pub name: String,
    pub rows: u64,
    pub batches: Vec<RecordBatch>,
    pub metadata: Vec<(String, String)>,
}

/// The files of a committed partition (`table/partition`), in manifest order, checked against
/// the manifest and against the report's schema.
pub async fn read_partition(
    sink: &Sink,
    report: &Report,
    partition: Option<&str>,
) -> Vec<FileBack> {
    let manifest = sink.verify(report.id, partition).await.unwrap();
    let dir = partition.map_or(report.id.to_string(), |p| format!("{}/{p}", report.id));
    let schema = report.arrow_schema();
    let mut out = Vec::new();
    for f in &manifest.files {
        let bytes = sink
            .store()
            .get_bytes(&format!("{dir}/{}", f.name))
            .await
            .unwrap()
            .unwrap();
        let back = read_parquet(&f.name, bytes).unwrap();
        assert_eq!(
            back.schema.fields(),
            schema.fields(),
            "{dir}/{}: the catalog's schema, always",
            f.name
        );
        out.push(FileBack {
            name: f.name.clone(),
            rows: back.rows,
            batches: back.batches,
            metadata: back.metadata,
        });
    }
    out
}

/// Each row as text (every column's value, with its type), for comparing row sets.
pub fn row_strings(batches: &[RecordBatch]) -> Vec<String> {
    let mut rows = Vec::new();
    for b in batches {
        for i in 0..b.num_rows() {
            let cells: Vec<String> = b
                .columns()
                .iter()
                .map(|c| {
                    let one = c.slice(i, 1);
                    if one.is_null(0) {
                        "NULL".to_string()
                    } else {
                        format!("{one:?}")
                    }
                })
                .collect();
            rows.push(cells.join(" | "));
        }
    }
    rows
}

/// Every row of a table (all partitions), as sorted text.
pub async fn table_rows(sink: &Sink, lake: &Lake, report: &Report) -> Vec<String> {
    let mut partitions: Vec<Option<String>> = Vec::new();
    for object in lake.objects_in(report.id) {
        match object.split_once('/') {
            Some((p, "_SUCCESS")) => partitions.push(Some(p.to_string())),
            None if object == "_SUCCESS" => partitions.push(None),
            _ => {}
        }
    }
    let mut rows = Vec::new();
    for p in &partitions {
        for f in read_partition(sink, report, p.as_deref()).await {
            rows.extend(row_strings(&f.batches));
        }
    }
    rows.sort();
    rows
}

/// The catalog's table key of every row of a report's table (all partitions), as text; `date`
/// in the key is the row's partition.
pub async fn table_keys(sink: &Sink, lake: &Lake, report: &Report) -> Vec<String> {
    let mut keys = Vec::new();
    for object in lake.objects_in(report.id) {
        let partition = match object.split_once('/') {
            Some((p, "_SUCCESS")) => Some(p.to_string()),
            None if object == "_SUCCESS" => None,
            _ => continue,
        };
        for file in read_partition(sink, report, partition.as_deref()).await {
            for batch in &file.batches {
                for i in 0..batch.num_rows() {
                    let parts: Vec<String> = report
                        .table_key
                        .iter()
                        .map(|k| match *k {
                            cake_catalog::PARTITION_DAY => partition.clone().unwrap_or_default(),
                            column => {
                                let one = batch.column_by_name(column).unwrap().slice(i, 1);
                                format!("{one:?}")
                            }
                        })
                        .collect();
                    keys.push(parts.join(" | "));
                }
            }
        }
    }
    keys
}

/// The keys that appear more than once.
pub fn repeated(keys: &[String]) -> Vec<String> {
    let mut seen = std::collections::BTreeMap::new();
    for k in keys {
        *seen.entry(k.clone()).or_insert(0) += 1;
    }
    seen.into_iter()
        .filter(|(_, n)| *n > 1)
        .map(|(k, n)| format!("{k} ({n} times)"))
        .collect()
}

/// The rows the sandbox holds for one planned request, asked for without the connector: the
/// request's URL (all rows, one page) answered by `cake_sandbox::respond` and decoded.
pub fn sandbox_rows(config: &SandboxConfig, plan: &Plan, request: &PlannedRequest) -> Vec<String> {
    let instance = Instance::parse("http://127.0.0.1:1", false).unwrap();
    let url = cake_transport::display_url(
        &instance,
        plan.report,
        request,
        None,
        cake_transport::Protocol::Get,
    );
    let path = url
        .strip_prefix("http://127.0.0.1:1")
        .unwrap()
        .replace("<redacted>", KEY);
    let response = cake_sandbox::respond(config, &path);
    assert_eq!(response.status, 200, "{path}: {}", response.text());
    let mut batches = Vec::new();
    cake_arrow::decode_reader(
        plan.report,
        DecoderOptions {
            timezone: plan.timezone,
            ..DecoderOptions::default()
        },
        response.body.as_slice(),
        |b| {
            batches.push(b);
            Ok::<(), cake_arrow::DecodeError>(())
        },
    )
    .unwrap();
    row_strings(&batches)
}

/// Whether `needle` occurs in `haystack`.
pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Asserts that no stored object contains the API key (raw responses, which must be zstd
/// streams, decompressed first).
pub async fn assert_no_key_anywhere(sink: &Sink, lake: &Lake) {
    for object in lake.objects() {
        let bytes = sink.store().get_bytes(&object).await.unwrap().unwrap();
        assert!(!contains(&bytes, KEY), "{object} holds the API key");
        if object.starts_with("_raw/") {
            assert!(object.ends_with(".xml.zst"), "{object}");
            let text = zstd::stream::decode_all(bytes.as_slice()).unwrap();
            assert!(
                !contains(&text, KEY),
                "{object} (decompressed) holds the API key"
            );
        }
    }
}
