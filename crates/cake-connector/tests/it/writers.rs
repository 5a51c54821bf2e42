//! Writers that meet: any number of runs starting at once into a location that does not exist
//! yet (how shards start), locally and on S3; and a run killed with `kill -9` on S3, whose
//! lease never blocks the run started right after it.

use crate::common;
#[path = "../../../cake-sink/tests/it/common/moto.rs"]
mod moto;

use std::path::Path;
use std::time::{Duration, Instant};

use cake_sandbox::{Faults, SandboxConfig};
use common::*;

const KEY: &str = "writers-key-7d1c";

fn workspace() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn server() -> Server {
    Server::start(SandboxConfig {
        seed: 3,
        api_key: KEY.into(),
        rows_per_day: 20,
        today: "2024-03-15".parse().unwrap(),
        ..SandboxConfig::default()
    })
}

/// Eight pulls of overlapping ranges started at once into `location`; each exits 0.
fn eight_at_once(server: &Server, location: &str, env: &[(&str, String)]) {
    let url = server.url();
    let children: Vec<_> = (0..8)
        .map(|i| {
            let start = format!("2024-03-0{}", 1 + i % 4);
            let mut c = command(&[
                "pull",
                "clicks",
                "--start",
                &start,
                "--end",
                "2024-03-06",
                "--domain",
                &url,
                "--out",
                location,
                "-q",
            ]);
            c.env("CAKE_API_KEY", KEY);
            for (k, v) in env {
                c.env(k, v);
            }
            c.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let r = finished(child.wait_with_output().unwrap());
        assert_eq!(r.code, 0, "run {i} into {location}: {}", r.stderr);
    }
}

#[test]
fn eight_first_pulls_at_once_into_an_empty_location() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let clean = dir.path().join("clean");
    let r = run(
        &[
            "pull",
            "clicks",
            "--start",
            "2024-03-01",
            "--end",
            "2024-03-06",
            "--domain",
            &server.url(),
            "--out",
            s(&clean),
        ],
        &[("CAKE_API_KEY", KEY)],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let expected = table_rows(&clean, "clicks");
    for round in 0..3 {
        let out = dir.path().join(format!("round-{round}/lake"));
        eight_at_once(&server, s(&out), &[]);
        assert!(table_rows(&out, "clicks") == expected, "round {round}");
        check_location(&out, &["clicks"]).unwrap();
        let left: Vec<String> = std::fs::read_dir(&out)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .filter(|n| {
                ["_probe", "_locks", "_staging"]
                    .iter()
                    .any(|p| n.starts_with(p))
            })
            .collect();
        assert!(left.is_empty(), "round {round}: left behind {left:?}");
    }

    let Some(moto) = moto::Moto::start("eight_first_pulls_at_once (S3)", &workspace()) else {
        return;
    };
    moto.create_bucket("shards");
    let env = moto.env();
    let env: Vec<(&str, String)> = env.iter().map(|(k, v)| (*k, v.clone())).collect();
    eight_at_once(&server, "s3://shards/lake", &env);
    let keys = moto.keys("shards");
    for day in 1..=5 {
        let success = format!("lake/clicks/date=2024-03-0{day}/_SUCCESS");
        assert!(keys.contains(&success), "{success} missing: {keys:?}");
    }
    assert!(
        !keys
            .iter()
            .any(|k| k.contains("_locks/") || k.contains("_probe")),
        "left behind: {keys:?}"
    );
}

/// A run killed with `kill -9` while it holds a table's lease on S3: the run started right
/// after it takes the lease over at once (its holder, on this machine, is gone) and commits.
#[test]
fn a_run_killed_on_s3_never_blocks_the_next() {
    let Some(moto) = moto::Moto::start("a_run_killed_on_s3", &workspace()) else {
        return;
    };
    moto.create_bucket("killed");
    let server = server();
    let url = server.url();
    let env = moto.env();
    let pull = |extra: &[&str]| {
        let mut args = vec![
            "pull",
            "clicks",
            "--start",
            "2024-03-01",
            "--end",
            "2024-03-11",
            "--domain",
            &url,
            "--out",
            "s3://killed/lake",
            "--page-size",
            "5",
            "--concurrency",
            "1",
        ];
        args.extend_from_slice(extra);
        let mut c = command(&args);
        c.env("CAKE_API_KEY", KEY);
        for (k, v) in &env {
            c.env(k, v);
        }
        c
    };
    for attempt in 0..3 {
        // Slow answers, so that the run is inside a commit when it is killed.
        server.faults(Faults {
            latency: Duration::from_millis(40),
            ..Faults::default()
        });
        let mut child = pull(&[])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = Instant::now();
        let mut killed = false;
        while started.elapsed() < Duration::from_secs(60) {
            if moto
                .keys("killed")
                .iter()
                .any(|k| k.starts_with("lake/_locks/"))
            {
                child.kill().unwrap();
                killed = true;
                break;
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = child.wait();
        if !killed {
            continue;
        }
        server.faults(Faults::default());
        let started = Instant::now();
        let r = finished(pull(&[]).output().unwrap());
        let took = started.elapsed();
        assert_eq!(r.code, 0, "attempt {attempt}: {}", r.stderr);
        assert!(
            took < Duration::from_secs(20),
            "attempt {attempt}: the rerun took {took:?}"
        );
        return;
    }
    panic!("no attempt was killed while it held the lease");
}

/// A run that finds its table locked by another says so at the default verbosity, once, with
/// who holds it, and goes on when the lock is released.
#[test]
fn waiting_for_a_lock_says_who_holds_it() {
    let server = server();
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("lake");
    let locks = out.join("_locks");
    std::fs::create_dir_all(&locks).unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(locks.join("clicks.lock"))
        .unwrap();
    lock.lock().unwrap();
    std::fs::write(
        locks.join("clicks.lock"),
        r#"{"run_id":"1700000000000000-4242","host":"host-a","pid":4242,"since":"2024-03-07T10:00:00Z"}"#,
    )
    .unwrap();
    // A dry run sees the lock without taking it, and names who holds it.
    let dry = |out: &std::path::Path| {
        let args = [
            "pull",
            "clicks",
            "--date",
            "2024-03-04",
            "--domain",
            &server.url(),
            "--out",
            s(out),
            "--dry-run",
        ];
        run(&args, &[("CAKE_API_KEY", KEY)])
    };
    let r = dry(&out);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout
            .contains("lock:     held by run 1700000000000000-4242 on host-a, pid 4242"),
        "{}",
        r.stdout
    );
    let free = dir.path().join("free");
    let r = dry(&free);
    assert!(!r.stdout.contains("lock:"), "{}", r.stdout);
    let mut c = command(&[
        "pull",
        "clicks",
        "--date",
        "2024-03-04",
        "--domain",
        &server.url(),
        "--out",
        s(&out),
    ]);
    c.env("CAKE_API_KEY", KEY)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    std::thread::sleep(Duration::from_secs(2));
    drop(lock);
    let r = finished(child.wait_with_output().unwrap());
    assert_eq!(r.code, 0, "{}", r.stderr);
    let waiting: Vec<&str> = r
        .stderr
        .lines()
        .filter(|l| l.contains("waiting for"))
        .collect();
    assert_eq!(waiting.len(), 1, "{}", r.stderr);
    assert!(
        waiting[0]
            .contains("run 1700000000000000-4242 on host-a, pid 4242, since 2024-03-07T10:00:00Z"),
        "{}",
        waiting[0]
    );
}
