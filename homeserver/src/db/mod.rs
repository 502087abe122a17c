//! Storage: diesel over SQLite (WAL) or Postgres, with embedded migrations for both.
//!
//! This is the only module that names diesel. Services call [`Db::run`] (reads) or
//! [`Db::write`] (one write transaction) with a closure over a connection; the closure runs on
//! actix's blocking pool, never on the async executor.
//!
//! The backend is chosen by `DBURL`: `postgres://…`/`postgresql://…` is Postgres; empty (a
//! `hearth.db` in the data directory), a path or `sqlite://path` is SQLite. Both behave the
//! same: writers run one at a time (SQLite's `BEGIN IMMEDIATE`; on Postgres the lock of the one
//! `writer_turn` row, [`backend::take_turn`]), so events commit in `seq` order. On Postgres several processes may share the
//! database; [`Db::listen`] wakes this process's long-polls when another one appends events.
//!
//! # Layout
//! - [`backend`]: [`DbConn`] (the multi-backend connection), URL parsing, the write transaction.
//! - [`schema`]: the tables; [`models`]: row structs.
//! - [`users`], [`devices`], [`channels`], [`events`], [`peers`]: queries grouped by aggregate.
//! - [`migrate`]: copying a SQLite database into Postgres (`homeserver db migrate-from-sqlite`).

pub mod admin;
pub mod appends;
pub mod audience;
pub mod backend;
pub mod batch_end;
pub mod channels;
pub mod devices;
pub mod events;
pub mod flusher;
pub mod media;
pub mod migrate;
pub mod models;
pub mod moderation;
pub mod notifications;
pub mod ops;
pub mod outbox;
pub mod peers;
pub mod pg_listen;
pub mod pg_literal;
pub mod pg_relay;
pub(crate) mod prepared;
pub mod read_state;
pub mod recipients;
pub mod rich;
pub mod room_counters;
pub mod rule_cache;
pub mod schema;
pub mod search;
pub mod settings;
pub mod shared;
pub mod users;
pub mod writer;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{Pool, PooledConnection};
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub(crate) use backend::{cached_sql, per_backend};
pub use backend::{Backend, DbConn};

/// The connection type every query takes.
pub type Conn = DbConn;

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// How long the listener thread waits on its socket before it looks at its stop flag (a
/// notification ends the wait at once).
const LISTEN_WAIT: Duration = Duration::from_millis(250);
/// Wait before the listener reconnects after losing its connection.
const LISTEN_RETRY: Duration = Duration::from_secs(1);

/// A failed query is an internal error of the API (services map an absent row to a 404 of the
/// right kind with `Option`s, never through this). Here, because `db` is the only module that
/// names diesel.
impl From<diesel::result::Error> for crate::error::ApiError {
    fn from(e: diesel::result::Error) -> Self {
        crate::error::ApiError::internal(DbError::Query(e))
    }
}

/// Storage failures. `NotFound` is mapped by services to a 404 of the right kind.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// No connection could be had from the pool.
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A connection could not be opened.
    #[error("database connection: {0}")]
    Connection(#[from] diesel::ConnectionError),
    /// Migrations failed at start.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// Unsupported URL.
    #[error(
        "unsupported database url {0:?}: use postgres://…, a SQLite path, sqlite://path, or \
         leave DBURL empty"
    )]
    Url(String),
    /// The blocking pool is gone (shutting down).
    #[error("blocking pool unavailable")]
    Canceled,
    /// The write ran, but the transaction it shared with other writes did not commit.
    #[error("the write's transaction did not commit: {0}")]
    Commit(String),
}

/// A pool of database connections.
#[derive(Clone)]
pub struct Db {
    pool: Pool<backend::Manager>,
    backend: Backend,
    url: Arc<str>,
    /// Tells this process's own `NOTIFY`s apart from other processes' (random per open).
    instance: u64,
    /// The group-commit writer all write transactions go through.
    writer: Arc<writer::Writer>,
    /// Postgres: sends ephemeral items to the other processes ([`pg_relay`]).
    relay: Option<Arc<pg_relay::Relay>>,
    /// The highest `seq` known to be on disk ([`flusher`]): what polls read up to.
    durable: flusher::Durable,
    /// Postgres: whether another session may hear this process's notifications.
    audience: Arc<audience::Audience>,
}

