//! Blocks (issue 18): a user refuses direct messages from another user, of this server or of
//! any other. The rule is [`check_dm`], asked where a direct message is stored for a local
//! recipient: a local sender's send (`services::messages`, which answers `403 blocked`) and a
//! direct event from another server (`federation::receive`, which refuses that event with
//! `403 blocked` in its transaction answer; the sender's server logs it and, as it queued the
//! message before delivery, had already answered its user `201`: a remote sender is not told
//! that they are blocked).

use federation_proto::api::community::{Block, BlockList};
use federation_proto::ids::UserHandle;
use federation_proto::time::format_rfc3339_ms;

use super::accounts::Session;
use super::now_ms;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Refuses a direct message from `sender` (a handle) to the local user `recipient_id` when
/// the recipient blocked the sender: `403 blocked`.
pub fn check_dm(conn: &mut Conn, recipient_id: &str, sender: &str) -> Result<(), ApiError> {
    if db::moderation::is_blocked(conn, recipient_id, &sender.to_ascii_lowercase())? {
        return Err(ApiError::forbidden(
            "blocked",
            "the recipient does not accept your messages",
        ));
    }
    Ok(())
}

/// The full lowercase handle a path names (`bob` is a user of this server, who must exist).
fn target(conn: &mut Conn, state_server: &str, raw: &str) -> Result<String, ApiError> {
    let handle: UserHandle = raw.parse()?;
    let server = handle
        .server
        .as_ref()
        .map(|s| s.to_string())
        .unwrap_or_else(|| state_server.to_string());
    let nick = handle.nick.as_str().to_ascii_lowercase();
    if server.eq_ignore_ascii_case(state_server) && db::users::by_nick(conn, &nick)?.is_none() {
        return Err(ApiError::not_found(
            "unknown_user",
            format!("no user {raw}"),
        ));
    }
    Ok(format!("{nick}@{server}").to_ascii_lowercase())
}

fn list_of(conn: &mut Conn, user_id: &str) -> Result<BlockList, ApiError> {
    Ok(BlockList {
        blocks: db::moderation::blocks_of(conn, user_id)?
            .into_iter()
            .map(|(user, ts)| Block {
                user,
                ts: format_rfc3339_ms(ts),
            })
            .collect(),
    })
}

/// `POST /api/v1/users/{handle}/block` (`block` true) and `DELETE …/block`: the list after.
pub async fn set(
    state: &AppState,
    session: &Session,
    raw: String,
    block: bool,
) -> Result<BlockList, ApiError> {
    let server = state.server_name.to_string();
    let user_id = session.user_id.clone();
    let own = format!("{}@{server}", session.nick).to_ascii_lowercase();
    state
        .db
        .write(move |conn| {
            let handle = target(conn, &server, &raw)?;
            if handle == own {
                return Err(ApiError::bad_request(
                    "cannot_block_self",
                    "you cannot block yourself",
                ));
            }
            if block {
                db::moderation::add_block(conn, &user_id, &handle, now_ms())?;
            } else {
                db::moderation::remove_block(conn, &user_id, &handle)?;
            }
            list_of(conn, &user_id)
        })
        .await
}

/// `GET /api/v1/users/me/blocks`.
pub async fn list(state: &AppState, session: &Session) -> Result<BlockList, ApiError> {
    let user_id = session.user_id.clone();
    state.db.run(move |conn| list_of(conn, &user_id)).await
}
