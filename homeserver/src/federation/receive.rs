//! Applying a received transaction (`POST /api/v1/federation/relay`): parse, dedupe by
//! transaction id, verify each event, then store it — in that order, as named steps. A repeated
//! transaction is answered with the stored answer; a repeated event is acknowledged and not
//! stored twice (event ids are unique).
//!
//! A transaction carries direct messages (events from a user of the origin to a user here) and
//! envelopes of channels the origin hosts (see [`super::mirror`]).

use std::collections::BTreeMap;
use std::sync::Arc;

use federation_proto::api::wire::{Envelope, Transaction, TxnItem, WireEvent};
use federation_proto::canonical::parse_strict;
use federation_proto::event::EventKind;
use federation_proto::ids::{ChannelName, UserHandle};
use federation_proto::signing::{
    verify_event, verify_events_batch, verifying_key_from_b64, KeyId, KnownKey, VerifiedEvent,
    VerifyError,
};
use serde_json::{json, Value};

use super::peers::stored_keys;
use super::{hosting, mirror};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::channels::act::Host;
use crate::services::events::{append_event, Draft};
use crate::services::messages::{check_body, check_meta, dm_room_key_remote};
use crate::services::policy::DM_PARTICIPANT;
use crate::services::rich::{check_fields, facts, judge, no_such_message};
use crate::services::{now_ms, now_ms_u64};
use crate::state::AppState;

/// Handles one transaction from the verified `origin`; returns the `{"results": …}` answer.
pub async fn relay(state: &Arc<AppState>, origin: &str, body: &[u8]) -> Result<Value, ApiError> {
    let raw =
        parse_strict(body).map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let txn: Transaction = serde_json::from_value(raw)
        .map_err(|e| ApiError::bad_request("invalid_transaction", e.to_string()))?;
    txn.check().map_err(|e| match e.field {
        "events" | "ephemeral" => ApiError::too_large("too_many_events", e.to_string()),
        _ => ApiError::bad_request("invalid_transaction", e.to_string()),
    })?;
    if txn.origin != origin {
        return Err(ApiError::bad_request(
            "origin_mismatch",
            "the transaction's origin is not the signer of the request",
        ));
    }
    let ephemeral = txn.ephemeral_items();
    if txn.events.is_empty() {
        // Ephemeral items only (typing, …): nothing to store, nothing to remember; a replay of
        // the request is already refused by its signature.
        super::ephemeral::receive(state, origin, ephemeral).await;
        return Ok(json!({ "results": {} }));
    }
    let (o, t) = (origin.to_string(), txn.txn_id.clone());
    if let Some(stored) = state
        .db
        .run(move |conn| db::outbox::received(conn, &o, &t).map_err(ApiError::from))
        .await?
    {
        return serde_json::from_str(&stored).map_err(ApiError::internal);
    }
    let keys = origin_keys(state, origin).await?;
    let mut results = serde_json::Map::new();
    let mut rest: &[Value] = &txn.events;
    while let Some(first) = rest.first() {
        let id = TxnItem::id_of(first);
        let item = TxnItem::parse(first)
            .map_err(|e| ApiError::bad_request("invalid_event", e.to_string()));
        let submission = match item {
            Ok(TxnItem::Envelope(envelope)) => {
                let outcome = receive_envelope(state, origin, &envelope).await;
                record(&mut results, origin, id, outcome)?;
                rest = &rest[1..];
                continue;
            }
            Ok(TxnItem::Event(event)) if is_submission(&event) => Some(event),
            Ok(TxnItem::Event(_)) => None,
            Err(e) => {
                record(&mut results, origin, id, Err(e))?;
                rest = &rest[1..];
                continue;
            }
        };
        if let Some(event) = submission {
            let outcome = match verify_with(origin, &keys, &event.to_value()) {
                Ok(()) => hosting::submit_relayed(state, origin, event).await,
                Err(e) => Err(e),
            };
            record(&mut results, origin, id, outcome)?;
            rest = &rest[1..];
            continue;
        }
        // A run of direct events: verified together, stored in one write.
        let run = rest
            .iter()
            .take_while(
                |e| matches!(TxnItem::parse(e), Ok(TxnItem::Event(ev)) if !is_submission(&ev)),
            )
            .count()
            .max(1);
        let (direct, tail) = rest.split_at(run);
        for (id, outcome) in receive_direct_events(state, origin, &keys, direct).await? {
            record(&mut results, origin, id, outcome)?;
        }
        rest = tail;
    }
    super::ephemeral::receive(state, origin, ephemeral).await;
    let answer = json!({ "results": results });
    let (o, stored, txn_id) = (origin.to_string(), answer.to_string(), txn.txn_id);
    state
        .db
        .write(move |conn| {
            db::outbox::remember_received(conn, &o, &txn_id, &stored, now_ms())
                .map_err(ApiError::from)
        })
        .await?;
    Ok(answer)
}

