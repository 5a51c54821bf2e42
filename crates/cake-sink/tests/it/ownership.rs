//! What belongs to whom: staging directories belong to the run that holds their lock (never
//! judged by process ids), output locations are checked before anything is written, the
//! preflight probe says what is wrong with a location, and leases on object storage are
//! waited for, or taken over once expired.

use crate::common;

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use arrow_array::{Int64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use cake_sink::{
    Class, Classify, CommitHooks, Sink, SinkError, SinkOptions, Store, StoreOptions, WriteMode,
};
use common::moto::Moto;
use common::Lake;

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]))
}

fn batch(ids: &[i64]) -> RecordBatch {
    RecordBatch::try_new(schema(), vec![Arc::new(Int64Array::from(ids.to_vec()))]).unwrap()
}

async fn commit(sink: &Sink, ids: &[i64]) -> Result<cake_sink::Committed, SinkError> {
    let mut w = sink
        .partition("events", Some("date=2024-01-31"), schema(), Vec::new())
        .unwrap();
    w.write(&batch(ids)).unwrap();
    w.commit(WriteMode::Replace).await
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|e| {
            e.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A leftover staging directory with a file in it, as a killed run leaves it.
fn leftover(dir: &Path) {
    std::fs::create_dir_all(dir.join("p0")).unwrap();
    std::fs::write(dir.join("p0/.part-00000.parquet.1-0.tmp"), b"partial").unwrap();
}

/// A staging directory whose lock another open file holds (a live run, in another container
/// with another process id namespace: its name's pid means nothing here) is kept; one whose
/// lock is free is removed, even when the pid in its name is alive (this very process).
#[test]
fn staging_belongs_to_the_run_that_holds_its_lock() {
    let t = Lake::local();
    let root = t.local_root().unwrap();
    let staging = root.join("_staging");
    let live_dir = staging.join("1706659200000000-999999");
    let live_file = staging.join("1706659200000001-999998");
    let free_own_pid = staging.join(format!("1706659200000002-{}", std::process::id()));
    let free_file = staging.join("1706659200000003-999997");
    let junk = staging.join("junk");
    for d in [&live_dir, &live_file, &free_own_pid, &free_file, &junk] {
        leftover(d);
    }
    // A run that locked its directory (local file systems) ...
    #[cfg(unix)]
    let dir_lock = {
        let f = File::open(&live_dir).unwrap();
        f.lock().unwrap();
        f
    };
    #[cfg(not(unix))]
    let dir_lock = {
        let f = File::create(staging.join("1706659200000000-999999.lock")).unwrap();
        f.lock().unwrap();
        f
    };
    // ... and one that locked a file beside it (NFS).
    let file_lock = File::create(staging.join("1706659200000001-999998.lock")).unwrap();
    file_lock.lock().unwrap();
    std::fs::write(staging.join("1706659200000003-999997.lock"), b"").unwrap();

    let sink = t.sink();
    let mut expected = vec![
        "1706659200000000-999999".to_string(),
        "1706659200000001-999998".to_string(),
        "1706659200000001-999998.lock".to_string(),
        sink.run_id().to_string(),
    ];
    #[cfg(not(unix))]
    expected.push("1706659200000000-999999.lock".to_string());
    expected.sort();
    assert_eq!(names(&staging), expected);
    assert!(live_dir.join("p0/.part-00000.parquet.1-0.tmp").exists());
    assert!(
        std::fs::read_dir(sink.temp_dir()).unwrap().next().is_none(),
        "an idle run's staging holds no file"
    );
    // The live runs end (their locks go with their processes; here, their handles).
    drop(dir_lock);
    drop(file_lock);
    let next = t.sink();
    assert_eq!(
        names(&staging),
        [sink.run_id().to_string(), next.run_id().to_string()]
    );
    drop(sink);
    drop(next);
    assert!(!staging.exists(), "the last run removes the staging base");
    assert_eq!(t.objects(), Vec::<String>::new());
}

/// Runs on object storage stage under `<temp>/cake-staging/`, with the same ownership: a
/// killed run's leftovers go at the next open, a live run's stay.
#[test]
fn object_storage_runs_stage_in_the_temp_dir() {
    let options = StoreOptions {
        from_env: false,
        settings: vec![
            ("aws_endpoint".into(), "http://127.0.0.1:9".into()),
            ("aws_access_key_id".into(), "id".into()),
            ("aws_secret_access_key".into(), "secret".into()),
        ],
        ..StoreOptions::default()
    };
    let base = std::env::temp_dir().join("cake-staging");
    let dead = base.join(format!("1000000000000000-{}-dead", std::process::id()));
    let live = base.join(format!("1000000000000000-{}-live", std::process::id()));
    leftover(&dead);
    leftover(&live);
    let live_lock =
        File::create(base.join(format!("1000000000000000-{}-live.lock", std::process::id())))
            .unwrap();
    live_lock.lock().unwrap();
    let store = Store::open_with("s3://bucket/prefix", &options).unwrap();
    let sink = Sink::open_store(store, SinkOptions::default()).unwrap();
    assert!(sink.temp_dir().starts_with(&base), "{:?}", sink.temp_dir());
    assert!(!dead.exists(), "a killed run's staging is removed");
    assert!(live.exists(), "a live run's staging stays");
    let own = sink.temp_dir().to_path_buf();
    drop(sink);
    assert!(!own.exists());
    drop(live_lock);
    let _ = std::fs::remove_dir_all(&live);
    let _ = std::fs::remove_file(
        base.join(format!("1000000000000000-{}-live.lock", std::process::id())),
    );
}

/// Malformed and unsupported locations are usage errors that say what is supported;
/// well-formed ones open.
#[test]
fn locations_are_checked() {
    let bad: &[(&str, &str)] = &[
        ("", "it is empty"),
        ("   ", "it is empty"),
        ("s3:/bucket/x", "`s3:` is not followed by `//`"),
        ("s3:bucket", "write s3://bucket/prefix"),
        ("S3:/bucket", "`S3:` is not followed by `//`"),
        ("s3//bucket", "lacks the colon"),
        ("s3://", "no bucket"),
        ("S3://", "no bucket"),
        ("s3:///prefix", "no bucket"),
        ("s3://my bucket/x", "is not a bucket name"),
        ("gs://bucket/x", "the gs:// scheme is not supported"),
        ("az://container/x", "the az:// scheme is not supported"),
        ("abfs://c@a.dfs.core.windows.net/x", "the abfs:// scheme"),
        (
            "http://example.com/lake",
            "the http:// scheme is not supported",
        ),
        ("https://example.com/lake", "the https:// scheme"),
        ("s3a://bucket/x", "Hadoop's name for S3"),
        ("hdfs//namenode/x", "lacks the colon"),
        ("file:/tmp/x", "write file:///path"),
        ("file://", "no path"),
        ("data:2024", "start it with ./"),
    ];
    for (location, expected) in bad {
        let e = Store::open(location)
            .err()
            .unwrap_or_else(|| panic!("{location:?} was accepted"));
        assert!(e.class() == Class::Usage, "{location:?}: {e}");
        let message = e.to_string();
        assert!(message.contains(expected), "{location:?}: {message}");
        if message.contains("not supported") || message.contains("is empty") {
            assert!(
                message.contains("a local directory, file:///path, or s3://bucket/prefix"),
                "{message}"
            );
        }
    }
    // Nothing was created for them (`s3:/bucket/x` used to become a folder named `s3:`).
    assert!(!Path::new("s3:").exists());

    let dir = tempfile::tempdir().unwrap();
    let plain = dir.path().join("lake");
    let store = Store::open(plain.to_str().unwrap()).unwrap();
    assert!(store.local_root().is_some());
    let url = format!("file://{}", dir.path().join("other").display());
    assert!(Store::open(&url).unwrap().local_root().is_some());
    let offline = StoreOptions {
        from_env: false,
        settings: vec![
            ("aws_endpoint".into(), "http://127.0.0.1:9".into()),
            ("aws_access_key_id".into(), "id".into()),
            ("aws_secret_access_key".into(), "secret".into()),
        ],
        ..StoreOptions::default()
    };
    for (location, shown) in [
        ("s3://bucket", "s3://bucket"),
        ("S3://bucket/a/b/", "s3://bucket/a/b"),
        ("s3://my.bucket-1/x", "s3://my.bucket-1/x"),
    ] {
        let store = Store::open_with(location, &offline).unwrap();
        assert_eq!(store.display(), shown);
    }
    // Errors that are not the user's request are not usage errors.
    let io = SinkError::Io {
        path: plain,
        source: std::io::Error::other("x"),
    };
    assert!(io.class() != Class::Usage);
}

/// The probe passes on a writable directory and fails on a read-only one (as root,
/// permissions are not enforced: skipped).
#[tokio::test]
async fn probe_finds_a_read_only_directory() {
    let t = Lake::local();
    let sink = t.sink();
    sink.probe().await.unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } == 0 {
            eprintln!("SKIPPED the read-only half: running as root");
            return;
        }
        let root = t.local_root().unwrap();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o555)).unwrap();
        let e = sink.probe().await.unwrap_err();
        std::fs::set_permissions(root, std::fs::Permissions::from_mode(0o755)).unwrap();
        assert!(matches!(e, SinkError::Io { .. }), "{e}");
        assert!(e.to_string().contains("writable"), "{e}");
    }
}

