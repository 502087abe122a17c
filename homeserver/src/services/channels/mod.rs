//! Channels hosted here, with IRC semantics: joining a channel that does not exist creates it
//! with the joiner as owner; part, topic, modes, invite and kick; info and lists. Every change
//! is an event in the channel, committed in the same transaction as the change.
//!
//! The functions here serve this server's users; [`act`] holds the actions themselves, which
//! the host's handling of submissions from member servers calls too. Channels hosted
//! elsewhere are reached through `crate::chat`, which picks this module or the mirror once per
//! request.

pub mod act;
pub mod invite_links;
pub mod sanctions;
pub mod settings;

use federation_proto::api::client::{ChannelBan, ChannelInfo, ChannelMember, ChannelSummary};
use federation_proto::ids::{ChannelName, ServerName};
use federation_proto::time::format_rfc3339_ms;

use self::act::{Authored, Done, Host};
use super::accounts::{mark_active, Session};
use super::modes::{self, ModeChange};
use super::policy::{self, Actor};
use crate::db::models::ChannelRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest topic, in characters.
pub const TOPIC_MAX: usize = 1000;
/// Longest part or kick reason, in characters.
pub const REASON_MAX: usize = 500;
/// Most channels listed at once.
const LIST_MAX: i64 = 1000;

/// Key of a channel's room.
fn channel_room_key(name: &str) -> String {
    format!("chan:{name}")
}

/// Parses a channel name as written in a body or a path (`#name`, `name`, `%23name`, with an
/// optional `@host`).
pub fn parse_channel(raw: &str) -> Result<ChannelName, ApiError> {
    Ok(raw.replace("%23", "#").parse()?)
}

/// Parses a channel name and checks that it is hosted here.
pub fn local_channel(state: &AppState, raw: &str) -> Result<ChannelName, ApiError> {
    let channel = parse_channel(raw)?;
    if !channel.is_local_to(&state.server_name) {
        return Err(ApiError::not_found(
            "unknown_server",
            format!("{channel} is hosted on another server"),
        ));
    }
    Ok(channel)
}

pub(crate) fn no_such_channel(channel: &str) -> ApiError {
    ApiError::not_found("no_such_channel", format!("no channel {channel}"))
}

/// A valid part or kick reason, or 400.
pub fn check_reason(reason: Option<String>) -> Result<String, ApiError> {
    let reason = reason.unwrap_or_default();
    if reason.chars().count() > REASON_MAX {
        return Err(ApiError::bad_request(
            "reason_too_long",
            format!("a reason is at most {REASON_MAX} characters"),
        ));
    }
    Ok(reason)
}

/// A valid topic, or 400.
pub fn check_topic(topic: &str) -> Result<(), ApiError> {
    if topic.chars().count() > TOPIC_MAX || topic.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request(
            "invalid_topic",
            format!("a topic is at most {TOPIC_MAX} characters without control characters"),
        ));
    }
    Ok(())
}

/// Parses a mode request, or 400.
pub fn parse_modes(
    text: &str,
    nick: Option<&str>,
    arg: Option<&str>,
) -> Result<Vec<ModeChange>, ApiError> {
    modes::parse(text, nick, arg).map_err(|e| ApiError::bad_request("invalid_mode", e.to_string()))
}

/// Loads a channel or 404.
pub fn load_channel(conn: &mut Conn, name: &str) -> Result<ChannelRow, ApiError> {
    db::channels::by_name(conn, name)?.ok_or_else(|| no_such_channel(&format!("#{name}")))
}

/// Loads a channel for an action by `actor`: a secret channel does not exist for non-members.
fn channel_for(conn: &mut Conn, name: &str, actor: &Actor) -> Result<ChannelRow, ApiError> {
    let channel = load_channel(conn, name)?;
    let is_member = super::members::standing(conn, &channel, actor)?.is_some();
    policy::see(&channel, is_member).map_err(|d| d.into_error(&format!("#{name}")))?;
    Ok(channel)
}

/// The local user of a session as an actor.
pub fn local_actor(state: &AppState, session: &Session) -> Actor {
    Actor::Local {
        user_id: session.user_id.clone(),
        handle: format!("{}@{}", session.nick, state.server_name),
    }
}

