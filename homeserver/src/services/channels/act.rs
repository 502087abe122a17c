//! Actions on a channel hosted here, by any [`Actor`]: a user of this server (the client API)
//! or a user of a member server (a submission, `federation::hosting`). Each action loads the
//! facts, asks [`policy`], changes the channel's state, appends its event and queues the
//! envelope for the member servers — all in the caller's write transaction, so a local and a
//! remote actor go through exactly the same code.

use std::sync::Arc;

use federation_proto::api::wire::WireEvent;
use federation_proto::event::EventKind;
use federation_proto::ids::ServerName;
use serde_json::{json, Value};

use super::{channel_room_key, no_such_channel};
use crate::db::models::{ChannelRow, EventRow, MemberRow};
use crate::db::shared::RemoteMemberRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::keystore::KeyStore;
use crate::services::accounts::user_room_key;
use crate::services::events::{append_event, view, Draft};
use crate::services::fanout::{fan_out, queue_direct};
use crate::services::members;
use crate::services::messages::dm_room_key_remote;
use crate::services::modes::{self, MemberMode, ModeChange};
use crate::services::now_ms;
use crate::services::policy::{self, Actor, JoinAttempt};
use crate::services::rich::{check_reply_to, facts, judge, no_such_message, Action};
use crate::state::AppState;

/// What the actions need of the server.
#[derive(Clone)]
pub struct Host {
    /// This server's name.
    pub server: ServerName,
    /// Its signing keys (envelopes, events for other servers).
    pub keys: Arc<KeyStore>,
    /// `MAX_HISTORY`.
    pub max_history: i64,
    /// `EDIT_WINDOW`, in milliseconds.
    pub edit_window_ms: i64,
}

impl Host {
    /// From the server's state.
    pub fn of(state: &AppState) -> Host {
        Host {
            server: state.server_name.clone(),
            keys: state.keys.clone(),
            max_history: state.config.max_history,
            edit_window_ms: i64::try_from(state.config.edit_window.saturating_mul(1000))
                .unwrap_or(i64::MAX),
        }
    }

    /// `#name@server`.
    pub fn global(&self, channel: &ChannelRow) -> String {
        format!("#{}@{}", channel.name, self.server)
    }
}

/// Who wrote the event an action appends: this server, for a local actor, or the actor's own
/// server, which signed it and submitted it (its id, time, text and signature are kept).
#[derive(Clone, Copy)]
pub enum Authored<'a> {
    /// Made here.
    Here,
    /// Submitted by a member server.
    Submitted(&'a WireEvent),
}

/// What an action did.
pub struct Done {
    /// The channel after it.
    pub channel: ChannelRow,
    /// Its event.
    pub row: EventRow,
    /// Whether something was queued for other servers (wake the outbox after the commit).
    pub queued: bool,
}

/// Appends an action's event and queues its envelope for the member servers (and `also`).
#[allow(clippy::too_many_arguments)]
pub(super) fn append(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    authored: Authored,
    kind: EventKind,
    body: String,
    meta: Value,
    also: Option<&str>,
) -> Result<Done, ApiError> {
    append_targeting(
        conn, host, channel, actor, authored, kind, body, meta, also, None,
    )
}

/// [`append`] for an event that acts on the message `target` (edits, deletes, reactions).
#[allow(clippy::too_many_arguments)]
fn append_targeting(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    authored: Authored,
    kind: EventKind,
    body: String,
    meta: Value,
    also: Option<&str>,
    target: Option<String>,
) -> Result<Done, ApiError> {
    let global = host.global(&channel);
    let draft = match authored {
        Authored::Here => Draft::new(
            channel.room_id,
            actor.handle(),
            actor.user_id(),
            &global,
            kind,
            body,
        )
        .with_meta(meta)
        .targeting(target),
        Authored::Submitted(event) => Draft::new(
            channel.room_id,
            actor.handle(),
            None,
            &global,
            event.kind,
            event.body.clone(),
        )
        .with_meta(Value::Object(event.meta.clone()))
        .replying_to(event.reply_to.map(|id| id.to_string()))
        .targeting(event.target.map(|id| id.to_string()))
        .with_attachments(crate::services::media::received_attachments(
            &event.attachments,
            &event.origin,
        ))
        .received(
            event.id.to_string(),
            i64::try_from(event.ts_ms).unwrap_or_else(|_| now_ms()),
        )
        .with_wire(event.to_json()),
    };
    let row = append_event(conn, draft, host.max_history)?;
    let queued = fan_out(conn, &host.keys, host.server.as_str(), &channel, &row, also)?;
    Ok(Done {
        channel,
        row,
        queued,
    })
}

