//! `cargo xtask codegen`: report specs (TOML) to the static catalog (Rust) and `docs/reports.md`.
//!
//! The spec files are the single source of truth. This module reads them with its own serde
//! types (it must not depend on `cake-catalog`, whose generated code it writes), checks every
//! rule the catalog relies on, and renders the two outputs. In check mode it compares instead
//! of writing and fails on any difference.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};
use serde::Deserialize;

pub const SPEC_DIR: &str = "crates/cake-catalog/spec";
pub const GENERATED_RS: &str = "crates/cake-catalog/src/generated.rs";
pub const REPORTS_MD: &str = "docs/reports.md";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// Runs the generator from the workspace root.
pub fn run(root: &Path, mode: Mode) -> Result<()> {
    let specs = load_specs(&root.join(SPEC_DIR))?;
    let rust = rustfmt(&render_rust(crate::options::table()?, &specs))?;
    let markdown = render_markdown(&specs);
    let mut stale = Vec::new();
    for (rel, contents) in [(GENERATED_RS, rust), (REPORTS_MD, markdown)] {
        let path = root.join(rel);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if normalize(&current) == normalize(&contents) {
            continue;
        }
        match mode {
            Mode::Write => {
                std::fs::write(&path, contents)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("updated {rel}");
            }
            Mode::Check => stale.push(rel),
        }
    }
    if !stale.is_empty() {
        bail!(
            "generated files are stale: {}\nrun `cargo xtask codegen` and commit the result",
            stale.join(", ")
        );
    }
    Ok(())
}

fn normalize(s: &str) -> String {
    s.replace("\r\n", "\n")
}

