//! The event log, rooms and delivery windows (spans).
//!
//! One stored copy of each event; who receives it is derived from `spans`: a user receives the
//! events of a room whose `seq` lies in one of their windows for that room. Joining opens a
//! window at the join event, leaving closes it at the part/kick event.

use std::collections::HashMap;
use std::sync::Arc;

use diesel::prelude::*;

use super::models::{EventRow, NewEvent};
use super::schema::{events, rooms, spans};
use super::{per_backend, Conn, DbConn};
use super::{room_counters, search};

/// `to_seq` of an open window.
pub const OPEN: i64 = i64::MAX;

/// The id of the room with this key, created when missing.
pub fn ensure_room(conn: &mut Conn, key: &str, kind: &str) -> QueryResult<i64> {
    if let Some(id) = room_id(conn, key)? {
        return Ok(id);
    }
    diesel::insert_into(rooms::table)
        .values((
            rooms::room_key.eq(key),
            rooms::kind.eq(kind),
            rooms::event_count.eq(0),
        ))
        .returning(rooms::id)
        .get_result(conn)
}

/// The id of the room with this key.
pub fn room_id(conn: &mut Conn, key: &str) -> QueryResult<Option<i64>> {
    per_backend!(conn, |c| rooms::table
        .filter(rooms::room_key.eq(key))
        .select(rooms::id)
        .first(c)
        .optional())
}

/// Appends an event, giving it the next `seq`, and drops the room's oldest events beyond
/// `max_history`. Runs inside the caller's transaction.
///
/// On the writer thread of a SQLite database the room's counters and its rotation are written
/// once per batch ([`super::room_counters`]); elsewhere at once.
pub fn append(conn: &mut Conn, new: NewEvent, max_history: i64) -> QueryResult<EventRow> {
    let current = room_counters::current(conn, new.room_id)?;
    // Mirroring another server's channel: its number, not ours.
    let room_seq = new.room_seq.unwrap_or(current.last_room_seq + 1);
    let mut next = room_counters::Counters {
        count: current.count + 1,
        last_room_seq: room_seq,
    };
    if !room_counters::defer(new.room_id, next, max_history) {
        // The oldest events beyond the limit go first; the new one is the newest, so it stays.
        next.count -= room_counters::rotate(conn, new.room_id, next.count, max_history)?;
        room_counters::write(conn, new.room_id, next)?;
    }
    // The writer of a Postgres database numbers events itself and may insert several at once
    // ([`super::appends`]); elsewhere the database numbers it.
    if let Some(seq) = super::appends::next_seq(conn)? {
        let row = stored_row(seq, new, room_seq);
        super::appends::place(conn, &row)?;
        return Ok(row);
    }
    // Every column bound (no `DEFAULT` for a `None`), so that the statement has one shape and
    // its prepared form is found by type, without rendering its SQL on each append. Only the
    // new `seq` comes back: the rest of the row is what was written.
    let seq = per_backend!(conn, |c| diesel::insert_into(events::table)
        .values((
            events::id.eq(&new.id),
            events::room_id.eq(new.room_id),
            events::ts_ms.eq(new.ts_ms),
            events::sender.eq(&new.sender),
            events::sender_id.eq(&new.sender_id),
            events::recipient.eq(&new.recipient),
            events::kind.eq(&new.kind),
            events::body.eq(&new.body),
            events::meta.eq(&new.meta),
            events::reply_to.eq(&new.reply_to),
            events::target.eq(&new.target),
            events::room_seq.eq(Some(room_seq)),
            events::wire.eq(&new.wire),
            events::attachments.eq(&new.attachments),
        ))
        .returning(events::seq)
        .get_result(c))?;
    if matches!(conn, DbConn::Postgres(_)) && search::SEARCHED_KINDS.contains(&new.kind.as_str()) {
        search::store_words_of(conn, &new.id, &new.kind, &new.body)?;
    }
    Ok(stored_row(seq, new, room_seq))
}

/// The row stored for `new` under `seq`.
fn stored_row(seq: i64, new: NewEvent, room_seq: i64) -> EventRow {
    EventRow {
        seq,
        id: new.id,
        room_id: new.room_id,
        ts_ms: new.ts_ms,
        sender: new.sender,
        sender_id: new.sender_id,
        recipient: new.recipient,
        kind: new.kind,
        body: new.body,
        meta: new.meta,
        reply_to: new.reply_to,
        target: new.target,
        room_seq: Some(room_seq),
        wire: new.wire,
        deleted: false,
        attachments: new.attachments,
    }
}

