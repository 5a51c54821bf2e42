//! A table's contract: what every run writing the table must agree on (a time zone, a filter,
//! a schema version...). The sink stores it and compares it field by field; it never
//! interprets a field.
//!
//! The contract lives in `<table>/_table.json`. Its name starts with `_`, so Spark, Trino and
//! pyarrow skip it, and DuckDB's `*.parquet` globs do not match it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// The contract file's name in every table directory.
pub const CONTRACT: &str = "_table.json";

/// What the runs writing a table agree on: named fields with string values. The sink compares
/// contracts; what a field means is the caller's business.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableContract {
    pub fields: BTreeMap<String, String>,
}

impl TableContract {
    /// A contract of `(field, value)` pairs.
    pub fn new<K: Into<String>, V: Into<String>>(
        fields: impl IntoIterator<Item = (K, V)>,
    ) -> TableContract {
        TableContract {
            fields: fields
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        }
    }

    /// The fields on which `self` (the table's contract) and `run` (this run's) differ, by
    /// field name. A field that one side lacks has `None` on that side.
    pub fn differences(&self, run: &TableContract) -> Vec<ContractDifference> {
        let names: std::collections::BTreeSet<&String> =
            self.fields.keys().chain(run.fields.keys()).collect();
        names
            .into_iter()
            .filter_map(|name| {
                let table = self.fields.get(name);
                let ours = run.fields.get(name);
                (table != ours).then(|| ContractDifference {
                    field: name.clone(),
                    table: table.cloned(),
                    run: ours.cloned(),
                })
            })
            .collect()
    }
}

/// What [`crate::Sink::open_table`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContractCheck {
    /// The table had no contract: this run's was written.
    Created,
    /// The table's contract is this run's.
    Matches,
    /// The table had another contract: every object of the table was deleted and this run's
    /// contract written.
    Rebuilt,
}

/// One field on which a table's contract and a run's differ.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContractDifference {
    pub field: String,
    /// The table's value (`None`: the table's contract has no such field).
    pub table: Option<String>,
    /// This run's value (`None`: this run's contract has no such field).
    pub run: Option<String>,
}

impl std::fmt::Display for ContractDifference {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(none)".to_string());
        write!(
            f,
            "{}: the table has {}, this run {}",
            self.field,
            show(&self.table),
            show(&self.run)
        )
    }
}

/// `a: the table has x, this run y; b: ...`
pub(crate) fn list_differences(differences: &[ContractDifference]) -> String {
    differences
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join("; ")
}

/// Parses a stored contract.
pub(crate) fn parse(rel: &str, bytes: &[u8]) -> Result<TableContract, crate::SinkError> {
    serde_json::from_slice(bytes).map_err(|e| {
        crate::SinkError::Options(format!(
            "the table contract {rel} is not valid JSON ({e}); restore it or delete the table"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn differences_name_each_field_once_with_both_sides() {
        let table = TableContract::new([("timezone", "UTC"), ("report", "clicks")]);
        let run = TableContract::new([
            ("timezone", "America/New_York"),
            ("report", "clicks"),
            ("offer_id", "12"),
        ]);
        let d = table.differences(&run);
        assert_eq!(
            list_differences(&d),
            "offer_id: the table has (none), this run 12; \
             timezone: the table has UTC, this run America/New_York"
        );
        assert!(table.differences(&table).is_empty());
        assert_eq!(
            run.differences(&table)[0],
            ContractDifference {
                field: "offer_id".into(),
                table: Some("12".into()),
                run: None
            }
        );
    }
}
