//! Row structs: storage shapes, converted to `federation-proto` types by the services.

use diesel::prelude::*;

use super::schema::{entries, peers, servers};

/// `servers.status` of a registered, heartbeating server.
pub const STATUS_UP: &str = "up";
/// `servers.status` of a server that left, expired, was removed or banned.
pub const STATUS_GONE: &str = "gone";

/// A server's record.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = servers)]
pub struct ServerRow {
    pub name: String,
    pub url: String,
    /// `{"ed25519:…": {"key": "…"}}`.
    pub verify_keys: String,
    pub status: String,
    pub last_reg_ts: i64,
    pub last_heartbeat_ms: i64,
    pub banned: bool,
    pub released: bool,
    pub registered_ms: i64,
    pub updated_ms: i64,
}

impl ServerRow {
    /// Whether the server is registered and live.
    pub fn is_up(&self) -> bool {
        self.status == STATUS_UP
    }
}

/// One entry of the log.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = entries)]
pub struct EntryRow {
    pub seq: i64,
    pub server_name: String,
    pub status: String,
    pub ts: i64,
    /// The signed `DirectoryEntry` as JSON text.
    pub entry: String,
}

/// An entry before it has its `seq`.
#[derive(Debug, Clone, Insertable)]
#[diesel(table_name = entries)]
pub struct NewEntry<'a> {
    pub server_name: &'a str,
    pub status: &'a str,
    pub ts: i64,
    pub entry: &'a str,
}

/// Push state of one peer.
#[derive(Debug, Clone, PartialEq, Eq, Queryable, Selectable)]
#[diesel(table_name = peers)]
pub struct PeerRow {
    pub name: String,
    pub acked_seq: i64,
    pub failures: i64,
    pub next_retry_ms: i64,
    pub last_error: Option<String>,
    pub last_success_ms: Option<i64>,
}
