//! Bounds on the requests a client sends: how many at once, and optionally how many per minute.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Mutex, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

#[derive(Debug)]
pub(crate) struct Limiter {
    permits: Arc<Semaphore>,
    /// Minimum spacing between request starts, from the requests-per-minute budget.
    spacing: Option<Duration>,
    next_start: Mutex<Option<Instant>>,
    in_flight: AtomicU64,
    max_in_flight: AtomicU64,
}

/// Held while a request is in flight.
pub(crate) struct Slot<'a> {
    _permit: Option<OwnedSemaphorePermit>,
    limiter: &'a Limiter,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.limiter.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Limiter {
    pub(crate) fn new(concurrency: usize, requests_per_minute: Option<u32>) -> Limiter {
        Limiter {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
            spacing: requests_per_minute
                .filter(|r| *r > 0)
                .map(|r| Duration::from_secs(60) / r),
            next_start: Mutex::new(None),
            in_flight: AtomicU64::new(0),
            max_in_flight: AtomicU64::new(0),
        }
    }

    /// Waits for a free slot and for the rate budget, then counts the request as in flight.
    pub(crate) async fn acquire(&self) -> Slot<'_> {
        // The semaphore is never closed, so this always holds a permit.
        let permit = self.permits.clone().acquire_owned().await.ok();
        if let Some(spacing) = self.spacing {
            let start = {
                let mut next = self.next_start.lock().await;
                let now = Instant::now();
                let start = next.map_or(now, |n| n.max(now));
                *next = Some(start + spacing);
                start
            };
            tokio::time::sleep_until(start).await;
        }
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        Slot {
            _permit: permit,
            limiter: self,
        }
    }

    pub(crate) fn max_in_flight(&self) -> u64 {
        self.max_in_flight.load(Ordering::SeqCst)
    }
}
