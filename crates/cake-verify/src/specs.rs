//! Spec files corrected from a [`VerifyReport`]: the catalog entry turned back into its
//! [`cake_spec::Spec`], the WSDL's corrections applied, written by `cake-spec` in the layout of
//! every spec file.

use cake_spec::{ColumnSpec, ConversionValuesSpec, ParamSpec, Spec};

use super::*;

/// A corrected spec file for one report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CorrectedSpec {
    pub id: &'static str,
    /// The file's text, in the layout of `crates/cake-catalog/spec/*.toml`.
    pub toml: String,
    /// The spec says `verified = true`: every difference was corrected.
    pub verified: bool,
    /// What was corrected.
    pub corrected: Vec<String>,
    /// Differences left for a person (the file lists them in a comment at its top).
    pub left: Vec<String>,
}

/// A spec file written by [`write_specs`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrittenSpec {
    pub id: &'static str,
    pub path: PathBuf,
    pub verified: bool,
    pub corrected: usize,
    pub left: Vec<String>,
}

/// A column type as specs write it (`money` for `decimal(19,4)`).
pub(super) fn spec_type(ty: &ColumnType) -> String {
    match ty {
        ColumnType::Decimal {
            precision: 19,
            scale: 4,
        } => "money".into(),
        ColumnType::Decimal {
            precision: 19,
            scale: 6,
        } => "percent".into(),
        ColumnType::Decimal {
            precision: 28,
            scale: 10,
        } => "rate".into(),
        ColumnType::List(ColumnType::Struct(_)) => "list<struct>".into(),
        ColumnType::List(inner) => format!("list<{}>", spec_type(inner)),
        other => other.spec_name(),
    }
}

fn column_spec(c: &Column) -> ColumnSpec {
    ColumnSpec {
        name: Some(c.name.to_string()),
        path: c.path.join("/"),
        also: c.also.iter().map(|p| p.join("/")).collect(),
        ty: spec_type(&c.ty),
        nullable: (!c.nullable).then_some(false),
        personal: c.personal.then_some(true),
        fields: c
            .fields()
            .map(|f| f.iter().map(column_spec).collect())
            .unwrap_or_default(),
    }
}

/// The catalog entry of `report` as the spec it was generated from (a report that takes its
/// columns from another lists them).
pub fn spec_of(r: &Report) -> Spec {
    let (kind, max_window) = match r.dates {
        DateSemantics::None => ("none", None),
        DateSemantics::Range { max_window } => ("range", Some(max_window.as_str().to_string())),
        DateSemantics::ChangesSince => ("changes_since", None),
    };
    Spec {
        id: r.id.into(),
        name: r.name.into(),
        description: r.description.into(),
        verified: r.verified,
        notes: r.notes.into(),
        primary_key: r.primary_key.iter().map(|s| s.to_string()).collect(),
        table_key: (r.table_key != r.primary_key)
            .then(|| r.table_key.iter().map(|s| s.to_string()).collect()),
        date_field: r.date_field.map(str::to_string),
        date_end_field: r.date_end_field.map(str::to_string),
        cursor_field: r.cursor_field.map(str::to_string),
        partition_by: match r.layout {
            Layout::RowDay(c) => Some(c.to_string()),
            Layout::Window => None,
        },
        endpoint: cake_spec::EndpointSpec {
            service: r.endpoint.service.as_str().into(),
            method: r.endpoint.method.into(),
            version: r.endpoint.version,
            params: r
                .params
                .iter()
                .map(|p| {
                    let kind = p.kind.as_str().to_string();
                    ParamSpec {
                        name: p.name.into(),
                        default: (!plan_filled(&kind)).then(|| p.default.to_string()),
                        kind,
                        menu: p.menu.map(|m| m.key().to_string()),
                        values: match p.kind {
                            ParamKind::Enum(v) => Some(v.iter().map(|s| s.to_string()).collect()),
                            _ => None,
                        },
                        conversion_values: p.conversion_values.map(|c| ConversionValuesSpec {
                            conversions: c.conversions.into(),
                            events: c.events.into(),
                            all: c.all.into(),
                        }),
                    }
                })
                .collect(),
        },
        dates: cake_spec::DatesSpec {
            kind: kind.into(),
            max_window,
        },
        paging: r.paging.map(|p| cake_spec::PagingSpec {
            default_page_size: p.default_page_size,
            max_page_size: p.max_page_size,
        }),
        response: cake_spec::ResponseSpec {
            root: r.response.root.into(),
            collection: r.response.collection.map(str::to_string),
            row: r.response.row.into(),
            envelope: r.response.envelope,
            secret: r.response.secret.iter().map(|s| s.to_string()).collect(),
            unmapped: r.response.unmapped.iter().map(|s| s.to_string()).collect(),
            columns_from: None,
            columns: r.columns.iter().map(column_spec).collect(),
        },
    }
}