pub(super) fn denied(host: &Host, channel: &ChannelRow) -> impl Fn(policy::Denied) -> ApiError {
    let name = host.global(channel);
    move |d| d.into_error(&name)
}

/// Join. A local user who names a channel that does not exist creates it and owns it; a remote
/// user cannot create channels here. A local user who is already a member gets `Ok(None)`.
pub fn join(
    conn: &mut Conn,
    host: &Host,
    name: &str,
    actor: &Actor,
    key: Option<&str>,
    authored: Authored,
) -> Result<Option<Done>, ApiError> {
    join_with(conn, host, name, actor, key, false, authored)
}

/// [`join`], with `link` when the actor holds a valid invite link (past `+i` and `+k`).
pub fn join_with(
    conn: &mut Conn,
    host: &Host,
    name: &str,
    actor: &Actor,
    key: Option<&str>,
    link: bool,
    authored: Authored,
) -> Result<Option<Done>, ApiError> {
    let now = now_ms();
    let (channel, is_op) = match db::channels::by_name(conn, name)? {
        Some(channel) => {
            let member = members::standing(conn, &channel, actor)?;
            if member.is_some() && actor.user_id().is_some() {
                return Ok(None);
            }
            let invited = match actor {
                Actor::Local { user_id, .. } => {
                    db::channels::has_invite(conn, channel.room_id, user_id)?
                }
                Actor::Remote { handle, .. } => {
                    db::shared::has_remote_invite(conn, channel.room_id, handle)?
                }
            };
            let sanctions = members::sanctions(conn, &channel, actor, now)?;
            let attempt = JoinAttempt {
                member,
                invited,
                key,
                members: members::count(conn, channel.room_id)?,
                banned: sanctions.banned,
                owner: actor.user_id() == Some(channel.owner_id.as_str()),
                link,
            };
            policy::join(&channel, &attempt, actor.handle()).map_err(denied(host, &channel))?;
            if invited {
                match actor {
                    Actor::Local { user_id, .. } => {
                        db::channels::remove_invite(conn, channel.room_id, user_id)?
                    }
                    Actor::Remote { handle, .. } => {
                        db::shared::take_remote_invite(conn, channel.room_id, handle)?;
                    }
                }
            }
            (channel, false)
        }
        None => {
            let Some(owner) = actor.user_id() else {
                return Err(no_such_channel(&format!("#{name}@{}", host.server)));
            };
            let room_id = db::events::ensure_room(conn, &channel_room_key(name), "channel")?;
            let channel = ChannelRow::new(room_id, name, owner, now);
            db::channels::insert(conn, &channel)?;
            (channel, true)
        }
    };
    match actor {
        Actor::Local { user_id, .. } => {
            db::channels::add_member(
                conn,
                &MemberRow {
                    room_id: channel.room_id,
                    user_id: user_id.clone(),
                    is_op,
                    is_voice: false,
                    joined_ms: now,
                },
            )?;
            // The window opens before the join event so the joiner receives it too.
            let next_seq = db::events::max_seq(conn)? + 1;
            db::events::open_span(conn, user_id, channel.room_id, next_seq)?;
        }
        Actor::Remote { handle, server } => db::shared::add_remote_member(
            conn,
            &RemoteMemberRow {
                room_id: channel.room_id,
                handle: handle.clone(),
                server: server.clone(),
                is_op: false,
                is_voice: false,
                joined_ms: now,
            },
        )?,
    }
    let done = append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Join,
        String::new(),
        json!({}),
        None,
    )?;
    Ok(Some(done))
}

/// Removes a member of any server from a channel; a local one's window closes at `seq` (call
/// after appending the event that removes them, so they receive it).
pub(super) fn close_window(
    conn: &mut Conn,
    channel: &ChannelRow,
    who: &Actor,
    seq: i64,
) -> Result<(), ApiError> {
    if let Actor::Local { user_id, .. } = who {
        db::events::close_span(conn, user_id, channel.room_id, seq)?;
    }
    Ok(())
}

pub(super) fn remove_member(
    conn: &mut Conn,
    channel: &ChannelRow,
    who: &Actor,
) -> Result<(), ApiError> {
    match who {
        Actor::Local { user_id, .. } => {
            db::channels::remove_member(conn, channel.room_id, user_id)?
        }
        Actor::Remote { handle, .. } => {
            db::shared::remove_remote_member(conn, channel.room_id, handle)?
        }
    }
    Ok(())
}

