//! Spec files corrected from a [`VerifyReport`], in the layout of
//! `crates/cake-catalog/spec/*.toml`, derived from the catalog's own data.

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

#[derive(Debug, Clone)]
pub(super) struct DraftParam {
    pub(super) name: String,
    pub(super) kind: String,
    pub(super) default: Option<String>,
    pub(super) menu: Option<String>,
    pub(super) values: Option<Vec<String>>,
    pub(super) conversion_values: Option<[String; 3]>,
}

#[derive(Debug, Clone)]
pub(super) struct DraftColumn {
    pub(super) name: String,
    pub(super) path: String,
    pub(super) ty: String,
    pub(super) nullable: bool,
}

#[derive(Debug, Clone)]
pub(super) struct Draft {
    pub(super) id: String,
    pub(super) name: String,
    pub(super) description: String,
    pub(super) verified: bool,
    pub(super) notes: String,
    pub(super) primary_key: Vec<String>,
    pub(super) table_key: Option<Vec<String>>,
    pub(super) date_field: Option<String>,
    pub(super) cursor_field: Option<String>,
    pub(super) partition_by: Option<String>,
    pub(super) service: String,
    pub(super) method: String,
    pub(super) version: u16,
    pub(super) params: Vec<DraftParam>,
    pub(super) dates: String,
    pub(super) max_window: Option<String>,
    pub(super) paging: Option<(u32, Option<u32>)>,
    pub(super) root: String,
    pub(super) collection: Option<String>,
    pub(super) row: String,
    pub(super) envelope: bool,
    pub(super) skip: Vec<String>,
    pub(super) unmapped: Vec<String>,
    pub(super) columns: Vec<DraftColumn>,
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
        ColumnType::List(inner) => format!("list<{}>", spec_type(inner)),
        other => other.spec_name(),
    }
}

pub(super) fn plan_filled(kind: &str) -> bool {
    matches!(
        kind,
        "api_key" | "start_date" | "end_date" | "changes_since" | "start_at_row" | "row_limit"
    )
}

impl Draft {
    pub(super) fn from_report(r: &Report) -> Draft {
        let (dates, max_window) = match r.dates {
            DateSemantics::None => ("none", None),
            DateSemantics::Range { max_window } => ("range", Some(max_window.as_str().to_string())),
            DateSemantics::ChangesSince => ("changes_since", None),
        };
        Draft {
            id: r.id.into(),
            name: r.name.into(),
            description: r.description.into(),
            verified: r.verified,
            notes: r.notes.into(),
            primary_key: r.primary_key.iter().map(|s| s.to_string()).collect(),
            table_key: (r.table_key != r.primary_key)
                .then(|| r.table_key.iter().map(|s| s.to_string()).collect()),
            date_field: r.date_field.map(str::to_string),
            cursor_field: r.cursor_field.map(str::to_string),
            partition_by: match r.layout {
                Layout::RowDay(c) => Some(c.to_string()),
                Layout::Window => None,
            },
            service: r.endpoint.service.as_str().into(),
            method: r.endpoint.method.into(),
            version: r.endpoint.version,
            params: r
                .params
                .iter()
                .map(|p| {
                    let kind = p.kind.as_str().to_string();
                    DraftParam {
                        name: p.name.into(),
                        default: (!plan_filled(&kind)).then(|| p.default.to_string()),
                        kind,
                        menu: p.menu.map(|m| m.key().to_string()),
                        values: match p.kind {
                            ParamKind::Enum(v) => Some(v.iter().map(|s| s.to_string()).collect()),
                            _ => None,
                        },
                        conversion_values: p
                            .conversion_values
                            .map(|c| [c.conversions.into(), c.events.into(), c.all.into()]),
                    }
                })
                .collect(),
            dates: dates.into(),
            max_window,
            paging: r.paging.map(|p| (p.default_page_size, p.max_page_size)),
            root: r.response.root.into(),
            collection: r.response.collection.map(str::to_string),
            row: r.response.row.into(),
            envelope: r.response.envelope,
            skip: r.response.skip.iter().map(|s| s.to_string()).collect(),
            unmapped: r.response.unmapped.iter().map(|s| s.to_string()).collect(),
            columns: r
                .columns
                .iter()
                .map(|c| DraftColumn {
                    name: c.name.into(),
                    path: c.path.join("/"),
                    ty: spec_type(&c.ty),
                    nullable: c.nullable,
                })
                .collect(),
        }
    }

    /// True when the column is a key, the date field, the cursor or the partition column: it
    /// cannot go, and its type is constrained.
    pub(super) fn is_special(&self, column: &str) -> bool {
        self.primary_key.iter().any(|k| k == column)
            || self
                .table_key
                .as_ref()
                .is_some_and(|t| t.iter().any(|k| k == column))
            || self.date_field.as_deref() == Some(column)
            || self.cursor_field.as_deref() == Some(column)
            || self.partition_by.as_deref() == Some(column)
    }

