//! The two storage backends behind one connection type.
//!
//! [`DbConn`] is a diesel `MultiConnection` over Postgres and SQLite, so every query in `db` is
//! written once. The backend is chosen from the URL scheme here (never by letting diesel try
//! each backend: `SqliteConnection` accepts any string as a path). The few statements that
//! differ per backend (upserts, which diesel's multi-backend cannot express, the write
//! transaction's `BEGIN`, the Postgres writers' turn and `NOTIFY`) go through `per_backend!` or
//! a `match` in this module.
//!
//! The statements on the hot paths (a send's reads and its event insert, a poll's read, token
//! lookups) also go through `per_backend!`: on the concrete connection diesel finds their
//! prepared statement by the query's type, whereas the multi-backend renders each query's SQL
//! two or three times per run to find it (a fifth of the writer thread's time under load).

use std::fmt;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{self, ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult, RunQueryDsl};

use super::prepared::{prepared, Statement};
use super::room_counters::Counters;
use super::DbError;

/// One connection, to either backend.
#[derive(diesel::MultiConnection)]
pub enum DbConn {
    /// A Postgres connection (`DBURL=postgres://…`).
    Postgres(PgConnection),
    /// A SQLite connection (a file path, `sqlite://path`, or empty `DBURL`).
    Sqlite(SqliteConnection),
}

/// Runs the same diesel expression against the concrete connection of either backend, for
/// statements the multi-backend cannot express (`ON CONFLICT`). `$c` names the concrete
/// connection inside `$body`.
macro_rules! per_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConn::Postgres($c) => $body,
            $crate::db::DbConn::Sqlite($c) => $body,
        }
    };
}
pub(crate) use per_backend;

/// Runs a hand-written statement on the concrete connection of either backend, where its
/// prepared form is cached by its text ([`super::prepared`]). diesel's `UPDATE` and `DELETE`
/// builders are compiled again on every run, which costs more than running them on the hot
/// paths. The SQL numbers its parameters `$1`, `$2`, … in the order they appear, each once.
macro_rules! cached_sql {
    ($conn:expr, $sql:literal $(, $ty:ty => $value:expr)* $(,)?) => {
        $crate::db::per_backend!($conn, |c| {
            #[allow(unused_imports)]
            use $crate::db::prepared::Statement as _;
            diesel::RunQueryDsl::execute(
                $crate::db::prepared::prepared($sql) $(.bind::<$ty, _>($value))*,
                c,
            )
        })
    };
}
pub(crate) use cached_sql;

/// Which backend a `DBURL` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Postgres.
    Postgres,
    /// SQLite.
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgres",
            Backend::Sqlite => "sqlite",
        })
    }
}

/// The key of the session-level advisory lock that processes starting on one Postgres
/// database take while they migrate it, so that two never run the same migration (ASCII
/// "hearthdb"). Writers take turns on the `writer_turn` row instead ([`take_turn`]).
pub const MIGRATION_LOCK_KEY: i64 = 0x6865_6172_7468_6462;

/// How long a Postgres writer waits for its turn (SQLite's `busy_timeout` is 10 s too).
pub const LOCK_TIMEOUT: &str = "10s";

/// The channel the flusher `NOTIFY`s after write transactions that appended events are durable.
pub const EVENTS_CHANNEL: &str = "hearth_events";

/// The backend and connection string of a `DBURL`. `default_sqlite` is used when it is empty.
pub fn parse_url(dburl: &str, default_sqlite: &str) -> Result<(Backend, String), DbError> {
    if dburl.is_empty() {
        Ok((Backend::Sqlite, default_sqlite.to_string()))
    } else if dburl.starts_with("postgres://") || dburl.starts_with("postgresql://") {
        Ok((Backend::Postgres, dburl.to_string()))
    } else if let Some(path) = dburl.strip_prefix("sqlite://") {
        if path.is_empty() {
            return Err(DbError::Url(redact_url(dburl)));
        }
        Ok((Backend::Sqlite, path.to_string()))
    } else if dburl.contains("://") {
        Err(DbError::Url(redact_url(dburl)))
    } else {
        Ok((Backend::Sqlite, dburl.to_string()))
    }
}

