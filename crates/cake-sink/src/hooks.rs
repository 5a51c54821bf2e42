//! Calls into a commit at the points where another writer can interleave, for tests that
//! force an interleaving instead of hoping for one.

use std::sync::Arc;

/// Calls at the points of a commit where another writer can interleave, so that tests can
/// force an interleaving instead of hoping for one. Both are called on the committing task
/// and may block it.
pub trait CommitHooks: Send + Sync {
    /// The table's lock has just been taken, before anything of the table is read or written.
    /// `partition` is `None` for an unpartitioned table and for [`Sink::open_table`](crate::Sink::open_table).
    fn locked(&self, table: &str, partition: Option<&str>) {
        let _ = (table, partition);
    }

    /// The table is locked by another writer (`holder` says who); called once per wait,
    /// before the first retry.
    fn waiting(&self, table: &str, partition: Option<&str>, holder: &str) {
        let _ = (table, partition, holder);
    }

    /// A Delta commit has read the table (`version`: its latest version, `None` when the table
    /// does not exist yet) and is about to build its transaction on that snapshot. Called
    /// once per attempt, on a blocking thread: a test can commit from another writer here to
    /// make the snapshot stale.
    fn delta_read(&self, table: &str, partition: Option<&str>, version: Option<u64>) {
        let _ = (table, partition, version);
    }

    /// A Delta commit has just written its log entry. Returning `true` reports the commit as
    /// failed with an I/O error anyway, as when the answer to a write that landed is lost.
    fn delta_lose_response(&self, table: &str, partition: Option<&str>) -> bool {
        let _ = (table, partition);
        false
    }
}

/// Shared by the sink's options' `Debug` and `PartialEq`.
pub(crate) fn same_hooks(
    a: &Option<Arc<dyn CommitHooks>>,
    b: &Option<Arc<dyn CommitHooks>>,
) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => std::ptr::addr_eq(Arc::as_ptr(a), Arc::as_ptr(b)),
        _ => false,
    }
}
