//! One writer at a time per table.
//!
//! Every commit of a partition, [`Sink::open_table`] and the contract check run under the
//! table's lock:
//!
//! - within one sink, writers of one table queue on an in-process mutex (they never time out:
//!   they wait for their own run);
//! - locally, an advisory lock (`flock`) on `<root>/_locks/<table>.lock`, outside the table's
//!   directory (which a commit of an unpartitioned table swaps whole). The file says who holds
//!   it; the kernel releases the lock when its process ends, however it ends. The holder
//!   removes the file when it is done (an acquirer checks, after locking, that the path still
//!   names the file it locked, and starts again if not);
//! - on object storage, a lease object `_locks/<table>.lease` (JSON: run, host, acquired,
//!   expires) created with a conditional PUT (`If-None-Match: *`). A lease that has expired
//!   is taken over with a conditional PUT on its ETag (`If-Match`), so of two runs taking it
//!   over one wins. The holder renews its lease (on its ETag again) once a third of its
//!   duration has passed, checking before each upload and before it writes the manifest, and
//!   deletes it afterwards if it is still its own.
//!
//! A writer that finds the table locked polls until [`crate::SinkOptions::lock_timeout`], then fails
//! with [`SinkError::Locked`].

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use crate::file::SinkError;
use crate::sink::Sink;
use crate::staging::same_file;
use crate::store::{Conditional, Store};

/// Where locks and leases live, relative to the location.
pub(crate) const LOCKS: &str = "_locks";

/// The table's lock, held until dropped (or released).
pub(crate) struct TableLock {
    table: String,
    store: Store,
    kind: Kind,
    /// Keeps the other writers of this sink waiting; released last.
    _writers: tokio::sync::OwnedMutexGuard<()>,
}

enum Kind {
    Local { file: Option<File>, path: PathBuf },
    Lease(Box<Lease>),
}

/// A lease this run holds: renewed in the background every third of its duration while the
/// run lives, so a run that dies (even by `kill -9`) leaves a lease that expires within one
/// duration.
struct Lease {
    rel: String,
    /// The lease as last written; locked while it is renewed.
    state: Arc<tokio::sync::Mutex<LeaseState>>,
    duration: Duration,
    heartbeat: Option<tokio::task::JoinHandle<()>>,
    released: bool,
}

struct LeaseState {
    record: LeaseRecord,
    e_tag: Option<String>,
    renewed: Instant,
    /// Another run took the lease over (this run stalled past its expiry): who holds it now.
    lost: Option<String>,
}

/// Who holds a local lock (the lock file's content).
#[derive(Debug, Serialize, Deserialize)]
struct LockRecord {
    run_id: String,
    host: String,
    pid: u32,
    since: String,
}

/// A lease on object storage.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseRecord {
    run_id: String,
    host: String,
    pid: u32,
    /// Unique to one acquisition.
    token: String,
    acquired: String,
    expires: String,
    acquired_unix_ms: u64,
    expires_unix_ms: u64,
    /// The holder's lease duration: a lease unchanged for that long has expired.
    #[serde(default)]
    duration_ms: Option<u64>,
}

impl LeaseRecord {
    fn holder(&self) -> String {
        format!(
            "run {} on {}, pid {}, since {}, lease until {}",
            self.run_id, self.host, self.pid, self.acquired, self.expires
        )
    }
}

static TOKENS: AtomicU64 = AtomicU64::new(0);

impl Sink {
    /// Who holds the lock of `table` now, if anyone, without taking it or writing anything
    /// (a dry run): a live local lock, or an unexpired lease on object storage. A run that
    /// finds it held waits for it, up to the lock timeout.
    pub async fn lock_holder(&self, table: &str) -> Result<Option<String>, SinkError> {
        crate::sink::check_name(table)?;
        match self.store.local_root() {
            Some(root) => {
                let path = root.join(LOCKS).join(format!("{table}.lock"));
                let Ok(mut file) = OpenOptions::new().read(true).open(&path) else {
                    return Ok(None);
                };
                match file.try_lock() {
                    // Free: the lock taken to see it is released with the file.
                    Ok(()) => Ok(None),
                    Err(TryLockError::WouldBlock) => {
                        let mut text = String::new();
                        let _ = file.read_to_string(&mut text);
                        Ok(Some(match serde_json::from_str::<LockRecord>(&text) {
                            Ok(r) => format!(
                                "run {} on {}, pid {}, since {}",
                                r.run_id, r.host, r.pid, r.since
                            ),
                            Err(_) => format!("a run that holds {}", path.display()),
                        }))
                    }
                    Err(TryLockError::Error(_)) => Ok(None),
                }
            }
            None => {
                let rel = format!("{LOCKS}/{table}.lease");
                let Some(bytes) = self.store.get_bytes(&rel).await? else {
                    return Ok(None);
                };
                Ok(serde_json::from_slice::<LeaseRecord>(&bytes)
                    .ok()
                    .filter(|r| r.expires_unix_ms > now_ms())
                    .map(|r| r.holder()))
            }
        }
    }

