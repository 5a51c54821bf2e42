//! What the window's check needs to know of each decoded row: its identity (the catalog's
//! primary key) and whether its own date lies in the window asked for.

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Int32Type, Int64Type, TimestampMicrosecondType};
use std::sync::Arc;

use arrow_array::{Array, ArrayRef, ListArray, RecordBatch, StringArray};
use arrow_schema::DataType;
use cake_catalog::dates::local_to_utc;
use cake_catalog::{Layout, Plan, PlannedDates, PlannedRequest, Report};
use cake_transport::{RowDates, RowKey, Scrubber};
use chrono::{Datelike, NaiveDate, NaiveTime};

/// Separates the parts of a composite key (never found in ids, dates or Cake's strings).
const SEPARATOR: u8 = 0x1f;

/// Columns of the primary key, by index in the report's schema.
#[derive(Debug, Clone)]
pub(crate) struct KeyColumns(Vec<usize>);

impl KeyColumns {
    pub(crate) fn new(report: &Report) -> KeyColumns {
        KeyColumns(
            report
                .primary_key
                .iter()
                .filter_map(|k| report.columns.iter().position(|c| c.name == *k))
                .collect(),
        )
    }

    /// The key of every row of `batch`, in order.
    pub(crate) fn keys(&self, batch: &RecordBatch) -> Vec<RowKey> {
        let mut out = Vec::with_capacity(batch.num_rows());
        let mut buf = Vec::with_capacity(32);
        for row in 0..batch.num_rows() {
            buf.clear();
            for (i, &col) in self.0.iter().enumerate() {
                if i > 0 {
                    buf.push(SEPARATOR);
                }
                value_bytes(batch.column(col).as_ref(), row, &mut buf);
            }
            out.push(RowKey::new(&buf));
        }
        out
    }
}

/// One value as the bytes of a key: integers and instants in decimal, text as it is, null as a
/// lone NUL byte.
fn value_bytes(array: &dyn Array, row: usize, out: &mut Vec<u8>) {
    use std::io::Write;
    if array.is_null(row) {
        out.push(0);
        return;
    }
    let _ = match array.data_type() {
        DataType::Int32 => write!(out, "{}", array.as_primitive::<Int32Type>().value(row)),
        DataType::Int64 => write!(out, "{}", array.as_primitive::<Int64Type>().value(row)),
        DataType::Date32 => write!(out, "{}", array.as_primitive::<Date32Type>().value(row)),
        DataType::Timestamp(_, _) => write!(
            out,
            "{}",
            array.as_primitive::<TimestampMicrosecondType>().value(row)
        ),
        DataType::Utf8 => {
            out.extend_from_slice(array.as_string::<i32>().value(row).as_bytes());
            Ok(())
        }
        other => write!(out, "{other}@{row}"),
    };
}

/// Removes the API key from the text values of a batch: a server that echoes the key into a
/// row would otherwise have it stored in the lake, where everyone who reads the table sees it.
/// Returns the batch (rebuilt only when a value held the key) and the values changed.
pub(crate) fn redact_values(batch: RecordBatch, scrubber: &Scrubber) -> (RecordBatch, u64) {
    let mut changed = 0;
    let mut columns: Vec<ArrayRef> = batch.columns().to_vec();
    for column in columns.iter_mut() {
        if let Some((array, n)) = redact_array(column.as_ref(), scrubber) {
            *column = array;
            changed += n;
        }
    }
    if changed == 0 {
        return (batch, 0);
    }
    match RecordBatch::try_new(batch.schema(), columns) {
        Ok(b) => (b, changed),
        Err(_) => (batch, 0),
    }
}

