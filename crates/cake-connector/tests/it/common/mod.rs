//! Shared by the reliability tests: a sandbox on its own runtime, the binary as a child process,
//! the rows of an output location as sorted text, and the checks that a location is
//! consistent (every visible file complete, every partition matching its manifest, state never
//! ahead of the data).

#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use arrow_cast::display::{ArrayFormatter, FormatOptions};
use arrow_schema::DataType;
use cake_sandbox::{Faults, Sandbox, SandboxConfig, Stats};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};

pub const BIN: &str = env!("CARGO_BIN_EXE_cake-connector");

/// A sandbox serving on a runtime of its own, so the test itself stays synchronous and the
/// binary under test is a separate process.
pub struct Server {
    runtime: tokio::runtime::Runtime,
    sandbox: Option<Sandbox>,
}

impl Server {
    pub fn start(config: SandboxConfig) -> Server {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let sandbox = runtime.block_on(Sandbox::start(config)).unwrap();
        Server {
            runtime,
            sandbox: Some(sandbox),
        }
    }

    fn sandbox(&self) -> &Sandbox {
        self.sandbox.as_ref().unwrap()
    }

    pub fn url(&self) -> String {
        self.sandbox().url()
    }

    /// New faults, counters at zero and attempt numbers forgotten (fresh fault draws).
    pub fn faults(&self, faults: Faults) {
        self.sandbox().set_faults(faults);
        self.sandbox().reset_stats();
    }

    pub fn stats(&self) -> Stats {
        self.sandbox().stats()
    }

    /// Every request received since the last `faults` as it came: method, path, whether the
    /// URL carried the key, content type.
    pub fn request_log(&self) -> Vec<cake_sandbox::RequestSeen> {
        self.sandbox().request_log()
    }

    /// Every request received since the last `faults`, as path and query without `api_key`.
    pub fn requests_seen(&self) -> Vec<String> {
        self.sandbox().requests_seen()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(s) = self.sandbox.take() {
            self.runtime.block_on(s.shutdown());
        }
    }
}

/// A finished run of the binary.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The last `error:` message of stderr (the verdict) as one line: the lines it was
    /// wrapped into at 80 columns joined again; an empty string when there is none.
    pub fn verdict(&self) -> String {
        self.error_block()
            .split("\n  ")
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// The last `error:` message of stderr as printed: its first line and the indented lines
    /// that continue it.
    pub fn error_block(&self) -> String {
        let lines: Vec<&str> = self.stderr.lines().collect();
        let Some(start) = lines.iter().rposition(|l| l.starts_with("error:")) else {
            return String::new();
        };
        let end = lines[start + 1..]
            .iter()
            .position(|l| !l.starts_with("  "))
            .map_or(lines.len(), |n| start + 1 + n);
        lines[start..end].join("\n")
    }
}

/// The binary with a clean environment: none of the `CAKE_*` variables of the caller,
/// `RUST_BACKTRACE=full`, so that a backtrace reaching a user would show in every test, and
/// a terminal 1,000 columns wide, so that messages compare whole (the tests of the width,
/// `width.rs` and `mistakes.rs`, remove `COLUMNS`: 80 columns).
pub fn command(args: &[&str]) -> Command {
    let mut c = Command::new(BIN);
    c.args(args)
        .env("COLUMNS", "1000")
        .env_remove("CAKE_API_KEY")
        .env_remove("CAKE_API_KEY_FILE")
        .env_remove("CAKE_DOMAIN")
        .env_remove("CAKE_TIMEZONE")
        .env_remove("CAKE_LOG")
        .env("RUST_BACKTRACE", "full")
        .stdin(Stdio::null());
    c
}

pub fn finished(out: Output) -> Run {
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs a command to its end and returns it with the peak resident memory of the process, in
/// bytes: the last high-water mark (`VmHWM` in `/proc/<pid>/status`) read while it ran,
/// polled every few milliseconds. (`wait4`'s `ru_maxrss` would also count this test process:
/// a child started with `vfork` carries its parent's high-water mark through `exec`.)
pub fn run_measured(mut c: Command) -> (Run, u64) {
    let mut child = c
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let out = std::thread::spawn(move || {
        let mut v = Vec::new();
        out.read_to_end(&mut v).unwrap();
        v
    });
    let err = std::thread::spawn(move || {
        let mut v = Vec::new();
        err.read_to_end(&mut v).unwrap();
        v
    });
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0u64;
    let status = loop {
        if let Ok(text) = fs::read_to_string(&status_file) {
            let hwm = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok());
            if let Some(kib) = hwm {
                peak = peak.max(kib * 1024);
            }
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        std::thread::sleep(std::time::Duration::from_millis(3));
    };
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.join().unwrap()).into_owned(),
        stderr: String::from_utf8_lossy(&err.join().unwrap()).into_owned(),
    };
    (run, peak)
}

