//! Sync acknowledgements, written in groups.
//!
//! Every long-poll with `after=N` acknowledges `N`. One write transaction per poll would put a
//! write behind every delivered answer; instead each acknowledgement is recorded here and a
//! worker ([`crate::workers::flush_cursors`]) writes everything pending in one transaction,
//! round after round while there is something to write. A poll answers only once the round
//! holding its acknowledgement has committed ([`Cursors::durable`]), so an acknowledgement is as
//! durable as before: after a crash, a device resumes exactly after what it acknowledged.
//! A poll without `after` reads its device's cursor here first, so it never goes back on an
//! acknowledgement whose round is still being written.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};

use tokio::sync::{watch, Notify};

/// A flush round: acknowledgements recorded during it are written together.
pub type Round = u64;

#[derive(Debug, Default)]
struct Pending {
    /// Newest acknowledgement per device not yet written, and the round that writes it.
    cursors: HashMap<String, (i64, Round)>,
    /// The round that acknowledgements recorded now belong to.
    collecting: Round,
}

/// Pending cursor acknowledgements, by device id.
#[derive(Debug)]
pub struct Cursors {
    pending: Mutex<Pending>,
    /// Wakes the flusher.
    wake: Notify,
    /// The newest round that has been written (or given up on).
    flushed: watch::Sender<Round>,
}

impl Default for Cursors {
    fn default() -> Self {
        Cursors {
            pending: Mutex::new(Pending {
                cursors: HashMap::new(),
                collecting: 1,
            }),
            wake: Notify::new(),
            flushed: watch::channel(0).0,
        }
    }
}

impl Cursors {
    fn lock(&self) -> MutexGuard<'_, Pending> {
        self.pending
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Records that the device acknowledged everything up to `cursor` (never moves back), and
    /// returns the round that will write it. An acknowledgement that does not move the pending
    /// one answers with the pending one's round: that write covers it. (Answering with the
    /// collecting round instead could wait forever: when the pending value's round is written,
    /// an unmoved entry is forgotten, so the collecting round had nothing to write and was
    /// never closed: a second stream of the same device, opened with the same cursor while the
    /// first one's round was being written, hung.)
    pub fn acknowledge(&self, device_id: &str, cursor: i64) -> Round {
        let round = {
            let mut pending = self.lock();
            let collecting = pending.collecting;
            match pending.cursors.get_mut(device_id) {
                Some((stored, round)) if *stored >= cursor => return *round,
                Some(entry) => *entry = (cursor, collecting),
                None => {
                    pending
                        .cursors
                        .insert(device_id.to_string(), (cursor, collecting));
                }
            }
            collecting
        };
        self.wake.notify_one();
        round
    }

    /// Resolves once `round` has been written.
    pub async fn durable(&self, round: Round) {
        let mut flushed = self.flushed.subscribe();
        // The sender lives as long as `self`.
        let _ = flushed.wait_for(|done| *done >= round).await;
    }

    /// The device's acknowledgement not yet written, if any.
    pub fn pending(&self, device_id: &str) -> Option<i64> {
        self.lock()
            .cursors
            .get(device_id)
            .map(|(cursor, _)| *cursor)
    }

    /// Waits until something is pending, then closes the collecting round and returns it with
    /// everything pending. The entries stay until [`Cursors::written`], so a poll in between
    /// still sees them.
    pub async fn next_round(&self) -> (Round, Vec<(String, i64)>) {
        loop {
            {
                let mut pending = self.lock();
                if !pending.cursors.is_empty() {
                    let round = pending.collecting;
                    pending.collecting += 1;
                    let entries = pending
                        .cursors
                        .iter()
                        .map(|(device, (cursor, _))| (device.clone(), *cursor))
                        .collect();
                    return (round, entries);
                }
            }
            self.wake.notified().await;
        }
    }

    /// Everything pending now, without closing a round (the final write at shutdown).
    pub fn snapshot(&self) -> Vec<(String, i64)> {
        self.lock()
            .cursors
            .iter()
            .map(|(device, (cursor, _))| (device.clone(), *cursor))
            .collect()
    }

    /// Forgets the written entries that did not move since the snapshot, and releases the
    /// polls waiting for `round`.
    pub fn written(&self, round: Round, entries: &[(String, i64)]) {
        {
            let mut pending = self.lock();
            for (device, cursor) in entries {
                if pending.cursors.get(device).map(|(c, _)| c) == Some(cursor) {
                    pending.cursors.remove(device);
                }
            }
        }
        self.flushed.send_modify(|done| *done = (*done).max(round));
    }

    /// Releases the polls waiting for `round` although it could not be written (the entries
    /// stay pending for the next round).
    pub fn failed(&self, round: Round) {
        {
            // What stays pending belongs to the round collecting now, so that a later
            // acknowledgement of the same value waits for a write that happens.
            let mut pending = self.lock();
            let collecting = pending.collecting;
            for (_, entry_round) in pending.cursors.values_mut() {
                *entry_round = collecting;
            }
        }
        self.flushed.send_modify(|done| *done = (*done).max(round));
    }

    /// Forgets a device (logged out or expired).
    pub fn forget(&self, device_id: &str) {
        self.lock().cursors.remove(device_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_newest_acknowledgement() {
        let c = Cursors::default();
        c.acknowledge("d", 5);
        c.acknowledge("d", 3);
        assert_eq!(c.pending("d"), Some(5));
        c.acknowledge("d", 9);
        assert_eq!(c.pending("d"), Some(9));
        assert_eq!(c.pending("other"), None);
    }

    #[tokio::test]
    async fn an_acknowledgement_after_the_round_closed_waits_for_the_next() {
        let c = Cursors::default();
        let first = c.acknowledge("a", 1);
        assert_eq!(c.acknowledge("b", 2), first);
        let (round, entries) = c.next_round().await;
        assert_eq!(round, first);
        let second = c.acknowledge("b", 7);
        assert!(second > first);
        c.written(round, &entries);
        assert_eq!(c.pending("a"), None);
        assert_eq!(c.pending("b"), Some(7));
        c.durable(first).await;
        let waiting = tokio::time::timeout(std::time::Duration::from_millis(20), c.durable(second));
        assert!(waiting.await.is_err(), "round {second} is not written yet");
        let (round, entries) = c.next_round().await;
        c.written(round, &entries);
        c.durable(second).await;
    }

    /// Two streams of one device open with the same cursor, the second while the first one's
    /// round is being written: both are released by that write (this used to hang).
    #[tokio::test]
    async fn the_same_acknowledgement_again_waits_for_the_round_that_writes_it() {
        let c = Cursors::default();
        let first = c.acknowledge("d", 5);
        let (round, entries) = c.next_round().await;
        assert_eq!(round, first);
        assert_eq!(c.acknowledge("d", 5), first);
        assert_eq!(c.acknowledge("d", 4), first);
        c.written(round, &entries);
        assert_eq!(c.pending("d"), None);
        tokio::time::timeout(std::time::Duration::from_secs(5), c.durable(first))
            .await
            .expect("released by the write of its round");
        // A failed round: what stays pending moves to the round collecting now.
        let third = c.acknowledge("d", 9);
        let (round, _) = c.next_round().await;
        assert_eq!(round, third);
        c.failed(round);
        let again = c.acknowledge("d", 9);
        assert!(again > third, "waits for a write that will happen");
        let (round, entries) = c.next_round().await;
        assert_eq!(round, again);
        c.written(round, &entries);
        c.durable(again).await;
    }
}
