//! The per-device event stream (`GET /api/v1/messages`).
//!
//! Each device has a cursor held by the server. `after=N` acknowledges everything up to `N`
//! (the cursor only moves forward); without `after` the device resumes from its cursor, so a
//! reconnecting client gets everything it has not acknowledged, in `seq` order, and nothing it
//! has. When there is nothing new, the poll subscribes to the [`Notifier`](crate::notifier)
//! *before* reading, then waits for a wake-up or its timeout — no sleep-polling of the database.
//!
//! Where the notifier's memory covers a poll (a user who polled in the last seconds, on SQLite)
//! the answer is built from events serialized once at commit, without reading the database;
//! otherwise the poll reads its events. Acknowledgements are written in groups
//! ([`crate::cursors`]); a poll answers once its acknowledgement is written.
//!
//! An answer is a [`Batch`]: the log events, then the ephemeral events (typing, presence,
//! receipts; [`super::ephemeral`]) the notifier holds for this device. Either wakes a waiting
//! poll; only log events move `next`. The route frames the batch as JSON
//! ([`crate::transport::long_poll`]).

use std::sync::Arc;
use std::time::Duration;

use federation_proto::api::client::{SYNC_DEFAULT_TIMEOUT_S, SYNC_MAX_TIMEOUT_S};
use tokio::time::Instant;

use super::accounts::{touch_device, Session};
use super::events::view;
use super::now_ms;
use crate::cursors::Round;
use crate::db;
use crate::error::ApiError;
use crate::metrics::ActiveGuard;
use crate::notifier::{Delivered, Ephemeral, Subscription, Wake};
use crate::state::AppState;

/// Default and largest number of events in one answer.
pub const SYNC_MAX_LIMIT: u32 = 500;

/// What the device asked for.
#[derive(Debug, Clone, Copy)]
pub struct SyncParams {
    /// Acknowledge up to and return events after this.
    pub after: Option<i64>,
    /// Seconds to wait.
    pub timeout_s: u64,
    /// Most events to return.
    pub limit: u32,
}

impl SyncParams {
    /// Validates raw query values (`timeout` is capped at 120 s, `limit` at 500).
    pub fn new(
        after: Option<i64>,
        timeout: Option<u64>,
        limit: Option<u32>,
    ) -> Result<SyncParams, ApiError> {
        if after.is_some_and(|a| a < 0) {
            return Err(ApiError::bad_request(
                "invalid_cursor",
                "after must be 0 or more",
            ));
        }
        Ok(SyncParams {
            after,
            timeout_s: timeout
                .unwrap_or(SYNC_DEFAULT_TIMEOUT_S)
                .min(SYNC_MAX_TIMEOUT_S),
            limit: limit.unwrap_or(SYNC_MAX_LIMIT).clamp(1, SYNC_MAX_LIMIT),
        })
    }
}

/// What a poll or a stream hands its device: log events in `seq` order, then ephemeral events
/// (typing, presence, receipts; [`super::ephemeral`]). Transports frame it
/// ([`crate::transport`]): a sync answer, SSE messages, later WebSocket and IRC frames.
#[derive(Debug, Default)]
pub struct Batch {
    /// Events of the log, serialized once, in `seq` order.
    pub events: Vec<Arc<Delivered>>,
    /// Events that are not in the log (`seq` 0), in the order they were published.
    pub ephemeral: Vec<Arc<Ephemeral>>,
    /// The log cursor after this batch: the last event's `seq`, or where it started. Ephemeral
    /// events never move it.
    pub next: i64,
}

impl Batch {
    /// A batch of the log events after `from` found, and the ephemeral events taken.
    fn of(events: Vec<Arc<Delivered>>, ephemeral: Vec<Arc<Ephemeral>>, from: i64) -> Batch {
        let next = events.last().map_or(from, |e| e.seq);
        Batch {
            events,
            ephemeral,
            next,
        }
    }

    /// Whether it holds nothing to deliver.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty() && self.ephemeral.is_empty()
    }
}

/// Either an answer now, or a poll that must wait.
pub enum SyncOutcome {
    /// Events were there (or the timeout is 0).
    Ready(Batch),
    /// Nothing yet: wait with [`PendingPoll::wait`].
    Waiting(PendingPoll),
}

