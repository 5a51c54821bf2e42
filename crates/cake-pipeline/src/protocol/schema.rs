//! The JSON schema of a report's records, from the Arrow schema its batches have: what
//! `discover` shows and what every record of `read` obeys.

use arrow_schema::{DataType, TimeUnit};
use cake_catalog::{DateSemantics, Report};
use serde_json::{json, Map, Value};

/// The field that carries the day of a record's partition (the `date=` of the table's layout)
/// in records of dated reports.
pub const DAY_FIELD: &str = cake_catalog::PARTITION_DAY;

/// The JSON schema of one record of `report`.
pub fn record_schema(report: &Report) -> Value {
    let schema = report.arrow_schema();
    let mut properties = Map::new();
    if report.dates != DateSemantics::None && schema.field_with_name(DAY_FIELD).is_err() {
        properties.insert(
            DAY_FIELD.into(),
            json!({
                "type": ["null", "string"],
                "format": "date",
                "description": "The day of the record's partition (instance time).",
            }),
        );
    }
    for field in schema.fields() {
        properties.insert(field.name().clone(), of(field.data_type()));
    }
    json!({
        "$schema": "http://json-schema.org/draft-07/schema#",
        "type": "object",
        "additionalProperties": true,
        "properties": properties,
    })
}

/// The schema of one value of type `t` (every value may be null).
fn of(t: &DataType) -> Value {
    match t {
        DataType::Boolean => json!({"type": ["null", "boolean"]}),
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32
        | DataType::UInt64 => json!({"type": ["null", "integer"]}),
        DataType::Decimal128(precision, scale) => json!({
            "type": ["null", "string"],
            "format": "decimal",
            "pattern": "^-?[0-9]+(\\.[0-9]+)?$",
            "description": format!("An exact decimal of {precision} digits, {scale} after the point, as text."),
        }),
        DataType::Timestamp(TimeUnit::Microsecond, Some(_)) | DataType::Timestamp(_, Some(_)) => {
            json!({
                "type": ["null", "string"],
                "format": "date-time",
                "airbyte_type": "timestamp_with_timezone",
            })
        }
        DataType::Timestamp(_, None) => json!({
            "type": ["null", "string"],
            "format": "date-time",
            "airbyte_type": "timestamp_without_timezone",
        }),
        DataType::Date32 | DataType::Date64 => {
            json!({"type": ["null", "string"], "format": "date"})
        }
        DataType::List(item) | DataType::LargeList(item) => json!({
            "type": ["null", "array"],
            "items": of(item.data_type()),
        }),
        DataType::Struct(fields) => {
            let mut properties = Map::new();
            for f in fields {
                properties.insert(f.name().clone(), of(f.data_type()));
            }
            json!({"type": ["null", "object"], "properties": properties})
        }
        _ => json!({"type": ["null", "string"]}),
    }
}
