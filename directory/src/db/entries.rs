//! The append-only entry log.

use diesel::prelude::*;

use super::models::{EntryRow, NewEntry};
use super::schema::entries;
use super::Conn;

/// Appends an entry whose JSON is filled in later by [`set_json`] (its signature covers the
/// `seq` this returns). Runs inside the caller's transaction.
pub fn append(conn: &mut Conn, new: &NewEntry<'_>) -> QueryResult<i64> {
    diesel::insert_into(entries::table)
        .values(new)
        .returning(entries::seq)
        .get_result(conn)
}

/// Stores the signed JSON of entry `seq`.
pub fn set_json(conn: &mut Conn, seq: i64, json: &str) -> QueryResult<()> {
    diesel::update(entries::table.find(seq))
        .set(entries::entry.eq(json))
        .execute(conn)
        .map(drop)
}

/// Entries with `seq > since`, ascending, at most `limit`.
pub fn after(conn: &mut Conn, since: i64, limit: i64) -> QueryResult<Vec<EntryRow>> {
    entries::table
        .filter(entries::seq.gt(since))
        .order(entries::seq.asc())
        .limit(limit)
        .select(EntryRow::as_select())
        .load(conn)
}

/// The newest entry about `server_name`.
pub fn latest_for(conn: &mut Conn, server_name: &str) -> QueryResult<Option<EntryRow>> {
    entries::table
        .filter(entries::server_name.eq(server_name))
        .order(entries::seq.desc())
        .select(EntryRow::as_select())
        .first(conn)
        .optional()
}

/// The highest `seq`, 0 for an empty log.
pub fn max_seq(conn: &mut Conn) -> QueryResult<i64> {
    entries::table
        .select(diesel::dsl::max(entries::seq))
        .first::<Option<i64>>(conn)
        .map(|max| max.unwrap_or(0))
}
