//! The two storage backends behind one connection type.
//!
//! [`DbConn`] is a diesel `MultiConnection` over Postgres and SQLite, so every query in `db` is
//! written once. The backend is chosen from the URL scheme here (never by letting diesel try
//! each backend: `SqliteConnection` accepts any string as a path). The few statements that
//! differ per backend (upserts, which diesel's multi-backend cannot express, the write
//! transaction's `BEGIN`, the Postgres writer lock and `NOTIFY`) go through [`per_backend!`] or
//! a `match` in this module.
//!
//! The statements on the hot paths (a send's reads and its event insert, a poll's read, token
//! lookups) also go through [`per_backend!`]: on the concrete connection diesel finds their
//! prepared statement by the query's type, whereas the multi-backend renders each query's SQL
//! two or three times per run to find it (a fifth of the writer thread's time under load).

use std::fmt;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{ManageConnection, R2D2Connection};
use diesel::sqlite::SqliteConnection;
use diesel::{Connection, QueryResult, RunQueryDsl};

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
/// prepared form is cached by its text. diesel's `UPDATE` and `DELETE` builders are compiled
/// again on every run, which costs more than running them on the hot paths. The SQL must
/// number its parameters `$1`, `$2`, … in the order they first appear, each once: Postgres
/// reads them by number, SQLite (which takes `$name` parameters) by their order.
macro_rules! cached_sql {
    ($conn:expr, $sql:literal $(, $ty:ty => $value:expr)* $(,)?) => {
        $crate::db::per_backend!($conn, |c| {
            diesel::RunQueryDsl::execute(
                diesel::sql_query($sql) $(.bind::<$ty, _>($value))*,
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

/// The key of the transaction-level advisory lock every Postgres write transaction takes, so
/// that writers commit one at a time, in `seq` order (ASCII "hearthdb").
pub const WRITER_LOCK_KEY: i64 = 0x6865_6172_7468_6462;

/// How long a Postgres writer waits for the writer lock (SQLite's `busy_timeout` is 10 s too).
pub const LOCK_TIMEOUT: &str = "10s";

/// The channel Postgres write transactions `NOTIFY` after appending events.
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
            // Like SQLite's busy_timeout: a writer waits at most 10 s for the writer lock.
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

#[derive(diesel::QueryableByName)]
struct MaxSeq {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

fn pg_max_seq(conn: &mut PgConnection) -> QueryResult<i64> {
    diesel::sql_query("SELECT COALESCE(MAX(seq), 0) AS seq FROM events")
        .get_result::<MaxSeq>(conn)
        .map(|r| r.seq)
}

/// Runs `f` in one write transaction.
///
/// - SQLite: `BEGIN IMMEDIATE`, so writers queue on SQLite's single write lock.
/// - Postgres: `BEGIN`, then `pg_advisory_xact_lock(WRITER_LOCK_KEY)`, so writers of every
///   process sharing the database run one at a time and commit in `seq` order (a sync can
///   never hand out a cursor past an event that commits later with a smaller `seq`). When the
///   transaction appended events, it `NOTIFY`s [`EVENTS_CHANNEL`] with the new highest `seq` and
///   `instance`; Postgres delivers the notification at commit, and only if it commits.
pub fn write_transaction<T, E, F>(conn: &mut DbConn, instance: u64, f: F) -> Result<T, E>
where
    F: FnOnce(&mut DbConn) -> Result<T, E>,
    E: From<diesel::result::Error>,
{
    let before = match conn {
        DbConn::Sqlite(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN IMMEDIATE")?;
            None
        }
        DbConn::Postgres(c) => {
            AnsiTransactionManager::begin_transaction_sql(c, "BEGIN")?;
            let locked = c
                .batch_execute(&format!("SELECT pg_advisory_xact_lock({WRITER_LOCK_KEY})"))
                .and_then(|()| pg_max_seq(c));
            match locked {
                Ok(seq) => Some(seq),
                Err(e) => {
                    AnsiTransactionManager::rollback_transaction(c)?;
                    return Err(e.into());
                }
            }
        }
    };
    let result = f(conn).and_then(|value| {
        if let (DbConn::Postgres(c), Some(before)) = (&mut *conn, before) {
            let after = pg_max_seq(c)?;
            if after > before {
                diesel::sql_query("SELECT pg_notify($1, $2)")
                    .bind::<diesel::sql_types::Text, _>(EVENTS_CHANNEL)
                    .bind::<diesel::sql_types::Text, _>(format!("{after} {instance}"))
                    .execute(c)?;
            }
        }
        Ok(value)
    });
    match result {
        Ok(value) => {
            <DbConn as Connection>::TransactionManager::commit_transaction(conn)?;
            Ok(value)
        }
        Err(e) => {
            <DbConn as Connection>::TransactionManager::rollback_transaction(conn)?;
            Err(e)
        }
    }
}

/// Parses a `NOTIFY` payload (`"<seq> <instance>"`).
pub fn parse_notification(payload: &str) -> Option<(i64, u64)> {
    let (seq, instance) = payload.split_once(' ')?;
    Some((seq.parse().ok()?, instance.parse().ok()?))
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
        assert_eq!(parse_notification("12 7"), Some((12, 7)));
        assert_eq!(parse_notification("x 7"), None);
        assert_eq!(parse_notification("12"), None);
    }
}
