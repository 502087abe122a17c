//! The end of a writer's batch: its kept events inserted, then its rooms' counters written and
//! their oldest events rotated out.
//!
//! On SQLite these are calls into the library ([`super::appends`] keeps nothing there;
//! [`room_counters::flush`] writes each room). On Postgres the batch holds the writers' turn
//! until it commits, and every round trip in between is time no other process can write. The
//! events' `INSERT`, then per room the rotation's `DELETE` and the counters' `UPDATE`, are one
//! call of the function `hearth_end_batch` (migration `2026-12-22-000002_batch_round_trips`),
//! and that call goes in one message with the transaction's `COMMIT` ([`commit`]): the turn
//! passes on as soon as Postgres has run them, without a round trip to this process in between.
//!
//! A message that holds two statements uses the simple protocol, which has no bound
//! parameters, so the call's arguments are written as constants ([`super::pg_literal`]). And the
//! writer cannot read the call's answer before the `COMMIT` (how many events each room's
//! rotation removed, and where it cut): the call keeps it in the session setting
//! `hearth.ended`, tagged with the batch's number, and the next turn returns it ([`ended`]),
//! before the next batch counts anything.

use std::cell::RefCell;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::QueryResult;

use super::models::EventRow;
use super::pg_literal::{self, NulInText};
use super::room_counters::{self, Counters, Ending};
use super::{appends, DbConn};

/// The writer thread's batch end on Postgres, from [`end_batch`] to the next turn.
#[derive(Default)]
struct State {
    /// The call of `hearth_end_batch` for the running batch, to be sent with its `COMMIT`.
    call: Option<String>,
    /// The number of the last batch whose call was made.
    batch: u64,
    /// The rooms of the last committed call, in the order given, awaiting its answer.
    awaiting: Vec<Ending>,
}

thread_local! {
    static STATE: RefCell<State> = RefCell::new(State::default());
}

/// Ends the batch: inserts its kept events and writes its rooms' counters, with their
/// rotation. On Postgres the call is only written here, and [`commit`] sends it with the
/// transaction's `COMMIT`; its answer comes with the next turn ([`ended`]).
pub fn end_batch(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(_) => {
            let rows = appends::take_kept();
            let rooms = room_counters::take_pending();
            if rows.is_empty() && rooms.is_empty() {
                return Ok(());
            }
            STATE.with(|s| {
                let mut state = s.borrow_mut();
                let batch = state.batch + 1;
                let call = call(batch, &rows, &rooms)
                    .map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))?;
                state.batch = batch;
                state.call = Some(call);
                state.awaiting = rooms;
                Ok(())
            })
        }
        DbConn::Sqlite(_) => {
            appends::insert_kept(conn)?;
            room_counters::flush(conn)
        }
    }
}

/// Commits the running write transaction on Postgres, in one message with the batch's end
/// when [`end_batch`] wrote one: the turn passes on without a round trip to this process in
/// between. A failure rolls the transaction back.
pub fn commit(conn: &mut PgConnection) -> QueryResult<()> {
    let Some(mut call) = STATE.with(|s| s.borrow_mut().call.take()) else {
        return AnsiTransactionManager::commit_transaction(conn);
    };
    call.push_str(" COMMIT");
    // diesel follows libpq's transaction status after each message: once the `COMMIT` has
    // run, it knows that no transaction is open.
    match conn.batch_execute(&call) {
        Ok(()) => Ok(()),
        Err(e) => {
            forget();
            // Postgres rolled back what it ran and waits for the `ROLLBACK` (unless the
            // `COMMIT` itself failed, which closed the transaction).
            let open = AnsiTransactionManager::transaction_manager_status_mut(conn)
                .transaction_depth()
                .ok()
                .flatten()
                .is_some();
            if open {
                AnsiTransactionManager::rollback_transaction(conn)?;
            }
            Err(e)
        }
    }
}

/// Forgets the batch's end: the running transaction rolls back, or the writer drops what it
/// cached. (The answer of the previous batch was applied when the transaction took the turn.)
pub fn forget() {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        state.call = None;
        state.awaiting.clear();
    });
}

