//! The end of a writer's batch: its kept events inserted, then its rooms' counters written and
//! their oldest events rotated out.
//!
//! On SQLite these are calls into the library ([`super::appends`] keeps nothing there;
//! [`room_counters::flush`] writes each room). On Postgres the batch holds the writers' turn
//! until it commits, and each statement was a round trip no other process could write in: the
//! events' `INSERT`, then per room the rotation's `DELETE` and the counters' `UPDATE`. There
//! they are one call of the function `hearth_end_batch` (migration
//! `2026-12-22-000002_batch_round_trips`), which runs the same statements in the same order.
//! The events' columns (with their search words, computed in Rust) are bound as for the plain
//! insert (`appends::bind_event_columns!`).

use diesel::pg::PgConnection;
use diesel::sql_types::{Array, BigInt, Nullable};
use diesel::{QueryResult, RunQueryDsl};

use super::models::EventRow;
use super::prepared::{prepared, Statement};
use super::room_counters::{self, Counters, Ending};
use super::{appends, DbConn};

/// Inserts the batch's kept events and writes its rooms' counters, with their rotation.
pub fn end_batch(conn: &mut DbConn) -> QueryResult<()> {
    match conn {
        DbConn::Postgres(pg) => {
            let rows = appends::take_kept();
            let rooms = room_counters::take_pending();
            if rows.is_empty() && rooms.is_empty() {
                return Ok(());
            }
            let ended = call(pg, &rows, &rooms)?;
            let mut written = Vec::with_capacity(rooms.len());
            for (i, room) in rooms.iter().enumerate() {
                let removed = ended.removed.get(i).copied().unwrap_or(0);
                if let Some(Some(last)) = ended.cut.get(i) {
                    room_counters::cut(room.room_id, *last);
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
            Ok(())
        }
        DbConn::Sqlite(_) => {
            appends::insert_kept(conn)?;
            room_counters::flush(conn)
        }
    }
}

/// What `hearth_end_batch` returns: per room, in the order given, how many events the rotation
/// removed and the highest `seq` it removed.
#[derive(diesel::QueryableByName)]
struct Ended {
    #[diesel(sql_type = Array<BigInt>)]
    removed: Vec<i64>,
    #[diesel(sql_type = Array<Nullable<BigInt>>)]
    cut: Vec<Option<i64>>,
}

fn call(conn: &mut PgConnection, rows: &[EventRow], rooms: &[Ending]) -> QueryResult<Ended> {
    fn column<T>(rooms: &[Ending], f: impl Fn(&Ending) -> T) -> Vec<T> {
        rooms.iter().map(f).collect()
    }
    appends::bind_event_columns!(
        prepared(
            "SELECT removed, cut FROM hearth_end_batch($1, $2, $3, $4, $5, $6, $7, $8, $9, \
             $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21)",
        ),
        rows
    )
    .bind::<Array<BigInt>, _>(column(rooms, |r| r.room_id))
    .bind::<Array<BigInt>, _>(column(rooms, |r| r.counters.count))
    .bind::<Array<BigInt>, _>(column(rooms, |r| r.counters.last_room_seq))
    .bind::<Array<BigInt>, _>(column(rooms, |r| r.max_history))
    .bind::<Array<BigInt>, _>(column(rooms, |r| r.floor))
    .get_result(conn)
}
