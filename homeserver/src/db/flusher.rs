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
//! with a transaction of its own that commits synchronously (`CONFIRM`: its commit record
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
//! **Eras: a confirmation proves nothing across a crash.** Postgres loses the asynchronous
//! commits not yet flushed when it crashes (or fails over), and a confirmation on a connection
//! opened after that would still succeed. So every batch belongs to an era of its writer
//! ([`Eras`]): a row of the unlogged table `writer_eras`, committed before the era's first
//! batch. Crash recovery empties an unlogged table (a promoted standby has it empty; a clean
//! shutdown keeps it, and flushes every commit), and the confirmation checks in its own
//! transaction that the eras of the batches it covers still have their rows
//! (`hearth_confirm`, migration `2026-12-24-000001_writer_eras`): then no crash came between
//! their commits and its own, whatever connection each was on. The writer opens a new era on
//! each connection it takes and after a failed flush, when a crash may have taken the row.
//! The check is needed only on a connection taken after the batches began: a crash ends every
//! connection, so one that was there before they began and still commits saw no crash since
//! (the plain `CONFIRM`, which costs Postgres less; the check cost 5–10 % of sends/s).
//!
//! A flush whose connection broke is tried once more on a fresh one (Postgres dropped the
//! connections, a pooler restarted: the commits are there, and the eras say so). If that fails
//! too, nothing says whether those commits survived: their writers hear an error (a send
//! retried with its `txn_id` is answered once), queued consumers read whatever is in the log
//! ([`super::writer::Feed::Missed`]), and the horizon waits for the next flush that succeeds.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::Pool;
use diesel::QueryResult;

