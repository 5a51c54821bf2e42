//! `convert`: saved Cake responses (GET or SOAP form; plain, gzip or zstd) to Parquet, with the
//! report's schema, decoded on one thread and encoded on another (`cake_pipeline::convert_file`).
//!
//! `--out x.parquet` writes every input into one file; `--out DIR` (an existing directory, or a
//! path without `.parquet`) writes `<input stem>.parquet` per input. Output appears only when
//! every input decoded: a single file is committed by its atomic rename; per-input files are
//! staged under hidden names and renamed into place at the end. On any error nothing new is
//! left in the output location.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use cake_core::failure::Class;

use crate::exit::{Result, WhileDoing};
use cake_arrow::{DecodeSummary, DecoderOptions};
use cake_catalog::Report;
use cake_sink::{ParquetFile, WriteOptions};

use crate::cli::ConvertArgs;
use crate::exit::UsageError;

pub fn run(args: &ConvertArgs) -> Result<String> {
    let report = crate::args::report(&args.report)?;
    let timezone = crate::args::timezone(&args.timezone)?;
    // Archives hold responses of older API versions: they are read by element name, unless
    // strict mode refuses them.
    let options = DecoderOptions {
        other_versions: !args.decode.strict,
        ..args.decode.options(timezone)
    };
    let plan = OutputPlan::new(&args.out, &args.files)?;
    if !args.force {
        let existing: Vec<PathBuf> = match &plan {
            OutputPlan::Single(path) => vec![path.clone()],
            OutputPlan::PerInput(dir) => args
                .files
                .iter()
                .map(|input| dir.join(format!("{}.parquet", stem(input))))
                .collect(),
        }
        .into_iter()
        .filter(|p| p.exists())
        .collect();
        if let Some(first) = existing.first() {
            return Err(UsageError::new(format!(
                "{} exists already{}: give another --out, or --force to replace it",
                first.display(),
                match existing.len() {
                    1 => String::new(),
                    n => format!(" (and {} more output files)", n - 1),
                }
            ))
            .into());
        }
    }
    let mut totals = Totals::default();
    match plan {
        OutputPlan::Single(path) => {
            let metadata = metadata(report, &args.timezone, &args.files);
            let mut out =
                ParquetFile::create(&path, cake_arrow::schema(report), write_options(metadata))?;
            for input in &args.files {
                let summary = convert_one(report, options, input, &mut out)?;
                totals.add(input, &path, summary);
            }
            out.finish()?;
        }
        OutputPlan::PerInput(dir) => {
            let mut staged = Staged::default();
            if !dir.exists() {
                std::fs::create_dir_all(&dir).doing(Class::Output, || {
                    format!("cannot create the output directory {}", dir.display())
                })?;
                staged.created_dir = Some(dir.clone());
            }
            for input in &args.files {
                let target = dir.join(format!("{}.parquet", stem(input)));
                let stage = dir.join(format!(
                    ".{}.convert-{}.tmp",
                    stem(input),
                    std::process::id()
                ));
                let metadata = metadata(report, &args.timezone, std::slice::from_ref(input));
                let mut out = ParquetFile::create(
                    &stage,
                    cake_arrow::schema(report),
                    write_options(metadata),
                )?;
                staged.files.push((stage.clone(), target.clone()));
                let summary = convert_one(report, options, input, &mut out)?;
                out.finish()?;
                totals.add(input, &target, summary);
            }
            staged.commit()?;
        }
    }
    Ok(totals.render(report))
}

/// Streams one saved response into `out`: decoded on this thread while the file's encoder
/// thread encodes the previous batches (`cake_pipeline::convert_file`).
fn convert_one(
    report: &'static Report,
    options: DecoderOptions,
    input: &Path,
    out: &mut ParquetFile,
) -> Result<DecodeSummary> {
    Ok(cake_pipeline::convert_file(report, options, input, out)?)
}

fn write_options(metadata: Vec<(String, String)>) -> WriteOptions {
    WriteOptions {
        metadata,
        ..WriteOptions::default()
    }
}

fn metadata(report: &Report, timezone: &str, inputs: &[PathBuf]) -> Vec<(String, String)> {
    let sources: Vec<String> = inputs.iter().map(|p| file_name(p)).collect();
    cake_pipeline::metadata::convert_metadata(report, timezone, &sources)
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| p.display().to_string())
}

/// The input's name without `.zst` or `.gz` and `.xml` (`page-00001.xml.zst` gives
/// `page-00001`).
fn stem(p: &Path) -> String {
    let name = p
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "response".into());
    let name = name
        .strip_suffix(".zst")
        .or_else(|| name.strip_suffix(".gz"))
        .unwrap_or(&name);
    let name = name
        .strip_suffix(".xml")
        .or_else(|| name.strip_suffix(".txt"))
        .or_else(|| name.strip_suffix(".html"))
        .unwrap_or(name);
    if name.is_empty() {
        "response".into()
    } else {
        name.to_string()
    }
}

enum OutputPlan {
    Single(PathBuf),
    PerInput(PathBuf),
}

