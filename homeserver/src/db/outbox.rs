//! The federation outbox, per-destination delivery state, and received transactions.

use diesel::prelude::*;

use super::schema::{destinations, outbox, received_txns, seen_requests};
use super::{per_backend, Conn};

/// A queued payload.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = outbox)]
pub struct OutboxRow {
    pub id: i64,
    pub destination: String,
    pub event_id: String,
    pub payload: String,
    pub created_ms: i64,
}

/// Delivery state of one destination.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = destinations)]
pub struct DestinationRow {
    pub server_name: String,
    pub failures: i64,
    pub next_retry_ms: i64,
    pub last_attempt_ms: Option<i64>,
    pub last_success_ms: Option<i64>,
    pub last_error: Option<String>,
}

/// Queues a payload for a destination (inside the transaction that stores the event).
pub fn enqueue(
    conn: &mut Conn,
    destination: &str,
    event_id: &str,
    payload: &str,
    now_ms: i64,
) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(outbox::table)
        .values((
            outbox::destination.eq(destination),
            outbox::event_id.eq(event_id),
            outbox::payload.eq(payload),
            outbox::created_ms.eq(now_ms),
        ))
        .execute(c))?;
    per_backend!(conn, |c| diesel::insert_into(destinations::table)
        .values(destinations::server_name.eq(destination))
        .on_conflict_do_nothing()
        .execute(c))
    .map(drop)
}

/// The oldest queued payloads of a destination, in order.
pub fn pending(conn: &mut Conn, destination: &str, limit: i64) -> QueryResult<Vec<OutboxRow>> {
    outbox::table
        .filter(outbox::destination.eq(destination))
        .order(outbox::id.asc())
        .limit(limit)
        .select(OutboxRow::as_select())
        .load(conn)
}

/// Destinations with queued payloads whose retry time has come.
pub fn due(conn: &mut Conn, now_ms: i64) -> QueryResult<Vec<String>> {
    destinations::table
        .filter(destinations::next_retry_ms.le(now_ms))
        .filter(diesel::dsl::exists(
            outbox::table.filter(outbox::destination.eq(destinations::server_name)),
        ))
        .select(destinations::server_name)
        .load(conn)
}

/// The earliest retry time among destinations with queued payloads.
pub fn next_due_ms(conn: &mut Conn) -> QueryResult<Option<i64>> {
    destinations::table
        .filter(diesel::dsl::exists(
            outbox::table.filter(outbox::destination.eq(destinations::server_name)),
        ))
        .select(diesel::dsl::min(destinations::next_retry_ms))
        .first(conn)
}