/// On S3: the probe explains a missing bucket, keeping object_store's error as the source;
/// leases are waited for while valid and taken over once expired.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_probe_and_leases() {
    let Some(moto) = Moto::start("s3_probe_and_leases", &workspace()) else {
        return;
    };
    let moto = Arc::new(moto);

    // A bucket that does not exist.
    let options = StoreOptions {
        from_env: false,
        settings: moto.settings(),
        ..StoreOptions::default()
    };
    let store = Store::open_with("s3://no-such-bucket/lake", &options).unwrap();
    let sink = Sink::open_store(store, SinkOptions::default()).unwrap();
    let e = sink.probe().await.unwrap_err();
    let message = e.to_string();
    assert!(
        message.contains(
            "the bucket no-such-bucket does not exist (or the endpoint is wrong): create it or fix the location"
        ),
        "{message}"
    );
    assert!(!message.contains('<'), "no XML: {message}");
    let source = std::error::Error::source(&e).expect("a source");
    assert!(
        source.downcast_ref::<object_store::Error>().is_some(),
        "{source:?}"
    );
    assert!(e.class() != Class::Usage);
    drop(sink);

    let t = Lake::s3(&moto, "leases", "lake");
    t.sink().probe().await.unwrap();
    let store = t.store();
    let lease_rel = "_locks/events.lease";
    let lease = |expires_unix_ms: u64| {
        serde_json::to_vec(&serde_json::json!({
            "run_id": "1700000000000000-77",
            "host": "other-host",
            "pid": 77,
            "token": "theirs",
            "acquired": "2023-11-14T22:13:20Z",
            "expires": "whenever",
            "acquired_unix_ms": 1_700_000_000_000u64,
            "expires_unix_ms": expires_unix_ms,
        }))
        .unwrap()
    };
    let now_ms = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64
    };

    // A valid lease of another run: this run waits, then gives up and changes nothing.
    let theirs = lease(now_ms() + 3_600_000);
    store.put_bytes(lease_rel, theirs.clone()).await.unwrap();
    let sink = t.sink_with(SinkOptions {
        lock_timeout: Duration::from_millis(400),
        ..SinkOptions::default()
    });
    let e = commit(&sink, &[1]).await.unwrap_err();
    let SinkError::Locked { table, holder } = &e else {
        panic!("{e}");
    };
    assert_eq!(table, "events");
    assert!(
        holder.contains("run 1700000000000000-77 on other-host"),
        "{holder}"
    );
    assert_eq!(
        store.get_bytes(lease_rel).await.unwrap(),
        Some(theirs),
        "the lease is left alone"
    );
    assert_eq!(t.objects(), [lease_rel]);

    // An expired lease (a killed run's) is taken over, and released after the commit.
    store
        .put_bytes(lease_rel, lease(now_ms() - 1000))
        .await
        .unwrap();
    let sink = t.sink();
    commit(&sink, &[2]).await.unwrap();
    assert_eq!(
        t.objects(),
        [
            "events/date=2024-01-31/_SUCCESS",
            "events/date=2024-01-31/part-00000.parquet"
        ]
    );

    // A lease that claims to be valid for an hour (the other run's clock is wrong, or it hung)
    // but has not changed for a whole lease duration is taken over too: that does not
    // depend on clocks.
    store
        .put_bytes(lease_rel, lease(now_ms() + 3_600_000))
        .await
        .unwrap();
    let sink = t.sink_with(SinkOptions {
        lease_duration: Duration::from_secs(1),
        lock_timeout: Duration::from_secs(30),
        ..SinkOptions::default()
    });
    let started = std::time::Instant::now();
    let c = commit(&sink, &[3]).await.unwrap();
    assert!(started.elapsed() >= Duration::from_secs(1));
    assert_eq!(c.rows, 1);
    assert!(!t.objects().iter().any(|o| o.starts_with("_locks/")));
    drop(sink);

    // A run that stalls inside its commit past its lease's expiry loses the lease to another
    // run, and finds out before it changes anything.
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let stalled = t.sink_with(SinkOptions {
        lease_duration: Duration::from_secs(1),
        hooks: Some(Arc::new(Stall {
            entered: Mutex::new(Some(entered_tx)),
            release: Mutex::new(release_rx),
        })),
        ..SinkOptions::default()
    });
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(commit(&stalled, &[4]))
        });
        entered_rx.recv_timeout(Duration::from_secs(60)).unwrap();
        let b = s.spawn(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
                .block_on(async {
                    let sink = t.sink_with(SinkOptions {
                        lock_timeout: Duration::from_secs(60),
                        ..SinkOptions::default()
                    });
                    commit(&sink, &[5]).await
                })
        });
        let b = b.join().unwrap().unwrap();
        release_tx.send(()).unwrap();
        let e = a.join().unwrap().unwrap_err();
        assert!(matches!(e, SinkError::Locked { .. }), "{e}");
        assert!(e.to_string().contains("took over this run's lease"), "{e}");
        let kept = s
            .spawn(|| {
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(t.sink().verify("events", Some("date=2024-01-31")))
            })
            .join()
            .unwrap()
            .unwrap();
        assert_eq!(kept, b.manifest, "the other run's commit stands");
    });
}