// ---------------------------------------------------------------------------------------------
// Spec files.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    pub id: String,
    pub name: String,
    pub description: String,
    pub verified: bool,
    pub notes: String,
    pub primary_key: Vec<String>,
    /// The key unique in the whole table, when it is not `primary_key` (`date` is the
    /// partition's day).
    pub table_key: Option<Vec<String>>,
    pub date_field: Option<String>,
    pub cursor_field: Option<String>,
    /// Partition rows by the instance-local day of this column instead of by request window.
    pub partition_by: Option<String>,
    pub endpoint: EndpointSpec,
    pub dates: DatesSpec,
    pub paging: Option<PagingSpec>,
    pub response: ResponseSpec,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EndpointSpec {
    pub service: String,
    pub method: String,
    pub version: u16,
    pub params: Vec<ParamSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParamSpec {
    pub name: String,
    pub kind: String,
    pub default: Option<String>,
    pub menu: Option<String>,
    pub values: Option<Vec<String>>,
    pub conversion_values: Option<ConversionValuesSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConversionValuesSpec {
    pub conversions: String,
    pub events: String,
    pub all: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatesSpec {
    pub kind: String,
    pub max_window: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PagingSpec {
    pub default_page_size: u32,
    pub max_page_size: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResponseSpec {
    pub root: String,
    pub collection: Option<String>,
    pub row: String,
    pub envelope: bool,
    #[serde(default)]
    pub skip: Vec<String>,
    /// Paths below the row known to the catalog but without columns: kept in `_extra`, never
    /// counted as drift.
    #[serde(default)]
    pub unmapped: Vec<String>,
    /// Take `columns` and `skip` from another report whose rows have the same shape.
    pub columns_from: Option<String>,
    #[serde(default)]
    pub columns: Vec<ColumnSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: Option<String>,
    pub path: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub nullable: Option<bool>,
}

impl ColumnSpec {
    fn name(&self) -> &str {
        match &self.name {
            Some(n) => n,
            None => self.path.rsplit('/').next().unwrap_or(&self.path),
        }
    }
    fn nullable(&self) -> bool {
        self.nullable.unwrap_or(true)
    }
}

/// A parsed column type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ty {
    Bool,
    Int32,
    Int64,
    Decimal(u8, i8),
    Utf8,
    Timestamp,
    Date,
    List(Box<Ty>),
}

impl Ty {
    pub fn parse(s: &str) -> Result<Ty> {
        let s = s.trim();
        if let Some(inner) = s.strip_prefix("list<").and_then(|r| r.strip_suffix('>')) {
            let inner = Ty::parse(inner)?;
            ensure!(
                !matches!(inner, Ty::List(_)),
                "nested lists are not supported: `{s}`"
            );
            return Ok(Ty::List(Box::new(inner)));
        }
        if let Some(args) = s.strip_prefix("decimal(").and_then(|r| r.strip_suffix(')')) {
            let (p, sc) = args
                .split_once(',')
                .with_context(|| format!("`{s}`: expected decimal(precision,scale)"))?;
            let p: u8 = p
                .trim()
                .parse()
                .with_context(|| format!("`{s}`: bad precision"))?;
            let sc: i8 = sc
                .trim()
                .parse()
                .with_context(|| format!("`{s}`: bad scale"))?;
            ensure!((1..=38).contains(&p), "`{s}`: precision must be 1..=38");
            ensure!(
                sc >= 0 && (sc as u8) <= p,
                "`{s}`: scale must be 0..=precision"
            );
            return Ok(Ty::Decimal(p, sc));
        }
        Ok(match s {
            "bool" => Ty::Bool,
            "int32" => Ty::Int32,
            "int64" => Ty::Int64,
            "utf8" => Ty::Utf8,
            "timestamp" => Ty::Timestamp,
            "date" => Ty::Date,
            "money" => Ty::Decimal(19, 4),
            "percent" => Ty::Decimal(19, 6),
            "rate" => Ty::Decimal(28, 10),
            other => bail!(
                "unknown column type `{other}` (expected bool, int32, int64, utf8, timestamp, \
                 date, money, percent, rate, decimal(p,s) or list<...>)"
            ),
        })
    }

    fn rust(&self) -> String {
        match self {
            Ty::Bool => "ColumnType::Bool".into(),
            Ty::Int32 => "ColumnType::Int32".into(),
            Ty::Int64 => "ColumnType::Int64".into(),
            Ty::Decimal(p, s) => format!("ColumnType::Decimal {{ precision: {p}, scale: {s} }}"),
            Ty::Utf8 => "ColumnType::Utf8".into(),
            Ty::Timestamp => "ColumnType::Timestamp".into(),
            Ty::Date => "ColumnType::Date".into(),
            Ty::List(inner) => format!("ColumnType::List(&{})", inner.rust()),
        }
    }

    /// Arrow's own text for the type (kept equal to `ColumnType::arrow_name` by a test).
    fn arrow(&self) -> String {
        match self {
            Ty::Bool => "Boolean".into(),
            Ty::Int32 => "Int32".into(),
            Ty::Int64 => "Int64".into(),
            Ty::Decimal(p, s) => format!("Decimal128({p}, {s})"),
            Ty::Utf8 => "Utf8".into(),
            Ty::Timestamp => "Timestamp(µs, \"UTC\")".into(),
            Ty::Date => "Date32".into(),
            Ty::List(inner) => format!("List({})", inner.arrow()),
        }
    }
}

/// The Rust variant of the menu `key`, from the options table.
fn menu_variant(key: &str) -> Option<&'static str> {
    crate::options::table()
        .ok()?
        .menu(key)
        .map(|m| m.variant.as_str())
}

/// Reads and checks every spec in `dir`, sorted by display name.
pub fn load_specs(dir: &Path) -> Result<Vec<Spec>> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read {}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    let mut specs = Vec::new();
    for path in &paths {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let spec: Spec =
            toml::from_str(&text).with_context(|| format!("{}: invalid spec", path.display()))?;
        specs.push((path, spec));
    }
    // Rows shared by two reports (same endpoint, or a change feed of the same rows) are
    // written once: `columns_from` copies the other report's columns and skip list.
    let shared: BTreeMap<String, (Vec<ColumnSpec>, Vec<String>)> = specs
        .iter()
        .filter(|(_, s)| s.response.columns_from.is_none())
        .map(|(_, s)| {
            (
                s.id.clone(),
                (s.response.columns.clone(), s.response.skip.clone()),
            )
        })
        .collect();
    for (path, spec) in &mut specs {
        if let Some(from) = spec.response.columns_from.clone() {
            ensure!(
                spec.response.columns.is_empty() && spec.response.skip.is_empty(),
                "{}: columns_from replaces `columns` and `skip`; remove them",
                path.display()
            );
            let (columns, skip) = shared.get(&from).with_context(|| {
                format!(
                    "{}: columns_from = \"{from}\" names no report with columns of its own",
                    path.display()
                )
            })?;
            spec.response.columns = columns.clone();
            spec.response.skip = skip.clone();
        }
    }
    let mut checked = Vec::new();
    for (path, spec) in specs {
        let stem = path
            .file_stem()
            .and_then(|s| s.to_str())
            .unwrap_or_default();
        check_spec(&spec, stem).with_context(|| format!("{}: invalid spec", path.display()))?;
        checked.push(spec);
    }
    let mut specs = checked;
    let mut ids = BTreeSet::new();
    let mut names = BTreeSet::new();
    for s in &specs {
        ensure!(ids.insert(s.id.clone()), "duplicate report id `{}`", s.id);
        ensure!(
            names.insert(s.name.to_lowercase()),
            "duplicate report name `{}`",
            s.name
        );
    }
    specs.sort_by_key(|s| s.name.to_lowercase());
    Ok(specs)
}

fn is_xml_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '.')
}

