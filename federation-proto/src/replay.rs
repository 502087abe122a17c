//! Replay memory for signed requests (`X-Hearth`): the `sig` of every accepted request is
//! remembered until its timestamp can no longer pass the skew check (`ts + max_skew`, never
//! earlier than `now + max_skew`), so a captured request cannot be accepted twice. A pure data
//! structure: the caller passes the time and keeps it behind its own lock. In memory only: a
//! restart forgets, but the skew window still bounds what could be replayed to requests signed
//! in the last few minutes before the restart.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};

use crate::signing::DEFAULT_MAX_SKEW_MS;

/// Signatures seen, with the time (ms) after which they no longer matter.
#[derive(Debug, Clone)]
pub struct ReplayMemory {
    max_skew_ms: u64,
    seen: HashMap<String, u64>,
    /// The same signatures by when they may be forgotten, soonest first.
    expiries: BinaryHeap<Reverse<(u64, String)>>,
}

impl Default for ReplayMemory {
    /// A memory for requests accepted with [`DEFAULT_MAX_SKEW_MS`] of clock skew.
    fn default() -> ReplayMemory {
        ReplayMemory::new(DEFAULT_MAX_SKEW_MS)
    }
}

impl ReplayMemory {
    /// A memory for requests accepted with up to `max_skew_ms` of clock skew.
    pub fn new(max_skew_ms: u64) -> ReplayMemory {
        ReplayMemory {
            max_skew_ms,
            seen: HashMap::new(),
            expiries: BinaryHeap::new(),
        }
    }

    /// Remembers `sig` of a request signed at `ts_ms`, received at `now_ms`; `false` if it was
    /// already seen (a replay). Forgets what can no longer pass the skew check.
    pub fn first_time(&mut self, sig: &str, ts_ms: u64, now_ms: u64) -> bool {
        self.forget_before(now_ms);
        if self.seen.contains_key(sig) {
            return false;
        }
        let until = ts_ms.max(now_ms).saturating_add(self.max_skew_ms);
        self.seen.insert(sig.to_owned(), until);
        self.expiries.push(Reverse((until, sig.to_owned())));
        true
    }

    /// How many signatures are remembered.
    pub fn len(&self) -> usize {
        self.seen.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.seen.is_empty()
    }

    fn forget_before(&mut self, now_ms: u64) {
        while let Some(Reverse((until, _))) = self.expiries.peek() {
            if *until >= now_ms {
                break;
            }
            if let Some(Reverse((_, sig))) = self.expiries.pop() {
                self.seen.remove(&sig);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signature_is_accepted_once_within_the_window() {
        let mut memory = ReplayMemory::new(1000);
        assert!(memory.first_time("a", 10_000, 10_000));
        assert!(!memory.first_time("a", 10_000, 10_500));
        assert!(memory.first_time("b", 10_000, 10_500));
        assert_eq!(memory.len(), 2);
        // Still refused at the last instant the skew check would pass it.
        assert!(!memory.first_time("a", 10_000, 11_000));
    }

    #[test]
    fn old_signatures_are_forgotten_once_they_cannot_verify() {
        let mut memory = ReplayMemory::new(1000);
        assert!(memory.first_time("a", 10_000, 10_000));
        // At 11_001 a request signed at 10_000 fails the skew check anyway.
        assert!(memory.first_time("c", 11_001, 11_001));
        assert_eq!(memory.len(), 1);
        assert!(memory.first_time("a", 10_000, 11_001));
    }

    #[test]
    fn a_request_dated_ahead_is_remembered_until_its_own_window_ends() {
        let mut memory = ReplayMemory::new(1000);
        assert!(memory.first_time("ahead", 10_900, 10_000));
        assert!(!memory.first_time("ahead", 10_900, 11_900));
        assert!(memory.first_time("later", 11_901, 11_901));
        assert!(memory.first_time("ahead", 10_900, 11_901));
        assert!(ReplayMemory::default().is_empty());
    }
}
