//! The host's side of shared channels (DESIGN.md, "Federation"): the host is the single writer
//! of its channels' logs. Member servers *submit* events their users signed; the host checks
//! them (signature, origin, membership, modes, keys, limits), gives each the channel's next
//! gap-free sequence number, and relays a host-signed envelope once to every server with
//! members. Member servers pull `events?after=N` to fill gaps and to catch up after a restart.

use federation_proto::api::client::ChannelInfo;
use federation_proto::event::EventKind;
use federation_proto::signing::{hash_and_sign_event, sign_envelope};
use serde_json::{json, Value};

use crate::db::models::{ChannelRow, EventRow};
use crate::db::shared::RemoteMemberRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::keystore::KeyStore;
use crate::services::channels::{
    apply_mode_changes, check_topic, finish_kick, info_of, kick_target, load_channel, KickTarget,
};
use crate::services::events::{append_event, view, Draft};
use crate::services::messages::{check_body, check_meta};
use crate::services::modes;
use crate::services::now_ms;
use crate::state::AppState;

/// Most envelopes in one pull answer, and in a joiner's backfill.
pub const PULL_MAX: i64 = 100;
/// Events a joining server receives from before its join.
pub const BACKFILL: i64 = 50;

/// The host-signed envelope of a stored channel event. Events from other servers keep their
/// origin's signature (`wire`); the host's own are signed now (ed25519 is deterministic, so
/// the same event always gets the same signature).
pub fn envelope_of(
    keys: &KeyStore,
    server: &str,
    channel: &ChannelRow,
    row: &EventRow,
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
    sign_envelope(&global, seq, ts, wire, keys.current()).map_err(ApiError::internal)
}

/// Queues the envelope of `row` for every server with members in the channel, and for
/// `also` (a server whose last member just left and must hear it).
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
    let payload = envelope_of(keys, server, channel, row)?.to_string();
    for destination in servers {
        db::outbox::enqueue(conn, &destination, &row.id, &payload, now_ms())?;
    }
    Ok(true)
}

/// What a submission did.
pub struct Submitted {
    /// The sequenced envelope.
    pub envelope: Value,
    /// For a join: recent envelopes from before it, oldest first.
    pub backfill: Vec<Value>,
    /// For a join: the channel as it is now.
    pub info: Option<ChannelInfo>,
}

