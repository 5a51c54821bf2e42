//! Stage 1 storage and stage 2: the records of one batch, level by level, and the typed builders
//! that turn a full batch into a `RecordBatch` with exactly the report's schema.
//!
//! Stage 1 appends every captured value's text to one per-batch buffer and records where it is
//! (a [`Span`]) per value of its level: one span per record, and for every level below the row,
//! per record of the level above, where its records end and whether its list is there at all.
//! Nothing is allocated per value. Stage 2 walks the catalog's columns and builds each array
//! from its level: a value column from its spans, a list column from its level's records, a
//! `List<Struct>` column from its fields' arrays, recursively.

use std::sync::Arc;

use arrow_array::types::{
    Date32Type, Decimal128Type, Int32Type, Int64Type, TimestampMicrosecondType,
};
use arrow_array::{
    Array, ArrayRef, BooleanArray, ListArray, PrimitiveArray, RecordBatch, StringArray, StructArray,
};
use arrow_buffer::{BooleanBuffer, NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{Field, Fields, SchemaRef};
use cake_catalog::{Column, ColumnType, Report};

use crate::error::DecodeError;
use crate::parse::{self, ZoneCache};
use crate::paths::{LevelId, PathMap, Producer, Slot};

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

/// The records of one level in the batch being filled.
#[derive(Debug, Default)]
pub(crate) struct LevelData {
    /// Per value of the level, one span per record.
    pub values: Vec<Vec<Span>>,
    /// Per record of the level above: the number of this level's records once it ended
    /// (list offsets without the leading 0). Empty for the row level.
    pub ends: Vec<u32>,
    /// Per record of the level above: whether this level's list is there (its container was).
    pub present: Vec<bool>,
    /// Per record: the row (within the batch) it belongs to.
    pub row: Vec<u32>,
    /// Per record: its position within its list.
    pub pos: Vec<u32>,
    /// Per record: the record of the level above it belongs to.
    pub parent: Vec<u32>,
}

impl LevelData {
    pub fn records(&self) -> usize {
        self.row.len()
    }

    fn clear(&mut self) {
        for v in &mut self.values {
            v.clear();
        }
        self.ends.clear();
        self.present.clear();
        self.row.clear();
        self.pos.clear();
        self.parent.clear();
    }
}

/// A value kept aside for a row's `_rejected`: the key it goes under, the raw text and why.
#[derive(Debug, Clone)]
pub(crate) struct Reject {
    /// The column (`total_clicks`), or the field with the positions of its records
    /// (`offer_contracts[1].payout_amount`).
    pub key: String,
    /// The column as a summary counts it (`offer_contracts.payout_amount`).
    pub column: String,
    /// Several values may share the key (a list's items): kept as an array.
    pub list: bool,
    pub value: String,
    pub reason: &'static str,
}

/// The slots of the rows of the batch being filled.
pub(crate) struct Batch {
    pub text: Vec<u8>,
    pub levels: Vec<LevelData>,
    /// Per row, its `_extra` JSON (the elements the catalog does not map).
    pub extra: Vec<Option<String>>,
    /// Per row, the values kept aside while reading it (an element repeated where one value
    /// goes); values that do not fit their type are added in stage 2.
    pub kept_aside: Vec<Vec<Reject>>,
    pub rows: usize,
}

/// Values that did not fit in one batch, and whether that is allowed.
#[derive(Debug, Default)]
pub(crate) struct Rejects {
    /// Reject misfits (the cell becomes null) instead of failing.
    pub lenient: bool,
    /// Per row of the batch built last.
    pub rows: Vec<Vec<Reject>>,
}

impl Rejects {
    /// The `_rejected` JSON of each row.
    fn column(&self) -> StringArray {
        self.rows
            .iter()
            .map(|row| {
                if row.is_empty() {
                    return None;
                }
                let mut object = serde_json::Map::new();
                for r in row {
                    let entry = serde_json::json!({ "value": r.value, "reason": r.reason });
                    match object.get_mut(&r.key) {
                        None if r.list => {
                            object.insert(r.key.clone(), serde_json::Value::Array(vec![entry]));
                        }
                        None => {
                            object.insert(r.key.clone(), entry);
                        }
                        Some(serde_json::Value::Array(items)) => items.push(entry),
                        Some(other) => {
                            let first = other.take();
                            *other = serde_json::Value::Array(vec![first, entry]);
                        }
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
            levels: map
                .levels
                .iter()
                .enumerate()
                .map(|(i, l)| {
                    let cap = if i == 0 { capacity } else { 0 };
                    LevelData {
                        values: (0..l.values.len())
                            .map(|_| Vec::with_capacity(cap))
                            .collect(),
                        ..LevelData::default()
                    }
                })
                .collect(),
            extra: Vec::with_capacity(capacity),
            kept_aside: Vec::with_capacity(capacity),
            rows: 0,
        }
    }

    fn clear(&mut self) {
        self.text.clear();
        for l in &mut self.levels {
            l.clear();
        }
        self.extra.clear();
        self.kept_aside.clear();
        self.rows = 0;
    }

    /// Stage 2: the batch's rows as a `RecordBatch`; the slots are cleared for the next batch.
    /// `first_row` is the 1-based number of the batch's first row within the response. With
    /// `rejects.lenient`, a value that does not fit a nullable column leaves the cell null and
    /// is recorded in `rejects` (and in the row's `_rejected`); otherwise it is an error.
    pub fn build(
        &mut self,
        target: Target<'_>,
        zone: &mut ZoneCache,
        first_row: u64,
        rejects: &mut Rejects,
        excerpt: &dyn Fn(&[u8]) -> String,
    ) -> Result<RecordBatch, DecodeError> {
        let Target {
            report,
            map,
            schema,
        } = target;
        rejects.rows.clear();
        rejects.rows.resize_with(self.rows, Vec::new);
        for (row, aside) in self.kept_aside.iter_mut().enumerate() {
            rejects.rows[row].append(aside);
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(report.columns.len() + 2);
        let mut builder = Builder {
            report,
            map,
            batch: self,
            zone,
            first_row,
            rejects,
            excerpt,
        };
        for (column, producer) in report.columns.iter().zip(&map.producers) {
            let array = builder.produce(column, producer)?;
            if !column.nullable && array.null_count() > 0 {
                let i = (0..array.len()).find(|&i| array.is_null(i)).unwrap_or(0);
                return Err(DecodeError::Missing {
                    report: report.id,
                    column: column.name,
                    row: first_row + i as u64,
                });
            }
            columns.push(array);
        }
        let extra: StringArray = self.extra.drain(..).collect();
        columns.push(Arc::new(extra));
        columns.push(Arc::new(rejects.column()));
        let batch =
            RecordBatch::try_new(schema.clone(), columns).map_err(|e| internal(report, e))?;
        self.clear();
        Ok(batch)
    }
}

/// What a batch is built for: the report, its path map and its schema.
#[derive(Clone, Copy)]
pub(crate) struct Target<'a> {
    pub report: &'static Report,
    pub map: &'a PathMap,
    pub schema: &'a SchemaRef,
}

fn internal(report: &Report, e: impl std::fmt::Display) -> DecodeError {
    DecodeError::Internal {
        report: report.id,
        detail: e.to_string(),
    }
}

/// Builds the arrays of one batch.
struct Builder<'a> {
    report: &'static Report,
    map: &'a PathMap,
    batch: &'a Batch,
    zone: &'a mut ZoneCache,
    first_row: u64,
    rejects: &'a mut Rejects,
    excerpt: &'a dyn Fn(&[u8]) -> String,
}

impl Builder<'_> {
    /// The array of `column`, built as `producer` says.
    fn produce(
        &mut self,
        column: &'static Column,
        producer: &Producer,
    ) -> Result<ArrayRef, DecodeError> {
        match (producer, column.ty) {
            (Producer::Value(slot), ty) => {
                // A key column cannot be null: a value that does not fit it fails the row.
                let lenient = self.rejects.lenient && column.nullable;
                self.values(column, &ty, *slot, false, lenient)
            }
            (Producer::List { level, value }, ColumnType::List(inner)) => {
                let slot = Slot {
                    level: *level,
                    value: *value,
                };
                let lenient = self.rejects.lenient;
                let values = self.values(column, inner, slot, true, lenient)?;
                let field = Arc::new(Field::new_list_field(inner.to_arrow(), true));
                self.list(column, *level, field, values)
            }
            (Producer::Struct { level, fields }, ColumnType::List(ColumnType::Struct(defs))) => {
                let mut children = Vec::with_capacity(defs.len());
                for (def, p) in defs.iter().zip(fields) {
                    children.push(self.produce(def, p)?);
                }
                let arrow_fields: Fields = defs
                    .iter()
                    .map(|f| Field::new(f.name, f.ty.to_arrow(), f.nullable))
                    .collect();
                let records = self.batch.levels[*level as usize].records();
                let structs = if children.is_empty() {
                    StructArray::new_empty_fields(records, None)
                } else {
                    StructArray::try_new(arrow_fields.clone(), children, None)
                        .map_err(|e| internal(self.report, e))?
                };
                let inner = ColumnType::Struct(defs).to_arrow();
                let field = Arc::new(Field::new_list_field(inner, true));
                self.list(column, *level, field, Arc::new(structs))
            }
            (_, ty) => Err(DecodeError::Internal {
                report: self.report.id,
                detail: format!(
                    "column {} has type {ty}, which its path map does not build",
                    column.name
                ),
            }),
        }
    }

    /// A list array over `values`, the records of `level`, one list per record of the level
    /// above.
    fn list(
        &self,
        column: &Column,
        level: LevelId,
        field: Arc<Field>,
        values: ArrayRef,
    ) -> Result<ArrayRef, DecodeError> {
        let data = &self.batch.levels[level as usize];
        let mut offsets = Vec::with_capacity(data.ends.len() + 1);
        offsets.push(0i32);
        for &e in &data.ends {
            offsets.push(i32::try_from(e).map_err(|_| DecodeError::BatchTooLarge {
                report: self.report.id,
                row: self.first_row,
            })?);
        }
        let nulls = NullBuffer::from(BooleanBuffer::from(data.present.as_slice()));
        let nulls = (nulls.null_count() > 0).then_some(nulls);
        let array = ListArray::try_new(
            field,
            OffsetBuffer::new(ScalarBuffer::from(offsets)),
            values,
            nulls,
        )
        .map_err(|e| DecodeError::Internal {
            report: self.report.id,
            detail: format!("column {}: {e}", column.name),
        })?;
        Ok(Arc::new(array))
    }

    /// The spans of one value as an array of `ty`. Text and JSON keep empty elements as empty
    /// strings; every other type reads an empty or blank element as null.
    fn values(
        &mut self,
        column: &'static Column,
        ty: &ColumnType,
        slot: Slot,
        list: bool,
        lenient: bool,
    ) -> Result<ArrayRef, DecodeError> {
        let data = &self.batch.levels[slot.level as usize];
        let spans = &data.values[slot.value as usize];
        let text = &self.batch.text;
        let bytes = |s: Span| &text[s.start as usize..(s.start + s.len) as usize];
        let n = spans.len();
        // A value that does not parse: recorded (lenient), or the error.
        let mut misfits: Vec<(usize, Span, &'static str)> = Vec::new();
        let array: ArrayRef = match ty {
            ColumnType::Utf8 | ColumnType::Json => {
                let total: usize = spans
                    .iter()
                    .filter(|s| s.is_value())
                    .map(|s| s.len as usize)
                    .sum();
                if total > i32::MAX as usize {
                    return Err(DecodeError::BatchTooLarge {
                        report: self.report.id,
                        row: self.first_row + data.row.first().copied().unwrap_or(0) as u64,
                    });
                }
                let mut values = Vec::with_capacity(total);
                let mut offsets = Vec::with_capacity(n + 1);
                offsets.push(0i32);
                let mut valid = Vec::with_capacity(n);
                for &s in spans {
                    if s.is_value() {
                        values.extend_from_slice(bytes(s));
                        valid.push(true);
                    } else {
                        valid.push(false);
                    }
                    offsets.push(values.len() as i32);
                }
                let array = StringArray::try_new(
                    OffsetBuffer::new(ScalarBuffer::from(offsets)),
                    values.into(),
                    nulls(valid),
                )
                .map_err(|e| internal(self.report, e))?;
                Arc::new(array)
            }
            ColumnType::Bool => {
                let mut values = Vec::with_capacity(n);
                let mut valid = Vec::with_capacity(n);
                for (i, &s) in spans.iter().enumerate() {
                    match value(bytes, s).map(parse::parse_bool) {
                        Some(Ok(b)) => {
                            values.push(b);
                            valid.push(true);
                        }
                        Some(Err(reason)) => {
                            misfits.push((i, s, reason));
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
                let (values, valid) = primitive(spans, bytes, &mut misfits, |b| {
                    parse::parse_int(b, i32::MIN.into(), i32::MAX.into()).map(|v| v as i32)
                });
                Arc::new(PrimitiveArray::<Int32Type>::new(
                    values.into(),
                    nulls(valid),
                ))
            }
            ColumnType::Int64 => {
                let (values, valid) = primitive(spans, bytes, &mut misfits, |b| {
                    parse::parse_int(b, i64::MIN, i64::MAX)
                });
                Arc::new(PrimitiveArray::<Int64Type>::new(
                    values.into(),
                    nulls(valid),
                ))
            }
            ColumnType::Decimal { precision, scale } => {
                let (p, s) = (*precision, *scale);
                let (values, valid) = primitive(spans, bytes, &mut misfits, |b| {
                    parse::parse_decimal(b, p, s)
                });
                let array = PrimitiveArray::<Decimal128Type>::new(values.into(), nulls(valid))
                    .with_precision_and_scale(p, s)
                    .map_err(|e| internal(self.report, e))?;
                Arc::new(array)
            }
            ColumnType::Timestamp => {
                let zone = &mut *self.zone;
                let (values, valid) = primitive(spans, bytes, &mut misfits, |b| {
                    let t = parse::parse_local(b)?;
                    zone.utc_micros(&t)
                });
                Arc::new(
                    PrimitiveArray::<TimestampMicrosecondType>::new(values.into(), nulls(valid))
                        .with_timezone("UTC"),
                )
            }
            ColumnType::Date => {
                let (values, valid) = primitive(spans, bytes, &mut misfits, parse::parse_date);
                Arc::new(PrimitiveArray::<Date32Type>::new(
                    values.into(),
                    nulls(valid),
                ))
            }
            ColumnType::List(_) | ColumnType::Struct(_) => {
                return Err(DecodeError::Internal {
                    report: self.report.id,
                    detail: format!("nested list in column {}", column.name),
                })
            }
        };
        for (record, span, reason) in misfits {
            let row = data.row.get(record).copied().unwrap_or(0) as usize;
            let raw = bytes(span);
            if !lenient {
                return Err(DecodeError::Value {
                    report: self.report.id,
                    column: column.name,
                    row: self.first_row + row as u64,
                    value: (self.excerpt)(raw),
                    reason: reason.to_string(),
                });
            }
            let (key, counted) = reject_names(
                self.map,
                &self.batch.levels,
                column,
                slot.level,
                record,
                list,
            );
            self.rejects.rows[row].push(Reject {
                key,
                column: counted,
                list,
                value: String::from_utf8_lossy(raw).into_owned(),
                reason,
            });
        }
        Ok(array)
    }
}

/// The name a value of `column` at `record` of `level` goes under in `_rejected`
/// (`offer_contracts[1].allowed_countries[0].country_code`), and the name a summary counts it
/// under (`offer_contracts.allowed_countries.country_code`). `list`: the value is an item of a
/// scalar list column, whose records are the items.
pub(crate) fn reject_names(
    map: &PathMap,
    levels: &[LevelData],
    column: &Column,
    level: LevelId,
    record: usize,
    list: bool,
) -> (String, String) {
    let (mut l, mut r) = (level, record);
    // A list's items sit in the list's own level: the struct levels start above it.
    if list {
        if let Some(parent) = map.levels[l as usize].parent {
            r = levels[l as usize].parent.get(r).copied().unwrap_or(0) as usize;
            l = parent;
        }
    }
    // Struct levels above the value, innermost first.
    let mut chain = Vec::new();
    while let Some(parent) = map.levels[l as usize].parent {
        let data = &levels[l as usize];
        chain.push((l, data.pos.get(r).copied().unwrap_or(0)));
        r = data.parent.get(r).copied().unwrap_or(0) as usize;
        l = parent;
    }
    let mut key = String::new();
    let mut counted = String::new();
    for (l, pos) in chain.iter().rev() {
        let name = &map.levels[*l as usize].name;
        key.push_str(&format!("{name}[{pos}]."));
        counted.push_str(name);
        counted.push('.');
    }
    key.push_str(column.name);
    counted.push_str(column.name);
    (key, counted)
}

/// A non-text value: trimmed, or `None` for absent, nil, empty and blank.
#[inline]
fn value<'a>(bytes: impl Fn(Span) -> &'a [u8], s: Span) -> Option<&'a [u8]> {
    if !s.is_value() {
        return None;
    }
    let b = parse::trim(bytes(s));
    (!b.is_empty()).then_some(b)
}

#[inline]
fn primitive<'a, T: Default + Copy>(
    spans: &[Span],
    bytes: impl Fn(Span) -> &'a [u8] + Copy,
    misfits: &mut Vec<(usize, Span, &'static str)>,
    mut parse: impl FnMut(&[u8]) -> Result<T, &'static str>,
) -> (Vec<T>, Vec<bool>) {
    let mut values = Vec::with_capacity(spans.len());
    let mut valid = Vec::with_capacity(spans.len());
    for (i, &s) in spans.iter().enumerate() {
        match value(bytes, s).map(&mut parse) {
            Some(Ok(v)) => {
                values.push(v);
                valid.push(true);
            }
            Some(Err(reason)) => {
                misfits.push((i, s, reason));
                values.push(T::default());
                valid.push(false);
            }
            None => {
                values.push(T::default());
                valid.push(false);
            }
        }
    }
    (values, valid)
}

fn nulls(valid: Vec<bool>) -> Option<NullBuffer> {
    if valid.iter().all(|v| *v) {
        None
    } else {
        Some(NullBuffer::from(BooleanBuffer::from(valid)))
    }
}