/// Hides the credentials of a URL (`scheme://***@host…`).
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// Opens one connection of the given backend.
pub fn establish(backend: Backend, url: &str) -> diesel::ConnectionResult<DbConn> {
    match backend {
        Backend::Postgres => PgConnection::establish(url).map(DbConn::Postgres),
        Backend::Sqlite => SqliteConnection::establish(url).map(DbConn::Sqlite),
    }
}

/// The r2d2 manager: connects to the backend chosen from the URL, and sets SQLite's pragmas
/// (WAL, `busy_timeout`, foreign keys) on every new SQLite connection, and the matching
/// `lock_timeout` on Postgres ones.
#[derive(Debug)]
pub struct Manager {
    backend: Backend,
    url: String,
}

impl Manager {
    /// A manager for this backend and connection string.
    pub fn new(backend: Backend, url: String) -> Manager {
        Manager { backend, url }
    }
}

impl ManageConnection for Manager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, diesel::r2d2::Error> {
        let mut conn =
            establish(self.backend, &self.url).map_err(diesel::r2d2::Error::ConnectionError)?;
        match &mut conn {
            // `secure_delete = FAST`: the bytes of a deleted message's erased body are zeroed on
            // their page, not left behind in free space (at no extra I/O).
            DbConn::Sqlite(c) => c.batch_execute(
                "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
                 PRAGMA busy_timeout = 10000; PRAGMA foreign_keys = ON; \
                 PRAGMA temp_store = MEMORY; PRAGMA journal_size_limit = 67108864; \
                 PRAGMA secure_delete = FAST;",
            ),
            // Like SQLite's busy_timeout: a writer waits at most 10 s for its turn.
            DbConn::Postgres(c) => c.batch_execute(&format!("SET lock_timeout = '{LOCK_TIMEOUT}'")),
        }
        .map_err(diesel::r2d2::Error::QueryError)?;
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), diesel::r2d2::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

/// A pool connection that a long-lived thread (the writer, a flusher, the ephemeral relay) keeps
/// from one statement to the next: a checkout from the pool tests the connection first, a round
/// trip each time on Postgres. A connection that broke, or that [`KeptConnection::forget`]
/// was called for after a failure, is replaced by a fresh one at the next [`KeptConnection::get`].
pub struct KeptConnection {
    pool: r2d2::Pool<Manager>,
    held: Option<r2d2::PooledConnection<Manager>>,
}

impl KeptConnection {
    /// Nothing checked out yet.
    pub fn new(pool: r2d2::Pool<Manager>) -> KeptConnection {
        KeptConnection { pool, held: None }
    }

    /// The kept connection, or a fresh one from the pool.
    pub fn get(&mut self) -> Result<&mut DbConn, r2d2::PoolError> {
        self.get_saying_if_new().map(|(conn, _)| conn)
    }

    /// [`KeptConnection::get`], and whether the connection was just taken from the pool.
    pub fn get_saying_if_new(&mut self) -> Result<(&mut DbConn, bool), r2d2::PoolError> {
        if self.held.as_mut().is_some_and(|c| c.is_broken()) {
            self.held = None;
        }
        let (held, new) = match self.held.take() {
            Some(held) => (held, false),
            None => (self.pool.get()?, true),
        };
        Ok((&mut **self.held.insert(held), new))
    }

    /// Drops the connection (after a failure): the next [`KeptConnection::get`] takes another.
    pub fn forget(&mut self) {
        self.held = None;
    }
}

#[derive(diesel::QueryableByName)]
struct TurnRow {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    previous: i64,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    generation: i64,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::BigInt>)]
    reserved: Option<i64>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    room_ids: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    event_counts: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Array<diesel::sql_types::BigInt>>)]
    last_room_seqs: Option<Vec<i64>>,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    ended: Option<String>,
}

/// What taking the turn says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Turn {
    /// The instance that held the turn before.
    pub previous: u64,
    /// The generation of what sends check ([`next_generation`]).
    pub generation: i64,
    /// When another instance held it: the last of [`super::appends::BLOCK`] `events.seq`
    /// values reserved for this turn (the numbers left from this process's earlier turns are
    /// below what the other one may have committed).
    pub reserved: Option<i64>,
    /// When another instance held it: the counters of the rooms asked for that exist, read
    /// after the turn was taken.
    pub counters: Vec<(i64, Counters)>,
    /// The answer of this session's last batch end ([`super::batch_end::ended`]).
    pub ended: Option<String>,
}

