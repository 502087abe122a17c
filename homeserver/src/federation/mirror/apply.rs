//! Applying the host's envelopes to a mirror: verified (the host's and the origin's
//! signatures), stored strictly in the host's order and once each, with the channel's state;
//! gaps pulled; every mirror caught up at start and on a timer.

use std::collections::BTreeMap;

use awc::http::Method;
use federation_proto::api::wire::{Envelope, EventsAnswer};
use federation_proto::event::EventKind;
use federation_proto::ids::ChannelName;
use federation_proto::signing::{verify_envelope, verifying_key_from_b64, KeyId, KnownKey};
use serde_json::Value;

use super::super::hosting::PULL_MAX;
use super::super::peers::stored_keys;
use super::{bad_gateway, channel_path, client, host_error, host_url};
use crate::db::shared::MirrorRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::events::{append_event, Draft};
use crate::services::{now_ms, now_ms_u64};
use crate::state::AppState;

/// What applying an envelope found.
enum Applied {
    /// Stored (and published to long-polls by the commit).
    Stored,
    /// Already had it.
    Duplicate,
    /// Relayed before the join answer that makes the mirror whole: the join pulls it.
    Awaited,
    /// Ahead of what we have: pull from `have` first.
    Gap { have: i64 },
}

/// How an envelope reached this server, which decides what it may do here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Relayed by the host on its own: stored only in a mirror this server made when one of
    /// its users asked to join, so a peer cannot make this server create mirrors.
    Relayed,
    /// The host's answer to a submission of ours: the mirror exists.
    Answered,
    /// A page of a pull of ours: the mirror exists; envelopes come in order.
    Pulled,
    /// A join's answer and its backfill: the backfill may start after a gap.
    Joining,
}

/// Verifies and applies one envelope from `host`; a gap is filled by pulling first.
pub async fn apply(
    state: &AppState,
    envelope: &Envelope,
    arrival: Arrival,
) -> Result<(), ApiError> {
    verify(&known_keys(state).await?, envelope)?;
    match store(state, envelope, arrival).await? {
        Applied::Stored | Applied::Duplicate | Applied::Awaited => Ok(()),
        // A deletion needs nothing before it (the history goes), and the host has no log left
        // to pull from.
        Applied::Gap { .. } if is_deletion(&envelope.event, envelope.host()) => {
            store(state, envelope, Arrival::Pulled).await?;
            Ok(())
        }
        Applied::Gap { have } => {
            pull(state, &envelope.channel.to_string(), envelope.host(), have).await?;
            store(state, envelope, Arrival::Pulled).await?;
            Ok(())
        }
    }
}

/// The cursor after a page of a pull, or `None` when the page did not advance it (a host that
/// answers stale sequence numbers must not keep us looping).
fn advanced(have: i64, page: &[Envelope]) -> Option<i64> {
    let last = page
        .iter()
        .filter_map(|e| i64::try_from(e.seq).ok())
        .max()?;
    (last > have).then_some(last)
}

/// Pulls everything after `have` from the host and applies it in order.
pub async fn pull(
    state: &AppState,
    global: &str,
    host: &str,
    mut have: i64,
) -> Result<(), ApiError> {
    let channel: ChannelName = global.parse()?;
    let url = host_url(state, host).await?;
    let client = client(state);
    loop {
        let path = format!(
            "{}?after={have}&limit={PULL_MAX}",
            channel_path(&channel.name, "/events")
        );
        let answer = client
            .signed(Method::GET, &url, &path, host, None)
            .await
            .map_err(|e| host_error(host, e))?;
        let EventsAnswer { envelopes } =
            serde_json::from_value(answer).map_err(|e| bad_gateway(host, e))?;
        if envelopes.is_empty() {
            return Ok(());
        }
        let keys = known_keys(state).await?;
        for envelope in &envelopes {
            if envelope.channel.to_string() != channel.to_string() {
                return Err(bad_gateway(
                    host,
                    "an envelope of another channel in a pull",
                ));
            }
            verify(&keys, envelope)?;
            store(state, envelope, Arrival::Pulled).await?;
        }
        match advanced(have, &envelopes) {
            Some(next) if envelopes.len() >= PULL_MAX as usize => have = next,
            Some(_) => return Ok(()),
            None => {
                tracing::warn!(%global, host, have, "a pull page did not advance; stopped");
                return Ok(());
            }
        }
    }
}

