//! A member server's side of shared channels: the local copy (mirror) of a channel hosted
//! elsewhere. Local users join, send and part by *submitting* events they signed to the host;
//! the host's sequenced envelopes — in its answer or relayed later — are applied here strictly
//! in the host's order, once each. A gap (an envelope ahead of what we have) is filled by
//! pulling `events?after=N` from the host before applying: push is an optimisation, pull is
//! the guarantee.
//!
//! This file holds what local users do through the host; `apply` holds how the host's
//! envelopes are verified and stored, pulled and caught up.

mod apply;
pub mod settings;

use apply::mirror_of;
pub use apply::{apply, pull, run_catch_up, Arrival};

use std::sync::atomic::Ordering;

use awc::http::Method;
use federation_proto::api::client::ChannelInfo;
use federation_proto::api::wire::{Submission, SubmitAnswer, WireEvent};
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::{ChannelName, UserHandle};
use federation_proto::signing::hash_and_sign_event;
use serde_json::{json, Value};

use super::client::{FedClient, FedError};
use crate::db;
use crate::db::shared::MirrorRow;
use crate::error::ApiError;
use crate::services::accounts::{mark_active, Renamed, Session};
use crate::services::channels::act::{notify_invitee, Host};
use crate::services::events::view;
use crate::services::messages::Outgoing;
use crate::services::now_ms;
use crate::services::policy::Actor;
use crate::services::rich::{check_reply_to, Acted, Action};
use crate::state::AppState;

/// Path of a hosted channel's federation endpoints, `{name}` without `#`.
pub fn channel_path(name: &str, rest: &str) -> String {
    format!("/api/v1/federation/channels/{name}{rest}")
}

fn bad_gateway(host: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::new(
        actix_web::http::StatusCode::BAD_GATEWAY,
        "host_unreachable",
        format!("{host} did not answer: {e}"),
    )
}

/// Maps a host's refusal (a 4xx with a code) to the same answer here; anything else is a 502.
fn host_error(host: &str, e: FedError) -> ApiError {
    if let FedError::Status { status, body, .. } = &e {
        if (400..500).contains(status) {
            if let Ok(v) = serde_json::from_str::<Value>(body) {
                let code = v["error"]["code"].as_str().unwrap_or("refused_by_host");
                let message = v["error"]["message"]
                    .as_str()
                    .unwrap_or("refused by the channel's host")
                    .to_string();
                let status = actix_web::http::StatusCode::from_u16(*status)
                    .unwrap_or(actix_web::http::StatusCode::BAD_GATEWAY);
                let code = leak_code(code);
                if code == "rate_limited" {
                    // The host's limit on this server's requests: the user may try again soon.
                    return ApiError::rate_limited(
                        format!("{host}: {message}"),
                        std::time::Duration::from_secs(1),
                    );
                }
                return ApiError::new(status, code, format!("{host}: {message}"));
            }
        }
    }
    bad_gateway(host, e)
}

/// Error codes are `&'static str`; a host's code is mapped onto the known set.
fn leak_code(code: &str) -> &'static str {
    const KNOWN: [&str; 42] = [
        "invite_only",
        "bad_channel_key",
        "channel_full",
        "not_member",
        "moderated",
        "no_such_channel",
        "already_member",
        "chanop_required",
        "cannot_kick_owner",
        "cannot_deop_owner",
        "owner_required",
        "not_in_channel",
        "unknown_user",
        "invalid_mode",
        "invalid_topic",
        "invalid_nick",
        "invalid_channel",
        "message_too_large",
        "meta_too_large",
        "invalid_event",
        "unsupported_type",
        "duplicate_event",
        "rate_limited",
        "not_mirrored",
        "origin_mismatch",
        "reason_too_long",
        "no_such_message",
        "no_such_reaction",
        "not_sender",
        "edit_window_closed",
        "message_deleted",
        "not_a_message",
        "already_reacted",
        "invalid_emoji",
        "invalid_reply_to",
        "already_pinned",
        "not_pinned",
        "invalid_description",
        "banned",
        "muted",
        "cannot_sanction_owner",
        "invalid_duration",
    ];
    KNOWN
        .into_iter()
        .find(|k| *k == code)
        .unwrap_or("refused_by_host")
}