    /// Takes the lock of `table` for a commit of `partition` (or for the table itself).
    pub(crate) async fn lock_table(
        &self,
        table: &str,
        partition: Option<&str>,
    ) -> Result<TableLock, SinkError> {
        let hooks = self.options.hooks.clone();
        let writers = {
            let mut map = self
                .writers
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            map.entry(table.to_string()).or_default().clone()
        };
        let guard = match writers.clone().try_lock_owned() {
            Ok(g) => g,
            Err(_) => {
                if let Some(h) = &hooks {
                    h.waiting(
                        table,
                        partition,
                        &format!("another writer of this run, {}", self.run_id),
                    );
                }
                writers.lock_owned().await
            }
        };
        let deadline = Instant::now() + self.options.lock_timeout;
        let kind = match self.store.local_root() {
            Some(root) => {
                self.lock_local(root.join(LOCKS), table, partition, deadline)
                    .await?
            }
            None => self.take_lease(table, partition, deadline).await?,
        };
        if let Some(h) = &hooks {
            h.locked(table, partition);
        }
        Ok(TableLock {
            table: table.to_string(),
            store: self.store.clone(),
            kind,
            _writers: guard,
        })
    }

    async fn lock_local(
        &self,
        dir: PathBuf,
        table: &str,
        partition: Option<&str>,
        deadline: Instant,
    ) -> Result<Kind, SinkError> {
        let path = dir.join(format!("{table}.lock"));
        let io = |source| SinkError::Io {
            path: path.clone(),
            source,
        };
        let mut poll = Poll::new();
        loop {
            match fs::create_dir_all(&dir) {
                Ok(()) => {}
                // `_locks` existed when made, and a holder removed it before it was checked:
                // look again (a file named `_locks` is an error, not a loop).
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && !dir.exists() => {
                    continue
                }
                Err(e) => return Err(io(e)),
            }
            let mut file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
            {
                Ok(f) => f,
                // `_locks` was removed by a holder in between.
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(io(e)),
            };
            match file.try_lock() {
                Ok(()) => {
                    if !same_file(&path, &file) {
                        // The previous holder removed the file after we opened it.
                        continue;
                    }
                    let record = LockRecord {
                        run_id: self.run_id.clone(),
                        host: host_name(),
                        pid: std::process::id(),
                        since: utc(now_ms()),
                    };
                    let json = serde_json::to_vec(&record).unwrap_or_default();
                    (|| {
                        file.set_len(0)?;
                        file.rewind()?;
                        file.write_all(&json)
                    })()
                    .map_err(io)?;
                    return Ok(Kind::Local {
                        file: Some(file),
                        path,
                    });
                }
                Err(TryLockError::WouldBlock) => {
                    let mut text = String::new();
                    let _ = file.read_to_string(&mut text);
                    drop(file);
                    let holder = match serde_json::from_str::<LockRecord>(&text) {
                        Ok(r) => format!(
                            "run {} on {}, pid {}, since {}",
                            r.run_id, r.host, r.pid, r.since
                        ),
                        Err(_) => format!("a run that holds {}", path.display()),
                    };
                    poll.wait(self, table, partition, &holder, deadline).await?;
                }
                Err(TryLockError::Error(e)) => {
                    return Err(SinkError::Io {
                        path: path.clone(),
                        source: std::io::Error::new(
                            e.kind(),
                            format!(
                                "cannot lock the table (does this file system support locks?): {e}"
                            ),
                        ),
                    })
                }
            }
        }
    }

    /// Checks once per sink that the object store refuses to create an object that exists:
    /// leases rely on it. A server that ignores `If-None-Match` would let two runs hold one
    /// lease.
    pub(crate) async fn check_conditional_writes(&self) -> Result<(), SinkError> {
        self.conditional_checked
            .get_or_try_init(|| async {
                let rel = format!("_probe.{}.conditional", self.run_id);
                self.store.put_if_absent(&rel, b"1".to_vec()).await?;
                let second = self.store.put_if_absent(&rel, b"2".to_vec()).await;
                let _ = self.store.delete(&rel).await;
                match second? {
                    Conditional::Conflict => Ok(()),
                    Conditional::Done(_) => Err(SinkError::Object {
                        location: self.store.display(),
                        message: "the server ignores conditional writes (If-None-Match: *), so it cannot keep two runs from writing one table at once; use a server that supports them (AWS S3, MinIO, Cloudflare R2...)".into(),
                    }),
                }
            })
            .await
            .map(|_| ())
    }

