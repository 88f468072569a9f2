//! Retrying transient failures: exponential backoff with jitter, honouring the service's
//! `Retry-After`, bounded in attempts and in total time.

use std::time::Duration;

/// How transient failures are retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    /// The first backoff.
    pub initial_backoff: Duration,
    /// The longest backoff (a longer `Retry-After` is still honoured, within `max_total`).
    pub max_backoff: Duration,
    /// The most time spent waiting for one request's retries.
    pub max_total: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 6,
            initial_backoff: Duration::from_millis(250),
            max_backoff: Duration::from_secs(30),
            max_total: Duration::from_secs(120),
        }
    }
}

impl RetryPolicy {
    /// No retries at all.
    #[must_use]
    pub fn none() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// The wait before attempt `attempt + 1` (attempts count from 1), or `None` when the
    /// policy allows no more. `waited` is the time already spent waiting; `retry_after` is
    /// what the service asked for; `jitter` is a number in `[0, 1)`.
    #[must_use]
    pub fn backoff(
        &self,
        attempt: u32,
        waited: Duration,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponent = attempt.saturating_sub(1).min(20);
        let base = self
            .initial_backoff
            .saturating_mul(1u32 << exponent)
            .min(self.max_backoff);
        // "Equal jitter": half fixed, half random, so waits spread but never collapse to 0.
        let jittered = base.mul_f64(0.5 + 0.5 * jitter.clamp(0.0, 1.0));
        let wait = match retry_after {
            Some(asked) => asked.max(jittered.min(asked + base)),
            None => jittered,
        };
        (waited + wait <= self.max_total).then_some(wait)
    }
}

/// A small deterministic generator for jitter (xorshift64*), seeded per engine.
#[derive(Debug, Clone)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub(crate) fn new(seed: u64) -> Self {
        Self(seed | 1)
    }

    pub(crate) fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_bounded() {
        let p = RetryPolicy {
            max_attempts: 10,
            initial_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            max_total: Duration::from_secs(60),
        };
        let waits: Vec<_> = (1..6)
            .map(|a| p.backoff(a, Duration::ZERO, None, 0.999).unwrap())
            .collect();
        assert!(waits.windows(2).all(|w| w[0] <= w[1]), "{waits:?}");
        assert!(waits.iter().all(|w| *w <= Duration::from_secs(1)));
        assert!(p.backoff(1, Duration::ZERO, None, 0.0).unwrap() >= Duration::from_millis(50));
    }

    #[test]
    fn retry_after_is_honoured_and_attempts_and_time_are_bounded() {
        let p = RetryPolicy::default();
        assert!(
            p.backoff(1, Duration::ZERO, Some(Duration::from_secs(7)), 0.3)
                .unwrap()
                >= Duration::from_secs(7)
        );
        assert_eq!(p.backoff(p.max_attempts, Duration::ZERO, None, 0.5), None);
        assert_eq!(
            p.backoff(
                1,
                Duration::from_secs(119),
                Some(Duration::from_secs(5)),
                0.5
            ),
            None
        );
        assert_eq!(
            RetryPolicy::none().backoff(1, Duration::ZERO, None, 0.5),
            None
        );
    }

    #[test]
    fn jitter_is_in_range() {
        let mut j = Jitter::new(42);
        for _ in 0..1000 {
            let x = j.next();
            assert!((0.0..1.0).contains(&x));
        }
    }
}
