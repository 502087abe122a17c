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
//! [`record_event`] and, once their batch has committed, handed in `seq` order to every
//! *consumer* of commits. Events of a write whose savepoint rolled back, or of a batch that
//! failed to commit, reach no consumer.
//!
//! # Consumers
//!
//! Consumers are registered at start, before the first write, and come in two kinds:
//!
//! - **Inline** ([`Writer::on_commit`]): runs on the writer thread after the commit and before
//!   the writers are answered, with the batch's events by reference, in registration order.
//!   For the notifier only (it wakes waiting polls, so receivers hear of an event no later than
//!   its sender): it must be quick and never block, since every write waits for it.
//! - **Queued** ([`Writer::subscribe`]): gets each committed batch as a [`Feed::Committed`]
//!   through its own bounded queue, read by its own task ([`CommitFeed`]). For notifications,
//!   search indexing, unread counts: work that may be slow.
//!
//! **Backpressure: the writer never waits for a consumer.** A queued consumer whose queue is
//! full misses batches instead: the writer records the range of `seq`s it missed (one pair of
//! numbers, however long it lags) and queues nothing more for it until it has taken that
//! range. Once it has read the batches queued before, the consumer gets [`Feed::Missed`]
//! `{after, through}`: the committed events with `seq` in `(after, through]` were not handed
//! to it, and it reads them from the log, which is durable ([`super::events::range`]); later
//! batches follow. So a slow consumer stays correct, in order, with bounded memory, and costs
//! the writer one lock and one `try_send` per batch. A consumer whose feed is dropped is
//! forgotten. Nothing is serialized for consumers: they share the stored rows
//! ([`Commits`], one allocation per batch, only when a queued consumer exists).
//!
//! A queued consumer sees the commits of this process's writer. On Postgres with several
//! processes, each process's consumers see that process's commits (the notifier learns of the
//! others through `LISTEN`); a consumer that needs every event reads the log by `seq`.
//!
//! The writer also keeps caches for the batches it runs: rooms' recipients ([`super::recipients`]),
//! rooms' counters ([`super::room_counters`]) and the rows a send checks ([`super::rule_cache`],
//! kept only across writes that change none of them). A failed write, batch or flush drops or
//! undoes them. On SQLite this thread is the database's only writer. On Postgres, where other
//! processes write too, each write transaction starts by taking the writers' turn
//! ([`backend::take_turn`]), which says who wrote last: after this process's own turn the caches
//! hold; after another process's, the room counters are replaced by the ones taking the turn read
//! again (those of the rooms written lately; the others are read when needed), and the rest is
//! dropped too unless the turn's generation says that only sends and cursor moves happened since
//! ([`Began::AfterOtherTurn`], [`rule_cache::take_changed`]). On Postgres a batch ends with one
//! round trip for its events, counters and rotation ([`super::batch_end`]).

use std::cell::RefCell;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, MutexGuard};

use diesel::connection::SimpleConnection;
use diesel::r2d2::Pool;
use diesel::Connection;
use tokio::sync::{mpsc, oneshot};

use super::backend::Began;
use super::flusher::{self, Durable, Flusher};
use super::models::EventRow;
use super::{appends, backend, batch_end, recipients, room_counters, rule_cache, DbConn, DbError};

/// An event committed by the writer, with the users whose open window covered it.
#[derive(Debug)]
pub struct Committed {
    /// The stored row.
    pub row: EventRow,
    /// Users to deliver it to.
    pub recipients: Arc<[String]>,
    /// Users who asked to hear of every message of its room (notification level `all`; none
    /// outside channels), as of its commit.
    pub watchers: Arc<[String]>,
}

/// An inline consumer: called after each batch that appended events (on the writer thread, or
/// on Postgres the flusher's), with its events in `seq` order, before the writers are answered.
pub type CommitHook = Box<dyn Fn(&[Committed], Continuity) + Send>;

/// Whether a batch's events follow the events this process published before without anything
/// between them in the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Continuity {
    /// Nothing else was appended since this process's previous batch with events (always on
    /// SQLite, whose only writer this is).
    Contiguous,
    /// Postgres: another process (or a tool) held the writers' turn since, and may have
    /// appended events below this batch's that this process never published.
    AfterOthers,
}

