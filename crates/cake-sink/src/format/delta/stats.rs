//! The statistics of a commit's files, for readers that skip files by them.

use arrow_array::{Array, RecordBatch, StructArray};
use delta_kernel::arrow::compute::concat;
use delta_kernel::engine::arrow_conversion::TryFromArrow;
use delta_kernel::expressions::ColumnName;
use delta_kernel::schema::StructType;
use delta_kernel_default_engine::stats::FileStatsAccumulator;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

use std::path::Path;

use arrow_schema::SchemaRef;

/// The statistics of a commit's files (`numRecords`, and `nullCount`, `minValues`, `maxValues`
/// and `tightBounds` of the table's statistics columns), for readers that skip files by them:
/// read back from the local copies with the kernel's own statistics collector, once per set of
/// columns (a retried commit asks again, the table's settings may have changed meanwhile).
#[derive(Default)]
pub(super) struct FileStats {
    columns: Option<Vec<ColumnName>>,
    stats: Option<StructArray>,
}

impl FileStats {
    /// One row per file (of `schema`, read back from `files`) of a commit to `table`, or
    /// `None` when they could not be read (the add actions then carry the row count alone:
    /// readers read every file rather than skip one wrongly).
    pub(super) fn get(
        &mut self,
        table: &str,
        schema: &SchemaRef,
        files: &[&Path],
        columns: Vec<ColumnName>,
    ) -> Option<&StructArray> {
        if self.columns.as_ref() != Some(&columns) {
            self.stats = match collect_file_stats(schema, files, &columns) {
                Ok(stats) => Some(stats),
                Err(e) => {
                    tracing::warn!(
                        table,
                        error = %e,
                        "the statistics of the new files could not be collected; their add actions carry the row count only"
                    );
                    None
                }
            };
            self.columns = Some(columns);
        }
        self.stats.as_ref()
    }
}

fn collect_file_stats(
    schema: &SchemaRef,
    files: &[&Path],
    columns: &[ColumnName],
) -> Result<StructArray, Box<dyn std::error::Error + Send + Sync>> {
    let physical = StructType::try_from_arrow(schema.as_ref())?;
    let mut rows = Vec::with_capacity(files.len());
    for file in files {
        let reader = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(file)?)?
            .with_batch_size(8192)
            .build()?;
        let mut accumulator = FileStatsAccumulator::new(columns, &physical);
        let mut merged = false;
        for batch in reader {
            accumulator.merge(&batch?)?;
            merged = true;
        }
        if !merged {
            // A file of no rows still gets statistics (numRecords 0).
            accumulator.merge(&RecordBatch::new_empty(schema.clone()))?;
        }
        rows.push(accumulator.finish()?.ok_or("no statistics")?);
    }
    let parts: Vec<&dyn Array> = rows.iter().map(|r| r as &dyn Array).collect();
    let all = concat(&parts)?;
    Ok(all
        .as_any()
        .downcast_ref::<StructArray>()
        .ok_or("the statistics are not a struct")?
        .clone())
}
