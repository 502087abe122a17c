//! Read state (DESIGN.md, "Rich chat"): read markers (`POST /api/v1/read`), receipts
//! (`GET /api/v1/messages/{id}/receipts`) and the conversation list with unread and mention
//! counts (`GET /api/v1/conversations`).
//!
//! # Storage
//! One `read_markers` row per reader and conversation room, moved forward in place (never
//! backwards). A local reader is keyed by user id; a reader of another server by `nick@server`:
//! this server keeps the receipts it receives for the conversations it has (a channel it hosts,
//! whose member servers submit them; a channel it mirrors, whose host passes them on; a DM with
//! one of its users). So `GET …/receipts` answers from this server's rows alone.
//!
//! # Unread counts
//! Nothing is stored per recipient per message. A conversation's `unread` is the number of
//! `message` events of its room after the user's marker (or their join) that others sent, read
//! from the `events(room_id, seq)` index and capped at [`UNREAD_CAP`] (so a conversation costs at
//! most that many index rows, whatever the channel's size). `mentions` is counted over the same
//! rows: bodies that name `@nick` (or `@nick@this-server`) as a word, case-insensitively. The
//! bound is the documented limit: past [`UNREAD_CAP`] unread messages, mentions among older
//! ones are not counted.
//!
//! # Receipt events
//! Moving a marker publishes an ephemeral `receipt` event (`meta.id` and `target` are the
//! message id) to the room's members here (the reader's own devices included); the servers to
//! tell are returned to the caller ([`crate::chat`], `federation::ephemeral`), as for typing.

use federation_proto::api::client::{
    Conversation, ConversationsResponse, ReadResponse, Receipt, ReceiptsResponse,
};
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::{ServerName, Target};
use federation_proto::mention::mentions;
use federation_proto::time::format_rfc3339_ms;
use serde_json::Value;

use super::accounts::Session;
use super::channels::{load_channel, local_actor};
use super::ephemeral::{self, STATE_LIFETIME};
use super::events::view;
use super::landing::{self, Landing};
use super::members;
use super::messages::{dm_room_key, dm_room_key_remote};
use super::now_ms;
use super::policy::{self, Actor};
use crate::db::read_state::Marker;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Most unread messages counted per conversation (the answer says 1000 for "1000 or more").
pub const UNREAD_CAP: i64 = 1000;
/// Most readers listed by `GET /api/v1/messages/{id}/receipts`.
pub const RECEIPTS_MAX: i64 = 500;

/// A marker that moved: the answer, the event devices get and the other servers to tell.
pub struct Notice {
    pub answer: ReadResponse,
    /// The `receipt` event, when the marker moved.
    pub event: Option<Event>,
    /// Other servers to tell (never this one).
    pub servers: Vec<String>,
}

/// The `receipt` event of `from` in `to` for message `id`.
pub fn receipt_event(from: &str, to: &str, id: &str) -> Event {
    let mut event = ephemeral::event(from, to, EventKind::Receipt, "");
    event
        .meta
        .insert("id".to_string(), Value::String(id.to_string()));
    event.target = uuid::Uuid::parse_str(id).ok();
    event
}

fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::parse_str(id).map_err(|_| {
        ApiError::bad_request("invalid_id", format!("{id:?} is not a message id (a UUID)"))
    })
}

fn no_such_message(id: &str) -> ApiError {
    ApiError::not_found("no_such_message", format!("no message {id} here"))
}

/// A local user's conversation room: `(target as shown, room, other servers to tell)`.
fn local_room(
    conn: &mut Conn,
    server: &ServerName,
    actor: &Actor,
    user_id: &str,
    target: &Target,
) -> Result<(String, Option<i64>, Vec<String>), ApiError> {
    match target {
        Target::Channel(channel) if channel.is_local_to(server) => {
            let row = load_channel(conn, &channel.name)?;
            let global = format!("#{}@{server}", row.name);
            let member = members::standing(conn, &row, actor)?;
            policy::see(&row, member.is_some()).map_err(|d| d.into_error(&global))?;
            policy::part(member).map_err(|d| d.into_error(&global))?;
            let servers = db::shared::member_servers(conn, row.room_id)?;
            Ok((global, Some(row.room_id), servers))
        }
        Target::Channel(channel) => {
            let global = channel.to_string();
            match db::shared::mirror_by_channel(conn, &global)? {
                Some(m) if db::events::has_open_span(conn, user_id, m.room_id)? => {
                    Ok((global, Some(m.room_id), vec![m.host]))
                }
                _ => Err(ApiError::forbidden(
                    "not_member",
                    format!("you are not in {global}"),
                )),
            }
        }
        Target::User(handle) if handle.is_local_to(server) => {
            let user = db::users::by_nick(conn, handle.nick.as_str())?
                .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {handle}")))?;
            let room = db::events::room_id(conn, &dm_room_key(user_id, &user.id))?;
            Ok((handle.qualified(server), room, Vec::new()))
        }
        Target::User(handle) => {
            let shown = handle.to_string();
            let room = db::events::room_id(conn, &dm_room_key_remote(user_id, &shown))?;
            let peer = handle
                .server
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            Ok((shown, room, vec![peer]))
        }
    }
}

