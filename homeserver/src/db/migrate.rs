//! `homeserver db migrate-from-sqlite`: copies a SQLite database into an empty Postgres one.
//!
//! Every table is copied with its ids and `seq`s unchanged, in one Postgres transaction (all of
//! it lands, or none of it does), reading SQLite inside one read transaction (a consistent
//! snapshot even if a server still runs on it; stop it first so nothing written after the
//! snapshot is left behind). Afterwards the Postgres identity sequences are moved past the
//! highest id SQLite ever handed out (`sqlite_sequence`), so no id is reused.

use diesel::connection::SimpleConnection;
use diesel::dsl::sql;
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::MigrationHarness;

use super::schema::*;
use super::{DbError, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS};

/// Rows read and written per round trip.
const BATCH: i64 = 1000;

/// Why a migration could not run.
#[derive(Debug, thiserror::Error)]
pub enum MigrateError {
    /// A database failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The target already holds data.
    #[error("the Postgres database is not empty ({0} has rows): migrate into a fresh database")]
    NotEmpty(&'static str),
    /// The SQLite file does not exist.
    #[error("no SQLite database at {0} (use --from or DATA_DIR)")]
    NoSource(String),
    /// The target is not Postgres.
    #[error("DBURL must be a postgres:// URL to migrate into")]
    NotPostgres,
}

impl From<diesel::result::Error> for MigrateError {
    fn from(e: diesel::result::Error) -> Self {
        MigrateError::Db(DbError::Query(e))
    }
}

/// Rows copied per table, in copy order.
pub type Copied = Vec<(&'static str, i64)>;

/// Copies every table of the SQLite database at `sqlite_path` into the (empty) Postgres
/// database at `pg_url`. `progress(table, done, total)` is called after every batch.
pub fn migrate_from_sqlite(
    sqlite_path: &str,
    pg_url: &str,
    progress: &mut dyn FnMut(&str, i64, i64),
) -> Result<Copied, MigrateError> {
    let (backend, pg_url) = super::backend::parse_url(pg_url, "")?;
    if backend != super::Backend::Postgres {
        return Err(MigrateError::NotPostgres);
    }
    if !std::path::Path::new(sqlite_path).is_file() {
        return Err(MigrateError::NoSource(sqlite_path.to_string()));
    }
    let mut src = SqliteConnection::establish(sqlite_path).map_err(DbError::from)?;
    src.batch_execute("PRAGMA busy_timeout = 10000;")?;
    // Bring an older database up to the schema this binary copies.
    src.run_pending_migrations(SQLITE_MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;
    let mut dst = PgConnection::establish(&pg_url).map_err(DbError::from)?;
    dst.run_pending_migrations(POSTGRES_MIGRATIONS)
        .map_err(|e| DbError::Migration(e.to_string()))?;

    src.transaction::<_, MigrateError, _>(|src| {
        dst.transaction::<_, MigrateError, _>(|dst| {
            // Keep servers on this database out while we fill it.
            super::backend::take_turn(dst, 0, &[])?;
            super::backend::next_generation(dst)?;
            for (table, rows) in [
                ("users", count(dst, "users")?),
                ("events", count(dst, "events")?),
                ("rooms", count(dst, "rooms")?),
            ] {
                if rows > 0 {
                    return Err(MigrateError::NotEmpty(table));
                }
            }
            let copied = copy_all(src, dst, progress)?;
            reset_sequences(src, dst)?;
            Ok(copied)
        })
    })
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

fn count(dst: &mut PgConnection, table: &str) -> QueryResult<i64> {
    diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
        .get_result::<Count>(dst)
        .map(|c| c.n)
}

/// Copies one table in `rowid` order (every SQLite table here has a rowid), `BATCH` rows at a
/// time, with the Rust type of each column spelled out.
macro_rules! copy_table {
    ($src:ident, $dst:ident, $progress:ident, $copied:ident, $table:ident {
        $($col:ident: $ty:ty),+ $(,)?
    }) => {{
        let name = stringify!($table);
        let total: i64 = $table::table.count().get_result($src)?;
        let mut done = 0i64;
        let mut last_rowid = i64::MIN;
        $progress(name, done, total);
        loop {
            let rows: Vec<(i64, ($($ty,)+))> = $table::table
                .filter(sql::<Bool>("rowid > ").bind::<BigInt, _>(last_rowid))
                .order(sql::<BigInt>("rowid"))
                .limit(BATCH)
                .select((sql::<BigInt>("rowid"), ($($table::$col,)+)))
                .load($src)?;
            let Some((last, _)) = rows.last() else { break };
            last_rowid = *last;
            let values: Vec<_> = rows
                .iter()
                .map(|(_, ($($col,)+))| ($($table::$col.eq($col),)+))
                .collect();
            diesel::insert_into($table::table).values(&values).execute($dst)?;
            done += rows.len() as i64;
            $progress(name, done, total);
        }
        $copied.push((name, done));
    }};
}

fn copy_all(
    src: &mut SqliteConnection,
    dst: &mut PgConnection,
    progress: &mut dyn FnMut(&str, i64, i64),
) -> Result<Copied, MigrateError> {
    let mut copied = Copied::new();
    // Parents before children, so foreign keys hold at every insert.
    copy_table!(
        src,
        dst,
        progress,
        copied,
        users {
            id: String,
            nick: String,
            password_hash: String,
            created_ms: i64,
            last_active_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        devices {
            id: String,
            user_id: String,
            token_hash: String,
            name: String,
            created_ms: i64,
            last_seen_ms: i64,
            cursor: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        rooms {
            id: i64,
            room_key: String,
            kind: String,
            event_count: i64,
            last_room_seq: i64,
        }
    );
    copy_table!(src, dst, progress, copied, channels {
        room_id: i64, name: String, topic: String, topic_set_by: Option<String>,
        topic_set_ms: Option<i64>, owner_id: String, created_ms: i64, mode_invite_only: bool,
        mode_moderated: bool, mode_secret: bool, mode_topic_ops: bool, mode_no_external: bool,
        chan_key: Option<String>, user_limit: Option<i64>,
    });
    copy_table!(
        src,
        dst,
        progress,
        copied,
        members {
            room_id: i64,
            user_id: String,
            is_op: bool,
            is_voice: bool,
            joined_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        spans {
            id: i64,
            user_id: String,
            room_id: i64,
            from_seq: i64,
            to_seq: i64,
        }
    );
    copy_table!(src, dst, progress, copied, events {
        seq: i64, id: String, room_id: i64, ts_ms: i64, sender: String,
        sender_id: Option<String>, recipient: String, kind: String, body: String, meta: String,
        reply_to: Option<String>, target: Option<String>, room_seq: Option<i64>,
        wire: Option<String>, deleted: bool, attachments: Option<String>,
    });
    // Their search words, which the writer computes as it inserts.
    super::search::fill_words(dst)?;
    copy_table!(
        src,
        dst,
        progress,
        copied,
        txns {
            device_id: String,
            txn_id: String,
            response: String,
            created_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        invites {
            room_id: i64,
            user_id: String,
            invited_by: String,
            created_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        peers {
            server_name: String,
            url: String,
            verify_keys: String,
            status: String,
            source: String,
            directory_seq: i64,
            updated_ms: i64,
        }
    );
    copy_table!(src, dst, progress, copied, directory_state {
        id: i64, pull_cursor: i64, last_pull_ms: Option<i64>, last_error: Option<String>,
    });
    copy_table!(
        src,
        dst,
        progress,
        copied,
        outbox {
            id: i64,
            destination: String,
            event_id: String,
            payload: String,
            created_ms: i64,
        }
    );
    copy_table!(src, dst, progress, copied, destinations {
        server_name: String, failures: i64, next_retry_ms: i64, last_attempt_ms: Option<i64>,
        last_success_ms: Option<i64>, last_error: Option<String>,
    });
    copy_table!(
        src,
        dst,
        progress,
        copied,
        received_txns {
            origin: String,
            txn_id: String,
            response: String,
            created_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        remote_members {
            room_id: i64,
            handle: String,
            server: String,
            is_op: bool,
            is_voice: bool,
            joined_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        mirrors {
            room_id: i64,
            channel: String,
            host: String,
            host_seq: i64,
            topic: String,
            modes: String,
            members: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        remote_invites {
            room_id: i64,
            handle: String,
            invited_by: String,
            created_ms: i64,
        }
    );
    copy_table!(src, dst, progress, copied, message_stats {
        message_id: String, edit_count: i64, edited_ms: Option<i64>, reply_count: i64,
        last_reply_ms: Option<i64>,
    });
    copy_table!(
        src,
        dst,
        progress,
        copied,
        reactions {
            message_id: String,
            reactor: String,
            emoji: String,
            event_id: String,
            ts_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        read_markers {
            room_id: i64,
            reader: String,
            is_local: bool,
            seq: i64,
            event_id: String,
            ts_ms: i64,
        }
    );
    copy_table!(src, dst, progress, copied, profiles {
        user_id: String, display_name: Option<String>, avatar: Option<String>, status: String,
        status_message: Option<String>, updated_ms: i64,
    });
    copy_table!(src, dst, progress, copied, channel_settings {
        room_id: i64, description: String, set_by: Option<String>, set_ms: Option<i64>,
    });
    // Media rows (the blobs stay in DATA_DIR/media or the bucket).
    copy_table!(src, dst, progress, copied, media {
        id: String, origin: String, uploader: String, uploader_id: Option<String>,
        filename: String, size: i64, content_type: String, sha256: String, created_ms: i64,
    });
    copy_table!(
        src,
        dst,
        progress,
        copied,
        pins {
            room_id: i64,
            message_id: String,
            pinned_by: String,
            event_id: String,
            ts_ms: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        media_refs {
            media_id: String,
            event_id: String,
            room_id: i64,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        bans {
            room_id: i64,
            mask: String,
            set_by: String,
            set_ms: i64,
        }
    );
    copy_table!(src, dst, progress, copied, mutes {
        room_id: i64, handle: String, until_ms: Option<i64>, set_by: String, set_ms: i64,
    });
    copy_table!(
        src,
        dst,
        progress,
        copied,
        notifications {
            id: String,
            user_id: String,
            kind: String,
            event_id: String,
            ts_ms: i64,
            is_read: bool,
        }
    );
    copy_table!(
        src,
        dst,
        progress,
        copied,
        notification_levels {
            user_id: String,
            room_id: i64,
            level: String,
        }
    );
    Ok(copied)
}

#[derive(QueryableByName)]
struct SqliteSequence {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    seq: i64,
}

/// Moves each identity sequence past the highest id SQLite handed out (deleted rows included).
fn reset_sequences(src: &mut SqliteConnection, dst: &mut PgConnection) -> QueryResult<()> {
    let handed_out: Vec<SqliteSequence> =
        diesel::sql_query("SELECT name, seq FROM sqlite_sequence").load(src)?;
    for (table, column) in [
        ("rooms", "id"),
        ("spans", "id"),
        ("events", "seq"),
        ("outbox", "id"),
    ] {
        let floor = handed_out
            .iter()
            .find(|s| s.name == table)
            .map_or(0, |s| s.seq);
        // setval(seq, n, true): the next id is n + 1. With nothing ever handed out, start at 1.
        diesel::sql_query(format!(
            "SELECT setval(pg_get_serial_sequence('{table}', '{column}'), \
             GREATEST((SELECT COALESCE(MAX({column}), 0) FROM {table}), $1, 1), \
             GREATEST((SELECT COALESCE(MAX({column}), 0) FROM {table}), $1) > 0)"
        ))
        .bind::<BigInt, _>(floor)
        .execute(dst)?;
    }
    Ok(())
}