/// Runs the binary to the end with `env` added.
pub fn run(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut c = command(args);
    for (k, v) in env {
        c.env(k, v);
    }
    finished(c.output().expect("the binary runs"))
}

pub fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Visible entries of a directory: names not starting with `_` or `.`, sorted.
fn visible(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = match fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().path())
            .filter(|p| {
                let name = p.file_name().unwrap().to_string_lossy();
                !name.starts_with('_') && !name.starts_with('.')
            })
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Every row of one Parquet file, each as one line of text (columns separated by U+001F,
/// nulls as `∅`).
pub fn parquet_rows(path: &Path) -> Result<Vec<String>, String> {
    parquet_rows_except(path, &[])
}

/// Like [`parquet_rows`], without the columns named in `skip`.
pub fn parquet_rows_except(path: &Path, skip: &[&str]) -> Result<Vec<String>, String> {
    let file = fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let reader = ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(|e| format!("{}: the footer does not read: {e}", path.display()))?
        .build()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let options = FormatOptions::default().with_null("∅");
    let mut rows = Vec::new();
    for batch in reader {
        let batch =
            batch.map_err(|e| format!("{}: a row group does not read: {e}", path.display()))?;
        // Timestamps as their UTC microseconds: formatting a zone needs arrow's chrono-tz.
        let schema = batch.schema();
        let plain: Vec<arrow_array::ArrayRef> = batch
            .columns()
            .iter()
            .zip(schema.fields())
            .filter(|(_, f)| !skip.contains(&f.name().as_str()))
            .map(|(c, _)| match c.data_type() {
                DataType::Timestamp(_, Some(_)) => {
                    arrow_cast::cast::cast(c.as_ref(), &DataType::Int64).unwrap()
                }
                _ => c.clone(),
            })
            .collect();
        let columns: Vec<ArrayFormatter> = plain
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for i in 0..batch.num_rows() {
            let cells: Vec<String> = columns.iter().map(|f| f.value(i).to_string()).collect();
            rows.push(cells.join("\u{1f}"));
        }
    }
    Ok(rows)
}

/// Every row of a table (all visible Parquet files below `<out>/<table>`, prefixed with their
/// partition directory), sorted.
pub fn table_rows(out: &Path, table: &str) -> Vec<String> {
    table_rows_except(out, table, &[])
}

/// Like [`table_rows`], without the columns named in `skip`.
pub fn table_rows_except(out: &Path, table: &str, skip: &[&str]) -> Vec<String> {
    fn walk(dir: &Path, prefix: &str, skip: &[&str], rows: &mut Vec<String>) {
        for p in visible(dir) {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                walk(&p, &format!("{prefix}{name}/"), skip, rows);
            } else if name.ends_with(".parquet") {
                for r in parquet_rows_except(&p, skip).unwrap() {
                    rows.push(format!("{prefix}\u{1e}{r}"));
                }
            }
        }
    }
    let mut rows = Vec::new();
    walk(&out.join(table), "", skip, &mut rows);
    rows.sort();
    rows
}

/// SHA-256 of sorted rows, short, for messages and the docs.
pub fn rows_hash(rows: &[String]) -> String {
    let mut h = Sha256::new();
    for r in rows {
        h.update(r.as_bytes());
        h.update(b"\n");
    }
    hex::encode(h.finalize())[..16].to_string()
}

/// Every file and directory below `dir` (hidden ones too) with its bytes: two equal trees are
/// byte-identical outputs. The run log `_runs/` is left out: it records failed runs too, by design,
/// and holds no table data.
pub fn tree(dir: &Path) -> BTreeMap<String, Option<Vec<u8>>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Option<Vec<u8>>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries {
            let p = e.unwrap().path();
            let rel = p.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if p.is_dir() {
                out.insert(format!("{rel}/"), None);
                walk(root, &p, out);
            } else {
                out.insert(rel, Some(fs::read(&p).unwrap()));
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out.retain(|path, _| !path.starts_with("_runs/"));
    out
}

/// Copies a directory tree.
pub fn copy_tree(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        let target = to.join(p.file_name().unwrap());
        if p.is_dir() {
            copy_tree(&p, &target);
        } else {
            fs::copy(&p, &target).unwrap();
        }
    }
}

fn sha256_file(path: &Path) -> String {
    hex::encode(Sha256::digest(fs::read(path).unwrap()))
}

/// What a consistent location holds.
#[derive(Debug, Default)]
pub struct Consistent {
    /// Committed partitions, as `table/partition` (or `table` for snapshots).
    pub partitions: BTreeSet<String>,
    pub files: usize,
    /// Table contracts (`_table.json`) found, each whole JSON.
    pub contracts: usize,
}

/// Checks the invariants a reader relies on, whatever moment a writer was stopped at:
/// - below each table, every directory that holds anything visible holds a `_SUCCESS`
///   manifest listing exactly its Parquet files, with matching sizes, rows and SHA-256, and
///   nothing else (no temporary or partial file);
/// - every Parquet file opens, its footer reads and all its rows decode.
pub fn check_location(out: &Path, tables: &[&str]) -> Result<Consistent, String> {
    let mut found = Consistent::default();
    for table in tables {
        check_dir(out, &out.join(table), &mut found)?;
    }
    Ok(found)
}