/// `POST /api/v1/read`: moves the user's marker in `target` to message `id` (never backwards).
pub async fn from_local(
    state: &AppState,
    session: &Session,
    raw_target: &str,
    id: &str,
) -> Result<Notice, ApiError> {
    let target: Target = raw_target.replace("%23", "#").parse()?;
    parse_id(id)?;
    let server = state.server_name.clone();
    let actor = local_actor(state, session);
    let user_id = session.user_id.clone();
    let id = id.to_string();
    let (shown, moved, marker, users, servers) = state
        .db
        .write(move |conn| {
            let (shown, room, servers) = local_room(conn, &server, &actor, &user_id, &target)?;
            let row = db::events::by_id(conn, &id)?.ok_or_else(|| no_such_message(&id))?;
            let Some(room_id) = room.filter(|r| *r == row.room_id) else {
                return Err(ApiError::bad_request(
                    "not_in_conversation",
                    format!("message {id} is not in {shown}"),
                ));
            };
            let to = Marker {
                seq: row.seq,
                event_id: row.id,
                ts_ms: now_ms(),
            };
            let moved = db::read_state::advance(conn, room_id, &user_id, true, &to)?;
            let marker = db::read_state::marker(conn, room_id, &user_id)?.unwrap_or(to);
            let users = db::events::recipients(conn, room_id)?.to_vec();
            Ok::<_, ApiError>((shown, moved, marker, users, servers))
        })
        .await?;
    let answer = ReadResponse {
        target: shown.clone(),
        last_read: marker.event_id.clone(),
        moved,
    };
    if !moved {
        return Ok(Notice {
            answer,
            event: None,
            servers: Vec::new(),
        });
    }
    let event = receipt_event(
        actor_handle(state, session).as_str(),
        &shown,
        &marker.event_id,
    );
    ephemeral::publish(state, &users, &event, STATE_LIFETIME)?;
    Ok(Notice {
        answer,
        event: Some(event),
        servers,
    })
}

fn actor_handle(state: &AppState, session: &Session) -> String {
    format!("{}@{}", session.nick, state.server_name)
}

/// A receipt of `from` in `to` for message `id`, told by `origin` (the transaction's verified
/// signer): a user of `origin`, or a member of a channel `origin` hosts, passed on by it. The
/// marker is stored when this server has the message and it moves forward; the event is
/// published to the local members. Returns the servers to pass it on to (a channel hosted
/// here: its other member servers).
pub async fn from_remote(
    state: &AppState,
    origin: &str,
    from: &str,
    to: &str,
    id: &str,
) -> Result<Vec<String>, ApiError> {
    let target: Target = to.parse()?;
    parse_id(id)?;
    let server = state.server_name.clone();
    let actor = Actor::Remote {
        handle: from.to_string(),
        server: origin.to_string(),
    };
    let (origin_name, reader, message) = (origin.to_string(), from.to_string(), id.to_string());
    let outcome = state
        .db
        .write(move |conn| {
            let (shown, room_id, servers) =
                remote_room(conn, &server, &origin_name, &actor, &target)?;
            let moved = match db::events::by_id(conn, &message)? {
                Some(row) if row.room_id == room_id => {
                    let to = Marker {
                        seq: row.seq,
                        event_id: row.id,
                        ts_ms: now_ms(),
                    };
                    db::read_state::advance(conn, room_id, &reader, false, &to)?
                }
                // Not here (yet, or rotated away): told on, not stored.
                _ => true,
            };
            let users = db::events::recipients(conn, room_id)?.to_vec();
            Ok::<_, ApiError>(moved.then_some((shown, users, servers)))
        })
        .await?;
    let Some((shown, users, servers)) = outcome else {
        return Ok(Vec::new());
    };
    ephemeral::publish(
        state,
        &users,
        &receipt_event(from, &shown, id),
        STATE_LIFETIME,
    )?;
    Ok(servers)
}

/// A remote reader's conversation room here: `(to as shown, room, servers to tell)`.
fn remote_room(
    conn: &mut Conn,
    server: &ServerName,
    origin: &str,
    actor: &Actor,
    target: &Target,
) -> Result<(String, i64, Vec<String>), ApiError> {
    Ok(match landing::land(conn, server, origin, actor, target)? {
        Landing::Hosted {
            global,
            room_id,
            pass_on,
        } => (global, room_id, pass_on),
        Landing::Mirrored { global, room_id } => (global, room_id, Vec::new()),
        Landing::User { handle, user_id } => {
            let room = db::events::room_id(conn, &dm_room_key_remote(&user_id, actor.handle()))?
                .ok_or_else(|| {
                    ApiError::not_found(
                        "no_conversation",
                        format!("{} has no conversation with {handle}", actor.handle()),
                    )
                })?;
            (handle, room, Vec::new())
        }
    })
}

