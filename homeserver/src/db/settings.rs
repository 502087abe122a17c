//! Channel settings (issue 24): descriptions, pins, and the erasure of a deleted channel.
//!
//! Rows are keyed by room, so a channel hosted here and the mirror of a channel hosted
//! elsewhere keep their description and pins the same way.

use diesel::prelude::*;

use super::models::EventRow;
use super::schema::{
    channel_settings, channels, events, invites, members, message_stats, mirrors, pins, reactions,
    read_markers, remote_invites, remote_members, rooms, txns,
};
use super::{room_counters, Conn};

/// A current pin.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = pins)]
pub struct PinRow {
    pub room_id: i64,
    pub message_id: String,
    pub pinned_by: String,
    pub event_id: String,
    pub ts_ms: i64,
}

/// The room's description (empty when unset).
pub fn description(conn: &mut Conn, room_id: i64) -> QueryResult<String> {
    Ok(channel_settings::table
        .find(room_id)
        .select(channel_settings::description)
        .first(conn)
        .optional()?
        .unwrap_or_default())
}

/// Descriptions of these rooms (only those that have one).
pub fn descriptions(conn: &mut Conn, room_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    if room_ids.is_empty() {
        return Ok(Vec::new());
    }
    channel_settings::table
        .filter(channel_settings::room_id.eq_any(room_ids))
        .filter(channel_settings::description.ne(""))
        .select((channel_settings::room_id, channel_settings::description))
        .load(conn)
}

/// Sets the room's description.
pub fn set_description(
    conn: &mut Conn,
    room_id: i64,
    description: &str,
    set_by: &str,
    set_ms: i64,
) -> QueryResult<()> {
    diesel::delete(channel_settings::table.find(room_id)).execute(conn)?;
    diesel::insert_into(channel_settings::table)
        .values((
            channel_settings::room_id.eq(room_id),
            channel_settings::description.eq(description),
            channel_settings::set_by.eq(Some(set_by)),
            channel_settings::set_ms.eq(Some(set_ms)),
        ))
        .execute(conn)
        .map(drop)
}

/// The pin of a message in a room, if it is pinned.
pub fn pin(conn: &mut Conn, room_id: i64, message_id: &str) -> QueryResult<Option<PinRow>> {
    pins::table
        .find((room_id, message_id))
        .select(PinRow::as_select())
        .first(conn)
        .optional()
}

/// Records a pin; `false` (and nothing changes) when the message is already pinned.
pub fn add_pin(conn: &mut Conn, row: &PinRow) -> QueryResult<bool> {
    if pin(conn, row.room_id, &row.message_id)?.is_some() {
        return Ok(false);
    }
    diesel::insert_into(pins::table)
        .values((
            pins::room_id.eq(row.room_id),
            pins::message_id.eq(&row.message_id),
            pins::pinned_by.eq(&row.pinned_by),
            pins::event_id.eq(&row.event_id),
            pins::ts_ms.eq(row.ts_ms),
        ))
        .execute(conn)
        .map(|_| true)
}

/// Removes a pin.
pub fn remove_pin(conn: &mut Conn, room_id: i64, message_id: &str) -> QueryResult<()> {
    diesel::delete(pins::table.find((room_id, message_id)))
        .execute(conn)
        .map(drop)
}

/// Removes the pin of a message wherever it is (its erasure).
pub fn unpin_erased(conn: &mut Conn, message_id: &str) -> QueryResult<()> {
    diesel::delete(pins::table.filter(pins::message_id.eq(message_id)))
        .execute(conn)
        .map(drop)
}

/// The room's pinned messages that are not deleted, newest pin first, at most `limit`.
pub fn pinned(conn: &mut Conn, room_id: i64, limit: i64) -> QueryResult<Vec<(PinRow, EventRow)>> {
    pins::table
        .inner_join(events::table.on(events::id.eq(pins::message_id)))
        .filter(pins::room_id.eq(room_id))
        .filter(events::room_id.eq(room_id))
        .filter(events::deleted.eq(false))
        .order((pins::ts_ms.desc(), pins::event_id.desc()))
        .limit(limit)
        .select((PinRow::as_select(), EventRow::as_select()))
        .load(conn)
}

