//! `cargo xtask codegen`: report specs (TOML) to the static catalog (Rust) and `docs/reports.md`.
//!
//! The spec files are the single source of truth. This module reads them with its own serde
//! types (it must not depend on `cake-catalog`, whose generated code it writes), checks every
//! rule the catalog relies on, and renders the two outputs. In check mode it compares instead
//! of writing and fails on any difference.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use anyhow::{bail, ensure, Context, Result};
use cake_spec::{ColumnSpec, Spec, Ty};

pub const SPEC_DIR: &str = "crates/cake-catalog/spec";
pub const GENERATED_RS: &str = "crates/cake-catalog/src/generated.rs";
pub const REPORTS_MD: &str = "docs/reports.md";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Write,
    Check,
}

/// Runs the generator from the workspace root: the catalog and `docs/reports.md` from the specs,
/// and every spec file in the one layout `cake-spec` writes (so that a file read and written
/// again is unchanged, and a spec `verify` writes looks like the committed ones).
pub fn run(root: &Path, mode: Mode) -> Result<()> {
    let specs = load_specs(&root.join(SPEC_DIR))?;
    let rust = rustfmt(&render_rust(crate::options::table()?, &specs))?;
    let markdown = render_markdown(&specs);
    let mut outputs = vec![
        (PathBuf::from(GENERATED_RS), rust),
        (PathBuf::from(REPORTS_MD), markdown),
    ];
    outputs.extend(
        canonical_specs(&root.join(SPEC_DIR))?
            .into_iter()
            .map(|(path, text)| {
                let rel = path
                    .strip_prefix(root)
                    .map(Path::to_path_buf)
                    .unwrap_or(path);
                (rel, text)
            }),
    );
    let mut stale = Vec::new();
    for (rel, contents) in outputs {
        let path = root.join(&rel);
        let current = std::fs::read_to_string(&path).unwrap_or_default();
        if normalize(&current) == normalize(&contents) {
            continue;
        }
        match mode {
            Mode::Write => {
                std::fs::write(&path, contents)
                    .with_context(|| format!("cannot write {}", path.display()))?;
                eprintln!("updated {}", rel.display());
            }
            Mode::Check => stale.push(rel.display().to_string()),
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

/// Every spec file of `dir` with its text in the canonical layout.
fn canonical_specs(dir: &Path) -> Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_none_or(|x| x != "toml") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("cannot read {}", path.display()))?;
        let spec = cake_spec::parse_spec(&path, &text)?;
        out.push((path, spec.to_toml(&[])));
    }
    out.sort();
    Ok(out)
}

fn normalize(s: &str) -> String {
    s.replace("\r\n", "\n")
}

// ---------------------------------------------------------------------------------------------
// Spec files: read and checked by `cake-spec`.

/// The Rust variant of the menu `key`, from the options table.
fn menu_variant(key: &str) -> Option<&'static str> {
    crate::options::table()
        .ok()?
        .menu(key)
        .map(|m| m.variant.as_str())
}

/// Reads and checks every spec in `dir`, sorted by display name.
pub fn load_specs(dir: &Path) -> Result<Vec<Spec>> {
    Ok(cake_spec::load_specs(dir, crate::options::table()?)?)
}

/// The Rust of a column type; struct fields live in the constant `fields`.
fn ty_rust(ty: &Ty, fields: &str) -> String {
    match ty {
        Ty::Bool => "ColumnType::Bool".into(),
        Ty::Int32 => "ColumnType::Int32".into(),
        Ty::Int64 => "ColumnType::Int64".into(),
        Ty::Decimal(p, s) => format!("ColumnType::Decimal {{ precision: {p}, scale: {s} }}"),
        Ty::Utf8 => "ColumnType::Utf8".into(),
        Ty::Timestamp => "ColumnType::Timestamp".into(),
        Ty::Date => "ColumnType::Date".into(),
        Ty::Json => "ColumnType::Json".into(),
        Ty::Struct => format!("ColumnType::Struct({fields})"),
        Ty::List(inner) => format!("ColumnType::List(&{})", ty_rust(inner, fields)),
    }
}

