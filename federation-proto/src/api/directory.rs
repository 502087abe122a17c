//! The directory API (`/directory/v1/...`): DESIGN.md, "Directory".
//!
//! Signed objects (registrations, entries) are verified over the canonical JSON of the object
//! *as received* (`signing::verify_json_signature`), then parsed into these types; never sign
//! or verify a re-serialised struct.
//!
//! | method and path | auth | body → answer |
//! |---|---|---|
//! | `GET /directory/v1/key` | none | the directory's [`KeyDocument`](crate::keydoc::KeyDocument) |
//! | `POST /directory/v1/servers` | the body is signed by the registering server | [`Registration`] → `200`/`201` [`DirectoryEntry`] |
//! | `GET /directory/v1/servers?since=N&limit=L` | none | [`EntriesPage`] |
//! | `POST /directory/v1/heartbeat` | `X-Hearth` request signature, destination = the directory's name | `{}` → [`HeartbeatResponse`] |
//! | `DELETE /directory/v1/servers/{name}` | `X-Hearth` request signature by `{name}` | → `200` the `gone` [`DirectoryEntry`] |
//! | `POST {peer}/api/v1/federation/directory` | none (each entry is signed by the directory) | [`EntriesPush`] → `{}` |

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::keydoc::VerifyKey;

/// Paths of the directory API.
pub mod paths {
    /// `GET`: the directory's key document.
    pub const KEY: &str = "/directory/v1/key";
    /// `POST`: register; `GET`: the list with a cursor.
    pub const SERVERS: &str = "/directory/v1/servers";
    /// `DELETE`: deregister (signed request by that server).
    pub const SERVER: &str = "/directory/v1/servers/{name}";
    /// `POST`: heartbeat (signed request).
    pub const HEARTBEAT: &str = "/directory/v1/heartbeat";
    /// `POST` on a homeserver: entries pushed by the directory.
    pub const PEER_PUSH: &str = "/api/v1/federation/directory";
}

/// Largest page of entries.
pub const ENTRIES_MAX_LIMIT: u32 = 500;
/// A registration's `ts` may be at most this far from the directory's clock.
pub const REGISTRATION_MAX_SKEW_MS: u64 = 5 * 60 * 1000;

/// `POST /directory/v1/servers`: signed by the registering server's key (`signatures[server_name]`).
/// A re-registration that changes `url` or `verify_keys` must also be signed by the key on
/// record. A registration whose `ts` is not newer than the last accepted one is a replay.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Registration {
    /// The server's name.
    pub server_name: String,
    /// Its public base URL (`http://127.0.0.1:8081`), where `/api/v1/federation/key` is served.
    pub url: String,
    /// Its current verify keys (`ed25519:…` → key).
    pub verify_keys: BTreeMap<String, VerifyKey>,
    /// When it was signed (unix ms).
    pub ts: u64,
    /// `{server_name: {key_id: signature}}`.
    #[serde(default)]
    pub signatures: BTreeMap<String, BTreeMap<String, String>>,
}

/// Whether a directory entry announces a live server or a departure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryStatus {
    /// Registered and heartbeating.
    Up,
    /// Deregistered, removed, banned or expired.
    Gone,
}

/// One accepted change, signed by the directory's key (`signatures[directory_name]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DirectoryEntry {
    /// Position in the directory's log; the pull cursor.
    pub seq: u64,
    /// The server.
    pub server_name: String,
    /// Its base URL.
    pub url: String,
    /// Its verify keys.
    pub verify_keys: BTreeMap<String, VerifyKey>,
    /// `up` or `gone`.
    pub status: EntryStatus,
    /// When the directory accepted the change (unix ms).
    pub ts: u64,
    /// `{directory_name: {key_id: signature}}`.
    #[serde(default)]
    pub signatures: BTreeMap<String, BTreeMap<String, String>>,
}

/// Answer of `GET /directory/v1/servers?since=N`: entries with `seq > N`, ascending. Pass
/// `next` as `since` to continue; an empty page means caught up.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntriesPage {
    /// Entries, ascending by `seq` (kept as JSON so their signatures can be checked).
    pub entries: Vec<serde_json::Value>,
    /// The cursor for the next call.
    pub next: u64,
}

/// Body the directory pushes to each peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EntriesPush {
    /// Signed entries (as JSON, to be verified as received).
    pub entries: Vec<serde_json::Value>,
}

/// Answer to a heartbeat.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HeartbeatResponse {
    /// Until when (unix ms) the registration stays `up` without another heartbeat.
    pub expires_ts: u64,
}