/// Checks and sequences an event that `origin` submitted for a channel hosted here. The event's
/// signature was verified by the caller.
pub async fn submit(
    state: &AppState,
    origin: &str,
    name: &str,
    event: Value,
    key: Option<String>,
) -> Result<Submitted, ApiError> {
    let field = |n: &str| event.get(n).and_then(Value::as_str).map(str::to_string);
    let kind = field("type")
        .as_deref()
        .and_then(EventKind::parse)
        .ok_or_else(|| ApiError::bad_request("invalid_event", "unknown type"))?;
    let from = field("from").unwrap_or_default();
    let id = field("id")
        .and_then(|s| uuid::Uuid::parse_str(&s).ok())
        .ok_or_else(|| ApiError::bad_request("invalid_event", "id must be a UUID"))?
        .to_string();
    let ts_ms = field("ts")
        .and_then(|ts| federation_proto::time::parse_rfc3339_ms(&ts).ok())
        .and_then(|ms| i64::try_from(ms).ok())
        .unwrap_or_else(now_ms);
    let body = field("body").unwrap_or_default();
    let meta = event.get("meta").cloned().unwrap_or_else(|| json!({}));
    check_meta(&meta)?;
    if kind.is_user_sendable() {
        check_body(state, &body)?;
    }
    let server = state.server_name.to_string();
    let keys = state.keys.clone();
    let max_history = state.config.max_history;
    let origin = origin.to_string();
    let name = name.to_string();
    let wire = event.to_string();
    let to = field("to").map(|t| t.to_ascii_lowercase());
    let server_name = state.server_name.clone();
    let (submitted, queued) = state
        .db
        .write(move |conn| {
            let mut channel = load_channel(conn, &name)?;
            let global = format!("#{}@{}", channel.name, server);
            if to.as_deref() != Some(global.as_str()) {
                return Err(ApiError::bad_request(
                    "invalid_event",
                    format!("the event is not addressed to {global}"),
                ));
            }
            if db::events::exists(conn, &id)? {
                return Err(ApiError::conflict(
                    "duplicate_event",
                    "this event was already submitted",
                ));
            }
            let member = db::shared::remote_member(conn, channel.room_id, &from)?;
            let mut also = None;
            let mut kicked = None;
            match kind {
                EventKind::Join => {
                    if member.is_some() {
                        return Err(ApiError::conflict(
                            "already_member",
                            format!("{from} is already in {global}"),
                        ));
                    }
                    if channel.mode_invite_only
                        && !db::shared::take_remote_invite(conn, channel.room_id, &from)?
                    {
                        return Err(ApiError::forbidden(
                            "invite_only",
                            format!("{global} is invite-only (+i)"),
                        ));
                    }
                    if let Some(chan_key) = &channel.chan_key {
                        if key.as_deref() != Some(chan_key.as_str()) {
                            return Err(ApiError::forbidden(
                                "bad_channel_key",
                                format!("{global} needs the right key (+k)"),
                            ));
                        }
                    }
                    if let Some(limit) = channel.user_limit {
                        let count = db::channels::member_count(conn, channel.room_id)?
                            + db::shared::remote_members(conn, channel.room_id)?.len() as i64;
                        if count >= limit {
                            return Err(ApiError::forbidden(
                                "channel_full",
                                format!("{global} is full (+l {limit})"),
                            ));
                        }
                    }
                    db::shared::add_remote_member(
                        conn,
                        &RemoteMemberRow {
                            room_id: channel.room_id,
                            handle: from.clone(),
                            server: origin.clone(),
                            is_op: false,
                            is_voice: false,
                            joined_ms: now_ms(),
                        },
                    )?;
                }
                EventKind::Part => {
                    if member.is_none() {
                        return Err(ApiError::forbidden(
                            "not_member",
                            format!("{from} is not in {global}"),
                        ));
                    }
                    db::shared::remove_remote_member(conn, channel.room_id, &from)?;
                    also = Some(origin.clone());
                }
                k if k.is_user_sendable() => match &member {
                    None if channel.mode_no_external || channel.mode_secret => {
                        return Err(ApiError::forbidden(
                            "not_member",
                            format!("{global} takes no messages from outside (+n)"),
                        ));
                    }
                    m if channel.mode_moderated
                        && !m.as_ref().is_some_and(|m| m.is_op || m.is_voice) =>
                    {
                        return Err(ApiError::forbidden(
                            "moderated",
                            format!("{global} is moderated (+m): you need voice"),
                        ));
                    }
                    _ => {}
                },
                EventKind::Topic => {
                    let member = member.as_ref().ok_or_else(|| not_member(&from, &global))?;
                    if channel.mode_topic_ops && !member.is_op {
                        return Err(ApiError::forbidden(
                            "chanop_required",
                            format!("only operators set the topic of {global} (+t)"),
                        ));
                    }
                    check_topic(&body)?;
                    channel.topic = body.clone();
                    channel.topic_set_by = Some(from.clone());
                    channel.topic_set_ms = Some(now_ms());
                    db::channels::update(conn, &channel)?;
                }
                EventKind::Mode => {
                    require_remote_op(member.as_ref(), &from, &global)?;
                    let text = |k: &str| meta.get(k).and_then(Value::as_str).map(str::to_string);
                    let changes =
                        modes::parse(&body, text("nick").as_deref(), text("arg").as_deref())
                            .map_err(|e| ApiError::bad_request("invalid_mode", e.to_string()))?;
                    apply_mode_changes(conn, &server_name, &mut channel, &changes, None)?;
                }
                EventKind::Kick => {
                    require_remote_op(member.as_ref(), &from, &global)?;
                    let nick = meta
                        .get("nick")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string();
                    let target = kick_target(conn, &server_name, &channel, &nick, false)?;
                    if let KickTarget::Remote { server, .. } = &target {
                        also = Some(server.clone());
                    }
                    kicked = Some(target);
                }
                _ => {
                    return Err(ApiError::bad_request(
                        "unsupported_type",
                        format!("{} cannot be submitted to a channel", kind.as_str()),
                    ))
                }
            }
            let draft = Draft::new(channel.room_id, &from, None, &global, kind, body)
                .with_meta(meta)
                .received(id, ts_ms)
                .with_wire(wire);
            let row = append_event(conn, draft, max_history)?;
            if let Some(target) = &kicked {
                finish_kick(conn, &channel, target, row.seq)?;
            }
            let queued = fan_out(conn, &keys, &server, &channel, &row, also.as_deref())?;
            let envelope = envelope_of(&keys, &server, &channel, &row)?;
            let (backfill, info) = if kind == EventKind::Join {
                let before = db::shared::room_tail(conn, channel.room_id, BACKFILL + 1)?;
                let backfill = before
                    .iter()
                    .filter(|r| r.seq != row.seq)
                    .map(|r| envelope_of(&keys, &server, &channel, r))
                    .collect::<Result<Vec<_>, _>>()?;
                (
                    backfill,
                    Some(info_of(conn, &server_name, &channel, false)?),
                )
            } else {
                (Vec::new(), None)
            };
            Ok((
                Submitted {
                    envelope,
                    backfill,
                    info,
                },
                queued,
            ))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(submitted)
}

fn not_member(who: &str, global: &str) -> ApiError {
    ApiError::forbidden("not_member", format!("{who} is not in {global}"))
}

/// The submitting member must be an operator of the channel.
fn require_remote_op(
    member: Option<&RemoteMemberRow>,
    who: &str,
    global: &str,
) -> Result<(), ApiError> {
    match member {
        Some(m) if m.is_op => Ok(()),
        Some(_) => Err(ApiError::forbidden(
            "chanop_required",
            format!("{who} is not an operator of {global}"),
        )),
        None => Err(not_member(who, global)),
    }
}

/// A peer reads a channel's log or info when it has members there, or when the channel is open
/// (neither `+s` nor `+i`). A secret channel does not exist for anyone else.
fn require_readable(channel: &ChannelRow, has_members: bool, name: &str) -> Result<(), ApiError> {
    if has_members {
        return Ok(());
    }
    if channel.mode_secret {
        return Err(ApiError::not_found(
            "no_such_channel",
            format!("no channel #{name}"),
        ));
    }
    if channel.mode_invite_only {
        return Err(ApiError::forbidden(
            "invite_only",
            format!("#{name} is invite-only (+i)"),
        ));
    }
    Ok(())
}

/// Envelopes of a hosted channel after `after`, for a peer filling a gap or catching up.
pub async fn events_after(
    state: &AppState,
    origin: &str,
    name: &str,
    after: i64,
    limit: i64,
) -> Result<Vec<Value>, ApiError> {
    let server = state.server_name.to_string();
    let keys = state.keys.clone();
    let (origin, name) = (origin.to_string(), name.to_string());
    state
        .db
        .run(move |conn| {
            let channel = load_channel(conn, &name)?;
            let has_members = db::shared::member_servers(conn, channel.room_id)?.contains(&origin);
            require_readable(&channel, has_members, &name)?;
            let rows = db::shared::room_events_after(
                conn,
                channel.room_id,
                after,
                limit.clamp(1, PULL_MAX),
            )?;
            rows.iter()
                .map(|r| envelope_of(&keys, &server, &channel, r))
                .collect()
        })
        .await
}

/// A hosted channel's info for a peer (secret channels only for servers with members).
pub async fn channel_info(
    state: &AppState,
    origin: &str,
    name: &str,
) -> Result<ChannelInfo, ApiError> {
    let server = state.server_name.clone();
    let (origin, name) = (origin.to_string(), name.to_string());
    state
        .db
        .run(move |conn| {
            let channel = load_channel(conn, &name)?;
            let has_members = db::shared::member_servers(conn, channel.room_id)?.contains(&origin);
            require_readable(&channel, has_members, &name)?;
            info_of(conn, &server, &channel, has_members)
        })
        .await
}
