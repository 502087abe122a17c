//! Where an ephemeral item told by another server lands here (typing, receipts): who may speak
//! for whom, and the conversation it names, decided once for every kind of item.
//!
//! A server speaks for its own users. A channel's host also speaks for the channel's members
//! (it passes on what a member server told it), so an item about a channel hosted by its origin
//! may name a user of any server.

use federation_proto::ids::{ServerName, Target};

use super::channels::load_channel;
use super::members;
use super::policy::{self, Actor};
use crate::db::{self, Conn};
use crate::error::ApiError;

/// The conversation an item from another server names, here.
pub enum Landing {
    /// A channel hosted here, whose member the actor is: its room and the other member servers
    /// the host passes the item on to.
    Hosted {
        /// `#name@this-server`.
        global: String,
        /// Its room.
        room_id: i64,
        /// Member servers other than the origin.
        pass_on: Vec<String>,
    },
    /// A channel the origin hosts, mirrored here because a local user asked to join it.
    Mirrored {
        /// `#name@host`.
        global: String,
        /// The mirror's room.
        room_id: i64,
    },
    /// A user of this server (a DM).
    User {
        /// `nick@this-server`.
        handle: String,
        /// Their id.
        user_id: String,
    },
}

/// Where an item of `actor` (a remote user), told by `origin`, for `target` lands here.
pub fn land(
    conn: &mut Conn,
    server: &ServerName,
    origin: &str,
    actor: &Actor,
    target: &Target,
) -> Result<Landing, ApiError> {
    let hosted_by_origin = matches!(target,
        Target::Channel(channel) if channel.server.as_ref().map(|s| s.as_str()) == Some(origin));
    let of_origin = actor
        .handle()
        .rsplit_once('@')
        .is_some_and(|(_, s)| s == origin);
    if !of_origin && !hosted_by_origin {
        return Err(ApiError::forbidden(
            "origin_mismatch",
            "a server speaks for its own users, and a host for its channels' members",
        ));
    }
    match target {
        Target::Channel(channel) if channel.is_local_to(server) => {
            let row = load_channel(conn, &channel.name)?;
            let global = format!("#{}@{server}", row.name);
            policy::part(members::standing(conn, &row, actor)?)
                .map_err(|d| d.into_error(&global))?;
            let pass_on = db::shared::member_servers(conn, row.room_id)?
                .into_iter()
                .filter(|s| s != origin)
                .collect();
            Ok(Landing::Hosted {
                global,
                room_id: row.room_id,
                pass_on,
            })
        }
        Target::Channel(channel) if hosted_by_origin => {
            let global = channel.to_string();
            let mirror = db::shared::mirror_by_channel(conn, &global)?.ok_or_else(|| {
                ApiError::forbidden(
                    "not_mirrored",
                    format!("no user of this server asked to join {global}"),
                )
            })?;
            Ok(Landing::Mirrored {
                global,
                room_id: mirror.room_id,
            })
        }
        Target::User(handle) if handle.is_local_to(server) => {
            let user = db::users::by_nick(conn, handle.nick.as_str())?
                .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {handle}")))?;
            Ok(Landing::User {
                handle: handle.qualified(server),
                user_id: user.id,
            })
        }
        _ => Err(ApiError::bad_request(
            "invalid_event",
            format!("{target} is neither here nor hosted by {origin}"),
        )),
    }
}
