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
//! passes on. Its writers are not answered yet: the batch goes to this thread, which makes the
//! commit durable with a transaction of its own that commits synchronously (`SELECT
//! txid_current()`: its commit record comes after the batch's, and Postgres flushes the WAL up
//! to it, so up to the batch's too). One such flush confirms every batch committed before it,
//! from this process or another: batches that committed while a flush was under way share the
//! next one, and flushes of several processes overlap in Postgres's group commit.
//!
//! Only then, in commit order: the other processes hear of the events (`NOTIFY`, sent after
//! the flush, so a listener never reads an event that could still be lost), this process's
//! consumers get them, and the writers get their answers. An acknowledged write is as durable
//! as with a synchronous commit.
//!
//! **The durable horizon.** Other sessions can read an asynchronously committed row before it
//! is flushed. A reader that hands out cursors ([`super::events::for_user_after`]) therefore
//! reads only up to the highest `seq` known to be on disk ([`Durable`]): raised by this
//! thread after each flush and by the listener for other processes' notifications (sent after
//! theirs). Events commit in `seq` order, so everything up to it is flushed too. Were Postgres
//! to crash before a flush, the events lost with the unflushed WAL were never handed to
//! anyone, and no cursor points past a number that may be used again.
//!
//! If a flush fails (the connection or the server broke) nothing says whether those commits
//! survived: their writers hear an error (a send retried with its `txn_id` is answered once),
//! queued consumers read whatever is in the log ([`super::writer::Feed::Missed`]), and the
//! horizon waits for the next flush that succeeds.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{mpsc, Arc};

use diesel::connection::SimpleConnection;
use diesel::pg::PgConnection;
use diesel::r2d2::{Pool, PooledConnection};
use diesel::{QueryResult, RunQueryDsl};

use super::backend::{self, Appended, Manager};
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
pub struct Committed {
    /// What the batch appended, for the other processes.
    pub appended: Option<Appended>,
    /// Answers the batch's writers and feeds the consumers: `Ok` once the commit is durable.
    pub settle: Box<dyn FnOnce(Result<(), String>) + Send>,
}

/// The handle to the flusher thread.
pub struct Flusher {
    queue: mpsc::Sender<Committed>,
}

impl Flusher {
    /// Starts the thread.
    pub fn start(
        pool: Pool<Manager>,
        instance: u64,
        durable: Durable,
    ) -> std::io::Result<Flusher> {
        let (queue, committed) = mpsc::channel();
        std::thread::Builder::new()
            .name("hearth-flusher".into())
            .spawn(move || run(&pool, instance, &durable, &committed))?;
        Ok(Flusher { queue })
    }

    /// Hands over a committed batch. Settled at once with an error if the thread is gone.
    pub fn push(&self, committed: Committed) {
        if let Err(mpsc::SendError(committed)) = self.queue.send(committed) {
            (committed.settle)(Err("the commit could not be confirmed".into()));
        }
    }
}

fn run(
    pool: &Pool<Manager>,
    instance: u64,
    durable: &Durable,
    committed: &mpsc::Receiver<Committed>,
) {
    let mut held: Option<PooledConnection<Manager>> = None;
    while let Ok(first) = committed.recv() {
        let mut batches = vec![first];
        batches.extend(committed.try_iter());
        let appended = merge(batches.iter().filter_map(|b| b.appended.as_ref()));
        if held.as_mut().is_some_and(|c| diesel::r2d2::R2D2Connection::is_broken(&mut **c)) {
            held = None;
        }
        if held.is_none() {
            match pool.get() {
                Ok(conn) => held = Some(conn),
                Err(e) => tracing::error!(error = %e, "no database connection to confirm commits"),
            }
        }
        let flushed = match held.as_deref_mut() {
            Some(DbConn::Postgres(pg)) => {
                flush(pg, instance, appended.as_ref()).map_err(|e| e.to_string())
            }
            Some(DbConn::Sqlite(_)) => Ok(()),
            None => Err("no database connection".to_string()),
        };
        match &flushed {
            Ok(()) => {
                if let Some(appended) = &appended {
                    durable.raise(appended.last_seq);
                }
            }
            Err(e) => {
                held = None;
                tracing::error!(error = %e, batches = batches.len(), "a commit could not be confirmed on disk");
            }
        }
        for batch in batches {
            (batch.settle)(flushed.clone().map_err(|e| format!("the commit could not be confirmed on disk: {e}")));
        }
    }
}

/// What several batches appended: the highest `seq`, and every user (or anyone).
fn merge<'a>(all: impl Iterator<Item = &'a Appended>) -> Option<Appended> {
    let mut merged: Option<Appended> = None;
    for one in all {
        merged = Some(match merged {
            None => one.clone(),
            Some(so_far) => so_far.and(one),
        });
    }
    merged
}

/// One round trip: a transaction that commits synchronously (so the WAL is flushed through
/// every commit before it), then the notification in one that does not wait.
fn flush(conn: &mut PgConnection, instance: u64, appended: Option<&Appended>) -> QueryResult<()> {
    let mut sql = String::from("BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT;");
    if let Some(appended) = appended {
        sql.push_str(&format!(
            " BEGIN; SET LOCAL synchronous_commit = off; SELECT pg_notify('{}', '{}'); COMMIT;",
            backend::EVENTS_CHANNEL,
            appended.payload(instance).replace('\'', "''"),
        ));
    }
    conn.batch_execute(&sql)
}

#[derive(diesel::QueryableByName)]
struct Highest {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

/// The durable horizon now: the highest `seq` stored, made durable by a synchronous commit
/// after it was read (for a process starting, or a listener that lost notifications).
pub fn horizon(conn: &mut PgConnection) -> QueryResult<i64> {
    let highest: Highest =
        diesel::sql_query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events").get_result(conn)?;
    conn.batch_execute(
        "BEGIN; SET LOCAL synchronous_commit = on; SELECT txid_current(); COMMIT;",
    )?;
    Ok(highest.seq)
}
