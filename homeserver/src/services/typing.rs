//! Typing notifications (DESIGN.md, "Rich chat"): `POST /api/v1/typing` `{target, typing}`.
//! Ephemeral: delivered through [`super::ephemeral`] to the devices of the conversation's other
//! members that poll or stream within [`super::ephemeral::TYPING_LIFETIME`], never stored. A
//! notification lapses unless renewed; `typing: false` says it ended early.
//!
//! This module knows the members here. The servers that must hear of it too are returned to
//! the caller (`crate::chat` for a local user, `federation::receive` for a remote one), which
//! hands them the item: the member servers of a channel hosted here, the host of a channel
//! hosted elsewhere, the server of a DM's other user.

use federation_proto::event::{Event, EventKind};
use federation_proto::ids::{ServerName, Target};
use serde_json::Value;

use super::channels::load_channel;
use super::ephemeral::{self, TYPING_LIFETIME};
use super::landing::{self, Landing};
use super::members;
use super::policy::{self, Actor};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// A typing notification: the event devices get and the other servers that must hear of it.
pub struct Notice {
    /// The ephemeral event (`seq` 0, `meta.typing`).
    pub event: Event,
    /// Other servers to tell (never this one).
    pub servers: Vec<String>,
}

/// The typing event of `from` in `to`.
pub fn typing_event(from: &str, to: &str, typing: bool) -> Event {
    let mut event = ephemeral::event(from, to, EventKind::Typing, "");
    event.meta.insert("typing".to_string(), Value::Bool(typing));
    event
}

/// Who hears it here: the users with an open window on a room, or one user.
enum Place {
    Room(i64),
    User(String),
    Nobody,
}

fn recipients(conn: &mut Conn, place: &Place) -> Result<Vec<String>, ApiError> {
    Ok(match place {
        Place::Room(room_id) => db::events::recipients(conn, *room_id)?.to_vec(),
        Place::User(user_id) => vec![user_id.clone()],
        Place::Nobody => Vec::new(),
    })
}

/// A local user types in `target` (a channel they are in, or a DM): publishes to the other
/// local members and says which servers to tell.
pub async fn from_local(
    state: &AppState,
    actor: &Actor,
    target: &Target,
    typing: bool,
) -> Result<Notice, ApiError> {
    let server = state.server_name.clone();
    let (who, target) = (actor.clone(), target.clone());
    let (to, users, servers) = state
        .db
        .run(move |conn| {
            let (to, place, servers) = local_place(conn, &server, &who, &target)?;
            Ok::<_, ApiError>((to, recipients(conn, &place)?, servers))
        })
        .await?;
    let event = typing_event(actor.handle(), &to, typing);
    let others: Vec<String> = users
        .into_iter()
        .filter(|u| Some(u.as_str()) != actor.user_id())
        .collect();
    ephemeral::publish(state, &others, &event, TYPING_LIFETIME)?;
    Ok(Notice { event, servers })
}

/// Resolves a local user's typing target: `(to as shown, local place, servers to tell)`.
fn local_place(
    conn: &mut Conn,
    server: &ServerName,
    actor: &Actor,
    target: &Target,
) -> Result<(String, Place, Vec<String>), ApiError> {
    match target {
        Target::Channel(channel) if channel.is_local_to(server) => {
            let row = load_channel(conn, &channel.name)?;
            let global = format!("#{}@{server}", row.name);
            let member = members::standing(conn, &row, actor)?;
            policy::see(&row, member.is_some()).map_err(|d| d.into_error(&global))?;
            policy::part(member).map_err(|d| d.into_error(&global))?;
            let servers = db::shared::member_servers(conn, row.room_id)?;
            Ok((global, Place::Room(row.room_id), servers))
        }
        Target::Channel(channel) => {
            let global = channel.to_string();
            let user_id = actor.user_id().unwrap_or_default();
            match db::shared::mirror_by_channel(conn, &global)? {
                Some(m) if db::events::has_open_span(conn, user_id, m.room_id)? => {
                    Ok((global, Place::Room(m.room_id), vec![m.host]))
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
            Ok((handle.qualified(server), Place::User(user.id), Vec::new()))
        }
        Target::User(handle) => {
            let peer = handle
                .server
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            Ok((handle.to_string(), Place::Nobody, vec![peer]))
        }
    }
}

/// A typing notification of `from` for `to`, told by `origin` (the transaction's verified
/// signer): a user of `origin`, or a member of a channel `origin` hosts, passed on by it.
/// Published to the local recipients. Returns the servers to pass it on to: for a
/// channel hosted here, its other member servers (the host spreads what a member server tells
/// it, as it does for events).
pub async fn from_remote(
    state: &AppState,
    origin: &str,
    from: &str,
    to: &str,
    typing: bool,
) -> Result<Vec<String>, ApiError> {
    let target: Target = to.parse()?;
    let server = state.server_name.clone();
    let actor = Actor::Remote {
        handle: from.to_string(),
        server: origin.to_string(),
    };
    let origin_name = origin.to_string();
    let (shown, users, servers) = state
        .db
        .run(move |conn| remote_place(conn, &server, &origin_name, &actor, &target))
        .await?;
    let event = typing_event(from, &shown, typing);
    ephemeral::publish(state, &users, &event, TYPING_LIFETIME)?;
    Ok(servers)
}

/// Resolves a remote user's typing target: `(to as shown, local recipients, servers to tell)`.
fn remote_place(
    conn: &mut Conn,
    server: &ServerName,
    origin: &str,
    actor: &Actor,
    target: &Target,
) -> Result<(String, Vec<String>, Vec<String>), ApiError> {
    Ok(match landing::land(conn, server, origin, actor, target)? {
        Landing::Hosted {
            global,
            room_id,
            pass_on,
        } => (global, recipients(conn, &Place::Room(room_id))?, pass_on),
        Landing::Mirrored { global, room_id } => {
            (global, recipients(conn, &Place::Room(room_id))?, Vec::new())
        }
        Landing::User { handle, user_id } => (handle, vec![user_id], Vec::new()),
    })
}
