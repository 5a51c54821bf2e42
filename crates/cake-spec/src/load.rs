//! Reading spec files: one report per file, shared row shapes resolved, every rule checked.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use crate::check::check_spec;
use crate::error::SpecError;
use crate::model::{ColumnSpec, Spec};
use crate::options::OptionsTable;

/// Parses one spec's text (not yet checked: a `columns_from` spec needs the others).
pub fn parse_spec(path: &Path, text: &str) -> Result<Spec, SpecError> {
    toml::from_str(text).map_err(|source| SpecError::Toml {
        path: path.to_path_buf(),
        source,
    })
}

/// Reads every `*.toml` of `dir`, resolves `columns_from`, checks each spec and the set, and
/// returns them sorted by display name.
pub fn load_specs(dir: &Path, options: &OptionsTable) -> Result<Vec<Spec>, SpecError> {
    let entries = std::fs::read_dir(dir).map_err(|source| SpecError::Read {
        path: dir.to_path_buf(),
        source,
    })?;
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut specs = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| SpecError::Read {
            path: path.clone(),
            source,
        })?;
        let spec = parse_spec(&path, &text)?;
        specs.push((path, spec));
    }
    resolve(specs, options)
}

/// Resolves `columns_from`, checks every spec and the set (unique ids and names), and sorts
/// them by display name.
pub fn resolve(
    mut specs: Vec<(PathBuf, Spec)>,
    options: &OptionsTable,
) -> Result<Vec<Spec>, SpecError> {
    let invalid = |path: &Path, rule: String| SpecError::Invalid {
        path: path.to_path_buf(),
        rule,
    };
    // Rows shared by two reports (the same endpoint, or a change feed of the same rows) are
    // written once: `columns_from` copies the other report's columns and secrets.
    let shared: BTreeMap<String, (Vec<ColumnSpec>, Vec<String>)> = specs
        .iter()
        .filter(|(_, s)| s.response.columns_from.is_none())
        .map(|(_, s)| {
            (
                s.id.clone(),
                (s.response.columns.clone(), s.response.secret.clone()),
            )
        })
        .collect();
    for (path, spec) in &mut specs {
        if let Some(from) = spec.response.columns_from.clone() {
            if !(spec.response.columns.is_empty() && spec.response.secret.is_empty()) {
                return Err(invalid(
                    path,
                    "columns_from replaces `columns` and `secret`; remove them".into(),
                ));
            }
            let Some((columns, secret)) = shared.get(&from) else {
                return Err(invalid(
                    path,
                    format!("columns_from = \"{from}\" names no report with columns of its own"),
                ));
            };
            spec.response.columns = columns.clone();
            spec.response.secret = secret.clone();
        }
    }
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    let mut checked = Vec::with_capacity(specs.len());
    for (path, spec) in specs {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        check_spec(&spec, stem, options).map_err(|rule| invalid(&path, rule))?;
        if !ids.insert(spec.id.clone()) {
            return Err(invalid(&path, format!("duplicate report id `{}`", spec.id)));
        }
        if !names.insert(spec.name.to_lowercase()) {
            return Err(invalid(
                &path,
                format!("duplicate report name `{}`", spec.name),
            ));
        }
        checked.push(spec);
    }
    checked.sort_by_key(|s| s.name.to_lowercase());
    Ok(checked)
}
