//! A Delta table's state: its latest snapshot, its contract and its current files.

use arrow_array::{Array, Int64Array, MapArray, RecordBatch, StringArray, StructArray};
use delta_kernel::engine::arrow_data::ArrowEngineData;
use delta_kernel::{Engine, FilteredEngineData, KernelError, KernelResult, Snapshot, SnapshotRef};
use url::Url;

use super::engine::{DELTA_LOG, PROPERTY_PREFIX};
use crate::contract::TableContract;

/// The contract kept in a snapshot's properties.
pub(super) fn contract_of(snapshot: &Snapshot) -> TableContract {
    TableContract {
        fields: snapshot
            .table_properties()
            .unknown_properties
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix(PROPERTY_PREFIX)
                    .map(|f| (f.to_string(), v.clone()))
            })
            .collect(),
    }
}

/// The latest snapshot, or `None` when the table has no log. The log is listed first (the
/// kernel reports a missing table as an error, and logs it).
pub(super) fn latest(engine: &dyn Engine, url: &Url) -> KernelResult<Option<SnapshotRef>> {
    // Only commits and checkpoints make a table: a log directory with nothing else (a local
    // writer's temporary file while it creates version 0) is no table yet.
    let log = url.join(&format!("{DELTA_LOG}/"))?;
    let any = engine.storage_handler().list_from(&log)?.any(|f| {
        f.is_ok_and(|f| {
            let name = f.location.path().rsplit('/').next().unwrap_or_default();
            name.len() > 20
                && name.as_bytes()[..20].iter().all(u8::is_ascii_digit)
                && (name.ends_with(".json") || name.ends_with(".parquet"))
        })
    });
    if !any {
        return Ok(None);
    }
    Snapshot::builder_for(url.as_str()).build(engine).map(Some)
}

/// One data file of a table, from its snapshot.
#[derive(Debug, Clone)]
pub(super) struct TableFile {
    pub path: String,
    pub size: i64,
    pub rows: Option<u64>,
    /// Milliseconds since the epoch, as the add action says.
    pub modified_ms: Option<i64>,
    pub partition_values: Vec<(String, Option<String>)>,
}

/// A table's files, and the same rows as the kernel's scan metadata (selected: the files of
/// the partition asked for), ready to be removed.
pub(super) struct Files {
    pub files: Vec<TableFile>,
    pub selected: Vec<FilteredEngineData>,
}

/// The current files of `snapshot`, restricted to the partition `name = value` when given
/// (exactly: by the files' partition values, not by pruning).
pub(super) fn table_files(
    engine: &dyn Engine,
    snapshot: &SnapshotRef,
    partition: Option<(&str, &str)>,
) -> KernelResult<Files> {
    let scan = snapshot.clone().scan_builder().build()?;
    let mut out = Files {
        files: Vec::new(),
        selected: Vec::new(),
    };
    for metadata in scan.scan_metadata(engine)? {
        let (data, selection) = metadata?.scan_files.into_parts();
        let batch: RecordBatch = ArrowEngineData::try_from_engine_data(data)?.into();
        let missing = |name: &str| KernelError::MissingColumn(format!("scan metadata: {name}"));
        let paths = batch
            .column_by_name("path")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .ok_or_else(|| missing("path"))?;
        let sizes = batch
            .column_by_name("size")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        let modified = batch
            .column_by_name("modificationTime")
            .and_then(|c| c.as_any().downcast_ref::<Int64Array>());
        let stats = batch
            .column_by_name("stats")
            .and_then(|c| c.as_any().downcast_ref::<StringArray>());
        let values = batch
            .column_by_name("fileConstantValues")
            .and_then(|c| c.as_any().downcast_ref::<StructArray>())
            .and_then(|s| s.column_by_name("partitionValues"))
            .and_then(|c| c.as_any().downcast_ref::<MapArray>())
            .ok_or_else(|| missing("fileConstantValues.partitionValues"))?;
        let mut keep = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let selected = selection.get(row).copied().unwrap_or(true) && paths.is_valid(row);
            if !selected {
                keep.push(false);
                continue;
            }
            let partition_values = map_entries(values, row);
            let matches = partition.is_none_or(|(name, value)| {
                partition_values
                    .iter()
                    .any(|(k, v)| k == name && v.as_deref() == Some(value))
            });
            keep.push(matches);
            if matches {
                out.files.push(TableFile {
                    path: paths.value(row).to_string(),
                    size: sizes.map_or(0, |s| s.value(row)),
                    modified_ms: modified.filter(|m| m.is_valid(row)).map(|m| m.value(row)),
                    rows: stats
                        .filter(|s| s.is_valid(row))
                        .and_then(|s| num_records(s.value(row))),
                    partition_values,
                });
            }
        }
        if keep.contains(&true) {
            out.selected.push(FilteredEngineData::try_new(
                Box::new(ArrowEngineData::new(batch)),
                keep,
            )?);
        }
    }
    Ok(out)
}

/// The entries of row `row` of a map of strings.
pub(super) fn map_entries(map: &MapArray, row: usize) -> Vec<(String, Option<String>)> {
    if map.is_null(row) {
        return Vec::new();
    }
    let entries = map.value(row);
    let (Some(keys), Some(values)) = (
        entries.column(0).as_any().downcast_ref::<StringArray>(),
        entries.column(1).as_any().downcast_ref::<StringArray>(),
    ) else {
        return Vec::new();
    };
    (0..entries.len())
        .map(|i| {
            (
                keys.value(i).to_string(),
                values.is_valid(i).then(|| values.value(i).to_string()),
            )
        })
        .collect()
}

/// `numRecords` of a file's JSON statistics.
pub(super) fn num_records(stats: &str) -> Option<u64> {
    serde_json::from_str::<serde_json::Value>(stats)
        .ok()?
        .get("numRecords")?
        .as_u64()
}
