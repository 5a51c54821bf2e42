//! Stage 1 storage and stage 2: the row slots of one batch, and the typed builders that turn a
//! full batch of slots into a `RecordBatch` with exactly the report's schema.
//!
//! Stage 1 appends every captured value's text to one per-batch buffer and records where it is
//! (a [`Span`]) per column: column-major vectors for scalar columns, item vectors plus per-row
//! offsets for list columns. Nothing is allocated per value. Stage 2 walks one column at a
//! time and parses the spans into Arrow buffers.

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{ArrayRef, BooleanArray, ListArray, PrimitiveArray, RecordBatch, StringArray};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{Field, SchemaRef};
use cake_catalog::{Column, ColumnType, Report};

use crate::error::{excerpt, DecodeError};
use crate::parse::{self, ZoneCache};
use crate::paths::{PathMap, Slot};

/// Where a value sits in the batch's text buffer, or that there is none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Span {
    pub start: u32,
    pub len: u32,
}

impl Span {
    /// No element: null.
    pub const ABSENT: Span = Span {
        start: 0,
        len: u32::MAX,
    };
    /// `xsi:nil="true"`: null.
    pub const NIL: Span = Span {
        start: 0,
        len: u32::MAX - 1,
    };

    #[inline]
    pub fn is_value(self) -> bool {
        self.len < u32::MAX - 1
    }
}

/// The slots of the rows of the batch being filled.
pub(crate) struct Batch {
    pub text: Vec<u8>,
    /// Per scalar column, one span per row.
    pub scalars: Vec<Vec<Span>>,
    /// Per list column, its items.
    pub items: Vec<Vec<Span>>,
    /// Per list column, the item count after each row (offsets without the leading 0).
    pub ends: Vec<Vec<u32>>,
    /// Per list column, whether each row has the list at all.
    pub present: Vec<Vec<bool>>,
    /// Per row, its `_extra` JSON (the elements the catalog does not map).
    pub extra: Vec<Option<String>>,
    pub rows: usize,
}

/// Values that did not fit their column in one batch: per row, `(column, raw text, reason)`.
#[derive(Debug, Default)]
pub(crate) struct Rejects {
    /// Reject misfits (the cell becomes null) instead of failing.
    pub lenient: bool,
    pub rows: Vec<Vec<(&'static str, String, &'static str)>>,
}

impl Rejects {
    fn add(&mut self, row: usize, column: &'static str, raw: &[u8], reason: &'static str) {
        if self.rows.len() <= row {
            self.rows.resize_with(row + 1, Vec::new);
        }
        self.rows[row].push((column, String::from_utf8_lossy(raw).into_owned(), reason));
    }

    /// The `_rejected` JSON of each of `rows` rows.
    fn column(&mut self, rows: usize, lists: &[&str]) -> StringArray {
        self.rows.resize_with(rows, Vec::new);
        self.rows
            .iter()
            .map(|row| {
                if row.is_empty() {
                    return None;
                }
                let mut object = serde_json::Map::new();
                for (column, value, reason) in row {
                    let entry = serde_json::json!({ "value": value, "reason": reason });
                    if lists.contains(column) {
                        match object
                            .entry(column.to_string())
                            .or_insert_with(|| serde_json::Value::Array(Vec::new()))
                        {
                            serde_json::Value::Array(items) => items.push(entry),
                            other => *other = serde_json::Value::Array(vec![entry]),
                        }
                    } else {
                        object.insert(column.to_string(), entry);
                    }
                }
                Some(serde_json::Value::Object(object).to_string())
            })
            .collect()
    }
}

impl Batch {
    pub fn new(map: &PathMap, capacity: usize) -> Batch {
        Batch {
            text: Vec::new(),
            scalars: (0..map.scalar_count)
                .map(|_| Vec::with_capacity(capacity))
                .collect(),
            items: (0..map.list_count).map(|_| Vec::new()).collect(),
            ends: (0..map.list_count)
                .map(|_| Vec::with_capacity(capacity))
                .collect(),
            present: (0..map.list_count)
                .map(|_| Vec::with_capacity(capacity))
                .collect(),
            extra: Vec::with_capacity(capacity),
            rows: 0,
        }
    }

