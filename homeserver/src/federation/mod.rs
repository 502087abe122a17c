//! Federation: talking to other homeservers and to the directory.
//!
//! # Layout
//! - [`client`]: outbound HTTP, plain or signed with the `X-Hearth` request signature.
//! - [`directory`]: the directory link: registration, heartbeats, pulling and verifying signed
//!   entries, manual peers from `PEERS`; the worker that keeps it all up.
//! - [`peers`]: applying verified entries to the `peers` table.
//! - [`sender`]: the durable outbox's delivery worker (one transaction in flight per
//!   destination, persisted backoff, retries on a timer).
//! - [`inbound`]: verifying signed requests from peers (signature, destination, clock skew,
//!   replays, `FEDERATION_KEY`).
//! - [`media`]: another server's media fetched from its origin (signed, hash checked, cached),
//!   and this server's media described and served to peers it was shared with.
//! - [`receive`]: applying the events of a received transaction, each verified first.
//! - [`hosting`]: shared channels on their host: submissions, sequencing, envelopes, fan-out,
//!   pulls.
//! - [`mirror`]: shared channels on a member server: joining, sending and parting through the
//!   host, applying envelopes in order, pulling gaps.

pub mod client;
pub mod directory;
pub mod ephemeral;
pub mod hosting;
pub mod inbound;
pub mod media;
pub mod mirror;
pub mod peers;
pub mod profiles;
pub mod receive;
pub mod sender;

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use federation_proto::replay::ReplayMemory;

/// How often a peer's key document may be fetched on behalf of incoming requests (an unknown
/// key id, or a peer listed in `PEERS` that is not resolved yet): whoever claims to be that
/// peer cannot make this server fetch more often.
pub const KEY_FETCH_INTERVAL: Duration = Duration::from_secs(60);

/// What the directory link last did, for `GET /api/v1/federation/status`.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LinkStatus {
    /// The directory's server name, once its key document was fetched.
    pub directory_name: Option<String>,
    /// Whether our registration was accepted.
    pub registered: bool,
    /// When the last heartbeat was accepted (unix ms).
    pub last_heartbeat_ms: Option<i64>,
    /// The last failure, if the link is unhealthy.
    pub last_error: Option<String>,
}

/// Shared federation state in `AppState`.
#[derive(Debug, Default)]
pub struct Federation {
    /// The directory's pinned public key (`DIRECTORY_KEY`).
    pub directory_key: Option<ed25519_dalek::VerifyingKey>,
    /// The directory link's status.
    pub link: Mutex<LinkStatus>,
    /// Wakes the outbox worker: new payloads, a finished delivery, a peer that came back.
    pub outbox_wake: tokio::sync::Notify,
    /// Signatures of requests already accepted, until they could no longer pass the skew check.
    pub seen_requests: Mutex<ReplayMemory>,
    /// When each peer's key document was last fetched for an incoming request.
    pub key_fetches: Mutex<HashMap<String, Instant>>,
    /// This process, as the owner of destination leases on a shared Postgres database.
    pub process_id: ProcessId,
}

/// A random id of this process (a destination lease names its holder).
#[derive(Debug, Clone)]
pub struct ProcessId(pub String);

impl Default for ProcessId {
    fn default() -> Self {
        ProcessId(uuid::Uuid::new_v4().to_string())
    }
}

impl Federation {
    /// A copy of the link status.
    pub fn link_status(&self) -> LinkStatus {
        self.link.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Updates the link status.
    pub fn update_link(&self, f: impl FnOnce(&mut LinkStatus)) {
        if let Ok(mut link) = self.link.lock() {
            f(&mut link);
        }
    }

    /// Whether `server`'s key document may be fetched now for an incoming request: at most once
    /// per [`KEY_FETCH_INTERVAL`]. Records the fetch when it may. Entries older than the
    /// interval are dropped, so the map holds at most the servers of the last interval.
    pub fn may_fetch_key(&self, server: &str, now: Instant) -> bool {
        let Ok(mut fetches) = self.key_fetches.lock() else {
            return false;
        };
        fetches.retain(|_, at| now.duration_since(*at) < KEY_FETCH_INTERVAL);
        if fetches.contains_key(server) {
            return false;
        }
        fetches.insert(server.to_string(), now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_documents_are_fetched_at_most_once_per_interval() {
        let federation = Federation::default();
        let start = Instant::now();
        assert!(federation.may_fetch_key("hs2.test", start));
        assert!(!federation.may_fetch_key("hs2.test", start + Duration::from_secs(1)));
        assert!(federation.may_fetch_key("hs3.test", start + Duration::from_secs(1)));
        assert!(federation.may_fetch_key("hs2.test", start + KEY_FETCH_INTERVAL));
    }
}