/// Part. A remote actor's server hears it even when it has no members left.
pub fn part(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    reason: String,
    authored: Authored,
) -> Result<Done, ApiError> {
    policy::part(members::standing(conn, &channel, actor)?).map_err(denied(host, &channel))?;
    remove_member(conn, &channel, actor)?;
    let done = append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Part,
        reason,
        json!({}),
        actor.remote_server(),
    )?;
    close_window(conn, &done.channel, actor, done.row.seq)?;
    Ok(done)
}

/// Set the topic.
pub fn set_topic(
    conn: &mut Conn,
    host: &Host,
    mut channel: ChannelRow,
    actor: &Actor,
    topic: String,
    authored: Authored,
) -> Result<Done, ApiError> {
    super::check_topic(&topic)?;
    policy::set_topic(&channel, members::standing(conn, &channel, actor)?)
        .map_err(denied(host, &channel))?;
    channel.topic = topic.clone();
    channel.topic_set_by = Some(actor.handle().to_string());
    channel.topic_set_ms = Some(now_ms());
    db::channels::update(conn, &channel)?;
    let done = append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Topic,
        topic,
        json!({}),
        None,
    )?;
    Ok(done)
}

/// Change channel and member modes.
pub fn set_modes(
    conn: &mut Conn,
    host: &Host,
    mut channel: ChannelRow,
    actor: &Actor,
    changes: &[ModeChange],
    authored: Authored,
) -> Result<Done, ApiError> {
    let caller = policy::change_modes(members::standing(conn, &channel, actor)?)
        .map_err(denied(host, &channel))?;
    let mut announced = Vec::new();
    let mut channel_changed = false;
    let mut new_bans = Vec::new();
    for change in changes {
        if let ModeChange::Ban(on, mask) = change {
            let changed = if *on {
                db::moderation::add_ban(conn, channel.room_id, mask, actor.handle(), now_ms())?
            } else {
                db::moderation::remove_ban(conn, channel.room_id, mask)?
            };
            if changed {
                announced.push(modes::describe(change));
                if *on {
                    new_bans.push(mask.clone());
                }
            }
            continue;
        }
        let ModeChange::Member(mode, on, who) = change else {
            modes::apply(&mut channel, change);
            channel_changed = true;
            announced.push(modes::describe(change));
            continue;
        };
        let target = members::named(conn, &host.server, who)?;
        let standing = members::standing(conn, &channel, &target)?;
        policy::change_member_mode(
            caller,
            standing,
            target.user_id().is_some(),
            who,
            *mode,
            *on,
        )
        .map_err(denied(host, &channel))?;
        let current = standing.unwrap_or_default();
        let (mut op, mut voice) = (current.op, current.voice);
        match mode {
            MemberMode::Op => op = *on,
            MemberMode::Voice => voice = *on,
            MemberMode::Owner => {
                if let Some(user_id) = target.user_id() {
                    channel.owner_id = user_id.to_string();
                }
                op = true;
                channel_changed = true;
            }
        }
        members::set_modes(conn, &channel, &target, op, voice)?;
        let shown = match &target {
            Actor::Local { handle, .. } => handle.split('@').next().unwrap_or(handle).to_string(),
            Actor::Remote { handle, .. } => handle.clone(),
        };
        announced.push(modes::describe(&ModeChange::Member(*mode, *on, shown)));
    }
    if channel_changed {
        db::channels::update(conn, &channel)?;
    }
    let meta = json!({"modes": modes::render(&channel, false)});
    let mut done = append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Mode,
        announced.join(" "),
        meta,
        None,
    )?;
    if !new_bans.is_empty() {
        done.queued |=
            super::sanctions::remove_banned(conn, host, &done.channel, actor, &new_bans)?;
    }
    Ok(done)
}

/// Kick a member of any server.
pub fn kick(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    nick: &str,
    reason: String,
    authored: Authored,
) -> Result<Done, ApiError> {
    let caller = members::standing(conn, &channel, actor)?;
    let target = members::named(conn, &host.server, nick)?;
    let standing = members::standing(conn, &channel, &target)?;
    policy::kick(caller, standing, target.handle()).map_err(denied(host, &channel))?;
    remove_member(conn, &channel, &target)?;
    // The kicked user's server must hear it even if it has no members left.
    let done = append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Kick,
        reason,
        json!({"nick": target.handle()}),
        target.remote_server(),
    )?;
    close_window(conn, &done.channel, &target, done.row.seq)?;
    Ok(done)
}