impl Db {
    /// Opens (creating if needed) the database named by `dburl`, or `DATA_DIR/hearth.db` when
    /// it is empty, and runs the embedded migrations of its backend.
    pub fn open(dburl: &str, data_dir: &Path) -> Result<Db, DbError> {
        let default = data_dir.join("hearth.db").to_string_lossy().into_owned();
        let (backend, url) = backend::parse_url(dburl, &default)?;
        let instance = instance_id();
        // On Postgres this process's sessions carry its own name, so that it can tell whether
        // anyone else may hear its notifications ([`audience`]).
        let (url, tag) = match backend {
            Backend::Postgres => audience::tagged(&url, instance),
            Backend::Sqlite => (url, None),
        };
        let audience = Arc::new(audience::Audience::new(tag));
        let manager = backend::Manager::new(backend, url.clone());
        let pool = Pool::builder()
            .max_size(16)
            .min_idle(Some(2))
            .connection_timeout(Duration::from_secs(30))
            .build(manager)?;
        let durable = match backend {
            Backend::Postgres => flusher::Durable::up_to(0),
            Backend::Sqlite => flusher::Durable::everything(),
        };
        let writer = Arc::new(writer::Writer::start(
            pool.clone(),
            backend,
            instance,
            durable.clone(),
            Arc::clone(&audience),
        )?);
        let relay = match backend {
            Backend::Postgres => pg_relay::Relay::start(pool.clone()).map(Arc::new),
            Backend::Sqlite => None,
        };
        let db = Db {
            pool,
            backend,
            url: url.into(),
            instance,
            writer,
            relay,
            durable,
            audience,
        };
        let mut conn = db.pool.get()?;
        let migrations = match backend {
            Backend::Postgres => POSTGRES_MIGRATIONS,
            Backend::Sqlite => SQLITE_MIGRATIONS,
        };
        // Two processes starting together must not both run the same migration; the second
        // waits (without the writers' lock_timeout) until the first is done.
        if let DbConn::Postgres(c) = &mut *conn {
            c.batch_execute(&format!(
                "SET lock_timeout = 0; SELECT pg_advisory_lock({});",
                backend::MIGRATION_LOCK_KEY
            ))?;
        }
        let migrated = conn
            .run_pending_migrations(migrations)
            .map(drop)
            .map_err(|e| DbError::Migration(e.to_string()));
        if let DbConn::Postgres(c) = &mut *conn {
            c.batch_execute(&format!(
                "SELECT pg_advisory_unlock({}); SET lock_timeout = '{}';",
                backend::MIGRATION_LOCK_KEY,
                backend::LOCK_TIMEOUT
            ))?;
        }
        migrated?;
        if backend == Backend::Postgres {
            flusher::horizon(&mut conn, &db.durable)?;
        }
        drop(conn);
        tracing::info!(%backend, "database ready");
        Ok(db)
    }

    /// The highest `seq` known to be durable: a reader that hands out cursors reads up to it
    /// ([`flusher`]; everything on SQLite).
    pub fn durable(&self) -> i64 {
        self.durable.get()
    }

    /// Where the log ends for a cursor: the highest `seq` committed and durable now. On
    /// Postgres another process may have committed events this one has not heard of yet: when
    /// the highest is past what this process knows to be durable, this waits until it is on
    /// disk and raises [`Db::durable`] to it ([`flusher::horizon`]).
    pub fn log_end(&self, conn: &mut Conn) -> Result<i64, DbError> {
        match self.backend {
            Backend::Postgres => Ok(flusher::horizon(conn, &self.durable)?),
            Backend::Sqlite => Ok(events::max_seq(conn)?),
        }
    }

    /// Whether other processes may share this database (Postgres).
    pub fn is_shared(&self) -> bool {
        self.backend == Backend::Postgres
    }

