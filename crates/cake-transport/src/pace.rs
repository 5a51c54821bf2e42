//! The pace of a body: a body that arrives slower than a minimum rate for a period is given up,
//! as curl's `--speed-limit` / `--speed-time` do. A server that trickles a byte every few seconds
//! never trips an idle timeout, yet would hold a request for hours.

use std::time::Duration;

use tokio::time::Instant;

/// The slowest acceptable body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LowSpeed {
    /// Bytes per second a body must reach, on average over [`LowSpeed::time`].
    pub limit: u32,
    /// The period the average is taken over; a body slower than `limit` for this long is
    /// abandoned (and retried).
    pub time: Duration,
}

impl Default for LowSpeed {
    /// 1 KiB/s over 30 s: a body delivering a byte every 5 s is abandoned after 30 s.
    fn default() -> LowSpeed {
        LowSpeed {
            limit: 1024,
            time: Duration::from_secs(30),
        }
    }
}

/// Bytes received per second over the last `time`, in one-second buckets.
#[derive(Debug)]
pub(crate) struct Pace {
    rule: LowSpeed,
    started: Instant,
    buckets: Vec<u64>,
    /// Whole seconds since `started` of the newest bucket written.
    newest: u64,
}

/// A body below the minimum rate.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct TooSlow {
    /// Bytes per second over the period.
    pub rate: f64,
}

impl Pace {
    pub(crate) fn new(rule: LowSpeed, now: Instant) -> Pace {
        let seconds = rule.time.as_secs().max(1);
        Pace {
            rule,
            started: now,
            buckets: vec![0; seconds as usize],
            newest: 0,
        }
    }

    fn advance(&mut self, now: Instant) -> u64 {
        let second = now.saturating_duration_since(self.started).as_secs();
        let len = self.buckets.len() as u64;
        // Clear the buckets of the seconds that passed without data.
        let from = (self.newest + 1).max(second.saturating_sub(len - 1));
        for s in from..=second {
            self.buckets[(s % len) as usize] = 0;
        }
        self.newest = self.newest.max(second);
        second
    }

    /// `bytes` arrived at `now`.
    pub(crate) fn record(&mut self, now: Instant, bytes: u64) {
        let second = self.advance(now);
        let len = self.buckets.len() as u64;
        self.buckets[(second % len) as usize] += bytes;
    }

    /// Whether the body has been too slow for a whole period, at `now`.
    pub(crate) fn check(&mut self, now: Instant) -> Result<(), TooSlow> {
        if self.rule.limit == 0 || now.saturating_duration_since(self.started) < self.rule.time {
            return Ok(());
        }
        self.advance(now);
        let period = self.buckets.len() as u64;
        let bytes: u64 = self.buckets.iter().sum();
        if bytes < u64::from(self.rule.limit) * period {
            Err(TooSlow {
                rate: bytes as f64 / period as f64,
            })
        } else {
            Ok(())
        }
    }

    /// How long until [`Pace::check`] can next fail: at most a second.
    pub(crate) fn tick(&self) -> Duration {
        Duration::from_secs(1).min(self.rule.time.max(Duration::from_millis(100)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(start: Instant, ms: u64) -> Instant {
        start + Duration::from_millis(ms)
    }

    #[test]
    fn a_trickle_is_given_up_within_the_period() {
        let rule = LowSpeed {
            limit: 100,
            time: Duration::from_secs(10),
        };
        let t0 = Instant::now();
        let mut pace = Pace::new(rule, t0);
        let mut failed_at = None;
        // One byte every 5 s.
        for ms in (0..60_000).step_by(500) {
            if ms % 5_000 == 0 {
                pace.record(at(t0, ms), 1);
            }
            if pace.check(at(t0, ms)).is_err() {
                failed_at = Some(ms);
                break;
            }
        }
        assert_eq!(failed_at, Some(10_000));
    }

    #[test]
    fn a_steady_body_and_a_pause_after_a_burst_pass() {
        let rule = LowSpeed {
            limit: 100,
            time: Duration::from_secs(5),
        };
        let t0 = Instant::now();
        let mut pace = Pace::new(rule, t0);
        for s in 0..60 {
            pace.record(at(t0, s * 1000), 150);
            assert!(pace.check(at(t0, s * 1000 + 999)).is_ok(), "second {s}");
        }
        // A burst covers the following quiet seconds until the period has passed.
        let mut pace = Pace::new(rule, t0);
        pace.record(at(t0, 0), 10_000);
        assert!(pace.check(at(t0, 4_900)).is_ok());
        assert!(pace.check(at(t0, 5_500)).is_err());
    }

    #[test]
    fn zero_disables_the_limit() {
        let rule = LowSpeed {
            limit: 0,
            time: Duration::from_secs(1),
        };
        let t0 = Instant::now();
        let mut pace = Pace::new(rule, t0);
        assert!(pace.check(at(t0, 100_000)).is_ok());
    }
}