/// Erases a deleted channel's (or dropped mirror's) room: every event but `keep` (the `system`
/// event that announces the deletion, which members' devices still receive) is deleted with
/// its aggregates, settings, pins, read markers and memberships; the idempotent send answers
/// that hold its messages (`"to":"<global>"`) go too; and the room's key is freed, so a new
/// channel of the same name starts a new room. The channel's row (or the mirror's) is removed
/// last: the name answers `404 no_such_channel` from then on.
pub fn erase_room(conn: &mut Conn, room_id: i64, keep: &str, global: &str) -> QueryResult<()> {
    let ids: Vec<String> = events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::id.ne(keep))
        .select(events::id)
        .load(conn)?;
    for chunk in ids.chunks(500) {
        diesel::delete(message_stats::table.filter(message_stats::message_id.eq_any(chunk)))
            .execute(conn)?;
        diesel::delete(reactions::table.filter(reactions::message_id.eq_any(chunk)))
            .execute(conn)?;
    }
    diesel::delete(
        events::table
            .filter(events::room_id.eq(room_id))
            .filter(events::id.ne(keep)),
    )
    .execute(conn)?;
    // A global name is `#[a-z0-9_.-]+@host`: no LIKE wildcards but `_`, escaped here.
    let pattern = format!("%\"to\":\"{}\"%", global.replace('_', "\\_"));
    diesel::delete(txns::table.filter(txns::response.like(pattern).escape('\\'))).execute(conn)?;
    diesel::delete(pins::table.filter(pins::room_id.eq(room_id))).execute(conn)?;
    super::moderation::erase_room(conn, room_id)?;
    diesel::delete(channel_settings::table.find(room_id)).execute(conn)?;
    diesel::delete(read_markers::table.filter(read_markers::room_id.eq(room_id))).execute(conn)?;
    diesel::delete(members::table.filter(members::room_id.eq(room_id))).execute(conn)?;
    diesel::delete(remote_members::table.filter(remote_members::room_id.eq(room_id)))
        .execute(conn)?;
    diesel::delete(invites::table.filter(invites::room_id.eq(room_id))).execute(conn)?;
    diesel::delete(remote_invites::table.filter(remote_invites::room_id.eq(room_id)))
        .execute(conn)?;
    // One event is left: the counters say so, so that no rotation takes the `system` event.
    let current = room_counters::current(conn, room_id)?;
    let left = room_counters::Counters {
        count: 1,
        last_room_seq: current.last_room_seq,
    };
    if !room_counters::defer(room_id, left, i64::MAX) {
        room_counters::write(conn, room_id, left)?;
    }
    diesel::update(rooms::table.find(room_id))
        .set(rooms::room_key.eq(format!("deleted:{room_id}")))
        .execute(conn)?;
    diesel::delete(channels::table.filter(channels::room_id.eq(room_id))).execute(conn)?;
    diesel::delete(mirrors::table.find(room_id)).execute(conn)?;
    Ok(())
}

/// The events a joining member server needs to list the room's current pins but would miss in
/// a backfill that starts at `before_room_seq`: the pinned messages, their `pin` events and
/// their edits older than that, in room order.
pub fn pin_context(
    conn: &mut Conn,
    room_id: i64,
    before_room_seq: i64,
) -> QueryResult<Vec<EventRow>> {
    let current: Vec<(String, String)> = pins::table
        .filter(pins::room_id.eq(room_id))
        .select((pins::message_id, pins::event_id))
        .load(conn)?;
    if current.is_empty() {
        return Ok(Vec::new());
    }
    let messages: Vec<&String> = current.iter().map(|(m, _)| m).collect();
    let named: Vec<&String> = current.iter().flat_map(|(m, e)| [m, e]).collect();
    events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::room_seq.lt(before_room_seq))
        .filter(events::deleted.eq(false))
        .filter(
            events::id
                .eq_any(named)
                .or(events::target.eq_any(messages).and(events::kind.eq("edit"))),
        )
        .order(events::room_seq.asc())
        .select(EventRow::as_select())
        .load(conn)
}
