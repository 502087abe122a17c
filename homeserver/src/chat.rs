//! What a user does, wherever it lives: each function decides once whether the channel (or
//! user) is on this server, then calls `services` for what is hosted here or
//! `federation::mirror` (the channel's host) and `federation` for what lives elsewhere. The
//! HTTP routes call these (and so will the WebSocket and the IRC gateway), so the
//! local-or-remote branching is written once and `services` never calls into `federation`.

use federation_proto::api::client::{ChannelInfo, EditRequest, Pin, SendRequest, UserProfile};
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::{ChannelName, Target, UserHandle};

use std::sync::Arc;

use crate::error::ApiError;
use crate::federation::{directory, ephemeral, mirror, profiles};
use crate::services::accounts::{self, Session};
use crate::services::channels::local_actor;
use crate::services::channels::settings::{self, check_description};
use crate::services::channels::{self, check_reason, check_topic, parse_channel, parse_modes};
use crate::services::rich::{self, Acted, Action};
use crate::services::{messages, profiles as local_profiles, read, typing};
use crate::state::AppState;

/// Where a named channel lives.
enum Place {
    /// Hosted here.
    Here(ChannelName),
    /// Hosted by another server (its host is `channel.server`).
    Elsewhere(ChannelName),
}

fn place(state: &AppState, raw: &str) -> Result<Place, ApiError> {
    let channel = parse_channel(raw)?;
    Ok(if channel.is_local_to(&state.server_name) {
        Place::Here(channel)
    } else {
        Place::Elsewhere(channel)
    })
}

/// `POST /api/v1/channels/join`
pub async fn join(
    state: &AppState,
    session: &Session,
    raw: &str,
    key: Option<String>,
) -> Result<ChannelInfo, ApiError> {
    match place(state, raw)? {
        Place::Here(channel) => channels::join(state, session, channel, key).await,
        Place::Elsewhere(channel) => mirror::join(state, session, &channel, key).await,
    }
}

/// `POST /api/v1/channels/part`
pub async fn part(
    state: &AppState,
    session: &Session,
    raw: &str,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let reason = check_reason(reason)?;
    match place(state, raw)? {
        Place::Here(channel) => channels::part(state, session, channel, reason).await,
        Place::Elsewhere(channel) => mirror::part(state, session, &channel, reason).await,
    }
}

/// `POST /api/v1/channels/{name}/topic`
pub async fn set_topic(
    state: &AppState,
    session: &Session,
    raw: &str,
    topic: String,
) -> Result<ChannelInfo, ApiError> {
    check_topic(&topic)?;
    match place(state, raw)? {
        Place::Here(channel) => channels::set_topic(state, session, channel, topic).await,
        Place::Elsewhere(channel) => {
            let meta = serde_json::json!({});
            mirror::act(state, session, &channel, EventKind::Topic, &topic, meta).await?;
            mirror::info(state, &channel).await
        }
    }
}

/// `POST /api/v1/channels/{name}/mode`
pub async fn set_modes(
    state: &AppState,
    session: &Session,
    raw: &str,
    modes: &str,
    nick: Option<String>,
    arg: Option<String>,
) -> Result<ChannelInfo, ApiError> {
    let changes = parse_modes(modes, nick.as_deref(), arg.as_deref())?;
    match place(state, raw)? {
        Place::Here(channel) => channels::set_modes(state, session, channel, changes).await,
        Place::Elsewhere(channel) => {
            let meta = serde_json::json!({"nick": nick, "arg": arg});
            mirror::act(state, session, &channel, EventKind::Mode, modes, meta).await?;
            mirror::info(state, &channel).await
        }
    }
}

/// `POST /api/v1/channels/{name}/invite`: a user of another server needs a federation link
/// to their server (resolved now if it is listed in `PEERS`).
pub async fn invite(
    state: &AppState,
    session: &Session,
    raw: &str,
    nick: &str,
) -> Result<(), ApiError> {
    let invitee: UserHandle = nick.parse()?;
    if let Some(server) = invitee
        .server
        .as_ref()
        .filter(|_| !invitee.is_local_to(&state.server_name))
    {
        directory::peer(state, server.as_str()).await?;
    }
    match place(state, raw)? {
        Place::Here(channel) => channels::invite(state, session, channel, nick.to_string()).await,
        Place::Elsewhere(channel) => mirror::invite(state, session, &channel, &invitee).await,
    }
}