/// Invite a user of any server past `+i`. The invitation is recorded here (the host judges
/// every join) and announced in the channel. The invitee is told by the inviter's server:
/// here for a local inviter (see [`notify_invitee`]); a member server does it itself for its
/// users once the host has accepted.
pub fn invite(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    nick: &str,
    authored: Authored,
) -> Result<Done, ApiError> {
    let caller = members::standing(conn, &channel, actor)?;
    let target = members::named(conn, &host.server, nick)?;
    let standing = members::standing(conn, &channel, &target)?;
    policy::invite(&channel, caller, standing, target.handle()).map_err(denied(host, &channel))?;
    let by = actor.user_id().unwrap_or(actor.handle()).to_string();
    match &target {
        Actor::Local { user_id, .. } => {
            db::channels::add_invite(conn, channel.room_id, user_id, &by, now_ms())?
        }
        Actor::Remote { handle, .. } => {
            db::shared::add_remote_invite(conn, channel.room_id, handle, &by, now_ms())?
        }
    }
    let mut done = append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Invite,
        String::new(),
        json!({"nick": target.handle()}),
        None,
    )?;
    if let Actor::Local { user_id, handle } = actor {
        let channel = host.global(&done.channel);
        done.queued |= notify_invitee(conn, host, user_id, handle, &target, &channel)?;
    }
    Ok(done)
}

/// Tells an invitee of an invitation by a local user `inviter`: an `invite` event on a local
/// invitee's own stream, or a signed direct event to a remote invitee's server (queued in this
/// transaction; the inviter's conversation with them keeps a copy). `true` when queued.
pub fn notify_invitee(
    conn: &mut Conn,
    host: &Host,
    inviter_id: &str,
    inviter: &str,
    invitee: &Actor,
    channel: &str,
) -> Result<bool, ApiError> {
    let meta = json!({ "channel": channel });
    match invitee {
        Actor::Local { user_id, handle } => {
            let own_room = db::events::ensure_room(conn, &user_room_key(user_id), "user")?;
            let draft = Draft::new(
                own_room,
                inviter,
                Some(inviter_id),
                handle,
                EventKind::Invite,
                channel,
            )
            .with_meta(meta);
            append_event(conn, draft, host.max_history)?;
            Ok(false)
        }
        Actor::Remote { handle, server } => {
            let room =
                db::events::ensure_room(conn, &dm_room_key_remote(inviter_id, handle), "dm")?;
            db::events::open_span(conn, inviter_id, room, 0)?;
            let draft = Draft::new(
                room,
                inviter,
                Some(inviter_id),
                handle,
                EventKind::Invite,
                channel,
            )
            .with_meta(meta);
            let event = view(append_event(conn, draft, host.max_history)?)?;
            queue_direct(conn, &host.keys, host.server.as_str(), server, &event)?;
            Ok(true)
        }
    }
}

/// A message (or another kind this build passes on) submitted by a member server.
pub fn say(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    event: &WireEvent,
) -> Result<Done, ApiError> {
    let sanctions = members::sanctions(conn, &channel, actor, now_ms())?;
    policy::send(
        &channel,
        members::standing(conn, &channel, actor)?,
        sanctions,
    )
    .map_err(denied(host, &channel))?;
    if let Some(reply_to) = event.reply_to {
        check_reply_to(conn, channel.room_id, &reply_to.to_string())?;
    }
    let done = append(
        conn,
        host,
        channel,
        actor,
        Authored::Submitted(event),
        event.kind,
        String::new(),
        json!({}),
        None,
    )?;
    Ok(done)
}