pub(super) fn plan_filled(kind: &str) -> bool {
    cake_spec::FILLED_BY_PLAN.contains(&kind)
}

/// True when the column is a key, the date field, the cursor or the partition column: it
/// cannot go, and its type is constrained.
fn is_special(s: &Spec, column: &str) -> bool {
    s.primary_key.iter().any(|k| k == column)
        || s.table_key
            .as_ref()
            .is_some_and(|t| t.iter().any(|k| k == column))
        || s.date_field.as_deref() == Some(column)
        || s.date_end_field.as_deref() == Some(column)
        || s.cursor_field.as_deref() == Some(column)
        || s.partition_by.as_deref() == Some(column)
}

/// The catalog entry of `report` as a spec file, unchanged (what [`write_specs`] starts from).
pub fn spec_toml(report: &Report) -> String {
    spec_of(report).to_toml(&[])
}

/// The column or field named by a dotted name (`offer_contracts.payout_amount`).
fn column_mut<'a>(columns: &'a mut [ColumnSpec], dotted: &str) -> Option<&'a mut ColumnSpec> {
    let (first, rest) = match dotted.split_once('.') {
        Some((a, b)) => (a, Some(b)),
        None => (dotted, None),
    };
    let c = columns.iter_mut().find(|c| c.name() == first)?;
    match rest {
        None => Some(c),
        Some(rest) => column_mut(&mut c.fields, rest),
    }
}

/// The columns of the scope a dotted name sits in (the row's, or a struct's fields).
fn scope_mut<'a>(columns: &'a mut Vec<ColumnSpec>, scope: &str) -> Option<&'a mut Vec<ColumnSpec>> {
    if scope.is_empty() {
        return Some(columns);
    }
    column_mut(columns, scope).map(|c| &mut c.fields)
}

/// Removes a column or field by dotted name.
fn remove_column(columns: &mut Vec<ColumnSpec>, dotted: &str) -> bool {
    let (scope, name) = match dotted.rsplit_once('.') {
        Some((s, n)) => (s, n),
        None => ("", dotted),
    };
    match scope_mut(columns, scope) {
        Some(list) => {
            let before = list.len();
            list.retain(|c| c.name() != name);
            list.len() != before
        }
        None => false,
    }
}

/// A spec column from the WSDL's typed column (fields as deep as it goes); names that look
/// personal are marked so.
fn from_typed(t: &TypedColumn, top: bool) -> ColumnSpec {
    ColumnSpec {
        name: Some(t.name.clone()),
        path: t.path.clone(),
        also: Vec::new(),
        ty: t.ty.clone(),
        nullable: None,
        personal: (looks_personal(&t.path) && !top).then_some(true),
        fields: t.fields.iter().map(|f| from_typed(f, false)).collect(),
    }
}

pub(super) fn param_from_xsd(name: &str, x: &Xsd) -> Option<ParamSpec> {
    let (kind, default, values) = match x {
        Xsd::Enum { values, .. } if !values.is_empty() => {
            ("enum", values[0].clone(), Some(values.clone()))
        }
        Xsd::Builtin(t) if SMALL_INTS.contains(&t.as_str()) || LARGE_INTS.contains(&t.as_str()) => {
            ("int", "0".to_string(), None)
        }
        Xsd::Builtin(t) if t == "string" => ("text", String::new(), None),
        Xsd::Builtin(t) if t == "boolean" => ("bool", "FALSE".to_string(), None),
        _ => return None,
    };
    Some(ParamSpec {
        name: name.to_string(),
        kind: kind.to_string(),
        default: Some(default),
        menu: None,
        values,
        conversion_values: None,
    })
}