    async fn take_lease(
        &self,
        table: &str,
        partition: Option<&str>,
        deadline: Instant,
    ) -> Result<Kind, SinkError> {
        self.check_conditional_writes().await?;
        let rel = format!("{LOCKS}/{table}.lease");
        let duration = self.options.lease_duration;
        let token = format!(
            "{}-{}-{}",
            self.run_id,
            TOKENS.fetch_add(1, Ordering::Relaxed),
            now_ms()
        );
        let held = |rel: String, record: LeaseRecord, e_tag: Option<String>| {
            Kind::Lease(Box::new(Lease::new(
                &self.store,
                table,
                rel,
                record,
                e_tag,
                duration,
            )))
        };
        let mut poll = Poll::new();
        // The version of the other run's lease first seen, and when: a lease unchanged for
        // its whole duration has expired whatever the clocks say.
        let mut seen: Option<(String, Instant)> = None;
        loop {
            let record = self.lease_record(&token, duration);
            let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
            if let Conditional::Done(e_tag) = self.store.put_if_absent(&rel, json.clone()).await? {
                return Ok(held(rel, record, e_tag));
            }
            let Some((bytes, e_tag)) = self.store.get_versioned(&rel).await? else {
                continue; // released in between
            };
            let current = serde_json::from_slice::<LeaseRecord>(&bytes).ok();
            if current.as_ref().is_some_and(|c| c.token == token) {
                // Our own create, retried after a lost response.
                return Ok(held(rel, record, e_tag));
            }
            let version = e_tag
                .clone()
                .unwrap_or_else(|| String::from_utf8_lossy(&bytes).into_owned());
            let since = match &seen {
                Some((v, at)) if *v == version => *at,
                _ => {
                    seen = Some((version, Instant::now()));
                    Instant::now()
                }
            };
            let their_duration = current
                .as_ref()
                .and_then(|c| c.duration_ms)
                .map_or(duration, Duration::from_millis);
            // Expired by its own clock, unchanged for a whole duration, or held by a process
            // of this machine that is gone.
            let expired = current.as_ref().is_some_and(|c| {
                now_ms() > c.expires_unix_ms || (c.host == host_name() && !process_alive(c.pid))
            }) || since.elapsed() >= their_duration;
            if expired {
                let record = self.lease_record(&token, duration);
                let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
                if let Conditional::Done(new_tag) =
                    self.store.put_if_match(&rel, json, e_tag).await?
                {
                    tracing::warn!(
                        table,
                        previous = current
                            .as_ref()
                            .map(LeaseRecord::holder)
                            .unwrap_or_default(),
                        "took over an expired lease"
                    );
                    return Ok(held(rel, record, new_tag));
                }
                continue; // another run took it over or its holder renewed it
            }
            let holder = current
                .as_ref()
                .map(LeaseRecord::holder)
                .unwrap_or_else(|| format!("the lease {}", self.store.location_of(&rel)));
            poll.wait(self, table, partition, &holder, deadline).await?;
        }
    }

    fn lease_record(&self, token: &str, duration: Duration) -> LeaseRecord {
        let now = now_ms();
        let expires = now + u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2);
        LeaseRecord {
            run_id: self.run_id.clone(),
            host: host_name(),
            pid: std::process::id(),
            token: token.to_string(),
            acquired: utc(now),
            expires: utc(expires),
            acquired_unix_ms: now,
            expires_unix_ms: expires,
            duration_ms: u64::try_from(duration.as_millis()).ok(),
        }
    }
}

impl Lease {
    fn new(
        store: &Store,
        table: &str,
        rel: String,
        record: LeaseRecord,
        e_tag: Option<String>,
        duration: Duration,
    ) -> Lease {
        let state = Arc::new(tokio::sync::Mutex::new(LeaseState {
            record,
            e_tag,
            renewed: Instant::now(),
            lost: None,
        }));
        let heartbeat = tokio::runtime::Handle::try_current().ok().map(|handle| {
            handle.spawn(heartbeat(
                store.clone(),
                table.to_string(),
                rel.clone(),
                state.clone(),
                duration,
            ))
        });
        Lease {
            rel,
            state,
            duration,
            heartbeat,
            released: false,
        }
    }

