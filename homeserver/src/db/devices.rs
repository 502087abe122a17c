//! Devices: one per login, each with a hashed token, a sync cursor and a last-seen time.

use diesel::prelude::*;

use super::models::{DeviceRow, UserRow};
use super::schema::{devices, txns, users};
use super::Conn;

/// Adds a device.
pub fn insert(conn: &mut Conn, row: &DeviceRow) -> QueryResult<()> {
    diesel::insert_into(devices::table)
        .values(row)
        .execute(conn)
        .map(drop)
}

/// The device holding this token hash, with its user.
pub fn by_token_hash(
    conn: &mut Conn,
    token_hash: &str,
) -> QueryResult<Option<(DeviceRow, UserRow)>> {
    devices::table
        .inner_join(users::table)
        .filter(devices::token_hash.eq(token_hash))
        .select((DeviceRow::as_select(), UserRow::as_select()))
        .first(conn)
        .optional()
}

/// Records that the device was used now.
pub fn touch(conn: &mut Conn, id: &str, now_ms: i64) -> QueryResult<()> {
    diesel::update(devices::table.find(id))
        .set(devices::last_seen_ms.eq(now_ms))
        .execute(conn)
        .map(drop)
}

/// Removes a device (logout or expiry) and its transaction records.
pub fn delete(conn: &mut Conn, id: &str) -> QueryResult<()> {
    diesel::delete(txns::table.filter(txns::device_id.eq(id))).execute(conn)?;
    diesel::delete(devices::table.find(id))
        .execute(conn)
        .map(drop)
}

/// Removes devices idle since before `cutoff_ms`; returns how many.
pub fn delete_idle(conn: &mut Conn, cutoff_ms: i64) -> QueryResult<usize> {
    let idle = devices::table
        .filter(devices::last_seen_ms.lt(cutoff_ms))
        .select(devices::id);
    diesel::delete(txns::table.filter(txns::device_id.eq_any(idle))).execute(conn)?;
    diesel::delete(devices::table.filter(devices::last_seen_ms.lt(cutoff_ms))).execute(conn)
}

/// Moves the device's acknowledged cursor forward (never back).
pub fn advance_cursor(conn: &mut Conn, id: &str, cursor: i64) -> QueryResult<()> {
    diesel::update(devices::table.find(id).filter(devices::cursor.lt(cursor)))
        .set(devices::cursor.eq(cursor))
        .execute(conn)
        .map(drop)
}

/// The device's stored cursor.
pub fn cursor(conn: &mut Conn, id: &str) -> QueryResult<i64> {
    devices::table.find(id).select(devices::cursor).first(conn)
}

/// The most recent time any device of the user was seen.
pub fn user_last_seen(conn: &mut Conn, user_id: &str) -> QueryResult<Option<i64>> {
    devices::table
        .filter(devices::user_id.eq(user_id))
        .select(diesel::dsl::max(devices::last_seen_ms))
        .first(conn)
}

/// A stored answer to an earlier send with this transaction id.
pub fn txn_response(conn: &mut Conn, device_id: &str, txn_id: &str) -> QueryResult<Option<String>> {
    txns::table
        .find((device_id, txn_id))
        .select(txns::response)
        .first(conn)
        .optional()
}

/// Remembers the answer to a send with this transaction id.
pub fn save_txn(
    conn: &mut Conn,
    device_id: &str,
    txn_id: &str,
    response: &str,
    now_ms: i64,
) -> QueryResult<()> {
    diesel::insert_into(txns::table)
        .values((
            txns::device_id.eq(device_id),
            txns::txn_id.eq(txn_id),
            txns::response.eq(response),
            txns::created_ms.eq(now_ms),
        ))
        .execute(conn)
        .map(drop)
}

/// Replaces the stored answer of a transaction (a pending send that has now completed).
pub fn replace_txn(
    conn: &mut Conn,
    device_id: &str,
    txn_id: &str,
    response: &str,
) -> QueryResult<()> {
    diesel::update(txns::table.find((device_id, txn_id)))
        .set(txns::response.eq(response))
        .execute(conn)
        .map(drop)
}
