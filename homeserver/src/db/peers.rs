//! Federation peers and the directory link's state.

use diesel::prelude::*;

use super::schema::{directory_state, peers};
use super::{per_backend, Conn};

/// A known peer server.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = peers)]
pub struct PeerRow {
    pub server_name: String,
    pub url: String,
    pub verify_keys: String,
    pub status: String,
    pub source: String,
    pub directory_seq: i64,
    pub updated_ms: i64,
}

/// All peers, by name.
pub fn all(conn: &mut Conn) -> QueryResult<Vec<PeerRow>> {
    peers::table
        .order(peers::server_name.asc())
        .select(PeerRow::as_select())
        .load(conn)
}

/// One peer.
pub fn get(conn: &mut Conn, server_name: &str) -> QueryResult<Option<PeerRow>> {
    per_backend!(conn, |c| peers::table
        .find(server_name)
        .select(PeerRow::as_select())
        .first(c)
        .optional())
}

/// Inserts or replaces a peer.
pub fn upsert(conn: &mut Conn, row: &PeerRow) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(peers::table)
        .values(row)
        .on_conflict(peers::server_name)
        .do_update()
        .set(row)
        .execute(c))
    .map(drop)
}

/// The directory pull cursor (0 before the first pull).
pub fn pull_cursor(conn: &mut Conn) -> QueryResult<i64> {
    let cursor: Option<i64> = directory_state::table
        .find(1)
        .select(directory_state::pull_cursor)
        .first(conn)
        .optional()?;
    Ok(cursor.unwrap_or(0))
}

/// Records a pull: the new cursor, when, and the error if it failed.
pub fn record_pull(
    conn: &mut Conn,
    cursor: i64,
    now_ms: i64,
    error: Option<&str>,
) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(directory_state::table)
        .values((
            directory_state::id.eq(1),
            directory_state::pull_cursor.eq(cursor),
            directory_state::last_pull_ms.eq(now_ms),
            directory_state::last_error.eq(error),
        ))
        .on_conflict(directory_state::id)
        .do_update()
        .set((
            directory_state::pull_cursor.eq(cursor),
            directory_state::last_pull_ms.eq(now_ms),
            directory_state::last_error.eq(error),
        ))
        .execute(c))
    .map(drop)
}

/// The directory link's stored state.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = directory_state)]
pub struct DirectoryStateRow {
    pub pull_cursor: i64,
    pub last_pull_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// The directory link's stored state, once it has pulled.
pub fn directory_state(conn: &mut Conn) -> QueryResult<Option<DirectoryStateRow>> {
    directory_state::table
        .find(1)
        .select(DirectoryStateRow::as_select())
        .first(conn)
        .optional()
}