/// Arrow's own text for the type (kept equal to `ColumnType::arrow_name` by a test).
fn ty_arrow(ty: &Ty, fields: &[ColumnSpec]) -> String {
    match ty {
        Ty::Bool => "Boolean".into(),
        Ty::Int32 => "Int32".into(),
        Ty::Int64 => "Int64".into(),
        Ty::Decimal(p, s) => format!("Decimal128({p}, {s})"),
        Ty::Utf8 | Ty::Json => "Utf8".into(),
        Ty::Timestamp => "Timestamp(µs, \"UTC\")".into(),
        Ty::Date => "Date32".into(),
        Ty::Struct => {
            let inner: Vec<String> = fields
                .iter()
                .map(|f| {
                    let ty = Ty::parse(&f.ty).unwrap_or(Ty::Utf8);
                    format!("\"{}\": {}", f.name(), ty_arrow(&ty, &f.fields))
                })
                .collect();
            format!("Struct({})", inner.join(", "))
        }
        Ty::List(inner) => format!("List({})", ty_arrow(inner, fields)),
    }
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

/// The constant `konst` holding `columns`, and before it one constant per `list<struct>`
/// column holding its fields (`<KONST>_<COLUMN>`), nested as deep as the columns are.
fn render_columns(out: &mut String, konst: &str, columns: &[ColumnSpec]) {
    let mut lines = Vec::new();
    for c in columns {
        let fields = format!("{konst}_{}", c.name().to_uppercase());
        if !c.fields.is_empty() {
            render_columns(out, &fields, &c.fields);
        }
        let path = |p: &str| {
            let segs: Vec<String> = p.split('/').map(lit).collect();
            format!("&[{}]", segs.join(", "))
        };
        // Checked by `cake_spec::check_spec`.
        let ty = Ty::parse(&c.ty)
            .map(|t| ty_rust(&t, &fields))
            .unwrap_or_default();
        let mut line = format!(
            "Column::new({}, {}, {ty}, {})",
            lit(c.name()),
            path(&c.path),
            c.nullable()
        );
        if !c.also.is_empty() {
            let also: Vec<String> = c.also.iter().map(|a| path(a)).collect();
            let _ = write!(line, ".also(&[{}])", also.join(", "));
        }
        if c.personal() {
            line.push_str(".personal()");
        }
        lines.push(line);
    }
    let _ = writeln!(out, "const {konst}: &[Column] = &[");
    for line in lines {
        let _ = writeln!(out, "{line},");
    }
    out.push_str("];\n\n");
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
        render_columns(out, &format!("{name}_COLUMNS"), &s.response.columns);
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
    let secret: Vec<String> = r.secret.iter().map(|x| lit(x)).collect();
    let unmapped: Vec<String> = r.unmapped.iter().map(|x| lit(x)).collect();
    let _ = writeln!(
        out,
        "response: ResponseShape {{ root: {}, collection: {}, row: {}, envelope: {}, secret: &[{}], unmapped: &[{}] }},",
        lit(&r.root),
        opt_lit(r.collection.as_deref()),
        lit(&r.row),
        r.envelope,
        secret.join(", "),
        unmapped.join(", ")
    );
    // Reports that share a row shape (`columns_from`) share one column table.
    let columns_of = s.response.columns_from.as_deref().unwrap_or(&s.id);
    let _ = writeln!(out, "columns: {}_COLUMNS,", const_name(columns_of));
    let pk: Vec<String> = s.primary_key.iter().map(|k| lit(k)).collect();
    let _ = writeln!(out, "primary_key: &[{}],", pk.join(", "));
    let _ = writeln!(out, "date_field: {},", opt_lit(s.date_field.as_deref()));
    let _ = writeln!(
        out,
        "date_end_field: {},",
        opt_lit(s.date_end_field.as_deref())
    );
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
         endpoint, every parameter sent (in order; `0` means \"all\" for ids, empty means \
         \"all\" for text; as children of the method element in a SOAP 1.2 POST to the service, \
         the default, or in the query string of an HTTP GET with `--protocol get`), the options that apply to it, and its typed columns. \
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
        let _ = writeln!(
            out,
            "- Endpoint: `POST /api/{}/{}.asmx` (SOAP 1.2, method `{}`), or `GET {}`",
            s.endpoint.version,
            s.endpoint.service,
            s.endpoint.method,
            endpoint_path(s)
        );
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
        if !r.secret.is_empty() {
            let _ = writeln!(
                out,
                "- Never kept (secrets, counted where they occur): {}",
                code_list(&r.secret)
            );
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
        if let Some(d) = &s.date_end_field {
            let _ = writeln!(
                out,
                "- Period end: `{d}` (a row belongs to every window its period overlaps)"
            );
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
        markdown_columns(&mut out, &r.columns, "", "");
        out.push('\n');
    }
    out
}

/// One table row per column, then, for a `list<struct>` column, one per field (`column.field`,
/// its path below the repeated element).
fn markdown_columns(
    out: &mut String,
    columns: &[ColumnSpec],
    name_prefix: &str,
    path_prefix: &str,
) {
    for c in columns {
        let ty = Ty::parse(&c.ty)
            .map(|t| ty_arrow(&t, &c.fields))
            .unwrap_or_default();
        let mut path = format!("{path_prefix}{}", c.path);
        for also in &c.also {
            let _ = write!(path, "` or `{path_prefix}{also}");
        }
        let note = if c.personal() {
            " (personal: read with `--include-personal-data`)"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "| `{name_prefix}{}` | {}{note} | {} | `{path}` |",
            c.name(),
            md_cell(&ty),
            if c.nullable() { "yes" } else { "no" },
        );
        if !c.fields.is_empty() {
            markdown_columns(
                out,
                &c.fields,
                &format!("{name_prefix}{}.", c.name()),
                &format!("{path_prefix}{}/", c.path),
            );
        }
    }
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
