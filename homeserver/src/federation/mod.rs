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
//! - [`receive`]: applying the events of a received transaction, each verified first.
//! - [`hosting`]: shared channels on their host: submissions, sequencing, envelopes, fan-out,
//!   pulls.
//! - [`mirror`]: shared channels on a member server: joining, sending and parting through the
//!   host, applying envelopes in order, pulling gaps.

pub mod client;
pub mod directory;
pub mod hosting;
pub mod inbound;
pub mod mirror;
pub mod peers;
pub mod profiles;
pub mod receive;
pub mod sender;

use std::sync::Mutex;

use federation_proto::replay::ReplayMemory;

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
}