    /// Which backend this database uses.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// A connection for use on the current (blocking) thread.
    pub fn conn(&self) -> Result<PooledConnection<backend::Manager>, DbError> {
        Ok(self.pool.get()?)
    }

    /// Runs `f` with a connection on the blocking pool.
    pub async fn run<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + Send + 'static,
    {
        let pool = self.pool.clone();
        actix_web::web::block(move || {
            let mut conn = pool.get().map_err(DbError::from)?;
            f(&mut conn)
        })
        .await
        .map_err(|_| E::from(DbError::Canceled))?
    }

    /// Runs `f` inside one write transaction: all of it commits, or none of it does. Writes
    /// are group-committed by one writer thread ([`writer`]): `f` runs in its own savepoint
    /// of a batch's transaction and the call returns once that batch has committed. Write transactions run one at a time across every process sharing the
    /// database (SQLite `BEGIN IMMEDIATE`; Postgres the `writer_turn` row), so events commit
    /// in `seq` order. See [`backend::write_transaction`].
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.writer.write(f).await
    }

    /// Like [`Db::write`], for a write that makes every check before its first change and
    /// whose changes are mostly events (a send): on Postgres it shares one savepoint-free
    /// `INSERT` with the batch's other sends ([`appends`]). Before changing anything but its
    /// events ahead of a check that may still fail, `f` calls [`appends::changes`].
    pub async fn write_appending<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.writer.write_appending(f).await
    }

    /// Adds an inline consumer of commits: `hook` gets each committed batch's events, in `seq`
    /// order, on the writer thread (on Postgres a flusher's, once the commit is on disk),
    /// before the writers are answered (see [`writer`]). For the notifier; must be quick and
    /// never block.
    pub fn on_commit(&self, name: &'static str, hook: writer::CommitHook) {
        self.writer.on_commit(name, hook);
    }

    /// Adds a queued consumer of commits with room for `capacity` batches: it never slows the
    /// writer, and learns which events it missed when it lags ([`writer::Feed`]).
    pub fn commit_feed(&self, name: &'static str, capacity: usize) -> writer::CommitFeed {
        self.writer.subscribe(name, capacity)
    }

    /// Runs `f` as a write without waiting for it: for bookkeeping whose loss on a crash only
    /// repeats work (cursor acknowledgements, last-seen times). Failures are logged.
    pub fn write_detached<F>(&self, what: &'static str, f: F)
    where
        F: FnOnce(&mut Conn) -> Result<(), DbError> + Send + 'static,
    {
        let db = self.clone();
        actix_web::rt::spawn(async move {
            if let Err(e) = db.write(f).await {
                tracing::warn!(error = %e, what, "background write failed");
            }
        });
    }

    /// On Postgres, sends an ephemeral item to the other processes sharing the database (see
    /// [`pg_relay`]); `false` when it stays in this process (SQLite, too many recipients to
    /// name, or the relay is behind). Never blocks.
    pub fn relay_ephemeral(&self, recipients: &[String], json: &[u8], lifetime: Duration) -> bool {
        let Some(relay) = &self.relay else {
            return false;
        };
        match pg_relay::payload(self.instance, recipients, json, lifetime) {
            Some(payload) => relay.send(payload),
            None => false,
        }
    }

    /// On Postgres, starts a thread that `LISTEN`s for events appended by other processes
    /// sharing the database ([`pg_listen`]: woken by the socket, not by polling) and calls
    /// `wake` on that thread with the highest `seq` they appended (notifications that arrive
    /// together make one call), and after reconnecting, when notifications may have been
    /// missed. Returns `None` on SQLite, where one process owns the database. The thread stops
    /// when the returned handle is dropped.
    pub fn listen<F>(&self, mut wake: F) -> Option<Listener>
    where
        F: FnMut(Wake) + Send + 'static,
    {
        if self.backend != Backend::Postgres {
            return None;
        }
        let stop = Arc::new(AtomicBool::new(false));
        let url = Arc::clone(&self.url);
        let instance = self.instance;
        let flag = Arc::clone(&stop);
        let durable = self.durable.clone();
        let audience = Arc::clone(&self.audience);
        let spawned = std::thread::Builder::new()
            .name("hearth-pg-listen".into())
            .spawn(move || listen_loop(&url, instance, &durable, &audience, &flag, &mut wake));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the Postgres listener thread");
        }
        Some(Listener { stop })
    }
}