    pub(super) fn render(&self, left: &[String]) -> String {
        let mut o = String::new();
        if !left.is_empty() {
            o.push_str("# cake-connector verify: differences from the instance's WSDL left for a person:\n");
            for l in left {
                let _ = writeln!(o, "# - {}", l.replace('\n', " "));
            }
        }
        let _ = writeln!(o, "id = {}", toml_str(&self.id));
        let _ = writeln!(o, "name = {}", toml_str(&self.name));
        let _ = writeln!(o, "description = {}", toml_str(&self.description));
        let _ = writeln!(o, "verified = {}", self.verified);
        let _ = writeln!(o, "notes = {}", toml_notes(&self.notes));
        let _ = writeln!(o, "primary_key = {}", toml_list(&self.primary_key));
        if let Some(t) = &self.table_key {
            let _ = writeln!(o, "table_key = {}", toml_list(t));
        }
        for (key, value) in [
            ("date_field", &self.date_field),
            ("cursor_field", &self.cursor_field),
            ("partition_by", &self.partition_by),
        ] {
            if let Some(v) = value {
                let _ = writeln!(o, "{key} = {}", toml_str(v));
            }
        }
        let _ = write!(
            o,
            "\n[endpoint]\nservice = {}\nmethod = {}\nversion = {}\nparams = [\n",
            toml_str(&self.service),
            toml_str(&self.method),
            self.version
        );
        for p in &self.params {
            let mut fields = vec![
                format!("name = {}", toml_str(&p.name)),
                format!("kind = {}", toml_str(&p.kind)),
            ];
            if let Some(v) = &p.values {
                fields.push(format!("values = {}", toml_list(v)));
            }
            if let Some(d) = &p.default {
                fields.push(format!("default = {}", toml_str(d)));
            }
            if let Some(m) = &p.menu {
                fields.push(format!("menu = {}", toml_str(m)));
            }
            if let Some([c, e, a]) = &p.conversion_values {
                fields.push(format!(
                    "conversion_values = {{ conversions = {}, events = {}, all = {} }}",
                    toml_str(c),
                    toml_str(e),
                    toml_str(a)
                ));
            }
            let _ = writeln!(o, "  {{ {} }},", fields.join(", "));
        }
        let _ = write!(o, "]\n\n[dates]\nkind = {}\n", toml_str(&self.dates));
        if let Some(w) = &self.max_window {
            let _ = writeln!(o, "max_window = {}", toml_str(w));
        }
        if let Some((size, max)) = self.paging {
            let _ = write!(o, "\n[paging]\ndefault_page_size = {size}\n");
            if let Some(m) = max {
                let _ = writeln!(o, "max_page_size = {m}");
            }
        }
        let _ = write!(o, "\n[response]\nroot = {}\n", toml_str(&self.root));
        if let Some(c) = &self.collection {
            let _ = writeln!(o, "collection = {}", toml_str(c));
        }
        let _ = write!(
            o,
            "row = {}\nenvelope = {}\n",
            toml_str(&self.row),
            self.envelope
        );
        for (key, paths) in [("skip", &self.skip), ("unmapped", &self.unmapped)] {
            if !paths.is_empty() {
                let _ = writeln!(o, "{key} = [");
                for s in paths {
                    let _ = writeln!(o, "  {},", toml_str(s));
                }
                o.push_str("]\n");
            }
        }
        o.push_str("columns = [\n");
        for c in &self.columns {
            let _ = write!(
                o,
                "  {{ name = {}, path = {}, type = {}",
                toml_str(&c.name),
                toml_str(&c.path),
                toml_str(&c.ty)
            );
            if !c.nullable {
                o.push_str(", nullable = false");
            }
            o.push_str(" },\n");
        }
        o.push_str("]\n");
        o
    }
}

pub(super) fn toml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", c as u32);
            }
            c => out.push(c),
        }
    }
    out
}

pub(super) fn toml_str(s: &str) -> String {
    format!("\"{}\"", toml_escape(s))
}

pub(super) fn toml_list(items: &[String]) -> String {
    let items: Vec<String> = items.iter().map(|s| toml_str(s)).collect();
    format!("[{}]", items.join(", "))
}

/// A multi-line basic string wrapped near 100 columns with line-ending backslashes (which
/// TOML removes with the line break): the value is the text exactly.
pub(super) fn toml_notes(s: &str) -> String {
    let escaped = toml_escape(s);
    let mut out = String::from("\"\"\"\n");
    let mut line = String::new();
    for (i, word) in escaped.split(' ').enumerate() {
        if i > 0 {
            if !word.is_empty() && line.len() + 1 + word.len() > 100 && !line.is_empty() {
                out.push_str(&line);
                out.push_str(" \\\n");
                line.clear();
                line.push_str(word);
                continue;
            }
            line.push(' ');
        }
        line.push_str(word);
    }
    out.push_str(&line);
    out.push_str("\"\"\"");
    out
}