/// Takes the writers' turn on Postgres: updates the one row of `writer_turn` (migration
/// `2026-12-20-000001_writer_turn`) to `instance`, and returns what the turn says ([`Turn`]).
/// The row stays locked until the transaction commits, so writers of every process sharing the
/// database run one at a time and commit in `seq` order (a sync can never hand out a cursor
/// past an event that commits later with a smaller `seq`). Whoever had it last is known: a
/// process that gets its own instance back knows nobody else wrote in between. When somebody
/// else did, the same round trip reserves a fresh block of event numbers and reads the counters
/// of the rooms in `rooms` (the ones this process appended to lately), which that process may
/// have moved: the function `hearth_take_turn` (migration `2026-12-22-000002_batch_round_trips`)
/// reads them in a statement of its own, after the turn is taken, so they include its commit.
/// The function is called in a select list (`OFFSET 0` keeps it to one call): in `FROM` its
/// row would be copied into a tuplestore (migration
/// `2026-12-25-000001_batch_end_without_tuplestores`).
pub fn take_turn(conn: &mut PgConnection, instance: u64, rooms: &[i64]) -> QueryResult<Turn> {
    use diesel::sql_types::{Array, BigInt};
    let row: TurnRow = prepared(
        "SELECT (s.t).previous AS previous, (s.t).generation AS generation, \
         (s.t).reserved AS reserved, (s.t).room_ids AS room_ids, \
         (s.t).event_counts AS event_counts, (s.t).last_room_seqs AS last_room_seqs, \
         (s.t).ended AS ended \
         FROM (SELECT hearth_take_turn($1, $2, $3) AS t OFFSET 0) AS s",
    )
    .bind::<BigInt, _>(instance_key(instance))
    .bind::<BigInt, _>(super::appends::BLOCK)
    .bind::<Array<BigInt>, _>(rooms)
    .get_result(conn)?;
    let counters = match (row.room_ids, row.event_counts, row.last_room_seqs) {
        (Some(ids), Some(counts), Some(lasts)) => ids
            .into_iter()
            .zip(counts)
            .zip(lasts)
            .map(|((id, count), last_room_seq)| {
                (
                    id,
                    Counters {
                        count,
                        last_room_seq,
                    },
                )
            })
            .collect(),
        _ => Vec::new(),
    };
    Ok(Turn {
        previous: row.previous as u64,
        generation: row.generation,
        reserved: row.reserved,
        counters,
        ended: row.ended,
    })
}

/// Moves the generation on, in a transaction that holds the turn and changed what sends check
/// (anything but sends and cursor moves): other processes then drop what they cached of it.
pub fn next_generation(conn: &mut PgConnection) -> QueryResult<()> {
    prepared("UPDATE writer_turn SET generation = generation + 1 WHERE id = 1")
        .execute(conn)
        .map(drop)
}

/// Tells the homeserver processes sharing a Postgres database that something they may have
/// cached changed outside their writers (a command-line tool wrote): each drops its caches at
/// its next turn. A no-op on SQLite, whose one writer is the running server.
pub fn changed_outside_writers(conn: &mut DbConn) -> QueryResult<()> {
    if let DbConn::Postgres(c) = conn {
        c.transaction(|c| {
            take_turn(c, 0, &[])?;
            next_generation(c)
        })?;
    }
    Ok(())
}

/// A process's instance as stored in a `BIGINT` (the same 64 bits).
pub fn instance_key(instance: u64) -> i64 {
    instance as i64
}

/// How a write transaction began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Began {
    /// SQLite: this process is the database's only writer.
    Alone,
    /// Postgres: this process also held the previous turn; nothing changed under it.
    AfterOwnTurn,
    /// Postgres: another process (or a tool) wrote since this process's last turn; the
    /// generation of what sends check is this (compare it with the one last seen).
    AfterOtherTurn(i64),
}

/// What a write transaction appended, for the other processes' listeners. They read the
/// events themselves ([`crate::remote_appends`]), so the notification names no recipients.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Appended {
    /// The highest `seq` appended.
    pub last_seq: i64,
}

impl Appended {
    /// What this and `other` appended together.
    pub fn and(self, other: &Appended) -> Appended {
        Appended {
            last_seq: self.last_seq.max(other.last_seq),
        }
    }

    /// The `NOTIFY` payload: `"<seq> <instance>"`.
    pub fn payload(&self, instance: u64) -> String {
        format!("{} {instance}", self.last_seq)
    }
}