/// Pulls every channel that local users are in from its host: at start (catching up after a
/// restart) and then every `DIRECTORY_PULL_SECS`, so a lost push is healed without new traffic.
pub async fn run_catch_up(state: std::sync::Arc<AppState>) {
    let period = std::time::Duration::from_secs(state.config.directory_pull_secs);
    let mut every = tokio::time::interval(period);
    loop {
        every.tick().await;
        let mirrors = state
            .db
            .run(|conn| db::shared::active_mirrors(conn).map_err(ApiError::from))
            .await;
        for mirror in mirrors.unwrap_or_default() {
            if let Err(e) = pull(&state, &mirror.channel, &mirror.host, mirror.host_seq).await {
                tracing::info!(channel = %mirror.channel, error = %e, "catch-up pull failed");
            }
        }
    }
}

/// Verify keys of every live peer and of this server, by `(server, key id)`.
type KeyMap = BTreeMap<(String, String), KnownKey>;

/// Checks the host's and the origin's signatures with the keys we hold for them.
fn verify(
    keys: &KeyMap,
    envelope: &Envelope,
) -> Result<federation_proto::signing::VerifiedEnvelope, ApiError> {
    let lookup =
        |server: &str, key_id: &KeyId| keys.get(&(server.to_string(), key_id.to_string())).cloned();
    verify_envelope(&envelope.to_value(), &lookup, now_ms_u64())
        .map_err(|e| ApiError::forbidden("invalid_event", e.to_string()))
}

/// Loads the keys envelopes are checked with (once per batch of envelopes, not per envelope).
async fn known_keys(state: &AppState) -> Result<KeyMap, ApiError> {
    let peers = state
        .db
        .run(|conn| db::peers::all(conn).map_err(ApiError::from))
        .await?;
    let mut keys: BTreeMap<(String, String), KnownKey> = BTreeMap::new();
    for peer in peers.iter().filter(|p| p.status == "up") {
        for (id, k) in stored_keys(peer) {
            if let Ok(key) = verifying_key_from_b64(&k.key) {
                keys.insert(
                    (peer.server_name.clone(), id),
                    KnownKey {
                        key,
                        expired_ts: None,
                    },
                );
            }
        }
    }
    // Our own users' events come back inside the host's envelopes: our keys verify them.
    let own = state.server_name.to_string();
    let current = state.keys.current();
    keys.insert(
        (own.clone(), current.key_id().to_string()),
        KnownKey {
            key: current.verifying_key(),
            expired_ts: None,
        },
    );
    for old in state.keys.old_keys() {
        if let Ok(key) = verifying_key_from_b64(&old.public_key) {
            keys.insert(
                (own.clone(), old.key_id.to_string()),
                KnownKey {
                    key,
                    expired_ts: Some(old.expired_ts),
                },
            );
        }
    }
    Ok(keys)
}