fn check_spec(spec: &Spec, file_stem: &str) -> Result<()> {
    ensure!(
        !spec.id.is_empty()
            && spec
                .id
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
        "id `{}` must be lowercase ASCII letters, digits and '-'",
        spec.id
    );
    ensure!(
        spec.id == file_stem,
        "id `{}` must match the file name `{file_stem}.toml`",
        spec.id
    );
    ensure!(!spec.name.trim().is_empty(), "name is empty");
    ensure!(
        !spec.description.trim().is_empty() && !spec.description.contains('\n'),
        "description must be one non-empty line"
    );
    let ep = &spec.endpoint;
    ensure!(
        ["get", "export", "reports", "track"].contains(&ep.service.as_str()),
        "service `{}` must be get, export, reports or track",
        ep.service
    );
    ensure!(
        is_xml_name(&ep.method),
        "method `{}` is not a name",
        ep.method
    );
    ensure!(ep.version > 0, "version must be positive");

    // Parameters.
    let mut seen = BTreeSet::new();
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    for p in &ep.params {
        ensure!(is_xml_name(&p.name), "parameter `{}` is not a name", p.name);
        ensure!(
            seen.insert(p.name.as_str()),
            "duplicate parameter `{}`",
            p.name
        );
        *kinds.entry(p.kind.as_str()).or_default() += 1;
        check_param(p).with_context(|| format!("parameter `{}`", p.name))?;
    }
    ensure!(
        ep.params.first().is_some_and(|p| p.kind == "api_key"),
        "the first parameter must be the api_key"
    );
    for k in [
        "api_key",
        "start_date",
        "end_date",
        "changes_since",
        "start_at_row",
        "row_limit",
    ] {
        ensure!(
            kinds.get(k).copied().unwrap_or(0) <= 1,
            "more than one `{k}` parameter"
        );
    }
    let has = |k: &str| kinds.contains_key(k);
    match spec.dates.kind.as_str() {
        "none" => {
            ensure!(
                spec.dates.max_window.is_none(),
                "max_window applies to ranges only"
            );
            ensure!(
                !has("start_date") && !has("end_date") && !has("changes_since"),
                "dates.kind = none but the endpoint has date parameters"
            );
        }
        "range" => {
            ensure!(
                has("start_date") && has("end_date") && !has("changes_since"),
                "dates.kind = range needs one start_date and one end_date parameter"
            );
            match spec.dates.max_window.as_deref() {
                Some("unbounded" | "month") => {}
                other => bail!("dates.max_window must be unbounded or month, not {other:?}"),
            }
        }
        "changes_since" => {
            ensure!(
                spec.dates.max_window.is_none(),
                "max_window applies to ranges only"
            );
            ensure!(
                has("changes_since") && !has("start_date") && !has("end_date"),
                "dates.kind = changes_since needs one changes_since parameter"
            );
        }
        other => bail!("dates.kind must be none, range or changes_since, not `{other}`"),
    }
    match &spec.paging {
        Some(p) => {
            ensure!(
                has("start_at_row") && has("row_limit"),
                "[paging] needs start_at_row and row_limit parameters"
            );
            ensure!(
                p.default_page_size > 0,
                "default_page_size must be positive"
            );
            if let Some(max) = p.max_page_size {
                ensure!(
                    p.default_page_size <= max,
                    "default_page_size exceeds max_page_size"
                );
            }
        }
        None => ensure!(
            !has("start_at_row") && !has("row_limit"),
            "paging parameters present but no [paging] table"
        ),
    }

    // Response and columns.
    let r = &spec.response;
    ensure!(is_xml_name(&r.root), "root `{}` is not a name", r.root);
    ensure!(is_xml_name(&r.row), "row `{}` is not a name", r.row);
    if let Some(c) = &r.collection {
        ensure!(is_xml_name(c), "collection `{c}` is not a name");
    }
    ensure!(!r.columns.is_empty(), "no columns");
    for path in &r.unmapped {
        ensure!(
            path.split('/').all(is_xml_name),
            "unmapped path `{path}` is not a path of names"
        );
        ensure!(
            !r.columns
                .iter()
                .any(|c| c.path == *path || c.path.starts_with(&format!("{path}/"))),
            "unmapped path `{path}` is read by a column"
        );
    }
    for skip in &r.skip {
        ensure!(
            skip.split('/').all(is_xml_name),
            "skip path `{skip}` is not a path of names"
        );
    }
    let mut names = BTreeSet::new();
    let mut paths: Vec<Vec<&str>> = Vec::new();
    for c in &r.columns {
        let name = c.name();
        ensure!(
            !name.is_empty()
                && name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_'),
            "column name `{name}` must be lowercase snake_case"
        );
        ensure!(names.insert(name), "duplicate column `{name}`");
        ensure!(
            name != "date",
            "column name `date` is the output's hive partition column; name the column after what the date is (`summary_date`)"
        );
        let segs: Vec<&str> = c.path.split('/').collect();
        for s in &segs {
            ensure!(
                is_xml_name(s),
                "column `{name}`: path segment `{s}` is not a name"
            );
        }
        let ty = Ty::parse(&c.ty).with_context(|| format!("column `{name}`"))?;
        if matches!(ty, Ty::List(_)) {
            ensure!(
                segs.len() >= 2,
                "column `{name}`: a list path needs the repeated element"
            );
        }
        for skip in &r.skip {
            let skip: Vec<&str> = skip.split('/').collect();
            ensure!(
                !(segs.len() >= skip.len() && segs[..skip.len()] == skip[..]),
                "column `{name}` reads below skipped element `{}`",
                skip.join("/")
            );
        }
        paths.push(segs);
    }
    for (i, a) in paths.iter().enumerate() {
        for (j, b) in paths.iter().enumerate() {
            ensure!(
                i == j || a != b,
                "two columns read the same path `{}`",
                a.join("/")
            );
            ensure!(
                i == j || !(b.len() > a.len() && b[..a.len()] == a[..]),
                "path `{}` is a leaf of one column and a parent in `{}`",
                a.join("/"),
                b.join("/")
            );
        }
    }
    for c in &r.columns {
        ensure!(
            !c.name().starts_with('_'),
            "column `{}`: names starting with `_` are the connector's own (`_extra`, `_rejected`)",
            c.name()
        );
    }
    ensure!(!spec.primary_key.is_empty(), "primary_key is empty");
    for k in &spec.primary_key {
        let col = r
            .columns
            .iter()
            .find(|c| c.name() == k)
            .with_context(|| format!("primary key column `{k}` does not exist"))?;
        ensure!(
            !col.nullable(),
            "primary key column `{k}` must be nullable = false"
        );
    }
    if let Some(d) = &spec.date_field {
        let col = r
            .columns
            .iter()
            .find(|c| c.name() == d)
            .with_context(|| format!("date_field `{d}` does not exist"))?;
        let ty = Ty::parse(&col.ty)?;
        ensure!(
            matches!(ty, Ty::Timestamp | Ty::Date),
            "date_field `{d}` must be a timestamp or a date"
        );
        ensure!(
            spec.dates.kind != "none",
            "date_field on a report without dates"
        );
    }
    if let Some(d) = &spec.cursor_field {
        ensure!(
            r.columns.iter().any(|c| c.name() == d),
            "cursor_field `{d}` does not exist"
        );
    }
    if let Some(p) = &spec.partition_by {
        ensure!(
            spec.dates.kind != "none",
            "partition_by on a report without dates"
        );
        let col = r
            .columns
            .iter()
            .find(|c| c.name() == p)
            .with_context(|| format!("partition_by `{p}` does not exist"))?;
        ensure!(
            matches!(Ty::parse(&col.ty)?, Ty::Timestamp | Ty::Date),
            "partition_by `{p}` must be a timestamp or a date"
        );
    }
    if let Some(keys) = &spec.table_key {
        ensure!(!keys.is_empty(), "table_key is empty");
        for k in keys {
            if k == "date" {
                ensure!(
                    spec.dates.kind == "range" && spec.partition_by.is_none(),
                    "table_key `date` (the partition's day) needs a range report partitioned by window"
                );
                continue;
            }
            let col = r
                .columns
                .iter()
                .find(|c| c.name() == k)
                .with_context(|| format!("table_key column `{k}` does not exist"))?;
            ensure!(
                !col.nullable(),
                "table_key column `{k}` must be nullable = false"
            );
        }
    }
    Ok(())
}

