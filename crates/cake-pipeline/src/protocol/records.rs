//! Arrow rows as JSON records, exactly: integers as JSON integers, decimals as strings,
//! timestamps as RFC 3339 with their offset, dates as `YYYY-MM-DD`, lists as arrays and
//! structs as objects. Nothing passes through floating point.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, Int64Type, TimestampMicrosecondType};
use arrow_array::{Array, ArrayRef, RecordBatch};
use arrow_schema::{DataType, TimeUnit};
use chrono::NaiveDate;
use serde_json::{Map, Value};

use super::schema::DAY_FIELD;

/// The rows of `batch` as JSON objects (a null value is a JSON null), each with the day of its
/// partition as [`DAY_FIELD`] when it has one.
pub fn batch_records(batch: &RecordBatch, day: Option<NaiveDate>) -> Vec<Map<String, Value>> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|row| {
            let mut record = Map::with_capacity(schema.fields().len() + 1);
            if let Some(day) = day {
                if schema.field_with_name(DAY_FIELD).is_err() {
                    record.insert(DAY_FIELD.into(), Value::String(day.to_string()));
                }
            }
            for (field, column) in schema.fields().iter().zip(batch.columns()) {
                record.insert(field.name().clone(), value(column, row));
            }
            record
        })
        .collect()
}

/// The value of `array` at `row`.
fn value(array: &ArrayRef, row: usize) -> Value {
    if array.is_null(row) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => Value::Bool(array.as_boolean().value(row)),
        DataType::Int32 => Value::from(array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => Value::from(array.as_primitive::<Int64Type>().value(row)),
        DataType::Utf8 => Value::String(array.as_string::<i32>().value(row).to_string()),
        DataType::LargeUtf8 => Value::String(array.as_string::<i64>().value(row).to_string()),
        DataType::Decimal128(_, _) => Value::String(
            array
                .as_primitive::<arrow_array::types::Decimal128Type>()
                .value_as_string(row),
        ),
        DataType::Date32 => {
            let days = array.as_primitive::<Date32Type>().value(row);
            match Date32Type::to_naive_date_opt(days) {
                Some(d) => Value::String(d.to_string()),
                None => Value::Null,
            }
        }
        DataType::Timestamp(TimeUnit::Microsecond, tz) => {
            let micros = array.as_primitive::<TimestampMicrosecondType>().value(row);
            match chrono::DateTime::from_timestamp_micros(micros) {
                // Stored in UTC; shown with the offset.
                Some(t) if tz.is_some() => {
                    Value::String(t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true))
                }
                Some(t) => Value::String(t.naive_utc().format("%Y-%m-%dT%H:%M:%S%.f").to_string()),
                None => Value::Null,
            }
        }
        DataType::List(_) => {
            let list = array.as_list::<i32>();
            let items = list.value(row);
            Value::Array((0..items.len()).map(|i| value(&items, i)).collect())
        }
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut object = Map::with_capacity(fields.len());
            for (field, column) in fields.iter().zip(s.columns()) {
                object.insert(field.name().clone(), value(column, row));
            }
            Value::Object(object)
        }
        // Types the catalog does not produce: their display form, as text.
        _ => match arrow_cast::display::ArrayFormatter::try_new(
            array.as_ref(),
            &arrow_cast::display::FormatOptions::default(),
        ) {
            Ok(f) => Value::String(f.value(row).to_string()),
            Err(_) => Value::Null,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{Decimal128Array, Int64Array, StringArray, TimestampMicrosecondArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    #[test]
    fn values_are_exact() {
        let schema = Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("price", DataType::Decimal128(19, 4), true),
            Field::new(
                "at",
                DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
                true,
            ),
            Field::new("name", DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            Arc::new(schema),
            vec![
                Arc::new(Int64Array::from(vec![Some(9_007_199_254_740_993), None])),
                Arc::new(
                    Decimal128Array::from(vec![Some(12_345_678_901), Some(1)])
                        .with_precision_and_scale(19, 4)
                        .unwrap(),
                ),
                Arc::new(
                    TimestampMicrosecondArray::from(vec![Some(1_709_511_457_000_001), None])
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from(vec![Some("a\"b"), None])),
            ],
        )
        .unwrap();
        let day = NaiveDate::from_ymd_opt(2024, 3, 4);
        let records = batch_records(&batch, day);
        let first = &records[0];
        assert_eq!(first["date"], Value::String("2024-03-04".into()));
        // Beyond 2^53: exact, as a JSON integer.
        assert_eq!(
            serde_json::to_string(&first["id"]).unwrap(),
            "9007199254740993"
        );
        assert_eq!(first["price"], Value::String("1234567.8901".into()));
        assert_eq!(
            first["at"],
            Value::String("2024-03-04T00:17:37.000001Z".into())
        );
        assert_eq!(first["name"], Value::String("a\"b".into()));
        assert_eq!(records[1]["id"], Value::Null);
        assert_eq!(records[1]["price"], Value::String("0.0001".into()));
    }
}
