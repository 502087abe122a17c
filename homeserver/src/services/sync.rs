//! The per-device event stream (`GET /api/v1/messages`).
//!
//! Each device has a cursor held by the server. `after=N` acknowledges everything up to `N`
//! (the cursor only moves forward); without `after` the device resumes from its cursor, so a
//! reconnecting client gets everything it has not acknowledged, in `seq` order, and nothing it
//! has. When there is nothing new, the poll subscribes to the [`Notifier`](crate::notifier)
//! *before* reading, then waits for a wake-up or its timeout — no sleep-polling of the database.

use std::sync::Arc;
use std::time::Duration;

use federation_proto::api::client::{SyncResponse, SYNC_DEFAULT_TIMEOUT_S, SYNC_MAX_TIMEOUT_S};
use tokio::time::Instant;

use super::accounts::{touch_device, Session};
use super::events::views;
use super::now_ms;
use crate::db;
use crate::error::ApiError;
use crate::metrics::LongPollGuard;
use crate::notifier::Subscription;
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

/// Either an answer now, or a poll that must wait.
pub enum SyncOutcome {
    /// Events were there (or the timeout is 0).
    Ready(SyncResponse),
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
    _active: LongPollGuard,
}

/// Starts a sync: acknowledges, subscribes, reads. Answers at once when there are events.
pub async fn start(
    state: Arc<AppState>,
    session: Session,
    params: SyncParams,
) -> Result<SyncOutcome, ApiError> {
    let started = Instant::now();
    let device_id = session.device_id.clone();
    let ack = params.after;
    let from = state
        .db
        .run(move |conn| {
            match ack {
                Some(after) => {
                    // Never store a cursor past the log's end: later events would be skipped.
                    let acked = after.min(db::events::max_seq(conn)?);
                    db::devices::advance_cursor(conn, &device_id, acked)?;
                    Ok::<_, ApiError>(acked)
                }
                None => Ok(db::devices::cursor(conn, &device_id)?),
            }
        })
        .await?;
    // Subscribe before reading, so that a commit between the read and the wait still wakes us.
    let subscription = state.notifier.subscribe(&session.user_id);
    let response = fetch(&state, &session.user_id, from, params.limit).await?;
    if !response.events.is_empty() || params.timeout_s == 0 {
        if !response.events.is_empty() {
            state
                .metrics
                .sync_duration
                .observe(started.elapsed().as_secs_f64());
        }
        return Ok(SyncOutcome::Ready(response));
    }
    let guard = LongPollGuard::new(Arc::clone(&state.metrics));
    Ok(SyncOutcome::Waiting(PendingPoll {
        deadline: started + Duration::from_secs(params.timeout_s),
        state,
        session,
        from,
        limit: params.limit,
        subscription,
        _active: guard,
    }))
}

impl PendingPoll {
    /// Waits until an event for this device is committed or the timeout passes, then answers.
    /// Dropping the future (client gone) releases everything at once.
    pub async fn wait(mut self) -> Result<SyncResponse, ApiError> {
        let started = Instant::now();
        loop {
            let woke = tokio::select! {
                _ = self.subscription.changed() => true,
                _ = tokio::time::sleep_until(self.deadline) => false,
            };
            let response = fetch(&self.state, &self.session.user_id, self.from, self.limit).await?;
            if !response.events.is_empty() || !woke {
                if !response.events.is_empty() {
                    self.state
                        .metrics
                        .sync_duration
                        .observe(started.elapsed().as_secs_f64());
                }
                // A device that long-polls is in use: keep its session alive (authentication
                // refreshed it when the poll began; refresh again only after a long wait).
                let touch_every_ms = (self.state.session_timeout_ms() / 4).min(30_000);
                if started.elapsed().as_millis() >= u128::try_from(touch_every_ms).unwrap_or(0) {
                    touch_device(&self.state, &self.session.device_id).await?;
                }
                return Ok(response);
            }
            // Woken by an event this device cannot see yet (e.g. rotated away): wait again.
        }
    }
}

async fn fetch(
    state: &AppState,
    user_id: &str,
    from: i64,
    limit: u32,
) -> Result<SyncResponse, ApiError> {
    let user_id = user_id.to_string();
    let rows = state
        .db
        .run(move |conn| {
            db::events::for_user_after(conn, &user_id, from, i64::from(limit))
                .map_err(ApiError::from)
        })
        .await?;
    if let Some(newest) = rows.last() {
        state
            .metrics
            .sync_delivery
            .observe((now_ms() - newest.ts_ms).max(0) as f64 / 1000.0);
    }
    let next = rows.last().map_or(from, |r| r.seq);
    Ok(SyncResponse {
        events: views(rows)?,
        next,
    })
}
