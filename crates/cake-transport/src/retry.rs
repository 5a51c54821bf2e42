//! Retry policy: exponential backoff with full jitter, bounded by attempts and by total time.

use std::time::Duration;

use rand::Rng;

/// How failed attempts are retried.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicy {
    /// Attempts in all, the first one included (1 means no retry).
    pub max_attempts: u32,
    /// No new attempt starts after this much time since the first one.
    pub max_elapsed: Duration,
    /// Backoff ceiling before the first retry; it doubles per retry.
    pub base_delay: Duration,
    /// Largest backoff ceiling.
    pub max_delay: Duration,
    /// Longest wait honoured from a `Retry-After` header; a server asking for more fails the
    /// page at once (`TransportError::RetryAfterTooLong`).
    pub max_retry_after: Duration,
    /// Pulls in all of a whole window whose pages were inconsistent (at most `max_attempts`).
    pub window_attempts: u32,
}

impl Default for RetryPolicy {
    fn default() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 6,
            max_elapsed: Duration::from_secs(10 * 60),
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(60),
            max_retry_after: Duration::from_secs(60),
            window_attempts: 3,
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    pub fn none() -> RetryPolicy {
        RetryPolicy {
            max_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The wait before retry number `retry` (1 for the first retry): a uniformly random duration
    /// between zero and `min(max_delay, base_delay * 2^(retry-1))` ("full jitter").
    pub fn backoff(&self, retry: u32, rng: &mut impl Rng) -> Duration {
        let exp = retry.saturating_sub(1).min(30);
        let ceiling = self
            .base_delay
            .saturating_mul(1u32 << exp)
            .min(self.max_delay);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        if nanos == 0 {
            return Duration::ZERO;
        }
        Duration::from_nanos(rng.random_range(0..=nanos))
    }
}

/// How long a `Retry-After` value asks to wait from `now`: delay-seconds or an HTTP date (a
/// date in the past asks for no wait); `None` when it is neither.
pub fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(v).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn full_jitter_stays_under_the_ceiling() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        let mut rng = rand::rngs::SmallRng::seed_from_u64(7);
        for retry in 1..10 {
            let ceiling = Duration::from_millis((100u64 << (retry - 1)).min(1000));
            for _ in 0..200 {
                assert!(p.backoff(retry, &mut rng) <= ceiling);
            }
        }
        // Jitter actually varies.
        let draws: std::collections::BTreeSet<_> =
            (0..20).map(|_| p.backoff(3, &mut rng)).collect();
        assert!(draws.len() > 10);
    }

    #[test]
    fn retry_after_forms() {
        let now = std::time::UNIX_EPOCH + Duration::from_secs(784_111_777 - 10);
        assert_eq!(
            parse_retry_after("120", now),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
            Some(Duration::from_secs(10))
        );
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