pub(super) fn correct_params(
    d: &mut Spec,
    found: &[FoundParam],
    corrected: &mut Vec<String>,
    left: &mut Vec<String>,
) {
    let current = &d.endpoint.params;
    let mut params = Vec::new();
    for f in found {
        match current
            .iter()
            .find(|p| p.name.eq_ignore_ascii_case(&f.name))
        {
            Some(p) => {
                let mut p = p.clone();
                let kind_fits = match p.kind.as_str() {
                    "api_key" | "text" => builtin(&f.xsd) == Some("string"),
                    "start_date" | "end_date" | "changes_since" => {
                        matches!(builtin(&f.xsd), Some("dateTime" | "date"))
                    }
                    "start_at_row" | "row_limit" | "int" => builtin(&f.xsd)
                        .is_some_and(|t| SMALL_INTS.contains(&t) || LARGE_INTS.contains(&t)),
                    "bool" => builtin(&f.xsd) == Some("boolean"),
                    _ => matches!(f.xsd, Xsd::Enum { .. }) || builtin(&f.xsd) == Some("string"),
                };
                if !kind_fits {
                    match param_from_xsd(&p.name, &f.xsd) {
                        Some(new) if !plan_filled(&p.kind) && p.menu.is_none() => {
                            corrected
                                .push(format!("parameter {} is {} ({})", p.name, new.kind, f.xsd));
                            p = new;
                        }
                        _ => left.push(format!(
                            "parameter {}: the catalog sends {}, the WSDL wants {}",
                            p.name, p.kind, f.xsd
                        )),
                    }
                } else if let (
                    Some(values),
                    Xsd::Enum {
                        values: accepted, ..
                    },
                ) = (&p.values, &f.xsd)
                {
                    if values
                        .iter()
                        .any(|v| !accepted.iter().any(|a| a.eq_ignore_ascii_case(v)))
                    {
                        let ok_cv = p.conversion_values.as_ref().is_none_or(|cv| {
                            [&cv.conversions, &cv.events, &cv.all]
                                .iter()
                                .all(|v| accepted.iter().any(|a| a == *v))
                        });
                        if ok_cv {
                            if !p.default.as_ref().is_some_and(|d| accepted.contains(d)) {
                                p.default = accepted.first().cloned();
                            }
                            p.values = Some(accepted.clone());
                            corrected.push(format!(
                                "parameter {} takes {}",
                                p.name,
                                accepted.join(", ")
                            ));
                        } else {
                            left.push(format!(
                                "parameter {}: its conversion values are not all accepted ({})",
                                p.name,
                                accepted.join(", ")
                            ));
                        }
                    }
                }
                params.push(p);
            }
            None => match param_from_xsd(&f.name, &f.xsd) {
                Some(p) => {
                    corrected.push(format!("parameter {} ({}) added", f.name, f.xsd));
                    params.push(p);
                }
                None => left.push(format!(
                    "parameter {} ({}) is the method's but has no kind a spec can send",
                    f.name, f.xsd
                )),
            },
        }
    }
    for p in current {
        if found.iter().any(|f| f.name.eq_ignore_ascii_case(&p.name)) {
            continue;
        }
        if plan_filled(&p.kind) || p.menu.is_some() {
            left.push(format!(
                "parameter {} ({}) is not the method's, but the connector relies on it",
                p.name, p.kind
            ));
            params.push(p.clone());
        } else {
            corrected.push(format!("parameter {} removed", p.name));
        }
    }
    if let Some(i) = params.iter().position(|p| p.kind == "api_key") {
        if i != 0 {
            let key = params.remove(i);
            params.insert(0, key);
            left.push("the api_key is not the method's first parameter".into());
        }
    }
    let before: Vec<&str> = current.iter().map(|p| p.name.as_str()).collect();
    let after: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    if before != after && !corrected.iter().any(|c| c.starts_with("parameter")) {
        corrected.push("parameters in the WSDL's order".into());
    }
    d.endpoint.params = params;
}