/// The events of one committed batch, in `seq` order, shared by the queued consumers.
pub type Commits = Arc<[Committed]>;

/// What a queued consumer receives, in commit order.
#[derive(Debug, Clone)]
pub enum Feed {
    /// The events of one committed batch, in `seq` order.
    Committed(Commits),
    /// The consumer's queue was full: the committed events with `seq` in `(after, through]`
    /// were not handed to it. They are in the log.
    Missed {
        /// Every event up to this was handed over (or belongs to no missed batch).
        after: i64,
        /// The last `seq` missed.
        through: i64,
    },
}

/// A queued consumer's end: committed batches in commit order, and the ranges it missed, each
/// in its place.
#[derive(Debug)]
pub struct CommitFeed {
    name: &'static str,
    feed: mpsc::Receiver<Feed>,
    missed: Arc<Mutex<Missed>>,
}

/// Batches a consumer had no room for and has not been told of: `seq` in `(after, through]`.
type Missed = Option<(i64, i64)>;

fn lock_missed(missed: &Mutex<Missed>) -> MutexGuard<'_, Missed> {
    missed
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl CommitFeed {
    /// The next item: a committed batch, or the range of the ones it missed. `None` once the
    /// writer has stopped and everything was handed over. Cancel-safe.
    pub async fn recv(&mut self) -> Option<Feed> {
        if let Some(item) = self.try_recv() {
            return Some(item);
        }
        match self.feed.recv().await {
            Some(item) => Some(item),
            None => self.try_recv(),
        }
    }

    /// The next item if there is one now, without waiting.
    pub fn try_recv(&mut self) -> Option<Feed> {
        // The writer sends and records misses under this lock, and stops sending while a miss
        // is recorded: everything queued came before the missed range.
        let mut missed = lock_missed(&self.missed);
        match self.feed.try_recv() {
            Ok(item) => Some(item),
            Err(_) => missed
                .take()
                .map(|(after, through)| Feed::Missed { after, through }),
        }
    }

    /// The name it was registered with.
    pub fn name(&self) -> &'static str {
        self.name
    }
}

/// The writer's side of a queued consumer.
struct Queued {
    name: &'static str,
    feed: mpsc::Sender<Feed>,
    missed: Arc<Mutex<Missed>>,
}

impl Queued {
    /// Hands `commits` over, or records that it missed them. `false` when its feed is gone.
    fn offer(&self, commits: &Commits) -> bool {
        let (Some(first), Some(last)) = (commits.first(), commits.last()) else {
            return true;
        };
        let (first, last) = (first.row.seq, last.row.seq);
        let mut missed = lock_missed(&self.missed);
        if let Some((_, through)) = missed.as_mut() {
            // Still behind: nothing is queued after a miss until the consumer has taken it.
            *through = last;
            return !self.feed.is_closed();
        }
        match self.feed.try_send(Feed::Committed(Arc::clone(commits))) {
            Ok(()) => true,
            Err(mpsc::error::TrySendError::Full(_)) => {
                tracing::warn!(
                    consumer = self.name,
                    first,
                    last,
                    "a commit consumer lags; it will read what it missed from the log"
                );
                *missed = Some((first - 1, last));
                true
            }
            Err(mpsc::error::TrySendError::Closed(_)) => false,
        }
    }
}

impl Queued {
    /// Records that the committed events with `seq` in `[first, last]` were not handed over
    /// (their commit could not be confirmed): the consumer reads what the log holds of them.
    fn miss(&self, first: i64, last: i64) {
        let mut missed = lock_missed(&self.missed);
        match missed.as_mut() {
            Some((_, through)) => *through = last,
            None => *missed = Some((first - 1, last)),
        }
    }
}