/// A `NOTIFY` of [`EVENTS_CHANNEL`], parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notification {
    /// The highest `seq` the transaction appended.
    pub seq: i64,
    /// The process that wrote it.
    pub instance: u64,
}

/// Runs `f` in one write transaction. `f` learns how it began ([`Began`]: whether what the
/// writer cached from earlier transactions still holds).
///
/// - SQLite: `BEGIN IMMEDIATE`, so writers queue on SQLite's single write lock.
/// - Postgres: `BEGIN` with `synchronous_commit = off`, then [`take_turn`]. The commit returns
///   before the WAL is flushed, so the turn passes on at once: the caller has the commit made
///   durable (and announced to the other processes) by the flusher before it answers anyone
///   ([`super::flusher`]).
pub fn write_transaction<T, E, F>(conn: &mut DbConn, instance: u64, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn, Began) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let began = match conn {
        DbConn::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            Began::Alone
        }
        DbConn::Postgres(c) => {
            AnsiTransactionManager::begin_transaction_sql(
                c,
                "BEGIN; SET LOCAL synchronous_commit = off",
            )?;
            match take_turn(c, instance, &super::room_counters::recent()) {
                Ok(turn) => {
                    // The previous batch's counters, then what another process moved.
                    super::batch_end::ended(turn.ended.as_deref());
                    super::appends::batch_began(turn.reserved);
                    if turn.previous == instance {
                        Began::AfterOwnTurn
                    } else {
                        // The counters may have moved under this process; these were read
                        // after the turn was taken.
                        super::room_counters::others_wrote(turn.counters);
                        Began::AfterOtherTurn(turn.generation)
                    }
                }
                Err(e) => {
                    AnsiTransactionManager::rollback_transaction(c)?;
                    return Err(e.into());
                }
            }
        }
    };
    match f(conn, began) {
        Ok(value) => {
            match conn {
                // With the batch's end, when it wrote one.
                DbConn::Postgres(c) => super::batch_end::commit(c)?,
                DbConn::Sqlite(_) => {
                    <DbConn as Connection>::TransactionManager::commit_transaction(conn)?
                }
            }
            Ok(value)
        }
        Err(e) => {
            super::batch_end::forget();
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Parses a `NOTIFY` payload (`"<seq> <instance>"`; what an older process added after it,
/// the users it concerned, is ignored).
pub fn parse_notification(payload: &str) -> Option<Notification> {
    let mut parts = payload.splitn(3, ' ');
    let seq = parts.next()?.parse().ok()?;
    let instance = parts.next()?.parse().ok()?;
    Some(Notification { seq, instance })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_pick_the_backend() {
        let pick = |u: &str| parse_url(u, "/d/hearth.db");
        assert_eq!(
            pick("").ok(),
            Some((Backend::Sqlite, "/d/hearth.db".into()))
        );
        assert_eq!(
            pick("sqlite:///x/y.db").ok(),
            Some((Backend::Sqlite, "/x/y.db".into()))
        );
        assert_eq!(
            pick("rel/y.db").ok(),
            Some((Backend::Sqlite, "rel/y.db".into()))
        );
        assert_eq!(
            pick("postgres://u:p@h/db").ok().map(|p| p.0),
            Some(Backend::Postgres)
        );
        assert_eq!(
            pick("postgresql://h/db").ok().map(|p| p.0),
            Some(Backend::Postgres)
        );
        assert!(pick("mysql://u:secret@h/db").is_err());
        assert!(pick("sqlite://").is_err());
        assert_eq!(
            redact_url("postgres://u:secret@h/db"),
            "postgres://***@h/db"
        );
    }

    #[test]
    fn notification_payloads() {
        let note = |seq, instance| Some(Notification { seq, instance });
        assert_eq!(parse_notification("12 7"), note(12, 7));
        assert_eq!(parse_notification("12 7 *"), note(12, 7));
        assert_eq!(parse_notification("12 7 ann,bob"), note(12, 7));
        assert_eq!(parse_notification("x 7"), None);
        assert_eq!(parse_notification("12"), None);
        let appended = Appended { last_seq: 40 }.and(&Appended { last_seq: 31 });
        assert_eq!(
            parse_notification(&appended.payload(u64::MAX)),
            note(40, u64::MAX)
        );
    }
}
