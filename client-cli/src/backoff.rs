//! Exponential backoff with jitter, for reconnecting the sync stream and retrying sends.
//!
//! Each failure doubles the base delay up to a cap; the actual delay is drawn uniformly from the
//! upper half of the base ("equal jitter"), so many clients that lost the same server do not all
//! come back at the same instant, yet none retries in a tight loop.

use std::time::Duration;

/// Backoff settings: the first delay and the cap.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackoffPolicy {
    /// Base delay after the first failure.
    pub initial: Duration,
    /// The base delay never grows past this.
    pub max: Duration,
}

impl Default for BackoffPolicy {
    /// 250 ms doubling up to 30 s.
    fn default() -> Self {
        BackoffPolicy {
            initial: Duration::from_millis(250),
            max: Duration::from_secs(30),
        }
    }
}

/// The state of one backoff sequence.
#[derive(Debug, Clone)]
pub struct Backoff {
    policy: BackoffPolicy,
    failures: u32,
    rng: fastrand::Rng,
}

impl Backoff {
    /// A fresh sequence (no failures yet).
    pub fn new(policy: BackoffPolicy) -> Backoff {
        Backoff {
            policy,
            failures: 0,
            rng: fastrand::Rng::new(),
        }
    }

    /// A sequence with a fixed random seed, for tests.
    pub fn with_seed(policy: BackoffPolicy, seed: u64) -> Backoff {
        Backoff {
            policy,
            failures: 0,
            rng: fastrand::Rng::with_seed(seed),
        }
    }

    /// Consecutive failures so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// The base delay for the current number of failures (before jitter).
    fn base(&self, failures: u32) -> Duration {
        let exp = failures.saturating_sub(1).min(20);
        self.policy
            .initial
            .saturating_mul(1u32 << exp)
            .min(self.policy.max)
    }

    /// Records a failure and returns how long to wait before the next attempt.
    pub fn next_delay(&mut self) -> Duration {
        self.failures = self.failures.saturating_add(1);
        let base = self.base(self.failures);
        let half = base / 2;
        let jitter_ms = u64::try_from(half.as_millis()).unwrap_or(u64::MAX);
        half + Duration::from_millis(self.rng.u64(0..=jitter_ms))
    }

    /// Records a success: the next failure starts again from the initial delay.
    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> BackoffPolicy {
        BackoffPolicy {
            initial: Duration::from_millis(100),
            max: Duration::from_secs(2),
        }
    }

    #[test]
    fn grows_within_bounds_and_caps() {
        let mut b = Backoff::with_seed(policy(), 7);
        let mut base = Duration::from_millis(100);
        for _ in 0..12 {
            let d = b.next_delay();
            assert!(
                d >= base / 2 && d <= base,
                "{d:?} not in [{:?}, {base:?}]",
                base / 2
            );
            base = (base * 2).min(Duration::from_secs(2));
        }
        assert_eq!(b.failures(), 12);
    }

    #[test]
    fn jitter_varies() {
        let mut b = Backoff::with_seed(policy(), 1);
        for _ in 0..5 {
            b.next_delay();
        }
        let delays: Vec<_> = (0..10).map(|_| b.next_delay()).collect();
        assert!(delays.iter().any(|d| *d != delays[0]), "{delays:?}");
    }

    #[test]
    fn reset_starts_over() {
        let mut b = Backoff::with_seed(policy(), 3);
        for _ in 0..6 {
            b.next_delay();
        }
        b.reset();
        assert_eq!(b.failures(), 0);
        assert!(b.next_delay() <= Duration::from_millis(100));
    }

    #[test]
    fn huge_failure_counts_do_not_overflow() {
        let mut b = Backoff::with_seed(policy(), 5);
        for _ in 0..100 {
            assert!(b.next_delay() <= Duration::from_secs(2));
        }
    }
}