/// `POST /api/v1/channels/{name}/kick`
pub async fn kick(
    state: &AppState,
    session: &Session,
    raw: &str,
    nick: &str,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let reason = check_reason(reason)?;
    match place(state, raw)? {
        Place::Here(channel) => {
            channels::kick(state, session, channel, nick.to_string(), reason).await
        }
        Place::Elsewhere(channel) => {
            let meta = serde_json::json!({"nick": nick});
            mirror::act(state, session, &channel, EventKind::Kick, &reason, meta).await
        }
    }
}

/// `POST /api/v1/channels/{name}/mute` (`mute` true) and `/unmute`: a channel hosted elsewhere
/// is asked through its host, which judges and announces it.
pub async fn mute(
    state: &AppState,
    session: &Session,
    raw: &str,
    nick: &str,
    mute: bool,
    seconds: Option<i64>,
) -> Result<(), ApiError> {
    use crate::services::channels::sanctions::{self, MUTE_REQUEST, UNMUTE_REQUEST};
    let seconds = sanctions::check_seconds(seconds)?;
    match place(state, raw)? {
        Place::Here(channel) => {
            sanctions::mute(state, session, channel, nick.to_string(), mute, seconds).await
        }
        Place::Elsewhere(channel) => {
            let meta = if mute {
                serde_json::json!({ MUTE_REQUEST: nick, "seconds": seconds })
            } else {
                serde_json::json!({ UNMUTE_REQUEST: nick })
            };
            mirror::act(state, session, &channel, EventKind::System, "", meta).await
        }
    }
}

/// `PUT /api/v1/channels/{name}/notifications`: the user's level for a channel they are in,
/// hosted here or elsewhere (kept by this server either way).
pub async fn notification_level(
    state: &AppState,
    session: &Session,
    raw: &str,
    level: String,
) -> Result<federation_proto::api::community::LevelResponse, ApiError> {
    use crate::services::notifications;
    notifications::check_level(&level)?;
    let (global, room_id) = match place(state, raw)? {
        Place::Here(channel) => {
            let global = format!("#{}@{}", channel.name, state.server_name);
            let room = notifications::hosted_room(state, session, channel.name).await?;
            (global, room)
        }
        Place::Elsewhere(channel) => {
            let global = channel.to_string();
            let room = mirror::require_member(state, session, &global).await?;
            (global, room)
        }
    };
    notifications::set_level(state, session, global, room_id, level).await
}

/// `POST /api/v1/channels/{name}/invites`: invite links are made by the channel's host, for
/// its own users; a channel hosted elsewhere answers `400 not_hosted_here`.
pub async fn create_invite_link(
    state: &AppState,
    session: &Session,
    raw: &str,
    max_uses: Option<i64>,
    expires_in: Option<i64>,
) -> Result<federation_proto::api::community::InviteLink, ApiError> {
    use crate::services::channels::invite_links;
    invite_links::check_request(max_uses, expires_in)?;
    match place(state, raw)? {
        Place::Here(channel) => {
            invite_links::create(state, session, channel, max_uses, expires_in).await
        }
        Place::Elsewhere(channel) => Err(ApiError::bad_request(
            "not_hosted_here",
            format!("invite links of {channel} are made on its host"),
        )),
    }
}

/// `GET /api/v1/channels/{name}/reports`: the reports this server keeps about a channel it
/// hosts (a channel hosted elsewhere: `400 not_hosted_here`; its reports here are in the
/// admins' queue).
pub async fn channel_reports(
    state: &AppState,
    session: &Session,
    raw: &str,
    open_only: bool,
) -> Result<federation_proto::api::community::ReportList, ApiError> {
    match place(state, raw)? {
        Place::Here(channel) => {
            crate::services::reports::list_channel(state, session, channel, open_only).await
        }
        Place::Elsewhere(channel) => Err(ApiError::bad_request(
            "not_hosted_here",
            format!("{channel} is reviewed on its host"),
        )),
    }
}

/// `GET /api/v1/channels/{name}`
pub async fn info(state: &AppState, session: &Session, raw: &str) -> Result<ChannelInfo, ApiError> {
    match place(state, raw)? {
        Place::Here(channel) => channels::info(state, session, channel).await,
        Place::Elsewhere(channel) => {
            let me = format!("{}@{}", session.nick, state.server_name);
            mirror::info_as(state, &channel, &me).await
        }
    }
}