/// The URL of a remote channel's host (a live peer, resolved now if it is listed in `PEERS`
/// but not yet known), or 404.
async fn host_url(state: &AppState, host: &str) -> Result<String, ApiError> {
    Ok(super::directory::peer(state, host).await?.url)
}

fn client(state: &AppState) -> FedClient {
    FedClient::new(state).with_federation_key(state.config.federation_key.clone())
}

/// Builds and signs an event by a local user for a remote channel.
fn signed_event(
    state: &AppState,
    session: &Session,
    channel: &str,
    kind: EventKind,
    body: &str,
    meta: Value,
    reply_to: Option<String>,
) -> Result<WireEvent, ApiError> {
    signed_event_targeting(
        state,
        session,
        channel,
        kind,
        body,
        meta,
        reply_to,
        None,
        &[],
    )
}

/// [`signed_event`] with a `target` (the message an edit, delete or reaction acts on).
#[allow(clippy::too_many_arguments)]
fn signed_event_targeting(
    state: &AppState,
    session: &Session,
    channel: &str,
    kind: EventKind,
    body: &str,
    meta: Value,
    reply_to: Option<String>,
    target: Option<String>,
    attachments: &[String],
) -> Result<WireEvent, ApiError> {
    let mut event = json!({
        "id": uuid::Uuid::now_v7().to_string(),
        "ts": federation_proto::time::format_rfc3339_ms(now_ms()),
        "from": format!("{}@{}", session.nick, state.server_name),
        "to": channel,
        "type": kind.as_str(),
        "body": body,
        "meta": meta,
    });
    if let Some(reply_to) = reply_to {
        event["reply_to"] = json!(reply_to);
    }
    if let Some(target) = target {
        event["target"] = json!(target);
    }
    if !attachments.is_empty() {
        event["attachments"] = json!(attachments);
    }
    hash_and_sign_event(&mut event, state.server_name.as_str(), state.keys.current())
        .map_err(ApiError::internal)?;
    WireEvent::try_from(event).map_err(ApiError::internal)
}

/// Submits an event to the host; returns its answer.
async fn submit(
    state: &AppState,
    channel: &ChannelName,
    event: WireEvent,
    key: Option<String>,
) -> Result<SubmitAnswer, ApiError> {
    let host = host_of(channel);
    let url = host_url(state, &host).await?;
    let body = serde_json::to_value(Submission { event, key }).map_err(ApiError::internal)?;
    let answer = client(state)
        .signed(
            Method::POST,
            &url,
            &channel_path(&channel.name, "/submit"),
            &host,
            Some(&body),
        )
        .await
        .map_err(|e| host_error(&host, e))?;
    serde_json::from_value(answer).map_err(|e| bad_gateway(&host, e))
}