/// A subscribed poll waiting for its device's next events.
pub struct PendingPoll {
    state: Arc<AppState>,
    session: Session,
    from: i64,
    limit: u32,
    deadline: Instant,
    subscription: Subscription,
    /// The database was read after subscribing (and had nothing after `from`).
    read_db: bool,
    /// The round writing this poll's acknowledgement, if it made one.
    ack: Option<Round>,
    _active: ActiveGuard,
}

/// Starts a sync: acknowledges, subscribes, reads. Answers at once when there are events.
pub async fn start(
    state: Arc<AppState>,
    session: Session,
    params: SyncParams,
) -> Result<SyncOutcome, ApiError> {
    let started = Instant::now();
    let (from, ack) = starting_point(&state, &session.device_id, params.after).await?;
    // Subscribe before reading, so that a commit between the read and the wait still wakes us.
    let mut subscription = state
        .notifier
        .subscribe(&session.user_id, &session.device_id);
    let (events, read_db) = match memory_events(&state, &subscription, from, false, params.limit) {
        Some(events) => (events, false),
        None => (
            stored_events(&state, &session.user_id, from, params.limit).await?,
            true,
        ),
    };
    let ephemeral = state.notifier.take_ephemeral(&mut subscription);
    let answer = Batch::of(events, ephemeral, from);
    if !answer.is_empty() || params.timeout_s == 0 {
        if !answer.events.is_empty() {
            state
                .metrics
                .sync_duration
                .observe(started.elapsed().as_secs_f64());
        }
        // Answer only once the acknowledgement is written: a crash must not undo it.
        if let Some(round) = ack {
            state.cursors.durable(round).await;
        }
        return Ok(SyncOutcome::Ready(answer));
    }
    let guard = ActiveGuard::long_poll(Arc::clone(&state.metrics));
    Ok(SyncOutcome::Waiting(PendingPoll {
        deadline: started + Duration::from_secs(params.timeout_s),
        state,
        session,
        from,
        limit: params.limit,
        subscription,
        read_db,
        ack,
        _active: guard,
    }))
}

/// Where a poll or stream of this device starts, and the round acknowledging `after` if it
/// was given (the caller waits for it before answering): `after` acknowledges everything up to
/// it; without it the device resumes from its stored cursor.
pub(crate) async fn starting_point(
    state: &AppState,
    device_id: &str,
    after: Option<i64>,
) -> Result<(i64, Option<Round>), ApiError> {
    match after {
        Some(after) => {
            // Never store a cursor past the log's end: later events would be skipped.
            let acked = clamp_to_log(state, after).await?;
            Ok((acked, Some(state.cursors.acknowledge(device_id, acked))))
        }
        None => Ok((stored_cursor(state, device_id).await?, None)),
    }
}

/// `POST /api/v1/messages/ack` and the WebSocket's `ack` frame: moves the device's cursor to
/// `seq` without fetching anything, never backwards and never past the log's end. Answers the
/// device's cursor once the acknowledgement is written.
pub async fn acknowledge(state: &AppState, device_id: &str, seq: i64) -> Result<i64, ApiError> {
    // The same validation as a poll's `after`.
    let seq = SyncParams::new(Some(seq), None, None)?
        .after
        .unwrap_or_default();
    let acked = clamp_to_log(state, seq).await?;
    let round = state.cursors.acknowledge(device_id, acked);
    state.cursors.durable(round).await;
    // An older acknowledgement never wins, but a newer one (another request) may have.
    Ok(stored_cursor(state, device_id).await?.max(acked))
}

/// `after`, or the end of the log when `after` is past it.
async fn clamp_to_log(state: &AppState, after: i64) -> Result<i64, ApiError> {
    // Published here, or (on Postgres) known to be durable: committed and durable.
    if after <= state.notifier.published_through()
        || (state.db.is_shared() && after <= state.db.durable())
    {
        return Ok(after);
    }
    // Past what this process has published: past the log's end, or a cursor handed out before
    // this process published its events (by another process sharing the database whose
    // notification is on its way, or by a read here between a commit and its publication).
    // The database says where the log ends.
    let db = state.db.clone();
    state
        .db
        .run(move |conn| Ok::<_, ApiError>(after.min(db.log_end(conn)?)))
        .await
}

