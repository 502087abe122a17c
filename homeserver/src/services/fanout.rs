//! Queueing what leaves this server, in the transaction that stores it (DESIGN.md,
//! "Federation"): the events of channels hosted here, wrapped in host-signed envelopes for the
//! servers with members in them ([`fan_out`]), and a local user's direct events (DMs,
//! invitations, their edits, deletes and reactions) for the other user's server
//! ([`queue_direct`]).

use federation_proto::api::wire::ChannelState;
use federation_proto::event::{Event, EventKind};
use federation_proto::signing::{hash_and_sign_event, sign_envelope_with_state};
use serde_json::Value;

use super::events::view;
use super::{members, modes, now_ms};
use crate::db::models::{ChannelRow, EventRow};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::keystore::KeyStore;

/// The channel's state as member servers show it.
pub fn channel_state(conn: &mut Conn, channel: &ChannelRow) -> Result<ChannelState, ApiError> {
    Ok(ChannelState {
        topic: channel.topic.clone(),
        modes: modes::render(channel, false),
        members: members::count(conn, channel.room_id)?,
        description: db::settings::description(conn, channel.room_id)?,
    })
}

/// Whether an event of this kind changes what [`ChannelState`] shows.
pub fn changes_state(kind: &str) -> bool {
    matches!(
        EventKind::from_wire(kind),
        Some(
            EventKind::Join
                | EventKind::Part
                | EventKind::Kick
                | EventKind::Topic
                | EventKind::Mode
                | EventKind::Description
        )
    )
}

/// The host-signed envelope of a stored channel event, with `state` for an event that changed
/// it. Events from other servers keep their origin's signature (`wire`); the host's own are
/// signed now (ed25519 is deterministic, so the same event always gets the same signature).
pub fn envelope_of(
    keys: &KeyStore,
    server: &str,
    channel: &ChannelRow,
    row: &EventRow,
    state: Option<&ChannelState>,
) -> Result<Value, ApiError> {
    let global = format!("#{}@{}", channel.name, server);
    let wire = match &row.wire {
        Some(wire) => serde_json::from_str(wire).map_err(ApiError::internal)?,
        None => {
            let mut wire = serde_json::to_value(view(row.clone())?).map_err(ApiError::internal)?;
            hash_and_sign_event(&mut wire, server, keys.current()).map_err(ApiError::internal)?;
            wire
        }
    };
    let seq = u64::try_from(row.room_seq.unwrap_or(0)).unwrap_or(0);
    let ts = u64::try_from(row.ts_ms).unwrap_or(0);
    let state = state
        .filter(|_| changes_state(&row.kind))
        .map(serde_json::to_value)
        .transpose()
        .map_err(ApiError::internal)?;
    sign_envelope_with_state(&global, seq, ts, wire, state, keys.current())
        .map_err(ApiError::internal)
}

/// Queues the envelope of `row` for every server with members in the channel, and for
/// `also` (a server whose last member just left and must hear it). `true` when anything was
/// queued (the caller wakes the outbox worker after the commit).
pub fn fan_out(
    conn: &mut Conn,
    keys: &KeyStore,
    server: &str,
    channel: &ChannelRow,
    row: &EventRow,
    also: Option<&str>,
) -> Result<bool, ApiError> {
    let mut servers = db::shared::member_servers(conn, channel.room_id)?;
    if let Some(extra) = also {
        if !servers.iter().any(|s| s == extra) {
            servers.push(extra.to_string());
        }
    }
    if servers.is_empty() {
        return Ok(false);
    }
    let state = if changes_state(&row.kind) {
        Some(channel_state(conn, channel)?)
    } else {
        None
    };
    let payload = envelope_of(keys, server, channel, row, state.as_ref())?.to_string();
    for destination in servers {
        db::outbox::enqueue(conn, &destination, &row.id, &payload, now_ms())?;
    }
    Ok(true)
}

/// Signs a local user's direct event (`server_name` is this server) and queues it for the
/// other user's `destination` server, in the caller's write: a send acknowledged after this
/// commit is durable.
pub fn queue_direct(
    conn: &mut Conn,
    keys: &KeyStore,
    server_name: &str,
    destination: &str,
    event: &Event,
) -> Result<(), ApiError> {
    let mut wire = serde_json::to_value(event).map_err(ApiError::internal)?;
    hash_and_sign_event(&mut wire, server_name, keys.current()).map_err(ApiError::internal)?;
    db::outbox::enqueue(
        conn,
        destination,
        &event.id.to_string(),
        &wire.to_string(),
        now_ms(),
    )?;
    Ok(())
}
