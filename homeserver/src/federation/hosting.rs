//! The host's side of shared channels (DESIGN.md, "Federation"): the host is the single writer
//! of its channels' logs. Member servers *submit* events their users signed; the host checks
//! them with the same actions and rules as its own users' requests
//! (`services::channels::act`, `services::policy`), gives each the channel's next gap-free
//! sequence number, and relays a host-signed envelope once to every server with members.
//! Member servers pull `events?after=N` to fill gaps and to catch up after a restart.

use federation_proto::api::client::ChannelInfo;
use federation_proto::api::wire::{Submission, SubmitAnswer, WireEvent};
use federation_proto::event::EventKind;
use federation_proto::ids::UserHandle;
use serde_json::Value;

use crate::db::models::EventRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::federation::mirror::settings::DELETE_REQUEST;
use crate::services::channels::act::{self, Authored, Done, Host};
use crate::services::channels::sanctions::{self, MUTE_REQUEST, UNMUTE_REQUEST};
use crate::services::channels::{check_reason, info_of, load_channel, parse_modes};
use crate::services::fanout::{channel_state, envelope_of};
use crate::services::messages::{check_body, check_meta};
use crate::services::policy::{self, Actor};
use crate::services::rich::{check_fields, no_such_message, Action};
use crate::state::AppState;

/// Most envelopes in one pull answer, and in a joiner's backfill.
pub const PULL_MAX: i64 = 100;
/// Events a joining server receives from before its join.
pub const BACKFILL: i64 = 50;

/// Checks the fields of an event `origin` submitted for a channel hosted here (its signature
/// was verified by the caller) and who sent it.
fn check_submission(
    state: &AppState,
    origin: &str,
    name: &str,
    event: &WireEvent,
) -> Result<Actor, ApiError> {
    if event.from.server.as_ref().map(|s| s.as_str()) != Some(origin) {
        return Err(ApiError::forbidden(
            "origin_mismatch",
            "the event's sender is not a user of the submitting server",
        ));
    }
    let global = format!("#{name}@{}", state.server_name);
    if !event.to.eq_ignore_ascii_case(&global) {
        return Err(ApiError::bad_request(
            "invalid_event",
            format!("the event is not addressed to {global}"),
        ));
    }
    let meta = Value::Object(event.meta.clone());
    check_meta(&meta)?;
    if event.kind.is_user_sendable() {
        check_body(state, &event.body)?;
    }
    if event.kind == EventKind::Description {
        crate::services::channels::settings::check_description(&event.body)?;
    }
    if matches!(
        event.kind,
        EventKind::Edit | EventKind::Delete | EventKind::Reaction
    ) {
        check_fields(state, event.kind, &event.body, &meta)?;
    }
    Ok(Actor::Remote {
        handle: event.from.to_string(),
        server: origin.to_string(),
    })
}

/// Applies a checked submission: the action its type names, by the remote actor.
/// The stored event a submitted edit, delete, reaction, pin or unpin names as its `target`.
fn named_target(conn: &mut Conn, event: &WireEvent) -> Result<(String, EventRow), ApiError> {
    let target_id = event
        .target
        .ok_or_else(|| {
            ApiError::bad_request(
                "invalid_event",
                format!("a {} names its target", event.kind),
            )
        })?
        .to_string();
    let target = db::events::by_id(conn, &target_id)?.ok_or_else(|| no_such_message(&target_id))?;
    Ok((target_id, target))
}

