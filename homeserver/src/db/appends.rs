//! How the writer appends events on Postgres: `seq`s reserved in blocks, and the events of
//! *appending* writes inserted together, one statement per batch.
//!
//! On SQLite an `INSERT` is a function call; on Postgres it is a round trip, and a send's only
//! change is its event. So on Postgres the writer thread (and only it) numbers events itself
//! and, for writes submitted with [`super::Db::write_appending`], keeps their rows until the
//! batch ends: one multi-row `INSERT` (`unnest` of one array per column, one prepared statement
//! whatever the count) instead of one per send, and no savepoint per send (see below). Each
//! row's search words are computed here ([`super::search::stored_words`]), not by Postgres
//! inside the writers' turn.
//!
//! **Numbers.** The writer reserves a block of [`BLOCK`] values of the `events.seq` identity
//! sequence in one statement, under the writers' turn, and hands them out in the order the
//! writes run; an event of a write that is not appending is inserted at once with its number.
//! So `seq` follows the order of the writes inside a batch as it did, and batches (of every
//! process) follow the turn. Values left over stay usable only while this process keeps the
//! turn ([`batch_began`]): after another process's turn they are dropped (a number below what
//! the other process committed would let a cursor skip it). Dropped or rolled back numbers
//! leave gaps, as a rolled back `INSERT` did; nothing relies on `seq` being dense.
//!
//! **Appending writes** make their checks before their first change. They run without a
//! savepoint of their own: a check that fails undoes their kept rows (and the journal's
//! entries, room counters and caches, as for any write); a write that must change rows before
//! a check calls [`changes`] first, which takes its savepoint then. A failure after changes
//! made without that savepoint would leave them in the batch, so only code that keeps to this
//! goes through `write_appending` (today: `services::messages::send`).
//!
//! The kept rows are inserted before the next write that is not appending runs (so it reads
//! them as if each had been inserted at once), and at the end of the batch, before the rooms'
//! counters rotate old events out. If that `INSERT` fails, the batch fails: every write of it
//! hears an error and nothing of it is stored.

use std::cell::{Cell, RefCell};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::sql_types::BigInt;
use diesel::{QueryResult, RunQueryDsl};

use super::models::EventRow;
use super::pg_literal::{self, NulInText};
use super::prepared::{prepared, Statement};
use super::DbConn;

/// `seq`s reserved at once. A batch of sends uses one reservation per this many events.
pub const BLOCK: i64 = 64;

/// How the running write is kept apart from the others of its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Not on the writer thread of a Postgres database, or a write that inserts at once.
    Immediate,
    /// An appending write that has not changed anything yet (no savepoint taken).
    Appending,
    /// An appending write that took its savepoint ([`changes`]).
    AppendingSaved,
}

thread_local! {
    /// Whether this thread is the writer of a Postgres database.
    static ENABLED: Cell<bool> = const { Cell::new(false) };
    /// Reserved numbers not handed out yet: `next..=last`.
    static SEQS: Cell<Option<(i64, i64)>> = const { Cell::new(None) };
    /// Rows of appending writes, not inserted yet, in `seq` order.
    static KEPT: RefCell<Vec<EventRow>> = const { RefCell::new(Vec::new()) };
    static MODE: Cell<Mode> = const { Cell::new(Mode::Immediate) };
}

/// Called once by the writer thread of a Postgres database.
pub fn enable() {
    ENABLED.with(|e| e.set(true));
}

/// A batch begins. `reserved`: another process held the writers' turn before, and taking the
/// turn reserved a fresh block ending there ([`super::backend::take_turn`]); this process's
/// leftover numbers are dropped (they are below what the other process may have committed).
pub fn batch_began(reserved: Option<i64>) {
    if let Some(last) = reserved {
        SEQS.with(|s| s.set(Some((last - BLOCK + 1, last))));
    }
}

/// A batch ended (committed or not). Rows kept and not inserted are dropped with it; numbers
/// of a failed batch are dropped too (the reservation may have been rolled back).
pub fn batch_ended(committed: bool) {
    KEPT.with(|k| k.borrow_mut().clear());
    MODE.with(|m| m.set(Mode::Immediate));
    if !committed {
        SEQS.with(|s| s.set(None));
    }
}

/// How many rows were kept when a write started: what its failure truncates back to.
#[derive(Debug, Clone, Copy)]
pub struct Mark(usize);

/// Where the running write starts.
pub fn mark() -> Mark {
    Mark(KEPT.with(|k| k.borrow().len()))
}

/// A write starts (`appending`: it runs as an appending write, without a savepoint). Rows kept
/// by earlier writes are inserted first when it is not appending.
pub fn job_started(conn: &mut DbConn, appending: bool) -> QueryResult<()> {
    if !appending {
        insert_kept(conn)?;
    }
    let mode = if appending && ENABLED.with(Cell::get) {
        Mode::Appending
    } else {
        Mode::Immediate
    };
    MODE.with(|m| m.set(mode));
    Ok(())
}

