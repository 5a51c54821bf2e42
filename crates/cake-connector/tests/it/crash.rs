//! Crash safety: `pull` and `sync` killed with SIGKILL at seeded random moments.
//!
//! After every kill, nothing partial is visible: every Parquet file outside `_staging` opens and
//! reads whole, every partition directory holds a `_SUCCESS` manifest that lists exactly its
//! files with matching SHA-256, raw responses are whole zstd streams, and sync state never
//! claims a day that is not committed. Then a rerun to completion gives exactly the rows of a
//! run that was never interrupted (sorted rows compared, every column). Half the runs start
//! from an empty location, half from a complete previous output (so kills land in replacing
//! commits too). The runs are slowed by sandbox latency and trickling so that kills land
//! mid-way.

use crate::common;

use std::io::Read;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use cake_sandbox::{Faults, SandboxConfig};
use chrono::NaiveDate;
use common::*;

const KEY: &str = "crash-test-key-0c4d2a91";
const RUNS: u64 = 20;

/// Faults that make a run last long enough to be killed in the middle, with retries.
fn slow() -> Faults {
    Faults {
        latency: Duration::from_millis(30),
        error_rate: 0.1,
        trickle: true,
        trickle_chunk: 4096,
        trickle_pause: Duration::from_millis(1),
        ..Faults::default()
    }
}

/// Raw responses are complete zstd streams (their checksums verified) without the key.
fn check_raw(out: &Path) -> Result<usize, String> {
    fn walk(dir: &Path, n: &mut usize) -> Result<(), String> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(());
        };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, n)?;
                continue;
            }
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with('.') {
                return Err(format!("a temporary file is visible: {}", p.display()));
            }
            let mut text = String::new();
            zstd::stream::read::Decoder::new(std::fs::File::open(&p).unwrap())
                .and_then(|mut z| z.read_to_string(&mut text))
                .map_err(|e| format!("{} is not a whole zstd stream: {e}", p.display()))?;
            if text.contains(KEY) {
                return Err(format!("{} holds the key", p.display()));
            }
            *n += 1;
        }
        Ok(())
    }
    let mut n = 0;
    walk(&out.join("_raw"), &mut n)?;
    Ok(n)
}

/// Right after a kill, every partition that is visible holds exactly its reference rows:
/// whole, never a mix of two versions, never a part.
/// The rows of a table but those of today's partition, whose window ends at each run's start
/// (a summary's figures for "today so far" change from run to run).
fn settled_rows(out: &Path, table: &str) -> Vec<String> {
    let today = format!("date={}/", chrono::Utc::now().date_naive());
    table_rows(out, table)
        .into_iter()
        .filter(|r| !r.starts_with(&today))
        .collect()
}

fn check_whole_partitions(out: &Path, table: &str, expected: &[String]) -> Result<(), String> {
    let rows = settled_rows(out, table);
    let partition = |r: &String| r.split('\u{1e}').next().unwrap_or_default().to_string();
    let visible: std::collections::BTreeSet<String> = rows.iter().map(partition).collect();
    let want: Vec<String> = expected
        .iter()
        .filter(|r| visible.contains(&partition(r)))
        .cloned()
        .collect();
    if rows == want {
        Ok(())
    } else {
        Err(format!(
            "{table}: {} rows visible in {} partitions, where the reference has {} rows",
            rows.len(),
            visible.len(),
            want.len()
        ))
    }
}

/// Where a run is killed: once the sandbox has received `requests` requests, `extra` later.
#[derive(Debug, Clone, Copy)]
struct KillPoint {
    requests: u64,
    extra: Duration,
}

impl KillPoint {
    /// A seeded point within a run that sends `total` requests.
    fn draw(rng: &mut Rng, total: u64) -> KillPoint {
        KillPoint {
            requests: rng.below(total.max(1)),
            extra: Duration::from_millis(rng.below(40)),
        }
    }
}