/// Opens a delivery window for `user_id` in a room from `from_seq` on (no-op when one is open).
pub fn open_span(conn: &mut Conn, user_id: &str, room_id: i64, from_seq: i64) -> QueryResult<()> {
    if has_open_span(conn, user_id, room_id)? {
        return Ok(());
    }
    super::recipients::changed(room_id);
    diesel::insert_into(spans::table)
        .values((
            spans::user_id.eq(user_id),
            spans::room_id.eq(room_id),
            spans::from_seq.eq(from_seq),
            spans::to_seq.eq(OPEN),
        ))
        .execute(conn)
        .map(drop)
}

/// Closes the user's open window in a room at `to_seq` (inclusive).
pub fn close_span(conn: &mut Conn, user_id: &str, room_id: i64, to_seq: i64) -> QueryResult<()> {
    super::recipients::changed(room_id);
    diesel::update(
        spans::table
            .filter(spans::user_id.eq(user_id))
            .filter(spans::room_id.eq(room_id))
            .filter(spans::to_seq.eq(OPEN)),
    )
    .set(spans::to_seq.eq(to_seq))
    .execute(conn)
    .map(drop)
}

/// Whether the user currently receives the room's events.
pub fn has_open_span(conn: &mut Conn, user_id: &str, room_id: i64) -> QueryResult<bool> {
    per_backend!(conn, |c| diesel::select(diesel::dsl::exists(
        spans::table
            .filter(spans::user_id.eq(user_id))
            .filter(spans::room_id.eq(room_id))
            .filter(spans::to_seq.eq(OPEN)),
    ))
    .get_result(c))
}

/// Users whose open window covers new events of the room (cached by the writer on SQLite).
pub fn recipients(conn: &mut Conn, room_id: i64) -> QueryResult<Arc<[String]>> {
    super::recipients::cached(super::recipients::List::Recipients, room_id, || {
        per_backend!(conn, |c| spans::table
            .filter(spans::room_id.eq(room_id))
            .filter(spans::to_seq.eq(OPEN))
            .select(spans::user_id)
            .load(c))
    })
}