/// A text array (or a list of text) with the key removed, when some value held it.
fn redact_array(array: &dyn Array, scrubber: &Scrubber) -> Option<(ArrayRef, u64)> {
    match array.data_type() {
        DataType::Utf8 => {
            let values = array.as_string::<i32>();
            // One scan of the column's text: a value holds a secret only if their
            // concatenation does (a match across two values is looked at value by value).
            let offsets = values.value_offsets();
            let (first, last) = (offsets[0], offsets[offsets.len() - 1]);
            let text = values
                .value_data()
                .get(usize::try_from(first).ok()?..usize::try_from(last).ok()?)?;
            if !scrubber.found_in_bytes(text) {
                return None;
            }
            let hits = values
                .iter()
                .flatten()
                .filter(|v| scrubber.found_in(v))
                .count() as u64;
            if hits == 0 {
                return None;
            }
            let out: StringArray = values
                .iter()
                .map(|v| v.map(|v| scrubber.scrub(v).into_owned()))
                .collect();
            Some((Arc::new(out), hits))
        }
        DataType::List(field) => {
            let list = array.as_list::<i32>();
            let (values, hits) = redact_array(list.values().as_ref(), scrubber)?;
            let rebuilt = ListArray::try_new(
                field.clone(),
                list.offsets().clone(),
                values,
                list.nulls().cloned(),
            )
            .ok()?;
            Some((Arc::new(rebuilt), hits))
        }
        _ => None,
    }
}

/// Where a window's rows must be dated: `[start, end)` in UTC microseconds, and the days it
/// owns. For a report laid out by window, the window (up to the run's start for a window that
/// reaches into the present); for one laid out by its rows' days (a change feed), the days the
/// window requested, never after the run's start; for rows that are periods, a row is inside
/// when its period overlaps the window.
#[derive(Debug, Clone, Copy)]
pub struct DateBounds {
    column: usize,
    /// Where a row's period ends (exclusive, null when open), for rows that are periods.
    end_column: Option<usize>,
    start: i64,
    end: i64,
    /// The owned days, as days since the epoch, inclusive.
    first_day: i64,
    last_day: i64,
}

const MICROS_PER_DAY: i64 = 86_400_000_000;

fn epoch_day(d: NaiveDate) -> i64 {
    i64::from(d.num_days_from_ce()) - 719_163
}

