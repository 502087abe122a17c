//! Ephemeral events: typing, presence and receipts (DESIGN.md, "Rich chat"). They reach the
//! devices that stream or poll within their lifetime, and are never stored.
//!
//! This is the one entry point for every feature that produces them, whatever the transport
//! it came from (HTTP, WebSocket, IRC, federation): build the event with [`event`], choose its
//! recipients (user ids; usually a room's members), and [`publish`] it. The notifier keeps it
//! in the slots of the recipients that have one (a poll or a stream now, or in the last
//! [`crate::notifier::LINGER`]), wakes them, and every device of those users gets it once,
//! in its next sync answer or stream batch, until it lapses ([`crate::notifier`]).
//!
//! # What a device sees
//!
//! An ephemeral event has the event shape (`id`, `ts`, `from`, `to`, `type`, `body`, `meta`,
//! `target`) with **`seq` 0**: no stored event has that position (the log starts at 1). In a
//! sync answer it comes in `events`, after the answer's log events, and leaves `next` alone (it
//! is still the last log event's `seq`); on the event stream it is an SSE message without an
//! `id:` line, so `Last-Event-ID` stays the log cursor. A client acknowledges log events only.
//!
//! # Several processes
//!
//! On Postgres several homeserver processes may share the database, and a user's devices may
//! poll any of them: each item is also sent to the other processes (`NOTIFY`, see
//! [`crate::db::pg_relay`]), whose listeners publish it to their own devices. An item for more
//! users than a notification can name (about 160: a big channel's typing) stays in the
//! process that published it.
//!
//! # Not yet
//!
//! Federation will carry ephemeral items between servers in the relay transaction; the
//! receiving server publishes them here.

use std::time::Duration;

use federation_proto::event::{Event, EventKind};
use federation_proto::time::format_rfc3339_ms;

use super::now_ms;
use crate::error::ApiError;
use crate::state::AppState;

/// A typing notification lapses after this without renewal (DESIGN.md).
pub const TYPING_LIFETIME: Duration = Duration::from_secs(5);
/// Presence changes and receipts reach devices that poll within this. They are a view of state
/// a client can also read (profiles, receipts), so a device that misses one loses nothing.
pub const STATE_LIFETIME: Duration = Duration::from_secs(30);

/// Longest lifetime an item relayed to other processes keeps (a bound on what they hold).
const MAX_RELAYED_LIFETIME: Duration = Duration::from_secs(60);

/// How long an ephemeral event of `kind` is delivered.
pub fn lifetime(kind: EventKind) -> Duration {
    match kind {
        EventKind::Typing => TYPING_LIFETIME,
        _ => STATE_LIFETIME,
    }
}

/// An ephemeral event from `from` to `to` (handles or a channel, as in the log): a new id, the
/// time now, `seq` 0, empty `meta`.
pub fn event(from: &str, to: &str, kind: EventKind, body: impl Into<String>) -> Event {
    Event {
        id: uuid::Uuid::now_v7(),
        seq: 0,
        ts: format_rfc3339_ms(now_ms()),
        from: from.to_string(),
        to: to.to_string(),
        kind,
        body: body.into(),
        meta: serde_json::Map::new(),
        reply_to: None,
        target: None,
        attachments: Vec::new(),
        edited: None,
        deleted: None,
        reactions: None,
        replies: None,
        files: None,
    }
}

/// Delivers `event` to every device of `recipients` (user ids) that streams or polls before
/// `lifetime` has passed, once each; stores nothing. Returns how many of the users were
/// reached (had a poll or stream now or moments ago). Costs one look-up per recipient and no
/// serialization when none of them polls. Never blocks: callable from any task or thread.
#[tracing::instrument(name = "ephemeral", skip_all, fields(kind = event.kind.as_str(), recipients = recipients.len()))]
pub fn publish(
    state: &AppState,
    recipients: &[String],
    event: &Event,
    lifetime: Duration,
) -> Result<usize, ApiError> {
    if !event.kind.is_ephemeral() {
        return Err(ApiError::internal(format!(
            "a {} event is stored, not published as ephemeral",
            event.kind.as_str()
        )));
    }
    if event.seq != 0 {
        return Err(ApiError::internal("an ephemeral event has seq 0"));
    }
    // Other processes sharing a Postgres database deliver it to the devices polling them.
    let elsewhere = state.db.is_shared();
    if !elsewhere && !state.notifier.has_slot_for(recipients) {
        return Ok(0);
    }
    let json = serde_json::to_vec(event).map_err(ApiError::internal)?;
    if elsewhere {
        state
            .db
            .relay_ephemeral(recipients, &json, lifetime.min(MAX_RELAYED_LIFETIME));
    }
    let reached = state
        .notifier
        .publish_ephemeral(recipients, json.into_boxed_slice(), lifetime);
    tracing::debug!(reached, "published an ephemeral event");
    Ok(reached)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ephemeral_event_has_the_event_shape_with_seq_zero() {
        let e = event("ann@hs", "#c@hs", EventKind::Typing, "");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["seq"], 0);
        assert_eq!(json["type"], "typing");
        assert_eq!(json["meta"], serde_json::json!({}));
        // The SDK reads it as an event.
        let back: Event = serde_json::from_value(json).unwrap();
        assert!(back.kind.is_ephemeral());
        assert_eq!(lifetime(EventKind::Typing), TYPING_LIFETIME);
    }
}