/// An edit, delete or reaction by any actor on `target`, a message (or for a delete, a
/// reaction) of the channel: the same rules ([`policy::edit`], [`policy::delete`],
/// [`policy::react`]) for users of this server and of member servers. A reaction the actor
/// already gave is `409 already_reacted` here (a local user's request answers the first one
/// before coming here). Its effect on the message is applied by `append_event`.
pub fn message_action(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    action: &Action,
    target: &EventRow,
    authored: Authored,
) -> Result<Done, ApiError> {
    if target.room_id != channel.room_id {
        return Err(no_such_message(&action.target));
    }
    let standing = members::standing(conn, &channel, actor)?;
    // Who acts: a local user by id (older rows by handle), a remote one by handle.
    let reactor: Vec<&str> = actor
        .user_id()
        .into_iter()
        .chain([actor.handle()])
        .collect();
    if action.kind == EventKind::Reaction
        && db::rich::reaction(conn, &target.id, &reactor, &action.body)?.is_some()
    {
        return Err(ApiError::conflict(
            "already_reacted",
            format!("you already reacted {}", action.body),
        ));
    }
    let facts = facts(conn, target, &reactor, now_ms())?;
    judge(action.kind, standing, facts, host.edit_window_ms).map_err(denied(host, &channel))?;
    append_targeting(
        conn,
        host,
        channel,
        actor,
        authored,
        action.kind,
        action.body.clone(),
        action.meta.clone(),
        None,
        Some(target.id.clone()),
    )
}

/// A nick change of a member: the member keeps their modes under the new handle and the
/// channel sees a `nick` event. `new_handle` must be of the actor's own server.
pub fn rename(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    new_handle: &str,
    authored: Authored,
) -> Result<Done, ApiError> {
    policy::part(members::standing(conn, &channel, actor)?).map_err(denied(host, &channel))?;
    if let Actor::Remote { handle, .. } = actor {
        db::shared::rename_remote_member(conn, channel.room_id, handle, new_handle)?;
    }
    db::moderation::rename(
        conn,
        channel.room_id,
        &actor.handle().to_ascii_lowercase(),
        &new_handle.to_ascii_lowercase(),
    )?;
    let meta = json!({"old": actor.handle(), "new": new_handle});
    let done = append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Nick,
        new_handle.to_string(),
        meta,
        None,
    )?;
    Ok(done)
}

/// Set the channel's description (operators). The `description` event's effect (the stored
/// description, here and on every mirror) is applied by `append_event`.
pub fn describe(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    description: String,
    authored: Authored,
) -> Result<Done, ApiError> {
    super::settings::check_description(&description)?;
    policy::describe(members::standing(conn, &channel, actor)?).map_err(denied(host, &channel))?;
    append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::Description,
        description,
        json!({}),
        None,
    )
}

/// Pin (`kind` [`EventKind::Pin`]) or unpin ([`EventKind::Unpin`]) a message of the channel
/// (operators). The pins change when `append_event` applies the event, here and on mirrors.
pub fn pin(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    kind: EventKind,
    target: &EventRow,
    authored: Authored,
) -> Result<Done, ApiError> {
    if target.room_id != channel.room_id {
        return Err(no_such_message(&target.id));
    }
    let standing = members::standing(conn, &channel, actor)?;
    let pinned = db::settings::pin(conn, channel.room_id, &target.id)?.is_some();
    let judged = match kind {
        EventKind::Pin => {
            let is_message =
                EventKind::from_wire(&target.kind).is_some_and(|k| k.is_user_sendable());
            let target_kind = if is_message {
                policy::TargetKind::Message
            } else {
                policy::TargetKind::Other
            };
            policy::pin(standing, target_kind, target.deleted, pinned)
        }
        _ => policy::unpin(standing, pinned),
    };
    judged.map_err(denied(host, &channel))?;
    append_targeting(
        conn,
        host,
        channel,
        actor,
        authored,
        kind,
        String::new(),
        json!({}),
        None,
        Some(target.id.clone()),
    )
}

/// Delete the channel (its owner only): members get a `system` event (`meta.channel_deleted`
/// is the channel's global name) and their windows close on it; member servers get it in an
/// envelope and drop their mirrors; then the history is erased and the name is free
/// ([`db::settings::erase_room`]). Always authored here: the host announces a deletion.
pub fn delete_channel(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
) -> Result<Done, ApiError> {
    policy::delete_channel(members::standing(conn, &channel, actor)?)
        .map_err(denied(host, &channel))?;
    let global = host.global(&channel);
    let room_id = channel.room_id;
    let local_members = db::events::recipients(conn, room_id)?;
    let done = append(
        conn,
        host,
        channel,
        actor,
        Authored::Here,
        EventKind::System,
        format!("{global} was deleted by {}", actor.handle()),
        json!({ "channel_deleted": global }),
        None,
    )?;
    for user_id in local_members.iter() {
        db::events::close_span(conn, user_id, room_id, done.row.seq)?;
    }
    db::settings::erase_room(conn, room_id, &done.row.id, &global)?;
    Ok(done)
}
