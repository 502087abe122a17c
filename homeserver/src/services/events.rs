//! Appending events and turning stored rows into the client's view.
//!
//! Every state change and every message goes through [`append_event`] inside the write
//! transaction that makes the change, so the change and its event commit together. The event
//! and the users whose open window covers it go into the writer's commit journal, which
//! publishes them to waiting long-polls once the transaction has committed
//! ([`crate::db::writer`], [`crate::notifier`]).

use std::collections::HashMap;

use federation_proto::event::{Edited, Event, EventKind, ReactionCount, Replies};
use federation_proto::time::format_rfc3339_ms;

use super::now_ms;
use crate::db::models::{EventRow, NewEvent, ReactionRow, StatsRow};
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
    attachments: Vec<String>,
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
            attachments: Vec::new(),
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

    /// Sets `attachments` (media ids; checked by the caller: `services::media::attach` for a
    /// local send, the origin's signature for a received event).
    pub fn with_attachments(mut self, attachments: Vec<String>) -> Draft {
        self.attachments = attachments;
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
    let kind = draft.kind;
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
        attachments: if draft.attachments.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&draft.attachments).map_err(ApiError::internal)?)
        },
    };
    let row = db::events::append(conn, new, max_history)?;
    if !draft.attachments.is_empty() && kind.is_user_sendable() {
        db::media::add_refs(conn, &draft.attachments, &row.id, row.room_id)?;
    }
    apply_effect(conn, kind, &row)?;
    let recipients = db::events::recipients(conn, draft.room_id)?;
    // For the notifications of a channel's messages (`services::notifications`): read here, on
    // the writer and cached, rather than once per batch by the consumer.
    let watchers = db::notifications::watchers(conn, &row)?;
    if !db::writer::record_event(&row, &recipients, &watchers) {
        return Err(ApiError::internal(
            "an event was appended outside the writer; it would not be delivered",
        ));
    }
    Ok(row)
}

/// Applies what an appended event does to the message it names: an edit replaces the
/// message's body and meta and counts; a delete erases the message (or withdraws the reaction
/// it names); a reaction is recorded; a pin or unpin changes the room's pins and a
/// `description` its description; a reply is counted on its root. The one place these
/// effects happen, for local actions, the host's sequencing of submissions, mirrors applying
/// envelopes and received DMs alike, so every copy shows the same aggregates. Whether the
/// actor may do it was decided before (`services::policy`); here the target must be a
/// message of the same room, or the event changes nothing else.
fn apply_effect(conn: &mut Conn, kind: EventKind, row: &EventRow) -> Result<(), ApiError> {
    if kind == EventKind::Description {
        // A channel's (or its mirror's) description is what its latest `description` says.
        db::settings::set_description(conn, row.room_id, &row.body, &row.sender, row.ts_ms)?;
        return Ok(());
    }
    if kind == EventKind::Nick {
        // Reactions stored under the old handle (a user of another server) follow the nick.
        return Ok(db::rich::rename_reactor(conn, &row.sender, &row.body)?);
    }
    let named = match kind {
        EventKind::Edit
        | EventKind::Delete
        | EventKind::Reaction
        | EventKind::Pin
        | EventKind::Unpin => row.target.as_deref(),
        k if k.is_user_sendable() => row.reply_to.as_deref(),
        _ => None,
    };
    let Some(named) = named else {
        return Ok(());
    };
    let Some(target) = db::events::by_id(conn, named)? else {
        return Ok(());
    };
    if target.room_id != row.room_id {
        return Ok(());
    }
    let target_kind = EventKind::from_wire(&target.kind);
    let is_message = target_kind.is_some_and(|k| k.is_user_sendable());
    match kind {
        EventKind::Edit if is_message && !target.deleted => {
            db::rich::set_body(conn, &target.id, &row.body, &row.meta)?;
            db::rich::count_edit(conn, &target.id, row.ts_ms)?;
        }
        EventKind::Delete if is_message => {
            db::rich::erase(conn, &target.id)?;
            db::settings::unpin_erased(conn, &target.id)?;
            db::media::drop_refs_of(conn, &target.id)?;
            if let Some(erased) = db::events::by_id(conn, &target.id)? {
                let erased = serde_json::to_string(&view(erased)?).map_err(ApiError::internal)?;
                db::rich::erase_txn_answers(conn, &target.id, &erased)?;
            }
        }
        EventKind::Delete if target_kind == Some(EventKind::Reaction) => {
            db::rich::remove_reaction(conn, &target.id)?
        }
        EventKind::Reaction if is_message && !target.deleted => {
            let reaction = ReactionRow {
                message_id: target.id,
                reactor: reactor_of(row),
                emoji: row.body.clone(),
                event_id: row.id.clone(),
                ts_ms: row.ts_ms,
            };
            db::rich::add_reaction(conn, &reaction)?;
        }
        EventKind::Pin if is_message && !target.deleted => {
            let pin = db::settings::PinRow {
                room_id: row.room_id,
                message_id: target.id,
                pinned_by: row.sender.clone(),
                event_id: row.id.clone(),
                ts_ms: row.ts_ms,
            };
            db::settings::add_pin(conn, &pin)?;
        }
        EventKind::Unpin => db::settings::remove_pin(conn, row.room_id, &target.id)?,
        k if k.is_user_sendable() && is_message => {
            db::rich::count_reply(conn, &target.id, row.ts_ms)?
        }
        _ => {}
    }
    Ok(())
}

