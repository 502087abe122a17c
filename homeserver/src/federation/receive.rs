//! Applying a received transaction (`POST /api/v1/federation/relay`): parse, dedupe by
//! transaction id, verify each event, then store it — in that order, as named steps. A repeated
//! transaction is answered with the stored answer; a repeated event is acknowledged and not
//! stored twice (event ids are unique).
//!
//! A transaction carries direct messages (events from a user of the origin to a user here) and
//! envelopes of channels the origin hosts (see [`super::mirror`]).

use std::collections::BTreeMap;

use federation_proto::canonical::parse_strict;
use federation_proto::event::EventKind;
use federation_proto::ids::ServerName;
use federation_proto::ids::UserHandle;
use federation_proto::signing::{
    verify_event, verify_events_batch, verifying_key_from_b64, KeyId, KnownKey, VerifiedEvent,
    VerifyError,
};
use federation_proto::time::parse_rfc3339_ms;
use serde_json::{json, Value};

use super::mirror;
use super::peers::stored_keys;
use super::sender::TXN_MAX_EVENTS;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::events::{append_event, Draft};
use crate::services::messages::{check_body, check_meta, dm_room_key_remote};
use crate::services::{now_ms, now_ms_u64};
use crate::state::AppState;

/// Longest transaction id.
const TXN_ID_MAX: usize = 128;

/// Handles one transaction from the verified `origin`; returns the `{"results": …}` answer.
pub async fn relay(state: &AppState, origin: &str, body: &[u8]) -> Result<Value, ApiError> {
    let txn =
        parse_strict(body).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let txn_id = txn
        .get("txn_id")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty() && t.len() <= TXN_ID_MAX)
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_transaction",
                "txn_id must be a string of 1-128 bytes",
            )
        })?
        .to_string();
    if txn.get("origin").and_then(Value::as_str) != Some(origin) {
        return Err(ApiError::bad_request(
            "origin_mismatch",
            "the transaction's origin is not the signer of the request",
        ));
    }
    let events = txn
        .get("events")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad_request("invalid_transaction", "events must be an array"))?;
    if events.len() > TXN_MAX_EVENTS as usize {
        return Err(ApiError::too_large(
            "too_many_events",
            format!("at most {TXN_MAX_EVENTS} events per transaction"),
        ));
    }
    let (o, t) = (origin.to_string(), txn_id.clone());
    if let Some(stored) = state
        .db
        .run(move |conn| db::outbox::received(conn, &o, &t).map_err(ApiError::from))
        .await?
    {
        return serde_json::from_str(&stored).map_err(ApiError::internal);
    }
    let keys = origin_keys(state, origin).await?;
    let mut results = serde_json::Map::new();
    let mut rest: &[Value] = events;
    while let Some(first) = rest.first() {
        if is_envelope(first) {
            let outcome = receive_envelope(state, origin, first).await;
            record(&mut results, origin, event_id(first), outcome)?;
            rest = &rest[1..];
            continue;
        }
        // A run of direct events: verified together, stored in one write.
        let run = rest.iter().take_while(|e| !is_envelope(e)).count();
        let (direct, tail) = rest.split_at(run);
        for (id, outcome) in receive_direct_events(state, origin, &keys, direct).await? {
            record(&mut results, origin, id, outcome)?;
        }
        rest = tail;
    }
    let answer = json!({ "results": results });
    let (o, stored) = (origin.to_string(), answer.to_string());
    state
        .db
        .write(move |conn| {
            db::outbox::remember_received(conn, &o, &txn_id, &stored, now_ms())
                .map_err(ApiError::from)
        })
        .await?;
    Ok(answer)
}

/// A channel envelope (sequenced by its host) rather than a direct event.
fn is_envelope(event: &Value) -> bool {
    event.get("channel").is_some() && event.get("event").is_some()
}

/// The id of a direct event or of an envelope's event, for the answer.
fn event_id(event: &Value) -> String {
    let inner = if is_envelope(event) {
        &event["event"]
    } else {
        event
    };
    inner
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string()
}