/// True for an element whose name says it holds a secret (never kept, not even in `_extra`).
pub(super) fn looks_secret(path: &str) -> bool {
    let leaf = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    [
        "api_key", "password", "secret", "token", "ssn", "tax_id", "iban",
    ]
    .iter()
    .any(|s| leaf.contains(s))
}

/// True for an element whose name says it holds a person's details (read only when a run
/// opts in to personal data).
pub(super) fn looks_personal(path: &str) -> bool {
    let leaf = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    [
        "first_name",
        "middle_name",
        "last_name",
        "email",
        "phone",
        "im_name",
        "im_service",
        "birth",
    ]
    .iter()
    .any(|s| leaf.contains(s))
}

/// The corrected spec of one report, or `None` when there is nothing to write (the report
/// matches and the catalog already calls it verified).
pub fn corrected_spec(check: &ReportCheck) -> Option<CorrectedSpec> {
    if check.matches && check.catalog_verified {
        return None;
    }
    let report = check.report()?;
    let mut d = spec_of(report);
    let mut corrected = Vec::new();
    let mut left = Vec::new();
    let param_drift = check.differences.iter().any(|x| {
        matches!(
            x,
            Difference::ParamMissing { .. }
                | Difference::ParamExtra { .. }
                | Difference::ParamOrder { .. }
                | Difference::ParamType { .. }
                | Difference::EnumValues { .. }
        )
    });
    if param_drift {
        match &check.found_params {
            Some(found) => correct_params(&mut d, found, &mut corrected, &mut left),
            None => left.push("parameters: the WSDL's request was not read".into()),
        }
    }
    for diff in &check.differences {
        match diff {
            Difference::NotServed { .. }
            | Difference::Unreadable { .. }
            | Difference::Namespace { .. }
            | Difference::MethodMissing { .. }
            | Difference::NoResponse { .. }
            | Difference::ColumnNotLeaf { .. }
            | Difference::Row { found: None, .. } => left.push(diff.to_string()),
            Difference::ParamMissing { .. }
            | Difference::ParamExtra { .. }
            | Difference::ParamOrder { .. }
            | Difference::ParamType { .. }
            | Difference::EnumValues { .. } => {}
            Difference::Root { found, .. } => {
                d.response.root = found.clone();
                corrected.push(format!("root {found}"));
            }
            Difference::Envelope { found, .. } => {
                d.response.envelope = *found;
                corrected.push(format!("envelope {}", yes(*found)));
            }
            Difference::Collection { found, .. } => {
                d.response.collection = found.clone();
                corrected.push(format!("collection {}", found.as_deref().unwrap_or("none")));
            }
            Difference::Row {
                found: Some(found), ..
            } => {
                d.response.row = found.clone();
                corrected.push(format!("row {found}"));
            }
            Difference::ColumnMoved {
                column, found_path, ..
            } => {
                if let Some(c) = column_mut(&mut d.response.columns, column) {
                    c.path = found_path.clone();
                    corrected.push(format!("column {column} reads {found_path}"));
                }
            }
            Difference::ColumnMissing { column, .. } => {
                let top = !column.contains('.');
                if top && (is_special(&d, column) || d.response.columns.len() <= 1) {
                    left.push(diff.to_string());
                } else if remove_column(&mut d.response.columns, column) {
                    corrected.push(format!("column {column} removed"));
                }
            }
            Difference::ColumnType {
                column, suggested, ..
            } => {
                // A date or partition column must stay a time; a key cannot become a list.
                let time = matches!(suggested.as_deref(), Some("timestamp" | "date"));
                let top = !column.contains('.');
                let dated = top
                    && (d.date_field.as_deref() == Some(column)
                        || d.partition_by.as_deref() == Some(column));
                let keyed = top
                    && is_special(&d, column)
                    && suggested.as_deref().is_some_and(|s| s.starts_with("list<"));
                let allowed = (time || !dated) && !keyed;
                match suggested {
                    Some(t) if allowed => {
                        if let Some(c) = column_mut(&mut d.response.columns, column) {
                            c.ty = t.clone();
                            c.fields.clear();
                            corrected.push(format!("column {column} is {t}"));
                        }
                    }
                    _ => left.push(diff.to_string()),
                }
            }
            Difference::Typed {
                column, columns, ..
            } => {
                // What the catalog kept as JSON gets the WSDL's types and structure.
                if let (Some(c), [typed]) = (
                    column_mut(&mut d.response.columns, column),
                    columns.as_slice(),
                ) {
                    let name = c.name().to_string();
                    let mut new = from_typed(typed, true);
                    new.name = Some(name);
                    new.path = c.path.clone() + typed.path.strip_prefix(&c.path).unwrap_or("");
                    new.personal = c.personal;
                    *c = new;
                    corrected.push(format!("column {column} is {}", typed.ty));
                }
            }
            Difference::Unmapped {
                path,
                scope,
                columns,
                ..
            } => {
                let from_row = match column_mut(&mut d.response.columns, scope) {
                    Some(c) if !scope.is_empty() => format!("{}/{path}", c.path),
                    _ => path.clone(),
                };
                if looks_secret(path) {
                    // Never kept: a secret, by its name.
                    if scope.is_empty() {
                        d.response.secret.push(path.clone());
                    } else {
                        d.response.secret.push(from_row);
                    }
                    corrected.push(format!("{path} is a secret (by its name), never kept"));
                } else if let [typed] = columns.as_slice() {
                    // An element holding elements: a column of its own, typed as the WSDL
                    // nests it.
                    if let Some(list) = scope_mut(&mut d.response.columns, scope) {
                        let mut new = from_typed(typed, scope.is_empty());
                        let mut name = new.name().to_string();
                        while list.iter().any(|c| c.name() == name) {
                            name.push_str("_2");
                        }
                        new.name = Some(name.clone());
                        list.push(new);
                        corrected.push(format!("column {name} ({}) added", typed.ty));
                    }
                } else {
                    // A value the columns do not hold: kept in `_extra` (the table's
                    // columns stay as they are).
                    d.response.unmapped.push(from_row.clone());
                    corrected.push(format!("{from_row} kept in _extra"));
                }
            }
        }
    }
    let verified = left.is_empty();
    if verified {
        d.verified = true;
    }
    let mut note = String::from(" Checked against an instance's WSDL with `cake-connector verify`");
    if !corrected.is_empty() {
        let _ = write!(note, "; corrected: {}", corrected.join("; "));
    }
    if !left.is_empty() {
        let _ = write!(note, "; {} difference(s) left for a person", left.len());
    }
    note.push('.');
    d.notes.push_str(&note);
    let mut comments = Vec::new();
    if !left.is_empty() {
        comments.push(
            "cake-connector verify: differences from the instance's WSDL left for a person:"
                .to_string(),
        );
        comments.extend(left.iter().map(|l| format!("- {l}")));
    }
    Some(CorrectedSpec {
        id: check.id,
        toml: d.to_toml(&comments),
        verified,
        corrected,
        left,
    })
}

/// Writes one corrected spec file (`<dir>/<id>.toml`) per report that differs or that the
/// catalog does not call verified yet, creating `dir` if needed. Copy the files you accept to
/// `crates/cake-catalog/spec/` and run `cargo xtask codegen`.
pub fn write_specs(report: &VerifyReport, dir: &Path) -> Result<Vec<WrittenSpec>, VerifyError> {
    std::fs::create_dir_all(dir).map_err(|source| VerifyError::Write {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for check in &report.reports {
        let Some(spec) = corrected_spec(check) else {
            continue;
        };
        let path = dir.join(format!("{}.toml", spec.id));
        std::fs::write(&path, &spec.toml).map_err(|source| VerifyError::Write {
            path: path.clone(),
            source,
        })?;
        written.push(WrittenSpec {
            id: spec.id,
            path,
            verified: spec.verified,
            corrected: spec.corrected.len(),
            left: spec.left,
        });
    }
    Ok(written)
}
