//! Channel settings for this server's users on channels hosted here (issue 24): the
//! description, pins and deletion. The actions themselves are in [`super::act`] (`describe`,
//! `pin`, `delete_channel`), shared with the host's handling of member servers' submissions;
//! the rules in `services::policy`. [`pins_of`] lists a room's pins, for a channel hosted here
//! and for a mirror alike (a mirror keeps its copy by applying the host's `pin`/`unpin`
//! events).

use federation_proto::api::client::{ChannelInfo, Pin};
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::ChannelName;
use federation_proto::time::format_rfc3339_ms;

use super::act::{self, Authored, Host};
use super::{channel_for, local_actor, run_action};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::events::{message_views, reactor_keys, view};
use crate::services::members;
use crate::services::policy;
use crate::services::rich::no_such_message;
use crate::state::AppState;

/// Longest description, in characters.
pub const DESCRIPTION_MAX: usize = 500;
/// Most pins listed.
pub const PINS_MAX: i64 = 200;

/// A valid description (at most [`DESCRIPTION_MAX`] characters; no control characters but line
/// breaks and tabs), or `400 invalid_description`.
pub fn check_description(description: &str) -> Result<(), ApiError> {
    let control = description
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\t'));
    if description.chars().count() > DESCRIPTION_MAX || control {
        return Err(ApiError::bad_request(
            "invalid_description",
            format!(
                "a description is at most {DESCRIPTION_MAX} characters without control characters"
            ),
        ));
    }
    Ok(())
}

/// `PUT /api/v1/channels/{name}` for a channel hosted here.
pub async fn describe(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    description: String,
) -> Result<ChannelInfo, ApiError> {
    run_action(state, session, move |conn, host, actor| {
        let row = channel_for(conn, &channel.name, actor)?;
        act::describe(conn, host, row, actor, description, Authored::Here)
    })
    .await
}

/// `POST /api/v1/channels/{name}/pins` (`kind` pin) and `DELETE …/pins/{id}` (`kind` unpin)
/// for a channel hosted here: the `pin` or `unpin` event.
pub async fn pin(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
    kind: EventKind,
    id: String,
) -> Result<Event, ApiError> {
    let host = Host::of(state);
    let actor = local_actor(state, session);
    let (event, queued) = state
        .db
        .write(move |conn| {
            let row = channel_for(conn, &channel.name, &actor)?;
            let target = db::events::by_id(conn, &id)?.ok_or_else(|| no_such_message(&id))?;
            let done = act::pin(conn, &host, row, &actor, kind, &target, Authored::Here)?;
            Ok::<_, ApiError>((view(done.row)?, done.queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(event)
}

/// `GET /api/v1/channels/{name}/pins` for a channel hosted here: members read them.
pub async fn pins(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
) -> Result<Vec<Pin>, ApiError> {
    let actor = local_actor(state, session);
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let row = channel_for(conn, &channel.name, &actor)?;
            let is_member = members::standing(conn, &row, &actor)?.is_some();
            policy::read_pins(&row, is_member)
                .map_err(|d| d.into_error(&format!("#{}", row.name)))?;
            pins_of(conn, row.room_id, &reactor_keys(&user_id, actor.handle()))
        })
        .await
}

/// A room's pins (a channel hosted here or a mirror), newest pin first, each message as it
/// reads now (after edits, with its aggregates for the reader whose reaction keys are `me`,
/// see [`reactor_keys`]); deleted messages are left out.
pub fn pins_of(conn: &mut Conn, room_id: i64, me: &[&str]) -> Result<Vec<Pin>, ApiError> {
    let rows = db::settings::pinned(conn, room_id, PINS_MAX)?;
    let (pins, messages): (Vec<_>, Vec<_>) = rows.into_iter().unzip();
    let messages = message_views(conn, messages, me)?;
    Ok(pins
        .into_iter()
        .zip(messages)
        .map(|(pin, message)| Pin {
            message,
            pinned_by: pin.pinned_by,
            pinned_at: format_rfc3339_ms(pin.ts_ms),
        })
        .collect())
}

/// `DELETE /api/v1/channels/{name}` for a channel hosted here: the owner deletes it; answers
/// the `system` event that announced it.
pub async fn delete(
    state: &AppState,
    session: &Session,
    channel: ChannelName,
) -> Result<Event, ApiError> {
    let host = Host::of(state);
    let actor = local_actor(state, session);
    let (event, queued) = state
        .db
        .write(move |conn| {
            let row = channel_for(conn, &channel.name, &actor)?;
            let done = act::delete_channel(conn, &host, row, &actor)?;
            Ok::<_, ApiError>((view(done.row)?, done.queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(event)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_checked() {
        let ok = [
            "",
            "Rules: be kind.",
            "two\nlines\tand a tab",
            &"é".repeat(500),
        ];
        for text in ok {
            assert!(check_description(text).is_ok(), "{text:?}");
        }
        let bad = [
            &"x".repeat(501) as &str,
            "bell\u{7}",
            "nul\u{0}",
            "esc\u{1b}[31m",
        ];
        for text in bad {
            let e = check_description(text).expect_err(text);
            assert_eq!(e.code, "invalid_description");
        }
    }
}
