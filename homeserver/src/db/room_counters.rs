//! Room counters (`rooms.event_count`, `rooms.last_room_seq`) kept by the writer thread and
//! written once per batch.
//!
//! Appending an event moves its room's counters, and a full room drops its oldest events.
//! Done per event, that is an `UPDATE` (and, in a full room, a `DELETE`) per event, and diesel
//! compiles each of those again on every run. The writer thread, which runs every write of
//! this process, keeps the counters here during a batch: [`flush`] writes each changed room once,
//! with its rotation, inside the batch's transaction before it commits.
//!
//! A write that fails is undone here too: every change is logged, and the writer rolls the
//! log back to where the failed write began ([`mark`], [`roll_back_to`]). A batch that fails
//! to commit forgets everything ([`forget`]), and so does a batch on Postgres that begins after
//! another process's turn ([`super::backend::Began`]): the counters may have moved under it
//! ([`others_wrote`]; only the rotation's floors, see [`rotate`], hold), and it starts from the
//! counters of the [`recent`] rooms, which taking the turn read again. Off the writer thread
//! nothing is kept and [`defer`] says so, and the caller writes at once. On Postgres the writer
//! writes the counters with the batch's events in one call ([`super::batch_end`], with
//! [`take_pending`] and [`written`]); [`flush`] is SQLite's way.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};

use diesel::prelude::*;
use diesel::sql_types::BigInt;

use super::prepared::{prepared, Statement};
use super::schema::rooms;
use super::{cached_sql, per_backend, Conn, DbConn};

/// A room's counters as the running transaction sees them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Counters {
    /// Events stored in the room.
    pub count: i64,
    /// The room's newest `room_seq`.
    pub last_room_seq: i64,
}

/// A room whose counters changed in this batch, with its history limit.
#[derive(Debug, Clone, Copy)]
struct Pending {
    counters: Counters,
    max_history: i64,
}

#[derive(Debug, Default)]
struct State {
    /// Counters as of the last flush (committed, or about to be).
    known: HashMap<i64, Counters>,
    /// Changed in this batch, not yet written.
    pending: BTreeMap<i64, Pending>,
    /// Previous `pending` values, to undo a failed write.
    undo: Vec<(i64, Option<Pending>)>,
    /// Postgres: per room, a `seq` below which none of its events is stored any more (the
    /// rotation's last cut). Only ever too low, never too high: other processes only remove
    /// events and append newer ones, so it holds across their turns.
    floors: HashMap<i64, i64>,
    /// The rooms whose counters the last batches wrote, newest first (at most [`RECENT_MAX`]):
    /// taking the turn after another process's reads theirs in the same round trip.
    recent: Vec<i64>,
}

/// Most rooms whose counters are kept; past it the cache starts over (after a flush).
const ROOMS_MAX: usize = 10_000;

/// Most rooms whose counters are read with the turn ([`recent`]).
pub const RECENT_MAX: usize = 16;

