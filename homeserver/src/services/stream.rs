//! The per-device event stream as Server-Sent Events (`GET /api/v1/messages/stream`).
//!
//! The same events as sync ([`super::sync`]), in the same `seq` order, over one response that
//! does not end. This module yields [`Batch`]es (log events, then ephemeral events); the route
//! frames them as SSE ([`crate::transport::sse`]): each log event is one message, `id: <seq>`
//! and `data: <event JSON>`, and each ephemeral event a `data:` message without an `id:`. Opening
//! a stream acknowledges like a poll: `Last-Event-ID` (what a reconnecting `EventSource`
//! sends) or `after=N` acknowledges everything up to it and streams what follows; without
//! either the stream starts at the device's stored cursor.
//!
//! A stream never moves the cursor by itself: writing an event to a socket does not mean the
//! client has it. A client acknowledges by reconnecting with `Last-Event-ID`, or at any time
//! with a sync `after=N&timeout=0`. Whatever it has not acknowledged comes again on the next
//! connection, so a dropped stream loses nothing.
//!
//! Delivery reuses the long-poll machinery: the stream keeps one notifier subscription for its
//! whole life and answers from the notifier's memory where it covers the device, from the
//! database otherwise. Where long-polls pay one HTTP request per answer, a stream pays one
//! write per batch of events.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::accounts::{touch_device, Session};
use super::sync::{
    memory_events, starting_point, stored_events, Batch, SyncParams, SYNC_MAX_LIMIT,
};
use crate::db;
use crate::error::ApiError;
use crate::metrics::ActiveGuard;
use crate::notifier::{Delivered, Subscription, Wake};
use crate::state::AppState;

/// A device's open event stream.
pub struct EventStream {
    state: Arc<AppState>,
    session: Session,
    /// Events up to this have been handed out.
    from: i64,
    subscription: Subscription,
    /// The database was read after subscribing and held nothing more after `from`.
    read_db: bool,
    /// Events may have come since the last read (set by wake-ups).
    unread: bool,
    checked_session: Instant,
    _active: Option<ActiveGuard>,
}

/// Opens a stream after `after` (acknowledging it), or at the device's stored cursor, counted
/// as an event stream (`hearth_active_streams`).
pub async fn open(
    state: Arc<AppState>,
    session: Session,
    after: Option<i64>,
) -> Result<EventStream, ApiError> {
    let mut stream = open_uncounted(state, session, after).await?;
    stream._active = Some(ActiveGuard::stream(Arc::clone(&stream.state.metrics)));
    Ok(stream)
}

/// [`open`] for a transport that counts its connections itself (the WebSocket).
pub async fn open_uncounted(
    state: Arc<AppState>,
    session: Session,
    after: Option<i64>,
) -> Result<EventStream, ApiError> {
    // The same validation as a poll's `after`.
    let after = SyncParams::new(after, None, None)?.after;
    let (from, ack) = starting_point(&state, &session.device_id, after).await?;
    if let Some(round) = ack {
        // Stream only once the acknowledgement is written: a crash must not undo it.
        state.cursors.durable(round).await;
    }
    Ok(open_at(state, session, from))
}

/// A stream of the events after `from`, which it does not acknowledge (the IRC gateway, which
/// replays a device's events itself and then streams what follows).
pub fn open_at(state: Arc<AppState>, session: Session, from: i64) -> EventStream {
    // Subscribed before the first read, so no commit slips between a read and the wait.
    let subscription = state
        .notifier
        .subscribe(&session.user_id, &session.device_id);
    EventStream {
        state,
        session,
        from,
        subscription,
        read_db: false,
        unread: true,
        checked_session: Instant::now(),
        _active: None,
    }
}

impl EventStream {
    /// Waits for this device's next events: log events after the last batch, then the
    /// ephemeral events not handed out on this stream yet. Cancel-safe: dropping the future
    /// before it resolves hands nothing out and skips nothing.
    pub async fn next_batch(&mut self) -> Result<Batch, ApiError> {
        self.check_session().await?;
        loop {
            // The log is read only when it may hold something new: first, after a batch of log
            // events (there may be more), and after a wake-up that concerns the log.
            let events = if self.unread {
                self.next_events().await?
            } else {
                Vec::new()
            };
            // Taken after the last await: a dropped future takes nothing.
            let ephemeral = self.state.notifier.take_ephemeral(&mut self.subscription);
            match events.last() {
                Some(last) => self.from = last.seq,
                None => self.unread = false,
            }
            if !events.is_empty() || !ephemeral.is_empty() {
                return Ok(Batch {
                    events,
                    ephemeral,
                    next: self.from,
                });
            }
            // However often this future is restarted, it waits for a wake-up before reading.
            if self.subscription.changed().await == Wake::Log {
                self.unread = true;
            }
        }
    }

    /// The `seq` of the last event handed out (or where the stream started).
    pub fn position(&self) -> i64 {
        self.from
    }

    /// The device this stream is for.
    pub fn session(&self) -> &Session {
        &self.session
    }

    /// When the session is next due to be checked (logout): a transport whose connection is
    /// otherwise quiet calls [`EventStream::check_session`] then, so a logged-out device's
    /// stream ends within [`SESSION_CHECK_MS`].
    pub fn session_check_at(&self) -> Instant {
        self.checked_session + self.session_check_every()
    }

    fn session_check_every(&self) -> Duration {
        let every_ms = (self.state.session_timeout_ms() / 4).min(SESSION_CHECK_MS);
        Duration::from_millis(u64::try_from(every_ms).unwrap_or(0))
    }

    async fn next_events(&mut self) -> Result<Vec<Arc<Delivered>>, ApiError> {
        if let Some(events) = memory_events(
            &self.state,
            &self.subscription,
            self.from,
            self.read_db,
            SYNC_MAX_LIMIT,
        ) {
            return Ok(events);
        }
        // Boxed, as the session check's read: a stream waiting in `next_batch` holds no room
        // for a database read (an idle IRC connection is little more than that wait).
        let events = Box::pin(stored_events(
            &self.state,
            &self.session.user_id,
            self.from,
            SYNC_MAX_LIMIT,
        ))
        .await?;
        // A full batch may have left events behind that the memory cannot vouch for.
        if events.len() < SYNC_MAX_LIMIT as usize {
            self.read_db = true;
        }
        Ok(events)
    }

    /// Now and then (at most every [`SESSION_CHECK_MS`]; see
    /// [`EventStream::session_check_at`]): ends the stream if its device logged out (or was
    /// removed), and otherwise refreshes the session, as a device with an open stream is in
    /// use. [`EventStream::next_batch`] calls it; a transport whose loop may cancel that often
    /// calls it itself when it is due.
    pub async fn check_session(&mut self) -> Result<(), ApiError> {
        if self.checked_session.elapsed() < self.session_check_every() {
            return Ok(());
        }
        self.checked_session = Instant::now();
        let device_id = self.session.device_id.clone();
        let exists = Box::pin(
            self.state
                .db
                .run(move |conn| db::devices::exists(conn, &device_id).map_err(ApiError::from)),
        )
        .await?;
        if !exists {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "this device logged out",
            ));
        }
        touch_device(&self.state, &self.session.device_id);
        Ok(())
    }
}

impl Drop for EventStream {
    /// A closed stream (or WebSocket) marks its device seen: its user shows online for the
    /// presence grace after it (`services::presence`).
    fn drop(&mut self) {
        touch_device(&self.state, &self.session.device_id);
    }
}

/// How often (at most) an open stream checks that its device is still logged in.
pub const SESSION_CHECK_MS: i64 = 30_000;