/// Starts the binary and kills it at `at` unless it finished first; true when it was killed.
/// The moment is counted in requests the sandbox received, so it falls in the middle of a run
/// however fast or loaded the machine is.
fn run_and_kill(server: &Server, args: &[&str], at: KillPoint) -> bool {
    server.faults(slow());
    let mut child = command(args)
        .env("CAKE_API_KEY", KEY)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    while server.stats().requests < at.requests {
        if child.try_wait().unwrap().is_some() {
            return false;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    std::thread::sleep(at.extra);
    let killed = child.try_wait().unwrap().is_none();
    // SIGKILL: no destructor, no cleanup, no flush.
    let _ = child.kill();
    child.wait().unwrap();
    killed
}

/// A complete run under the slow faults: its requests (the range kills are drawn from) and
/// time.
fn measured(server: &Server, args: &[&str]) -> (u64, Duration) {
    server.faults(slow());
    let started = Instant::now();
    let r = run(args, &[("CAKE_API_KEY", KEY)]);
    assert_eq!(r.code, 0, "{args:?}: {}", r.stderr);
    (server.stats().requests, started.elapsed())
}

#[test]
fn pull_killed_at_random_moments() {
    let server = Server::start(SandboxConfig {
        seed: 5,
        api_key: KEY.into(),
        rows_per_day: 30,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    });
    let url = server.url();
    let dir = tempfile::tempdir().unwrap();
    let args = |out: &Path| -> Vec<String> {
        [
            "pull",
            "clicks",
            "--start",
            "2024-02-25",
            "--end",
            "2024-03-05",
            "--page-size",
            "10",
            "--keep-raw",
            "--domain",
            &url,
            "--out",
            s(out),
            "--retries",
            "8",
            "--retry-base-ms",
            "5",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };

    // The reference: a complete run under the same slow faults.
    let reference = dir.path().join("reference");
    let a = args(&reference);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (requests, duration) = measured(&server, &a);
    let expected = table_rows(&reference, "clicks");
    assert_eq!(expected.len(), 10 * 30);
    check_location(&reference, &["clicks"]).unwrap();
    eprintln!(
        "pull: reference run {:.2} s, {requests} requests, {} rows, hash {}",
        duration.as_secs_f64(),
        expected.len(),
        rows_hash(&expected)
    );

    let mut rng = Rng::new(0x5EED_0001);
    let mut killed = 0;
    let mut partitions_seen = Vec::new();
    for i in 0..RUNS {
        let out = dir.path().join(format!("run-{i}"));
        if i % 2 == 1 {
            copy_tree(&reference, &out);
        }
        let at = KillPoint::draw(&mut rng, requests);
        let a = args(&out);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        if run_and_kill(&server, &a, at) {
            killed += 1;
        }
        let seen = check_location(&out, &["clicks"])
            .unwrap_or_else(|e| panic!("run {i}, killed at {at:?}: {e}"));
        check_raw(&out).unwrap_or_else(|e| panic!("run {i}, killed at {at:?}: {e}"));
        check_whole_partitions(&out, "clicks", &expected)
            .unwrap_or_else(|e| panic!("run {i}, killed at {at:?}: {e}"));
        partitions_seen.push(seen.partitions.len());
        // The rerun, without faults, completes the output.
        server.faults(Faults::default());
        let r = run(&a, &[("CAKE_API_KEY", KEY)]);
        assert_eq!(r.code, 0, "rerun {i}: {}", r.stderr);
        let rows = table_rows(&out, "clicks");
        assert!(
            rows == expected,
            "run {i}, killed at {at:?}: the rerun gave {} rows (hash {}), not the reference",
            rows.len(),
            rows_hash(&rows)
        );
        check_location(&out, &["clicks"]).unwrap();
        check_raw(&out).unwrap();
    }
    eprintln!(
        "pull: {killed} of {RUNS} runs killed mid-way; committed partitions right after each kill: {partitions_seen:?}"
    );
    assert!(
        killed >= RUNS / 2,
        "only {killed} of {RUNS} runs were still running when killed"
    );
}

/// The days a state file claims, checked against the partitions of the location.
fn check_state(out: &Path, table: &str, start: NaiveDate) -> Result<Option<NaiveDate>, String> {
    let path = out.join("_state").join(format!("{table}.json"));
    let Ok(bytes) = std::fs::read(&path) else {
        return Ok(None);
    };
    let state: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| format!("{} is not whole JSON: {e}", path.display()))?;
    let Some(through) = state["committed_through"].as_str() else {
        return Ok(None);
    };
    let through: NaiveDate = through.parse().unwrap();
    let mut day = start;
    while day <= through {
        let manifest = out.join(table).join(format!("date={day}")).join("_SUCCESS");
        if !manifest.exists() {
            return Err(format!(
                "the state of {table} claims {through} but {day} is not committed"
            ));
        }
        day = day.succ_opt().unwrap();
    }
    Ok(Some(through))
}

#[test]
fn sync_killed_at_random_moments() {
    let today = chrono::Utc::now().date_naive();
    // The sandbox's data ends yesterday: today's window (which ends at each run's start) is
    // empty whenever a run happens, so every run can be compared with the reference.
    let server = Server::start(SandboxConfig {
        seed: 6,
        api_key: KEY.into(),
        rows_per_day: 30,
        today: today - chrono::Days::new(1),
        ..SandboxConfig::default()
    });
    let start = today - chrono::Days::new(9);
    let dir = tempfile::tempdir().unwrap();
    let tables = ["clicks", "campaigns-summary", "offers"];
    let config = |out: &Path| -> std::path::PathBuf {
        let path = dir.path().join(format!(
            "{}.toml",
            out.file_name().unwrap().to_string_lossy()
        ));
        std::fs::write(
            &path,
            format!(
                "[instance]\ndomain = \"{}\"\nconcurrency = 4\n\n[output]\nlocation = \"{}\"\n\n\
                 [defaults]\nstart = \"{start}\"\nlookback_days = 3\n\n\
                 [[report]]\nreport = \"clicks\"\npage_size = 10\n\n\
                 [[report]]\nreport = \"campaigns-summary\"\n\n\
                 [[report]]\nreport = \"offers\"\n",
                server.url(),
                s(out)
            ),
        )
        .unwrap();
        path
    };
    let args = |config: &Path| -> Vec<String> {
        [
            "sync",
            "--config",
            s(config),
            "--retries",
            "8",
            "--retry-base-ms",
            "5",
        ]
        .iter()
        .map(|a| a.to_string())
        .collect()
    };

    let reference = dir.path().join("reference");
    let c = config(&reference);
    let a = args(&c);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (requests, duration) = measured(&server, &a);
    let expected: Vec<Vec<String>> = tables.iter().map(|t| settled_rows(&reference, t)).collect();
    assert_eq!(expected[0].len(), 9 * 30, "clicks");
    check_location(&reference, &tables).unwrap();
    assert_eq!(check_state(&reference, "clicks", start), Ok(Some(today)));
    // A run over a complete output re-pulls only the lookback: it is shorter.
    let again = dir.path().join("again");
    copy_tree(&reference, &again);
    let c = config(&again);
    let a = args(&c);
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    let (again_requests, again_duration) = measured(&server, &a);
    eprintln!(
        "sync: reference run {:.2} s, {requests} requests (over a complete output {:.2} s, {again_requests} requests), rows {:?}",
        duration.as_secs_f64(),
        again_duration.as_secs_f64(),
        expected.iter().map(Vec::len).collect::<Vec<_>>()
    );

    let mut rng = Rng::new(0x5EED_0002);
    let mut killed = 0;
    let mut states = Vec::new();
    for i in 0..RUNS {
        let out = dir.path().join(format!("run-{i}"));
        if i % 2 == 1 {
            copy_tree(&reference, &out);
        }
        let c = config(&out);
        let a = args(&c);
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        let at = KillPoint::draw(&mut rng, if i % 2 == 1 { again_requests } else { requests });
        if run_and_kill(&server, &a, at) {
            killed += 1;
        }
        check_location(&out, &tables).unwrap_or_else(|e| panic!("run {i}, killed at {at:?}: {e}"));
        for (t, want) in tables.iter().zip(&expected) {
            check_whole_partitions(&out, t, want)
                .unwrap_or_else(|e| panic!("run {i}, killed at {at:?}: {e}"));
        }
        for t in ["clicks", "campaigns-summary"] {
            let through = check_state(&out, t, start)
                .unwrap_or_else(|e| panic!("run {i}, killed at {at:?}: {e}"));
            if t == "clicks" {
                states.push(through.map_or("-".to_string(), |d| d.format("%m-%d").to_string()));
            }
        }
        server.faults(Faults::default());
        let r = run(&a, &[("CAKE_API_KEY", KEY)]);
        assert_eq!(r.code, 0, "rerun {i}: {}", r.stderr);
        for (t, want) in tables.iter().zip(&expected) {
            let rows = settled_rows(&out, t);
            assert!(
                &rows == want,
                "run {i}, killed at {at:?}: {t} has {} rows after the rerun, not the {} of the reference",
                rows.len(),
                want.len()
            );
        }
        check_location(&out, &tables).unwrap();
        assert_eq!(check_state(&out, "clicks", start), Ok(Some(today)));
    }
    eprintln!(
        "sync: {killed} of {RUNS} runs killed mid-way; clicks state right after each kill: {states:?}"
    );
    assert!(
        killed >= RUNS / 2,
        "only {killed} of {RUNS} runs were still running when killed"
    );
}
