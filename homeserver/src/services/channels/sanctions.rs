//! Bans and mutes on channels hosted here (issue 18). Bans are `+b`/`-b` modes
//! (`act::set_modes` stores them; `remove_banned` removes the members a new ban matches);
//! mutes are `POST /api/v1/channels/{name}/mute` and `/unmute`. Both are facts the channel
//! rules read (`members::sanctions`, `policy::send`, `policy::join`), for users of this server
//! and of member servers alike. A member server's operator mutes through the host: its
//! submission is a `system` event whose meta names [`MUTE_REQUEST`] or [`UNMUTE_REQUEST`], and
//! the host appends that same event once the rule allows it.

use federation_proto::event::EventKind;
use federation_proto::ids::ChannelName;
use serde_json::json;

use super::act::{append, close_window, denied, remove_member, Authored, Done, Host};
use super::{channel_for, run_action};
use crate::db::models::ChannelRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::members;
use crate::services::modes;
use crate::services::now_ms;
use crate::services::policy::{self, Actor};
use crate::state::AppState;

/// Meta key of a mute (`{"mute": nick, "seconds": n|null}`), in the request a member server
/// submits and in the `system` event that announces it.
pub const MUTE_REQUEST: &str = "mute";
/// Meta key of an unmute (`{"unmute": nick}`).
pub const UNMUTE_REQUEST: &str = "unmute";
/// Longest mute with a duration: a year (without `seconds`, a mute lasts until lifted).
pub const MUTE_MAX_SECONDS: i64 = 365 * 24 * 3600;

/// A valid mute duration, or `400 invalid_duration`.
pub fn check_seconds(seconds: Option<i64>) -> Result<Option<i64>, ApiError> {
    match seconds {
        Some(s) if !(1..=MUTE_MAX_SECONDS).contains(&s) => Err(ApiError::bad_request(
            "invalid_duration",
            format!(
                "a mute lasts 1 to {MUTE_MAX_SECONDS} seconds (or, without seconds, until unmuted)"
            ),
        )),
        other => Ok(other),
    }
}

/// Mutes (`seconds` set or `None` for until lifted) or, with `mute` false, unmutes a member
/// of any server: operators; never the owner. The channel sees a `system` event with
/// `meta.mute` / `meta.unmute`.
#[allow(clippy::too_many_arguments)]
pub fn set_mute(
    conn: &mut Conn,
    host: &Host,
    channel: ChannelRow,
    actor: &Actor,
    nick: &str,
    mute: bool,
    seconds: Option<i64>,
    authored: Authored,
) -> Result<Done, ApiError> {
    let seconds = check_seconds(seconds)?;
    let caller = members::standing(conn, &channel, actor)?;
    let target = members::named(conn, &host.server, nick)?;
    let standing = members::standing(conn, &channel, &target)?;
    policy::mute(caller, standing, target.handle()).map_err(denied(host, &channel))?;
    let handle = target.handle().to_ascii_lowercase();
    let now = now_ms();
    let (body, meta) = if mute {
        let until = seconds.map(|s| now.saturating_add(s.saturating_mul(1000)));
        db::moderation::mute(conn, channel.room_id, &handle, until, actor.handle(), now)?;
        (
            format!("{} was muted by {}", target.handle(), actor.handle()),
            json!({ MUTE_REQUEST: target.handle(), "seconds": seconds }),
        )
    } else {
        db::moderation::unmute(conn, channel.room_id, &handle)?;
        (
            format!("{} was unmuted by {}", target.handle(), actor.handle()),
            json!({ UNMUTE_REQUEST: target.handle() }),
        )
    };
    append(
        conn,
        host,
        channel,
        actor,
        authored,
        EventKind::System,
        body,
        meta,
        None,
    )
}

/// `POST /api/v1/channels/{name}/mute` and `/unmute` for a channel hosted here.
pub async fn mute(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    nick: String,
    mute: bool,
    seconds: Option<i64>,
) -> Result<(), ApiError> {
    run_action(state, session, move |conn, host, actor| {
        let row = channel_for(conn, &channel.name, actor)?;
        set_mute(conn, host, row, actor, &nick, mute, seconds, Authored::Here)
    })
    .await
    .map(drop)
}

/// Removes the present members (of every server) whom one of `masks` matches, the owner
/// excepted: each gets a `kick` event (`meta.ban` the mask), made and signed here by the host:
/// from the operator who set the ban when they are a user of this server, else from the
/// channel's owner with `meta.by` naming the remote operator (a host signs only for its own
/// users). `true` when something was queued for other servers.
pub(super) fn remove_banned(
    conn: &mut Conn,
    host: &Host,
    channel: &ChannelRow,
    actor: &Actor,
    masks: &[String],
) -> Result<bool, ApiError> {
    let matching = |handle: &str| {
        masks
            .iter()
            .find(|mask| modes::mask_matches(mask, handle))
            .cloned()
    };
    let mut targets = Vec::new();
    for (m, nick) in db::channels::members_with_nicks(conn, channel.room_id)? {
        let handle = format!("{nick}@{}", host.server);
        if let Some(mask) = matching(&handle) {
            let standing = policy::Standing {
                op: m.is_op,
                voice: m.is_voice,
                owner: m.user_id == channel.owner_id,
            };
            if policy::ban_removes(standing) {
                let target = Actor::Local {
                    user_id: m.user_id,
                    handle,
                };
                targets.push((target, mask));
            }
        }
    }
    for remote in db::shared::remote_members(conn, channel.room_id)? {
        if let Some(mask) = matching(&remote.handle) {
            let target = Actor::Remote {
                handle: remote.handle,
                server: remote.server,
            };
            targets.push((target, mask));
        }
    }
    if targets.is_empty() {
        return Ok(false);
    }
    let author = match actor {
        Actor::Local { .. } => actor.clone(),
        Actor::Remote { .. } => {
            let owner = db::users::by_id(conn, &channel.owner_id)?
                .ok_or_else(|| ApiError::internal("a channel without its owner"))?;
            Actor::Local {
                handle: format!("{}@{}", owner.nick, host.server),
                user_id: owner.id,
            }
        }
    };
    let mut queued = false;
    for (target, mask) in targets {
        remove_member(conn, channel, &target)?;
        let done = append(
            conn,
            host,
            channel.clone(),
            &author,
            Authored::Here,
            EventKind::Kick,
            format!("banned ({mask})"),
            json!({"nick": target.handle(), "ban": mask, "by": actor.handle()}),
            target.remote_server(),
        )?;
        close_window(conn, channel, &target, done.row.seq)?;
        queued |= done.queued;
    }
    Ok(queued)
}