/// On S3: a live holder keeps its short lease however long it works (renewed in the
/// background), and a lease whose holder was a process of this machine that is gone (a
/// `kill -9`) is taken over at once, not after its expiry.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_leases_live_while_their_run_lives() {
    let Some(moto) = Moto::start("s3_leases_live", &workspace()) else {
        return;
    };
    let moto = Arc::new(moto);
    let t = Lake::s3(&moto, "live-leases", "lake");
    t.sink().probe().await.unwrap();

    // A holder stalled inside its commit for 3 lease durations, on a runtime whose other
    // worker renews its lease: the waiter never takes it over and gives up.
    let (entered_tx, entered_rx) = mpsc::channel();
    let (release_tx, release_rx) = mpsc::channel::<()>();
    let holder = t.sink_with(SinkOptions {
        lease_duration: Duration::from_secs(1),
        hooks: Some(Arc::new(Stall {
            entered: Mutex::new(Some(entered_tx)),
            release: Mutex::new(release_rx),
        })),
        ..SinkOptions::default()
    });
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .unwrap()
                .block_on(commit(&holder, &[1]))
        });
        entered_rx.recv_timeout(Duration::from_secs(60)).unwrap();
        let e = s
            .spawn(|| {
                let waiter = t.sink_with(SinkOptions {
                    lease_duration: Duration::from_secs(1),
                    lock_timeout: Duration::from_secs(3),
                    ..SinkOptions::default()
                });
                tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .unwrap()
                    .block_on(commit(&waiter, &[2]))
            })
            .join()
            .unwrap()
            .unwrap_err();
        assert!(matches!(e, SinkError::Locked { .. }), "{e}");
        release_tx.send(()).unwrap();
        let done = a.join().unwrap().unwrap();
        assert_eq!(done.rows, 1, "the holder kept its lease and committed");
    });

    // A lease of a process of this machine that no longer exists, claiming an hour more.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_default();
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64;
    let lease = serde_json::json!({
        "run_id": format!("1700000000000000-{dead}"),
        "host": host,
        "pid": dead,
        "token": "killed",
        "acquired": "2023-11-14T22:13:20Z",
        "expires": "in an hour",
        "acquired_unix_ms": now_ms,
        "expires_unix_ms": now_ms + 3_600_000,
        "duration_ms": 3_600_000u64,
    });
    t.store()
        .put_bytes("_locks/events.lease", serde_json::to_vec(&lease).unwrap())
        .await
        .unwrap();
    let sink = t.sink_with(SinkOptions {
        lock_timeout: Duration::from_secs(30),
        ..SinkOptions::default()
    });
    let started = std::time::Instant::now();
    commit(&sink, &[3]).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "taken over at once, not after an hour: {:?}",
        started.elapsed()
    );
}

