//! Channel members on every server, as the rules see them: the facts [`super::policy`] reads,
//! loaded the same way for users of this server (`members`) and of member servers
//! (`remote_members`).

use federation_proto::ids::{ServerName, UserHandle};

use super::modes::mask_matches;
use super::policy::{Actor, Sanctions, Standing};
use crate::db::models::ChannelRow;
use crate::db::{self, Conn};
use crate::error::ApiError;

/// The actor's standing in a channel hosted here, or `None` when not a member.
pub fn standing(
    conn: &mut Conn,
    channel: &ChannelRow,
    actor: &Actor,
) -> Result<Option<Standing>, ApiError> {
    Ok(match actor {
        Actor::Local { user_id, .. } => {
            db::channels::member(conn, channel.room_id, user_id)?.map(|m| Standing {
                op: m.is_op,
                voice: m.is_voice,
                owner: m.user_id == channel.owner_id,
            })
        }
        Actor::Remote { handle, .. } => db::shared::remote_member(conn, channel.room_id, handle)?
            .map(|m| Standing {
                op: m.is_op,
                voice: m.is_voice,
                owner: false,
            }),
    })
}

/// The bans and mutes that apply to `actor` in a channel hosted here at `now_ms` (the same
/// facts for a user of this server and of another; the owner's exemption is policy's).
pub fn sanctions(
    conn: &mut Conn,
    channel: &ChannelRow,
    actor: &Actor,
    now_ms: i64,
) -> Result<Sanctions, ApiError> {
    let handle = actor.handle().to_ascii_lowercase();
    let banned = db::moderation::bans_of(conn, channel.room_id)?
        .iter()
        .any(|ban| mask_matches(&ban.mask, &handle));
    let muted = db::moderation::is_muted(conn, channel.room_id, &handle, now_ms)?;
    Ok(Sanctions { banned, muted })
}

/// Members of a channel on every server (what `+l` counts).
pub fn count(conn: &mut Conn, room_id: i64) -> Result<i64, ApiError> {
    Ok(
        db::channels::member_count(conn, room_id)?
            + db::shared::remote_member_count(conn, room_id)?,
    )
}

/// A user named by an operator (`bob`, `bob@hs1` or `carol@hs2`): a user of this server, who
/// must exist, or a user of another server.
pub fn named(conn: &mut Conn, server: &ServerName, who: &str) -> Result<Actor, ApiError> {
    let handle: UserHandle = who.parse()?;
    if !handle.is_local_to(server) {
        let remote = handle.to_string();
        let server = handle
            .server
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default();
        return Ok(Actor::Remote {
            handle: remote,
            server,
        });
    }
    let user = db::users::by_nick(conn, handle.nick.as_str())?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {who}")))?;
    Ok(Actor::Local {
        handle: format!("{}@{server}", user.nick),
        user_id: user.id,
    })
}

/// Sets a member's `+o`/`+v` on any server.
pub fn set_modes(
    conn: &mut Conn,
    channel: &ChannelRow,
    member: &Actor,
    op: bool,
    voice: bool,
) -> Result<(), ApiError> {
    match member {
        Actor::Local { user_id, .. } => {
            db::channels::set_member_modes(conn, channel.room_id, user_id, op, voice)?
        }
        Actor::Remote { handle, .. } => {
            db::shared::set_remote_member_modes(conn, channel.room_id, handle, op, voice)?
        }
    }
    Ok(())
}
