//! Channel settings (issue 24) for this server's users on channels hosted elsewhere: the
//! description and deletion go to the host as submissions (the host's `services::policy`
//! decides); pins and unpins too, signed here like edits; the pins are listed from the
//! mirror's own copy, kept by applying the host's `pin`/`unpin` envelopes (their effect is
//! applied by `append_event`, as on the host), so listing needs no request to the host.

use federation_proto::api::client::Pin;
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::ChannelName;
use serde_json::json;

use super::{act, require_member, send_signed, signed_event_targeting};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::channels::settings::pins_of;
use crate::state::AppState;

/// Meta of the submission that asks a channel's host to delete it.
pub const DELETE_REQUEST: &str = "delete_channel";

/// A pin or unpin by a local member of a channel hosted elsewhere: the host judges it and
/// sequences it; its envelope, applied here, changes the mirror's pins.
pub async fn pin(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
    kind: EventKind,
    id: &str,
) -> Result<Event, ApiError> {
    let global = channel.to_string();
    require_member(state, session, &global).await?;
    let event = signed_event_targeting(
        state,
        session,
        &global,
        kind,
        "",
        json!({}),
        None,
        Some(id.to_string()),
    )?;
    send_signed(state, channel, event).await
}

/// The pins of a channel hosted elsewhere, from the mirror (members only).
pub async fn pins(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
) -> Result<Vec<Pin>, ApiError> {
    let room_id = require_member(state, session, &channel.to_string()).await?;
    let me = format!("{}@{}", session.nick, state.server_name);
    state.db.run(move |conn| pins_of(conn, room_id, &me)).await
}

/// Asks the host to delete its channel: only its owner may, and the owner is always a user
/// of the host, so the host's rule refuses it (`403 owner_required`); asked all the same so
/// that the one rule answers.
pub async fn delete(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
) -> Result<(), ApiError> {
    let meta = json!({ DELETE_REQUEST: true });
    act(state, session, channel, EventKind::System, "", meta).await
}
