//! Push state per peer: a cursor over the entry log plus the retry schedule.

use diesel::prelude::*;

use super::models::{PeerRow, STATUS_UP};
use super::schema::{peers, servers};
use super::Conn;

/// A peer whose turn it is, with the URL to push to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DuePeer {
    /// Its push state.
    pub peer: PeerRow,
    /// Its base URL.
    pub url: String,
}

/// Creates the state of a new peer with the cursor at 0 (it will receive the whole log), or
/// moves an existing one back to 0 (it rejoined, possibly as a fresh install).
pub fn start_from_zero(conn: &mut Conn, name: &str) -> QueryResult<()> {
    diesel::insert_into(peers::table)
        .values((
            peers::name.eq(name),
            peers::acked_seq.eq(0),
            peers::failures.eq(0),
            peers::next_retry_ms.eq(0),
        ))
        .on_conflict(peers::name)
        .do_update()
        .set((
            peers::acked_seq.eq(0),
            peers::failures.eq(0),
            peers::next_retry_ms.eq(0),
        ))
        .execute(conn)
        .map(drop)
}

/// Makes a failing peer due now (it just proved it is reachable).
pub fn reset_backoff(conn: &mut Conn, name: &str) -> QueryResult<()> {
    diesel::update(peers::table.find(name))
        .set((peers::failures.eq(0), peers::next_retry_ms.eq(0)))
        .execute(conn)
        .map(drop)
}

/// The state of one peer.
pub fn get(conn: &mut Conn, name: &str) -> QueryResult<Option<PeerRow>> {
    peers::table
        .find(name)
        .select(PeerRow::as_select())
        .first(conn)
        .optional()
}

/// Peers that are up, behind `max_seq` and not waiting for a retry at `now_ms`.
pub fn due(conn: &mut Conn, max_seq: i64, now_ms: i64) -> QueryResult<Vec<DuePeer>> {
    let rows: Vec<(PeerRow, String)> = peers::table
        .inner_join(servers::table)
        .filter(servers::status.eq(STATUS_UP))
        .filter(peers::acked_seq.lt(max_seq))
        .filter(peers::next_retry_ms.le(now_ms))
        .order(peers::name.asc())
        .select((PeerRow::as_select(), servers::url))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(peer, url)| DuePeer { peer, url })
        .collect())
}

/// The earliest retry after `now_ms` of an up peer that is behind `max_seq`.
pub fn next_retry(conn: &mut Conn, max_seq: i64, now_ms: i64) -> QueryResult<Option<i64>> {
    peers::table
        .inner_join(servers::table)
        .filter(servers::status.eq(STATUS_UP))
        .filter(peers::acked_seq.lt(max_seq))
        .filter(peers::next_retry_ms.gt(now_ms))
        .select(diesel::dsl::min(peers::next_retry_ms))
        .first(conn)
}

/// Records that the peer accepted the entries `(from, to]`. The cursor moves only if it is
/// still at `from` (a rejoin may have moved it back meanwhile). Returns whether it moved.
pub fn record_success(
    conn: &mut Conn,
    name: &str,
    from: i64,
    to: i64,
    now_ms: i64,
) -> QueryResult<bool> {
    let moved = diesel::update(peers::table.find(name).filter(peers::acked_seq.eq(from)))
        .set((
            peers::acked_seq.eq(to),
            peers::failures.eq(0),
            peers::next_retry_ms.eq(0),
            peers::last_error.eq(None::<String>),
            peers::last_success_ms.eq(Some(now_ms)),
        ))
        .execute(conn)?;
    Ok(moved > 0)
}

/// Records a failed push and when to try again.
pub fn record_failure(
    conn: &mut Conn,
    name: &str,
    failures: i64,
    next_retry_ms: i64,
    error: &str,
) -> QueryResult<()> {
    diesel::update(peers::table.find(name))
        .set((
            peers::failures.eq(failures),
            peers::next_retry_ms.eq(next_retry_ms),
            peers::last_error.eq(Some(error)),
        ))
        .execute(conn)
        .map(drop)
}