/// An event addressed to a channel (a submission from a member server), not to a user.
fn is_submission(event: &WireEvent) -> bool {
    event.to.starts_with('#')
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
    envelope: &Envelope,
) -> Result<(), ApiError> {
    if envelope.host() != origin {
        return Err(ApiError::forbidden(
            "not_host",
            format!("{origin} does not host {}", envelope.channel),
        ));
    }
    mirror::apply(state, envelope, mirror::Arrival::Relayed).await
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
    target: Option<String>,
    attachments: Vec<String>,
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
        let checked = accept_verified(origin, verified).and_then(|()| check_direct(state, event));
        match checked {
            Ok(direct) => {
                to_store.push((outcomes.len(), direct));
                outcomes.push((TxnItem::id_of(event), Ok(())));
            }
            Err(e) => outcomes.push((TxnItem::id_of(event), Err(e))),
        }
    }
    if to_store.is_empty() {
        return Ok(outcomes);
    }
    let host = Host::of(state);
    let stored = state
        .db
        .write(move |conn| {
            let mut stored = Vec::with_capacity(to_store.len());
            for (index, direct) in to_store {
                match db::writer::savepoint(conn, |c| store_direct(c, &host, direct)) {
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
fn check_direct(state: &AppState, event: &Value) -> Result<DirectEvent, ApiError> {
    let event = WireEvent::try_from(event.clone())
        .map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    let kind = event.kind;
    let acts_on_message = matches!(
        kind,
        EventKind::Edit | EventKind::Delete | EventKind::Reaction
    );
    if !(kind.is_user_sendable() || kind == EventKind::Invite || acts_on_message) {
        return Err(ApiError::bad_request(
            "unsupported_type",
            "only message, action, notice, invite, edit, delete and reaction travel as direct events",
        ));
    }
    if acts_on_message && event.target.is_none() {
        return Err(ApiError::bad_request(
            "invalid_event",
            format!("a {kind} names its target"),
        ));
    }
    if kind == EventKind::Invite {
        // An invitation names a channel; the channel's host judges the join, so a false one
        // grants nothing. The inviter's server sends it, whoever hosts the channel.
        let channel = event.meta_str("channel").unwrap_or_default();
        if channel.parse::<ChannelName>().is_err() || !channel.starts_with('#') {
            return Err(ApiError::bad_request(
                "invalid_event",
                "an invite names a channel",
            ));
        }
    }
    let to: UserHandle = event
        .to
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_event", "to must be a user handle"))?;
    if !to.is_local_to(&state.server_name) {
        return Err(ApiError::not_found(
            "unknown_user",
            format!("{to} is not a user of this server"),
        ));
    }
    let meta = Value::Object(event.meta.clone());
    if acts_on_message {
        check_fields(state, kind, &event.body, &meta)?;
    } else {
        check_body(state, &event.body)?;
        check_meta(&meta)?;
    }
    Ok(DirectEvent {
        id: event.id.to_string(),
        kind,
        from: event.from.to_string(),
        to,
        body: event.body.clone(),
        meta,
        reply_to: event.reply_to.map(|u| u.to_string()),
        target: event.target.map(|u| u.to_string()),
        attachments: crate::services::media::received_attachments(
            &event.attachments,
            &event.origin,
        ),
        ts_ms: i64::try_from(event.ts_ms).unwrap_or_else(|_| now_ms()),
    })
}

/// Stores a direct event for its local recipient (inside the caller's write); a repeat is
/// acknowledged and applied once. An edit, delete or reaction must name a message of the same
/// conversation, and is judged by the same rules as a local user's ([`judge`]: one edits and
/// deletes only one's own messages and reactions, within `EDIT_WINDOW` of the message's
/// signed time for an edit); a repeated reaction is acknowledged and stored once.
fn store_direct(conn: &mut Conn, host: &Host, direct: DirectEvent) -> Result<(), ApiError> {
    let (server, max_history) = (&host.server, host.max_history);
    if db::events::exists(conn, &direct.id)? {
        return Ok(());
    }
    let to = direct.to;
    let user = db::users::by_nick(conn, to.nick.as_str())?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {to}")))?;
    crate::services::blocks::check_dm(conn, &user.id, &direct.from)?;
    let room = db::events::ensure_room(conn, &dm_room_key_remote(&user.id, &direct.from), "dm")?;
    db::events::open_span(conn, &user.id, room, 0)?;
    if let Some(target_id) = &direct.target {
        let target = db::events::by_id(conn, target_id)?
            .filter(|t| t.room_id == room)
            .ok_or_else(|| no_such_message(target_id))?;
        if direct.kind == EventKind::Reaction
            && db::rich::reaction(conn, &target.id, &[direct.from.as_str()], &direct.body)?
                .is_some()
        {
            return Ok(());
        }
        let facts = facts(conn, &target, &[direct.from.as_str()], direct.ts_ms)?;
        judge(
            direct.kind,
            Some(DM_PARTICIPANT),
            facts,
            host.edit_window_ms,
        )
        .map_err(|d| d.into_error("this conversation"))?;
    }
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
    .targeting(direct.target)
    .with_attachments(direct.attachments)
    .received(direct.id, direct.ts_ms);
    append_event(conn, draft, max_history)?;
    Ok(())
}
