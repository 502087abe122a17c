//! Postgres: a batch's commit reaches the disk off the writer's path.
//!
//! The writers' turn ([`super::backend::take_turn`]) is a row lock, and Postgres releases row
//! locks only once the commit is done, which with `synchronous_commit = on` includes waiting
//! for the WAL flush (about 1–2 ms here). Holding the turn through it made every batch of
//! every process wait for the previous batch's flush: no two flushes could ever share the
//! disk's write.
//!
//! So a write transaction commits with `synchronous_commit = off` (`SET LOCAL`, only the
//! writer's transactions): the commit returns as soon as its record is in the WAL, and the turn
//! passes on. Its writers are not answered yet: the batch goes to the flusher threads
//! ([`FLUSHERS`], sharing one queue in commit order), one of which makes the commit durable
//! with a transaction of its own that commits synchronously ([`CONFIRM`]: its commit record
//! comes after the batch's, and Postgres flushes the WAL up to it, so up to the batch's too).
//! One such flush confirms every batch committed before it, from this process or another: a
//! batch that commits while one thread flushes is taken by the other at once, and
//! Postgres lets overlapping flushes (of both threads, of several processes) share its writes.
//!
//! Only then, in commit order: the other processes hear of the events (`NOTIFY`, sent after
//! the flush, so a listener never reads an event that could still be lost), this process's
//! consumers get them, and the writers get their answers. An acknowledged write is as durable
//! as with a synchronous commit.
//!
//! **The durable horizon.** Other sessions can read an asynchronously committed row before it
//! is flushed. A reader that hands out cursors ([`super::events::for_user_after`]) therefore
//! reads only up to the highest `seq` known to be on disk ([`Durable`]): raised by the
//! flushers as they settle batches and by the listener for other processes' notifications (sent after
//! theirs). Events commit in `seq` order, so everything up to it is flushed too. Were Postgres
//! to crash before a flush, the events lost with the unflushed WAL were never handed to
//! anyone, and no cursor points past a number that may be used again.
//!
//! If a flush fails (the connection or the server broke) nothing says whether those commits
//! survived: their writers hear an error (a send retried with its `txn_id` is answered once),
//! queued consumers read whatever is in the log ([`super::writer::Feed::Missed`]), and the
//! horizon waits for the next flush that succeeds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::Pool;
use diesel::QueryResult;

use super::backend::{self, Appended, KeptConnection, Manager};
use super::DbConn;

/// The highest `seq` known to be durable: readers that hand out cursors read up to it.
#[derive(Debug, Clone)]
pub struct Durable(Arc<AtomicI64>);

impl Durable {
    /// Everything: SQLite commits durably before it answers.
    pub fn everything() -> Durable {
        Durable(Arc::new(AtomicI64::new(i64::MAX)))
    }

    /// Up to `seq`.
    pub fn up_to(seq: i64) -> Durable {
        Durable(Arc::new(AtomicI64::new(seq)))
    }

    /// The highest durable `seq`.
    pub fn get(&self) -> i64 {
        self.0.load(Ordering::Acquire)
    }

    /// Everything up to `seq` is durable.
    pub fn raise(&self, seq: i64) {
        self.0.fetch_max(seq, Ordering::AcqRel);
    }
}

/// What the writer hands over after an asynchronous commit.
pub struct Unconfirmed {
    /// What the batch appended, for the other processes.
    pub appended: Option<Appended>,
    /// Answers the batch's writers and feeds the consumers: `Ok` once the commit is durable.
    pub settle: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// How many flushes may be under way at once. A batch that commits while a flush is under
/// way starts the next one at once instead of waiting for it (Postgres flushes both with one
/// write when it can).
pub const FLUSHERS: usize = 2;

/// The handle to the flusher threads.
pub struct Flusher {
    shared: Arc<Shared>,
}

/// The committed batches not yet settled, shared by the flusher threads.
struct Shared {
    state: Mutex<Queue>,
    more: Condvar,
    /// A flush failed since the writer last asked: Postgres may have lost commits that the
    /// writer's caches already count ([`Flusher::take_failure`]).
    failed: AtomicBool,
}

#[derive(Default)]
struct Queue {
    /// Committed batches in commit order; the first is number `settled`.
    waiting: VecDeque<Unconfirmed>,
    /// How many batches were settled (the number of the first waiting one).
    settled: u64,
    /// How many batches a flush under way (or done) covers.
    covered: u64,
    /// The handle was dropped: settle what is left and stop.
    closed: bool,
}

impl Queue {
    fn committed(&self) -> u64 {
        self.settled + self.waiting.len() as u64
    }
}

impl Flusher {
    /// Starts the threads.
    pub fn start(pool: Pool<Manager>, instance: u64, durable: Durable) -> std::io::Result<Flusher> {
        let shared = Arc::new(Shared {
            state: Mutex::new(Queue::default()),
            more: Condvar::new(),
            failed: AtomicBool::new(false),
        });
        for n in 0..FLUSHERS {
            let (pool, durable, shared) = (pool.clone(), durable.clone(), Arc::clone(&shared));
            std::thread::Builder::new()
                .name(format!("hearth-flusher-{n}"))
                .spawn(move || run(&pool, instance, &durable, &shared))?;
        }
        Ok(Flusher { shared })
    }

    /// Whether a flush failed since the last call. The commits it did not confirm may be lost
    /// (Postgres restarted before they reached the disk), so the writer drops what it cached
    /// from them (room counters and rotation floors, recipients, rules, its block of numbers)
    /// before its next batch.
    pub fn take_failure(&self) -> bool {
        self.shared.failed.swap(false, Ordering::AcqRel)
    }

