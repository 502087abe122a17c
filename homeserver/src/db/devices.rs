//! Devices: one per login, each with a hashed token, a sync cursor and a last-seen time.

use diesel::prelude::*;

use diesel::sql_types::{BigInt, Text};

use super::models::{DeviceRow, UserRow};
use super::prepared::{prepared, Statement};
use super::schema::{devices, txns, users};
use super::{cached_sql, per_backend, Conn, DbConn};

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
    per_backend!(conn, |c| devices::table
        .inner_join(users::table)
        .filter(devices::token_hash.eq(token_hash))
        .select((DeviceRow::as_select(), UserRow::as_select()))
        .first(c)
        .optional())
}

/// Records that the device was used now.
pub fn touch(conn: &mut Conn, id: &str, now_ms: i64) -> QueryResult<()> {
    cached_sql!(conn, "UPDATE devices SET last_seen_ms = $1 WHERE id = $2",
        BigInt => now_ms, Text => id)
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

/// Moves many devices' cursors forward (never back) with one statement: diesel prepares every
/// `UPDATE` again on each run, so one per device cost a statement compilation each.
pub fn advance_cursors(conn: &mut Conn, cursors: &[(String, i64)]) -> QueryResult<()> {
    if cursors.is_empty() {
        return Ok(());
    }
    let by_device: serde_json::Map<String, serde_json::Value> = cursors
        .iter()
        .map(|(device, cursor)| (device.clone(), (*cursor).into()))
        .collect();
    let json = serde_json::Value::Object(by_device).to_string();
    match conn {
        DbConn::Sqlite(c) => prepared(
            "UPDATE devices SET cursor = j.value FROM json_each($1) AS j \
             WHERE devices.id = j.key AND devices.cursor < j.value",
        )
        .bind::<Text, _>(&json)
        .execute(c),
        DbConn::Postgres(c) => prepared(
            "UPDATE devices SET cursor = j.value::bigint FROM json_each_text($1::json) AS j \
             WHERE devices.id = j.key AND devices.cursor < j.value::bigint",
        )
        .bind::<Text, _>(&json)
        .execute(c),
    }
    .map(drop)
}

/// The device's stored cursor.
pub fn cursor(conn: &mut Conn, id: &str) -> QueryResult<i64> {
    per_backend!(conn, |c| devices::table
        .find(id)
        .select(devices::cursor)
        .first(c))
}

/// Whether the device exists (it has not logged out or been reaped).
pub fn exists(conn: &mut Conn, id: &str) -> QueryResult<bool> {
    per_backend!(conn, |c| devices::table
        .find(id)
        .select(devices::cursor)
        .first::<i64>(c)
        .optional()
        .map(|cursor| cursor.is_some()))
}

/// The oldest device of the user with this name (the IRC gateway's devices are named).
pub fn by_user_and_name(conn: &mut Conn, user_id: &str, name: &str) -> QueryResult<Option<String>> {
    devices::table
        .filter(devices::user_id.eq(user_id))
        .filter(devices::name.eq(name))
        .order((devices::created_ms.asc(), devices::id.asc()))
        .select(devices::id)
        .first(conn)
        .optional()
}

/// The names of the user's devices, oldest first.
pub fn names_of(conn: &mut Conn, user_id: &str) -> QueryResult<Vec<String>> {
    devices::table
        .filter(devices::user_id.eq(user_id))
        .order((devices::created_ms.asc(), devices::id.asc()))
        .select(devices::name)
        .load(conn)
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
    per_backend!(conn, |c| txns::table
        .find((device_id, txn_id))
        .select(txns::response)
        .first(c)
        .optional())
}

/// Remembers the answer to a send with this transaction id.
pub fn save_txn(
    conn: &mut Conn,
    device_id: &str,
    txn_id: &str,
    response: &str,
    now_ms: i64,
) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(txns::table)
        .values((
            txns::device_id.eq(device_id),
            txns::txn_id.eq(txn_id),
            txns::response.eq(response),
            txns::created_ms.eq(now_ms),
        ))
        .execute(c)
        .map(drop))
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

/// Forgets the stored answers of `txn_id`s older than `cutoff_ms`: a client retries a send
/// within minutes, not days, so the window is bounded and the table does not grow forever.
pub fn forget_txns_before(conn: &mut Conn, cutoff_ms: i64) -> QueryResult<usize> {
    diesel::delete(txns::table.filter(txns::created_ms.lt(cutoff_ms))).execute(conn)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{users as user_rows, Db, DbError};

    #[tokio::test]
    async fn many_cursors_move_forward_in_one_statement_never_back() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        let cursors = db
            .write(|conn| {
                let alice = UserRow::for_test("alice");
                user_rows::insert(conn, &alice)?;
                for (id, cursor) in [("a", 5), ("b", 5), ("c", 5)] {
                    insert(
                        conn,
                        &DeviceRow {
                            id: id.into(),
                            user_id: alice.id.clone(),
                            token_hash: format!("hash-{id}"),
                            name: "d".into(),
                            created_ms: 0,
                            last_seen_ms: 0,
                            cursor,
                        },
                    )?;
                }
                advance_cursors(
                    conn,
                    &[("a".into(), 9), ("b".into(), 3), ("gone".into(), 7)],
                )?;
                Ok::<_, DbError>([cursor(conn, "a")?, cursor(conn, "b")?, cursor(conn, "c")?])
            })
            .await
            .unwrap();
        assert_eq!(cursors, [9, 5, 5]);
    }
}