thread_local! {
    /// `Some` on the writer thread.
    static STATE: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Turns the cache on for this thread (the writer thread).
pub fn enable() {
    STATE.with(|s| {
        s.borrow_mut().get_or_insert_with(State::default);
    });
}

/// The room's counters as this transaction sees them: pending, known, or loaded.
pub fn current(conn: &mut Conn, room_id: i64) -> QueryResult<Counters> {
    let cached = STATE.with(|s| {
        s.borrow().as_ref().and_then(|state| {
            state
                .pending
                .get(&room_id)
                .map(|p| p.counters)
                .or_else(|| state.known.get(&room_id).copied())
        })
    });
    if let Some(counters) = cached {
        return Ok(counters);
    }
    let (count, last_room_seq) = per_backend!(conn, |c| rooms::table
        .find(room_id)
        .select((rooms::event_count, rooms::last_room_seq))
        .first(c))?;
    let counters = Counters {
        count,
        last_room_seq,
    };
    STATE.with(|s| {
        if let Some(state) = s.borrow_mut().as_mut() {
            state.known.insert(room_id, counters);
        }
    });
    Ok(counters)
}

/// Records the room's new counters to be written (and rotated to `max_history`) at the end
/// of the batch. Returns `false` when nothing is kept here: the caller writes them itself.
pub fn defer(room_id: i64, counters: Counters, max_history: i64) -> bool {
    STATE.with(|s| match s.borrow_mut().as_mut() {
        Some(state) => {
            let previous = state.pending.insert(
                room_id,
                Pending {
                    counters,
                    max_history,
                },
            );
            state.undo.push((room_id, previous));
            true
        }
        None => false,
    })
}

/// Where the undo log stands (before a write runs).
pub fn mark() -> usize {
    STATE.with(|s| s.borrow().as_ref().map_or(0, |state| state.undo.len()))
}

/// Undoes the changes recorded since `mark` (the write failed). Counters it loaded are
/// forgotten too: they may describe a room the failed write created.
pub fn roll_back_to(mark: usize) {
    STATE.with(|s| {
        if let Some(state) = s.borrow_mut().as_mut() {
            state.known.clear();
            while state.undo.len() > mark {
                let Some((room_id, previous)) = state.undo.pop() else {
                    break;
                };
                match previous {
                    Some(pending) => state.pending.insert(room_id, pending),
                    None => state.pending.remove(&room_id),
                };
            }
        }
    });
}

/// Another process wrote since this one's last turn: the counters may have moved (`fresh`: the
/// ones read with the turn, after it was taken), the rotation's floors still hold.
pub fn others_wrote(fresh: Vec<(i64, Counters)>) {
    STATE.with(|s| {
        if let Some(state) = s.borrow_mut().as_mut() {
            let floors = std::mem::take(&mut state.floors);
            let recent = std::mem::take(&mut state.recent);
            *state = State {
                known: fresh.into_iter().collect(),
                floors,
                recent,
                ..State::default()
            };
        }
    });
}

/// The rooms whose counters the last batches wrote, newest first: the ones to read with the
/// turn. Empty off the writer thread.
pub fn recent() -> Vec<i64> {
    STATE.with(|s| {
        s.borrow()
            .as_ref()
            .map(|state| state.recent.clone())
            .unwrap_or_default()
    })
}

/// Forgets everything (the batch did not commit).
pub fn forget() {
    STATE.with(|s| {
        if let Some(state) = s.borrow_mut().as_mut() {
            *state = State::default();
        }
    });
}

/// A room whose counters the batch changed, to be written at its end.
#[derive(Debug, Clone, Copy)]
pub struct Ending {
    /// The room.
    pub room_id: i64,
    /// Its counters before the rotation.
    pub counters: Counters,
    /// Its history limit.
    pub max_history: i64,
    /// Postgres: where its rotation starts looking (the last cut, 0 when unknown).
    pub floor: i64,
}

/// The rooms whose counters the batch changed, in room order; they are written by the caller
/// (then [`written`]). Empty off the writer thread.
pub fn take_pending() -> Vec<Ending> {
    STATE.with(|s| {
        let mut state = s.borrow_mut();
        let Some(state) = state.as_mut() else {
            return Vec::new();
        };
        state.undo.clear();
        let pending = std::mem::take(&mut state.pending);
        pending
            .into_iter()
            .map(|(room_id, p)| Ending {
                room_id,
                counters: p.counters,
                max_history: p.max_history,
                floor: state.floors.get(&room_id).copied().unwrap_or(0),
            })
            .collect()
    })
}

/// The rooms' counters as written at the end of the batch, after their rotation.
pub fn written(rooms: &[(i64, Counters)]) {
    STATE.with(|s| {
        if let Some(state) = s.borrow_mut().as_mut() {
            if state.known.len() + rooms.len() > ROOMS_MAX {
                state.known.clear();
            }
            state.known.extend(rooms.iter().copied());
            for &(room_id, _) in rooms.iter().rev() {
                state.recent.retain(|&r| r != room_id);
                state.recent.insert(0, room_id);
            }
            state.recent.truncate(RECENT_MAX);
        }
    });
}

/// Writes the changed rooms' counters, dropping each room's oldest events beyond its limit, a
/// statement or two per room. Runs inside the batch's transaction, after its writes. (The
/// Postgres writer ends its batches with [`super::batch_end`] instead.)
pub fn flush(conn: &mut Conn) -> QueryResult<()> {
    let pending = take_pending();
    let mut rooms = Vec::with_capacity(pending.len());
    for Ending {
        room_id,
        mut counters,
        max_history,
        ..
    } in pending
    {
        counters.count -= rotate(conn, room_id, counters.count, max_history)?;
        write(conn, room_id, counters)?;
        rooms.push((room_id, counters));
    }
    written(&rooms);
    Ok(())
}

/// The rotation at the end of a batch cut `room_id`'s events up to `last` (Postgres).
pub fn cut(room_id: i64, last: i64) {
    set_floor(room_id, last + 1);
}

/// Drops the room's oldest events beyond `max_history` when it holds `count`; returns how
/// many went.
pub fn rotate(conn: &mut Conn, room_id: i64, count: i64, max_history: i64) -> QueryResult<i64> {
    if count <= max_history {
        return Ok(0);
    }
    let excess = count - max_history;
    // Everything up to the newest event to drop goes, in one statement (nothing when the room
    // holds fewer events than counted: the subquery is then NULL).
    let removed = match conn {
        DbConn::Sqlite(c) => prepared(
            "DELETE FROM events WHERE room_id = $1 AND seq <= \
             (SELECT seq FROM events WHERE room_id = $2 ORDER BY seq LIMIT 1 OFFSET $3)",
        )
        .bind::<BigInt, _>(room_id)
        .bind::<BigInt, _>(room_id)
        .bind::<BigInt, _>(excess - 1)
        .execute(c)?,
        // The deleted rows stay in the index until a vacuum: a scan from the room's first
        // entry would step over every event rotated out since, each time. It starts at the
        // last cut instead, and the new cut is remembered (kept only if the batch commits).
        DbConn::Postgres(c) => {
            let floor = floor_of(room_id);
            let cut: Cut = prepared(
                "WITH gone AS (DELETE FROM events WHERE room_id = $1 AND seq >= $2 AND seq <= \
                 (SELECT seq FROM events WHERE room_id = $3 AND seq >= $4 \
                 ORDER BY seq LIMIT 1 OFFSET $5) RETURNING seq) \
                 SELECT count(*) AS removed, max(seq) AS last FROM gone",
            )
            .bind::<BigInt, _>(room_id)
            .bind::<BigInt, _>(floor)
            .bind::<BigInt, _>(room_id)
            .bind::<BigInt, _>(floor)
            .bind::<BigInt, _>(excess - 1)
            .get_result(c)?;
            if let Some(last) = cut.last {
                set_floor(room_id, last + 1);
            }
            usize::try_from(cut.removed).unwrap_or(0)
        }
    };
    Ok(i64::try_from(removed).unwrap_or(i64::MAX))
}

/// What a rotation on Postgres removed.
#[derive(diesel::QueryableByName)]
struct Cut {
    #[diesel(sql_type = BigInt)]
    removed: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    last: Option<i64>,
}

/// The room's rotation floor on this thread (0 when unknown).
fn floor_of(room_id: i64) -> i64 {
    STATE.with(|s| {
        s.borrow()
            .as_ref()
            .and_then(|state| state.floors.get(&room_id).copied())
            .unwrap_or(0)
    })
}

fn set_floor(room_id: i64, floor: i64) {
    STATE.with(|s| {
        if let Some(state) = s.borrow_mut().as_mut() {
            if state.floors.len() >= ROOMS_MAX {
                state.floors.clear();
            }
            state.floors.insert(room_id, floor);
        }
    });
}

/// Writes a room's counters.
pub fn write(conn: &mut Conn, room_id: i64, counters: Counters) -> QueryResult<()> {
    cached_sql!(
        conn,
        "UPDATE rooms SET event_count = $1, last_room_seq = $2 WHERE id = $3",
        BigInt => counters.count,
        BigInt => counters.last_room_seq,
        BigInt => room_id,
    )
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{events as event_log, Db};

    /// `cached_sql!` binds `$1, $2, …` by position on SQLite: each value must land in its own
    /// column (count and position differ here, so a swap shows).
    #[test]
    fn hand_written_statements_bind_their_parameters_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        let mut conn = db.conn().unwrap();
        let room = event_log::ensure_room(&mut conn, "ordered", "channel").unwrap();
        let other = event_log::ensure_room(&mut conn, "untouched", "channel").unwrap();
        write(
            &mut conn,
            room,
            Counters {
                count: 7,
                last_room_seq: 40,
            },
        )
        .unwrap();
        let read = |conn: &mut Conn, id: i64| {
            rooms::table
                .find(id)
                .select((rooms::event_count, rooms::last_room_seq))
                .first::<(i64, i64)>(conn)
                .unwrap()
        };
        assert_eq!(read(&mut conn, room), (7, 40));
        assert_eq!(read(&mut conn, other), (0, 0), "only the room named by $3");
    }
}
