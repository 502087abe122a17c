//! A short-lived cache of resolved bearer tokens.
//!
//! Every request authenticates; without the cache each one starts with a database read on the
//! blocking pool. An entry answers for at most [`SESSION_CACHE_TTL`] and only while the device
//! is neither expired nor due for its last-seen refresh, after which the next request reads the
//! database again (and refreshes the entry). Logout and nick changes in this process drop the
//! affected entries at once; the TTL bounds how long another process sharing a Postgres
//! database can still accept a token it revoked.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use super::accounts::Session;

/// How long a resolved token is trusted without reading the database.
pub const SESSION_CACHE_TTL: Duration = Duration::from_secs(2);
/// Most cached tokens; past it the cache starts over.
const MAX_ENTRIES: usize = 100_000;

#[derive(Debug)]
struct Cached {
    session: Session,
    last_seen_ms: i64,
    checked: Instant,
}

/// Resolved tokens by token hash.
#[derive(Debug, Default)]
pub struct SessionCache {
    entries: Mutex<HashMap<String, Cached>>,
}

impl SessionCache {
    fn lock(&self) -> MutexGuard<'_, HashMap<String, Cached>> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The session of this token hash and its device's last-seen time, if resolved recently.
    pub fn get(&self, token_hash: &str) -> Option<(Session, i64)> {
        let entries = self.lock();
        let cached = entries.get(token_hash)?;
        (cached.checked.elapsed() < SESSION_CACHE_TTL)
            .then(|| (cached.session.clone(), cached.last_seen_ms))
    }

    /// Remembers a token just resolved from the database.
    pub fn insert(&self, token_hash: String, session: Session, last_seen_ms: i64) {
        let mut entries = self.lock();
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            token_hash,
            Cached {
                session,
                last_seen_ms,
                checked: Instant::now(),
            },
        );
    }

    /// Drops the device's token (logout).
    pub fn forget_device(&self, device_id: &str) {
        self.lock()
            .retain(|_, cached| cached.session.device_id != device_id);
    }

    /// Drops every token of the user (the nick in their sessions changed).
    pub fn forget_user(&self, user_id: &str) {
        self.lock()
            .retain(|_, cached| cached.session.user_id != user_id);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn session(device: &str, user: &str) -> Session {
        Session {
            device_id: device.into(),
            user_id: user.into(),
            nick: "n".into(),
        }
    }

    #[test]
    fn forgets_by_device_and_by_user() {
        let cache = SessionCache::default();
        cache.insert("t1".into(), session("d1", "u1"), 5);
        cache.insert("t2".into(), session("d2", "u1"), 5);
        cache.insert("t3".into(), session("d3", "u2"), 5);
        assert_eq!(
            cache.get("t1").map(|(s, seen)| (s.device_id, seen)),
            Some(("d1".into(), 5))
        );
        cache.forget_device("d1");
        assert!(cache.get("t1").is_none());
        assert!(cache.get("t2").is_some());
        cache.forget_user("u1");
        assert!(cache.get("t2").is_none());
        assert!(cache.get("t3").is_some());
    }
}