/// Stores a verified envelope in the mirror, in order, once; records the channel's state when
/// the envelope carries it.
async fn store(
    state: &AppState,
    envelope: &Envelope,
    arrival: Arrival,
) -> Result<Applied, ApiError> {
    let envelope = envelope.clone();
    let server = state.server_name.to_string();
    let max_history = state.config.max_history;
    state
        .db
        .write(move |conn| {
            let global = envelope.channel.to_string();
            let seq = i64::try_from(envelope.seq)
                .map_err(|_| ApiError::bad_request("invalid_event", "seq out of range"))?;
            let mirror = db::shared::mirror_by_channel(conn, &global)?
                .ok_or_else(|| not_mirrored(&global))?;
            if seq <= mirror.host_seq {
                return Ok(Applied::Duplicate);
            }
            if mirror.host_seq == 0 && arrival == Arrival::Relayed {
                // A local user's join answer is on its way (only a join makes a mirror): it
                // brings the backfill, with the pinned messages older than it, and the join
                // pulls what the host relayed meanwhile once it is applied.
                return Ok(Applied::Awaited);
            }
            let allow_gap = matches!(arrival, Arrival::Joining | Arrival::Pulled);
            if seq > mirror.host_seq + 1 && !allow_gap {
                return Ok(Applied::Gap {
                    have: mirror.host_seq,
                });
            }
            let event = &envelope.event;
            let id = event.id.to_string();
            if db::events::exists(conn, &id)? {
                db::shared::set_host_seq(conn, mirror.room_id, seq)?;
                return Ok(Applied::Duplicate);
            }
            let local_user = |conn: &mut Conn, handle: &str| -> Result<Option<String>, ApiError> {
                let Some((nick, srv)) = handle.rsplit_once('@') else {
                    return Ok(None);
                };
                if srv != server {
                    return Ok(None);
                }
                Ok(db::users::by_nick(conn, nick)?.map(|u| u.id))
            };
            let from = event.from.to_string();
            // A local user's event is stored with their id, as on a channel hosted here (their
            // reactions are keyed by it; unread counts skip their own messages by it).
            let sender_id = local_user(conn, &from)?;
            // A local user's join opens their window before the event, so they receive it.
            let joiner = sender_id.clone().filter(|_| event.kind == EventKind::Join);
            if let Some(user_id) = &joiner {
                let next = db::events::max_seq(conn)? + 1;
                db::events::open_span(conn, user_id, mirror.room_id, next)?;
            }
            let ts_ms = i64::try_from(event.ts_ms).unwrap_or_else(|_| now_ms());
            let draft = Draft::new(
                mirror.room_id,
                &from,
                sender_id.as_deref(),
                &global,
                event.kind,
                event.body.clone(),
            )
            .with_meta(Value::Object(event.meta.clone()))
            .replying_to(event.reply_to.map(|u| u.to_string()))
            .targeting(event.target.map(|u| u.to_string()))
            .with_attachments(crate::services::media::received_attachments(
                &event.attachments,
                &event.origin,
            ))
            .received(id, ts_ms)
            .mirrored(seq, Some(event.to_json()));
            let row = append_event(conn, draft, max_history)?;
            if is_deletion(event, &mirror.host) {
                // The host deleted the channel: local members got the `system` event; their
                // windows close on it, and the mirror and its history go.
                for user_id in db::events::recipients(conn, mirror.room_id)?.iter() {
                    db::events::close_span(conn, user_id, mirror.room_id, row.seq)?;
                }
                db::settings::erase_room(conn, mirror.room_id, &row.id, &global)?;
                return Ok(Applied::Stored);
            }
            // A local user who leaves or is kicked receives that event, then nothing more.
            let leaver = match event.kind {
                EventKind::Part => local_user(conn, &from)?,
                EventKind::Kick => match event.meta_str("nick") {
                    Some(target) => local_user(conn, target)?,
                    None => None,
                },
                _ => None,
            };
            if let Some(user_id) = leaver {
                db::events::close_span(conn, &user_id, mirror.room_id, row.seq)?;
            }
            db::shared::set_host_seq(conn, mirror.room_id, seq)?;
            if let Some(shown) = &envelope.state {
                db::shared::set_mirror_state(
                    conn,
                    mirror.room_id,
                    &shown.topic,
                    &shown.modes,
                    shown.members,
                )?;
                let known = db::settings::description(conn, mirror.room_id)?;
                if known != shown.description {
                    // A joiner learns the description from the state (its event may be
                    // older than the backfill).
                    db::settings::set_description(
                        conn,
                        mirror.room_id,
                        &shown.description,
                        &from,
                        ts_ms,
                    )?;
                }
            }
            Ok(Applied::Stored)
        })
        .await
}

/// Whether a (host-signed) envelope's event is the host's announcement that it deleted the
/// channel: a `system` event from a user of the host with `meta.channel_deleted` (member
/// servers cannot submit `system` events, so only the host makes one).
fn is_deletion(event: &federation_proto::api::wire::WireEvent, host: &str) -> bool {
    event.kind == EventKind::System
        && event.meta.contains_key("channel_deleted")
        && event.from.server.as_ref().map(|s| s.as_str()) == Some(host)
}

fn not_mirrored(global: &str) -> ApiError {
    ApiError::forbidden(
        "not_mirrored",
        format!("no user of this server asked to join {global}"),
    )
}

/// The mirror of `global`, created on first use.
pub(super) fn mirror_of(conn: &mut Conn, global: &str, host: &str) -> Result<MirrorRow, ApiError> {
    if let Some(mirror) = db::shared::mirror_by_channel(conn, global)? {
        return Ok(mirror);
    }
    let room_id = db::events::ensure_room(conn, &format!("mirror:{global}"), "mirror")?;
    let row = MirrorRow {
        room_id,
        channel: global.to_string(),
        host: host.to_string(),
        host_seq: 0,
        topic: String::new(),
        modes: String::new(),
        members: 0,
    };
    db::shared::insert_mirror(conn, &row)?;
    Ok(row)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn page(seqs: &[u64]) -> Vec<Envelope> {
        seqs.iter()
            .map(|seq| {
                Envelope::try_from(json!({
                    "channel": "#general@hs1.test", "seq": seq, "ts": 1,
                    "event": {
                        "id": uuid::Uuid::now_v7().to_string(), "ts": "2026-12-01T00:00:00.000Z",
                        "from": "alice@hs1.test", "to": "#general@hs1.test",
                        "type": "message", "body": "x", "meta": {}
                    }
                }))
                .expect("an envelope")
            })
            .collect()
    }

    #[test]
    fn a_pull_stops_when_pages_stop_advancing() {
        assert_eq!(advanced(0, &page(&[1, 2, 3])), Some(3));
        assert_eq!(advanced(3, &page(&[4])), Some(4));
        // A host that answers what we already have (or older) ends the pull.
        assert_eq!(advanced(3, &page(&[1, 2, 3])), None);
        assert_eq!(advanced(3, &page(&[2])), None);
        assert_eq!(advanced(3, &[]), None);
    }
}
