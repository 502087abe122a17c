//! The servers' records.

use diesel::prelude::*;

use super::models::{PeerRow, ServerRow, STATUS_GONE, STATUS_UP};
use super::schema::{peers, servers};
use super::Conn;

/// The record of `name`.
pub fn get(conn: &mut Conn, name: &str) -> QueryResult<Option<ServerRow>> {
    servers::table
        .find(name)
        .select(ServerRow::as_select())
        .first(conn)
        .optional()
}

/// Inserts or replaces the record of `row.name`.
pub fn upsert(conn: &mut Conn, row: &ServerRow) -> QueryResult<()> {
    diesel::insert_into(servers::table)
        .values(row)
        .on_conflict(servers::name)
        .do_update()
        .set(row)
        .execute(conn)
        .map(drop)
}

/// Records a heartbeat (or an unchanged re-registration).
pub fn touch(conn: &mut Conn, name: &str, now_ms: i64) -> QueryResult<()> {
    diesel::update(servers::table.find(name))
        .set(servers::last_heartbeat_ms.eq(now_ms))
        .execute(conn)
        .map(drop)
}

/// Records an unchanged re-registration: its `ts` becomes the replay guard.
pub fn refresh_registration(conn: &mut Conn, name: &str, ts: i64, now_ms: i64) -> QueryResult<()> {
    diesel::update(servers::table.find(name))
        .set((
            servers::last_reg_ts.eq(ts),
            servers::last_heartbeat_ms.eq(now_ms),
        ))
        .execute(conn)
        .map(drop)
}

/// Marks a server gone; `banned` and `released` as given.
pub fn mark_gone(
    conn: &mut Conn,
    name: &str,
    banned: bool,
    released: bool,
    now_ms: i64,
) -> QueryResult<()> {
    diesel::update(servers::table.find(name))
        .set((
            servers::status.eq(STATUS_GONE),
            servers::banned.eq(banned),
            servers::released.eq(released),
            servers::updated_ms.eq(now_ms),
        ))
        .execute(conn)
        .map(drop)
}

/// Names of the servers that are up but whose last heartbeat is older than `cutoff_ms`.
pub fn silent_since(conn: &mut Conn, cutoff_ms: i64) -> QueryResult<Vec<String>> {
    servers::table
        .filter(servers::status.eq(STATUS_UP))
        .filter(servers::last_heartbeat_ms.lt(cutoff_ms))
        .order(servers::name.asc())
        .select(servers::name)
        .load(conn)
}

/// Every server with its push state, by name.
pub fn all_with_peers(conn: &mut Conn) -> QueryResult<Vec<(ServerRow, Option<PeerRow>)>> {
    servers::table
        .left_join(peers::table)
        .order(servers::name.asc())
        .select((ServerRow::as_select(), Option::<PeerRow>::as_select()))
        .load(conn)
}