/// The device's cursor: its newest acknowledgement, written or not.
async fn stored_cursor(state: &AppState, device_id: &str) -> Result<i64, ApiError> {
    if let Some(pending) = state.cursors.pending(device_id) {
        return Ok(pending);
    }
    let device_id = device_id.to_string();
    state
        .db
        .run(move |conn| db::devices::cursor(conn, &device_id).map_err(ApiError::from))
        .await
}

impl PendingPoll {
    /// Waits until an event for this device is committed or the timeout passes, then answers.
    /// Dropping the future (client gone) releases everything at once.
    pub async fn wait(mut self) -> Result<Batch, ApiError> {
        let started = Instant::now();
        loop {
            let wake = tokio::select! {
                wake = self.subscription.changed() => Some(wake),
                _ = tokio::time::sleep_until(self.deadline) => None,
            };
            let woke = wake.is_some();
            // Only ephemeral events came: the log has nothing new since the last read.
            let memory = if wake == Some(Wake::Ephemeral) {
                Some(Vec::new())
            } else {
                memory_events(
                    &self.state,
                    &self.subscription,
                    self.from,
                    self.read_db,
                    self.limit,
                )
            };
            let events = match memory {
                Some(events) => events,
                None => {
                    let events =
                        stored_events(&self.state, &self.session.user_id, self.from, self.limit)
                            .await?;
                    self.read_db = true;
                    events
                }
            };
            // Taken when the poll is about to answer: a device gets each at most once.
            let ephemeral = self.state.notifier.take_ephemeral(&mut self.subscription);
            let answer = Batch::of(events, ephemeral, self.from);
            if !answer.is_empty() || !woke {
                if !answer.events.is_empty() {
                    self.state
                        .metrics
                        .sync_duration
                        .observe(started.elapsed().as_secs_f64());
                }
                // A device that long-polls is in use: keep its session alive (authentication
                // refreshed it when the poll began; refresh again only after a long wait).
                let touch_every_ms = (self.state.session_timeout_ms() / 4).min(30_000);
                if started.elapsed().as_millis() >= u128::try_from(touch_every_ms).unwrap_or(0) {
                    touch_device(&self.state, &self.session.device_id);
                }
                if let Some(round) = self.ack {
                    self.state.cursors.durable(round).await;
                }
                return Ok(answer);
            }
            // Woken by an event this device cannot see yet (e.g. rotated away): wait again.
        }
    }
}

/// The device's events after `from` (at most `limit`) from the notifier's memory, when it
/// covers them. `read_db`: the database was read after subscribing and held nothing more
/// after `from` (see [`crate::notifier::Notifier::collect`]).
pub(crate) fn memory_events(
    state: &AppState,
    subscription: &Subscription,
    from: i64,
    read_db: bool,
    limit: u32,
) -> Option<Vec<Arc<Delivered>>> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let events = state.notifier.collect(subscription, from, read_db, limit)?;
    if let Some(newest) = events.last() {
        observe_delivery(state, newest.ts_ms);
    }
    Some(events)
}

fn observe_delivery(state: &AppState, ts_ms: i64) {
    state
        .metrics
        .sync_delivery
        .observe((now_ms() - ts_ms).max(0) as f64 / 1000.0);
}

/// The user's events after `from` (at most `limit`) from the database, serialized.
pub(crate) async fn stored_events(
    state: &AppState,
    user_id: &str,
    from: i64,
    limit: u32,
) -> Result<Vec<Arc<Delivered>>, ApiError> {
    let user_id = user_id.to_string();
    let durable = state.db.durable();
    let rows = state
        .db
        .run(move |conn| {
            db::events::for_user_after(conn, &user_id, from, durable, i64::from(limit))
                .map_err(ApiError::from)
        })
        .await?;
    if let Some(newest) = rows.last() {
        observe_delivery(state, newest.ts_ms);
    }
    rows.into_iter()
        .map(|row| {
            let (seq, ts_ms) = (row.seq, row.ts_ms);
            let json = serde_json::to_vec(&view(row)?).map_err(ApiError::internal)?;
            Ok(Arc::new(Delivered {
                seq,
                ts_ms,
                json: json.into_boxed_slice(),
            }))
        })
        .collect()
}