fn check_param(p: &ParamSpec) -> Result<()> {
    let filled_by_plan = matches!(
        p.kind.as_str(),
        "api_key" | "start_date" | "end_date" | "changes_since" | "start_at_row" | "row_limit"
    );
    if filled_by_plan {
        ensure!(
            p.default.is_none() && p.menu.is_none() && p.values.is_none(),
            "kind `{}` takes no default, menu or values",
            p.kind
        );
        return Ok(());
    }
    let default = p.default.as_deref().with_context(|| {
        format!(
            "kind `{}` needs a default (the value sent when nothing is chosen)",
            p.kind
        )
    })?;
    match p.kind.as_str() {
        "int" => {
            default
                .parse::<i32>()
                .with_context(|| format!("default `{default}` is not an integer"))?;
            ensure!(p.values.is_none(), "values apply to enums only");
        }
        "text" => ensure!(p.values.is_none(), "values apply to enums only"),
        "bool" => {
            ensure!(
                default == "TRUE" || default == "FALSE",
                "bool default must be TRUE or FALSE"
            );
            ensure!(p.values.is_none(), "values apply to enums only");
        }
        "enum" => {
            let values = p.values.as_ref().context("an enum needs values")?;
            ensure!(!values.is_empty(), "an enum needs values");
            ensure!(
                values.iter().any(|v| v == default),
                "default `{default}` is not one of the values"
            );
        }
        other => bail!(
            "unknown kind `{other}` (expected api_key, start_date, end_date, changes_since, \
             start_at_row, row_limit, int, text, bool or enum)"
        ),
    }
    if let Some(menu) = &p.menu {
        let table = crate::options::table()?;
        let expected = match table.menu(menu) {
            Some(m) => m.fills.as_deref().with_context(|| {
                format!("menu `{menu}` chooses dates: it cannot fill a parameter")
            })?,
            None => bail!(
                "unknown menu `{menu}` (the menus are in {})",
                crate::options::OPTIONS_TOML
            ),
        };
        ensure!(
            p.kind == expected,
            "menu `{menu}` needs a parameter of kind `{expected}`"
        );
    }
    match (&p.conversion_values, p.menu.as_deref()) {
        (Some(cv), Some("conversion_type")) => {
            let values = p.values.as_deref().unwrap_or_default();
            for v in [&cv.conversions, &cv.events, &cv.all] {
                ensure!(
                    values.contains(v),
                    "conversion value `{v}` is not one of the values"
                );
            }
        }
        (None, Some("conversion_type")) => bail!("menu conversion_type needs conversion_values"),
        (Some(_), _) => bail!("conversion_values need menu = \"conversion_type\""),
        (None, _) => {}
    }
    Ok(())
}

