//! Ephemeral items across servers (typing, receipts, presence): pushed at once
//! in a relay transaction of their own (`{"events": [], "ephemeral": [...]}`), best effort and
//! never queued: an item that cannot be delivered within its short lifetime is worth nothing
//! later. The receiver publishes them to its users and, for a channel it hosts, passes them on
//! to the channel's other member servers.

use std::sync::Arc;

use awc::http::Method;
use federation_proto::api::wire::EphemeralItem;
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::UserHandle;
use serde_json::json;

use super::client::FedClient;
use super::sender::RELAY_PATH;
use crate::error::ApiError;
use crate::services::{now_ms_u64, profiles, read, typing};
use crate::state::AppState;

/// The wire item of an ephemeral event.
pub fn item_of(event: &Event) -> EphemeralItem {
    EphemeralItem {
        kind: event.kind,
        from: event.from.clone(),
        to: event.to.clone(),
        meta: event.meta.clone(),
        ts: now_ms_u64(),
    }
}

/// Sends `item` to each of `servers` (not this one) in the background; failures are logged at
/// debug level and dropped.
pub fn push(state: &Arc<AppState>, servers: Vec<String>, item: EphemeralItem) {
    let own = state.server_name.to_string();
    for destination in servers.into_iter().filter(|s| *s != own) {
        let (state, item) = (Arc::clone(state), item.clone());
        actix_web::rt::spawn(async move {
            if let Err(e) = send(&state, &destination, item).await {
                tracing::debug!(%destination, error = %e, "an ephemeral item was not delivered");
            }
        });
    }
}

async fn send(state: &AppState, destination: &str, item: EphemeralItem) -> Result<(), ApiError> {
    let peer = super::directory::peer(state, destination).await?;
    let body = json!({
        "txn_id": uuid::Uuid::new_v4().to_string(),
        "origin": state.server_name.as_str(),
        "events": [],
        "ephemeral": [item],
    });
    FedClient::new(state)
        .with_federation_key(state.config.federation_key.clone())
        .signed(
            Method::POST,
            &peer.url,
            RELAY_PATH,
            destination,
            Some(&body),
        )
        .await
        .map(drop)
        .map_err(|e| ApiError::internal(e.to_string()))
}

/// Applies the ephemeral items of a transaction from the verified `origin`: each is checked
/// (its user is of `origin`) and published here; what a channel hosted here must pass on goes
/// to its other member servers. A bad item is skipped alone.
pub async fn receive(state: &Arc<AppState>, origin: &str, items: Vec<EphemeralItem>) {
    for item in items {
        if let Err(e) = receive_one(state, origin, &item).await {
            tracing::debug!(origin, kind = %item.kind, error = %e, "an ephemeral item was refused");
        }
    }
}

async fn receive_one(
    state: &Arc<AppState>,
    origin: &str,
    item: &EphemeralItem,
) -> Result<(), ApiError> {
    // An item speaks for a user of its origin, or, passed on by a channel's host, for a member
    // of that channel (`services::typing` checks which applies to the target).
    let from: UserHandle = item.from.parse()?;
    if from.server.is_none() {
        return Err(ApiError::bad_request(
            "invalid_event",
            "from must be nick@server",
        ));
    }
    match item.kind {
        EventKind::Typing => {
            let on = item
                .meta
                .get("typing")
                .and_then(serde_json::Value::as_bool)
                .unwrap_or(false);
            let servers = typing::from_remote(state, origin, &item.from, &item.to, on).await?;
            push(state, servers, item.clone());
            Ok(())
        }
        EventKind::Receipt => {
            let id = item
                .meta
                .get("id")
                .and_then(serde_json::Value::as_str)
                .unwrap_or_default();
            let servers = read::from_remote(state, origin, &item.from, &item.to, id).await?;
            push(state, servers, item.clone());
            Ok(())
        }
        EventKind::Presence => {
            let pass_on =
                profiles::from_remote(state, origin, &item.from, &item.to, &item.meta).await?;
            for (server, to) in pass_on {
                let mut passed = item.clone();
                passed.to = to;
                push(state, vec![server], passed);
            }
            Ok(())
        }
        other => Err(ApiError::bad_request(
            "unsupported_type",
            format!("{other} items are not handled here"),
        )),
    }
}
