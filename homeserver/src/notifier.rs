//! In-memory wake-ups and deliveries for waiting long-polls.
//!
//! A long-poll subscribes for its user *before* it reads the database, so no commit can slip
//! between the read and the wait. After each commit the writer thread publishes the batch's
//! events here in `seq` order ([`Notifier::publish`], fed by the commit journal of
//! [`crate::db::writer`]). Only users with a subscription have a *slot*, so publishing costs one
//! map look-up per recipient and wakes only the polls that the event concerns — O(waiting
//! devices of the event), not O(connections).
//!
//! A slot also keeps the user's recently published events (already serialized, shared between
//! recipients), so a woken poll answers from memory instead of reading the database. The slot
//! *covers* every event of its user with `seq` in `(base, published_through]`; a poll may answer
//! from it only when its own starting point is at or past `base` (see [`Notifier::collect`]).
//! After its last poll ends a slot lingers for [`LINGER`], so a client that polls again at once
//! is answered from memory too. A slot drops the events a poll acknowledges and keeps at most
//! [`SLOT_CAPACITY`] events; dropping raises `base`, and polls behind it read the database. So
//! memory holds what is delivered but not yet acknowledged, shared between recipients.
//!
//! On Postgres other processes commit too. Their events reach this notifier through the
//! listener, which reads each range of them once and publishes them with their JSON like this
//! process's own ([`crate::remote_appends`]): polls woken by another process's commit answer
//! from memory too. Publications may then arrive out of `seq` order (this process's batch
//! after its flush, the listener's range after the other's), and the same event twice (the
//! listener's range holds this process's events too): [`Notifier::publish`] keeps a slot
//! correct whatever the order. A batch of this process that follows another process's turn
//! ([`crate::db::writer::Continuity::AfterOthers`]) is published after
//! [`Notifier::forget_before`]: the other process's events below it may not have been read
//! yet. When the listener cannot read (an error, a range too long, a lost connection)
//! [`Notifier::notify_all`] makes every poll read the database.
//!
//! # Ephemeral events
//!
//! Typing, presence and receipts are delivered but never stored ([`Notifier::publish_ephemeral`],
//! called through [`crate::services::ephemeral`]). They have no place in the log, so they live
//! only in the slots of their recipients: a user without a slot (no poll or stream now or in the
//! last [`LINGER`]) costs one map look-up and keeps nothing. An item stays in a slot until it
//! lapses (its `expires`), and a poll or stream hands out the items it has not handed out yet
//! ([`Notifier::take_ephemeral`]): each subscription remembers the newest item it took, and
//! each device the newest item any of its polls took, so a device that polls again (a new
//! subscription) does not get the same item twice, and every device of the user gets it once.
//! Items never touch `base`, `published_through` or the log events of a slot: they cannot
//! delay, reorder or displace a log event. A wake-up says whether it concerns the log
//! ([`Wake`]), so an ephemeral item does not make a poll read the database.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::watch;

/// Most events a slot keeps (events its polls have acknowledged are dropped before that).
pub const SLOT_CAPACITY: usize = 256;
/// How long a slot outlives its last poll.
pub const LINGER: Duration = Duration::from_secs(10);
/// Most ephemeral items a slot keeps (the oldest go first; they are lost, not delayed).
pub const EPHEMERAL_CAPACITY: usize = 64;

/// A committed event, serialized once for every device it is delivered to.
#[derive(Debug)]
pub struct Delivered {
    /// Its position in the log.
    pub seq: i64,
    /// Its timestamp (ms since the epoch), for the delivery-latency metric.
    pub ts_ms: i64,
    /// The client's JSON view of it.
    pub json: Box<[u8]>,
}

/// An event that is not in the log (typing, presence, receipts), serialized once for every
/// device it is delivered to.
#[derive(Debug)]
pub struct Ephemeral {
    /// Its order among this notifier's ephemeral items (not a log position).
    pub number: u64,
    /// It is never handed out after this.
    pub expires: Instant,
    /// The client's JSON view of it (the event shape, `seq` 0).
    pub json: Box<[u8]>,
}

/// One committed event and the users it is delivered to.
#[derive(Debug)]
pub struct Publication {
    /// Its position in the log.
    pub seq: i64,
    /// The serialized event; `None` when the notifier does not buffer.
    pub event: Option<Arc<Delivered>>,
    /// Users whose open window covers it.
    pub recipients: Arc<[String]>,
}