/// Adds an event's outcome to the answer. Our failure, not the event's, fails the whole
/// transaction, unremembered, so the sender retries it (what was already stored is applied
/// once by its event id).
fn record(
    results: &mut serde_json::Map<String, Value>,
    origin: &str,
    id: String,
    outcome: Result<(), ApiError>,
) -> Result<(), ApiError> {
    let result = match outcome {
        Ok(()) => json!({}),
        Err(e) if e.status.is_server_error() => return Err(e),
        Err(e) => {
            tracing::info!(origin, event = %id, code = e.code, "refused a federated event");
            json!({"error": {"code": e.code, "message": e.message}})
        }
    };
    results.insert(id, result);
    Ok(())
}

/// A sequenced channel event relayed by the channel's host.
async fn receive_envelope(
    state: &AppState,
    origin: &str,
    envelope: &Value,
) -> Result<(), ApiError> {
    let channel = envelope["channel"].as_str().unwrap_or_default();
    if channel.rsplit('@').next() != Some(origin) {
        return Err(ApiError::forbidden(
            "not_host",
            format!("{origin} does not host {channel}"),
        ));
    }
    mirror::apply(state, envelope, false).await
}

async fn origin_keys(
    state: &AppState,
    origin: &str,
) -> Result<BTreeMap<String, KnownKey>, ApiError> {
    let o = origin.to_string();
    let peer = state
        .db
        .run(move |conn| db::peers::get(conn, &o).map_err(ApiError::from))
        .await?;
    let keys = peer.map(|p| stored_keys(&p)).unwrap_or_default();
    Ok(keys
        .into_iter()
        .filter_map(|(id, k)| {
            verifying_key_from_b64(&k.key).ok().map(|key| {
                (
                    id,
                    KnownKey {
                        key,
                        expired_ts: None,
                    },
                )
            })
        })
        .collect())
}

/// Verifies an event submitted by `origin` (its signature, and that its sender is `origin`'s).
pub async fn verify_from(state: &AppState, origin: &str, event: &Value) -> Result<(), ApiError> {
    let keys = origin_keys(state, origin).await?;
    verify_with(origin, &keys, event)
}

/// Checks an event's hash and `origin`'s signature with `origin`'s keys, and that `origin` is
/// the sender's server.
fn verify_with(
    origin: &str,
    keys: &BTreeMap<String, KnownKey>,
    event: &Value,
) -> Result<(), ApiError> {
    accept_verified(
        origin,
        verify_event(event, &origin_lookup(origin, keys), now_ms_u64()),
    )
}

/// Looks up only `origin`'s own keys.
fn origin_lookup<'a>(
    origin: &'a str,
    keys: &'a BTreeMap<String, KnownKey>,
) -> impl Fn(&str, &KeyId) -> Option<KnownKey> + 'a {
    move |server, key_id| {
        (server == origin)
            .then(|| keys.get(key_id.as_str()).cloned())
            .flatten()
    }
}

/// A verification's outcome as the relay's answer: a bad hash or signature, or a sender that
/// is not of `origin`, is refused.
fn accept_verified(
    origin: &str,
    verified: Result<VerifiedEvent, VerifyError>,
) -> Result<(), ApiError> {
    let verified = verified.map_err(|e| ApiError::forbidden("invalid_event", e.to_string()))?;
    if verified.origin != origin {
        return Err(ApiError::forbidden(
            "origin_mismatch",
            "the event's origin is not the sending server",
        ));
    }
    Ok(())
}

/// A direct event, verified and checked, ready to store.
struct DirectEvent {
    id: String,
    kind: EventKind,
    from: String,
    to: UserHandle,
    body: String,
    meta: Value,
    reply_to: Option<String>,
    ts_ms: i64,
}

