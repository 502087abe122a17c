//! In-memory wake-ups for waiting long-polls.
//!
//! A long-poll subscribes for its user *before* it reads the database, so no commit can slip
//! between the read and the wait. After a commit, the writer notifies the users the event
//! concerns; only users with a waiting poll have an entry, so a notification costs one map
//! look-up per recipient and wakes only the polls that the event concerns.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::watch;

/// Registry of users with at least one waiting long-poll.
#[derive(Debug, Default)]
pub struct Notifier {
    waiters: Mutex<HashMap<String, watch::Sender<i64>>>,
}

impl Notifier {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, watch::Sender<i64>>> {
        // A panic while holding this lock cannot leave the map inconsistent (single inserts
        // and removals), so a poisoned lock is still usable.
        self.waiters
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Starts listening for events of `user_id`. Changes committed after this call wake it.
    pub fn subscribe(self: &Arc<Self>, user_id: &str) -> Subscription {
        let mut waiters = self.lock();
        let rx = match waiters.get(user_id) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(0);
                waiters.insert(user_id.to_string(), tx);
                rx
            }
        };
        Subscription {
            rx,
            user_id: user_id.to_string(),
            notifier: Arc::clone(self),
        }
    }

    /// Wakes the waiting polls of these users: an event up to `seq` concerns them.
    pub fn notify<'a>(&self, user_ids: impl IntoIterator<Item = &'a str>, seq: i64) {
        let waiters = self.lock();
        if waiters.is_empty() {
            return;
        }
        for user_id in user_ids {
            if let Some(tx) = waiters.get(user_id) {
                tx.send_replace(seq);
            }
        }
    }

    /// Wakes every waiting poll of this process: another process sharing the database
    /// committed events up to `seq`, and we do not know whom they concern. Each poll re-reads
    /// its own events and waits again when there are none.
    pub fn notify_all(&self, seq: i64) {
        for tx in self.lock().values() {
            tx.send_replace(seq);
        }
    }

    /// Whether any poll of this user is waiting now.
    pub fn is_waiting(&self, user_id: &str) -> bool {
        self.lock().contains_key(user_id)
    }

    /// Number of users with a waiting poll.
    pub fn waiting_users(&self) -> usize {
        self.lock().len()
    }
}

/// One waiting poll's interest in its user's events.
#[derive(Debug)]
pub struct Subscription {
    rx: watch::Receiver<i64>,
    user_id: String,
    notifier: Arc<Notifier>,
}

impl Subscription {
    /// Resolves when an event for this user is committed after the subscription (or a
    /// previous `changed` call).
    pub async fn changed(&mut self) {
        // The sender lives in the map until the last subscription drops, so this cannot fail
        // while we hold a receiver; on the impossible error, behave as a wake-up.
        let _ = self.rx.changed().await;
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let mut waiters = self.notifier.lock();
        // Our own receiver still counts until this function returns.
        if waiters
            .get(&self.user_id)
            .is_some_and(|tx| tx.receiver_count() <= 1)
        {
            waiters.remove(&self.user_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn wakes_only_the_concerned_user() {
        let n = Arc::new(Notifier::default());
        let mut alice = n.subscribe("alice");
        let mut bob = n.subscribe("bob");
        n.notify(["alice"], 5);
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
    async fn a_notification_before_waiting_is_not_lost() {
        let n = Arc::new(Notifier::default());
        let mut sub = n.subscribe("alice");
        n.notify(["alice"], 1); // committed between the DB read and the wait
        tokio::time::timeout(Duration::from_millis(100), sub.changed())
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn notify_all_wakes_every_waiting_user() {
        let n = Arc::new(Notifier::default());
        let mut alice = n.subscribe("alice");
        let mut bob = n.subscribe("bob");
        n.notify_all(9);
        for sub in [&mut alice, &mut bob] {
            tokio::time::timeout(Duration::from_millis(100), sub.changed())
                .await
                .unwrap();
        }
    }

    #[test]
    fn entries_go_away_with_the_last_subscription() {
        let n = Arc::new(Notifier::default());
        let a = n.subscribe("alice");
        let b = n.subscribe("alice");
        drop(a);
        assert!(n.is_waiting("alice"));
        drop(b);
        assert!(!n.is_waiting("alice"));
        assert_eq!(n.waiting_users(), 0);
    }
}
