//! Group commit: every write transaction of this process goes through one writer thread,
//! which takes the queued writes in batches and commits each batch once.
//!
//! Each write still runs in its own savepoint inside the batch's transaction, so a write that
//! fails is rolled back alone and its caller gets its own error; the others commit. Callers
//! get their results only after the batch has committed, so an acknowledged write is as
//! durable as before — it just shares its commit (the fsync, the write lock) with the writes
//! that queued behind it. Without it each write took SQLite's write lock on its own and the
//! others slept in the busy handler (BENCHMARKS.md).
//!
//! The writer also keeps a *commit journal*: the events a write appends are recorded with
//! [`record_event`] and, once their batch has committed, handed in `seq` order to the hook set
//! with [`Writer::on_commit`] (the long-poll notifier). Events of a write whose savepoint rolled
//! back, or of a batch that failed to commit, are never published.
//!
//! On SQLite, where this thread is the database's only writer, it also keeps two caches for
//! the batches it runs: rooms' recipients ([`super::recipients`]) and rooms' counters
//! ([`super::room_counters`]). A failed write or batch drops or undoes them.

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, OnceLock};

use diesel::r2d2::Pool;
use diesel::Connection;
use tokio::sync::{mpsc, oneshot};

use super::models::EventRow;
use super::{backend, recipients, room_counters, DbConn, DbError};

/// An event committed by the writer, with the users whose open window covered it.
#[derive(Debug)]
pub struct Committed {
    /// The stored row.
    pub row: EventRow,
    /// Users to deliver it to.
    pub recipients: Arc<[String]>,
}

/// Called on the writer thread after each batch that appended events, in `seq` order.
pub type CommitHook = Arc<dyn Fn(Vec<Committed>) + Send + Sync>;

thread_local! {
    /// The events appended by the batch running on this thread (the writer thread only).
    static JOURNAL: RefCell<Option<Vec<Committed>>> = const { RefCell::new(None) };
}

/// Records an event appended by the running write, to be published after its batch commits.
/// Returns `false` when called outside the writer (the event would not be published; every
/// event append must go through [`Writer::write`]).
pub fn record_event(row: &EventRow, recipients: &Arc<[String]>) -> bool {
    JOURNAL.with(|journal| match journal.borrow_mut().as_mut() {
        Some(entries) => {
            entries.push(Committed {
                row: row.clone(),
                recipients: Arc::clone(recipients),
            });
            true
        }
        None => false,
    })
}

/// Runs `f` in a nested savepoint of the running write: when it fails, its changes and the
/// events it recorded are undone and the rest of the write goes on.
pub fn savepoint<T, E, F>(conn: &mut DbConn, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let recorded = journal_len();
    let counters = room_counters::mark();
    let result = conn.transaction(f);
    if result.is_err() {
        journal_truncate(recorded);
        room_counters::roll_back_to(counters);
        recipients::forget();
    }
    result
}

fn journal_len() -> usize {
    JOURNAL.with(|j| j.borrow().as_ref().map_or(0, Vec::len))
}

fn journal_truncate(len: usize) {
    JOURNAL.with(|j| {
        if let Some(entries) = j.borrow_mut().as_mut() {
            entries.truncate(len);
        }
    });
}

/// Most writes committed together.
pub const MAX_BATCH: usize = 64;
/// Writes that may wait for the writer before callers wait to enqueue.
const QUEUE: usize = 4096;

/// What the writer does with a job: run it (in a savepoint when `isolate` is true) and return
/// whether it succeeded and how to report the outcome once the batch's commit is known.
type Job = Box<dyn FnOnce(&mut DbConn, Isolation) -> (bool, Completion) + Send>;

/// How a job is kept apart from the others of its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// In its own savepoint: a failure undoes only this job.
    Savepoint,
    /// Alone in the batch: a failure rolls the whole transaction back (no savepoint to
    /// compile and run).
    Alone,
}
/// Reports a job's result, or the batch's commit failure.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The handle to this process's writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    hook: Arc<OnceLock<CommitHook>>,
}

