//! Invite links (issue 18) for channels hosted here: an operator makes a code; whoever holds
//! it joins past `+i` and `+k` (never past a ban or `+l`: `policy::join` with
//! `JoinAttempt::link`), until it expires or has been used `max_uses` times; operators revoke
//! it. A use is counted in the join's own write, by one conditional update
//! (`db::moderation::use_link`), so the last use cannot be taken twice, and a refused join
//! counts nothing (its write rolls back).
//!
//! Codes are 16 bytes from the operating system's CSPRNG, base64url (22 characters). Links are
//! accepted by users of this server; a user of another server joins the ordinary way.

use base64::Engine as _;
use federation_proto::api::client::ChannelInfo;
use federation_proto::api::community::InviteLink;
use federation_proto::ids::ChannelName;
use federation_proto::time::format_rfc3339_ms;

use super::act::{self, Authored, Host};
use super::{channel_for, info_for, local_actor};
use crate::db::models::ChannelRow;
use crate::db::moderation::{self as store, InviteLinkRow};
use crate::db::Conn;
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::members;
use crate::services::now_ms;
use crate::services::policy;
use crate::state::AppState;

/// A link's life without `expires_in`: 7 days.
pub const DEFAULT_EXPIRES_IN: i64 = 7 * 24 * 3600;
/// Shortest and longest life.
pub const EXPIRES_IN: (i64, i64) = (1, 365 * 24 * 3600);
/// Most uses a link may allow.
pub const MAX_USES: i64 = 1_000_000;

fn no_such_invite(code: &str) -> ApiError {
    ApiError::not_found("no_such_invite", format!("no invite link {code}"))
}

/// A new code.
fn new_code() -> Result<String, ApiError> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Checks `max_uses` and `expires_in`; the life in seconds.
pub fn check_request(max_uses: Option<i64>, expires_in: Option<i64>) -> Result<i64, ApiError> {
    if max_uses.is_some_and(|n| !(1..=MAX_USES).contains(&n)) {
        return Err(ApiError::bad_request(
            "invalid_max_uses",
            format!("max_uses is 1 to {MAX_USES}"),
        ));
    }
    let life = expires_in.unwrap_or(DEFAULT_EXPIRES_IN);
    if !(EXPIRES_IN.0..=EXPIRES_IN.1).contains(&life) {
        return Err(ApiError::bad_request(
            "invalid_expires_in",
            format!("expires_in is {} to {} seconds", EXPIRES_IN.0, EXPIRES_IN.1),
        ));
    }
    Ok(life)
}

fn view(server: &str, channel: &ChannelRow, row: &InviteLinkRow) -> InviteLink {
    InviteLink {
        code: row.code.clone(),
        channel: format!("#{}@{server}", channel.name),
        expires: format_rfc3339_ms(row.expires_ms),
        max_uses: row.max_uses,
        uses: row.uses,
    }
}

/// The link and its channel, or 404.
fn load(conn: &mut Conn, code: &str) -> Result<(InviteLinkRow, ChannelRow), ApiError> {
    let link = store::link(conn, code)?.ok_or_else(|| no_such_invite(code))?;
    let channel =
        store::channel_by_room(conn, link.room_id)?.ok_or_else(|| no_such_invite(code))?;
    Ok((link, channel))
}

/// `POST /api/v1/channels/{name}/invites` for a channel hosted here (operators).
pub async fn create(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    max_uses: Option<i64>,
    expires_in: Option<i64>,
) -> Result<InviteLink, ApiError> {
    let life = check_request(max_uses, expires_in)?;
    let actor = local_actor(state, session);
    let server = state.server_name.to_string();
    let code = new_code()?;
    state
        .db
        .write(move |conn| {
            let row = channel_for(conn, &channel.name, &actor)?;
            policy::manage_invite_links(members::standing(conn, &row, &actor)?)
                .map_err(|d| d.into_error(&format!("#{}@{server}", row.name)))?;
            let now = now_ms();
            let link = InviteLinkRow {
                code,
                room_id: row.room_id,
                created_by: actor.handle().to_string(),
                created_ms: now,
                expires_ms: now.saturating_add(life.saturating_mul(1000)),
                max_uses,
                uses: 0,
            };
            store::add_link(conn, &link)?;
            Ok(view(&server, &row, &link))
        })
        .await
}

/// `GET /api/v1/invites/{code}`: what the link is for (any user who has the code).
pub async fn details(state: &AppState, code: String) -> Result<InviteLink, ApiError> {
    let server = state.server_name.to_string();
    state
        .db
        .run(move |conn| {
            let (link, channel) = load(conn, &code)?;
            Ok(view(&server, &channel, &link))
        })
        .await
}

/// `POST /api/v1/invites/{code}/accept`: joins the channel (a member already in it gets its
/// info and uses nothing).
pub async fn accept(
    state: &AppState,
    session: &Session,
    code: String,
) -> Result<ChannelInfo, ApiError> {
    let host = Host::of(state);
    let actor = local_actor(state, session);
    let (info, queued) = state
        .db
        .write(move |conn| {
            let (link, channel) = load(conn, &code)?;
            if link.expires_ms <= now_ms() {
                return Err(ApiError::forbidden(
                    "invite_expired",
                    format!("the invite link {code} has expired"),
                ));
            }
            let mut queued = false;
            if members::standing(conn, &channel, &actor)?.is_none() {
                if !store::use_link(conn, &code)? {
                    return Err(ApiError::forbidden(
                        "invite_used_up",
                        format!("the invite link {code} has been used up"),
                    ));
                }
                let done = act::join_with(
                    conn,
                    &host,
                    &channel.name,
                    &actor,
                    None,
                    true,
                    Authored::Here,
                )?;
                queued = done.is_some_and(|d| d.queued);
            }
            let channel =
                store::channel_by_room(conn, link.room_id)?.ok_or_else(|| no_such_invite(&code))?;
            if let Some(user_id) = actor.user_id() {
                crate::services::accounts::mark_active(conn, user_id)?;
            }
            let standing = members::standing(conn, &channel, &actor)?;
            Ok::<_, ApiError>((info_for(conn, &host.server, &channel, standing)?, queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(info)
}

/// `DELETE /api/v1/invites/{code}`: revokes the link (the channel's operators).
pub async fn revoke(state: &AppState, session: &Session, code: String) -> Result<(), ApiError> {
    let actor = local_actor(state, session);
    let server = state.server_name.to_string();
    state
        .db
        .write(move |conn| {
            let (_, channel) = load(conn, &code)?;
            policy::manage_invite_links(members::standing(conn, &channel, &actor)?)
                .map_err(|d| d.into_error(&format!("#{}@{server}", channel.name)))?;
            store::remove_link(conn, &code)?;
            Ok(())
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_short_unguessable_and_url_safe() {
        let a = new_code().unwrap();
        let b = new_code().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(a
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    }

    #[test]
    fn requests_are_checked() {
        assert_eq!(check_request(None, None).unwrap(), DEFAULT_EXPIRES_IN);
        assert_eq!(check_request(Some(1), Some(60)).unwrap(), 60);
        assert_eq!(
            check_request(Some(0), None).unwrap_err().code,
            "invalid_max_uses"
        );
        assert_eq!(
            check_request(None, Some(0)).unwrap_err().code,
            "invalid_expires_in"
        );
        assert_eq!(
            check_request(None, Some(EXPIRES_IN.1 + 1))
                .unwrap_err()
                .code,
            "invalid_expires_in"
        );
    }
}
