//! What `homeserver backup`, `restore` and `doctor` (`crate::ops`) ask of the database: a plain
//! connection (no pool, no writer thread, no migrations run), the migrations applied and
//! embedded, a consistent SQLite copy (`VACUUM INTO`), and whether a database is empty.

use std::path::Path;

use diesel::connection::SimpleConnection;
use diesel::migration::MigrationSource;
use diesel::pg::Pg;
use diesel::sql_types::{BigInt, Text};
use diesel::sqlite::Sqlite;
use diesel::{QueryableByName, RunQueryDsl};

use super::backend::{self, Backend, DbConn};
use super::{DbError, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// The migrations table diesel keeps.
const MIGRATIONS_TABLE: &str = "__diesel_schema_migrations";

/// Where a `DBURL` points: the backend and its connection string (for SQLite, the file).
pub fn locate(dburl: &str, data_dir: &Path) -> Result<(Backend, String), DbError> {
    let default = data_dir.join("hearth.db").to_string_lossy().into_owned();
    backend::parse_url(dburl, &default)
}

/// One plain connection, with SQLite's `busy_timeout` (so it waits for a running writer rather
/// than failing). On SQLite the file is created if it does not exist: callers check first.
pub fn connect(backend: Backend, url: &str) -> Result<DbConn, DbError> {
    let mut conn = backend::establish(backend, url)?;
    if let DbConn::Sqlite(c) = &mut conn {
        c.batch_execute("PRAGMA busy_timeout = 10000;")?;
    }
    Ok(conn)
}

#[derive(QueryableByName)]
struct Version {
    #[diesel(sql_type = Text)]
    version: String,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// The tables of the database (of Postgres's current schema), sorted.
pub fn tables(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    let rows: Vec<Name> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite_%' ORDER BY name",
        )
        .load(c)?,
        DbConn::Postgres(c) => diesel::sql_query(
            "SELECT table_name::text AS name FROM information_schema.tables \
             WHERE table_schema = current_schema() ORDER BY table_name",
        )
        .load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.name).collect())
}

/// The versions of the migrations applied to this database, oldest first (none when it has
/// never been migrated).
pub fn applied_migrations(conn: &mut DbConn) -> Result<Vec<String>, DbError> {
    if !tables(conn)?.iter().any(|t| t == MIGRATIONS_TABLE) {
        return Ok(Vec::new());
    }
    let sql = format!("SELECT version FROM {MIGRATIONS_TABLE} ORDER BY version");
    let rows: Vec<Version> = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql).load(c)?,
        DbConn::Postgres(c) => diesel::sql_query(sql).load(c)?,
    };
    Ok(rows.into_iter().map(|r| r.version).collect())
}

/// The versions of the migrations built into this binary for `backend`, oldest first.
pub fn embedded_migrations(backend: Backend) -> Result<Vec<String>, DbError> {
    let mut versions: Vec<String> = match backend {
        Backend::Sqlite => MigrationSource::<Sqlite>::migrations(&SQLITE_MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
        Backend::Postgres => MigrationSource::<Pg>::migrations(&POSTGRES_MIGRATIONS)
            .map_err(|e| DbError::Migration(e.to_string()))?
            .iter()
            .map(|m| m.name().version().to_string())
            .collect(),
    };
    versions.sort();
    Ok(versions)
}

/// Compares two migration versions (`20261216000001`) by their digits.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let digits = |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
    let (a, b) = (digits(a), digits(b));
    a.len().cmp(&b.len()).then_with(|| a.cmp(&b))
}

/// Writes a consistent copy of a SQLite database to `target` (which must not exist) with
/// `VACUUM INTO`: one read transaction, so in WAL mode the server's writer goes on meanwhile.
pub fn sqlite_copy(conn: &mut DbConn, target: &Path) -> Result<(), DbError> {
    match conn {
        DbConn::Sqlite(c) => {
            diesel::sql_query("VACUUM INTO ?")
                .bind::<Text, _>(target.to_string_lossy().into_owned())
                .execute(c)?;
            Ok(())
        }
        DbConn::Postgres(_) => Err(DbError::Url("VACUUM INTO needs SQLite".into())),
    }
}

/// The database's own name (Postgres's `current_database()`; SQLite: `main`).
pub fn database_name(conn: &mut DbConn) -> Result<String, DbError> {
    match conn {
        DbConn::Sqlite(_) => Ok("main".into()),
        DbConn::Postgres(c) => {
            let row: Name =
                diesel::sql_query("SELECT current_database()::text AS name").get_result(c)?;
            Ok(row.name)
        }
    }
}

/// SQLite's `journal_mode` (`wal` once a server has opened it) and its integrity check's
/// first line (`ok` when sound); Postgres: `None`.
pub fn sqlite_health(conn: &mut DbConn) -> Result<Option<(String, String)>, DbError> {
    match conn {
        DbConn::Sqlite(c) => {
            let mode: Name =
                diesel::sql_query("SELECT journal_mode AS name FROM pragma_journal_mode")
                    .get_result(c)?;
            let check: Name =
                diesel::sql_query("SELECT quick_check AS name FROM pragma_quick_check")
                    .get_result(c)?;
            Ok(Some((mode.name, check.name)))
        }
        DbConn::Postgres(_) => Ok(None),
    }
}

/// How many users the database has.
pub fn user_count(conn: &mut DbConn) -> Result<i64, DbError> {
    let sql = "SELECT COUNT(*) AS n FROM users";
    let row: Count = match conn {
        DbConn::Sqlite(c) => diesel::sql_query(sql).get_result(c)?,
        DbConn::Postgres(c) => diesel::sql_query(sql).get_result(c)?,
    };
    Ok(row.n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_compare_by_digits() {
        use std::cmp::Ordering::*;
        assert_eq!(version_cmp("20261216000001", "20261215000001"), Greater);
        assert_eq!(version_cmp("2026-12-16-000001", "20261216000001"), Equal);
        assert_eq!(version_cmp("20261124000001", "20261216000001"), Less);
    }

    #[test]
    fn both_backends_embed_the_same_versions() {
        let sqlite = embedded_migrations(Backend::Sqlite).expect("sqlite");
        let pg = embedded_migrations(Backend::Postgres).expect("postgres");
        assert!(!sqlite.is_empty());
        assert_eq!(sqlite, pg);
    }
}
