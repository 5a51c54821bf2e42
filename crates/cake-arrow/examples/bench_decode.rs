//! The decode benchmark (`cargo xtask bench decode`): writes a Clicks response of at least
//! 150 MB (`BENCH_MB` or the first argument sets the size) to a temporary file, then measures,
//! each phase in its own child process so that peak memory (`VmHWM`) is per phase, streaming
//! from the file:
//!
//! 1. raw: quick-xml's event scan, reading every event and decoding every text (the limit), on
//!    one thread;
//! 2. decode@T: the decoder to Arrow record batches, on T threads (`DecoderOptions::threads`);
//! 3. convert-1: the decoder into a zstd Parquet file, decoding and encoding on one thread
//!    (`WriteOptions::encode_queue` 0);
//! 4. convert@T: the same, pipelined: decoding on T threads while the file's encoder thread
//!    encodes and compresses the previous batches (the default options; `BENCH_QUEUE` sets the
//!    queue's depth), the path `cake-connector convert` takes (`cake_pipeline::convert_file`).
//!
//! T sweeps `BENCH_THREADS` (default `1,2` and the machine's cores); `BENCH_BLOCK` sets
//! `DecoderOptions::block_bytes`. It prints MB/s, rows/s,
//! CPU time, peak RSS per phase and each phase's ratio to the raw scan of the same run. Each
//! phase runs `BENCH_RUNS` times (default 3), taking turns, and the best time is shown: other
//! processes on the machine only ever slow a run down. `--write FILE MB` writes only the
//! input, and `--phase raw|decode@T|convert-1|convert@T FILE` runs one phase, for profiling.

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
        "{:<10} {:>8} {:>10} {:>12} {:>9} {:>13} {:>8}",
        "phase", "seconds", "MB/s", "rows/s", "CPU s", "peak RSS MiB", "vs raw"
    );
    println!("(best of BENCH_RUNS runs per phase, default 3, one process per run)");
    let exe = std::env::current_exe()?;
    let runs: usize = std::env::var("BENCH_RUNS")
        .ok()
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(3)
        .max(1);
    let mut threads: Vec<usize> = match std::env::var("BENCH_THREADS") {
        Ok(v) => v
            .split(',')
            .map(|t| t.trim().parse())
            .collect::<std::result::Result<_, _>>()?,
        Err(_) => vec![
            1,
            2,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
        ],
    };
    threads.sort_unstable();
    threads.dedup();
    let mut phases = vec!["raw".to_string()];
    phases.extend(threads.iter().map(|t| format!("decode@{t}")));
    phases.push("convert-1".into());
    phases.extend(threads.iter().map(|t| format!("convert@{t}")));
    // (best seconds, rows, CPU seconds of the best run, highest peak KiB) per phase; the
    // phases take turns in each round.
    let mut results = vec![(f64::MAX, 0.0, 0.0, 0.0); phases.len()];
    for _ in 0..runs {
        for (i, phase) in phases.iter().enumerate() {
            let [seconds, phase_rows, cpu, hwm_kib] = run_child(&exe, phase, &path)?;
            let r = &mut results[i];
            if seconds < r.0 {
                r.0 = seconds;
                r.2 = cpu;
            }
            r.1 = phase_rows;
            r.3 = f64::max(r.3, hwm_kib);
        }
    }
    let raw_seconds = results[0].0;
    for (phase, (seconds, phase_rows, cpu, hwm_kib)) in phases.iter().zip(results) {
        let mbps = bytes as f64 / 1e6 / seconds;
        let rows_per_s = if phase_rows > 0.0 {
            phase_rows / seconds
        } else {
            rows as f64 / seconds
        };
        println!(
            "{phase:<10} {seconds:>8.2} {mbps:>10.1} {rows_per_s:>12.0} {cpu:>9.2} {:>13.1} {:>7.0}%",
            hwm_kib / 1024.0,
            100.0 * raw_seconds / seconds
        );
    }
    println!(
        "(the last column: speed against the raw scan; target for convert on 2 cores >= 120%)"
    );
    Ok(())
}

/// Runs a phase in a child process: `[seconds, rows, CPU seconds, peak RSS KiB]`.
fn run_child(exe: &Path, phase: &str, file: &Path) -> Result<[f64; 4]> {
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
    <[f64; 4]>::try_from(fields).map_err(|_| format!("unexpected phase output {line:?}").into())
}

/// Runs one phase over `file` and prints `seconds rows cpu_seconds peak_rss_kib`.
fn run_phase(phase: &str, file: &Path) -> Result<()> {
    let report = cake_catalog::find("clicks")?;
    let reader = BufReader::with_capacity(READ_BUFFER, File::open(file)?);
    let started = Instant::now();
    let cpu_before = cpu_seconds();
    let (phase, threads) = match phase.split_once('@') {
        Some((name, t)) => (name, t.parse::<usize>()?),
        None => (phase, 1),
    };
    let defaults = DecoderOptions::default();
    let decoder = DecoderOptions {
        threads,
        block_bytes: match std::env::var("BENCH_BLOCK") {
            Ok(v) => v.parse()?,
            Err(_) => defaults.block_bytes,
        },
        ..defaults
    };
    let rows = match phase {
        "raw" => {
            raw_scan(reader)?;
            0
        }
        "decode" => {
            let mut rows = 0u64;
            decode_reader(report, decoder, reader, |batch| {
                rows += batch.num_rows() as u64;
                std::hint::black_box(batch);
                Ok::<(), DecodeError>(())
            })?;
            rows
        }
        "convert-1" | "convert" => {
            let dir = tempfile::tempdir()?;
            let out_path = dir.path().join("clicks.parquet");
            let options = WriteOptions {
                encode_queue: if phase == "convert" {
                    match std::env::var("BENCH_QUEUE") {
                        Ok(v) => v.parse()?,
                        Err(_) => WriteOptions::default().encode_queue,
                    }
                } else {
                    0
                },
                ..WriteOptions::default()
            };
            let mut out = ParquetFile::create(&out_path, cake_arrow::schema(report), options)?;
            let summary = decode_reader(report, decoder, reader, |batch| {
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
    let cpu = cpu_seconds() - cpu_before;
    println!("{seconds} {rows} {cpu} {}", peak_rss_kib());
    Ok(())
}

/// User and system time of this process so far, all threads (ended ones included), from
/// `/proc/self/stat` (in clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            // The fields after the command name, which is in parentheses.
            let rest = s.rsplit_once(')')?.1;
            let fields: Vec<&str> = rest.split_whitespace().collect();
            let utime: f64 = fields.get(11)?.parse().ok()?;
            let stime: f64 = fields.get(12)?.parse().ok()?;
            Some((utime + stime) / 100.0)
        })
        .unwrap_or(0.0)
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