/// The appending write that started at `mark` failed: forgets the rows it kept and rolls back
/// to its savepoint if it took one. Without one, its failure must have come from a check (it
/// changed nothing); a statement that failed would have left the transaction unusable, which
/// one probe finds out. An error: the batch cannot commit.
pub fn job_failed(conn: &mut DbConn, mark: Mark) -> QueryResult<()> {
    KEPT.with(|k| k.borrow_mut().truncate(mark.0));
    match MODE.with(|m| m.replace(Mode::Immediate)) {
        Mode::AppendingSaved => conn.batch_execute("ROLLBACK TO SAVEPOINT hearth_job"),
        Mode::Appending => conn.batch_execute("SELECT 1"),
        Mode::Immediate => Ok(()),
    }
}

/// The write succeeded.
pub fn job_finished() {
    MODE.with(|m| m.set(Mode::Immediate));
}

/// An appending write is about to change rows other than its events: takes its savepoint now,
/// so that a failure after this undoes them. A no-op for any other write and on SQLite.
pub fn changes(conn: &mut DbConn) -> QueryResult<()> {
    if MODE.with(Cell::get) == Mode::Appending {
        conn.batch_execute("SAVEPOINT hearth_job")?;
        MODE.with(|m| m.set(Mode::AppendingSaved));
    }
    Ok(())
}

/// The next `seq` for an event, when this thread numbers events (the writer of a Postgres
/// database); `None` elsewhere (the database numbers it).
pub fn next_seq(conn: &mut DbConn) -> QueryResult<Option<i64>> {
    if !ENABLED.with(Cell::get) {
        return Ok(None);
    }
    let DbConn::Postgres(pg) = conn else {
        return Ok(None);
    };
    let (next, last) = match SEQS.with(Cell::get) {
        Some((next, last)) if next <= last => (next, last),
        _ => reserve(pg)?,
    };
    SEQS.with(|s| s.set(Some((next + 1, last))));
    Ok(Some(next))
}

/// Stores a numbered row: kept for the batch's insert when the running write is appending,
/// else inserted now.
pub fn place(conn: &mut DbConn, row: &EventRow) -> QueryResult<()> {
    if MODE.with(Cell::get) != Mode::Immediate {
        KEPT.with(|k| k.borrow_mut().push(row.clone()));
        return Ok(());
    }
    match conn {
        DbConn::Postgres(pg) => insert(pg, std::slice::from_ref(row)),
        DbConn::Sqlite(_) => Err(diesel::result::Error::QueryBuilderError(
            "numbered events are a Postgres writer's".into(),
        )),
    }
}

/// Takes the rows kept so far, for the caller to insert ([`super::batch_end`]).
pub fn take_kept() -> Vec<EventRow> {
    KEPT.with(|k| std::mem::take(&mut *k.borrow_mut()))
}

/// Inserts the rows kept so far.
pub fn insert_kept(conn: &mut DbConn) -> QueryResult<()> {
    let rows = take_kept();
    match (conn, rows.is_empty()) {
        (_, true) => Ok(()),
        (DbConn::Postgres(pg), false) => insert(pg, &rows),
        (DbConn::Sqlite(_), false) => Err(diesel::result::Error::QueryBuilderError(
            "kept events on SQLite".into(),
        )),
    }
}

#[derive(diesel::QueryableByName)]
struct Reserved {
    #[diesel(sql_type = BigInt)]
    last: i64,
}

/// Reserves [`BLOCK`] numbers of the `events.seq` sequence: `(first, last)`.
fn reserve(conn: &mut PgConnection) -> QueryResult<(i64, i64)> {
    let reserved: Reserved = prepared(
        "SELECT setval(pg_get_serial_sequence('events', 'seq'), \
         nextval(pg_get_serial_sequence('events', 'seq')) + $1 - 1) AS last",
    )
    .bind::<BigInt, _>(BLOCK)
    .get_result(conn)?;
    Ok((reserved.last - BLOCK + 1, reserved.last))
}

/// How [`event_columns`] writes each column's array.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Columns {
    /// As it is: the arguments of `hearth_end_batch` ([`super::batch_end`]).
    Arrays,
    /// As `unnest(array)`, the search words cast to `tsvector`: the select list of an
    /// `INSERT` (`insert`). In a select list the calls run in lockstep; in `FROM` Postgres
    /// would first copy each array's rows into a tuplestore (migration
    /// `2026-12-25-000001_batch_end_without_tuplestores`).
    Unnested,
}