/// An object storage endpoint that accepts connections and never answers fails the probe
/// within its retry bound, naming the endpoint setting.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_endpoint_fails_within_its_bound() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let stopped = stop.clone();
    let accepted = std::thread::spawn(move || {
        // Accept and hold every connection, answering nothing.
        let mut held = Vec::new();
        listener.set_nonblocking(true).unwrap();
        while !stopped.load(std::sync::atomic::Ordering::SeqCst) {
            match listener.accept() {
                Ok((c, _)) => held.push(c),
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
        held.len()
    });
    let options = StoreOptions {
        from_env: false,
        settings: vec![
            ("aws_endpoint".into(), format!("http://127.0.0.1:{port}")),
            ("aws_access_key_id".into(), "id".into()),
            ("aws_secret_access_key".into(), "secret".into()),
        ],
        request_timeout: Duration::from_millis(500),
        retry_timeout: Duration::from_secs(2),
    };
    let store = Store::open_with("s3://bucket/lake", &options).unwrap();
    let sink = Sink::open_store(store, SinkOptions::default()).unwrap();
    let started = std::time::Instant::now();
    let e = sink.probe().await.unwrap_err();
    let took = started.elapsed();
    let message = e.to_string();
    assert!(took < Duration::from_secs(8), "{took:?}: {message}");
    assert!(message.contains("did not answer"), "{message}");
    assert!(message.contains("AWS_ENDPOINT_URL"), "{message}");
    drop(sink);
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(accepted.join().unwrap() >= 1);
}

/// Stalls the first commit that takes the lock until the test releases it.
struct Stall {
    entered: Mutex<Option<mpsc::Sender<()>>>,
    release: Mutex<mpsc::Receiver<()>>,
}

impl CommitHooks for Stall {
    fn locked(&self, _table: &str, _partition: Option<&str>) {
        let entered = self.entered.lock().unwrap().take();
        if let Some(tx) = entered {
            tx.send(()).unwrap();
            let _ = self
                .release
                .lock()
                .unwrap()
                .recv_timeout(Duration::from_secs(120));
        }
    }
}
