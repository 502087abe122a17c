//! Accounts.

use std::cell::RefCell;
use std::collections::HashMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};

use super::models::UserRow;
use super::schema::users;
use super::{cached_sql, per_backend, Conn};

/// Inserts a new account (fails with a unique violation when the nick is taken).
pub fn insert(conn: &mut Conn, row: &UserRow) -> QueryResult<()> {
    diesel::insert_into(users::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The account with this (lower-case) nick.
pub fn by_nick(conn: &mut Conn, nick: &str) -> QueryResult<Option<UserRow>> {
    per_backend!(conn, |c| users::table
        .filter(users::nick.eq(nick))
        .select(UserRow::as_select())
        .first(c)
        .optional())
}

/// The account with this id.
pub fn by_id(conn: &mut Conn, id: &str) -> QueryResult<Option<UserRow>> {
    per_backend!(conn, |c| users::table
        .find(id)
        .select(UserRow::as_select())
        .first(c)
        .optional())
}

/// Renames an account.
pub fn set_nick(conn: &mut Conn, id: &str, nick: &str) -> QueryResult<()> {
    diesel::update(users::table.find(id))
        .set(users::nick.eq(nick))
        .execute(conn)
        .map(drop)
}

/// Most users whose last stored activity a thread remembers; past it it starts over.
const MARKED_MAX: usize = 100_000;

thread_local! {
    /// When this thread last stored each user's activity (the writer thread runs them all).
    static MARKED: RefCell<HashMap<String, i64>> = RefCell::new(HashMap::new());
}

/// Records activity (sending, joining, …) for idle time, at most once per `resolution_ms` per
/// user: within that time of the last time this thread stored it, nothing is read or written
/// (an idle time is shown in seconds; a send must not cost a round trip for it). Never moves
/// the time back. A write that rolls back after this leaves the stored time at most one
/// `resolution_ms` behind.
pub fn touch_active(conn: &mut Conn, id: &str, now_ms: i64, resolution_ms: i64) -> QueryResult<()> {
    let recent = MARKED.with(|marked| {
        marked
            .borrow()
            .get(id)
            .is_some_and(|&at| (0..resolution_ms).contains(&(now_ms - at)))
    });
    if recent {
        return Ok(());
    }
    cached_sql!(conn, "UPDATE users SET last_active_ms = $1 WHERE id = $2 AND last_active_ms < $3",
        BigInt => now_ms, Text => id, BigInt => now_ms)?;
    MARKED.with(|marked| {
        let mut marked = marked.borrow_mut();
        if marked.len() >= MARKED_MAX {
            marked.clear();
        }
        marked.insert(id.to_string(), now_ms);
    });
    Ok(())
}

/// Number of local accounts.
pub fn count(conn: &mut Conn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}