/// The user's events after `after` up to `durable` (what is known to be on disk,
/// [`super::Db::durable`]), in `seq` order, at most `limit`.
pub fn for_user_after(
    conn: &mut Conn,
    user_id: &str,
    after: i64,
    durable: i64,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    per_backend!(conn, |c| events::table
        .inner_join(spans::table.on(spans::room_id.eq(events::room_id)))
        .filter(spans::user_id.eq(user_id))
        .filter(spans::to_seq.gt(after))
        .filter(events::seq.gt(after))
        .filter(events::seq.le(durable))
        .filter(events::seq.ge(spans::from_seq))
        .filter(events::seq.le(spans::to_seq))
        .order(events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(c))
}

/// Every stored event with `seq` in `(after, through]`, in `seq` order, at most `limit`: how a
/// commit consumer that lagged catches up ([`super::writer::Feed::Missed`]). Events rotated
/// away since are not there any more.
pub fn range(conn: &mut Conn, after: i64, through: i64, limit: i64) -> QueryResult<Vec<EventRow>> {
    per_backend!(conn, |c| events::table
        .filter(events::seq.gt(after))
        .filter(events::seq.le(through))
        .order(events::seq.asc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(c))
}

/// The recipients of stored events (`rows`, in `seq` order): for each, the users with a window
/// of its room that covers its `seq`, as a poll reading the database finds them
/// ([`for_user_after`]). One read of `spans` for all of them; events of a room whose windows
/// all cover them share one list.
pub fn recipients_of(conn: &mut Conn, rows: &[EventRow]) -> QueryResult<Vec<Arc<[String]>>> {
    let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
        return Ok(Vec::new());
    };
    let mut rooms: Vec<i64> = rows.iter().map(|r| r.room_id).collect();
    rooms.sort_unstable();
    rooms.dedup();
    let windows: Vec<(i64, String, i64, i64)> = per_backend!(conn, |c| spans::table
        .filter(spans::room_id.eq_any(&rooms))
        .filter(spans::to_seq.ge(first.seq))
        .filter(spans::from_seq.le(last.seq))
        .select((
            spans::room_id,
            spans::user_id,
            spans::from_seq,
            spans::to_seq
        ))
        .load(c))?;
    let mut by_room: HashMap<i64, Vec<(String, i64, i64)>> = HashMap::new();
    for (room_id, user_id, from_seq, to_seq) in windows {
        by_room
            .entry(room_id)
            .or_default()
            .push((user_id, from_seq, to_seq));
    }
    // Per room, its events' lowest and highest `seq`, and the list they share when every
    // window covers all of them.
    let mut bounds: HashMap<i64, (i64, i64)> = HashMap::new();
    for row in rows {
        let (lo, hi) = bounds.entry(row.room_id).or_insert((row.seq, row.seq));
        *lo = (*lo).min(row.seq);
        *hi = (*hi).max(row.seq);
    }
    let mut shared: HashMap<i64, Option<Arc<[String]>>> = HashMap::new();
    let no_windows = Vec::new();
    Ok(rows
        .iter()
        .map(|row| {
            let windows = by_room.get(&row.room_id).unwrap_or(&no_windows);
            let whole = shared.entry(row.room_id).or_insert_with(|| {
                let (lo, hi) = bounds
                    .get(&row.room_id)
                    .copied()
                    .unwrap_or((row.seq, row.seq));
                windows
                    .iter()
                    .all(|(_, from, to)| *from <= lo && *to >= hi)
                    .then(|| windows.iter().map(|(user, _, _)| user.clone()).collect())
            });
            match whole {
                Some(users) => Arc::clone(users),
                None => windows
                    .iter()
                    .filter(|(_, from, to)| *from <= row.seq && row.seq <= *to)
                    .map(|(user, _, _)| user.clone())
                    .collect(),
            }
        })
        .collect())
}

/// A room's stored events, newest first, within the optional `(after, before)` bounds.
pub fn history(
    conn: &mut Conn,
    room_id: i64,
    before: Option<i64>,
    after: Option<i64>,
    limit: i64,
) -> QueryResult<Vec<EventRow>> {
    let mut query = events::table
        .filter(events::room_id.eq(room_id))
        .into_boxed();
    if let Some(before) = before {
        query = query.filter(events::seq.lt(before));
    }
    if let Some(after) = after {
        query = query.filter(events::seq.gt(after));
    }
    query
        .order(events::seq.desc())
        .limit(limit)
        .select(EventRow::as_select())
        .load(conn)
}

/// The stored event with this id.
pub fn by_id(conn: &mut Conn, id: &str) -> QueryResult<Option<EventRow>> {
    events::table
        .filter(events::id.eq(id))
        .select(EventRow::as_select())
        .first(conn)
        .optional()
}

/// Whether an event with this id is stored.
pub fn exists(conn: &mut Conn, id: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(events::table.filter(events::id.eq(id)))).get_result(conn)
}

/// The highest `seq` in the log (0 when empty).
pub fn max_seq(conn: &mut Conn) -> QueryResult<i64> {
    let max: Option<i64> = events::table
        .select(diesel::dsl::max(events::seq))
        .first(conn)?;
    Ok(max.unwrap_or(0))
}

/// The delivery-window rule of [`for_user_after`] as an SQL condition, for hand-written queries
/// (search): the `events` row aliased `e` lies in one of the windows of the user whose id is
/// the bind parameter `user_param` (`?1` on SQLite, `$1` on Postgres).
pub fn readable_sql(user_param: &str) -> String {
    format!(
        "EXISTS (SELECT 1 FROM spans s WHERE s.user_id = {user_param} \
         AND s.room_id = e.room_id AND s.from_seq <= e.seq AND e.seq <= s.to_seq)"
    )
}