/// The catalog entry of `report` as a spec file, unchanged (what [`write_specs`] starts from).
pub fn spec_toml(report: &Report) -> String {
    Draft::from_report(report).render(&[])
}

pub(super) fn param_from_xsd(name: &str, x: &Xsd) -> Option<DraftParam> {
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
    Some(DraftParam {
        name: name.to_string(),
        kind: kind.to_string(),
        default: Some(default),
        menu: None,
        values,
        conversion_values: None,
    })
}

pub(super) fn correct_params(
    d: &mut Draft,
    found: &[FoundParam],
    corrected: &mut Vec<String>,
    left: &mut Vec<String>,
) {
    let mut params = Vec::new();
    for f in found {
        match d
            .params
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
                        let ok_cv = p
                            .conversion_values
                            .as_ref()
                            .is_none_or(|cv| cv.iter().all(|v| accepted.iter().any(|a| a == v)));
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
    for p in &d.params {
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
    let before: Vec<&str> = d.params.iter().map(|p| p.name.as_str()).collect();
    let after: Vec<&str> = params.iter().map(|p| p.name.as_str()).collect();
    if before != after && !corrected.iter().any(|c| c.starts_with("parameter")) {
        corrected.push("parameters in the WSDL's order".into());
    }
    d.params = params;
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

/// The corrected spec of one report, or `None` when there is nothing to write (the report
/// matches and the catalog already calls it verified).
pub fn corrected_spec(check: &ReportCheck) -> Option<CorrectedSpec> {
    if check.matches && check.catalog_verified {
        return None;
    }
    let report = check.report()?;
    let mut d = Draft::from_report(report);
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
                d.root = found.clone();
                corrected.push(format!("root {found}"));
            }
            Difference::Envelope { found, .. } => {
                d.envelope = *found;
                corrected.push(format!("envelope {}", yes(*found)));
            }
            Difference::Collection { found, .. } => {
                d.collection = found.clone();
                corrected.push(format!("collection {}", found.as_deref().unwrap_or("none")));
            }
            Difference::Row {
                found: Some(found), ..
            } => {
                d.row = found.clone();
                corrected.push(format!("row {found}"));
            }
            Difference::ColumnMoved {
                column, found_path, ..
            } => {
                if let Some(c) = d.columns.iter_mut().find(|c| c.name == *column) {
                    c.path = found_path.clone();
                    corrected.push(format!("column {column} reads {found_path}"));
                }
            }
            Difference::ColumnMissing { column, .. } => {
                if d.is_special(column) || d.columns.len() <= 1 {
                    left.push(diff.to_string());
                } else {
                    d.columns.retain(|c| c.name != *column);
                    corrected.push(format!("column {column} removed"));
                }
            }
            Difference::ColumnType {
                column, suggested, ..
            } => {
                // A date or partition column must stay a time; a key cannot become a list.
                let time = matches!(suggested.as_deref(), Some("timestamp" | "date"));
                let dated = d.date_field.as_deref() == Some(column)
                    || d.partition_by.as_deref() == Some(column);
                let keyed = d.is_special(column)
                    && suggested.as_deref().is_some_and(|s| s.starts_with("list<"));
                let allowed = (time || !dated) && !keyed;
                match suggested {
                    Some(t) if allowed => {
                        if let Some(c) = d.columns.iter_mut().find(|c| c.name == *column) {
                            c.ty = t.clone();
                            corrected.push(format!("column {column} is {t}"));
                        }
                    }
                    _ => left.push(diff.to_string()),
                }
            }
            Difference::Unmapped { path, .. } => {
                // Kept in `_extra` (the table's columns stay as they are), unless it looks
                // like a secret.
                if looks_secret(path) {
                    d.skip.push(path.clone());
                    corrected.push(format!("{path} skipped (a secret, by its name)"));
                } else {
                    d.unmapped.push(path.clone());
                    corrected.push(format!("{path} kept in _extra"));
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
    Some(CorrectedSpec {
        id: check.id,
        toml: d.render(&left),
        verified,
        corrected,
        left,
    })
}

/// Writes one corrected spec file (`<dir>/<id>.toml`) per report that differs or that the
/// catalog does not call verified yet, creating `dir` if needed. Copy the files you accept to
/// `crates/cake-catalog/spec/` and run `cargo xtask codegen`.
pub fn write_specs(report: &VerifyReport, dir: &Path) -> Result<Vec<WrittenSpec>, PipelineError> {
    std::fs::create_dir_all(dir).map_err(|source| PipelineError::Io {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut written = Vec::new();
    for check in &report.reports {
        let Some(spec) = corrected_spec(check) else {
            continue;
        };
        let path = dir.join(format!("{}.toml", spec.id));
        std::fs::write(&path, &spec.toml).map_err(|source| PipelineError::Io {
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