impl Writer {
    /// Starts the writer thread for `pool`. It stops when the last handle is dropped.
    pub fn start(pool: Pool<backend::Manager>, instance: u64) -> Result<Writer, DbError> {
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let hook = Arc::new(OnceLock::new());
        let writer_hook = Arc::clone(&hook);
        std::thread::Builder::new()
            .name("hearth-writer".into())
            .spawn(move || run(pool, instance, queue, &writer_hook))
            .map_err(|e| DbError::Migration(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { jobs, hook })
    }

    /// Sets the hook that receives committed events (once; later calls are ignored).
    pub fn on_commit(&self, hook: CommitHook) {
        let _ = self.hook.set(hook);
    }

    /// Runs `f` in the next batch; resolves once that batch has committed (or failed).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (done, outcome) = oneshot::channel::<Result<T, E>>();
        let job: Job = Box::new(move |conn: &mut DbConn, isolation: Isolation| {
            // A savepoint inside the batch's transaction: a failing write undoes only itself,
            // and the events it recorded are forgotten with it.
            let recorded = journal_len();
            let counters = room_counters::mark();
            let result = match isolation {
                Isolation::Savepoint => conn.transaction(f),
                Isolation::Alone => f(conn),
            };
            if result.is_err() {
                journal_truncate(recorded);
                room_counters::roll_back_to(counters);
                recipients::forget();
            }
            let succeeded = result.is_ok();
            let complete: Completion = Box::new(move |committed: Result<(), String>| {
                let reply = match committed {
                    Ok(()) => result,
                    Err(e) if result.is_ok() => Err(E::from(DbError::Commit(e))),
                    Err(_) => result,
                };
                let _ = done.send(reply);
            });
            (succeeded, complete)
        });
        self.jobs
            .send(job)
            .await
            .map_err(|_| E::from(DbError::Canceled))?;
        outcome.await.map_err(|_| E::from(DbError::Canceled))?
    }
}

fn run(
    pool: Pool<backend::Manager>,
    instance: u64,
    mut queue: mpsc::Receiver<Job>,
    hook: &OnceLock<CommitHook>,
) {
    JOURNAL.with(|j| *j.borrow_mut() = Some(Vec::new()));
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match queue.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(&pool, instance, batch, hook);
    }
}

fn commit_batch(
    pool: &Pool<backend::Manager>,
    instance: u64,
    batch: Vec<Job>,
    hook: &OnceLock<CommitHook>,
) {
    let mut conn = match pool.get() {
        Ok(conn) => conn,
        Err(e) => {
            // The jobs are dropped unrun: their callers see the write as failed.
            tracing::error!(error = %e, writes = batch.len(), "no database connection for a batch of writes");
            return;
        }
    };
    // Only this thread writes a SQLite database; on Postgres other processes change spans too.
    if matches!(&*conn, DbConn::Sqlite(_)) {
        recipients::enable();
        room_counters::enable();
    }
    let mut completions: Vec<Completion> = Vec::with_capacity(batch.len());
    let committed = catch_unwind(AssertUnwindSafe(|| {
        let isolation = if batch.len() == 1 {
            Isolation::Alone
        } else {
            Isolation::Savepoint
        };
        backend::write_transaction(&mut conn, instance, |c| {
            for job in batch {
                let (succeeded, complete) = job(c, isolation);
                completions.push(complete);
                if !succeeded && isolation == Isolation::Alone {
                    // Its error is its answer; nothing else is in this transaction.
                    return Err(diesel::result::Error::RollbackTransaction);
                }
            }
            // The rooms' counters and rotation, once per room for the whole batch.
            room_counters::flush(c)
        })
    }));
    if !matches!(committed, Ok(Ok(()))) {
        recipients::forget();
        room_counters::forget();
    }
    let outcome = match committed {
        Ok(Ok(())) => Ok(()),
        // A lone write failed and was rolled back: its own error is its answer.
        Ok(Err(diesel::result::Error::RollbackTransaction)) => {
            Err("the write failed and was rolled back".to_string())
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, writes = completions.len(), "a batch of writes failed to commit");
            Err(e.to_string())
        }
        Err(_) => {
            tracing::error!(
                writes = completions.len(),
                "a write panicked; its batch was rolled back"
            );
            Err("a write panicked; its batch was rolled back".to_string())
        }
    };
    let events = JOURNAL.with(|j| {
        j.borrow_mut()
            .as_mut()
            .map(std::mem::take)
            .unwrap_or_default()
    });
    // Published before the writers hear back: receivers are woken first.
    if outcome.is_ok() && !events.is_empty() {
        if let Some(hook) = hook.get() {
            if catch_unwind(AssertUnwindSafe(|| hook(events))).is_err() {
                tracing::error!("the commit hook panicked");
            }
        }
    }
    for complete in completions {
        complete(outcome.clone());
    }
}