    /// Opens a row: every scalar column starts absent.
    #[inline]
    pub fn begin_row(&mut self) {
        for col in &mut self.scalars {
            col.push(Span::ABSENT);
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        for v in &mut self.scalars {
            v.clear();
        }
        for v in &mut self.items {
            v.clear();
        }
        for v in &mut self.ends {
            v.clear();
        }
        for v in &mut self.present {
            v.clear();
        }
        self.extra.clear();
        self.rows = 0;
    }

    /// Stage 2: the batch's rows as a `RecordBatch`; the slots are cleared for the next batch.
    /// `first_row` is the 1-based number of the batch's first row within the response. With
    /// `rejects.lenient`, a value that does not fit a nullable column leaves the cell null and
    /// is recorded in `rejects` (and in the row's `_rejected`); otherwise it is an error.
    pub fn build(
        &mut self,
        report: &'static Report,
        map: &PathMap,
        schema: &SchemaRef,
        zone: &mut ZoneCache,
        first_row: u64,
        rejects: &mut Rejects,
    ) -> Result<RecordBatch, DecodeError> {
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(report.columns.len() + 2);
        rejects.rows.clear();
        for (c, column) in report.columns.iter().enumerate() {
            let ctx = Ctx {
                report: report.id,
                column,
                text: &self.text,
                first_row,
            };
            let array = match (map.slots[c], &column.ty) {
                (Slot::Scalar(s), ty) => {
                    let spans = &self.scalars[s as usize];
                    // A key column cannot be null: a value that does not fit it fails the row.
                    let lenient = rejects.lenient && column.nullable;
                    let mut out = Out { rejects, lenient };
                    let array = build_values(&ctx, ty, spans, zone, |i| i, &mut out)?;
                    if !column.nullable && array.null_count() > 0 {
                        let i = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
                        return Err(DecodeError::Missing {
                            report: report.id,
                            column: column.name,
                            row: first_row + i as u64,
                        });
                    }
                    array
                }
                (Slot::List { list, .. }, ColumnType::List(inner)) => {
                    let l = list as usize;
                    let ends = &self.ends[l];
                    let row_of = |item: usize| ends.partition_point(|&e| e as usize <= item);
                    let lenient = rejects.lenient;
                    let mut out = Out { rejects, lenient };
                    let values = build_values(&ctx, inner, &self.items[l], zone, row_of, &mut out)?;
                    let mut offsets = Vec::with_capacity(ends.len() + 1);
                    offsets.push(0i32);
                    for &e in ends {
                        offsets.push(i32::try_from(e).map_err(|_| DecodeError::BatchTooLarge {
                            report: report.id,
                            row: first_row,
                        })?);
                    }
                    let nulls = NullBuffer::from(BooleanBuffer::from(self.present[l].as_slice()));
                    if !column.nullable && nulls.null_count() > 0 {
                        let i = self.present[l].iter().position(|p| !p).unwrap_or(0);
                        return Err(DecodeError::Missing {
                            report: report.id,
                            column: column.name,
                            row: first_row + i as u64,
                        });
                    }
                    let nulls = (nulls.null_count() > 0).then_some(nulls);
                    let field = Arc::new(Field::new_list_field(inner.to_arrow(), true));
                    let array = ListArray::try_new(
                        field,
                        OffsetBuffer::new(ScalarBuffer::from(offsets)),
                        values,
                        nulls,
                    )
                    .map_err(|e| internal(report, e))?;
                    Arc::new(array) as ArrayRef
                }
                (Slot::List { .. }, ty) => {
                    return Err(DecodeError::Internal {
                        report: report.id,
                        detail: format!(
                            "column {} is mapped as a list but has type {ty}",
                            column.name
                        ),
                    })
                }
            };
            columns.push(array);
        }
        let extra: StringArray = self.extra.drain(..).collect();
        columns.push(Arc::new(extra));
        let lists: Vec<&str> = report
            .columns
            .iter()
            .filter(|c| matches!(c.ty, ColumnType::List(_)))
            .map(|c| c.name)
            .collect();
        columns.push(Arc::new(rejects.column(self.rows, &lists)));
        let batch =
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| internal(report, e))?;
        self.clear();
        Ok(batch)
    }
}

fn internal(report: &Report, e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Internal {
        report: report.id,
        detail: e.to_string(),
    }
}

struct Ctx<'a> {
    report: &'static str,
    column: &'static Column,
    text: &'a [u8],
    /// 1-based number of the batch's first row within the response.
    first_row: u64,
}

impl Ctx<'_> {
    #[inline]
    fn bytes(&self, span: Span) -> &[u8] {
        &self.text[span.start as usize..(span.start + span.len) as usize]
    }
}

/// Where a column's misfits go: recorded (lenient), or an error.
struct Out<'r> {
    rejects: &'r mut Rejects,
    lenient: bool,
}

impl Out<'_> {
    /// A value of `row` (0-based in the batch) that does not parse: recorded, or the error.
    #[cold]
    fn misfit(
        &mut self,
        ctx: &Ctx<'_>,
        span: Span,
        row: usize,
        reason: &'static str,
    ) -> Result<(), DecodeError> {
        if self.lenient {
            self.rejects
                .add(row, ctx.column.name, ctx.bytes(span), reason);
            Ok(())
        } else {
            Err(DecodeError::Value {
                report: ctx.report,
                column: ctx.column.name,
                row: ctx.first_row + row as u64,
                value: excerpt(ctx.bytes(span)),
                reason: reason.to_string(),
            })
        }
    }
}

