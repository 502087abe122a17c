//! The federation API (`/api/v1/federation/...`) as far as it is built: the key document
//! (`GET /api/v1/federation/key`, see [`crate::keydoc`]), the directory's pushes
//! (`POST /api/v1/federation/directory`, see [`super::directory::EntriesPush`]) and the status
//! report.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keydoc::VerifyKey;

/// Paths of the federation API.
pub mod paths {
    /// `GET`: the server's key document.
    pub const KEY: &str = "/api/v1/federation/key";
    /// `POST`: signed directory entries pushed by the directory.
    pub const DIRECTORY: &str = "/api/v1/federation/directory";
    /// `GET`: each peer's state.
    pub const STATUS: &str = "/api/v1/federation/status";
    /// `POST`: a signed transaction of events.
    pub const RELAY: &str = "/api/v1/federation/relay";
    /// `GET`: a local user's profile (signed request).
    pub const USER: &str = "/api/v1/federation/users/{nick}";
    /// `POST` `{event, key?}`: submit an event to a channel hosted by the receiver.
    pub const CHANNEL_SUBMIT: &str = "/api/v1/federation/channels/{name}/submit";
    /// `GET ?after=N&limit=L`: a hosted channel's envelopes after `N` (`{"envelopes": […]}`).
    pub const CHANNEL_EVENTS: &str = "/api/v1/federation/channels/{name}/events";
    /// `GET`: a hosted channel's info.
    pub const CHANNEL: &str = "/api/v1/federation/channels/{name}";
    /// `GET ?user=nick@origin`: a hosted channel's pins (`{"pins": […]}`, the client's
    /// `PinList`, with reactions' `me` for `user`).
    pub const CHANNEL_PINS: &str = "/api/v1/federation/channels/{name}/pins";
}

/// Answer of `GET /api/v1/federation/status`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FederationStatus {
    /// This server.
    pub server_name: String,
    /// The directory link, when one is configured.
    pub directory: Option<DirectoryLinkStatus>,
    /// Known peers.
    pub peers: Vec<PeerStatus>,
}

/// The state of the link to the directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryLinkStatus {
    /// `DIRECTORY_URL`.
    pub url: String,
    /// The directory's name, once its key document was fetched and checked.
    pub name: Option<String>,
    /// Whether the directory accepted our registration.
    pub registered: bool,
    /// When the last heartbeat was accepted (unix ms).
    pub last_heartbeat_ts: Option<i64>,
    /// The pull cursor (highest entry `seq` pulled).
    pub pull_cursor: i64,
    /// When the list was last pulled (unix ms).
    pub last_pull_ts: Option<i64>,
    /// The last failure of the link, if any.
    pub last_error: Option<String>,
}

/// One known peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeerStatus {
    /// Its name.
    pub server_name: String,
    /// Its base URL.
    pub url: String,
    /// `up` or `gone`.
    pub status: String,
    /// `directory` or `config` (`PEERS`).
    pub source: String,
    /// Its verify keys.
    pub verify_keys: BTreeMap<String, VerifyKey>,
    /// When this record last changed (unix ms).
    pub updated_ts: i64,
    /// Whether the last delivery to it succeeded (or none failed yet).
    pub reachable: bool,
    /// Events queued for it.
    pub queue_depth: i64,
    /// Failed deliveries in a row.
    pub failures: i64,
    /// When a delivery last succeeded (unix ms).
    pub last_success_ts: Option<i64>,
    /// The last delivery error.
    pub last_error: Option<String>,
    /// When the next retry is due (unix ms), while backing off.
    pub next_retry_ts: Option<i64>,
}