/// The menus a report takes: the date menus its date semantics imply, then the filters its
/// parameters bind, in catalog order.
fn menus(spec: &Spec) -> Vec<&'static str> {
    let Ok(table) = crate::options::table() else {
        return Vec::new();
    };
    let mut keys: BTreeSet<&str> = BTreeSet::new();
    match spec.dates.kind.as_str() {
        // A range takes every date menu; a change feed only a day to start from.
        "range" => keys.extend(table.date_menus()),
        "changes_since" => keys.extend(["past_days", "report_date"]),
        _ => {}
    }
    for p in &spec.endpoint.params {
        if let Some(m) = &p.menu {
            keys.insert(m.as_str());
        }
    }
    table
        .menu
        .iter()
        .filter(|m| keys.contains(m.key.as_str()))
        .map(|m| m.key.as_str())
        .collect()
}

// ---------------------------------------------------------------------------------------------
// Rust.

fn const_name(id: &str) -> String {
    id.to_uppercase().replace('-', "_")
}

fn lit(s: &str) -> String {
    format!("{s:?}")
}

fn opt_lit(s: Option<&str>) -> String {
    match s {
        Some(s) => format!("Some({s:?})"),
        None => "None".into(),
    }
}

fn render_rust(table: &crate::options::OptionsTable, specs: &[Spec]) -> String {
    let mut out = String::new();
    out.push_str(
        "// @generated by `cargo xtask codegen` from crates/cake-catalog/options.toml and\n\
         // crates/cake-catalog/spec/*.toml. Do not edit: change those files and run the generator.\n\n\
         use crate::model::*;\n\
         use crate::options::{OptionSpec, ValueForm};\n\n",
    );
    out.push_str(&crate::options::render(table, lit));
    let _ = writeln!(
        out,
        "/// Every report of the catalog, sorted by display name."
    );
    let _ = writeln!(out, "pub static REPORTS: [&Report; {}] = [", specs.len());
    for s in specs {
        let _ = writeln!(out, "&{},", const_name(&s.id));
    }
    out.push_str("];\n\n");
    for s in specs {
        render_report(&mut out, s);
    }
    out
}