    fn stop_heartbeat(&mut self) {
        if let Some(h) = self.heartbeat.take() {
            h.abort();
        }
    }
}

/// Renews a lease every third of its duration until the lease is lost or the task aborted.
/// A failed renewal (the store unreachable for a moment) is tried again at the next beat.
async fn heartbeat(
    store: Store,
    table: String,
    rel: String,
    state: Arc<tokio::sync::Mutex<LeaseState>>,
    duration: Duration,
) {
    loop {
        tokio::time::sleep(duration / 3).await;
        let mut s = state.lock().await;
        if s.lost.is_some() {
            return;
        }
        if let Err(e) = renew(&store, &table, &rel, &mut s, duration).await {
            if s.lost.is_some() {
                return;
            }
            tracing::warn!(lease = rel, "cannot renew the table's lease: {e}");
        }
    }
}

/// Writes the lease again with a later expiry, on its ETag: fails, and marks the lease lost,
/// when another run took it over.
async fn renew(
    store: &Store,
    table: &str,
    rel: &str,
    s: &mut LeaseState,
    duration: Duration,
) -> Result<(), SinkError> {
    let now = now_ms();
    let expires = now + u64::try_from(duration.as_millis()).unwrap_or(u64::MAX / 2);
    let mut record = s.record.clone();
    record.expires = utc(expires);
    record.expires_unix_ms = expires;
    let json = serde_json::to_vec_pretty(&record).unwrap_or_default();
    match store.put_if_match(rel, json, s.e_tag.clone()).await? {
        Conditional::Done(e_tag) => {
            s.e_tag = e_tag;
            s.record = record;
            s.renewed = Instant::now();
            Ok(())
        }
        Conditional::Conflict => {
            let now_held = store
                .get_bytes(rel)
                .await
                .ok()
                .flatten()
                .and_then(|b| serde_json::from_slice::<LeaseRecord>(&b).ok())
                .map(|r| r.holder())
                .unwrap_or_else(|| "no run".into());
            s.lost = Some(now_held.clone());
            Err(lost(table, &now_held))
        }
    }
}

fn lost(table: &str, now_held: &str) -> SinkError {
    SinkError::Locked {
        table: table.to_string(),
        holder: format!(
            "{now_held}; it took over this run's lease, which had expired, so this run stopped before publishing"
        ),
    }
}

impl TableLock {
    /// Fails when another run took this run's lease over; renews the lease when a third of
    /// its duration has passed since it was last written (the heartbeat may be late under
    /// load). Local locks need nothing.
    pub(crate) async fn keep(&mut self) -> Result<(), SinkError> {
        let Kind::Lease(lease) = &mut self.kind else {
            return Ok(());
        };
        let mut s = lease.state.lock().await;
        if let Some(holder) = &s.lost {
            lease.released = true;
            return Err(lost(&self.table, holder));
        }
        if s.renewed.elapsed() >= lease.duration / 3 {
            let result = renew(&self.store, &self.table, &lease.rel, &mut s, lease.duration).await;
            if s.lost.is_some() {
                lease.released = true;
            }
            return result;
        }
        Ok(())
    }

    /// Called right before a commit publishes its manifest: a lease last written a third of
    /// its duration ago or more is renewed, which fails if another run took it over (after
    /// this run stalled past its expiry), so a writer that lost its lease stops there. A lease
    /// written more recently cannot have expired.
    pub(crate) async fn confirm(&mut self) -> Result<(), SinkError> {
        self.keep().await
    }

    /// Releases the lock. A lease is deleted only if it is still this run's and not about to
    /// expire (deleting is not conditional on object storage, so a lease that another run
    /// may be taking over is left to expire).
    pub(crate) async fn release(mut self) {
        if let Kind::Lease(lease) = &mut self.kind {
            lease.released = true;
            lease.stop_heartbeat();
            let token = lease.state.lock().await.record.token.clone();
            release_lease(&self.store, &lease.rel, &token, lease.duration).await;
        }
        // Local: Drop removes the lock file and unlocks.
    }
}

async fn release_lease(store: &Store, rel: &str, token: &str, duration: Duration) {
    let Ok(Some(bytes)) = store.get_bytes(rel).await else {
        return;
    };
    let Ok(record) = serde_json::from_slice::<LeaseRecord>(&bytes) else {
        return;
    };
    let margin = u64::try_from((duration / 4).as_millis()).unwrap_or(0);
    if record.token == token && now_ms() + margin < record.expires_unix_ms {
        if let Err(e) = store.delete(rel).await {
            tracing::warn!(
                lease = rel,
                "cannot delete the lease; it expires by itself: {e}"
            );
        }
    }
}