use super::audience::Audience;
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
    /// The writer's era the batch committed in ([`Eras`]).
    pub era: i64,
    /// When the writer began the batch's transaction (before it sent anything of it).
    pub began: Instant,
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
    pub fn start(
        pool: Pool<Manager>,
        instance: u64,
        durable: Durable,
        audience: Arc<Audience>,
    ) -> std::io::Result<Flusher> {
        let shared = Arc::new(Shared {
            state: Mutex::new(Queue::default()),
            more: Condvar::new(),
            failed: AtomicBool::new(false),
        });
        for n in 0..FLUSHERS {
            let (pool, durable, shared) = (pool.clone(), durable.clone(), Arc::clone(&shared));
            let audience = Arc::clone(&audience);
            std::thread::Builder::new()
                .name(format!("hearth-flusher-{n}"))
                .spawn(move || run(&pool, instance, &durable, &audience, &shared))?;
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
fn run(
    pool: &Pool<Manager>,
    instance: u64,
    durable: &Durable,
    audience: &Audience,
    shared: &Shared,
) {
    let mut kept = KeptConnection::new(pool.clone());
    // When the kept connection was taken (it was established before).
    let mut connected = Instant::now();
    loop {
        let (through, eras, began, appended) = {
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
            let covering = || queue.waiting.iter().skip(from);
            let appended = merge(covering().filter_map(|b| b.appended.as_ref()));
            let mut eras: Vec<i64> = covering().map(|b| b.era).collect();
            eras.dedup();
            let began = covering().map(|b| b.began).min();
            queue.covered = queue.committed();
            (queue.covered, eras, began, appended)
        };
        let mut flushed = Err(String::new());
        // The kept connection, then (if that one broke) a fresh one.
        for _attempt in 0..2 {
            flushed = match kept.get_saying_if_new() {
                Ok((DbConn::Postgres(pg), new)) => {
                    if new {
                        connected = Instant::now();
                    }
                    // A connection that was there before the batches began vouches for them.
                    let check = match began {
                        Some(began) if connected < began => None,
                        _ => Some(eras.as_slice()),
                    };
                    flush(pg, instance, check, appended.as_ref(), audience)
                        .map_err(|e| e.to_string())
                }
                Ok((DbConn::Sqlite(_), _)) => Ok(()),
                Err(e) => Err(e.to_string()),
            };
            match &flushed {
                Ok(()) => break,
                Err(e) => {
                    tracing::warn!(error = %e, "a flush failed");
                    kept.forget();
                }
            }
        }
        if let Err(e) = &flushed {
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

/// One round trip: the confirming transaction (`CONFIRM`, or with `check` the check that no
/// crash came since the commits of those eras, [`Eras`]), then the notification in a
/// transaction that does not wait.
///
/// The notification is not in the confirming transaction itself: a transaction that notifies
/// holds Postgres's notification-queue lock (one for the whole cluster) from before its commit
/// until the commit is done, so a synchronous one would hold it through its flush, and the
/// flushes of the other thread and of the other processes, which notify too, would wait for
/// each other instead of sharing the disk's write. (Tried on 2026-12-02: no difference beyond
/// the noise on two cores.)
///
/// The notification is left out while nobody else may hear it ([`Audience`]); when someone
/// appeared during the flush, it is sent after all, in a message of its own.
fn flush(
    conn: &mut PgConnection,
    instance: u64,
    check: Option<&[i64]>,
    appended: Option<&Appended>,
    audience: &Audience,
) -> QueryResult<()> {
    let mut sql = match check {
        Some(eras) => confirm_eras(instance, eras),
        None => CONFIRM.to_string(),
    };
    let notified = audience.heard();
    if let Some(appended) = appended.filter(|_| notified) {
        sql.push_str(&notify(appended.payload(instance)));
    }
    conn.batch_execute(&sql)?;
    if let Some(appended) = appended.filter(|_| !notified) {
        if audience.confirmed_quietly(appended.last_seq) {
            // The commits are on disk whatever this says: a failure only delays the other
            // process's wake-up to the next notification.
            if let Err(e) = conn.batch_execute(&notify(appended.payload(instance))) {
                tracing::warn!(error = %e, "could not notify a process that just appeared");
            }
        }
    }
    Ok(())
}

/// The transaction that tells the other processes the log is on disk up to `payload`'s `seq`
/// (`"<seq> <instance>"`), without waiting for its own flush.
pub fn notify(payload: String) -> String {
    format!(
        " BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('{}', '{}'); COMMIT;",
        backend::EVENTS_CHANNEL,
        payload.replace('\'', "''"),
    )
}

/// The confirming transaction of a flush: `CONFIRM`'s, and in it the check that the rows of
/// `eras` are still there (`hearth_confirm` raises an error if not, and emits the message).
fn confirm_eras(instance: u64, eras: &[i64]) -> String {
    let eras: Vec<String> = eras.iter().map(i64::to_string).collect();
    format!(
        "BEGIN; SET LOCAL synchronous_commit = on; \
         SELECT hearth_confirm({}, '{{{}}}'::bigint[]); COMMIT;",
        backend::instance_key(instance),
        eras.join(",")
    )
}

/// The eras of a writer: which one its batches commit in, and when it must open another.
///
/// A batch commits in the era opened on its connection before it ([`Eras::current`]), and the
/// flush that confirms it checks that the era's row survived. A new era is opened on every
/// connection the writer takes (a crash may have come since the last) and after a failed flush
/// (one may have come now); the two before it are kept, for batches still being confirmed.
#[derive(Debug, Default)]
pub struct Eras {
    /// The open era, if any.
    open: Option<i64>,
    /// The last era opened.
    last: i64,
}

impl Eras {
    /// The era to open again before the next batch.
    pub fn close(&mut self) {
        self.open = None;
    }

    /// The open era, opening one on `conn` first if there is none: its row is committed (and
    /// the rows of this writer's eras before the last are removed) before the call returns.
    pub fn current(&mut self, conn: &mut PgConnection, instance: u64) -> QueryResult<i64> {
        if let Some(era) = self.open {
            return Ok(era);
        }
        let era = self.last + 1;
        let me = backend::instance_key(instance);
        conn.batch_execute(&format!(
            "INSERT INTO writer_eras (instance, era) VALUES ({me}, {era}); \
             DELETE FROM writer_eras WHERE instance = {me} AND era < {era} - 1;"
        ))?;
        self.last = era;
        self.open = Some(era);
        Ok(era)
    }
}

/// The durable horizon now: the highest `seq` stored, made durable by `CONFIRM` after it was
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

    #[test]
    fn a_flush_confirms_its_eras_in_a_synchronous_transaction() {
        let sql = confirm_eras(u64::MAX, &[3, 4]);
        assert_eq!(
            sql,
            "BEGIN; SET LOCAL synchronous_commit = on; \
             SELECT hearth_confirm(-1, '{3,4}'::bigint[]); COMMIT;"
        );
    }
}
