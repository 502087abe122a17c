//! Storage: diesel over SQLite (WAL) with embedded migrations.
//!
//! This is the only module that names diesel. Services call [`Db::run`] (reads) or
//! [`Db::write`] (one `BEGIN IMMEDIATE` transaction) with a closure over a connection; the
//! closure runs on actix's blocking pool, never on the async executor.
//!
//! # Layout
//! - [`schema`]: the tables; [`models`]: row structs.
//! - [`servers`], [`entries`], [`peers`], [`meta`]: queries grouped by table.

pub mod entries;
pub mod meta;
pub mod models;
pub mod peers;
pub mod schema;
pub mod servers;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// The connection type every query takes.
pub type Conn = SqliteConnection;

/// The result of a query.
pub type QueryResult<T> = diesel::QueryResult<T>;

/// A query error (for services that must tell "not found" or "constraint" apart).
pub use diesel::result::Error as QueryError;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// The SQLite file inside the data directory when `DBURL` is empty.
pub const DB_FILE_NAME: &str = "directory.db";

/// Storage failures.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
    /// No connection could be had from the pool.
    #[error("database pool: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// Migrations failed at start.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// Unsupported URL.
    #[error("unsupported database url {0:?}: use a SQLite path or leave DBURL empty")]
    Url(String),
    /// The blocking pool is gone (shutting down).
    #[error("blocking pool unavailable")]
    Canceled,
}

#[derive(Debug)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        conn.batch_execute(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;
             PRAGMA foreign_keys = ON; PRAGMA temp_store = MEMORY;",
        )
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// A pool of database connections.
#[derive(Clone)]
pub struct Db {
    pool: Pool<ConnectionManager<Conn>>,
}

impl Db {
    /// Opens (creating if needed) the database named by `dburl`, or `DATA_DIR/directory.db`
    /// when it is empty, and runs the embedded migrations.
    pub fn open(dburl: &str, data_dir: &Path) -> Result<Db, DbError> {
        let url = if dburl.is_empty() {
            data_dir.join(DB_FILE_NAME).to_string_lossy().into_owned()
        } else if let Some(path) = dburl.strip_prefix("sqlite://") {
            path.to_string()
        } else if dburl.contains("://") {
            return Err(DbError::Url(redact_url(dburl)));
        } else {
            dburl.to_string()
        };
        let manager = ConnectionManager::<Conn>::new(url);
        let pool = Pool::builder()
            .max_size(8)
            .min_idle(Some(1))
            .connection_timeout(Duration::from_secs(30))
            .connection_customizer(Box::new(SqlitePragmas))
            .build(manager)?;
        let db = Db { pool };
        let mut conn = db.pool.get()?;
        conn.run_pending_migrations(MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?;
        Ok(db)
    }

    /// A connection for use on the current (blocking) thread.
    pub fn conn(&self) -> Result<PooledConnection<ConnectionManager<Conn>>, DbError> {
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

    /// Runs `f` inside one write transaction (`BEGIN IMMEDIATE`) on the blocking pool: all of
    /// it commits, or none of it does.
    pub async fn write<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E> + Send + 'static,
        T: Send + 'static,
        E: From<DbError> + From<diesel::result::Error> + Send + 'static,
    {
        self.run(move |conn| conn.immediate_transaction(f)).await
    }

    /// [`Db::write`] on the current thread, for the operator commands.
    pub fn write_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E>,
        E: From<DbError> + From<diesel::result::Error>,
    {
        let mut conn = self.conn()?;
        conn.immediate_transaction(f)
    }

    /// [`Db::run`] on the current thread, for the operator commands.
    pub fn run_blocking<T, E, F>(&self, f: F) -> Result<T, E>
    where
        F: FnOnce(&mut Conn) -> Result<T, E>,
        E: From<DbError>,
    {
        let mut conn = self.conn()?;
        f(&mut conn)
    }
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! A fresh database in a temporary directory.

    use super::Db;

    /// The database and the directory that holds it (dropped with it).
    pub(crate) fn db() -> (Db, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let db = Db::open("", dir.path()).unwrap();
        (db, dir)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_non_sqlite_urls_without_leaking_passwords() {
        let dir = tempfile::tempdir().unwrap();
        match Db::open("postgres://u:secret@host/db", dir.path()) {
            Err(DbError::Url(shown)) => assert!(!shown.contains("secret"), "{shown}"),
            Err(e) => panic!("unexpected error {e}"),
            Ok(_) => panic!("opened a postgres url"),
        }
    }

    #[test]
    fn opens_twice_on_the_same_file() {
        let dir = tempfile::tempdir().unwrap();
        assert!(Db::open("", dir.path()).is_ok());
        assert!(Db::open("", dir.path()).is_ok());
        assert!(dir.path().join(DB_FILE_NAME).exists());
    }
}