/// Every consumer of commits, in registration order.
#[derive(Default)]
struct Consumers {
    inline: Vec<(&'static str, CommitHook)>,
    queued: Vec<Queued>,
}

impl Consumers {
    /// Hands a committed batch's events to every consumer: inline ones first, then the queues.
    fn deliver(&mut self, events: Vec<Committed>, continuity: Continuity) {
        for (name, hook) in &self.inline {
            if catch_unwind(AssertUnwindSafe(|| hook(&events, continuity))).is_err() {
                tracing::error!(consumer = name, "a commit consumer panicked");
            }
        }
        if self.queued.is_empty() {
            return;
        }
        let commits: Commits = events.into();
        self.queued.retain(|queued| {
            let open = queued.offer(&commits);
            if !open {
                tracing::info!(consumer = queued.name, "a commit consumer stopped");
            }
            open
        });
    }
}

impl Consumers {
    /// The queued consumers learn that these events were not handed to them; inline ones
    /// (the notifier) hear nothing: the next confirmed commit wakes the polls.
    fn missed(&mut self, events: &[Committed]) {
        if let (Some(first), Some(last)) = (events.first(), events.last()) {
            for queued in &self.queued {
                queued.miss(first.row.seq, last.row.seq);
            }
        }
    }
}

thread_local! {
    /// The events appended by the batch running on this thread (the writer thread only).
    static JOURNAL: RefCell<Option<Vec<Committed>>> = const { RefCell::new(None) };
}

/// Records an event appended by the running write, to be published after its batch commits.
/// Returns `false` when called outside the writer (the event would not be published; every
/// event append must go through [`Writer::write`]).
pub fn record_event(row: &EventRow, recipients: &Arc<[String]>, watchers: &Arc<[String]>) -> bool {
    JOURNAL.with(|journal| match journal.borrow_mut().as_mut() {
        Some(entries) => {
            entries.push(Committed {
                row: row.clone(),
                recipients: Arc::clone(recipients),
                watchers: Arc::clone(watchers),
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

/// What the writer does with a job: run it (kept apart from the batch's other jobs as
/// `Isolation` says) and return how it went and how to report the outcome once the batch's
/// commit is known.
type Run = Box<dyn FnOnce(&mut DbConn, Isolation) -> (Ran, Completion) + Send>;

/// A queued write.
struct Job {
    run: Run,
    /// Submitted with [`Writer::write_appending`].
    appending: bool,
}

/// How a job went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ran {
    /// It succeeded; its changes stay in the batch.
    Succeeded,
    /// It failed and its changes were undone; the rest of the batch goes on.
    Failed,
    /// It failed and its changes could not be undone alone: the batch must roll back.
    FailedBatch,
}

/// How a job is kept apart from the others of its batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Isolation {
    /// In its own savepoint: a failure undoes only this job.
    Savepoint,
    /// Alone in the batch: a failure rolls the whole transaction back (no savepoint to
    /// compile and run).
    Alone,
    /// Postgres, an appending write: no savepoint unless it asks for one
    /// ([`appends::changes`]); its events are kept for the batch's insert.
    Appending,
}
/// Reports a job's result, or the batch's commit failure.
type Completion = Box<dyn FnOnce(Result<(), String>) + Send>;

/// The handle to this process's writer thread.
pub struct Writer {
    jobs: mpsc::Sender<Job>,
    consumers: Arc<Mutex<Consumers>>,
}

impl Writer {
    /// Starts the writer thread for `pool`. It stops when the last handle is dropped.
    /// On Postgres its commits are confirmed durable by a [`Flusher`] thread, which raises
    /// `durable`.
    pub fn start(
        pool: Pool<backend::Manager>,
        backend: backend::Backend,
        instance: u64,
        durable: Durable,
        audience: Arc<super::audience::Audience>,
    ) -> Result<Writer, DbError> {
        let (jobs, queue) = mpsc::channel::<Job>(QUEUE);
        let consumers = Arc::new(Mutex::new(Consumers::default()));
        let writer_consumers = Arc::clone(&consumers);
        let flusher = match backend {
            backend::Backend::Postgres => Some(
                Flusher::start(pool.clone(), instance, durable, audience).map_err(|e| {
                    DbError::Migration(format!("cannot start the flusher thread: {e}"))
                })?,
            ),
            backend::Backend::Sqlite => None,
        };
        std::thread::Builder::new()
            .name("hearth-writer".into())
            .spawn(move || run(pool, flusher, instance, queue, &writer_consumers))
            .map_err(|e| DbError::Migration(format!("cannot start the writer thread: {e}")))?;
        Ok(Writer { jobs, consumers })
    }

    fn consumers(&self) -> MutexGuard<'_, Consumers> {
        // A consumer that panicked was caught; the list itself is never left half-changed.
        self.consumers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Adds an inline consumer: `hook` runs on the writer thread after each commit, before the
    /// writers are answered (see the module documentation). Register at start.
    pub fn on_commit(&self, name: &'static str, hook: CommitHook) {
        self.consumers().inline.push((name, hook));
    }

    /// Adds a queued consumer with room for `capacity` batches (at least 1): it gets every
    /// committed batch from now on, or [`Feed::Missed`] for the ones it had no room for.
    pub fn subscribe(&self, name: &'static str, capacity: usize) -> CommitFeed {
        let (tx, rx) = mpsc::channel(capacity.max(1));
        let missed = Arc::new(Mutex::new(None));
        self.consumers().queued.push(Queued {
            name,
            feed: tx,
            missed: Arc::clone(&missed),
        });
        CommitFeed {
            name,
            feed: rx,
            missed,
        }
    }

    /// Runs `f` in the next batch; resolves once that batch has committed (or failed).
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.submit(f, false).await
    }

    /// Like [`Writer::write`], for a write that makes every check before its first change and
    /// whose changes are mostly events: on Postgres it runs without a savepoint and its events
    /// are inserted with the batch's ([`appends`]). `f` calls [`appends::changes`] before
    /// changing anything but events ahead of a check that may still fail.
    pub async fn write_appending<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.submit(f, true).await
    }

    async fn submit<T, E, F>(&self, f: F, appending: bool) -> Result<T, E>
    where
        F: FnOnce(&mut DbConn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        let (done, outcome) = oneshot::channel::<Result<T, E>>();
        let run: Run = Box::new(move |conn: &mut DbConn, isolation: Isolation| {
            // A savepoint inside the batch's transaction: a failing write undoes only itself,
            // and the events it recorded are forgotten with it.
            let recorded = journal_len();
            let counters = room_counters::mark();
            let kept = appends::mark();
            let (result, mut ran) = match isolation {
                Isolation::Savepoint => in_savepoint(conn, f),
                Isolation::Alone | Isolation::Appending => {
                    let result = f(conn);
                    let ran = if result.is_ok() {
                        Ran::Succeeded
                    } else if isolation == Isolation::Alone {
                        Ran::FailedBatch
                    } else {
                        Ran::Failed
                    };
                    (result, ran)
                }
            };
            if result.is_err() {
                journal_truncate(recorded);
                room_counters::roll_back_to(counters);
                recipients::forget();
                if isolation == Isolation::Appending && appends::job_failed(conn, kept).is_err() {
                    ran = Ran::FailedBatch;
                }
            }
            appends::job_finished();
            rule_cache::write_finished();
            let complete: Completion = Box::new(move |committed: Result<(), String>| {
                let reply = match committed {
                    Ok(()) => result,
                    Err(e) if result.is_ok() => Err(E::from(DbError::Commit(e))),
                    Err(_) => result,
                };
                let _ = done.send(reply);
            });
            (ran, complete)
        });
        self.jobs
            .send(Job { run, appending })
            .await
            .map_err(|_| E::from(DbError::Canceled))?;
        outcome.await.map_err(|_| E::from(DbError::Canceled))?
    }
}

/// Runs one job of a batch in a savepoint of its own, so that its failure undoes only itself.
///
/// On Postgres the savepoint is never released: the savepoints of a batch end with its
/// transaction, and a `RELEASE` would be one more round trip per write. The same name is used
/// for every job; `ROLLBACK TO` goes back to the newest savepoint of that name, the job's own.
/// (At most [`MAX_BATCH`] are open at once, within the
/// subtransactions Postgres tracks cheaply.)
fn in_savepoint<T, E, F>(conn: &mut DbConn, f: F) -> (Result<T, E>, Ran)
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    match conn {
        DbConn::Postgres(_) => {
            if let Err(e) = conn.batch_execute("SAVEPOINT hearth_job") {
                return (Err(e.into()), Ran::FailedBatch);
            }
            let result = f(conn);
            if result.is_ok() {
                return (result, Ran::Succeeded);
            }
            match conn.batch_execute("ROLLBACK TO SAVEPOINT hearth_job") {
                Ok(()) => (result, Ran::Failed),
                // The transaction cannot go on: nothing of the batch may commit.
                Err(_) => (result, Ran::FailedBatch),
            }
        }
        DbConn::Sqlite(_) => {
            let result = conn.transaction(f);
            let ran = if result.is_ok() {
                Ran::Succeeded
            } else {
                Ran::Failed
            };
            (result, ran)
        }
    }
}

fn run(
    pool: Pool<backend::Manager>,
    flusher: Option<Flusher>,
    instance: u64,
    mut queue: mpsc::Receiver<Job>,
    consumers: &Arc<Mutex<Consumers>>,
) {
    JOURNAL.with(|j| *j.borrow_mut() = Some(Vec::new()));
    recipients::enable();
    room_counters::enable();
    if flusher.is_some() {
        appends::enable();
    }
    let mut kept = backend::KeptConnection::new(pool);
    // Postgres: the generation of what sends check as of this process's last commit.
    let mut generation: Option<i64> = None;
    // Postgres: whether another process held the turn since this one last published events
    // (at start, anything may have been appended that this process's notifier never saw).
    let mut others_since_published = flusher.is_some();
    // Postgres: the era the batches commit in, for the flusher's check that no crash lost them.
    let mut eras = flusher::Eras::default();
    while let Some(first) = queue.blocking_recv() {
        let mut batch = vec![first];
        take_queued(&mut batch, &mut queue);
        if flusher.as_ref().is_some_and(Flusher::take_failure) {
            forget_caches(&mut generation);
            eras.close();
        }
        let (conn, new) = match kept.get_saying_if_new() {
            Ok(got) => got,
            Err(e) => {
                // The jobs are dropped unrun: their callers see the write as failed.
                tracing::error!(error = %e, writes = batch.len(), "no database connection for a batch of writes");
                continue;
            }
        };
        if new {
            eras.close();
        }
        let era = match conn {
            DbConn::Postgres(pg) if flusher.is_some() => eras.current(pg, instance),
            _ => Ok(0),
        };
        let era = match era {
            Ok(era) => era,
            Err(e) => {
                // As above: the jobs are dropped unrun.
                tracing::error!(error = %e, writes = batch.len(), "cannot open a writer's era for a batch of writes");
                kept.forget();
                continue;
            }
        };
        let began = std::time::Instant::now();
        let mut done = commit_batch(conn, instance, batch, &mut queue, &mut generation);
        // Others' events since this process last published: its next events do not follow.
        others_since_published |= done.after_others;
        if !done.events.is_empty() {
            if others_since_published {
                done.continuity = Continuity::AfterOthers;
            }
            others_since_published = false;
        }
        match (&flusher, &done.outcome) {
            // Postgres: answered once the commit is on disk.
            (Some(flusher), Ok(())) => {
                let appended = done.appended();
                let consumers = Arc::clone(consumers);
                flusher.push(flusher::Unconfirmed {
                    era,
                    began,
                    appended,
                    settle: Box::new(move |durable| done.settle(durable, &consumers)),
                });
            }
            _ => done.settle(Ok(()), consumers),
        }
    }
}

/// Drops everything the writer keeps from one batch to the next: a batch did not commit, or
/// a flush failed and Postgres may have lost commits the caches count.
fn forget_caches(generation: &mut Option<i64>) {
    recipients::forget();
    room_counters::forget();
    batch_end::forget();
    rule_cache::forget();
    appends::batch_ended(false);
    *generation = None;
}

/// Adds the writes waiting in the queue to the batch, up to [`MAX_BATCH`].
fn take_queued(batch: &mut Vec<Job>, queue: &mut mpsc::Receiver<Job>) {
    while batch.len() < MAX_BATCH {
        match queue.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
}

/// A batch that ran: how its commit went, its writers' answers and its events.
struct Done {
    outcome: Result<(), String>,
    completions: Vec<Completion>,
    events: Vec<Committed>,
    /// Whether another process held the turn before it (Postgres).
    after_others: bool,
    /// Whether its events follow this process's previously published ones directly.
    continuity: Continuity,
}

impl Done {
    /// What it appended, for the other processes.
    fn appended(&self) -> Option<backend::Appended> {
        Some(backend::Appended {
            last_seq: self.events.last()?.row.seq,
        })
    }

    /// Hands the events to the consumers and answers the writers, once the commit is known
    /// to be durable (`durable`: the flusher's word on Postgres, `Ok` on SQLite).
    fn settle(self, durable: Result<(), String>, consumers: &Mutex<Consumers>) {
        let outcome = self.outcome.and(durable);
        let mut consumers = consumers
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match &outcome {
            // Published before the writers hear back: receivers are woken first.
            Ok(()) if !self.events.is_empty() => consumers.deliver(self.events, self.continuity),
            Ok(()) => {}
            Err(_) => consumers.missed(&self.events),
        }
        drop(consumers);
        for complete in self.completions {
            complete(outcome.clone());
        }
    }
}

/// Runs a batch in one transaction. The batch takes in the writes that queued while its
/// transaction began too: on Postgres, beginning means waiting for the writers' turn while
/// another process commits, and the writes that arrive meanwhile would otherwise wait for the
/// next turn.
fn commit_batch(
    conn: &mut DbConn,
    instance: u64,
    mut batch: Vec<Job>,
    queue: &mut mpsc::Receiver<Job>,
    generation: &mut Option<i64>,
) -> Done {
    let mut completions: Vec<Completion> = Vec::with_capacity(MAX_BATCH);
    let mut after_others = false;
    let committed = catch_unwind(AssertUnwindSafe(|| {
        backend::write_transaction(conn, instance, |c, began| {
            take_queued(&mut batch, queue);
            let alone = batch.len() == 1;
            after_others = matches!(began, Began::AfterOtherTurn(_));
            if let Began::AfterOtherTurn(now) = began {
                // Another process wrote since this one's last turn: its sends moved the rooms'
                // counters (taking the turn read them again, `room_counters::others_wrote`);
                // unless the generation says nothing else changed, the rules and windows may
                // have changed too.
                if *generation != Some(now) {
                    recipients::forget();
                    rule_cache::forget();
                }
                *generation = Some(now);
            }
            rule_cache::take_changed();
            for job in batch {
                let isolation = match c {
                    _ if alone => Isolation::Alone,
                    DbConn::Postgres(_) if job.appending => Isolation::Appending,
                    _ => Isolation::Savepoint,
                };
                // A write that is not appending sees the events kept before it as stored.
                appends::job_started(c, isolation == Isolation::Appending)?;
                let (ran, complete) = (job.run)(c, isolation);
                completions.push(complete);
                if ran == Ran::FailedBatch {
                    // Its error is its answer; the others hear that the batch failed.
                    return Err(diesel::result::Error::RollbackTransaction);
                }
            }
            // The events kept for one insert, then the rooms' counters and rotation, once per
            // room for the whole batch (one round trip on Postgres).
            batch_end::end_batch(c)?;
            if rule_cache::take_changed() {
                if let DbConn::Postgres(pg) = c {
                    backend::next_generation(pg)?;
                    *generation = generation.map(|g| g + 1);
                }
            }
            Ok(())
        })
    }));
    if matches!(committed, Ok(Ok(()))) {
        appends::batch_ended(true);
    } else {
        forget_caches(generation);
    }
    let outcome = match committed {
        Ok(Ok(())) => Ok(()),
        // A write failed and took the batch with it: its own error is its answer, the
        // others hear this.
        Ok(Err(diesel::result::Error::RollbackTransaction)) => {
            Err("a write of the batch failed and the batch was rolled back".to_string())
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
    // A batch that did not commit published nothing.
    let events = if outcome.is_ok() { events } else { Vec::new() };
    Done {
        outcome,
        completions,
        events,
        after_others,
        continuity: Continuity::Contiguous,
    }
}

#[cfg(test)]
mod tests {
    use crate::db::models::UserRow;
    use crate::db::{users, Db, DbError};

    #[tokio::test]
    async fn cached_recipients_never_outlive_a_rolled_back_write() {
        use crate::db::events;
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        let (ann, bob) = (UserRow::for_test("ann"), UserRow::for_test("bob"));
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
        let event =
            move |i: usize| NewEvent::message_for_test(format!("event-{i}"), room, format!("{i}"));
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
                    let row = UserRow::for_test(&format!("user_{}", i % 30));
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

    /// Appends one event per write to a fresh room, `count` writes at once; the writes whose
    /// index `fails` accepts fail after appending. Returns the committed seqs, sorted.
    async fn append_concurrently(db: &Db, count: usize, fails: fn(usize) -> bool) -> Vec<i64> {
        use crate::error::ApiError;
        use crate::services::events::{append_event, Draft};
        use federation_proto::event::EventKind;
        let room = db
            .write(|conn| {
                crate::db::events::ensure_room(conn, "consumed", "channel").map_err(DbError::from)
            })
            .await
            .unwrap();
        let writes: Vec<_> = (0..count)
            .map(|i| {
                let db = db.clone();
                tokio::spawn(async move {
                    db.write(move |conn| {
                        let draft = Draft::new(
                            room,
                            "a@hs",
                            None,
                            "#c@hs",
                            EventKind::Message,
                            i.to_string(),
                        );
                        let row = append_event(conn, draft, 1_000)?;
                        if fails(i) {
                            return Err(ApiError::internal("rolled back on purpose"));
                        }
                        Ok(row.seq)
                    })
                    .await
                })
            })
            .collect();
        let mut committed = Vec::new();
        for write in writes {
            if let Ok(seq) = write.await.unwrap() {
                committed.push(seq);
            }
        }
        committed.sort_unstable();
        committed
    }

    /// Everything queued for a feed now (consumers are fed before the writers are answered).
    fn drain(feed: &mut super::CommitFeed) -> Vec<super::Feed> {
        std::iter::from_fn(|| feed.try_recv()).collect()
    }

    fn committed_seqs(items: &[super::Feed]) -> Vec<i64> {
        items
            .iter()
            .flat_map(|item| match item {
                super::Feed::Committed(commits) => {
                    commits.iter().map(|c| c.row.seq).collect::<Vec<_>>()
                }
                super::Feed::Missed { .. } => panic!("a consumer with room missed a batch"),
            })
            .collect()
    }

    #[tokio::test]
    async fn every_consumer_sees_every_committed_event_in_seq_order_and_no_rolled_back_one() {
        use std::sync::{Arc, Mutex};
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        let inline = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&inline);
        db.on_commit(
            "inline",
            Box::new(move |commits: &[super::Committed], _| {
                seen.lock()
                    .unwrap()
                    .extend(commits.iter().map(|c| (c.row.seq, c.row.body.clone())));
            }),
        );
        let mut first = db.commit_feed("first", 1024);
        let mut second = db.commit_feed("second", 1024);
        // Sixty concurrent writes, so they share batches; every seventh rolls back alone.
        let fails = |i: usize| i % 7 == 3;
        let committed = append_concurrently(&db, 60, fails).await;
        assert_eq!(committed.len(), 60 - 9);
        for feed in [&mut first, &mut second] {
            assert_eq!(committed_seqs(&drain(feed)), committed, "{}", feed.name());
        }
        let inline = inline.lock().unwrap().clone();
        assert_eq!(
            inline.iter().map(|(seq, _)| *seq).collect::<Vec<_>>(),
            committed
        );
        // What rolled back reached nobody (its seq may even be reused by a later write).
        assert!(inline.iter().all(|(_, body)| !fails(body.parse().unwrap())));
    }

    #[tokio::test]
    async fn a_lagging_consumer_never_slows_the_writer_and_catches_up_from_the_log() {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        // Room for one batch, and nobody reads while twenty writes commit one after another.
        let mut slow = db.commit_feed("slow", 1);
        let mut committed = Vec::new();
        for _ in 0..20 {
            committed.extend(append_concurrently(&db, 1, |_| false).await);
        }
        let mut seen = Vec::new();
        let mut missed = 0;
        while let Some(item) = slow.try_recv() {
            match item {
                super::Feed::Committed(commits) => seen.extend(commits.iter().map(|c| c.row.seq)),
                super::Feed::Missed { after, through } => {
                    missed += 1;
                    let rows = db
                        .run(move |conn| {
                            crate::db::events::range(conn, after, through, 1_000)
                                .map_err(DbError::from)
                        })
                        .await
                        .unwrap();
                    seen.extend(rows.iter().map(|r| r.seq));
                }
            }
        }
        assert_eq!(missed, 1, "one range, however many batches it missed");
        assert_eq!(seen, committed);
        // Then it is fed again, in order.
        let later = append_concurrently(&db, 1, |_| false).await;
        assert_eq!(committed_seqs(&drain(&mut slow)), later);
        // A consumer that goes away is forgotten; the writer goes on.
        drop(slow);
        assert_eq!(append_concurrently(&db, 1, |_| false).await.len(), 1);
    }
}