/// `GET /api/v1/messages/{id}/receipts`: who has read up to or past message `id`, for a user
/// who is in its conversation.
pub async fn receipts(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<ReceiptsResponse, ApiError> {
    parse_id(id)?;
    let (user_id, id) = (session.user_id.clone(), id.to_string());
    let server = state.server_name.to_string();
    state
        .db
        .run(move |conn| {
            let row = db::events::by_id(conn, &id)?.ok_or_else(|| no_such_message(&id))?;
            if !db::events::has_open_span(conn, &user_id, row.room_id)? {
                return Err(no_such_message(&id));
            }
            let readers = db::read_state::readers_from(conn, row.room_id, row.seq, RECEIPTS_MAX)?;
            let local: Vec<String> = readers
                .iter()
                .filter(|r| r.is_local)
                .map(|r| r.reader.clone())
                .collect();
            let nicks: std::collections::HashMap<String, String> =
                db::read_state::nicks(conn, &local)?.into_iter().collect();
            let read_by = readers
                .into_iter()
                .filter_map(|r| {
                    let user = if r.is_local {
                        format!("{}@{server}", nicks.get(&r.reader)?)
                    } else {
                        r.reader
                    };
                    Some(Receipt {
                        user,
                        ts: format_rfc3339_ms(r.ts_ms),
                    })
                })
                .collect();
            Ok(ReceiptsResponse { read_by })
        })
        .await
}

/// `GET /api/v1/conversations`: every channel (hosted here or mirrored) and DM the user is
/// in, most recent activity first, with unread and mention counts from the stored markers.
pub async fn conversations(
    state: &AppState,
    session: &Session,
) -> Result<ConversationsResponse, ApiError> {
    let (user_id, nick) = (session.user_id.clone(), session.nick.clone());
    let server = state.server_name.to_string();
    let mut rows = state
        .db
        .run(move |conn| {
            let rooms = db::read_state::open_rooms(conn, &user_id)?;
            let ids: Vec<i64> = rooms.iter().map(|r| r.room_id).collect();
            let mut names: std::collections::HashMap<i64, String> =
                db::read_state::channel_names(conn, &ids)?
                    .into_iter()
                    .map(|(room, name)| (room, format!("#{name}@{server}")))
                    .collect();
            names.extend(db::read_state::mirror_names(conn, &ids)?);
            let mut descriptions: std::collections::HashMap<i64, String> =
                db::settings::descriptions(conn, &ids)?
                    .into_iter()
                    .collect();
            let me = format!("{nick}@{server}");
            let mut out = Vec::with_capacity(rooms.len());
            for room in rooms {
                let (target, kind) = if room.kind == "dm" {
                    match dm_other(conn, &room.room_key, &user_id, &server)? {
                        Some(other) => (other, "dm"),
                        None => continue,
                    }
                } else {
                    match names.remove(&room.room_id) {
                        Some(name) => (name, "channel"),
                        None => continue,
                    }
                };
                let marker = db::read_state::marker(conn, room.room_id, &user_id)?;
                let after = marker.as_ref().map_or(0, |m| m.seq).max(room.from_seq);
                let bodies = db::read_state::unread_bodies(
                    conn,
                    room.room_id,
                    after,
                    &user_id,
                    &me,
                    UNREAD_CAP,
                )?;
                let mentions = bodies
                    .iter()
                    .filter(|b| mentions(b, &nick, &server))
                    .count();
                let last = db::read_state::last_event(conn, room.room_id)?;
                let position = last.as_ref().map_or(0, |e| e.seq);
                out.push((
                    position,
                    Conversation {
                        target,
                        kind: kind.to_string(),
                        last_event: last.map(view).transpose()?,
                        unread: u32::try_from(bodies.len()).unwrap_or(u32::MAX),
                        mentions: u32::try_from(mentions).unwrap_or(u32::MAX),
                        last_read: marker.map(|m| m.event_id),
                        description: descriptions.remove(&room.room_id),
                    },
                ));
            }
            Ok::<_, ApiError>(out)
        })
        .await?;
    rows.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.target.cmp(&b.1.target)));
    Ok(ConversationsResponse {
        conversations: rows.into_iter().map(|(_, c)| c).collect(),
    })
}

/// The other party of a DM room (`dm:<id>:<id>` between two local users, `dm:<id>:<handle>`
/// with a user of another server), as `nick@server`.
fn dm_other(
    conn: &mut Conn,
    key: &str,
    user_id: &str,
    server: &str,
) -> Result<Option<String>, ApiError> {
    let Some((a, b)) = key.strip_prefix("dm:").and_then(|k| k.split_once(':')) else {
        return Ok(None);
    };
    if b.contains('@') {
        return Ok(Some(b.to_string()));
    }
    let other = if a == user_id { b } else { a };
    Ok(db::users::by_id(conn, other)?.map(|u| format!("{}@{server}", u.nick)))
}
