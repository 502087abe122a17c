//! Read markers, conversations and profiles.
//!
//! A read marker is one row per reader and conversation (`read_markers`), moved forward in
//! place. Unread counts are read from the room's messages after the marker through the
//! `events(room_id, kind, seq)` index, at most a bounded number of rows: nothing is stored per
//! recipient per message.

use diesel::prelude::*;

use super::models::EventRow;
use super::schema::{channels, events, mirrors, profiles, read_markers, rooms, spans, users};
use super::{per_backend, Conn};
use crate::db::events::OPEN;

/// A read marker: the log position and id of the newest message read, and when.
#[derive(Debug, Clone)]
pub struct Marker {
    pub seq: i64,
    pub event_id: String,
    pub ts_ms: i64,
}

/// The reader's marker in a room.
pub fn marker(conn: &mut Conn, room_id: i64, reader: &str) -> QueryResult<Option<Marker>> {
    let row: Option<(i64, String, i64)> = per_backend!(conn, |c| read_markers::table
        .filter(read_markers::room_id.eq(room_id))
        .filter(read_markers::reader.eq(reader))
        .select((
            read_markers::seq,
            read_markers::event_id,
            read_markers::ts_ms
        ))
        .first(c)
        .optional())?;
    Ok(row.map(|(seq, event_id, ts_ms)| Marker {
        seq,
        event_id,
        ts_ms,
    }))
}

/// Moves the reader's marker to `to` unless it is already there or past it. Returns whether it
/// moved. Runs inside a write (one writer at a time, so reading then writing is safe).
pub fn advance(
    conn: &mut Conn,
    room_id: i64,
    reader: &str,
    is_local: bool,
    to: &Marker,
) -> QueryResult<bool> {
    if marker(conn, room_id, reader)?.is_some_and(|m| m.seq >= to.seq) {
        return Ok(false);
    }
    per_backend!(conn, |c| diesel::insert_into(read_markers::table)
        .values((
            read_markers::room_id.eq(room_id),
            read_markers::reader.eq(reader),
            read_markers::is_local.eq(is_local),
            read_markers::seq.eq(to.seq),
            read_markers::event_id.eq(&to.event_id),
            read_markers::ts_ms.eq(to.ts_ms),
        ))
        .on_conflict((read_markers::room_id, read_markers::reader))
        .do_update()
        .set((
            read_markers::seq.eq(to.seq),
            read_markers::event_id.eq(&to.event_id),
            read_markers::ts_ms.eq(to.ts_ms),
        ))
        .execute(c))?;
    Ok(true)
}

/// One reader of a room at or past a position.
pub struct Reader {
    /// A local user's id, or `nick@server`.
    pub reader: String,
    pub is_local: bool,
    pub ts_ms: i64,
}

/// The readers of a room whose marker is at or past `seq`, earliest first (at most `limit`).
pub fn readers_from(
    conn: &mut Conn,
    room_id: i64,
    seq: i64,
    limit: i64,
) -> QueryResult<Vec<Reader>> {
    let rows: Vec<(String, bool, i64)> = read_markers::table
        .filter(read_markers::room_id.eq(room_id))
        .filter(read_markers::seq.ge(seq))
        .order((read_markers::ts_ms.asc(), read_markers::reader.asc()))
        .limit(limit)
        .select((
            read_markers::reader,
            read_markers::is_local,
            read_markers::ts_ms,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(reader, is_local, ts_ms)| Reader {
            reader,
            is_local,
            ts_ms,
        })
        .collect())
}

/// Nicks of local users by id.
pub fn nicks(conn: &mut Conn, ids: &[String]) -> QueryResult<Vec<(String, String)>> {
    users::table
        .filter(users::id.eq_any(ids))
        .select((users::id, users::nick))
        .load(conn)
}