/// Who a reaction event is from, as reactions are keyed: the local user's id when the sender
/// is a user of this server, their handle otherwise.
fn reactor_of(row: &EventRow) -> String {
    row.sender_id.clone().unwrap_or_else(|| row.sender.clone())
}

/// The keys a local user's reactions are stored under: their id, and their handle for rows
/// from before reactions were keyed by user (`db::rich::reaction`).
pub fn reactor_keys<'a>(user_id: &'a str, handle: &'a str) -> [&'a str; 2] {
    [user_id, handle]
}

/// Views of stored events with the aggregates of their messages (`edited`, `deleted`,
/// `reactions` with `me` for the user whose keys are `me` ([`reactor_keys`]), and `replies`):
/// what history, `GET /api/v1/messages/{id}` and threads answer. Two queries for the whole
/// page.
pub fn message_views(
    conn: &mut Conn,
    rows: Vec<EventRow>,
    me: &[&str],
) -> Result<Vec<Event>, ApiError> {
    let ids: Vec<String> = rows
        .iter()
        .filter(|r| EventKind::from_wire(&r.kind).is_some_and(|k| k.is_user_sendable()))
        .map(|r| r.id.clone())
        .collect();
    let mut stats: HashMap<String, StatsRow> = db::rich::stats(conn, &ids)?
        .into_iter()
        .map(|s| (s.message_id.clone(), s))
        .collect();
    let mut reactions: HashMap<String, Vec<ReactionCount>> = HashMap::new();
    for r in db::rich::reactions_of(conn, &ids)? {
        let list = reactions.entry(r.message_id).or_default();
        let mine = me.iter().any(|key| r.reactor.eq_ignore_ascii_case(key));
        match list.iter_mut().find(|c| c.emoji == r.emoji) {
            Some(c) => {
                c.count += 1;
                c.me |= mine;
            }
            None => list.push(ReactionCount {
                emoji: r.emoji,
                count: 1,
                me: mine,
            }),
        }
    }
    let mut files = super::media::files_of(conn, &rows)?;
    rows.into_iter()
        .map(|row| {
            let deleted = row.deleted;
            let mut event = view(row)?;
            if !event.is_message() {
                return Ok(event);
            }
            if !event.attachments.is_empty() && !deleted {
                event.files = Some(files.take(&event.attachments));
            }
            let id = event.id.to_string();
            let stats = stats.remove(&id).unwrap_or_default();
            event.edited = stats
                .edited_ms
                .filter(|_| stats.edit_count > 0)
                .map(|ts| Edited {
                    ts: format_rfc3339_ms(ts),
                    count: stats.edit_count,
                });
            event.deleted = Some(deleted);
            event.reactions = Some(reactions.remove(&id).unwrap_or_default());
            event.replies = Some(Replies {
                count: stats.reply_count,
                last_ts: stats.last_reply_ms.map(format_rfc3339_ms),
            });
            Ok(event)
        })
        .collect()
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
        attachments: match row.attachments.as_deref() {
            None => Vec::new(),
            Some(json) => serde_json::from_str(json).map_err(|_| {
                ApiError::internal(format!(
                    "stored attachments of event {} are not a list",
                    row.id
                ))
            })?,
        },
        edited: None,
        deleted: None,
        reactions: None,
        replies: None,
        files: None,
    })
}

/// Views of many rows.
pub fn views(rows: Vec<EventRow>) -> Result<Vec<Event>, ApiError> {
    rows.into_iter().map(view).collect()
}
