//! Appending events and turning stored rows into the client's view.
//!
//! Every state change and every message goes through [`append_event`] inside the write
//! transaction that makes the change, so the change and its event commit together. The event
//! and the users whose open window covers it go into the writer's commit journal, which
//! publishes them to waiting long-polls once the transaction has committed
//! ([`crate::db::writer`], [`crate::notifier`]).

use federation_proto::event::{Event, EventKind};
use federation_proto::time::format_rfc3339_ms;

use super::now_ms;
use crate::db::models::{EventRow, NewEvent};
use crate::db::{self, Conn};
use crate::error::ApiError;

/// An event about to be appended.
#[derive(Debug, Clone)]
pub struct Draft {
    room_id: i64,
    sender: String,
    sender_id: Option<String>,
    recipient: String,
    kind: EventKind,
    body: String,
    meta: serde_json::Value,
    reply_to: Option<String>,
    target: Option<String>,
    received: Option<(String, i64)>,
    room_seq: Option<i64>,
    wire: Option<String>,
}

impl Draft {
    /// A new event in `room_id` from `sender` (a `nick@server` handle) to `to`.
    pub fn new(
        room_id: i64,
        sender: &str,
        sender_id: Option<&str>,
        to: &str,
        kind: EventKind,
        body: impl Into<String>,
    ) -> Draft {
        Draft {
            room_id,
            sender: sender.to_string(),
            sender_id: sender_id.map(str::to_string),
            recipient: to.to_string(),
            kind,
            body: body.into(),
            meta: serde_json::Value::Object(Default::default()),
            reply_to: None,
            target: None,
            received: None,
            room_seq: None,
            wire: None,
        }
    }

    /// Keeps the origin-signed wire form of an event received from another server.
    pub fn with_wire(mut self, wire: String) -> Draft {
        self.wire = Some(wire);
        self
    }

    /// Mirrors a host's channel event: its position `room_seq` there and its signed wire form.
    pub fn mirrored(mut self, room_seq: i64, wire: Option<String>) -> Draft {
        self.room_seq = Some(room_seq);
        self.wire = wire;
        self
    }

    /// An event received from another server keeps its origin's id and timestamp.
    pub fn received(mut self, id: String, ts_ms: i64) -> Draft {
        self.received = Some((id, ts_ms));
        self
    }

    /// Sets `meta` (must be a JSON object).
    pub fn with_meta(mut self, meta: serde_json::Value) -> Draft {
        self.meta = meta;
        self
    }

    /// Sets `reply_to`.
    pub fn replying_to(mut self, reply_to: Option<String>) -> Draft {
        self.reply_to = reply_to;
        self
    }

    /// Sets `target` (the message an edit, delete or reaction acts on).
    pub fn targeting(mut self, target: Option<String>) -> Draft {
        self.target = target;
        self
    }
}

/// Appends the event and records it, with the users it must be delivered to, for publication
/// after the commit. Must run inside [`crate::db::Db::write`].
pub fn append_event(conn: &mut Conn, draft: Draft, max_history: i64) -> Result<EventRow, ApiError> {
    let (id, ts_ms) = draft
        .received
        .unwrap_or_else(|| (uuid::Uuid::now_v7().to_string(), now_ms()));
    let new = NewEvent {
        id,
        room_id: draft.room_id,
        ts_ms,
        sender: draft.sender,
        sender_id: draft.sender_id,
        recipient: draft.recipient,
        kind: draft.kind.as_str().to_string(),
        body: draft.body,
        meta: draft.meta.to_string(),
        reply_to: draft.reply_to,
        target: draft.target,
        room_seq: draft.room_seq,
        wire: draft.wire,
    };
    let row = db::events::append(conn, new, max_history)?;
    let recipients = db::events::recipients(conn, draft.room_id)?;
    if !db::writer::record_event(&row, &recipients) {
        return Err(ApiError::internal(
            "an event was appended outside the writer; it would not be delivered",
        ));
    }
    Ok(row)
}

/// The client's view of a stored event.
pub fn view(row: EventRow) -> Result<Event, ApiError> {
    let parse_uuid = |s: &str| uuid::Uuid::parse_str(s).map_err(ApiError::internal);
    let meta = match serde_json::from_str(&row.meta) {
        Ok(serde_json::Value::Object(map)) => map,
        Ok(_) | Err(_) => {
            return Err(ApiError::internal(format!(
                "stored meta of event {} is not an object",
                row.id
            )))
        }
    };
    Ok(Event {
        id: parse_uuid(&row.id)?,
        seq: row.seq,
        ts: format_rfc3339_ms(row.ts_ms),
        from: row.sender,
        to: row.recipient,
        kind: EventKind::from_wire(&row.kind).ok_or_else(|| {
            ApiError::internal(format!("stored event {} has unknown type", row.id))
        })?,
        body: row.body,
        meta,
        reply_to: row.reply_to.as_deref().map(parse_uuid).transpose()?,
        target: row.target.as_deref().map(parse_uuid).transpose()?,
        attachments: Vec::new(),
    })
}

/// Views of many rows.
pub fn views(rows: Vec<EventRow>) -> Result<Vec<Event>, ApiError> {
    rows.into_iter().map(view).collect()
}