fn perform(
    conn: &mut Conn,
    host: &Host,
    name: &str,
    actor: &Actor,
    event: &WireEvent,
    key: Option<&str>,
) -> Result<Done, ApiError> {
    let submitted = Authored::Submitted(event);
    if event.kind == EventKind::Join {
        return act::join(conn, host, name, actor, key, submitted)?
            .ok_or_else(|| ApiError::internal("a remote join changed nothing"));
    }
    let channel = load_channel(conn, name)?;
    let is_member = crate::services::members::standing(conn, &channel, actor)?.is_some();
    policy::see(&channel, is_member)
        .map_err(|d| d.into_error(&format!("#{name}@{}", host.server)))?;
    let text = |k: &str| event.meta_str(k).map(str::to_string);
    match event.kind {
        EventKind::Part => act::part(
            conn,
            host,
            channel,
            actor,
            check_reason(Some(event.body.clone()))?,
            submitted,
        ),
        EventKind::Topic => {
            act::set_topic(conn, host, channel, actor, event.body.clone(), submitted)
        }
        EventKind::Mode => {
            let changes =
                parse_modes(&event.body, text("nick").as_deref(), text("arg").as_deref())?;
            act::set_modes(conn, host, channel, actor, &changes, submitted)
        }
        EventKind::Kick => {
            let nick = text("nick").unwrap_or_default();
            let reason = check_reason(Some(event.body.clone()))?;
            act::kick(conn, host, channel, actor, &nick, reason, submitted)
        }
        EventKind::Invite => {
            let nick = text("nick").unwrap_or_default();
            act::invite(conn, host, channel, actor, &nick, submitted)
        }
        EventKind::Nick => {
            let new: UserHandle = event.body.parse()?;
            if new.server != event.from.server {
                return Err(ApiError::bad_request(
                    "invalid_event",
                    "a nick change keeps the user's server",
                ));
            }
            act::rename(conn, host, channel, actor, &new.to_string(), submitted)
        }
        // Edits, deletes and reactions: the same rules as for a user of this server (sender,
        // EDIT_WINDOW, operators), and the effect applied when the event is appended.
        EventKind::Edit | EventKind::Delete | EventKind::Reaction => {
            let (target_id, target) = named_target(conn, event)?;
            let action = Action {
                kind: event.kind,
                target: target_id,
                body: event.body.clone(),
                meta: Value::Object(event.meta.clone()),
            };
            act::message_action(conn, host, channel, actor, &action, &target, submitted)
        }
        k if k.is_ephemeral() => Err(ApiError::bad_request(
            "unsupported_type",
            format!("{k} is ephemeral and is never stored"),
        )),
        EventKind::Description => {
            act::describe(conn, host, channel, actor, event.body.clone(), submitted)
        }
        EventKind::Pin | EventKind::Unpin => {
            let (_, target) = named_target(conn, event)?;
            act::pin(conn, host, channel, actor, event.kind, &target, submitted)
        }
        // A member's request to delete the channel: the same owner-only rule answers (the
        // deletion, if allowed, is announced by this server's own `system` event).
        EventKind::System if event.meta.contains_key(DELETE_REQUEST) => {
            act::delete_channel(conn, host, channel, actor)
        }
        // A member server's operator mutes or unmutes: the same rule as for a user here.
        EventKind::System if event.meta.contains_key(MUTE_REQUEST) => {
            let nick = text(MUTE_REQUEST).unwrap_or_default();
            let seconds = event.meta.get("seconds").and_then(Value::as_i64);
            sanctions::set_mute(conn, host, channel, actor, &nick, true, seconds, submitted)
        }
        EventKind::System if event.meta.contains_key(UNMUTE_REQUEST) => {
            let nick = text(UNMUTE_REQUEST).unwrap_or_default();
            sanctions::set_mute(conn, host, channel, actor, &nick, false, None, submitted)
        }
        EventKind::Quit | EventKind::System => Err(ApiError::bad_request(
            "unsupported_type",
            format!("{} cannot be submitted to a channel", event.kind),
        )),
        // Messages, and kinds this server does not know yet (kept and passed on): the send
        // rules apply.
        _ => act::say(conn, host, channel, actor, event),
    }
}