#[derive(Debug)]
struct Slot {
    /// Counts the wake-ups that concern the log; an ephemeral item wakes without counting, so
    /// a subscription can tell that the log has nothing new for it ([`Wake`]).
    tx: watch::Sender<u64>,
    /// The slot holds every event of its user with `seq` in `(base, published_through]`.
    base: i64,
    events: VecDeque<Arc<Delivered>>,
    /// When the last subscription of this slot ended; `None` while polls wait.
    released: Option<Instant>,
    /// Ephemeral items not lapsed yet, oldest first.
    ephemeral: VecDeque<Arc<Ephemeral>>,
    /// Per device of the user: the newest ephemeral item one of its polls or streams took.
    taken: HashMap<String, u64>,
}

impl Slot {
    /// Takes a published event of its user (`event`: its JSON, when serialized).
    fn take(&mut self, seq: i64, event: Option<&Arc<Delivered>>) {
        if seq <= self.base {
            return;
        }
        let newest = self.events.back().map_or(i64::MIN, |last| last.seq);
        match event {
            Some(event) if seq > newest => {
                self.events.push_back(Arc::clone(event));
                while self.events.len() > SLOT_CAPACITY {
                    if let Some(dropped) = self.events.pop_front() {
                        self.base = dropped.seq;
                    }
                }
            }
            Some(_) if self.events.binary_search_by_key(&seq, |e| e.seq).is_ok() => {}
            // Without its JSON, or below an event held (a poll may have been answered past
            // it): not covered up to it any more.
            _ => self.forget_through(seq),
        }
    }

