//! Background workers. Each is a future spawned by [`crate::run`] and aborted when the server
//! stops.

use std::sync::Arc;
use std::time::Duration;

use crate::db;
use crate::error::ApiError;
use crate::services::now_ms;
use crate::state::AppState;

/// Deletes devices idle longer than `SESSION_TIMEOUT`, once a minute (or sooner for short
/// timeouts). Tokens are also refused on use once idle, so this is housekeeping.
pub async fn reap_idle_devices(state: Arc<AppState>) {
    let period = Duration::from_secs(state.config.session_timeout.clamp(1, 60));
    let mut ticks = tokio::time::interval(period);
    loop {
        ticks.tick().await;
        let cutoff = now_ms() - state.session_timeout_ms();
        match state
            .db
            .write(move |conn| db::devices::delete_idle(conn, cutoff).map_err(ApiError::from))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(devices = n, "expired idle sessions"),
            Err(e) => tracing::warn!(error = %e, "session reaper failed"),
        }
    }
}

/// How long the answer to a device's `txn_id` and to a peer's transaction id are kept: a retry
/// comes within minutes (a client's) or within the outbox's 15-minute backoff cap (a peer's).
/// Past this window a repeated id is treated as new (events are still applied once by id).
pub const IDEMPOTENCY_WINDOW_MS: i64 = 24 * 60 * 60 * 1000;
/// How often old idempotency records and expired request signatures are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(600);

/// Keeps the idempotency and replay records bounded: device `txn_id` answers and received
/// transactions older than [`IDEMPOTENCY_WINDOW_MS`], and request signatures that could no
/// longer pass the clock-skew check. Runs at start and every `PRUNE_EVERY`.
pub async fn prune_records(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    loop {
        ticks.tick().await;
        match prune_once(&state, now_ms()).await {
            Ok(Pruned {
                txns: 0,
                received: 0,
                signatures: 0,
            }) => {}
            Ok(pruned) => tracing::info!(?pruned, "pruned old records"),
            Err(e) => tracing::warn!(error = %e, "pruning old records failed"),
        }
    }
}

/// What one round of [`prune_records`] deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Device `txn_id` answers.
    pub txns: usize,
    /// Answers to received federation transactions.
    pub received: usize,
    /// Expired request signatures.
    pub signatures: usize,
}

/// One round of [`prune_records`] as of `now` (ms).
pub async fn prune_once(state: &AppState, now: i64) -> Result<Pruned, ApiError> {
    state
        .db
        .write(move |conn| {
            let cutoff = now - IDEMPOTENCY_WINDOW_MS;
            Ok(Pruned {
                txns: db::devices::forget_txns_before(conn, cutoff)?,
                received: db::outbox::forget_received_before(conn, cutoff)?,
                signatures: db::outbox::forget_signatures_before(conn, now)?,
            })
        })
        .await
}

/// Copies the SQLite write-ahead log into the database every [`PASSIVE_CHECKPOINT`] without
/// blocking anyone, and truncates it every 30 s.
pub async fn checkpoint_wal(state: Arc<AppState>) {
    if state.db.backend() != db::Backend::Sqlite {
        return;
    }
    let mut ticks = tokio::time::interval(PASSIVE_CHECKPOINT);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let truncate_every = (30_000 / PASSIVE_CHECKPOINT.as_millis()).max(1);
    let mut count: u128 = 0;
    ticks.tick().await;
    loop {
        ticks.tick().await;
        count += 1;
        let mode = if count.is_multiple_of(truncate_every) {
            db::Checkpoint::Truncate
        } else {
            db::Checkpoint::Passive
        };
        if let Err(e) = state
            .db
            .run(move |conn| db::checkpoint(conn, mode).map_err(ApiError::from))
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint failed");
        }
    }
}

/// How often the WAL is copied into the database off the writer thread.
pub const PASSIVE_CHECKPOINT: Duration = Duration::from_millis(100);

/// Writes pending sync acknowledgements, one transaction per round, while there are any.
pub async fn flush_cursors(state: Arc<AppState>) {
    loop {
        let (round, entries) = state.cursors.next_round().await;
        match write_cursor_entries(&state, entries.clone()).await {
            Ok(()) => state.cursors.written(round, &entries),
            Err(e) => {
                tracing::warn!(error = %e, "writing sync cursors failed; will retry");
                state.cursors.failed(round);
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Writes every pending sync acknowledgement (at shutdown).
pub async fn write_cursors(state: &AppState) {
    let entries = state.cursors.snapshot();
    if entries.is_empty() {
        return;
    }
    if let Err(e) = write_cursor_entries(state, entries).await {
        tracing::warn!(error = %e, "writing sync cursors at shutdown failed");
    }
}

async fn write_cursor_entries(
    state: &AppState,
    entries: Vec<(String, i64)>,
) -> Result<(), ApiError> {
    state
        .db
        .write(move |conn| {
            // Cursors are not what a send checks: the checks cached for sends still hold.
            db::rule_cache::keep_for_this_write();
            db::devices::advance_cursors(conn, &entries).map_err(ApiError::from)
        })
        .await
}

/// Drops the notifier's slots of users who stopped polling.
pub async fn sweep_notifier(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(crate::notifier::LINGER);
    loop {
        ticks.tick().await;
        state.notifier.sweep(crate::notifier::LINGER);
    }
}

/// Announces users who connect and users whose presence grace ran out
/// ([`crate::services::presence`]).
pub async fn watch_presence(state: Arc<AppState>) {
    use crate::services::presence::{grace, tick, Tracker};
    let grace = grace(&state);
    let mut ticks = tokio::time::interval(tick(grace));
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut tracker = Tracker::default();
    loop {
        ticks.tick().await;
        let (came, went) = tracker.look(std::time::Instant::now(), grace, |visit| {
            state
                .notifier
                .for_each_connection(|user, released| visit(user, released));
        });
        let changes = came
            .into_iter()
            .map(|u| (u, true))
            .chain(went.into_iter().map(|u| (u, false)));
        for (user_id, connected) in changes {
            crate::chat::connection_changed(&state, &user_id, connected).await;
        }
    }
}

/// How often the rate limiters forget keys whose budget has refilled.
pub const PRUNE_LIMITS: Duration = Duration::from_secs(30);

/// Keeps the keyed rate limiters' memory to the recently active keys
/// ([`crate::limits::Limits::prune`]).
pub async fn prune_limits(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(PRUNE_LIMITS);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        state.limits.prune();
    }
}