/// Applies the answer of the last batch's end, as the turn returned it (`"<batch> <removed>
/// <cut>"`, the session setting `hearth.ended`): per room, how many events its rotation removed
/// and the highest `seq` it removed. An answer that is missing or not that batch's (the
/// connection was replaced) makes the writer forget the rooms' counters instead, which are
/// then read again.
pub fn ended(answer: Option<&str>) {
    let (batch, rooms) = STATE.with(|s| {
        let mut state = s.borrow_mut();
        (state.batch, std::mem::take(&mut state.awaiting))
    });
    if rooms.is_empty() {
        return;
    }
    let Some((removed, cut)) = answer.and_then(|a| parse_answer(a, batch, rooms.len())) else {
        tracing::warn!(
            batch,
            "the answer of a batch's end was lost; room counters are read again"
        );
        room_counters::forget();
        return;
    };
    let mut written = Vec::with_capacity(rooms.len());
    for ((room, removed), cut) in rooms.iter().zip(removed).zip(cut) {
        if let Some(last) = cut {
            room_counters::cut(room.room_id, last);
        }
        written.push((
            room.room_id,
            Counters {
                count: room.counters.count - removed,
                last_room_seq: room.counters.last_room_seq,
            },
        ));
    }
    room_counters::written(&written);
}

/// Per room: events removed, highest `seq` removed.
type Answer = (Vec<i64>, Vec<Option<i64>>);

/// Parses `"<batch> {r1,r2} {c1,NULL}"` when it is `batch`'s answer for `rooms` rooms.
fn parse_answer(answer: &str, batch: u64, rooms: usize) -> Option<Answer> {
    let mut parts = answer.split(' ');
    if parts.next()?.parse::<u64>().ok()? != batch {
        return None;
    }
    let removed = array(parts.next()?)?
        .into_iter()
        .collect::<Option<Vec<i64>>>()?;
    let cut = array(parts.next()?)?;
    (removed.len() == rooms && cut.len() == rooms && parts.next().is_none())
        .then_some((removed, cut))
}

/// A `bigint[]` in Postgres's output form (`{1,NULL}`).
fn array(text: &str) -> Option<Vec<Option<i64>>> {
    let inner = text.strip_prefix('{')?.strip_suffix('}')?;
    if inner.is_empty() {
        return Some(Vec::new());
    }
    inner
        .split(',')
        .map(|item| match item {
            "NULL" => Some(None),
            n => n.parse().ok().map(Some),
        })
        .collect()
}

/// The statement that ends batch number `batch`: `hearth_end_batch` (migration
/// `2026-12-22-000002_batch_round_trips`) with the events' columns and the rooms' counters as
/// constants, its answer kept in `hearth.ended` for the next turn (migration
/// `2026-12-23-000001_batch_end_with_its_commit`). The function is called in a select list, not
/// in `FROM`, where its one row would be copied into a tuplestore (migration
/// `2026-12-25-000001_batch_end_without_tuplestores`); `OFFSET 0` keeps the subquery whole, so
/// the call runs once.
fn call(batch: u64, rows: &[EventRow], rooms: &[Ending]) -> Result<String, NulInText> {
    let body_bytes: usize = rows.iter().map(|r| r.body.len() + r.meta.len()).sum();
    let mut sql = String::with_capacity(1024 + 2 * body_bytes);
    sql.push_str("SELECT set_config('hearth.ended', '");
    sql.push_str(&batch.to_string());
    sql.push_str(" ' || (s.e).removed::text || ' ' || (s.e).cut::text, false) FROM (SELECT hearth_end_batch(");
    appends::event_columns(&mut sql, rows, appends::Columns::Arrays)?;
    for column in [
        |r: &Ending| r.room_id,
        |r: &Ending| r.counters.count,
        |r: &Ending| r.counters.last_room_seq,
        |r: &Ending| r.max_history,
        |r: &Ending| r.floor,
    ] {
        sql.push_str(", ");
        pg_literal::bigints(&mut sql, rooms.iter().map(|r| Some(column(r))));
    }
    sql.push_str(") AS e OFFSET 0) AS s;");
    Ok(sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse_only_for_their_batch() {
        assert_eq!(
            parse_answer("7 {0,3} {NULL,41}", 7, 2),
            Some((vec![0, 3], vec![None, Some(41)]))
        );
        assert_eq!(parse_answer("6 {0,3} {NULL,41}", 7, 2), None);
        assert_eq!(parse_answer("7 {0} {NULL}", 7, 2), None);
        assert_eq!(parse_answer("7 {} {}", 7, 0), Some((vec![], vec![])));
        assert_eq!(parse_answer("", 7, 1), None);
        assert_eq!(parse_answer("7 {NULL} {1}", 7, 1), None);
        assert_eq!(parse_answer("7 {1} {1} x", 7, 1), None);
    }
}
