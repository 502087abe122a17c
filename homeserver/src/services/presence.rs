//! Presence from connection state. A user is *connected* while a poll, event stream or
//! WebSocket of theirs is open (the notifier's slots say so), and for `PRESENCE_GRACE` seconds
//! (default 60) after the last one closed, so a client between two polls or reconnecting does
//! not flicker. When a user becomes connected, co-members get a `presence` event with the
//! user's status; when the grace has passed without a connection, one with `offline`. A user
//! who chose `offline` (appear offline) announces nothing. Profiles show the same rule
//! (`services::profiles::with_fields`). Across servers the events go as the usual ephemeral
//! presence items.
//!
//! One task (`crate::workers::watch_presence`) looks every [`PRESENCE_TICK`] at most: its
//! [`Tracker`] walks the notifier's slots (memory only, no database) and keeps, for each user
//! it announced as connected, when it last saw them connected. Only changes cost a database
//! read (`services::profiles::connection_changed`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use crate::state::AppState;

/// The longest time between two looks at the notifier (shorter with a short grace).
pub const PRESENCE_TICK: Duration = Duration::from_secs(5);

/// The grace after a user's last connection closed.
pub fn grace(state: &AppState) -> Duration {
    Duration::from_secs(state.config.presence_grace)
}

/// How often the presence task looks: a quarter of the grace, at most [`PRESENCE_TICK`].
pub fn tick(grace: Duration) -> Duration {
    (grace / 4).clamp(Duration::from_millis(100), PRESENCE_TICK)
}

/// Users announced as connected, with when each was last seen connected.
#[derive(Debug, Default)]
pub struct Tracker {
    connected: HashMap<String, Instant>,
}

impl Tracker {
    /// One look at the connections: `(came, went)`, the users who became connected and those
    /// whose grace ran out. `connections` visits each user with a slot: `None` while a
    /// connection is open, else when the last one ended.
    pub fn look(
        &mut self,
        now: Instant,
        grace: Duration,
        connections: impl FnOnce(&mut dyn FnMut(&str, Option<Instant>)),
    ) -> (Vec<String>, Vec<String>) {
        let mut came = Vec::new();
        connections(&mut |user: &str, released: Option<Instant>| {
            let last = released.unwrap_or(now);
            match self.connected.get_mut(user) {
                Some(seen) => *seen = (*seen).max(last),
                None if now.saturating_duration_since(last) < grace => {
                    self.connected.insert(user.to_string(), last);
                    came.push(user.to_string());
                }
                None => {}
            }
        });
        let went: Vec<String> = self
            .connected
            .iter()
            .filter(|(_, seen)| now.saturating_duration_since(**seen) >= grace)
            .map(|(user, _)| user.clone())
            .collect();
        for user in &went {
            self.connected.remove(user);
        }
        (came, went)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connected_users_come_once_and_go_after_the_grace() {
        let grace = Duration::from_secs(60);
        let start = Instant::now();
        let mut tracker = Tracker::default();
        // alice polls; bob's last poll ended 2 minutes ago (a slot not swept yet).
        let old = start.checked_sub(Duration::from_secs(120));
        let (came, went) = tracker.look(start, grace, |visit| {
            visit("alice", None);
            if let Some(old) = old {
                visit("bob", Some(old));
            }
        });
        assert_eq!((came, went), (vec!["alice".to_string()], vec![]));
        // Still polling 30 s later: nothing new.
        let (came, went) = tracker.look(start + Duration::from_secs(30), grace, |visit| {
            visit("alice", None)
        });
        assert!(came.is_empty() && went.is_empty());
        // Her slot is gone (swept): she goes once the grace after the last sighting passed.
        let (came, went) = tracker.look(start + Duration::from_secs(89), grace, |_| {});
        assert!(came.is_empty() && went.is_empty());
        let (came, went) = tracker.look(start + Duration::from_secs(90), grace, |_| {});
        assert_eq!((came, went), (vec![], vec!["alice".to_string()]));
        // And comes again when she connects again.
        let (came, _) = tracker.look(start + Duration::from_secs(95), grace, |visit| {
            visit("alice", None)
        });
        assert_eq!(came, vec!["alice".to_string()]);
    }
}
