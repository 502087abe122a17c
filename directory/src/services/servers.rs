//! Servers' liveness: heartbeats, deregistration, expiry, and the operator's remove/ban/list.

use std::collections::BTreeMap;

use federation_proto::api::directory::{EntryStatus, HeartbeatResponse};
use federation_proto::keydoc::VerifyKey;
use serde::Serialize;
use serde_json::Value;

use super::signed_request::{self, SignedRequest, Signers};
use super::signer::Signer;
use super::{entries, now_ms, to_u64};
use crate::db::models::ServerRow;
use crate::db::{self, Conn, Db};
use crate::error::ApiError;
use crate::state::AppState;

/// Why a server is marked gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Departure {
    /// It deregistered itself (`DELETE`).
    Deregistered,
    /// Its heartbeats stopped for longer than `SERVER_TTL`.
    Expired,
    /// The operator removed it: the name is released from its key on record, a ban is lifted.
    Removed,
    /// The operator banned it.
    Banned,
}

/// The keys on record of a server.
pub fn keys_on_record(row: &ServerRow) -> Result<BTreeMap<String, VerifyKey>, ApiError> {
    serde_json::from_str(&row.verify_keys).map_err(|e| {
        ApiError::internal(format!(
            "stored verify_keys of {} are not JSON: {e}",
            row.name
        ))
    })
}

/// `POST /directory/v1/heartbeat`: the origin is alive; its push backoff restarts.
pub async fn heartbeat(
    state: &AppState,
    req: &SignedRequest,
) -> Result<HeartbeatResponse, ApiError> {
    let record = signed_request::verify(state, req, Signers::Up).await?;
    let now = now_ms();
    let name = record.name.clone();
    state
        .db
        .write(move |conn| {
            match db::servers::get(conn, &name)? {
                Some(r) if r.is_up() => {}
                _ => {
                    return Err(ApiError::UnknownServer(format!(
                        "{name}'s registration just expired: register again"
                    )))
                }
            }
            db::servers::touch(conn, &name, now)?;
            db::peers::reset_backoff(conn, &name)?;
            Ok(())
        })
        .await?;
    state.wake_pusher();
    tracing::debug!(server = %record.name, "heartbeat");
    Ok(HeartbeatResponse {
        expires_ts: to_u64(now.saturating_add(state.config.server_ttl_ms())),
    })
}

/// `DELETE /directory/v1/servers/{name}`, signed by `name`: marks it gone. Idempotent: a server
/// that is gone already gets its latest entry back.
pub async fn deregister(
    state: &AppState,
    name: &str,
    req: &SignedRequest,
) -> Result<Value, ApiError> {
    if req.auth.origin != name {
        return Err(ApiError::OriginMismatch {
            origin: req.auth.origin.clone(),
            name: name.to_string(),
        });
    }
    let record = signed_request::verify(state, req, Signers::OnRecord).await?;
    let signer = state.signer.clone();
    let (entry, appended) = state
        .db
        .write(move |conn| {
            depart(
                conn,
                &signer,
                &record.name,
                Departure::Deregistered,
                now_ms(),
            )?
            .ok_or_else(|| {
                ApiError::internal(format!("{} vanished while deregistering", record.name))
            })
        })
        .await?;
    if appended {
        state.wake_pusher();
    }
    Ok(entry)
}

/// Marks `name` gone inside the caller's transaction, appending a `gone` entry if it was up.
/// Returns its latest entry and whether it is new, or `None` for a server never registered.
pub fn depart(
    conn: &mut Conn,
    signer: &Signer,
    name: &str,
    why: Departure,
    now_ms: i64,
) -> Result<Option<(Value, bool)>, ApiError> {
    let Some(row) = db::servers::get(conn, name)? else {
        return Ok(None);
    };
    let banned = match why {
        Departure::Banned => true,
        Departure::Removed => false,
        Departure::Deregistered | Departure::Expired => row.banned,
    };
    let released = match why {
        Departure::Banned | Departure::Removed => true,
        Departure::Deregistered | Departure::Expired => row.released,
    };
    db::servers::mark_gone(conn, name, banned, released, now_ms)?;
    if row.is_up() {
        let entry = entries::append(conn, signer, &row, EntryStatus::Gone, now_ms)?;
        tracing::info!(server = name, reason = ?why, "server gone");
        return Ok(Some((entry, true)));
    }
    let latest = entries::latest(conn, name)?
        .ok_or_else(|| ApiError::internal(format!("{name} has a record but no entry")))?;
    Ok(Some((latest, false)))
}

/// Marks gone every server that is up but silent for longer than `SERVER_TTL`. Returns their
/// names.
pub async fn expire_silent(state: &AppState) -> Result<Vec<String>, ApiError> {
    let now = now_ms();
    let cutoff = now.saturating_sub(state.config.server_ttl_ms());
    let signer = state.signer.clone();
    let expired = state
        .db
        .write(move |conn| {
            let names = db::servers::silent_since(conn, cutoff)?;
            for name in &names {
                depart(conn, &signer, name, Departure::Expired, now)?;
            }
            Ok::<_, ApiError>(names)
        })
        .await?;
    if !expired.is_empty() {
        state.wake_pusher();
    }
    Ok(expired)
}

/// The operator's `remove` or `ban`, on the current thread. `None` for an unknown server.
pub fn remove_blocking(
    db: &Db,
    signer: &Signer,
    name: &str,
    why: Departure,
) -> Result<Option<(Value, bool)>, ApiError> {
    db.write_blocking(|conn| depart(conn, signer, name, why, now_ms()))
}