/// `POST /api/v1/messages`: a channel hosted elsewhere is sequenced by its host; everything
/// else (channels hosted here, DMs here or to other servers) is stored here.
pub async fn send(
    state: &AppState,
    session: &Session,
    req: SendRequest,
) -> Result<Event, ApiError> {
    // Every transport's sends count against the same per-user limit.
    state.limits.check_send(&session.user_id, &session.nick)?;
    let out = messages::validate(state, req)?;
    match &out.target {
        Target::Channel(channel) if !channel.is_local_to(&state.server_name) => {
            let channel = channel.clone();
            mirror::send(state, session, &channel, out).await
        }
        Target::User(handle) if !handle.is_local_to(&state.server_name) => {
            // Only a peer listed in PEERS may need resolving first; a known peer costs the
            // send no extra query (the send's own write checks it is live).
            match &handle.server {
                Some(server) if directory::is_listed(state, server.as_str()) => {
                    directory::peer(state, server.as_str()).await?;
                }
                _ => {}
            }
            messages::send(state, session, out).await
        }
        _ => messages::send(state, session, out).await,
    }
}

/// An edit, delete or reaction of the message `action.target`: a message of a channel hosted
/// elsewhere goes through its host; every other one (a channel hosted here, a DM here or with
/// another server) is handled here.
async fn message_action(
    state: &AppState,
    session: &Session,
    action: Action,
) -> Result<Acted, ApiError> {
    rich::check_fields(state, action.kind, &action.body, &action.meta)?;
    match rich::place_of(state, session, &action.target).await? {
        Some(mirror) => mirror::message_action(state, session, &mirror, action).await,
        None => rich::act(state, session, action).await,
    }
}

/// `PUT /api/v1/messages/{id}`: edit one's message.
pub async fn edit(
    state: &AppState,
    session: &Session,
    id: &str,
    req: EditRequest,
) -> Result<Event, ApiError> {
    let meta = match req.meta {
        None | Some(serde_json::Value::Null) => serde_json::json!({}),
        Some(meta) => meta,
    };
    let action = Action {
        kind: EventKind::Edit,
        target: id.to_string(),
        body: req.body,
        meta,
    };
    Ok(message_action(state, session, action).await?.event)
}

/// `DELETE /api/v1/messages/{id}`: delete a message (one's own, or any as an operator of its
/// channel); also withdraws a reaction when `id` names one.
pub async fn delete(state: &AppState, session: &Session, id: &str) -> Result<Event, ApiError> {
    let action = Action {
        kind: EventKind::Delete,
        target: id.to_string(),
        body: String::new(),
        meta: serde_json::json!({}),
    };
    Ok(message_action(state, session, action).await?.event)
}

/// `POST /api/v1/messages/{id}/reactions`: the reaction event, and whether it is new (a
/// repeat answers the first).
pub async fn react(
    state: &AppState,
    session: &Session,
    id: &str,
    emoji: String,
) -> Result<Acted, ApiError> {
    let action = Action {
        kind: EventKind::Reaction,
        target: id.to_string(),
        body: emoji,
        meta: serde_json::json!({}),
    };
    message_action(state, session, action).await
}

/// `DELETE /api/v1/messages/{id}/reactions/{emoji}`: withdraws one's reaction (a `delete` of
/// the reaction event).
pub async fn unreact(
    state: &AppState,
    session: &Session,
    id: &str,
    emoji: &str,
) -> Result<Event, ApiError> {
    let reaction = rich::my_reaction(state, session, id, emoji).await?;
    delete(state, session, &reaction).await
}

/// `GET /api/v1/users/{handle}`: a user of another server is asked of their server.
pub async fn profile(state: &AppState, handle: &str) -> Result<UserProfile, ApiError> {
    let handle: UserHandle = handle.parse()?;
    match &handle.server {
        Some(server) if !handle.is_local_to(&state.server_name) => {
            profiles::remote_profile(state, server.as_str(), handle.nick.as_str()).await
        }
        _ => accounts::local_profile(state, handle.nick.as_str()).await,
    }
}

/// `POST /api/v1/users/nick`: renames the user here, then tells the hosts of the channels they
/// are in on other servers (see `mirror::announce_nick`).
pub async fn change_nick(
    state: &AppState,
    session: &Session,
    new_nick: &str,
) -> Result<UserProfile, ApiError> {
    let (profile, renamed) = accounts::change_nick(state, session, new_nick).await?;
    if let Some(renamed) = renamed {
        mirror::announce_nick(state, renamed).await;
    }
    Ok(profile)
}

/// `POST /api/v1/typing`: the conversation's other members here see a `typing` event at once;
/// the servers that must hear it too (a channel's member servers or host, a DM's other
/// server) get it in the background.
pub async fn typing(
    state: &Arc<AppState>,
    session: &Session,
    raw_target: &str,
    on: bool,
) -> Result<(), ApiError> {
    state.limits.check_typing(&session.user_id)?;
    let target: Target = raw_target.replace("%23", "#").parse()?;
    let actor = local_actor(state, session);
    let notice = typing::from_local(state, &actor, &target, on).await?;
    ephemeral::push(state, notice.servers, ephemeral::item_of(&notice.event));
    Ok(())
}

