//! Channel settings (issue 24) for this server's users on channels hosted elsewhere: the
//! description and deletion go to the host as submissions (the host's `services::policy`
//! decides); pins and unpins too, signed here like edits. The pins are listed by asking the
//! host (it has every pinned message; a mirror may lack old ones); the mirror also keeps its
//! own copy by applying the host's `pin`/`unpin` envelopes (their effect is applied by
//! `append_event`, as on the host), which answers when the host cannot be reached.

use awc::http::Method;
use federation_proto::api::client::{Pin, PinList};
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::ChannelName;
use serde_json::json;

use super::{
    act, bad_gateway, channel_path, client, host_error, host_of, host_url, require_member,
    send_signed, signed_event_targeting,
};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::channels::settings::pins_of;
use crate::services::events::reactor_keys;
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
        &[],
    )?;
    send_signed(state, channel, event).await
}

/// The pins of a channel hosted elsewhere (members only): asked of the host, which knows every
/// pin even of messages older than this server's copy; when the host cannot be reached, the
/// mirror's own copy answers.
pub async fn pins(
    state: &AppState,
    session: &Session,
    channel: &ChannelName,
) -> Result<Vec<Pin>, ApiError> {
    let room_id = require_member(state, session, &channel.to_string()).await?;
    let me = format!("{}@{}", session.nick, state.server_name);
    match from_host(state, channel, &me).await {
        Ok(pins) => Ok(pins),
        Err(e) if e.code == "host_unreachable" => {
            tracing::info!(%channel, error = %e, "pins from the mirror's copy");
            let user_id = session.user_id.clone();
            state
                .db
                .run(move |conn| pins_of(conn, room_id, &reactor_keys(&user_id, &me)))
                .await
        }
        Err(e) => Err(e),
    }
}

/// `GET /api/v1/federation/channels/{name}/pins?user=` of the channel's host.
async fn from_host(
    state: &AppState,
    channel: &ChannelName,
    me: &str,
) -> Result<Vec<Pin>, ApiError> {
    let host = host_of(channel);
    let url = host_url(state, &host).await?;
    let path = format!(
        "{}?user={}",
        channel_path(&channel.name, "/pins"),
        encode_query(me)
    );
    let answer = client(state)
        .signed(Method::GET, &url, &path, &host, None)
        .await
        .map_err(|e| host_error(&host, e))?;
    let list: PinList = serde_json::from_value(answer).map_err(|e| bad_gateway(&host, e))?;
    Ok(list.pins)
}

/// A handle in a query string (`nick@server`, with `:port` maybe): `%`, `@` and `:` escaped.
pub(super) fn encode_query(value: &str) -> String {
    value
        .replace('%', "%25")
        .replace('@', "%40")
        .replace(':', "%3A")
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
