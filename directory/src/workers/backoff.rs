//! Exponential backoff with jitter for failed pushes: `PUSH_RETRY_MIN_MS` doubling per
//! consecutive failure, ±20% jitter, capped at `PUSH_RETRY_MAX_MS`.

/// Jitter range, in thousandths of the delay (±20%).
pub const JITTER_PERMILLE: i64 = 200;

/// The bounds of the backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (ms).
    pub min_ms: u64,
    /// Longest delay (ms).
    pub max_ms: u64,
}

impl Backoff {
    /// The delay after `failures` consecutive failures (1 for the first), with `jitter_permille`
    /// in `-200..=200` applied; never above `max_ms`, never 0.
    pub fn delay_ms(&self, failures: u32, jitter_permille: i64) -> u64 {
        let doublings = failures.saturating_sub(1).min(40);
        let base = self
            .min_ms
            .saturating_mul(1u64 << doublings)
            .min(self.max_ms);
        let jitter = jitter_permille.clamp(-JITTER_PERMILLE, JITTER_PERMILLE);
        let base = i128::from(base);
        let delayed = base + base * i128::from(jitter) / 1000;
        u64::try_from(delayed.clamp(1, i128::from(self.max_ms.max(1)))).unwrap_or(self.max_ms)
    }

    /// [`delay_ms`](Self::delay_ms) with random jitter.
    pub fn random_delay_ms(&self, failures: u32) -> u64 {
        self.delay_ms(failures, random_jitter())
    }
}

/// A random jitter in `-200..=200` thousandths (0 if the OS has no randomness to give).
pub fn random_jitter() -> i64 {
    let mut bytes = [0u8; 2];
    if getrandom::fill(&mut bytes).is_err() {
        return 0;
    }
    i64::from(u16::from_le_bytes(bytes) % 401) - JITTER_PERMILLE
}

#[cfg(test)]
mod tests {
    use super::*;

    const B: Backoff = Backoff {
        min_ms: 5_000,
        max_ms: 900_000,
    };

    #[test]
    fn doubles_from_the_minimum_up_to_the_cap() {
        let delays: Vec<u64> = (1..=10).map(|n| B.delay_ms(n, 0)).collect();
        assert_eq!(
            delays,
            [5_000, 10_000, 20_000, 40_000, 80_000, 160_000, 320_000, 640_000, 900_000, 900_000]
        );
        assert_eq!(B.delay_ms(0, 0), 5_000);
        assert_eq!(B.delay_ms(u32::MAX, 0), 900_000);
    }

    #[test]
    fn jitter_stays_within_twenty_percent_and_under_the_cap() {
        assert_eq!(B.delay_ms(1, 200), 6_000);
        assert_eq!(B.delay_ms(1, -200), 4_000);
        assert_eq!(B.delay_ms(1, 5_000), 6_000);
        assert_eq!(B.delay_ms(20, 200), 900_000);
        assert_eq!(B.delay_ms(20, -200), 720_000);
        for _ in 0..100 {
            let j = random_jitter();
            assert!((-200..=200).contains(&j));
            let d = B.random_delay_ms(2);
            assert!((8_000..=12_000).contains(&d), "{d}");
        }
    }

    #[test]
    fn tiny_bounds_never_give_zero() {
        let b = Backoff {
            min_ms: 1,
            max_ms: 1,
        };
        assert_eq!(b.delay_ms(1, -200), 1);
    }
}