/// `POST /api/v1/read`: the marker moves here; the conversation's members here get a
/// `receipt` event at once, the servers that must hear it (a channel's member servers or host,
/// a DM's other server) in the background.
pub async fn read(
    state: &Arc<AppState>,
    session: &Session,
    raw_target: &str,
    id: &str,
) -> Result<federation_proto::api::client::ReadResponse, ApiError> {
    let notice = read::from_local(state, session, raw_target, id).await?;
    if let Some(event) = &notice.event {
        ephemeral::push(state, notice.servers, ephemeral::item_of(event));
    }
    Ok(notice.answer)
}

/// `PATCH /api/v1/users/me`: stores the profile; users who share a conversation with this one
/// get a `presence` event, here at once and on the servers of those conversations in the
/// background.
pub async fn update_profile(
    state: &Arc<AppState>,
    session: &Session,
    update: federation_proto::api::client::ProfileUpdate,
) -> Result<UserProfile, ApiError> {
    let notice = local_profiles::update(state, session, update).await?;
    if let Some(event) = &notice.event {
        let item = ephemeral::item_of(event);
        for (server, to) in notice.items {
            let mut item = item.clone();
            item.to = to;
            ephemeral::push(state, vec![server], item);
        }
    }
    accounts::local_profile(state, &session.nick).await
}

/// `PUT /api/v1/channels/{name}`: sets the description (operators), here or through the host.
pub async fn describe(
    state: &AppState,
    session: &Session,
    raw: &str,
    description: String,
) -> Result<ChannelInfo, ApiError> {
    check_description(&description)?;
    match place(state, raw)? {
        Place::Here(channel) => settings::describe(state, session, channel, description).await,
        Place::Elsewhere(channel) => {
            let meta = serde_json::json!({});
            let kind = EventKind::Description;
            mirror::act(state, session, &channel, kind, &description, meta).await?;
            mirror::info(state, &channel).await
        }
    }
}

/// `POST /api/v1/channels/{name}/pins` (`kind` pin) and `DELETE …/pins/{id}` (`kind` unpin):
/// the `pin` or `unpin` event.
pub async fn pin(
    state: &AppState,
    session: &Session,
    raw: &str,
    kind: EventKind,
    id: &str,
) -> Result<Event, ApiError> {
    let id = uuid::Uuid::parse_str(id)
        .map_err(|_| rich::no_such_message(id))?
        .to_string();
    match place(state, raw)? {
        Place::Here(channel) => settings::pin(state, session, channel, kind, id).await,
        Place::Elsewhere(channel) => {
            mirror::settings::pin(state, session, &channel, kind, &id).await
        }
    }
}

/// `GET /api/v1/channels/{name}/pins`: from this server's copy (a channel hosted here, or the
/// mirror of one hosted elsewhere).
pub async fn pins(state: &AppState, session: &Session, raw: &str) -> Result<Vec<Pin>, ApiError> {
    match place(state, raw)? {
        Place::Here(channel) => settings::pins(state, session, channel).await,
        Place::Elsewhere(channel) => mirror::settings::pins(state, session, &channel).await,
    }
}

/// `DELETE /api/v1/channels/{name}`: the owner deletes the channel; answers the `system`
/// event that announced it (`None` for a channel hosted elsewhere, whose host refuses: its
/// owner is always one of the host's users).
pub async fn delete_channel(
    state: &AppState,
    session: &Session,
    raw: &str,
) -> Result<Option<Event>, ApiError> {
    match place(state, raw)? {
        Place::Here(channel) => settings::delete(state, session, channel).await.map(Some),
        Place::Elsewhere(channel) => mirror::settings::delete(state, session, &channel)
            .await
            .map(|()| None),
    }
}

/// A local user connected, or their presence grace ran out (`services::presence`): the
/// `presence` event here, the ephemeral items to the other servers.
#[tracing::instrument(skip(state))]
pub async fn connection_changed(state: &Arc<AppState>, user_id: &str, connected: bool) {
    match local_profiles::connection_changed(state, user_id, connected).await {
        Ok(notice) => {
            if let Some(event) = &notice.event {
                let item = ephemeral::item_of(event);
                for (server, to) in notice.items {
                    let mut item = item.clone();
                    item.to = to;
                    ephemeral::push(state, vec![server], item);
                }
            }
        }
        Err(e) => tracing::warn!(code = e.code, message = %e.message, "presence not announced"),
    }
}
