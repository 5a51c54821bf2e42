//! The decode benchmark (`cargo xtask bench decode`): writes a Clicks response of at least
//! 150 MB (`BENCH_MB` or the first argument sets the size) to a temporary file, then measures,
//! each phase in its own child process so that peak memory (`VmHWM`) is per phase, on one
//! thread and streaming from the file:
//!
//! 1. raw: quick-xml's event scan, reading every event and decoding every text (the limit);
//! 2. decode: the decoder to Arrow record batches;
//! 3. convert: the decoder into a zstd Parquet file, the path `cake-connector convert` takes.
//!
//! It prints MB/s, rows/s, peak RSS per phase and the convert/raw ratio. Each phase runs
//! `BENCH_RUNS` times (default 3), taking turns, and the best time is shown: other processes
//! on the machine only ever slow a run down. `--write FILE MB` writes only the input, and
//! `--phase raw|decode|convert FILE` runs one phase, for profiling.

#[path = "common/clicks.rs"]
mod clicks;

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::Path;
use std::process::Command;
use std::time::Instant;

use cake_arrow::{decode_reader, DecodeError, DecoderOptions};
use cake_sink::{ParquetFile, WriteOptions};

const READ_BUFFER: usize = 256 << 10;

type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--phase") {
        let (phase, file) = (args[1].as_str(), Path::new(&args[2]));
        return run_phase(phase, file);
    }
    if args.first().map(String::as_str) == Some("--write") {
        // `--write FILE MB`: only the input, to profile a phase on it.
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&args[1])?);
        clicks::write_response(&mut out, args[2].parse::<u64>()? << 20, 42)?;
        out.flush()?;
        return Ok(());
    }
    let mb: u64 = match args.first() {
        Some(a) => a.parse()?,
        None => std::env::var("BENCH_MB")
            .ok()
            .map(|v| v.parse())
            .transpose()?
            .unwrap_or(150),
    };
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("clicks.xml");
    let started = Instant::now();
    let (rows, bytes) = {
        let mut out = BufWriter::with_capacity(1 << 20, File::create(&path)?);
        let written = clicks::write_response(&mut out, mb << 20, 42)?;
        out.flush()?;
        written
    };
    println!(
        "input: Clicks v12 GET response, {:.1} MB ({bytes} bytes), {rows} rows, {:.0} bytes/row \
         (generated in {:.1} s)",
        bytes as f64 / 1e6,
        bytes as f64 / rows as f64,
        started.elapsed().as_secs_f64()
    );
    println!(
        "{:<9} {:>9} {:>10} {:>12} {:>13}",
        "phase", "seconds", "MB/s", "rows/s", "peak RSS MiB"
    );
    println!("(best of BENCH_RUNS runs per phase, default 3, one process per run, one thread)");
    let exe = std::env::current_exe()?;
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(3)
        .max(1);
    let phases = ["raw", "decode", "convert"];
    // (best seconds, rows, highest peak KiB) per phase; the phases take turns in each round.
    let mut results = [(f64::MAX, 0.0, 0.0); 3];
    for _ in 0..runs {
        for (i, phase) in phases.iter().enumerate() {
            let [seconds, phase_rows, hwm_kib] = run_child(&exe, phase, &path)?;
            let r = &mut results[i];
            r.0 = r.0.min(seconds);
            r.1 = phase_rows;
            r.2 = f64::max(r.2, hwm_kib);
        }
    }
    let mut rates = Vec::new();
    for (phase, (seconds, phase_rows, hwm_kib)) in phases.iter().zip(results) {
        let mbps = bytes as f64 / 1e6 / seconds;
        let rows_per_s = if phase_rows > 0.0 {
            phase_rows / seconds
        } else {
            rows as f64 / seconds
        };
        println!(
            "{phase:<9} {seconds:>9.2} {mbps:>10.1} {rows_per_s:>12.0} {:>13.1}",
            hwm_kib / 1024.0
        );
        rates.push(mbps);
    }
    println!(
        "decode/raw: {:.0}%   convert/raw: {:.0}% (target >= 60%)",
        100.0 * rates[1] / rates[0],
        100.0 * rates[2] / rates[0]
    );
    Ok(())
}

/// Runs a phase in a child process: `[seconds, rows, peak RSS KiB]`.
fn run_child(exe: &Path, phase: &str, file: &Path) -> Result<[f64; 3]> {
    let out = Command::new(exe)
        .args(["--phase", phase])
        .arg(file)
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "phase {phase} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let line = String::from_utf8(out.stdout)?;
    let fields: Vec<f64> = line
        .split_whitespace()
        .map(|f| f.parse::<f64>())
        .collect::<std::result::Result<_, _>>()?;
    <[f64; 3]>::try_from(fields).map_err(|_| format!("unexpected phase output {line:?}").into())
}

/// Runs one phase over `file` and prints `seconds rows peak_rss_kib`.
fn run_phase(phase: &str, file: &Path) -> Result<()> {
    let report = cake_catalog::find("clicks")?;
    let reader = BufReader::with_capacity(READ_BUFFER, File::open(file)?);
    let started = Instant::now();
    let rows = match phase {
        "raw" => {
            raw_scan(reader)?;
            0
        }
        "decode" => {
            let mut rows = 0u64;
            decode_reader(report, DecoderOptions::default(), reader, |batch| {
                rows += batch.num_rows() as u64;
                std::hint::black_box(batch);
                Ok::<(), DecodeError>(())
            })?;
            rows
        }
        "convert" => {
            let dir = tempfile::tempdir()?;
            let out_path = dir.path().join("clicks.parquet");
            let mut out = ParquetFile::create(
                &out_path,
                cake_arrow::schema(report),
                WriteOptions::default(),
            )?;
            let summary = decode_reader(report, DecoderOptions::default(), reader, |batch| {
                out.write(&batch)
                    .map_err(|e| Box::new(e) as Box<dyn std::error::Error>)
            })
            .map_err(|e| e.to_string())?;
            out.finish()?;
            summary.rows
        }
        other => return Err(format!("unknown phase {other}").into()),
    };
    let seconds = started.elapsed().as_secs_f64();
    println!("{seconds} {rows} {}", peak_rss_kib());
    Ok(())
}

/// quick-xml's streaming event loop over the same input: every event read, every text and
/// reference decoded, nothing else.
fn raw_scan(reader: impl std::io::BufRead) -> Result<()> {
    use quick_xml::events::Event;
    let mut xml = quick_xml::Reader::from_reader(reader);
    let mut buf = Vec::with_capacity(64 << 10);
    let mut text_bytes = 0usize;
    let mut elements = 0usize;
    loop {
        match xml.read_event_into(&mut buf)? {
            Event::Start(e) | Event::Empty(e) => {
                elements += e.local_name().as_ref().len();
            }
            Event::Text(t) => text_bytes += t.xml10_content().len(),
            Event::CData(t) => text_bytes += t.xml10_content().len(),
            Event::GeneralRef(r) => {
                let name: &str = &r;
                text_bytes += match r.resolve_char_ref()? {
                    Some(c) => c.len_utf8(),
                    None => name.len(),
                };
            }
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    std::hint::black_box((text_bytes, elements));
    Ok(())
}

fn peak_rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}