impl OutputPlan {
    fn new(out: &Path, inputs: &[PathBuf]) -> Result<OutputPlan> {
        let is_parquet = out
            .extension()
            .is_some_and(|e| e.eq_ignore_ascii_case("parquet"));
        if is_parquet && !out.is_dir() {
            let folder = out.parent().filter(|p| !p.as_os_str().is_empty());
            if let Some(folder) = folder.filter(|f| !f.exists()) {
                return Err(UsageError::new(format!(
                    "the folder {} of --out does not exist: create it first (mkdir -p {}) \
                     or fix the path",
                    folder.display(),
                    folder.display()
                ))
                .into());
            }
            return Ok(OutputPlan::Single(out.to_path_buf()));
        }
        if out.exists() && !out.is_dir() {
            return Err(UsageError::new(format!(
                "--out {} exists and is not a directory: name a `.parquet` file or a directory",
                out.display()
            ))
            .into());
        }
        let mut seen = BTreeSet::new();
        for input in inputs {
            if !seen.insert(stem(input)) {
                return Err(UsageError::new(format!(
                    "two inputs would both be written to {}.parquet in {}: rename one, or write \
                     all inputs into one file with --out FILE.parquet",
                    stem(input),
                    out.display()
                ))
                .into());
            }
        }
        Ok(OutputPlan::PerInput(out.to_path_buf()))
    }
}

/// Per-input files written under hidden names, renamed into place once all succeeded, removed
/// otherwise (with the output directory, when this run created it and it is empty).
#[derive(Default)]
struct Staged {
    files: Vec<(PathBuf, PathBuf)>,
    /// The output directory, when this run created it.
    created_dir: Option<PathBuf>,
    committed: bool,
}

impl Staged {
    fn commit(mut self) -> Result<()> {
        for (stage, target) in &self.files {
            std::fs::rename(stage, target).doing(Class::Output, || {
                format!("cannot move the output into place at {}", target.display())
            })?;
        }
        self.committed = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.committed {
            for (stage, _) in &self.files {
                let _ = std::fs::remove_file(stage);
            }
            if let Some(dir) = &self.created_dir {
                // Only when empty: nothing else is ever removed.
                let _ = std::fs::remove_dir(dir);
            }
        }
    }
}

#[derive(Default)]
struct Totals {
    lines: Vec<String>,
    rows: u64,
    stripped: u64,
    unknown: cake_arrow::UnknownElements,
    withheld: BTreeMap<String, u64>,
    rejected: BTreeMap<String, cake_arrow::Rejected>,
    outputs: BTreeSet<PathBuf>,
    /// Notes on single inputs: another layout.
    notes: Vec<String>,
    /// Inputs of another API version than the catalog's, with their version.
    versions: Vec<(String, u16)>,
}

impl Totals {
    fn add(&mut self, input: &Path, output: &Path, summary: DecodeSummary) {
        self.lines.push(format!(
            "  {} -> {}: {} rows",
            input.display(),
            output.display(),
            summary.rows
        ));
        self.rows += summary.rows;
        self.stripped += summary.stripped_control_chars;
        if let Some(version) = summary.version {
            self.versions.push((input.display().to_string(), version));
        }
        if let Some(layout) = &summary.layout {
            self.notes.push(format!("{}: {layout}", input.display()));
        }
        self.unknown.merge(&summary.unknown);
        for (k, v) in summary.withheld {
            *self.withheld.entry(k).or_default() += v;
        }
        for (column, r) in summary.rejected {
            self.rejected
                .entry(column)
                .and_modify(|t| t.count += r.count)
                .or_insert(r);
        }
        self.outputs.insert(output.to_path_buf());
    }

    fn render(&self, report: &Report) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "converted {} file(s) of {} into {} Parquet file(s): {} rows",
            self.lines.len(),
            report.id,
            self.outputs.len(),
            self.rows
        );
        for line in &self.lines {
            let _ = writeln!(out, "{line}");
        }
        for (input, version) in &self.versions {
            let _ = writeln!(
                out,
                "warning: {input} is a response of API version {version}; the catalog reads \
                 version {}: elements of the same name are typed, the others kept in _extra \
                 (--strict refuses it)",
                report.endpoint.version
            );
        }
        for note in &self.notes {
            let _ = writeln!(out, "warning: {note}");
        }
        if self.stripped > 0 {
            let _ = writeln!(
                out,
                "stripped control characters (forbidden in XML): {}",
                self.stripped
            );
        }
        if !self.withheld.is_empty() {
            let _ = writeln!(
                out,
                "withheld (secrets never kept; personal data without --include-personal-data):"
            );
            for (name, n) in &self.withheld {
                let _ = writeln!(out, "  {name}: {n}");
            }
        }
        if !self.unknown.is_empty() {
            let _ = writeln!(
                out,
                "elements not in the catalog (kept in _extra when inside a row; --strict refuses \
                 them): {}",
                self.unknown.describe(20)
            );
        }
        if !self.rejected.is_empty() {
            let _ = writeln!(
                out,
                "values that did not fit their column (cells null, values kept in _rejected; --strict refuses them):"
            );
            for (column, r) in &self.rejected {
                let _ = writeln!(
                    out,
                    "  {column}: {} (e.g. {:?}: {})",
                    r.count, r.example, r.reason
                );
            }
        }
        out
    }
}