#[cfg(test)]
mod tests {
    use crate::db::models::UserRow;
    use crate::db::{users, Db, DbError};

    fn user(nick: &str) -> UserRow {
        UserRow {
            id: uuid::Uuid::now_v7().to_string(),
            nick: nick.to_string(),
            password_hash: "x".into(),
            created_ms: 0,
            last_active_ms: 0,
        }
    }

    #[tokio::test]
    async fn cached_recipients_never_outlive_a_rolled_back_write() {
        use crate::db::events;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        let (ann, bob) = (user("ann"), user("bob"));
        let (ann_id, bob_id) = (ann.id.clone(), bob.id.clone());
        let room = db
            .write(move |conn| {
                users::insert(conn, &ann)?;
                users::insert(conn, &bob)?;
                let room = events::ensure_room(conn, "test", "channel")?;
                events::open_span(conn, &ann_id, room, 0)?;
                assert_eq!(events::recipients(conn, room)?.len(), 1);
                Ok::<_, DbError>(room)
            })
            .await
            .unwrap();
        // Bob's window opens, the cache learns of it, then the write fails: it never happened.
        let failed = db
            .write(move |conn| {
                events::open_span(conn, &bob_id, room, 0)?;
                assert_eq!(events::recipients(conn, room)?.len(), 2);
                Err::<(), _>(DbError::Canceled)
            })
            .await;
        assert!(failed.is_err());
        let after = db
            .write(move |conn| Ok::<_, DbError>(events::recipients(conn, room)?.to_vec()))
            .await
            .unwrap();
        assert_eq!(after.len(), 1, "only ann: {after:?}");
    }

    #[tokio::test]
    async fn room_counters_written_per_batch_skip_failed_writes_and_rotate() {
        use crate::db::models::NewEvent;
        use crate::db::schema::{events, rooms};
        use diesel::prelude::*;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        let room = db
            .write(|conn| {
                crate::db::events::ensure_room(conn, "counted", "channel").map_err(DbError::from)
            })
            .await
            .unwrap();
        let event = move |i: usize| NewEvent {
            id: format!("event-{i}"),
            room_id: room,
            ts_ms: 0,
            sender: "a@hs".into(),
            sender_id: None,
            recipient: "#c@hs".into(),
            kind: "message".into(),
            body: format!("{i}"),
            meta: "{}".into(),
            reply_to: None,
            target: None,
            room_seq: None,
            wire: None,
        };
        // Twelve concurrent appends (so they share batches); the fifth fails after appending.
        let writes: Vec<_> = (0..12)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |conn| {
                        crate::db::events::append(conn, event(i), 3)?;
                        if i == 4 {
                            return Err(DbError::Canceled);
                        }
                        Ok(())
                    })
                    .await
                })
            })
            .collect();
        let mut failed = 0;
        for write in writes {
            failed += usize::from(write.await.unwrap().is_err());
        }
        assert_eq!(failed, 1);
        let (counters, mut room_seqs) = db
            .run(move |conn| {
                let counters: (i64, i64) = rooms::table
                    .find(room)
                    .select((rooms::event_count, rooms::last_room_seq))
                    .first(conn)?;
                let room_seqs: Vec<Option<i64>> = events::table
                    .filter(events::room_id.eq(room))
                    .select(events::room_seq)
                    .load(conn)?;
                Ok::<_, DbError>((counters, room_seqs))
            })
            .await
            .unwrap();
        room_seqs.sort();
        // Eleven appends committed; the room keeps the newest three, numbered without a gap.
        assert_eq!(counters, (3, 11));
        assert_eq!(room_seqs, [Some(9), Some(10), Some(11)]);
    }

    #[tokio::test]
    async fn a_failing_write_rolls_back_alone_and_the_rest_commit() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        // 60 concurrent writes of 30 distinct nicks: every nick's second insert fails (unique),
        // inside batches shared with writes that succeed.
        let writes: Vec<_> = (0..60)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    let row = user(&format!("user_{}", i % 30));
                    db.write(move |conn| users::insert(conn, &row).map_err(DbError::from))
                        .await
                })
            })
            .collect();
        let mut ok = 0;
        for write in writes {
            if write.await.unwrap().is_ok() {
                ok += 1;
            }
        }
        assert_eq!(ok, 30);
        let count = db
            .run(|conn| users::count(conn).map_err(DbError::from))
            .await
            .unwrap();
        assert_eq!(count, 30);
    }
}