/// Runs a local user's action on a hosted channel as one write, wakes the outbox if it queued
/// anything, and answers the channel's info.
async fn run_action<F>(
    state: &AppState,
    session: &Session,
    action: F,
) -> Result<ChannelInfo, ApiError>
where
    F: FnOnce(&mut Conn, &Host, &Actor) -> Result<Done, ApiError> + Send + 'static,
{
    let host = Host::of(state);
    let actor = local_actor(state, session);
    let (info, queued) = state
        .db
        .write(move |conn| {
            let done = action(conn, &host, &actor)?;
            if let Some(user_id) = actor.user_id() {
                mark_active(conn, user_id)?;
            }
            let standing = super::members::standing(conn, &done.channel, &actor)?;
            let info = info_for(conn, &host.server, &done.channel, standing)?;
            Ok::<_, ApiError>((info, done.queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(info)
}

/// `POST /api/v1/channels/join` for a channel hosted here.
pub async fn join(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    key: Option<String>,
) -> Result<ChannelInfo, ApiError> {
    let host = Host::of(state);
    let actor = local_actor(state, session);
    let (info, queued) = state
        .db
        .write(move |conn| {
            let done = act::join(
                conn,
                &host,
                &channel.name,
                &actor,
                key.as_deref(),
                Authored::Here,
            )?;
            let (row, queued) = match done {
                Some(done) => (done.channel, done.queued),
                // Already a member: joining again changes nothing.
                None => (load_channel(conn, &channel.name)?, false),
            };
            if let Some(user_id) = actor.user_id() {
                mark_active(conn, user_id)?;
            }
            let standing = super::members::standing(conn, &row, &actor)?;
            Ok::<_, ApiError>((info_for(conn, &host.server, &row, standing)?, queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(info)
}

/// `POST /api/v1/channels/part` for a channel hosted here.
pub async fn part(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    reason: String,
) -> Result<(), ApiError> {
    run_action(state, session, move |conn, host, actor| {
        let row = channel_for(conn, &channel.name, actor)?;
        act::part(conn, host, row, actor, reason, Authored::Here)
    })
    .await
    .map(drop)
}

/// `POST /api/v1/channels/{name}/topic` for a channel hosted here.
pub async fn set_topic(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    topic: String,
) -> Result<ChannelInfo, ApiError> {
    run_action(state, session, move |conn, host, actor| {
        let row = channel_for(conn, &channel.name, actor)?;
        act::set_topic(conn, host, row, actor, topic, Authored::Here)
    })
    .await
}

/// `POST /api/v1/channels/{name}/mode` for a channel hosted here.
pub async fn set_modes(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    changes: Vec<ModeChange>,
) -> Result<ChannelInfo, ApiError> {
    run_action(state, session, move |conn, host, actor| {
        let row = channel_for(conn, &channel.name, actor)?;
        act::set_modes(conn, host, row, actor, &changes, Authored::Here)
    })
    .await
}

/// `POST /api/v1/channels/{name}/invite` for a channel hosted here.
pub async fn invite(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    nick: String,
) -> Result<(), ApiError> {
    run_action(state, session, move |conn, host, actor| {
        let row = channel_for(conn, &channel.name, actor)?;
        act::invite(conn, host, row, actor, &nick, Authored::Here)
    })
    .await
    .map(drop)
}

/// `POST /api/v1/channels/{name}/kick` for a channel hosted here.
pub async fn kick(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    nick: String,
    reason: String,
) -> Result<(), ApiError> {
    run_action(state, session, move |conn, host, actor| {
        let row = channel_for(conn, &channel.name, actor)?;
        act::kick(conn, host, row, actor, &nick, reason, Authored::Here)
    })
    .await
    .map(drop)
}

/// `GET /api/v1/channels/{name}` for a channel hosted here: a secret channel is invisible to
/// non-members.
pub async fn info(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
) -> Result<ChannelInfo, ApiError> {
    let server = state.server_name.clone();
    let actor = local_actor(state, session);
    state
        .db
        .run(move |conn| {
            let row = channel_for(conn, &channel.name, &actor)?;
            let standing = super::members::standing(conn, &row, &actor)?;
            info_for(conn, &server, &row, standing)
        })
        .await
}

/// The channel's info as a user with `standing` sees it: the bans only for operators.
pub fn info_for(
    conn: &mut Conn,
    server: &ServerName,
    row: &ChannelRow,
    standing: Option<policy::Standing>,
) -> Result<ChannelInfo, ApiError> {
    let mut info = info_of(conn, server, row, standing.is_some())?;
    if standing.is_some_and(|s| s.op) {
        let bans = db::moderation::bans_of(conn, row.room_id)?;
        info.bans = Some(
            bans.into_iter()
                .map(|b| ChannelBan {
                    mask: b.mask,
                    set_by: b.set_by,
                    set_at: format_rfc3339_ms(b.set_ms),
                })
                .collect(),
        );
    }
    Ok(info)
}

/// The channel's info: topic, modes (the key only for members), owner and members of every
/// server.
pub fn info_of(
    conn: &mut Conn,
    server: &ServerName,
    row: &ChannelRow,
    is_member: bool,
) -> Result<ChannelInfo, ApiError> {
    let flags = |op: bool, voice: bool| -> String {
        [(op, 'o'), (voice, 'v')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect()
    };
    let mut owner = String::new();
    let mut members = Vec::new();
    for (m, nick) in db::channels::members_with_nicks(conn, row.room_id)? {
        let handle = format!("{nick}@{server}");
        let is_owner = m.user_id == row.owner_id;
        if is_owner {
            owner = handle.clone();
        }
        members.push(ChannelMember {
            handle,
            nick,
            modes: flags(m.is_op, m.is_voice),
            owner: is_owner,
        });
    }
    for remote in db::shared::remote_members(conn, row.room_id)? {
        let nick = remote
            .handle
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        members.push(ChannelMember {
            modes: flags(remote.is_op, remote.is_voice),
            handle: remote.handle,
            nick,
            owner: false,
        });
    }
    if owner.is_empty() {
        if let Some(user) = db::users::by_id(conn, &row.owner_id)? {
            owner = format!("{}@{server}", user.nick);
        }
    }
    Ok(ChannelInfo {
        name: format!("#{}@{server}", row.name),
        topic: row.topic.clone(),
        topic_set_by: row.topic_set_by.clone(),
        description: db::settings::description(conn, row.room_id)?,
        modes: modes::render(row, is_member),
        owner,
        created: format_rfc3339_ms(row.created_ms),
        members,
        bans: None,
    })
}

fn summary(
    conn: &mut Conn,
    server: &ServerName,
    row: &ChannelRow,
    is_member: bool,
) -> Result<ChannelSummary, ApiError> {
    Ok(ChannelSummary {
        name: format!("#{}@{server}", row.name),
        topic: row.topic.clone(),
        members: super::members::count(conn, row.room_id)?,
        modes: modes::render(row, is_member),
        description: db::settings::description(conn, row.room_id)?,
    })
}

/// `GET /api/v1/channels`: the caller's channels, hosted here or elsewhere. A channel hosted
/// elsewhere shows the topic, modes and member count its host last announced.
pub async fn mine(state: &AppState, session: &Session) -> Result<Vec<ChannelSummary>, ApiError> {
    let server = state.server_name.clone();
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let rows = db::channels::of_user(conn, &user_id)?;
            let mut list = rows
                .iter()
                .map(|row| summary(conn, &server, row, true))
                .collect::<Result<Vec<_>, ApiError>>()?;
            for mirror in db::shared::mirrors_of_user(conn, &user_id)? {
                list.push(ChannelSummary {
                    description: db::settings::description(conn, mirror.room_id)?,
                    name: mirror.channel,
                    topic: mirror.topic,
                    members: mirror.members,
                    modes: mirror.modes,
                });
            }
            Ok(list)
        })
        .await
}

/// `GET /api/v1/channels/public`: channels that are not `+s`, with member counts.
pub async fn public(state: &AppState, session: &Session) -> Result<Vec<ChannelSummary>, ApiError> {
    let server = state.server_name.clone();
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let rows = db::channels::public(conn, LIST_MAX)?;
            rows.iter()
                .map(|row| {
                    let is_member = db::channels::member(conn, row.room_id, &user_id)?.is_some();
                    summary(conn, &server, row, is_member)
                })
                .collect()
        })
        .await
}

/// Resolves a channel for a local user's send (the send path's own fast checks, through the
/// same rule as every other sender): the row, or why not.
pub fn for_send(conn: &mut Conn, name: &str, actor: &Actor) -> Result<ChannelRow, ApiError> {
    let row = load_channel(conn, name)?;
    let member = super::members::standing(conn, &row, actor)?;
    let sanctions = super::members::sanctions(conn, &row, actor, super::now_ms())?;
    policy::send(&row, member, sanctions).map_err(|d| d.into_error(&format!("#{}", row.name)))?;
    Ok(row)
}

/// Resolves a channel for reading history: members only.
pub fn for_history(conn: &mut Conn, name: &str, actor: &Actor) -> Result<ChannelRow, ApiError> {
    let row = load_channel(conn, name)?;
    let is_member = super::members::standing(conn, &row, actor)?.is_some();
    policy::read_history(&row, is_member).map_err(|d| match d {
        policy::Denied::NotMember => ApiError::forbidden(
            "not_member",
            format!("join #{} to read its history", row.name),
        ),
        other => other.into_error(&format!("#{name}")),
    })?;
    Ok(row)
}