/// A conversation room a user is in now: a channel hosted here, a mirror, or a DM.
pub struct OpenRoom {
    pub room_id: i64,
    pub kind: String,
    pub room_key: String,
    /// Where the user's window starts (their join; 0 for DMs).
    pub from_seq: i64,
}

/// Every channel, mirror and DM room where the user has an open window.
pub fn open_rooms(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<OpenRoom>> {
    let rows: Vec<(i64, String, String, i64)> = spans::table
        .inner_join(rooms::table.on(rooms::id.eq(spans::room_id)))
        .filter(spans::user_id.eq(user_id))
        .filter(spans::to_seq.eq(OPEN))
        .filter(rooms::kind.eq_any(["channel", "mirror", "dm"]))
        .select((rooms::id, rooms::kind, rooms::room_key, spans::from_seq))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(room_id, kind, room_key, from_seq)| OpenRoom {
            room_id,
            kind,
            room_key,
            from_seq,
        })
        .collect())
}

/// Names of channels hosted here, by room.
pub fn channel_names(conn: &mut Conn, room_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    channels::table
        .filter(channels::room_id.eq_any(room_ids))
        .select((channels::room_id, channels::name))
        .load(conn)
}

/// `#name@host` of mirrored channels, by room.
pub fn mirror_names(conn: &mut Conn, room_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    mirrors::table
        .filter(mirrors::room_id.eq_any(room_ids))
        .select((mirrors::room_id, mirrors::channel))
        .load(conn)
}

/// The newest stored event of a room.
pub fn last_event(conn: &mut Conn, room_id: i64) -> QueryResult<Option<EventRow>> {
    per_backend!(conn, |c| events::table
        .filter(events::room_id.eq(room_id))
        .order(events::seq.desc())
        .select(EventRow::as_select())
        .first(c)
        .optional())
}

/// Bodies of the room's messages after `after` that `user_id` did not send and nobody
/// deleted, oldest first, at most `cap`: the unread messages of a conversation (one range of
/// the `(room_id, kind, seq)` index, so other events after the marker are not read).
pub fn unread_bodies(
    conn: &mut Conn,
    room_id: i64,
    after: i64,
    user_id: &str,
    sender: &str,
    cap: i64,
) -> QueryResult<Vec<String>> {
    per_backend!(conn, |c| events::table
        .filter(events::room_id.eq(room_id))
        .filter(events::seq.gt(after))
        .filter(events::kind.eq("message"))
        .filter(events::deleted.eq(false))
        .filter(events::sender.ne(sender))
        .filter(
            events::sender_id
                .is_null()
                .or(events::sender_id.ne(user_id)),
        )
        .order(events::seq.asc())
        .limit(cap)
        .select(events::body)
        .load(c))
}

/// `(room, members)`: how many users have an open window on each of these rooms.
pub fn open_member_counts(conn: &mut Conn, room_ids: &[i64]) -> QueryResult<Vec<(i64, i64)>> {
    spans::table
        .filter(spans::room_id.eq_any(room_ids))
        .filter(spans::to_seq.eq(OPEN))
        .group_by(spans::room_id)
        .select((spans::room_id, diesel::dsl::count_star()))
        .load(conn)
}

/// `(room, user)` for every user with an open window on these rooms.
pub fn open_members(conn: &mut Conn, room_ids: &[i64]) -> QueryResult<Vec<(i64, String)>> {
    spans::table
        .filter(spans::room_id.eq_any(room_ids))
        .filter(spans::to_seq.eq(OPEN))
        .select((spans::room_id, spans::user_id))
        .load(conn)
}

