//! Accounts.

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

/// Records activity (sending, joining, …) for idle time.
pub fn touch_active(conn: &mut Conn, id: &str, now_ms: i64) -> QueryResult<()> {
    cached_sql!(conn, "UPDATE users SET last_active_ms = $1 WHERE id = $2",
        BigInt => now_ms, Text => id)
    .map(drop)
}

/// When the user last did something.
pub fn last_active_ms(conn: &mut Conn, id: &str) -> QueryResult<Option<i64>> {
    per_backend!(conn, |c| users::table
        .find(id)
        .select(users::last_active_ms)
        .first(c)
        .optional())
}

/// Number of local accounts.
pub fn count(conn: &mut Conn) -> QueryResult<i64> {
    users::table.count().get_result(conn)
}