/// One line of `directory servers list`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerSummary {
    /// The server's name.
    pub name: String,
    /// Its base URL.
    pub url: String,
    /// `up` or `gone`.
    pub status: String,
    /// Registrations are refused.
    pub banned: bool,
    /// Key ids on record.
    pub key_ids: Vec<String>,
    /// Last registration or heartbeat (unix ms).
    pub last_heartbeat_ms: i64,
    /// First registration (unix ms).
    pub registered_ms: i64,
    /// Highest entry `seq` the server accepted by push.
    pub acked_seq: i64,
    /// Consecutive failed pushes.
    pub push_failures: i64,
    /// When the next push is due, if it is waiting (unix ms).
    pub next_retry_ms: Option<i64>,
    /// The last push error.
    pub last_error: Option<String>,
}

/// Every server with its push state, by name.
pub fn list_blocking(db: &Db) -> Result<Vec<ServerSummary>, ApiError> {
    let rows = db.run_blocking(|conn| db::servers::all_with_peers(conn).map_err(ApiError::from))?;
    rows.into_iter()
        .map(|(server, peer)| {
            let key_ids = keys_on_record(&server)?.into_keys().collect();
            let peer = peer.as_ref();
            Ok(ServerSummary {
                key_ids,
                acked_seq: peer.map_or(0, |p| p.acked_seq),
                push_failures: peer.map_or(0, |p| p.failures),
                next_retry_ms: peer.map(|p| p.next_retry_ms).filter(|t| *t > 0),
                last_error: peer.and_then(|p| p.last_error.clone()),
                name: server.name,
                url: server.url,
                status: server.status,
                banned: server.banned,
                last_heartbeat_ms: server.last_heartbeat_ms,
                registered_ms: server.registered_ms,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use federation_proto::signing::{verify_json_signature, verifying_key_from_b64, KeyId};
    use serde_json::json;

    use super::*;
    use crate::db::models::{STATUS_GONE, STATUS_UP};
    use crate::db::testing;

    fn row(name: &str) -> ServerRow {
        ServerRow {
            name: name.into(),
            url: "http://127.0.0.1:1".into(),
            verify_keys: json!({"ed25519:a": {"key": "k"}}).to_string(),
            status: STATUS_UP.into(),
            last_reg_ts: 1,
            last_heartbeat_ms: 1,
            banned: false,
            released: false,
            registered_ms: 1,
            updated_ms: 1,
        }
    }

    #[test]
    fn departures_append_one_signed_gone_entry() {
        let (db, dir) = testing::db();
        let signer = Signer::new(
            "dir.example",
            crate::keyfile::load_or_create(dir.path()).unwrap(),
        );
        db.write_blocking(|conn| {
            db::servers::upsert(conn, &row("hs1.example"))?;
            entries::append(conn, &signer, &row("hs1.example"), EntryStatus::Up, 5)?;
            db::peers::start_from_zero(conn, "hs1.example")?;
            Ok::<_, ApiError>(())
        })
        .unwrap();

        let (gone, appended) = remove_blocking(&db, &signer, "hs1.example", Departure::Banned)
            .unwrap()
            .unwrap();
        assert!(appended);
        assert_eq!(gone["seq"], 2);
        assert_eq!(gone["status"], "gone");
        assert_eq!(gone["url"], "http://127.0.0.1:1");
        let doc = signer.key_document(10).unwrap();
        let (key_id, key): (&KeyId, _) = doc.verify_keys.iter().next().unwrap();
        let key = verifying_key_from_b64(&key.key).unwrap();
        assert_eq!(
            verify_json_signature(&gone, "dir.example", key_id, &key),
            Ok(())
        );

        let list = list_blocking(&db).unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(
            (list[0].status.as_str(), list[0].banned),
            (STATUS_GONE, true)
        );

        // Again: nothing new; removal lifts the ban and releases the name.
        let (again, appended) = remove_blocking(&db, &signer, "hs1.example", Departure::Removed)
            .unwrap()
            .unwrap();
        assert!(!appended);
        assert_eq!(again, gone);
        let record = db
            .run_blocking(|conn| db::servers::get(conn, "hs1.example").map_err(ApiError::from))
            .unwrap()
            .unwrap();
        assert!(!record.banned && record.released);
        assert!(
            remove_blocking(&db, &signer, "nobody.example", Departure::Removed)
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn peers_cursors_move_only_forward_from_where_they_were() {
        let (db, _dir) = testing::db();
        db.write_blocking(|conn| {
            db::servers::upsert(conn, &row("hs1.example"))?;
            db::peers::start_from_zero(conn, "hs1.example")?;
            assert_eq!(db::peers::due(conn, 3, 100)?.len(), 1);
            assert!(db::peers::record_success(conn, "hs1.example", 0, 3, 100)?);
            assert!(db::peers::due(conn, 3, 100)?.is_empty());
            // A push that started before a rejoin reset the cursor does not move it.
            db::peers::start_from_zero(conn, "hs1.example")?;
            assert!(!db::peers::record_success(conn, "hs1.example", 2, 3, 100)?);
            db::peers::record_failure(conn, "hs1.example", 1, 500, "down")?;
            assert!(db::peers::due(conn, 3, 100)?.is_empty());
            assert_eq!(db::peers::next_retry(conn, 3, 100)?, Some(500));
            assert_eq!(db::peers::next_retry(conn, 3, 500)?, None);
            assert_eq!(db::peers::due(conn, 3, 500)?.len(), 1);
            db::peers::reset_backoff(conn, "hs1.example")?;
            assert_eq!(db::peers::due(conn, 3, 100)?.len(), 1);
            // Gone servers get no pushes.
            db::servers::mark_gone(conn, "hs1.example", false, false, 100)?;
            assert!(db::peers::due(conn, 3, 100)?.is_empty());
            Ok::<_, ApiError>(())
        })
        .unwrap();
    }
}