/// Records an acknowledged transaction: its payloads leave the queue, the backoff resets.
pub fn acknowledge(
    conn: &mut Conn,
    destination: &str,
    up_to_id: i64,
    now_ms: i64,
) -> QueryResult<()> {
    diesel::delete(
        outbox::table
            .filter(outbox::destination.eq(destination))
            .filter(outbox::id.le(up_to_id)),
    )
    .execute(conn)?;
    diesel::update(destinations::table.find(destination))
        .set((
            destinations::failures.eq(0),
            destinations::next_retry_ms.eq(0),
            destinations::last_attempt_ms.eq(now_ms),
            destinations::last_success_ms.eq(now_ms),
            destinations::last_error.eq(None::<String>),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a failed attempt and when to retry.
pub fn record_failure(
    conn: &mut Conn,
    destination: &str,
    error: &str,
    next_retry_ms: i64,
    now_ms: i64,
) -> QueryResult<()> {
    diesel::update(destinations::table.find(destination))
        .set((
            destinations::failures.eq(destinations::failures + 1),
            destinations::next_retry_ms.eq(next_retry_ms),
            destinations::last_attempt_ms.eq(now_ms),
            destinations::last_error.eq(error),
        ))
        .execute(conn)
        .map(drop)
}

/// Any request from a peer shows it is back: retry it now.
pub fn reset_backoff(conn: &mut Conn, destination: &str) -> QueryResult<usize> {
    diesel::update(
        destinations::table
            .find(destination)
            .filter(destinations::next_retry_ms.gt(0)),
    )
    .set(destinations::next_retry_ms.eq(0))
    .execute(conn)
}

/// A destination's state.
pub fn destination(conn: &mut Conn, name: &str) -> QueryResult<Option<DestinationRow>> {
    destinations::table
        .find(name)
        .select(DestinationRow::as_select())
        .first(conn)
        .optional()
}

/// Number of queued payloads per destination.
pub fn queue_depths(conn: &mut Conn) -> QueryResult<Vec<(String, i64)>> {
    outbox::table
        .group_by(outbox::destination)
        .select((outbox::destination, diesel::dsl::count_star()))
        .load(conn)
}

/// The stored answer to a transaction received earlier.
pub fn received(conn: &mut Conn, origin: &str, txn_id: &str) -> QueryResult<Option<String>> {
    received_txns::table
        .find((origin, txn_id))
        .select(received_txns::response)
        .first(conn)
        .optional()
}

/// Remembers the answer to a received transaction.
pub fn remember_received(
    conn: &mut Conn,
    origin: &str,
    txn_id: &str,
    response: &str,
    now_ms: i64,
) -> QueryResult<()> {
    per_backend!(conn, |c| diesel::insert_into(received_txns::table)
        .values((
            received_txns::origin.eq(origin),
            received_txns::txn_id.eq(txn_id),
            received_txns::response.eq(response),
            received_txns::created_ms.eq(now_ms),
        ))
        .on_conflict_do_nothing()
        .execute(c))
    .map(drop)
}

/// Takes or renews the lease on sending to `destination` for `owner` (a process) until
/// `until_ms`; `false` while another process holds an unexpired lease. With several processes
/// on one database, only the holder sends, so one transaction is in flight per destination.
pub fn claim(
    conn: &mut Conn,
    destination: &str,
    owner: &str,
    now_ms: i64,
    until_ms: i64,
) -> QueryResult<bool> {
    let taken = diesel::update(
        destinations::table.find(destination).filter(
            destinations::lease_until_ms
                .is_null()
                .or(destinations::lease_until_ms.lt(now_ms))
                .or(destinations::lease_owner.eq(owner)),
        ),
    )
    .set((
        destinations::lease_owner.eq(owner),
        destinations::lease_until_ms.eq(until_ms),
    ))
    .execute(conn)?;
    Ok(taken == 1)
}

/// Gives up `owner`'s lease on `destination`.
pub fn release(conn: &mut Conn, destination: &str, owner: &str) -> QueryResult<()> {
    diesel::update(
        destinations::table
            .find(destination)
            .filter(destinations::lease_owner.eq(owner)),
    )
    .set((
        destinations::lease_owner.eq(None::<String>),
        destinations::lease_until_ms.eq(None::<i64>),
    ))
    .execute(conn)
    .map(drop)
}

/// Remembers the signature of an accepted request until `expires_ms`; `false` if it was already
/// remembered (by this process or another on the same database): a replay.
pub fn remember_signature(conn: &mut Conn, sig: &str, expires_ms: i64) -> QueryResult<bool> {
    let inserted = per_backend!(conn, |c| diesel::insert_into(seen_requests::table)
        .values((
            seen_requests::sig.eq(sig),
            seen_requests::expires_ms.eq(expires_ms),
        ))
        .on_conflict_do_nothing()
        .execute(c))?;
    Ok(inserted == 1)
}

/// Forgets signatures that could no longer pass the clock-skew check.
pub fn forget_signatures_before(conn: &mut Conn, now_ms: i64) -> QueryResult<usize> {
    diesel::delete(seen_requests::table.filter(seen_requests::expires_ms.lt(now_ms))).execute(conn)
}

/// Forgets received transactions older than `cutoff_ms` (a retry comes within hours, not days).
pub fn forget_received_before(conn: &mut Conn, cutoff_ms: i64) -> QueryResult<usize> {
    diesel::delete(received_txns::table.filter(received_txns::created_ms.lt(cutoff_ms)))
        .execute(conn)
}