    /// Stops covering anything up to `seq`. What it holds above `seq` stays: everything it
    /// held was all of its user's events in its range, so what is left still is for the rest
    /// (clearing it too would leave the slot covering events it no longer holds).
    fn forget_through(&mut self, seq: i64) {
        if self.base >= seq {
            return;
        }
        self.base = seq;
        while self.events.front().is_some_and(|e| e.seq <= seq) {
            self.events.pop_front();
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// Every event with `seq` up to this has been published.
    published_through: i64,
    slots: HashMap<String, Slot>,
    /// The number of the last ephemeral item published.
    ephemeral_number: u64,
}

/// Registry of users with a waiting (or recent) long-poll.
#[derive(Debug)]
pub struct Notifier {
    inner: Mutex<Inner>,
    buffering: AtomicBool,
    /// Whether any ephemeral item was ever published (until then polls skip looking for them).
    ephemeral_used: AtomicBool,
}

impl Default for Notifier {
    fn default() -> Self {
        Notifier::new(0, false)
    }
}

impl Notifier {
    /// A notifier for a log whose events up to `published_through` are already stored.
    /// `buffering` keeps recent events for answering from memory (one writing process only).
    pub fn new(published_through: i64, buffering: bool) -> Notifier {
        Notifier {
            inner: Mutex::new(Inner {
                published_through,
                slots: HashMap::new(),
                ephemeral_number: 0,
            }),
            buffering: AtomicBool::new(buffering),
            ephemeral_used: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // No operation leaves the map half-updated across a panic point, so a poisoned lock is
        // still usable.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether published events are kept for answering from memory.
    pub fn is_buffering(&self) -> bool {
        self.buffering.load(Ordering::Relaxed)
    }

    /// The highest `seq` published so far: every event up to it is committed.
    pub fn published_through(&self) -> i64 {
        self.lock().published_through
    }

    /// Starts listening for events of `user_id`, for its device `device_id`. Events published
    /// after this call wake it.
    pub fn subscribe(self: &Arc<Self>, user_id: &str, device_id: &str) -> Subscription {
        let mut inner = self.lock();
        let published_through = inner.published_through;
        let slot = inner
            .slots
            .entry(user_id.to_string())
            .or_insert_with(|| Slot {
                tx: watch::channel(0u64).0,
                base: published_through,
                events: VecDeque::new(),
                released: None,
                ephemeral: VecDeque::new(),
                taken: HashMap::new(),
            });
        slot.released = None;
        let rx = slot.tx.subscribe();
        let log_wakes = *rx.borrow();
        Subscription {
            log_wakes,
            rx,
            user_id: user_id.to_string(),
            device_id: device_id.to_string(),
            checked_through: published_through,
            ephemeral_taken: slot.taken.get(device_id).copied().unwrap_or(0),
            notifier: Arc::clone(self),
        }
    }

    /// The user's events after `from` (at most `limit`) from memory, or `None` when memory does
    /// not cover them and the caller must read the database.
    ///
    /// `read_db` says the caller read the database after subscribing and found nothing after
    /// `from`: then everything up to the subscription's `checked_through` is accounted for too.
    pub fn collect(
        &self,
        subscription: &Subscription,
        from: i64,
        read_db: bool,
        limit: usize,
    ) -> Option<Vec<Arc<Delivered>>> {
        if !self.is_buffering() {
            return None;
        }
        let mut inner = self.lock();
        let slot = inner.slots.get_mut(&subscription.user_id)?;
        let known = if read_db {
            from.max(subscription.checked_through)
        } else {
            from
        };
        if known < slot.base {
            return None;
        }
        // What this device acknowledged is not kept for it again: the slot holds what is
        // delivered but not yet acknowledged, not history. (Another device of the user that
        // is further behind reads the database.)
        while slot.events.front().is_some_and(|e| e.seq <= from) {
            if let Some(dropped) = slot.events.pop_front() {
                slot.base = slot.base.max(dropped.seq);
            }
        }
        Some(slot.events.iter().take(limit).cloned().collect())
    }

    /// Publishes committed events, in `seq` order within the call: buffers them for, and
    /// wakes, the waiting polls of their recipients.
    ///
    /// Calls may arrive out of `seq` order (this process's own batch, and what the listener
    /// read of another process's, [`crate::remote_appends`]); a slot stays correct whatever
    /// the order. An event the slot already holds is skipped; one past everything it holds is
    /// kept; one without its JSON, or one below an event the slot holds (it may have been
    /// handed out past it), is not kept and the slot stops covering anything up to it, so
    /// polls before it read the database.
    pub fn publish(&self, publications: Vec<Publication>) {
        let mut inner = self.lock();
        let buffering = self.is_buffering();
        let mut woken: Vec<String> = Vec::new();
        for publication in publications {
            inner.published_through = inner.published_through.max(publication.seq);
            if inner.slots.is_empty() {
                continue;
            }
            for user_id in publication.recipients.iter() {
                let Some(slot) = inner.slots.get_mut(user_id) else {
                    continue;
                };
                if buffering {
                    slot.take(publication.seq, publication.event.as_ref());
                }
                woken.push(user_id.clone());
            }
        }
        // Each slot once.
        woken.sort_unstable();
        woken.dedup();
        for user_id in woken {
            if let Some(slot) = inner.slots.get(&user_id) {
                slot.tx.send_modify(|log_wakes| *log_wakes += 1);
            }
        }
    }

    /// Publishes an event that is not in the log to the users in `recipients` (user ids) that
    /// have a slot, until `lifetime` has passed, and wakes their polls and streams. Users
    /// without a slot are skipped: nothing is kept for them. Returns how many users it reached.
    pub fn publish_ephemeral(
        &self,
        recipients: &[String],
        json: Box<[u8]>,
        lifetime: Duration,
    ) -> usize {
        self.ephemeral_used.store(true, Ordering::Relaxed);
        let now = Instant::now();
        let mut inner = self.lock();
        if inner.slots.is_empty() {
            return 0;
        }
        inner.ephemeral_number += 1;
        let item = Arc::new(Ephemeral {
            number: inner.ephemeral_number,
            expires: now + lifetime,
            json,
        });
        let mut reached = 0;
        for user_id in recipients {
            let Some(slot) = inner.slots.get_mut(user_id) else {
                continue;
            };
            // A user named twice gets it once.
            if slot
                .ephemeral
                .back()
                .is_some_and(|last| last.number == item.number)
            {
                continue;
            }
            slot.ephemeral.retain(|e| e.expires > now);
            slot.ephemeral.push_back(Arc::clone(&item));
            while slot.ephemeral.len() > EPHEMERAL_CAPACITY {
                slot.ephemeral.pop_front();
            }
            // Wakes without counting: the log has nothing new.
            slot.tx.send_modify(|_| {});
            reached += 1;
        }
        reached
    }

    /// The ephemeral items of the subscription's user that it has not taken yet and that have
    /// not lapsed, oldest first. Each is taken at most once per subscription, and at most once
    /// per device while the slot lives.
    pub fn take_ephemeral(&self, subscription: &mut Subscription) -> Vec<Arc<Ephemeral>> {
        if !self.ephemeral_used.load(Ordering::Relaxed) {
            return Vec::new();
        }
        let now = Instant::now();
        let mut inner = self.lock();
        let Some(slot) = inner.slots.get_mut(&subscription.user_id) else {
            return Vec::new();
        };
        if slot.ephemeral.is_empty() {
            return Vec::new();
        }
        slot.ephemeral.retain(|e| e.expires > now);
        // Another poll of the same device may have taken some since this one subscribed.
        let device_taken = slot
            .taken
            .get(&subscription.device_id)
            .copied()
            .unwrap_or(0);
        let after = subscription.ephemeral_taken.max(device_taken);
        let fresh: Vec<Arc<Ephemeral>> = slot
            .ephemeral
            .iter()
            .filter(|e| e.number > after)
            .cloned()
            .collect();
        if let Some(newest) = fresh.last() {
            subscription.ephemeral_taken = newest.number;
            slot.taken
                .insert(subscription.device_id.clone(), newest.number);
        }
        fresh
    }

    /// Wakes every waiting poll of this process: another process sharing the database
    /// committed events up to `seq` (0: any), and we do not know whom they concern. Memory no
    /// longer covers anything up to it, so every poll before it re-reads its own events from
    /// the database.
    pub fn notify_all(&self, seq: i64) {
        let mut inner = self.lock();
        inner.published_through = inner.published_through.max(seq);
        for slot in inner.slots.values_mut() {
            // Up to `seq` (0: up to anything) memory covers nothing any more.
            slot.forget_through(if seq > 0 { seq } else { i64::MAX });
            slot.tx.send_modify(|log_wakes| *log_wakes += 1);
        }
    }

    /// When no poll, stream or lingering slot is here: everything up to `seq` counts as
    /// published (a slot made later covers only what comes after it) and `true`. Otherwise
    /// nothing changes and `false`: the caller publishes those events.
    pub fn publish_if_unwatched(&self, seq: i64) -> bool {
        let mut inner = self.lock();
        if !inner.slots.is_empty() {
            return false;
        }
        inner.published_through = inner.published_through.max(seq);
        true
    }

    /// Events up to `seq` may have been appended by another process without reaching this
    /// notifier: no slot covers anything up to it any more (polls before it read the
    /// database). Wakes nobody: whoever they concern is woken when the listener reads them
    /// ([`crate::remote_appends`]).
    pub fn forget_before(&self, seq: i64) {
        let mut inner = self.lock();
        for slot in inner.slots.values_mut() {
            slot.forget_through(seq);
        }
    }

    /// Drops slots whose last poll ended more than `linger` ago, and lapsed ephemeral items.
    pub fn sweep(&self, linger: Duration) {
        let now = Instant::now();
        self.lock().slots.retain(|_, slot| {
            slot.ephemeral.retain(|e| e.expires > now);
            slot.released
                .is_none_or(|at| now.duration_since(at) < linger)
        });
    }

    /// Whether any of these users has a slot (a waiting or recent poll).
    pub fn has_slot_for(&self, user_ids: &[String]) -> bool {
        let inner = self.lock();
        !inner.slots.is_empty() && user_ids.iter().any(|u| inner.slots.contains_key(u))
    }

    /// Whether any poll of this user is waiting now.
    pub fn is_waiting(&self, user_id: &str) -> bool {
        self.lock()
            .slots
            .get(user_id)
            .is_some_and(|slot| slot.released.is_none())
    }

    /// Visits every user with a slot: `None` while a poll, event stream or WebSocket of theirs
    /// is open, else when the last one ended (presence: `crate::services::presence`).
    pub fn for_each_connection(&self, mut visit: impl FnMut(&str, Option<Instant>)) {
        for (user_id, slot) in &self.lock().slots {
            visit(user_id, slot.released);
        }
    }

    /// Number of users with a waiting poll.
    pub fn waiting_users(&self) -> usize {
        self.lock()
            .slots
            .values()
            .filter(|slot| slot.released.is_none())
            .count()
    }
}

/// One waiting poll's interest in its user's events.
#[derive(Debug)]
pub struct Subscription {
    rx: watch::Receiver<u64>,
    /// The slot's count of log wake-ups when this subscription last looked.
    log_wakes: u64,
    user_id: String,
    device_id: String,
    /// Events up to this were published (so committed) before the subscription began.
    checked_through: i64,
    /// The newest ephemeral item this subscription (or its device, before it) took.
    ephemeral_taken: u64,
    notifier: Arc<Notifier>,
}

/// Why a subscription woke up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wake {
    /// Log events for the user may have been committed: read the log.
    Log,
    /// Only ephemeral items came: the log has nothing new since the last wake-up (no read).
    Ephemeral,
}

impl Subscription {
    /// Resolves when an event for this user is published after the subscription (or after the
    /// previous `changed` call), saying whether any of them were log events.
    pub async fn changed(&mut self) -> Wake {
        // The sender lives in the slot while we hold a receiver; on the impossible error,
        // behave as a wake-up of the log.
        if self.rx.changed().await.is_err() {
            return Wake::Log;
        }
        let log_wakes = *self.rx.borrow_and_update();
        if log_wakes == self.log_wakes {
            Wake::Ephemeral
        } else {
            self.log_wakes = log_wakes;
            Wake::Log
        }
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut inner = self.notifier.lock();
        // Our own receiver still counts until this function returns. The slot lingers (on
        // Postgres too, for the ephemeral items of a client between two polls); the sweep
        // drops it later.
        if let Some(slot) = inner.slots.get_mut(&self.user_id) {
            if slot.tx.receiver_count() <= 1 {
                slot.released = Some(Instant::now());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(seq: i64) -> Arc<Delivered> {
        Arc::new(Delivered {
            seq,
            ts_ms: 0,
            json: format!("{{\"seq\":{seq}}}").into_bytes().into(),
        })
    }

    fn publication(seq: i64, recipients: &[&str]) -> Publication {
        Publication {
            seq,
            event: Some(event(seq)),
            recipients: recipients
                .iter()
                .map(|r| r.to_string())
                .collect::<Vec<_>>()
                .into(),
        }
    }

    /// Events `seqs`, each for alice alone.
    fn for_alice(seqs: &[i64]) -> Vec<Publication> {
        seqs.iter()
            .map(|&seq| publication(seq, &["alice"]))
            .collect()
    }

    fn seqs(events: Option<Vec<Arc<Delivered>>>) -> Option<Vec<i64>> {
        events.map(|events| events.iter().map(|e| e.seq).collect())
    }

    #[tokio::test]
    async fn wakes_only_the_concerned_user() {
        let n = Arc::new(Notifier::new(0, true));
        let mut alice = n.subscribe("alice", "a1");
        let mut bob = n.subscribe("bob", "b1");
        n.publish(for_alice(&[5]));
        tokio::time::timeout(Duration::from_millis(100), alice.changed())
            .await
            .unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(20), bob.changed())
                .await
                .is_err()
        );
    }

    #[tokio::test]
    async fn a_publication_before_waiting_is_not_lost() {
        let n = Arc::new(Notifier::new(0, false));
        let mut sub = n.subscribe("alice", "a1");
        n.publish(for_alice(&[1])); // between the DB read and the wait
        tokio::time::timeout(Duration::from_millis(100), sub.changed())
            .await
            .unwrap();
    }

    #[test]
    fn memory_answers_only_what_it_covers() {
        let n = Arc::new(Notifier::new(10, true));
        let sub = n.subscribe("alice", "a1");
        n.publish(vec![
            publication(11, &["alice", "bob"]),
            publication(12, &["bob"]),
            publication(13, &["alice"]),
        ]);
        // Behind the base only after the caller read the database up to the subscription.
        assert_eq!(seqs(n.collect(&sub, 3, false, 100)), None);
        assert_eq!(seqs(n.collect(&sub, 3, true, 100)), Some(vec![11, 13]));
        // From the slot's base on, memory covers everything.
        assert_eq!(seqs(n.collect(&sub, 10, false, 100)), Some(vec![11, 13]));
        assert_eq!(seqs(n.collect(&sub, 10, false, 1)), Some(vec![11]));
        // Acknowledging 11 drops it: a device still before it reads the database.
        assert_eq!(seqs(n.collect(&sub, 11, false, 100)), Some(vec![13]));
        assert_eq!(seqs(n.collect(&sub, 11, false, 0)), Some(vec![]));
        assert_eq!(seqs(n.collect(&sub, 10, false, 100)), None);
        assert_eq!(seqs(n.collect(&sub, 10, true, 100)), None);
        // A poll that subscribed after 11 was published, and read the database, is covered.
        let later = n.subscribe("alice", "a1");
        assert_eq!(seqs(n.collect(&later, 10, true, 100)), Some(vec![13]));
    }

    #[test]
    fn an_event_published_without_its_json_sends_polls_to_the_database() {
        let n = Arc::new(Notifier::new(0, true));
        let sub = n.subscribe("alice", "a1");
        n.publish(vec![
            publication(1, &["alice"]),
            Publication {
                seq: 2,
                event: None,
                recipients: vec!["alice".to_string()].into(),
            },
            publication(3, &["alice"]),
        ]);
        assert_eq!(seqs(n.collect(&sub, 0, false, 10)), None);
        assert_eq!(seqs(n.collect(&sub, 2, false, 10)), Some(vec![3]));
    }

    #[test]
    fn a_late_event_without_its_json_keeps_what_is_above_it() {
        let n = Arc::new(Notifier::new(0, true));
        let sub = n.subscribe("alice", "a1");
        // This process's batch after another process's turn (4 and 5 are the other's).
        n.forget_before(5);
        n.publish(for_alice(&[6, 7]));
        // The other process's wake-up for 5 comes later, without the event.
        n.publish(vec![Publication {
            seq: 5,
            event: None,
            recipients: vec!["alice".to_string()].into(),
        }]);
        assert_eq!(seqs(n.collect(&sub, 3, false, 10)), None);
        assert_eq!(seqs(n.collect(&sub, 5, false, 10)), Some(vec![6, 7]));
    }

    #[test]
    fn events_published_twice_or_out_of_order_never_make_memory_skip_one() {
        let n = Arc::new(Notifier::new(0, true));
        let sub = n.subscribe("alice", "a1");
        // What the listener read of the log (another process's 2 and 4, this process's 3).
        n.publish(for_alice(&[2, 3, 4]));
        // This process publishes its own 3 after its flush: already held, nothing changes.
        n.publish(for_alice(&[3]));
        assert_eq!(seqs(n.collect(&sub, 0, false, 10)), Some(vec![2, 3, 4]));
        // An event below one held that the slot lacks: memory no longer answers before it.
        n.publish(for_alice(&[1]));
        assert_eq!(seqs(n.collect(&sub, 0, false, 10)), None);
        assert_eq!(seqs(n.collect(&sub, 1, false, 10)), Some(vec![2, 3, 4]));
    }

    #[test]
    fn a_full_slot_raises_its_base() {
        let n = Arc::new(Notifier::new(0, true));
        let sub = n.subscribe("alice", "a1");
        let total = SLOT_CAPACITY as i64 + 5;
        n.publish((1..=total).map(|s| publication(s, &["alice"])).collect());
        assert_eq!(seqs(n.collect(&sub, 0, false, 1)), None);
        // The read-the-database exemption does not reach past the dropped events either.
        assert_eq!(seqs(n.collect(&sub, 0, true, 1)), None);
        assert_eq!(seqs(n.collect(&sub, 5, false, 2)), Some(vec![6, 7]));
    }

    #[test]
    fn a_slot_lingers_after_its_last_poll_then_goes() {
        let n = Arc::new(Notifier::new(0, true));
        drop(n.subscribe("alice", "a1"));
        assert!(!n.is_waiting("alice"));
        n.publish(for_alice(&[1]));
        let again = n.subscribe("alice", "a1");
        assert_eq!(seqs(n.collect(&again, 0, false, 10)), Some(vec![1]));
        drop(again);
        n.sweep(Duration::ZERO);
        let fresh = n.subscribe("alice", "a1");
        assert_eq!(seqs(n.collect(&fresh, 0, false, 10)), None);
    }

    #[tokio::test]
    async fn notify_all_wakes_everyone_and_memory_covers_nothing_up_to_its_seq() {
        let n = Arc::new(Notifier::new(0, true));
        let mut alice = n.subscribe("alice", "a1");
        let mut bob = n.subscribe("bob", "b1");
        n.publish(for_alice(&[5]));
        n.notify_all(9);
        for sub in [&mut alice, &mut bob] {
            tokio::time::timeout(Duration::from_millis(100), sub.changed())
                .await
                .unwrap();
        }
        // Another process's events up to 9 may concern anyone: a poll before 9 reads.
        assert_eq!(seqs(n.collect(&alice, 4, false, 10)), None);
        assert_eq!(seqs(n.collect(&alice, 8, false, 10)), None);
        assert_eq!(seqs(n.collect(&alice, 9, false, 10)), Some(vec![]));
        // Later events of this process are served from memory again.
        n.publish(for_alice(&[11]));
        assert_eq!(seqs(n.collect(&alice, 9, false, 10)), Some(vec![11]));
        // Unknown (a listener that reconnected): nothing is covered any more.
        n.notify_all(0);
        assert_eq!(seqs(n.collect(&alice, 11, false, 10)), None);
    }

    #[test]
    fn forgetting_the_log_below_a_point_keeps_what_is_held_above_it() {
        let n = Arc::new(Notifier::new(0, true));
        let sub = n.subscribe("alice", "a1");
        // The listener read another process's 5 and this process's own 6 and 7 ahead of this
        // process's writer, which publishes its batch (after the other's turn) only now.
        n.publish(for_alice(&[5, 6, 7]));
        n.forget_before(5);
        // The listener's next range comes in between the writer's two steps, and a poll
        // answers then: it must not get 8 without 6 and 7.
        n.publish(for_alice(&[8]));
        assert_eq!(seqs(n.collect(&sub, 5, false, 10)), Some(vec![6, 7, 8]));
        n.publish(for_alice(&[6, 7]));
        assert_eq!(seqs(n.collect(&sub, 3, false, 10)), None);
        assert_eq!(seqs(n.collect(&sub, 5, false, 10)), Some(vec![6, 7, 8]));
        // Every poll woken for what may be anyone's up to 7: what is held above it stays.
        n.notify_all(7);
        assert_eq!(seqs(n.collect(&sub, 6, false, 10)), None);
        assert_eq!(seqs(n.collect(&sub, 7, false, 10)), Some(vec![8]));
    }

    #[test]
    fn a_batch_after_another_process_turn_is_never_joined_to_older_memory() {
        let n = Arc::new(Notifier::new(0, true));
        let alice = n.subscribe("alice", "a1");
        n.publish(for_alice(&[3]));
        // Another process appended 4..=6 (its wake-up still on its way), then this process 7.
        n.forget_before(6);
        n.publish(for_alice(&[7]));
        // A poll at 3 would skip 4..=6 if memory answered: it reads the database.
        assert_eq!(seqs(n.collect(&alice, 3, false, 10)), None);
        assert_eq!(seqs(n.collect(&alice, 6, false, 10)), Some(vec![7]));
    }

    #[test]
    fn a_user_waits_while_any_of_its_subscriptions_lives() {
        let n = Arc::new(Notifier::new(0, false));
        let a = n.subscribe("alice", "a1");
        let b = n.subscribe("alice", "a1");
        assert_eq!(seqs(n.collect(&a, 0, true, 10)), None);
        drop(a);
        assert!(n.is_waiting("alice"));
        drop(b);
        assert!(!n.is_waiting("alice"));
        assert_eq!(n.waiting_users(), 0);
    }

    fn take(n: &Notifier, sub: &mut Subscription) -> Vec<String> {
        n.take_ephemeral(sub)
            .iter()
            .map(|e| String::from_utf8_lossy(&e.json).into_owned())
            .collect()
    }

    fn typing(n: &Notifier, recipients: &[&str], body: &str) -> usize {
        let recipients: Vec<String> = recipients.iter().map(|r| r.to_string()).collect();
        n.publish_ephemeral(&recipients, body.as_bytes().into(), LINGER)
    }

    #[tokio::test]
    async fn an_ephemeral_item_reaches_every_device_of_its_users_once() {
        let n = Arc::new(Notifier::new(0, true));
        let mut phone = n.subscribe("alice", "phone");
        let mut laptop = n.subscribe("alice", "laptop");
        let mut bob = n.subscribe("bob", "b1");
        assert_eq!(typing(&n, &["alice", "carol"], "t1"), 1);
        for sub in [&mut phone, &mut laptop] {
            let wake = tokio::time::timeout(Duration::from_secs(5), sub.changed())
                .await
                .unwrap();
            assert_eq!(wake, Wake::Ephemeral, "the log has nothing new");
        }
        assert!(!bob.rx.has_changed().unwrap(), "bob is not woken");
        assert_eq!(take(&n, &mut phone), ["t1"]);
        assert_eq!(
            take(&n, &mut phone),
            Vec::<String>::new(),
            "once per subscription"
        );
        assert_eq!(take(&n, &mut laptop), ["t1"]);
        assert!(take(&n, &mut bob).is_empty());
        // The next poll of the phone does not get it again; a device new to the slot does.
        drop(phone);
        let mut phone = n.subscribe("alice", "phone");
        assert!(take(&n, &mut phone).is_empty());
        let mut tablet = n.subscribe("alice", "tablet");
        assert_eq!(take(&n, &mut tablet), ["t1"]);
        // Two polls of one device at once: whichever takes it first, the other does not.
        let mut again = n.subscribe("alice", "phone");
        typing(&n, &["alice"], "t2");
        assert_eq!(take(&n, &mut again), ["t2"]);
        assert!(take(&n, &mut phone).is_empty());
    }

    #[test]
    fn ephemeral_items_are_kept_only_for_users_with_a_slot_and_only_until_they_lapse() {
        let n = Arc::new(Notifier::new(0, true));
        // Nobody polls: nothing is kept, and a later poll gets nothing.
        assert_eq!(typing(&n, &["alice"], "early"), 0);
        let mut alice = n.subscribe("alice", "a1");
        assert!(take(&n, &mut alice).is_empty());
        // Lapsed before anyone took it: never handed out.
        let lapsed =
            n.publish_ephemeral(&["alice".to_string()], b"gone"[..].into(), Duration::ZERO);
        assert_eq!(lapsed, 1);
        assert!(take(&n, &mut alice).is_empty());
        // After the slot is swept, nothing is left either.
        typing(&n, &["alice"], "swept");
        drop(alice);
        n.sweep(Duration::ZERO);
        let mut alice = n.subscribe("alice", "a2");
        assert!(take(&n, &mut alice).is_empty());
    }

    #[tokio::test]
    async fn a_wake_up_says_whether_the_log_has_news() {
        let n = Arc::new(Notifier::new(0, false));
        let mut sub = n.subscribe("alice", "a1");
        typing(&n, &["alice"], "t");
        assert_eq!(sub.changed().await, Wake::Ephemeral);
        typing(&n, &["alice"], "t");
        n.publish(for_alice(&[1]));
        assert_eq!(sub.changed().await, Wake::Log);
        n.notify_all(1);
        assert_eq!(sub.changed().await, Wake::Log, "even for a seq seen before");
    }

    #[test]
    fn ephemeral_items_do_not_touch_the_log() {
        let n = Arc::new(Notifier::new(0, true));
        let mut sub = n.subscribe("alice", "a1");
        n.publish(for_alice(&[1]));
        typing(&n, &["alice"], "t");
        n.publish(for_alice(&[2]));
        assert_eq!(n.published_through(), 2);
        assert_eq!(seqs(n.collect(&sub, 0, false, 10)), Some(vec![1, 2]));
        assert_eq!(take(&n, &mut sub), ["t"]);
        assert_eq!(seqs(n.collect(&sub, 0, false, 10)), Some(vec![1, 2]));
    }

    #[test]
    fn a_full_slot_drops_its_oldest_ephemeral_items() {
        let n = Arc::new(Notifier::new(0, true));
        let mut sub = n.subscribe("alice", "a1");
        let total = EPHEMERAL_CAPACITY + 3;
        for i in 0..total {
            typing(&n, &["alice"], &i.to_string());
        }
        let taken = take(&n, &mut sub);
        assert_eq!(taken.len(), EPHEMERAL_CAPACITY);
        assert_eq!(taken.first().map(String::as_str), Some("3"));
    }

    #[test]
    fn without_buffering_a_slot_lingers_for_the_ephemeral_items_between_two_polls() {
        let n = Arc::new(Notifier::new(0, false));
        drop(n.subscribe("alice", "a1"));
        assert_eq!(typing(&n, &["alice"], "between"), 1);
        let mut next = n.subscribe("alice", "a1");
        assert_eq!(take(&n, &mut next), ["between"]);
        assert_eq!(
            seqs(n.collect(&next, 0, true, 10)),
            None,
            "log events still come from the database"
        );
    }
}