/// Appends the columns of `rows` to `sql` as constants, one array per column in the order of
/// the `events` columns a batch inserts: `seq, id, room_id, ts_ms, sender, sender_id,
/// recipient, kind, body, meta, reply_to, target, room_seq, wire, attachments` and the search
/// words as `tsvector` text in a `text[]` (computed here, [`super::search::stored_words`]). For
/// the `INSERT` below and the call of `hearth_end_batch` ([`super::batch_end`]).
pub fn event_columns(sql: &mut String, rows: &[EventRow], form: Columns) -> Result<(), NulInText> {
    let (open, close) = match form {
        Columns::Arrays => ("", ""),
        Columns::Unnested => ("unnest(", ")"),
    };
    let ints = |sql: &mut String, f: fn(&EventRow) -> Option<i64>| {
        sql.push_str(open);
        pg_literal::bigints(sql, rows.iter().map(f));
        sql.push_str(close);
        sql.push_str(", ");
    };
    let texts = |sql: &mut String, f: fn(&EventRow) -> Option<&str>| {
        sql.push_str(open);
        pg_literal::texts(sql, rows.iter().map(f))?;
        sql.push_str(close);
        sql.push_str(", ");
        Ok::<_, NulInText>(())
    };
    ints(sql, |r| Some(r.seq));
    texts(sql, |r| Some(&r.id))?;
    ints(sql, |r| Some(r.room_id));
    ints(sql, |r| Some(r.ts_ms));
    texts(sql, |r| Some(&r.sender))?;
    texts(sql, |r| r.sender_id.as_deref())?;
    texts(sql, |r| Some(&r.recipient))?;
    texts(sql, |r| Some(&r.kind))?;
    texts(sql, |r| Some(&r.body))?;
    texts(sql, |r| Some(&r.meta))?;
    texts(sql, |r| r.reply_to.as_deref())?;
    texts(sql, |r| r.target.as_deref())?;
    ints(sql, |r| r.room_seq);
    texts(sql, |r| r.wire.as_deref())?;
    texts(sql, |r| r.attachments.as_deref())?;
    let words: Vec<Option<String>> = rows
        .iter()
        .map(|r| super::search::stored_words(&r.kind, &r.body))
        .collect();
    sql.push_str(open);
    pg_literal::texts(sql, words.iter().map(Option::as_deref))?;
    sql.push_str(close);
    if form == Columns::Unnested {
        sql.push_str("::tsvector");
    }
    Ok(())
}

/// Inserts numbered rows in one statement.
fn insert(conn: &mut PgConnection, rows: &[EventRow]) -> QueryResult<()> {
    let mut sql = String::from(
        "INSERT INTO events (seq, id, room_id, ts_ms, sender, sender_id, recipient, kind, body, \
         meta, reply_to, target, room_seq, wire, attachments, search_words) SELECT ",
    );
    event_columns(&mut sql, rows, Columns::Unnested)
        .map_err(|e| diesel::result::Error::QueryBuilderError(Box::new(e)))?;
    conn.batch_execute(&sql)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, body: &str) -> EventRow {
        EventRow {
            seq,
            id: format!("id{seq}"),
            room_id: 1,
            ts_ms: 1_000 + seq,
            sender: "ann@here.test".into(),
            sender_id: None,
            recipient: "#general@here.test".into(),
            kind: "message".into(),
            body: body.into(),
            meta: "{}".into(),
            reply_to: None,
            target: None,
            room_seq: Some(seq),
            wire: None,
            deleted: false,
            attachments: None,
        }
    }

    #[test]
    fn columns_are_sixteen_arrays_or_sixteen_unnests() {
        let rows = [row(7, "hello there"), row(8, "again")];
        let mut arrays = String::new();
        event_columns(&mut arrays, &rows, Columns::Arrays).expect("no NUL");
        assert!(!arrays.contains("unnest("));
        assert_eq!(arrays.matches("::bigint[]").count(), 4);
        assert_eq!(arrays.matches("::text[]").count(), 12);
        assert!(arrays.starts_with("'{7,8}'::bigint[], "));
        assert!(arrays.ends_with("::text[]"));

        let mut unnested = String::new();
        event_columns(&mut unnested, &rows, Columns::Unnested).expect("no NUL");
        assert_eq!(unnested.matches("unnest(").count(), 16);
        assert!(unnested.starts_with("unnest('{7,8}'::bigint[]), unnest("));
        assert!(unnested.ends_with("::text[])::tsvector"));
        // The same constants inside.
        assert_eq!(
            unnested
                .replace("unnest(", "")
                .replace("[])", "[]")
                .replace("::tsvector", ""),
            arrays
        );
    }

    #[test]
    fn a_nul_in_a_column_is_refused() {
        let mut sql = String::new();
        assert_eq!(
            event_columns(&mut sql, &[row(1, "a\0b")], Columns::Unnested),
            Err(NulInText)
        );
    }
}