/// Every delivery window of a user, `(room_id, from_seq, to_seq)`: the rule of
/// [`for_user_after`] as data, for queries that walk each window on its own (search on
/// Postgres, [`window_sql`]).
pub fn windows(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<(i64, i64, i64)>> {
    per_backend!(conn, |c| spans::table
        .filter(spans::user_id.eq(user_id))
        .select((spans::room_id, spans::from_seq, spans::to_seq))
        .order(spans::room_id.asc())
        .load(c))
}

/// One window of [`windows`] as an SQL condition on the `events` row aliased `e`, capped at
/// `through` (the numbers come from the database, never from a user). Written as row
/// comparisons on `(room_id, seq)`, which only the index `events_room_seq` answers: with
/// `room_id = R AND seq <= T` Postgres may walk the whole log backwards by `seq` when the room's
/// rows are old (it assumes a room's rows are spread evenly over the log).
pub fn window_sql(room_id: i64, from_seq: i64, to_seq: i64, through: i64) -> String {
    format!(
        "(e.room_id, e.seq) >= ({room_id}, {from_seq}) AND (e.room_id, e.seq) <= ({room_id}, {})",
        to_seq.min(through)
    )
}

/// The user's delivery window of a room that holds `seq` (`(from_seq, to_seq)`), if any: the
/// same rule as [`for_user_after`], for one event.
pub fn window_of(
    conn: &mut Conn,
    user_id: &str,
    room_id: i64,
    seq: i64,
) -> QueryResult<Option<(i64, i64)>> {
    per_backend!(conn, |c| spans::table
        .filter(spans::user_id.eq(user_id))
        .filter(spans::room_id.eq(room_id))
        .filter(spans::from_seq.le(seq))
        .filter(spans::to_seq.ge(seq))
        .select((spans::from_seq, spans::to_seq))
        .first(c)
        .optional())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::models::UserRow;
    use crate::db::{users, Db};

    fn user(conn: &mut Conn, nick: &str) -> String {
        let row = UserRow::for_test(nick);
        users::insert(conn, &row).unwrap();
        row.id
    }

    fn say(conn: &mut Conn, room_id: i64, n: u32) -> EventRow {
        let new = NewEvent::message_for_test(format!("e{n}"), room_id, format!("m{n}"));
        append(conn, new, i64::MAX).unwrap()
    }

    fn names(list: &[String]) -> Vec<&str> {
        let mut names: Vec<&str> = list.iter().map(String::as_str).collect();
        names.sort_unstable();
        names
    }

    /// What a process reads back of another's events gets the recipients a poll's own read
    /// would deliver them to: windows opening and closing inside the range, other rooms apart.
    #[test]
    fn recipients_of_stored_events_follow_their_windows() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        let mut conn = db.conn().unwrap();
        let (ann, bob, cid) = (
            user(&mut conn, "ann"),
            user(&mut conn, "bob"),
            user(&mut conn, "cid"),
        );
        let room = ensure_room(&mut conn, "#r", "channel").unwrap();
        let other = ensure_room(&mut conn, "#o", "channel").unwrap();
        open_span(&mut conn, &ann, room, 0).unwrap();
        open_span(&mut conn, &cid, other, 0).unwrap();
        let first = say(&mut conn, room, 1);
        open_span(&mut conn, &bob, room, first.seq + 1).unwrap();
        let second = say(&mut conn, room, 2);
        let elsewhere = say(&mut conn, other, 3);
        close_span(&mut conn, &ann, room, second.seq).unwrap();
        let third = say(&mut conn, room, 4);
        let rows = range(&mut conn, 0, third.seq, 100).unwrap();
        assert_eq!(
            rows.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [first.seq, second.seq, elsewhere.seq, third.seq]
        );
        let got = recipients_of(&mut conn, &rows).unwrap();
        let got: Vec<Vec<&str>> = got.iter().map(|list| names(list)).collect();
        assert_eq!(
            got,
            [
                vec![ann.as_str()],
                vec![ann.as_str(), bob.as_str()],
                vec![cid.as_str()],
                vec![bob.as_str()],
            ]
        );
        // The same as each user's own read.
        for (id, seqs) in [
            (&ann, vec![first.seq, second.seq]),
            (&bob, vec![second.seq, third.seq]),
            (&cid, vec![elsewhere.seq]),
        ] {
            let own: Vec<i64> = for_user_after(&mut conn, id, 0, i64::MAX, 100)
                .unwrap()
                .iter()
                .map(|r| r.seq)
                .collect();
            assert_eq!(own, seqs);
        }
        // A room whose one window covers every event shares one list.
        let tail = rows[3..].to_vec();
        assert_eq!(
            names(&recipients_of(&mut conn, &tail).unwrap()[0]),
            [bob.as_str()]
        );
        assert!(recipients_of(&mut conn, &[]).unwrap().is_empty());
    }
}