/// Users with an open window on any room where `user_id` has one (channels, mirrors, DMs): who
/// shares a conversation with them (the user included).
pub fn co_members(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<String>> {
    let mine: Vec<i64> = open_rooms(conn, user_id)?
        .into_iter()
        .map(|r| r.room_id)
        .collect();
    spans::table
        .filter(spans::room_id.eq_any(mine))
        .filter(spans::to_seq.eq(OPEN))
        .select(spans::user_id)
        .distinct()
        .load(conn)
}

/// Keys of DM rooms with a user of another server (`dm:<local id>:<handle>`) that end in
/// `handle`, with the local user's id.
pub fn dm_rooms_with(conn: &mut Conn, handle: &str) -> QueryResult<Vec<(i64, String)>> {
    let suffix = format!(":{handle}");
    let rows: Vec<(i64, String)> = rooms::table
        .filter(rooms::kind.eq("dm"))
        .filter(rooms::room_key.like(format!("%{suffix}")))
        .select((rooms::id, rooms::room_key))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter(|(_, key)| key.ends_with(&suffix))
        .collect())
}

/// A local user's profile fields.
#[derive(Debug, Clone, Default, Queryable, Selectable)]
#[diesel(table_name = profiles)]
pub struct ProfileRow {
    pub display_name: Option<String>,
    pub avatar: Option<String>,
    pub status: String,
    pub status_message: Option<String>,
}

/// The user's profile fields, when they set any.
pub fn profile(conn: &mut Conn, user_id: &str) -> QueryResult<Option<ProfileRow>> {
    per_backend!(conn, |c| profiles::table
        .find(user_id)
        .select(ProfileRow::as_select())
        .first(c)
        .optional())
}

/// Stores the user's profile fields (all of them).
pub fn save_profile(
    conn: &mut Conn,
    user_id: &str,
    row: &ProfileRow,
    now_ms: i64,
) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(profiles::table)
        .values((
            profiles::user_id.eq(user_id),
            profiles::display_name.eq(&row.display_name),
            profiles::avatar.eq(&row.avatar),
            profiles::status.eq(&row.status),
            profiles::status_message.eq(&row.status_message),
            profiles::updated_ms.eq(now_ms),
        ))
        .on_conflict(profiles::user_id)
        .do_update()
        .set((
            profiles::display_name.eq(&row.display_name),
            profiles::avatar.eq(&row.avatar),
            profiles::status.eq(&row.status),
            profiles::status_message.eq(&row.status_message),
            profiles::updated_ms.eq(now_ms),
        ))
        .execute(c))
    .map(drop)
}

/// Local users whose nick or display name contains `needle` (already lower-case, no `%`/`_`
/// wildcards left unescaped), at most `limit`, by nick. Nicks are stored lower-case; display
/// names are compared with `lower()`.
pub fn search_users(
    conn: &mut Conn,
    needle: &str,
    limit: i64,
) -> QueryResult<Vec<(super::models::UserRow, Option<ProfileRow>)>> {
    let pattern = format!("%{needle}%");
    let rows: Vec<(super::models::UserRow, Option<ProfileRow>)> = users::table
        .left_join(profiles::table.on(profiles::user_id.eq(users::id)))
        .filter(
            users::nick.like(&pattern).escape('\\').or(
                diesel::dsl::sql::<diesel::sql_types::Bool>(
                    "lower(COALESCE(profiles.display_name, '')) LIKE ",
                )
                .bind::<diesel::sql_types::Text, _>(pattern.clone())
                .sql(" ESCAPE '\\'"),
            ),
        )
        .order(users::nick.asc())
        .limit(limit)
        .select((
            super::models::UserRow::as_select(),
            Option::<ProfileRow>::as_select(),
        ))
        .load(conn)?;
    Ok(rows)
}

/// Channels hosted here with `handle` (a user of another server) as a member: `(room, name)`.
pub fn rooms_of_remote_member(conn: &mut Conn, handle: &str) -> QueryResult<Vec<(i64, String)>> {
    use super::schema::remote_members;
    remote_members::table
        .inner_join(channels::table.on(channels::room_id.eq(remote_members::room_id)))
        .filter(remote_members::handle.eq(handle))
        .select((channels::room_id, channels::name))
        .load(conn)
}
