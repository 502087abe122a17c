//! Exponential backoff with jitter for retries to other servers (the homeserver's outbox, the
//! directory's pushes): the minimum delay doubling per consecutive failure, ±20% jitter, capped
//! at the maximum. Pure: the caller draws the jitter ([`jitter_from`]) from its random source.

/// Jitter range, in thousandths of the delay (±20%).
pub const JITTER_PERMILLE: i64 = 200;

/// The bounds of a backoff.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// Delay after the first failure (ms).
    pub min_ms: u64,
    /// Longest delay (ms).
    pub max_ms: u64,
}

impl Backoff {
    /// Bounds with the maximum never below the minimum.
    pub fn new(min_ms: u64, max_ms: u64) -> Backoff {
        Backoff {
            min_ms,
            max_ms: max_ms.max(min_ms),
        }
    }

    /// The delay after `failures` consecutive failures (1 for the first), with
    /// `jitter_permille` (clamped to `-200..=200`) applied; never above `max_ms`, never 0.
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
}

/// A jitter in `-200..=200` thousandths from two random bytes (all values about equally
/// likely).
pub fn jitter_from(random: [u8; 2]) -> i64 {
    i64::from(u16::from_le_bytes(random) % 401) - JITTER_PERMILLE
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
        assert_eq!(B.delay_ms(3, -200), 16_000);
        assert_eq!(B.delay_ms(3, 200), 24_000);
        assert_eq!(B.delay_ms(20, 200), 900_000);
        assert_eq!(B.delay_ms(20, -200), 720_000);
        for bytes in [[0, 0], [255, 255], [144, 1], [145, 1], [7, 99]] {
            let j = jitter_from(bytes);
            assert!((-200..=200).contains(&j), "{j}");
            let d = B.delay_ms(2, j);
            assert!((8_000..=12_000).contains(&d), "{d}");
        }
        assert_eq!(jitter_from([0, 0]), -200);
        assert_eq!(jitter_from([144, 1]), 200); // 400
    }

    #[test]
    fn tiny_bounds_never_give_zero_and_max_is_never_below_min() {
        assert_eq!(Backoff::new(1, 1).delay_ms(1, -200), 1);
        assert_eq!(Backoff::new(10_000, 10), Backoff::new(10_000, 10_000));
    }
}