/// A random id for this `Db`, to tell its own `NOTIFY`s apart. Two processes must not share one,
/// or they would ignore each other's notifications: without randomness, fall back to the pid
/// and the clock.
fn instance_id() -> u64 {
    let mut bytes = [0u8; 8];
    if getrandom::fill(&mut bytes).is_ok() {
        return u64::from_le_bytes(bytes);
    }
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    (u64::from(std::process::id()) << 32) ^ nanos
}

/// What another process asks of this process's polls and streams.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Wake {
    /// Other processes appended events up to this `seq`, durable now
    /// ([`crate::remote_appends`] reads and publishes them).
    Appended(i64),
    /// Notifications may have been missed (the listener reconnected, or could not read one):
    /// events of unknown `seq`s may concern anyone, every poll looks.
    Missed,
    /// An ephemeral item it published, for its recipients here.
    Ephemeral(pg_relay::Relayed),
}

/// Keeps the Postgres listener thread running; dropping it stops the thread.
#[derive(Debug)]
pub struct Listener {
    stop: Arc<AtomicBool>,
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

fn listen_loop(
    url: &str,
    instance: u64,
    durable: &flusher::Durable,
    audience: &audience::Audience,
    stop: &AtomicBool,
    wake: &mut dyn FnMut(Wake),
) {
    let mut first = true;
    while !stop.load(Ordering::Relaxed) {
        let channels = [
            backend::EVENTS_CHANNEL,
            pg_relay::EPHEMERAL_CHANNEL,
            audience::PROCESSES_CHANNEL,
        ];
        let mut listening = match pg_listen::Listening::connect(url, &channels) {
            Ok(listening) => listening,
            Err(e) => {
                tracing::warn!(error = %e, "Postgres listener cannot connect; retrying");
                std::thread::sleep(LISTEN_RETRY);
                continue;
            }
        };
        if !first {
            // Notifications sent while we were away are lost: what is durable now is read
            // again, and every poll looks.
            let horizon = backend::establish(Backend::Postgres, url)
                .map_err(|e| e.to_string())
                .and_then(|mut c| flusher::horizon(&mut c, durable).map_err(|e| e.to_string()));
            if let Err(e) = horizon {
                tracing::warn!(error = %e, "cannot read the durable horizon");
            }
            wake(Wake::Missed);
        }
        first = false;
        // This process is here: one that flushes without notifying notifies again.
        if let Err(e) = listening.exec(&format!(
            "NOTIFY {}, '{instance}'",
            audience::PROCESSES_CHANNEL
        )) {
            tracing::warn!(error = %e, "cannot announce this process to the others");
        }
        tracing::debug!("listening for events of other processes");
        let mut checked: Option<std::time::Instant> = None;
        let mut check_failing = false;
        while !stop.load(Ordering::Relaxed) {
            if checked.is_none_or(|at| at.elapsed() >= audience::CHECK_EVERY) {
                check_audience(&listening, audience, instance, &mut check_failing);
                checked = Some(std::time::Instant::now());
            }
            let notes = match listening.wait(LISTEN_WAIT) {
                Ok(notes) => notes,
                Err(e) => {
                    tracing::warn!(error = %e, "Postgres listener lost its connection");
                    break;
                }
            };
            let mut appended: Option<i64> = None;
            let mut unreadable = false;
            for note in notes {
                if note.channel == audience::PROCESSES_CHANNEL {
                    if note.payload != instance.to_string() {
                        others_appeared(&listening, audience, instance);
                    }
                    continue;
                }
                if note.channel == pg_relay::EPHEMERAL_CHANNEL {
                    match pg_relay::parse(&note.payload) {
                        Some(item) if item.instance == instance => {}
                        Some(item) => wake(Wake::Ephemeral(item)),
                        None => tracing::debug!("an ephemeral notification we cannot read"),
                    }
                    continue;
                }
                match backend::parse_notification(&note.payload) {
                    Some(note) if note.instance == instance => {}
                    Some(note) => {
                        // Sent after its flush: everything up to it is on disk.
                        durable.raise(note.seq);
                        appended = appended.max(Some(note.seq));
                    }
                    None => unreadable = true,
                }
            }
            if let Some(seq) = appended {
                wake(Wake::Appended(seq));
            }
            if unreadable {
                wake(Wake::Missed);
            }
        }
    }
}

/// Looks whether any session but this process's is connected to the database: while none is,
/// flushes notify nobody ([`audience`]). A check that fails counts as someone there (flushes
/// notify until one succeeds); `failing` keeps its warning to one per run of failures.
fn check_audience(
    listening: &pg_listen::Listening,
    audience: &audience::Audience,
    instance: u64,
    failing: &mut bool,
) {
    let Some(sql) = audience.others_sql() else {
        return;
    };
    let count = listening.number(&sql);
    match count {
        Ok(0) => {
            if audience.alone() {
                tracing::info!("no other session on the database: flushes notify nobody");
            }
        }
        Ok(_) => others_appeared(listening, audience, instance),
        Err(ref e) => {
            if !*failing {
                tracing::warn!(error = %e, "cannot look for other sessions on the database: flushes notify");
            }
            others_appeared(listening, audience, instance);
        }
    }
    *failing = count.is_err();
}

/// Another session may hear notifications from now on: flushes notify again, and the highest
/// `seq` confirmed without a notification is announced now.
fn others_appeared(listening: &pg_listen::Listening, audience: &audience::Audience, instance: u64) {
    let Some(unannounced) = audience.others_appeared() else {
        return;
    };
    tracing::info!("another session on the database: flushes notify again");
    if let Some(seq) = unannounced {
        if let Err(e) = listening.exec(&flusher::notify(format!("{seq} {instance}"))) {
            tracing::warn!(error = %e, "cannot announce the log's end to a process that appeared");
        }
    }
}

/// How far [`checkpoint`] goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Copies what it can without waiting for anyone.
    Passive,
    /// Copies everything and truncates the log, waiting for readers and the writer.
    Truncate,
}