/// Verifies a run of direct events (one batch signature check) and stores the valid ones in one
/// write, each in its own savepoint. Returns each event's outcome in order; `Err` only for our
/// own failure, which fails the transaction.
async fn receive_direct_events(
    state: &AppState,
    origin: &str,
    keys: &BTreeMap<String, KnownKey>,
    events: &[Value],
) -> Result<Vec<(String, Result<(), ApiError>)>, ApiError> {
    let verified = verify_events_batch(events, &origin_lookup(origin, keys), now_ms_u64());
    let mut outcomes: Vec<(String, Result<(), ApiError>)> = Vec::with_capacity(events.len());
    let mut to_store: Vec<(usize, DirectEvent)> = Vec::new();
    for (event, verified) in events.iter().zip(verified) {
        let checked =
            accept_verified(origin, verified).and_then(|()| check_direct(state, origin, event));
        match checked {
            Ok(direct) => {
                to_store.push((outcomes.len(), direct));
                outcomes.push((event_id(event), Ok(())));
            }
            Err(e) => outcomes.push((event_id(event), Err(e))),
        }
    }
    if to_store.is_empty() {
        return Ok(outcomes);
    }
    let max_history = state.config.max_history;
    let server = state.server_name.clone();
    let stored = state
        .db
        .write(move |conn| {
            let mut stored = Vec::with_capacity(to_store.len());
            for (index, direct) in to_store {
                match db::writer::savepoint(conn, |c| store_direct(c, &server, max_history, direct))
                {
                    Err(e) if e.status.is_server_error() => return Err(e),
                    outcome => stored.push((index, outcome)),
                }
            }
            Ok::<_, ApiError>(stored)
        })
        .await?;
    for (index, outcome) in stored {
        outcomes[index].1 = outcome;
    }
    Ok(outcomes)
}

/// Checks a verified direct event's fields and its local recipient's handle.
fn check_direct(state: &AppState, origin: &str, event: &Value) -> Result<DirectEvent, ApiError> {
    let field = |name: &str| event.get(name).and_then(Value::as_str);
    let id = field("id")
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_event", "id must be a UUID"))?
        .to_string();
    let kind = field("type")
        .and_then(EventKind::parse)
        .filter(|k| k.is_user_sendable() || *k == EventKind::Invite)
        .ok_or_else(|| {
            ApiError::bad_request(
                "unsupported_type",
                "only message, action, notice and invite travel as direct events",
            )
        })?;
    if kind == EventKind::Invite {
        // An invitation names a channel its sender's server hosts.
        let channel = event["meta"]["channel"].as_str().unwrap_or_default();
        if channel.rsplit('@').next() != Some(origin) || !channel.starts_with('#') {
            return Err(ApiError::bad_request(
                "invalid_event",
                "an invite names a channel hosted by its origin",
            ));
        }
    }
    let from = field("from").unwrap_or_default().to_string();
    let to: UserHandle = field("to")
        .unwrap_or_default()
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_event", "to must be a user handle"))?;
    if !to.is_local_to(&state.server_name) {
        return Err(ApiError::not_found(
            "unknown_user",
            format!("{to} is not a user of this server"),
        ));
    }
    let body = field("body").unwrap_or_default().to_string();
    check_body(state, &body)?;
    let meta = event.get("meta").cloned().unwrap_or_else(|| json!({}));
    check_meta(&meta)?;
    let reply_to = field("reply_to")
        .and_then(|s| uuid::Uuid::parse_str(s).ok())
        .map(|u| u.to_string());
    let ts_ms = field("ts")
        .and_then(|ts| parse_rfc3339_ms(ts).ok())
        .and_then(|ms| i64::try_from(ms).ok())
        .unwrap_or_else(now_ms);
    Ok(DirectEvent {
        id,
        kind,
        from,
        to,
        body,
        meta,
        reply_to,
        ts_ms,
    })
}

/// Stores a direct event for its local recipient (inside the caller's write); a repeat is
/// acknowledged and applied once.
fn store_direct(
    conn: &mut Conn,
    server: &ServerName,
    max_history: i64,
    direct: DirectEvent,
) -> Result<(), ApiError> {
    if db::events::exists(conn, &direct.id)? {
        return Ok(());
    }
    let to = direct.to;
    let user = db::users::by_nick(conn, to.nick.as_str())?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {to}")))?;
    let room = db::events::ensure_room(conn, &dm_room_key_remote(&user.id, &direct.from), "dm")?;
    db::events::open_span(conn, &user.id, room, 0)?;
    let recipient = to.qualified(server);
    let draft = Draft::new(
        room,
        &direct.from,
        None,
        &recipient,
        direct.kind,
        direct.body,
    )
    .with_meta(direct.meta)
    .replying_to(direct.reply_to)
    .received(direct.id, direct.ts_ms);
    append_event(conn, draft, max_history)?;
    Ok(())
}
