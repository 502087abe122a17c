//! Replay detection for signed requests: the `sig` of every accepted request is remembered
//! until its timestamp can no longer pass the skew check (`ts + max_skew`), so a captured
//! request cannot be sent again. In memory: a restart forgets, but the skew window still bounds
//! what could be replayed to requests signed in the last few minutes before the restart.

use std::collections::HashMap;
use std::sync::Mutex;

/// Signatures seen, with the time (ms) after which they no longer matter.
#[derive(Debug)]
pub struct ReplayCache {
    seen: Mutex<HashMap<String, u64>>,
    max_skew_ms: u64,
}

impl ReplayCache {
    /// A cache for requests accepted with up to `max_skew_ms` of clock skew.
    pub fn new(max_skew_ms: u64) -> ReplayCache {
        ReplayCache {
            seen: Mutex::new(HashMap::new()),
            max_skew_ms,
        }
    }

    /// Remembers `sig` of a request signed at `ts_ms`; `false` if it was already seen.
    pub fn first_time(&self, sig: &str, ts_ms: u64, now_ms: u64) -> bool {
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        seen.retain(|_, until| *until >= now_ms);
        let until = ts_ms.max(now_ms).saturating_add(self.max_skew_ms);
        match seen.entry(sig.to_string()) {
            std::collections::hash_map::Entry::Occupied(_) => false,
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(until);
                true
            }
        }
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_once_within_the_window() {
        let cache = ReplayCache::new(1000);
        assert!(cache.first_time("a", 10_000, 10_000));
        assert!(!cache.first_time("a", 10_000, 10_500));
        assert!(cache.first_time("b", 10_000, 10_500));
        assert_eq!(cache.len(), 2);
    }

    #[test]
    fn old_signatures_are_forgotten_once_they_cannot_verify() {
        let cache = ReplayCache::new(1000);
        assert!(cache.first_time("a", 10_000, 10_000));
        // At 11_001 a request signed at 10_000 fails the skew check anyway.
        assert!(cache.first_time("c", 11_001, 11_001));
        assert_eq!(cache.len(), 1);
        assert!(cache.first_time("a", 10_000, 11_001));
    }
}