/// The spans of one column (or of one list's items) as an array of `ty`. Text columns keep
/// empty elements as empty strings; every other type reads an empty or blank element as null.
fn build_values(
    ctx: &Ctx<'_>,
    ty: &ColumnType,
    spans: &[Span],
    zone: &mut ZoneCache,
    row_of: impl Fn(usize) -> usize,
    out: &mut Out<'_>,
) -> Result<ArrayRef, DecodeError> {
    let n = spans.len();
    Ok(match ty {
        ColumnType::Utf8 => {
            let total: usize = spans
                .iter()
                .filter(|s| s.is_value())
                .map(|s| s.len as usize)
                .sum();
            if total > i32::MAX as usize {
                return Err(DecodeError::BatchTooLarge {
                    report: ctx.report,
                    row: ctx.first_row + row_of(0) as u64,
                });
            }
            let mut values = Vec::with_capacity(total);
            let mut offsets = Vec::with_capacity(n + 1);
            offsets.push(0i32);
            let mut valid = Vec::with_capacity(n);
            for &s in spans {
                if s.is_value() {
                    values.extend_from_slice(ctx.bytes(s));
                    valid.push(true);
                } else {
                    valid.push(false);
                }
                offsets.push(values.len() as i32);
            }
            let nulls = nulls(valid);
            let array = StringArray::try_new(
                OffsetBuffer::new(ScalarBuffer::from(offsets)),
                values.into(),
                nulls,
            )
            .map_err(|e| DecodeError::Internal {
                report: ctx.report,
                detail: e.to_string(),
            })?;
            Arc::new(array)
        }
        ColumnType::Bool => {
            let mut values = Vec::with_capacity(n);
            let mut valid = Vec::with_capacity(n);
            for (i, &s) in spans.iter().enumerate() {
                match value(ctx, s).map(parse::parse_bool) {
                    Some(Ok(b)) => {
                        values.push(b);
                        valid.push(true);
                    }
                    Some(Err(reason)) => {
                        out.misfit(ctx, s, row_of(i), reason)?;
                        values.push(false);
                        valid.push(false);
                    }
                    None => {
                        values.push(false);
                        valid.push(false);
                    }
                }
            }
            Arc::new(BooleanArray::new(BooleanBuffer::from(values), nulls(valid)))
        }
        ColumnType::Int32 => {
            let (values, valid) = primitive(ctx, spans, &row_of, out, |b| {
                parse::parse_int(b, i32::MIN.into(), i32::MAX.into()).map(|v| v as i32)
            })?;
            Arc::new(PrimitiveArray::<Int32Type>::new(
                values.into(),
                nulls(valid),
            ))
        }
        ColumnType::Int64 => {
            let (values, valid) = primitive(ctx, spans, &row_of, out, |b| {
                parse::parse_int(b, i64::MIN, i64::MAX)
            })?;
            Arc::new(PrimitiveArray::<Int64Type>::new(
                values.into(),
                nulls(valid),
            ))
        }
        ColumnType::Decimal { precision, scale } => {
            let (p, s) = (*precision, *scale);
            let (values, valid) =
                primitive(ctx, spans, &row_of, out, |b| parse::parse_decimal(b, p, s))?;
            let array = PrimitiveArray::<Decimal128Type>::new(values.into(), nulls(valid))
                .with_precision_and_scale(p, s)
                .map_err(|e| DecodeError::Internal {
                    report: ctx.report,
                    detail: e.to_string(),
                })?;
            Arc::new(array)
        }
        ColumnType::Timestamp => {
            let (values, valid) = primitive(ctx, spans, &row_of, out, |b| {
                let t = parse::parse_local(b)?;
                zone.utc_micros(&t)
            })?;
            Arc::new(
                PrimitiveArray::<TimestampMicrosecondType>::new(values.into(), nulls(valid))
                    .with_timezone("UTC"),
            )
        }
        ColumnType::Date => {
            let (values, valid) = primitive(ctx, spans, &row_of, out, parse::parse_date)?;
            Arc::new(PrimitiveArray::<Date32Type>::new(
                values.into(),
                nulls(valid),
            ))
        }
        ColumnType::List(_) => {
            return Err(DecodeError::Internal {
                report: ctx.report,
                detail: format!("nested list in column {}", ctx.column.name),
            })
        }
    })
}

/// A non-text value: trimmed, or `None` for absent, nil, empty and blank.
#[inline]
fn value<'a>(ctx: &'a Ctx<'_>, s: Span) -> Option<&'a [u8]> {
    if !s.is_value() {
        return None;
    }
    let b = parse::trim(ctx.bytes(s));
    (!b.is_empty()).then_some(b)
}

#[inline]
fn primitive<T: Default + Copy>(
    ctx: &Ctx<'_>,
    spans: &[Span],
    row_of: &impl Fn(usize) -> usize,
    out: &mut Out<'_>,
    mut parse: impl FnMut(&[u8]) -> Result<T, &'static str>,
) -> Result<(Vec<T>, Vec<bool>), DecodeError> {
    let mut values = Vec::with_capacity(spans.len());
    let mut valid = Vec::with_capacity(spans.len());
    for (i, &s) in spans.iter().enumerate() {
        match value(ctx, s).map(&mut parse) {
            Some(Ok(v)) => {
                values.push(v);
                valid.push(true);
            }
            Some(Err(reason)) => {
                out.misfit(ctx, s, row_of(i), reason)?;
                values.push(T::default());
                valid.push(false);
            }
            None => {
                values.push(T::default());
                valid.push(false);
            }
        }
    }
    Ok((values, valid))
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(BooleanBuffer::from(valid)))
    }
}