fn render_report(out: &mut String, s: &Spec) {
    let ep = &s.endpoint;
    let service = match ep.service.as_str() {
        "get" => "Get",
        "export" => "Export",
        "reports" => "Reports",
        _ => "Track",
    };
    // Long strings live in their own constants: rustfmt leaves an expression unformatted when
    // one of its lines cannot fit.
    let name = const_name(&s.id);
    if s.response.columns_from.is_none() {
        let _ = writeln!(out, "const {name}_COLUMNS: &[Column] = &[");
        for c in &s.response.columns {
            let path: Vec<String> = c.path.split('/').map(lit).collect();
            // Checked in `check_spec`.
            let ty = Ty::parse(&c.ty).map(|t| t.rust()).unwrap_or_default();
            let _ = writeln!(
                out,
                "Column::new({}, &[{}], {ty}, {}),",
                lit(c.name()),
                path.join(", "),
                c.nullable()
            );
        }
        out.push_str("];\n\n");
    }
    let _ = writeln!(
        out,
        "const {name}_DESCRIPTION: &str = {};",
        lit(&s.description)
    );
    let _ = writeln!(out, "const {name}_NOTES: &str = {};\n", lit(s.notes.trim()));
    let _ = writeln!(out, "/// {} (`{}`).", s.name, s.id);
    let _ = writeln!(out, "pub static {name}: Report = Report {{");
    let _ = writeln!(out, "id: {},", lit(&s.id));
    let _ = writeln!(out, "name: {},", lit(&s.name));
    let _ = writeln!(out, "description: {name}_DESCRIPTION,");
    let _ = writeln!(out, "verified: {},", s.verified);
    let _ = writeln!(out, "notes: {name}_NOTES,");
    let _ = writeln!(
        out,
        "endpoint: Endpoint {{ service: Service::{service}, method: {}, version: {} }},",
        lit(&ep.method),
        ep.version
    );
    out.push_str("params: &[\n");
    for p in &ep.params {
        let kind = match p.kind.as_str() {
            "api_key" => "ParamKind::ApiKey".to_string(),
            "start_date" => "ParamKind::StartDate".into(),
            "end_date" => "ParamKind::EndDate".into(),
            "changes_since" => "ParamKind::ChangesSince".into(),
            "start_at_row" => "ParamKind::StartAtRow".into(),
            "row_limit" => "ParamKind::RowLimit".into(),
            "int" => "ParamKind::Int".into(),
            "text" => "ParamKind::Text".into(),
            "bool" => "ParamKind::Bool".into(),
            _ => {
                let values: Vec<String> = p
                    .values
                    .as_deref()
                    .unwrap_or_default()
                    .iter()
                    .map(|v| lit(v))
                    .collect();
                format!("ParamKind::Enum(&[{}])", values.join(", "))
            }
        };
        let menu = match p.menu.as_deref().and_then(menu_variant) {
            Some(v) => format!("Some(Menu::{v})"),
            None => "None".into(),
        };
        let cv = match &p.conversion_values {
            Some(cv) => format!(
                "Some(ConversionValues {{ conversions: {}, events: {}, all: {} }})",
                lit(&cv.conversions),
                lit(&cv.events),
                lit(&cv.all)
            ),
            None => "None".into(),
        };
        let _ = writeln!(
            out,
            "Param::new({}, {kind}, {}, {menu}, {cv}),",
            lit(&p.name),
            lit(p.default.as_deref().unwrap_or(""))
        );
    }
    out.push_str("],\n");
    let menus: Vec<String> = menus(s)
        .iter()
        .filter_map(|k| menu_variant(k))
        .map(|v| format!("Menu::{v}"))
        .collect();
    let _ = writeln!(out, "menus: &[{}],", menus.join(", "));
    let dates = match s.dates.kind.as_str() {
        "none" => "DateSemantics::None".to_string(),
        "changes_since" => "DateSemantics::ChangesSince".into(),
        _ => {
            let w = match s.dates.max_window.as_deref() {
                Some("month") => "Month",
                _ => "Unbounded",
            };
            format!("DateSemantics::Range {{ max_window: MaxWindow::{w} }}")
        }
    };
    let _ = writeln!(out, "dates: {dates},");
    match &s.paging {
        Some(p) => {
            let max = match p.max_page_size {
                Some(m) => format!("Some({m})"),
                None => "None".into(),
            };
            let _ = writeln!(
                out,
                "paging: Some(Paging {{ default_page_size: {}, max_page_size: {max} }}),",
                p.default_page_size
            );
        }
        None => out.push_str("paging: None,\n"),
    }
    let r = &s.response;
    let skip: Vec<String> = r.skip.iter().map(|x| lit(x)).collect();
    let unmapped: Vec<String> = r.unmapped.iter().map(|x| lit(x)).collect();
    let _ = writeln!(
        out,
        "response: ResponseShape {{ root: {}, collection: {}, row: {}, envelope: {}, skip: &[{}], unmapped: &[{}] }},",
        lit(&r.root),
        opt_lit(r.collection.as_deref()),
        lit(&r.row),
        r.envelope,
        skip.join(", "),
        unmapped.join(", ")
    );
    // Reports that share a row shape (`columns_from`) share one column table.
    let columns_of = s.response.columns_from.as_deref().unwrap_or(&s.id);
    let _ = writeln!(out, "columns: {}_COLUMNS,", const_name(columns_of));
    let pk: Vec<String> = s.primary_key.iter().map(|k| lit(k)).collect();
    let _ = writeln!(out, "primary_key: &[{}],", pk.join(", "));
    let _ = writeln!(out, "date_field: {},", opt_lit(s.date_field.as_deref()));
    let tk: Vec<String> = s
        .table_key
        .as_ref()
        .unwrap_or(&s.primary_key)
        .iter()
        .map(|k| lit(k))
        .collect();
    let _ = writeln!(out, "table_key: &[{}],", tk.join(", "));
    let _ = writeln!(out, "cursor_field: {},", opt_lit(s.cursor_field.as_deref()));
    let layout = match &s.partition_by {
        Some(c) => format!("Layout::RowDay({})", lit(c)),
        None => "Layout::Window".into(),
    };
    let _ = writeln!(out, "layout: {layout},");
    out.push_str("};\n\n");
}

