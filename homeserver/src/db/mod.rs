//! Storage: diesel over SQLite (WAL) with embedded migrations.
//!
//! This is the only module that names diesel. Services call [`Db::run`] (reads) or
//! [`Db::write`] (one `BEGIN IMMEDIATE` transaction) with a closure over a connection; the
//! closure runs on actix's blocking pool, never on the async executor.
//!
//! # Layout
//! - [`schema`]: the tables; [`models`]: row structs.
//! - [`users`], [`devices`], [`channels`], [`events`], [`peers`]: queries grouped by aggregate.

pub mod channels;
pub mod devices;
pub mod events;
pub mod models;
pub mod outbox;
pub mod peers;
pub mod schema;
pub mod shared;
pub mod users;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// The connection type every query takes.
pub type Conn = SqliteConnection;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Storage failures. `NotFound` is mapped by services to a 404 of the right kind.
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
    /// Opens (creating if needed) the database named by `dburl`, or `DATA_DIR/hearth.db` when
    /// it is empty, and runs the embedded migrations.
    pub fn open(dburl: &str, data_dir: &Path) -> Result<Db, DbError> {
        let url = if dburl.is_empty() {
            data_dir.join("hearth.db").to_string_lossy().into_owned()
        } else if let Some(path) = dburl.strip_prefix("sqlite://") {
            path.to_string()
        } else if dburl.starts_with("postgres://")
            || dburl.starts_with("postgresql://")
            || dburl.contains("://")
        {
            return Err(DbError::Url(redact_url(dburl)));
        } else {
            dburl.to_string()
        };
        let manager = ConnectionManager::<Conn>::new(url);
        let pool = Pool::builder()
            .max_size(16)
            .min_idle(Some(2))
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
}

fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}://***{}", &url[..scheme], &url[at..])
        }
        _ => url.to_string(),
    }
}

/// `true` when a diesel error is a UNIQUE constraint violation.
pub fn is_unique_violation(e: &diesel::result::Error) -> bool {
    matches!(
        e,
        diesel::result::Error::DatabaseError(diesel::result::DatabaseErrorKind::UniqueViolation, _)
    )
}