/// Checks and sequences an event that `origin` submitted for a channel hosted here, and answers
/// with its envelope (and, for a join, the channel and a backfill).
pub async fn submit(
    state: &AppState,
    origin: &str,
    name: &str,
    submission: Submission,
) -> Result<SubmitAnswer, ApiError> {
    let event = submission.event;
    let actor = check_submission(state, origin, name, &event)?;
    let host = Host::of(state);
    let name = name.to_string();
    let key = submission.key;
    let (answer, queued) = state
        .db
        .write(move |conn| {
            if db::events::exists(conn, &event.id.to_string())? {
                return Err(ApiError::conflict(
                    "duplicate_event",
                    "this event was already submitted",
                ));
            }
            let done = perform(conn, &host, &name, &actor, &event, key.as_deref())?;
            let server = host.server.as_str();
            let shown = channel_state(conn, &done.channel)?;
            let envelope = envelope_of(&host.keys, server, &done.channel, &done.row, Some(&shown))?;
            let (backfill, info) = if event.kind == EventKind::Join {
                let mut before = db::shared::room_tail(conn, done.channel.room_id, BACKFILL + 1)?;
                // The pins' messages (and edits) from before the tail come first, so that the
                // joiner's copy lists every current pin.
                let tail_start = before.first().and_then(|r| r.room_seq).unwrap_or(0);
                let mut context =
                    db::settings::pin_context(conn, done.channel.room_id, tail_start)?;
                context.append(&mut before);
                let backfill = context
                    .iter()
                    .filter(|r| r.seq != done.row.seq)
                    .map(|r| envelope_of(&host.keys, server, &done.channel, r, None))
                    .collect::<Result<Vec<_>, _>>()?;
                (
                    backfill,
                    Some(info_of(conn, &host.server, &done.channel, false)?),
                )
            } else {
                (Vec::new(), None)
            };
            let parse = |v: Value| serde_json::from_value(v).map_err(ApiError::internal);
            let answer = SubmitAnswer {
                envelope: parse(envelope)?,
                backfill: backfill.into_iter().map(parse).collect::<Result<_, _>>()?,
                info,
            };
            Ok((answer, done.queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(answer)
}

/// A submission that arrived in a relay transaction (a member's nick change, queued in its
/// server's outbox): applied like a direct submission; a repeat is acknowledged.
pub async fn submit_relayed(
    state: &AppState,
    origin: &str,
    event: WireEvent,
) -> Result<(), ApiError> {
    if event.kind != EventKind::Nick {
        return Err(ApiError::bad_request(
            "unsupported_type",
            "only nick changes are submitted through the relay",
        ));
    }
    let channel = crate::services::channels::local_channel(state, &event.to)?;
    match submit(
        state,
        origin,
        &channel.name,
        Submission { event, key: None },
    )
    .await
    {
        Err(e) if e.code == "duplicate_event" => Ok(()),
        other => other.map(drop),
    }
}

/// Envelopes of a hosted channel after `after`, for a peer filling a gap or catching up. Those
/// of events that changed the channel carry its current state.
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
            policy::peer_reads(&channel, has_members)
                .map_err(|d| d.into_error(&format!("#{name}")))?;
            let rows = db::shared::room_events_after(
                conn,
                channel.room_id,
                after,
                limit.clamp(1, PULL_MAX),
            )?;
            let shown = channel_state(conn, &channel)?;
            rows.iter()
                .map(|r| envelope_of(&keys, &server, &channel, r, Some(&shown)))
                .collect()
        })
        .await
}

/// A hosted channel's info for a peer (secret channels only for servers with members).
/// With `user` (`nick@origin`), the bans are shown when that user operates the channel.
pub async fn channel_info(
    state: &AppState,
    origin: &str,
    name: &str,
    user: Option<&str>,
) -> Result<ChannelInfo, ApiError> {
    let server = state.server_name.clone();
    let (origin, name) = (origin.to_string(), name.to_string());
    let user = user.map(str::to_string);
    state
        .db
        .run(move |conn| {
            let channel = load_channel(conn, &name)?;
            let has_members = db::shared::member_servers(conn, channel.room_id)?.contains(&origin);
            policy::peer_reads(&channel, has_members)
                .map_err(|d| d.into_error(&format!("#{name}")))?;
            let mut info = info_of(conn, &server, &channel, has_members)?;
            let asker = user.filter(|u| {
                u.rsplit_once('@')
                    .is_some_and(|(_, s)| s.eq_ignore_ascii_case(&origin))
            });
            if let Some(handle) = asker {
                let actor = Actor::Remote {
                    handle,
                    server: origin.clone(),
                };
                let standing = crate::services::members::standing(conn, &channel, &actor)?;
                info.bans =
                    crate::services::channels::info_for(conn, &server, &channel, standing)?.bans;
            }
            Ok(info)
        })
        .await
}

/// A hosted channel's pins for a member server's user (`user`, of `origin`; reactions' `me`
/// is theirs): only for a server with members there, or an open channel.
pub async fn pins(
    state: &AppState,
    origin: &str,
    name: &str,
    user: &str,
) -> Result<Vec<federation_proto::api::client::Pin>, ApiError> {
    let (origin, name) = (origin.to_string(), name.to_string());
    let me = match user.rsplit_once('@') {
        Some((_, server)) if server == origin => user.to_string(),
        _ => String::new(),
    };
    state
        .db
        .run(move |conn| {
            let channel = load_channel(conn, &name)?;
            let has_members = db::shared::member_servers(conn, channel.room_id)?.contains(&origin);
            policy::peer_reads(&channel, has_members)
                .map_err(|d| d.into_error(&format!("#{name}")))?;
            crate::services::channels::settings::pins_of(conn, channel.room_id, &[me.as_str()])
        })
        .await
}