fn check_dir(out: &Path, dir: &Path, found: &mut Consistent) -> Result<(), String> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    let mut files = BTreeSet::new();
    for e in entries {
        let p = e.unwrap().path();
        if p.is_dir() {
            check_dir(out, &p, found)?;
        } else {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            // The table's contract sits at its root, beside partitions or files.
            if name == "_table.json" {
                serde_json::from_slice::<serde_json::Value>(&fs::read(&p).unwrap())
                    .map_err(|e| format!("{} is not whole JSON: {e}", p.display()))?;
                found.contracts += 1;
                continue;
            }
            files.insert(name);
        }
    }
    if files.is_empty() {
        return Ok(());
    }
    let rel = dir.strip_prefix(out).unwrap().display().to_string();
    let manifest_path = dir.join("_SUCCESS");
    let manifest: serde_json::Value = serde_json::from_slice(
        &fs::read(&manifest_path).map_err(|_| format!("{rel} holds {files:?} but no _SUCCESS"))?,
    )
    .map_err(|e| format!("{rel}/_SUCCESS is not JSON: {e}"))?;
    let listed: BTreeMap<String, &serde_json::Value> = manifest["files"]
        .as_array()
        .ok_or_else(|| format!("{rel}/_SUCCESS has no files"))?
        .iter()
        .map(|f| (f["name"].as_str().unwrap_or_default().to_string(), f))
        .collect();
    let present: BTreeSet<String> = files.iter().filter(|f| *f != "_SUCCESS").cloned().collect();
    let names: BTreeSet<String> = listed.keys().cloned().collect();
    if present != names {
        return Err(format!(
            "{rel}: files {present:?} but the manifest lists {names:?}"
        ));
    }
    for (name, entry) in &listed {
        let path = dir.join(name);
        let sha = sha256_file(&path);
        if entry["sha256"].as_str() != Some(sha.as_str()) {
            return Err(format!("{rel}/{name}: SHA-256 differs from the manifest"));
        }
        if entry["bytes"].as_u64() != Some(fs::metadata(&path).unwrap().len()) {
            return Err(format!("{rel}/{name}: size differs from the manifest"));
        }
        let rows = parquet_rows(&path)?;
        if entry["rows"].as_u64() != Some(rows.len() as u64) {
            return Err(format!("{rel}/{name}: row count differs from the manifest"));
        }
        found.files += 1;
    }
    found.partitions.insert(rel);
    Ok(())
}

/// SplitMix64: a small seeded generator, so every random choice of a test is reproducible.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n`.
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 {
            0
        } else {
            self.next_u64() % n
        }
    }
}

/// Replaces what changes from run to run in a message (the sandbox's port, durations) with
/// fixed words, so it can be snapshot.
pub fn stable(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find("127.0.0.1:") {
        out.push_str(&rest[..i]);
        out.push_str("127.0.0.1:PORT");
        rest = rest[i + "127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    // "in 1.234567ms:" and "in 11.3s:" after "attempts".
    let words: Vec<String> = out
        .split(' ')
        .map(|w| {
            let core = w.trim_end_matches(':');
            let is_duration = core
                .strip_suffix("ms")
                .or_else(|| core.strip_suffix("µs"))
                .or_else(|| core.strip_suffix("ns"))
                .or_else(|| core.strip_suffix('s'))
                .is_some_and(|n| {
                    !n.is_empty() && n.chars().all(|c| c.is_ascii_digit() || c == '.')
                });
            if is_duration {
                format!("DURATION{}", &w[core.len()..])
            } else {
                w.to_string()
            }
        })
        .collect();
    words.join(" ")
}

/// Query strings vary with the window that failed first: the message keeps the endpoint.
pub fn without_queries(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(i) = rest.find('?') {
        out.push_str(&rest[..i]);
        out.push_str("?…");
        let end = rest[i..]
            .find(|c: char| c == ':' || c.is_whitespace())
            .map_or(rest.len(), |e| i + e);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

/// The outcome lines of a committed matrix snapshot (`it__<module>__<name>.snap`): every line
/// of the transcript but the indented messages, which name requests in one protocol's form.
pub fn committed_outcomes(module: &str, name: &str) -> Vec<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/it/snapshots")
        .join(format!("it__{module}__{name}.snap"));
    let text = std::fs::read_to_string(&path).unwrap();
    let body = text.splitn(3, "---\n").nth(2).unwrap_or_default();
    outcomes(body)
}

/// The outcome lines of a matrix transcript: every line but the indented messages.
pub fn outcomes(transcript: &str) -> Vec<String> {
    transcript
        .lines()
        .filter(|l| !l.starts_with("    ") && !l.is_empty())
        .map(str::to_string)
        .collect()
}