fn host_of(channel: &ChannelName) -> String {
    channel
        .server
        .as_ref()
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Joins a channel hosted elsewhere.
pub async fn join(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
    key: Option<String>,
) -> Result<ChannelInfo, ApiError> {
    let global = channel.to_string();
    let event = signed_event(
        state,
        session,
        &global,
        EventKind::Join,
        "",
        json!({}),
        None,
    )?;
    // The mirror exists from the moment a local user asks to join: envelopes the host relays
    // before its answer arrives are then kept, and nothing else ever creates one.
    let host = host_of(channel);
    let (lookup, mirror_host) = (global.clone(), host.clone());
    state
        .db
        .write(move |conn| mirror_of(conn, &lookup, &mirror_host).map(drop))
        .await?;
    let answer = match submit(state, channel, event, key).await {
        Ok(answer) => answer,
        Err(e) => {
            let lookup = global.clone();
            let dropped = state
                .db
                .write(move |conn| {
                    db::shared::drop_unused_mirror(conn, &lookup).map_err(ApiError::from)
                })
                .await;
            if let Err(drop_error) = dropped {
                tracing::warn!(channel = %global, error = %drop_error, "an unused mirror stays");
            }
            return Err(e);
        }
    };
    for envelope in &answer.backfill {
        apply(state, envelope, Arrival::Joining).await?;
    }
    apply(state, &answer.envelope, Arrival::Joining).await?;
    // What the host relayed before the answer was applied was left to this pull (it may be
    // nothing); if it fails, the catch-up pulls it.
    if let Ok(joined) = i64::try_from(answer.envelope.seq) {
        if let Err(e) = pull(state, &global, &host, joined).await {
            tracing::info!(channel = %global, error = %e, "the pull after a join failed");
        }
    }
    answer
        .info
        .ok_or_else(|| bad_gateway(&global, "the host's answer has no channel info"))
}

/// Leaves a channel hosted elsewhere.
pub async fn part(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
    reason: String,
) -> Result<(), ApiError> {
    require_member(state, session, &channel.to_string()).await?;
    let event = signed_event(
        state,
        session,
        &channel.to_string(),
        EventKind::Part,
        &reason,
        json!({}),
        None,
    )?;
    let answer = submit(state, channel, event, None).await?;
    apply(state, &answer.envelope, Arrival::Answered).await
}

/// Builds and signs a local member's message for a channel hosted elsewhere.
#[allow(clippy::too_many_arguments)]
pub async fn prepare_send(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
    kind: EventKind,
    body: &str,
    meta: Value,
    reply_to: Option<String>,
    attachments: Vec<String>,
) -> Result<WireEvent, ApiError> {
    let global = channel.to_string();
    let room_id = require_member(state, session, &global).await?;
    if let Some(reply_to) = reply_to.clone() {
        state
            .db
            .run(move |conn| check_reply_to(conn, room_id, &reply_to))
            .await?;
    }
    if !attachments.is_empty() {
        let (user_id, ids) = (session.user_id.clone(), attachments.clone());
        state
            .db
            .run(move |conn| crate::services::media::check_attachments(conn, &user_id, &ids))
            .await?;
    }
    signed_event_targeting(
        state,
        session,
        &global,
        kind,
        body,
        meta,
        reply_to,
        None,
        &attachments,
    )
}

/// Submits a signed message to its channel's host; acknowledged once the host has sequenced
/// it. Submitting the same event again is safe: the host answers `duplicate_event`, and the
/// copy sequenced the first time is fetched from the host.
pub async fn send_signed(
    state: &AppState,
    channel: &ChannelName,
    event: WireEvent,
) -> Result<Event, ApiError> {
    let id = event.id.to_string();
    match submit(state, channel, event, None).await {
        Ok(answer) => apply(state, &answer.envelope, Arrival::Answered).await?,
        Err(e) if e.code == "duplicate_event" => {
            let global = channel.to_string();
            let host = host_of(channel);
            let lookup = global.clone();
            let have = state
                .db
                .run(move |conn| {
                    db::shared::mirror_by_channel(conn, &lookup).map_err(ApiError::from)
                })
                .await?
                .map_or(0, |m| m.host_seq);
            pull(state, &global, &host, have).await?;
        }
        Err(e) => return Err(e),
    }
    let row = state
        .db
        .run(move |conn| db::events::by_id(conn, &id).map_err(ApiError::from))
        .await?
        .ok_or_else(|| ApiError::internal("a sequenced event is missing"))?;
    view(row)
}

/// An operator action (topic, mode, kick) by a local member on a channel hosted elsewhere: the
/// host checks the member's rights, sequences it and relays it.
pub async fn act(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
    kind: EventKind,
    body: &str,
    meta: Value,
) -> Result<(), ApiError> {
    let global = channel.to_string();
    require_member(state, session, &global).await?;
    let event = signed_event(state, session, &global, kind, body, meta, None)?;
    let answer = submit(state, channel, event, None).await?;
    apply(state, &answer.envelope, Arrival::Answered).await
}

/// An edit, delete or reaction by a local member on a message of a channel hosted elsewhere:
/// signed here, judged and sequenced by the host (sender, window, operator: the same rules as
/// for its own users), then applied here from its envelope like every channel event. A
/// reaction the user already gave answers the first one.
pub async fn message_action(
    state: &AppState,
    session: &Session,
    mirror: &MirrorRow,
    action: Action,
) -> Result<Acted, ApiError> {
    let channel: ChannelName = mirror.channel.parse()?;
    let global = channel.to_string();
    let room_id = require_member(state, session, &global).await?;
    let me = format!("{}@{}", session.nick, state.server_name);
    let first_reaction = |action: &Action| {
        let (target, me, emoji) = (action.target.clone(), me.clone(), action.body.clone());
        let user_id = session.user_id.clone();
        async move {
            state
                .db
                .run(move |conn| {
                    let keys = crate::services::events::reactor_keys(&user_id, &me);
                    let Some(first) = db::rich::reaction(conn, &target, &keys, &emoji)? else {
                        return Ok(None);
                    };
                    let row =
                        db::events::by_id(conn, &first.event_id)?.filter(|r| r.room_id == room_id);
                    row.map(view).transpose()
                })
                .await
        }
    };
    if action.kind == EventKind::Reaction {
        if let Some(event) = first_reaction(&action).await? {
            return Ok(Acted {
                event,
                created: false,
            });
        }
    }
    let event = signed_event_targeting(
        state,
        session,
        &global,
        action.kind,
        &action.body,
        action.meta.clone(),
        None,
        Some(action.target.clone()),
        &[],
    )?;
    match send_signed(state, &channel, event).await {
        Ok(event) => Ok(Acted {
            event,
            created: true,
        }),
        Err(e) if e.code == "already_reacted" => {
            // Given from another device at the same moment: the host has the first one.
            pull(state, &global, &mirror.host, mirror.host_seq).await?;
            match first_reaction(&action).await? {
                Some(event) => Ok(Acted {
                    event,
                    created: false,
                }),
                None => Err(e),
            }
        }
        Err(e) => Err(e),
    }
}

/// An invitation by a local member of a channel hosted elsewhere: the host checks the rights
/// and records it (it judges every join); then this server tells the invitee, as the inviter's
/// server always does.
pub async fn invite(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
    invitee: &UserHandle,
) -> Result<(), ApiError> {
    let global = channel.to_string();
    require_member(state, session, &global).await?;
    let target = invitee.qualified(&state.server_name);
    // A local invitee must exist before the host records anything.
    let invitee = if invitee.is_local_to(&state.server_name) {
        let nick = invitee.nick.as_str().to_string();
        let user = state
            .db
            .run(move |conn| db::users::by_nick(conn, &nick).map_err(ApiError::from))
            .await?
            .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {target}")))?;
        Actor::Local {
            user_id: user.id,
            handle: target.clone(),
        }
    } else {
        Actor::Remote {
            server: target.rsplit('@').next().unwrap_or_default().to_string(),
            handle: target.clone(),
        }
    };
    let meta = json!({ "nick": target });
    let event = signed_event(state, session, &global, EventKind::Invite, "", meta, None)?;
    let answer = submit(state, channel, event, None).await?;
    apply(state, &answer.envelope, Arrival::Answered).await?;
    let host = Host::of(state);
    let (inviter_id, inviter) = (
        session.user_id.clone(),
        format!("{}@{}", session.nick, state.server_name),
    );
    let queued = state
        .db
        .write(move |conn| notify_invitee(conn, &host, &inviter_id, &inviter, &invitee, &global))
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(())
}

/// A local user's send to a channel hosted elsewhere: signed here, sequenced by the host, then
/// stored. With a `txn_id` the signed event is recorded before it is submitted, so that a
/// retry after a lost answer submits the very same event (the host applies it once).
pub async fn send(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
    out: Outgoing,
) -> Result<Event, ApiError> {
    let mut event = None;
    if let Some(txn_id) = &out.txn_id {
        let (device, txn) = (session.device_id.clone(), txn_id.clone());
        let stored = state
            .db
            .run(move |conn| db::devices::txn_response(conn, &device, &txn).map_err(ApiError::from))
            .await?;
        if let Some(stored) = stored {
            let stored: Value = serde_json::from_str(&stored).map_err(ApiError::internal)?;
            match stored.get(PENDING) {
                Some(pending) => {
                    event = Some(WireEvent::try_from(pending.clone()).map_err(ApiError::internal)?)
                }
                None => return serde_json::from_value(stored).map_err(ApiError::internal),
            }
        }
    }
    let event = match event {
        Some(event) => event,
        None => {
            let event = prepare_send(
                state,
                session,
                channel,
                out.kind,
                &out.body,
                out.meta,
                out.reply_to,
                out.attachments,
            )
            .await?;
            if let Some(txn_id) = &out.txn_id {
                let (device, txn) = (session.device_id.clone(), txn_id.clone());
                let pending = json!({ PENDING: event.to_value() }).to_string();
                state
                    .db
                    .write(move |conn| {
                        db::devices::save_txn(conn, &device, &txn, &pending, now_ms())
                            .map_err(ApiError::from)
                    })
                    .await?;
            }
            event
        }
    };
    let sent = send_signed(state, channel, event).await?;
    let (device, user_id) = (session.device_id.clone(), session.user_id.clone());
    let stored = serde_json::to_string(&sent).map_err(ApiError::internal)?;
    let txn_id = out.txn_id;
    state
        .db
        .write(move |conn| {
            if let Some(txn_id) = &txn_id {
                db::devices::replace_txn(conn, &device, txn_id, &stored)?;
            }
            mark_active(conn, &user_id)
        })
        .await?;
    state.metrics.sends.fetch_add(1, Ordering::Relaxed);
    Ok(sent)
}

/// Key of a send recorded but not yet acknowledged by a remote channel's host.
const PENDING: &str = "pending_event";

/// Pushes a renamed user's nick submissions to the channels' hosts now, so that their next
/// send (under the new nick) finds them a member. Each submission is also in the outbox: a
/// host that cannot be reached now gets it from there (a repeat is applied once).
pub async fn announce_nick(state: &AppState, renamed: Renamed) {
    for (channel, host, event) in renamed.submissions {
        let outcome = async {
            let name: ChannelName = channel.parse()?;
            let event = WireEvent::try_from(event).map_err(ApiError::internal)?;
            let answer = submit(state, &name, event, None).await?;
            apply(state, &answer.envelope, Arrival::Answered).await
        }
        .await;
        match outcome {
            Ok(()) => {}
            Err(e) if e.code == "duplicate_event" => {}
            Err(e) => {
                tracing::info!(%channel, %host, error = %e, "nick change left for the outbox")
            }
        }
    }
}

/// The channel's info, from its host.
pub async fn info(state: &AppState, channel: &ChannelName) -> Result<ChannelInfo, ApiError> {
    let host = host_of(channel);
    let url = host_url(state, &host).await?;
    let answer = client(state)
        .signed(
            Method::GET,
            &url,
            &channel_path(&channel.name, ""),
            &host,
            None,
        )
        .await
        .map_err(|e| host_error(&host, e))?;
    serde_json::from_value(answer).map_err(|e| bad_gateway(&host, e))
}

/// The channel's info from its host as `me` (`nick@server`, a user of this server) sees it:
/// with its bans when `me` is one of its operators.
pub async fn info_as(
    state: &AppState,
    channel: &ChannelName,
    me: &str,
) -> Result<ChannelInfo, ApiError> {
    let host = host_of(channel);
    let url = host_url(state, &host).await?;
    let path = format!(
        "{}?user={}",
        channel_path(&channel.name, ""),
        settings::encode_query(me)
    );
    let answer = client(state)
        .signed(Method::GET, &url, &path, &host, None)
        .await
        .map_err(|e| host_error(&host, e))?;
    serde_json::from_value(answer).map_err(|e| bad_gateway(&host, e))
}

/// The mirror room of a remote channel the user is in, or 403.
pub async fn require_member(
    state: &AppState,
    session: &Session,
    global: &str,
) -> Result<i64, ApiError> {
    let (global, user_id) = (global.to_string(), session.user_id.clone());
    state
        .db
        .run(move |conn| {
            let mirror = db::shared::mirror_by_channel(conn, &global)?;
            match mirror {
                Some(m) if db::events::has_open_span(conn, &user_id, m.room_id)? => Ok(m.room_id),
                _ => Err(ApiError::forbidden(
                    "not_member",
                    format!("you are not in {global}"),
                )),
            }
        })
        .await
}