    /// Hands over a committed batch.
    pub fn push(&self, committed: Unconfirmed) {
        lock(&self.shared.state).waiting.push_back(committed);
        self.shared.more.notify_one();
    }
}

impl Drop for Flusher {
    fn drop(&mut self) {
        lock(&self.shared.state).closed = true;
        self.shared.more.notify_all();
    }
}

fn lock(state: &Mutex<Queue>) -> MutexGuard<'_, Queue> {
    state
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One flusher thread: takes every committed batch no flush covers yet, flushes once, then
/// settles, in commit order, every batch up to those (a flush that ended first may have
/// settled some already: its flush came later in the WAL and covered them too).
fn run(pool: &Pool<Manager>, instance: u64, durable: &Durable, shared: &Shared) {
    let mut kept = KeptConnection::new(pool.clone());
    loop {
        let (through, appended) = {
            let mut queue = lock(&shared.state);
            while queue.covered >= queue.committed() && !queue.closed {
                queue = shared
                    .more
                    .wait(queue)
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
            }
            if queue.covered >= queue.committed() {
                return;
            }
            let from = usize::try_from(queue.covered.saturating_sub(queue.settled)).unwrap_or(0);
            let appended = merge(
                queue
                    .waiting
                    .iter()
                    .skip(from)
                    .filter_map(|b| b.appended.as_ref()),
            );
            queue.covered = queue.committed();
            (queue.covered, appended)
        };
        let flushed = match kept.get() {
            Ok(DbConn::Postgres(pg)) => {
                flush(pg, instance, appended.as_ref()).map_err(|e| e.to_string())
            }
            Ok(DbConn::Sqlite(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = &flushed {
            kept.forget();
            shared.failed.store(true, Ordering::Release);
            tracing::error!(error = %e, "commits could not be confirmed on disk");
        }
        let mut queue = lock(&shared.state);
        // Settled under the lock, so that consumers get the batches in commit order; the
        // horizon rises before a batch's polls are woken.
        while queue.settled < through {
            let Some(batch) = queue.waiting.pop_front() else {
                break;
            };
            queue.settled += 1;
            if let (Ok(()), Some(appended)) = (&flushed, &batch.appended) {
                durable.raise(appended.last_seq);
            }
            (batch.settle)(
                flushed
                    .clone()
                    .map_err(|e| format!("the commit could not be confirmed on disk: {e}")),
            );
        }
    }
}

/// What several batches appended: the highest `seq`.
fn merge<'a>(all: impl Iterator<Item = &'a Appended>) -> Option<Appended> {
    let mut merged: Option<Appended> = None;
    for one in all {
        merged = Some(match merged {
            None => *one,
            Some(so_far) => so_far.and(one),
        });
    }
    merged
}

/// A transaction that commits synchronously whatever `postgresql.conf` says: the WAL is flushed
/// through its commit record, so through every commit before it.
///
/// Postgres flushes at a commit only when the transaction has an id *and* wrote WAL
/// (`RecordTransactionCommit`): a transaction that merely takes an id (`txid_current()`)
/// commits without waiting, whatever `synchronous_commit` says. A transactional logical
/// message takes an id and writes one small WAL record, with no table and no lock, so two
/// flushes (of two threads, of two processes) never wait for each other, only share the
/// disk's write. Any role may emit one; logical decoding sees it under the prefix
/// `hearth.flush` and ignores it unless it asks for messages.
const CONFIRM: &str = "BEGIN; SET LOCAL synchronous_commit = on; \
                           SELECT pg_logical_emit_message(true, 'hearth.flush', ''); COMMIT;";

/// One round trip: [`CONFIRM`], then the notification in a transaction that does not wait.
///
/// Not in the confirming transaction itself: a transaction that notifies holds Postgres's
/// notification-queue lock (one for the whole cluster) from before its commit until the commit
/// is done, so a synchronous one would hold it through its flush, and the flushes of the other
/// thread and of the other processes, which notify too, would wait for each other instead of
/// sharing the disk's write. (Tried on 2026-12-02: no difference beyond the noise on two cores.)
fn flush(conn: &mut PgConnection, instance: u64, appended: Option<&Appended>) -> QueryResult<()> {
    let mut sql = String::from(CONFIRM);
    if let Some(appended) = appended {
        sql.push_str(&format!(
            " BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('{}', '{}'); COMMIT;",
            backend::EVENTS_CHANNEL,
            appended.payload(instance).replace('\'', "''"),
        ));
    }
    conn.batch_execute(&sql)
}

/// The durable horizon now: the highest `seq` stored, made durable by [`CONFIRM`] after it was
/// read when it is past what `durable` says, which is raised to it (for a process starting, a
/// listener that lost notifications, or a cursor another process handed out,
/// [`super::Db::log_end`]).
pub fn horizon(conn: &mut DbConn, durable: &Durable) -> QueryResult<i64> {
    let highest = super::events::max_seq(conn)?;
    if highest > durable.get() {
        conn.batch_execute(CONFIRM)?;
        durable.raise(highest);
    }
    Ok(highest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_confirmation_writes_wal_and_commits_synchronously() {
        assert!(CONFIRM.starts_with("BEGIN; SET LOCAL synchronous_commit = on;"));
        // Not `txid_current()`: a transaction that writes no WAL commits without a flush.
        assert!(CONFIRM.contains("SELECT pg_logical_emit_message(true, "));
        assert!(!CONFIRM.contains("txid_current"));
        assert!(CONFIRM.ends_with(" COMMIT;"));
    }
}
