//! Applying verified directory entries and hand-listed peers to the `peers` table.

use std::collections::BTreeMap;

use federation_proto::api::directory::{DirectoryEntry, EntryStatus};
use federation_proto::keydoc::VerifyKey;

use crate::db::peers::PeerRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::now_ms;

/// Where a peer came from.
pub const SOURCE_DIRECTORY: &str = "directory";
/// A peer listed in `PEERS`.
pub const SOURCE_CONFIG: &str = "config";

/// Applies entries in `seq` order; an entry older than what is stored for its server is
/// ignored (pushes and pulls may overlap). Our own entries are skipped. Returns how many
/// changed the table.
pub fn apply_entries(
    conn: &mut Conn,
    own_name: &str,
    entries: &[DirectoryEntry],
) -> Result<usize, ApiError> {
    let mut sorted: Vec<&DirectoryEntry> = entries.iter().collect();
    sorted.sort_by_key(|e| e.seq);
    let mut changed = 0;
    for entry in sorted {
        if entry.server_name == own_name {
            continue;
        }
        let seq = i64::try_from(entry.seq).unwrap_or(i64::MAX);
        if let Some(existing) = db::peers::get(conn, &entry.server_name)? {
            if existing.source == SOURCE_DIRECTORY && existing.directory_seq >= seq {
                continue;
            }
        }
        let status = match entry.status {
            EntryStatus::Up => "up",
            EntryStatus::Gone => "gone",
        };
        db::peers::upsert(
            conn,
            &PeerRow {
                server_name: entry.server_name.clone(),
                url: entry.url.trim_end_matches('/').to_string(),
                verify_keys: keys_json(&entry.verify_keys),
                status: status.to_string(),
                source: SOURCE_DIRECTORY.to_string(),
                directory_seq: seq,
                updated_ms: now_ms(),
            },
        )?;
        changed += 1;
    }
    Ok(changed)
}

/// Records a hand-listed peer whose key document was fetched and verified.
pub fn apply_manual(
    conn: &mut Conn,
    name: &str,
    url: &str,
    keys: &BTreeMap<String, VerifyKey>,
) -> Result<(), ApiError> {
    db::peers::upsert(
        conn,
        &PeerRow {
            server_name: name.to_string(),
            url: url.to_string(),
            verify_keys: keys_json(keys),
            status: "up".to_string(),
            source: SOURCE_CONFIG.to_string(),
            directory_seq: 0,
            updated_ms: now_ms(),
        },
    )?;
    Ok(())
}

fn keys_json(keys: &BTreeMap<String, VerifyKey>) -> String {
    serde_json::to_string(keys).unwrap_or_else(|_| "{}".to_string())
}

/// The `verify_keys` of a stored peer.
pub fn stored_keys(row: &PeerRow) -> BTreeMap<String, VerifyKey> {
    serde_json::from_str(&row.verify_keys).unwrap_or_default()
}