/// Moves the SQLite write-ahead log into the database (and with [`Checkpoint::Truncate`]
/// truncates it), so that it stays small under sustained writes (long-polls reading all the
/// time can starve SQLite's automatic checkpoints), and so that the automatic checkpoint on
/// the writer thread finds little left to copy. A no-op on Postgres.
pub fn checkpoint(conn: &mut Conn, mode: Checkpoint) -> diesel::QueryResult<()> {
    use diesel::connection::SimpleConnection;
    let sql = match mode {
        Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE);",
        Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE);",
    };
    match conn {
        DbConn::Sqlite(c) => c.batch_execute(sql),
        DbConn::Postgres(_) => Ok(()),
    }
}

/// `true` when a diesel error is a UNIQUE constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    fn migrations(backend: &str) -> BTreeSet<String> {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| {
                let path = e.unwrap().path();
                for file in ["up.sql", "down.sql"] {
                    assert!(path.join(file).is_file(), "{} lacks {file}", path.display());
                }
                path.file_name().unwrap().to_string_lossy().into_owned()
            })
            .collect()
    }

    /// Both backends have the same migrations, under the same names (STYLE.md §2.13).
    #[test]
    fn migration_folders_stay_in_sync() {
        let sqlite = migrations("sqlite");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, migrations("postgres"));
    }

    /// Diesel keys a migration by the version before the first `_`: two folders with the same
    /// version would leave one of them unapplied on a database that has the other.
    #[test]
    fn migration_versions_are_unique() {
        let mut versions = BTreeSet::new();
        for name in migrations("sqlite") {
            let version = name.split('_').next().unwrap_or_default().to_string();
            assert!(
                versions.insert(version),
                "two migrations share the version of {name}"
            );
        }
    }
}
