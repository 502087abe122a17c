//! Small facts about this directory, as key/value text.

use diesel::prelude::*;

use super::schema::meta;
use super::Conn;

/// Key of the name the directory signs its entries as.
pub const SERVER_NAME: &str = "server_name";

/// The value stored under `key`.
pub fn get(conn: &mut Conn, key: &str) -> QueryResult<Option<String>> {
    meta::table
        .find(key)
        .select(meta::value)
        .first(conn)
        .optional()
}

/// Stores `value` under `key`, replacing what was there.
pub fn set(conn: &mut Conn, key: &str, value: &str) -> QueryResult<()> {
    diesel::insert_into(meta::table)
        .values((meta::key.eq(key), meta::value.eq(value)))
        .on_conflict(meta::key)
        .do_update()
        .set(meta::value.eq(value))
        .execute(conn)
        .map(drop)
}