fn rustfmt(source: &str) -> Result<String> {
    let mut child = Command::new("rustfmt")
        .args(["--edition", "2021", "--emit", "stdout"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("cannot run rustfmt (install it with `rustup component add rustfmt`)")?;
    child
        .stdin
        .take()
        .context("rustfmt has no stdin")?
        .write_all(source.as_bytes())?;
    let output = child.wait_with_output()?;
    ensure!(
        output.status.success(),
        "rustfmt failed on the generated code:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).context("rustfmt printed invalid UTF-8")
}

// ---------------------------------------------------------------------------------------------
// Markdown.

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

fn render_markdown(specs: &[Spec]) -> String {
    let mut out = String::new();
    out.push_str(
        "<!-- @generated by `cargo xtask codegen` from crates/cake-catalog/spec/*.toml. Do not edit. -->\n\n\
         # Reports\n\n\
         The connector's reports, generated from the catalog specs. Each report names its Cake \
         endpoint, every parameter sent over HTTP GET (in order; `0` means \"all\" for ids, empty \
         means \"all\" for text), the options that apply to it, and its typed columns. \
         \"Verified: no\" means the response shape or the endpoint mapping is inferred, not seen \
         in Cake's documentation or a recorded response.\n\n",
    );
    out.push_str(
        "| Report | Id | Endpoint | Dates | Paged | Verified |\n|---|---|---|---|---|---|\n",
    );
    for s in specs {
        let _ = writeln!(
            out,
            "| [{}](#{}) | `{}` | `{}` | {} | {} | {} |",
            s.name,
            s.id,
            s.id,
            endpoint_path(s),
            dates_text(s),
            if s.paging.is_some() { "yes" } else { "no" },
            if s.verified { "yes" } else { "no" }
        );
    }
    out.push('\n');
    for s in specs {
        let _ = writeln!(out, "## {}\n", s.name);
        let _ = writeln!(out, "<a id=\"{}\"></a>\n", s.id);
        let _ = writeln!(out, "{}\n", s.description);
        let _ = writeln!(out, "- Id: `{}`", s.id);
        let _ = writeln!(out, "- Endpoint: `GET {}`", endpoint_path(s));
        let _ = writeln!(out, "- Dates: {}", dates_text(s));
        match &s.paging {
            Some(p) => {
                let max = p
                    .max_page_size
                    .map(|m| format!(", maximum {m}"))
                    .unwrap_or_default();
                let _ = writeln!(
                    out,
                    "- Paging: `start_at_row` (1-based) and `row_limit`; page size {}{max}",
                    p.default_page_size
                );
            }
            None => out.push_str("- Paging: none\n"),
        }
        let m = menus(s);
        if m.is_empty() {
            out.push_str("- Options: none\n");
        } else {
            let items: Vec<String> = m
                .iter()
                .map(|k| {
                    let flags: Vec<String> = crate::options::table()
                        .map(|t| t.options_of(k).map(|o| o.flag()).collect())
                        .unwrap_or_default();
                    format!("{k} ({})", flags.join(", "))
                })
                .collect();
            let _ = writeln!(out, "- Options: {}", items.join("; "));
        }
        let r = &s.response;
        let path = match &r.collection {
            Some(c) => format!("{}/{c}/{}", r.root, r.row),
            None => format!("{}/{}", r.root, r.row),
        };
        let _ = writeln!(
            out,
            "- Response: `{path}`{}",
            if r.envelope {
                " with `success`, `message`, `row_count`"
            } else {
                " (no envelope)"
            }
        );
        if !r.unmapped.is_empty() {
            let _ = writeln!(
                out,
                "- Kept in `_extra` (no column): {}",
                code_list(&r.unmapped)
            );
        }
        if !r.skip.is_empty() {
            let _ = writeln!(out, "- Not kept: {}", code_list(&r.skip));
        }
        let _ = writeln!(
            out,
            "- Primary key (unique in one answer): {}",
            code_list(&s.primary_key)
        );
        if let Some(k) = &s.table_key {
            let _ = writeln!(
                out,
                "- Table key (unique in the table; `date` is the partition's day): {}",
                code_list(k)
            );
        }
        if let Some(p) = &s.partition_by {
            let _ = writeln!(
                out,
                "- Partitions: one per instance-local day of `{p}` (the rows are not confined to the request's window)"
            );
        }
        if let Some(d) = &s.date_field {
            let _ = writeln!(out, "- Date field: `{d}`");
        }
        if let Some(d) = &s.cursor_field {
            let _ = writeln!(out, "- Cursor field: `{d}`");
        }
        let _ = writeln!(
            out,
            "- Verified: {}",
            if s.verified { "yes" } else { "no (inferred)" }
        );
        let _ = writeln!(out, "- Notes: {}\n", md_cell(s.notes.trim()));
        out.push_str("| Parameter | Kind | Default | Option |\n|---|---|---|---|\n");
        for p in &s.endpoint.params {
            let kind = match (&p.kind[..], &p.values) {
                ("enum", Some(v)) => format!("enum: {}", v.join(", ")),
                (k, _) => k.to_string(),
            };
            let default = match p.kind.as_str() {
                "api_key" => "(the API key)".to_string(),
                "start_date" => "window start".into(),
                "end_date" => "window end (exclusive)".into(),
                "changes_since" => "cursor".into(),
                "start_at_row" => "1, then per page".into(),
                "row_limit" => "page size".into(),
                _ => match p.default.as_deref() {
                    Some("") => "(empty)".into(),
                    Some(d) => format!("`{d}`"),
                    None => String::new(),
                },
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | {} |",
                p.name,
                md_cell(&kind),
                default,
                p.menu.as_deref().unwrap_or("")
            );
        }
        out.push('\n');
        out.push_str("| Column | Type | Nullable | Path |\n|---|---|---|---|\n");
        for c in &r.columns {
            let ty = Ty::parse(&c.ty).map(|t| t.arrow()).unwrap_or_default();
            let _ = writeln!(
                out,
                "| `{}` | {} | {} | `{}` |",
                c.name(),
                ty,
                if c.nullable() { "yes" } else { "no" },
                c.path
            );
        }
        out.push('\n');
    }
    out
}

fn endpoint_path(s: &Spec) -> String {
    format!(
        "/api/{}/{}.asmx/{}",
        s.endpoint.version, s.endpoint.service, s.endpoint.method
    )
}

fn dates_text(s: &Spec) -> String {
    match (s.dates.kind.as_str(), s.dates.max_window.as_deref()) {
        ("range", Some("month")) => "range, at most one month per request".into(),
        ("range", _) => "range".into(),
        ("changes_since", _) => "changes since a date".into(),
        _ => "none".into(),
    }
}

fn code_list(items: &[String]) -> String {
    items
        .iter()
        .map(|i| format!("`{i}`"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse() {
        assert_eq!(Ty::parse("money").unwrap(), Ty::Decimal(19, 4));
        assert_eq!(
            Ty::parse("list<int32>").unwrap(),
            Ty::List(Box::new(Ty::Int32))
        );
        assert_eq!(Ty::parse("decimal(28, 10)").unwrap(), Ty::Decimal(28, 10));
        assert!(Ty::parse("float").is_err());
        assert!(Ty::parse("decimal(3,4)").is_err());
        assert!(Ty::parse("list<list<utf8>>").is_err());
    }

    fn spec(extra_params: &str, columns: &str) -> Result<()> {
        let text = format!(
            r#"
id = "t"
name = "T"
description = "d"
verified = true
notes = ""
primary_key = ["a"]
[endpoint]
service = "get"
method = "T"
version = 1
params = [ {{ name = "api_key", kind = "api_key" }}, {extra_params} ]
[dates]
kind = "none"
[response]
root = "t_response"
collection = "ts"
row = "t"
envelope = true
columns = [ {columns} ]
"#
        );
        let s: Spec = toml::from_str(&text)?;
        check_spec(&s, "t")
    }

    #[test]
    fn spec_rules_are_enforced() {
        let a = r#"{ name = "a", path = "a", type = "int32", nullable = false }"#;
        spec("", a).unwrap();
        // Primary key must be non-null.
        assert!(spec("", r#"{ name = "a", path = "a", type = "int32" }"#).is_err());
        // A leaf cannot also be a parent.
        assert!(spec(
            "",
            &format!(r#"{a}, {{ name = "b", path = "a/b", type = "utf8" }}"#)
        )
        .is_err());
        // Int defaults must parse, menus must match kinds.
        assert!(spec(r#"{ name = "x", kind = "int", default = "all" }"#, a).is_err());
        assert!(spec(
            r#"{ name = "x", kind = "text", default = "", menu = "offer_id" }"#,
            a
        )
        .is_err());
        // Date parameters need date semantics.
        assert!(spec(r#"{ name = "s", kind = "start_date" }"#, a).is_err());
        // Paging parameters need a [paging] table.
        assert!(spec(r#"{ name = "r", kind = "row_limit" }"#, a).is_err());
    }

    /// The committed generated files match the specs (rust-analyzer's pattern: generated code
    /// is committed, and this test fails when it is stale).
    #[test]
    fn generated_files_are_fresh() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("xtask lives in the workspace");
        if let Err(e) = run(root, Mode::Check) {
            panic!("{e:#}");
        }
    }
}
