//! Arrow schemas of the reports (feature `arrow`).

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, TimeUnit};

use crate::model::{ColumnType, Report, EXTRA_COLUMN, REJECTED_COLUMN};

impl ColumnType {
    /// The Arrow type of the column. Timestamps are microseconds in UTC, never nanoseconds.
    pub fn to_arrow(&self) -> DataType {
        match self {
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Decimal { precision, scale } => DataType::Decimal128(*precision, *scale),
            ColumnType::Utf8 => DataType::Utf8,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            ColumnType::Date => DataType::Date32,
            ColumnType::Json => DataType::Utf8,
            ColumnType::List(inner) => {
                DataType::List(Arc::new(Field::new_list_field(inner.to_arrow(), true)))
            }
            ColumnType::Struct(fields) => DataType::Struct(
                fields
                    .iter()
                    .map(|f| Field::new(f.name, f.ty.to_arrow(), f.nullable))
                    .collect(),
            ),
        }
    }
}

impl Report {
    /// The report's Arrow schema: its columns, in catalog order, with their types and
    /// nullability, then [`EXTRA_COLUMN`] and [`REJECTED_COLUMN`] (nullable text holding JSON).
    /// Output always has exactly this schema, whatever the data holds.
    pub fn arrow_schema(&self) -> Schema {
        Schema::new(
            self.columns
                .iter()
                .map(|c| Field::new(c.name, c.ty.to_arrow(), c.nullable))
                .chain([
                    Field::new(EXTRA_COLUMN, DataType::Utf8, true),
                    Field::new(REJECTED_COLUMN, DataType::Utf8, true),
                ])
                .collect::<Vec<_>>(),
        )
    }
}