impl DateBounds {
    /// The bounds of `request` of `plan` for a run that started at `now`; `None` for a report
    /// whose rows carry no date.
    pub fn for_request(
        plan: &Plan,
        request: &PlannedRequest,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Option<DateBounds> {
        let report = plan.report;
        let tz = plan.timezone;
        let position = |name: &str| report.columns.iter().position(|c| c.name == name);
        let now_local = now.with_timezone(&tz).naive_local();
        let (column, first, end_local) = match (report.layout, plan.dates, request.window) {
            (Layout::Window, _, Some(w)) => {
                let end = request
                    .cutoff
                    .unwrap_or_else(|| w.end().and_time(NaiveTime::MIN));
                (position(report.date_field?)?, w.start(), end)
            }
            (Layout::RowDay(column), _, Some(w)) => {
                let end = w.end().and_time(NaiveTime::MIN).min(now_local);
                (position(column)?, w.start(), end)
            }
            (Layout::RowDay(column), PlannedDates::ChangesSince(since), None) => {
                (position(column)?, since, now_local)
            }
            _ => return None,
        };
        let start = local_to_utc(first.and_time(NaiveTime::MIN), tz);
        let end = local_to_utc(end_local, tz);
        // The last day is the one the end instant falls in (a day's midnight ends the day
        // before).
        let last_day = (end_local - chrono::Duration::microseconds(1)).date();
        Some(DateBounds {
            column,
            end_column: report.date_end_field.and_then(position),
            start: start.timestamp_micros(),
            end: end.timestamp_micros(),
            first_day: epoch_day(first),
            last_day: epoch_day(last_day).max(epoch_day(first)),
        })
    }

    /// The days the window owns, inclusive.
    pub fn days(&self) -> (NaiveDate, NaiveDate) {
        let day = |d: i64| {
            NaiveDate::from_num_days_from_ce_opt(i32::try_from(d + 719_163).unwrap_or(0))
                .unwrap_or(NaiveDate::MIN)
        };
        (day(self.first_day), day(self.last_day))
    }

    /// How the rows of `batch` sit against the window; the first row outside it (0-based) and
    /// its date (UTC microseconds).
    pub(crate) fn check(&self, batch: &RecordBatch) -> (RowDates, Option<(usize, i64)>) {
        let array = batch.column(self.column);
        let ends = self.end_column.map(|c| batch.column(c));
        let mid = self.start / 2 + self.end / 2;
        let mut dates = RowDates::default();
        let mut first = None;
        let mut add = |row: usize, micros: i64, inside: bool| {
            dates.dated += 1;
            dates.shift_seconds += i128::from((micros - mid) / 1_000_000);
            if !inside {
                dates.outside += 1;
                first.get_or_insert((row, micros));
            }
        };
        // Where a row's period ends, when rows are periods: `None` when it is open.
        let end_of = |row: usize| -> Option<i64> {
            let a = ends?;
            if a.is_null(row) {
                return None;
            }
            match a.data_type() {
                DataType::Timestamp(_, _) => {
                    Some(a.as_primitive::<TimestampMicrosecondType>().value(row))
                }
                DataType::Date32 => {
                    Some(i64::from(a.as_primitive::<Date32Type>().value(row)) * MICROS_PER_DAY)
                }
                _ => None,
            }
        };
        match array.data_type() {
            DataType::Timestamp(_, _) => {
                let values = array.as_primitive::<TimestampMicrosecondType>();
                for row in 0..values.len() {
                    if values.is_valid(row) {
                        let t = values.value(row);
                        let inside = if ends.is_some() {
                            t < self.end && end_of(row).is_none_or(|e| e > self.start)
                        } else {
                            self.start <= t && t < self.end
                        };
                        add(row, t, inside);
                    }
                }
            }
            DataType::Date32 => {
                // A calendar date is inside when its day is one of the window's days.
                let values = array.as_primitive::<Date32Type>();
                for row in 0..values.len() {
                    if values.is_valid(row) {
                        let day = i64::from(values.value(row));
                        let noon = day * MICROS_PER_DAY + MICROS_PER_DAY / 2;
                        let inside = if ends.is_some() {
                            day <= self.last_day
                                && end_of(row).is_none_or(|e| e > self.first_day * MICROS_PER_DAY)
                        } else {
                            self.first_day <= day && day <= self.last_day
                        };
                        add(row, noon, inside);
                    }
                }
            }
            _ => {}
        }
        (dates, first)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y-Secret-7f3a9c";

    fn scrubber() -> Scrubber {
        let mut s = Scrubber::default();
        s.add(KEY);
        s
    }

    fn redacted(values: &[Option<&str>], slice: (usize, usize)) -> (Vec<Option<String>>, u64) {
        let array: ArrayRef = Arc::new(StringArray::from(values.to_vec()));
        let array = array.slice(slice.0, slice.1);
        match redact_array(array.as_ref(), &scrubber()) {
            None => (
                array
                    .as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect(),
                0,
            ),
            Some((out, n)) => (
                out.as_string::<i32>()
                    .iter()
                    .map(|v| v.map(str::to_string))
                    .collect(),
                n,
            ),
        }
    }

    #[test]
    fn only_values_holding_the_key_are_redacted() {
        let with = format!("agent {KEY} x");
        let values = [Some("a"), Some(with.as_str()), None, Some("b")];
        let (out, n) = redacted(&values, (0, 4));
        assert_eq!(n, 1);
        assert!(!out[1].as_deref().unwrap_or_default().contains(KEY));
        assert_eq!(out[0].as_deref(), Some("a"));
        assert_eq!(out[2], None);
        // Sliced away, the value is not looked at.
        let (out, n) = redacted(&values, (2, 2));
        assert_eq!((out, n), (vec![None, Some("b".to_string())], 0));
    }

    #[test]
    fn a_key_across_two_values_is_no_key() {
        // Each part shorter than the shortest run the scrubber removes (8 characters); their
        // concatenation holds 14 characters of the key.
        let (head, tail) = (&KEY[..7], &KEY[7..14]);
        let values = [Some(head), Some(tail)];
        let (out, n) = redacted(&values, (0, 2));
        assert_eq!(n, 0);
        assert_eq!(out, vec![Some(head.to_string()), Some(tail.to_string())]);
    }
}
