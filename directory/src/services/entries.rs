//! The entry log: appending signed entries and reading pages of it.
//!
//! An entry is written in two steps inside one transaction: the row is inserted to get its
//! `seq`, then the entry (which carries that `seq`) is signed and stored. The stored JSON is
//! served and pushed byte-for-byte as signed.

use federation_proto::api::directory::{
    DirectoryEntry, EntriesPage, EntryStatus, ENTRIES_MAX_LIMIT,
};
use serde_json::Value;

use super::servers::keys_on_record;
use super::signer::Signer;
use super::{to_i64, to_u64};
use crate::db::models::{EntryRow, NewEntry, ServerRow, STATUS_GONE, STATUS_UP};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Entries per page when the client does not say.
pub const DEFAULT_PAGE: u32 = 100;

/// The stored form of a status.
pub fn status_str(status: EntryStatus) -> &'static str {
    match status {
        EntryStatus::Up => STATUS_UP,
        EntryStatus::Gone => STATUS_GONE,
    }
}

/// Appends an entry announcing `server` (its URL and keys on record) with `status`, signed by
/// the directory. Runs inside the caller's transaction; returns the signed entry.
pub fn append(
    conn: &mut Conn,
    signer: &Signer,
    server: &ServerRow,
    status: EntryStatus,
    now_ms: i64,
) -> Result<Value, ApiError> {
    let verify_keys = keys_on_record(server)?;
    let seq = db::entries::append(
        conn,
        &NewEntry {
            server_name: &server.name,
            status: status_str(status),
            ts: now_ms,
            entry: "",
        },
    )?;
    let entry = DirectoryEntry {
        seq: to_u64(seq),
        server_name: server.name.clone(),
        url: server.url.clone(),
        verify_keys,
        status,
        ts: to_u64(now_ms),
        signatures: Default::default(),
    };
    let signed = signer.sign_entry(&entry).map_err(ApiError::internal)?;
    let json = serde_json::to_string(&signed).map_err(ApiError::internal)?;
    db::entries::set_json(conn, seq, &json)?;
    tracing::info!(seq, server = %server.name, status = status_str(status), "entry appended");
    Ok(signed)
}

/// The signed entry of a row.
pub fn parse(row: &EntryRow) -> Result<Value, ApiError> {
    serde_json::from_str(&row.entry)
        .map_err(|e| ApiError::internal(format!("stored entry {} is not JSON: {e}", row.seq)))
}

/// The newest entry about `name`.
pub fn latest(conn: &mut Conn, name: &str) -> Result<Option<Value>, ApiError> {
    db::entries::latest_for(conn, name)?
        .as_ref()
        .map(parse)
        .transpose()
}

/// `GET /directory/v1/servers?since=N&limit=L`: entries with `seq > since`, ascending, at most
/// `limit` (default [`DEFAULT_PAGE`], clamped to 1..=[`ENTRIES_MAX_LIMIT`]).
pub async fn page(
    state: &AppState,
    since: u64,
    limit: Option<u32>,
) -> Result<EntriesPage, ApiError> {
    let limit = i64::from(limit.unwrap_or(DEFAULT_PAGE).clamp(1, ENTRIES_MAX_LIMIT));
    let after = to_i64(since);
    let rows = state
        .db
        .run(move |conn| db::entries::after(conn, after, limit).map_err(ApiError::from))
        .await?;
    let next = rows.last().map_or(since, |row| to_u64(row.seq));
    let entries = rows.iter().map(parse).collect::<Result<Vec<_>, _>>()?;
    Ok(EntriesPage { entries, next })
}