impl Drop for TableLock {
    fn drop(&mut self) {
        match &mut self.kind {
            Kind::Local { file, path } => {
                if let Some(f) = file.take() {
                    // Still locked: nobody else can be using this file now. Removing it
                    // keeps the location clean; a waiter that opened it notices and retries.
                    if same_file(path, &f) {
                        let _ = fs::remove_file(&*path);
                    }
                    drop(f);
                    if let Some(dir) = path.parent() {
                        let _ = fs::remove_dir(dir);
                    }
                }
            }
            Kind::Lease(lease) => {
                lease.stop_heartbeat();
                if lease.released {
                    return;
                }
                // A commit dropped before it finished (its task cancelled): release in the
                // background if a runtime is still there, otherwise the lease expires.
                if let Ok(handle) = tokio::runtime::Handle::try_current() {
                    let store = self.store.clone();
                    let rel = lease.rel.clone();
                    let state = lease.state.clone();
                    let duration = lease.duration;
                    handle.spawn(async move {
                        let token = state.lock().await.record.token.clone();
                        release_lease(&store, &rel, &token, duration).await;
                    });
                }
            }
        }
    }
}

/// Waiting for a lock: says so once at the default verbosity (who holds it, since when), then
/// once a minute; tells the hooks once; gives up at the deadline (see
/// [`crate::SinkOptions::lock_timeout`]); backs off up to half a second between tries.
struct Poll {
    delay: Duration,
    started: Instant,
    /// When the last line was printed.
    said: Option<Instant>,
}

/// How often a waiter says it is still waiting.
const STILL_WAITING: Duration = Duration::from_secs(60);

impl Poll {
    fn new() -> Poll {
        Poll {
            delay: Duration::from_millis(20),
            started: Instant::now(),
            said: None,
        }
    }

    async fn wait(
        &mut self,
        sink: &Sink,
        table: &str,
        partition: Option<&str>,
        holder: &str,
        deadline: Instant,
    ) -> Result<(), SinkError> {
        let now = Instant::now();
        match self.said {
            None => {
                self.said = Some(now);
                tracing::warn!(
                    "{table}: waiting for {holder} to finish writing it (giving up in {} s)",
                    deadline.saturating_duration_since(now).as_secs()
                );
                if let Some(h) = &sink.options.hooks {
                    h.waiting(table, partition, holder);
                }
            }
            Some(at) if now.duration_since(at) >= STILL_WAITING => {
                self.said = Some(now);
                tracing::warn!(
                    "{table}: still waiting for {holder} ({} min so far, giving up in {} s)",
                    now.duration_since(self.started).as_secs() / 60,
                    deadline.saturating_duration_since(now).as_secs()
                );
            }
            Some(_) => {}
        }
        if now >= deadline {
            return Err(SinkError::Locked {
                table: table.to_string(),
                holder: holder.to_string(),
            });
        }
        tokio::time::sleep(self.delay.min(deadline - now)).await;
        self.delay = (self.delay * 2).min(Duration::from_millis(500));
        Ok(())
    }
}

/// Whether process `pid` of this machine is alive (a process of another user counts).
fn process_alive(pid: u32) -> bool {
    #[cfg(unix)]
    {
        let Ok(pid) = libc::pid_t::try_from(pid) else {
            return true;
        };
        // SAFETY: signal 0 checks for existence and permission only; nothing is sent.
        let rc = unsafe { libc::kill(pid, 0) };
        rc == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
    }
    #[cfg(not(unix))]
    {
        let _ = pid;
        true
    }
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX / 2))
        .unwrap_or(0)
}

/// `2024-03-07T10:00:00Z` from milliseconds since the epoch.
pub(crate) fn utc(ms: u64) -> String {
    let secs = ms / 1000;
    let days = i64::try_from(secs / 86_400).unwrap_or(0);
    let rem = secs % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// This machine's name, for the messages that say who holds a lock.
pub(crate) fn host_name() -> String {
    #[cfg(unix)]
    {
        let mut buf = [0u8; 256];
        // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
        let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
        if rc == 0 {
            let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
            let name = String::from_utf8_lossy(&buf[..end]).into_owned();
            if !name.is_empty() {
                return name;
            }
        }
    }
    std::env::var("COMPUTERNAME")
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "an unknown host".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_formats_the_epoch_and_leap_days() {
        assert_eq!(utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(utc(1_709_805_600_123), "2024-03-07T10:00:00Z");
    }
}
