//! [`SyncStream`]: the live event stream of one device, on top of the long-poll sync endpoint.
//!
//! Guarantees:
//! - **No duplicates.** The stream remembers the highest `seq` it has delivered and asks for
//!   events `after` it; anything at or below it that the server sends again is dropped.
//!   Ephemeral events (typing, presence, receipts) are never stored, carry no meaningful `seq` and
//!   pass through unfiltered.
//! - **No loss.** Polling with `after = N` acknowledges exactly what was delivered. A stream that
//!   starts without a cursor resumes from the cursor the server holds for this device; one that
//!   starts from a saved cursor ([`SyncStream::starting_after`]) picks up right after it.
//! - **Reconnects.** Network errors, 5xx and 429 are retried forever with exponential backoff and
//!   jitter; the connection state is published on a [`tokio::sync::watch`] channel
//!   ([`SyncStream::state`]). Other errors (401: token expired, …) are returned to the caller.
//!
//! [`SyncStream::next`] and [`SyncStream::next_batch`] are cancel-safe: dropping the future (in
//! `tokio::select!`, say) loses no event, since a batch is only taken off the wire and recorded
//! in one synchronous step.

use std::collections::VecDeque;
use std::time::Duration;

use federation_proto::api::client::{SyncQuery, SYNC_DEFAULT_TIMEOUT_S};
use federation_proto::event::Event;
use tokio::sync::watch;

use crate::backoff::{Backoff, BackoffPolicy};
use crate::client::Client;
use crate::error::ClientError;

/// The state of a [`SyncStream`]'s connection, for status indicators.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// A poll is under way and none has succeeded since the stream started or last failed.
    Connecting,
    /// The last poll succeeded.
    Connected,
    /// The last poll failed; the next attempt comes after `retry_in`.
    Offline {
        /// Consecutive failures.
        failures: u32,
        /// Delay before the next attempt.
        retry_in: Duration,
        /// The last error, for people.
        error: String,
    },
}

/// A device's events, live, without duplicates, across reconnects. See the module docs.
pub struct SyncStream {
    client: Client,
    cursor: Option<i64>,
    poll_timeout_s: u64,
    limit: Option<u32>,
    backoff: Backoff,
    pending: VecDeque<Event>,
    state: watch::Sender<ConnectionState>,
}

impl SyncStream {
    /// A stream for `client`'s device that resumes from the server-held cursor.
    pub fn new(client: Client) -> SyncStream {
        let backoff = Backoff::new(client.config().backoff);
        SyncStream {
            client,
            cursor: None,
            poll_timeout_s: SYNC_DEFAULT_TIMEOUT_S,
            limit: None,
            backoff,
            pending: VecDeque::new(),
            state: watch::Sender::new(ConnectionState::Connecting),
        }
    }

    /// Starts after `cursor` (a `seq` saved from [`SyncStream::cursor`]); `None` resumes from the
    /// server-held cursor.
    pub fn starting_after(mut self, cursor: Option<i64>) -> SyncStream {
        self.cursor = cursor;
        self
    }

    /// How long each long poll waits on the server when there is nothing new (default 30 s).
    pub fn poll_timeout(mut self, timeout: Duration) -> SyncStream {
        self.poll_timeout_s = timeout.as_secs();
        self
    }

    /// At most this many events per poll (the server's default when unset).
    pub fn limit(mut self, limit: u32) -> SyncStream {
        self.limit = Some(limit);
        self
    }

    /// The reconnect backoff (default: the client's [`crate::ClientConfig::backoff`]).
    pub fn backoff(mut self, policy: BackoffPolicy) -> SyncStream {
        self.backoff = Backoff::new(policy);
        self
    }

    /// The highest `seq` delivered so far: save it to resume a later stream without repeats.
    pub fn cursor(&self) -> Option<i64> {
        self.cursor
    }

    /// A receiver of connection state changes.
    pub fn state(&self) -> watch::Receiver<ConnectionState> {
        self.state.subscribe()
    }

    /// The next event, waiting as long as it takes (reconnecting in between).
    pub async fn next(&mut self) -> Result<Event, ClientError> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Ok(event);
            }
            let batch = self.next_batch().await?;
            self.pending.extend(batch);
        }
    }

    /// The next non-empty batch of new events, in `seq` order, waiting as long as it takes.
    pub async fn next_batch(&mut self) -> Result<Vec<Event>, ClientError> {
        if !self.pending.is_empty() {
            return Ok(self.pending.drain(..).collect());
        }
        loop {
            let query = SyncQuery {
                after: self.cursor,
                timeout: Some(self.poll_timeout_s),
                limit: self.limit,
            };
            let state = &self.state;
            // Connected as soon as the server answers: a waiting poll sends its status at once.
            let connected = |status: u16| {
                if (200..300).contains(&status) {
                    state.send_if_modified(|s| replace(s, ConnectionState::Connected));
                }
            };
            match self.client.sync_poll(&query, Some(&connected)).await {
                Ok(resp) => {
                    self.backoff.reset();
                    self.state
                        .send_if_modified(|s| replace(s, ConnectionState::Connected));
                    let fresh = take_new(&mut self.cursor, resp.events);
                    if !fresh.is_empty() {
                        return Ok(fresh);
                    }
                }
                Err(e) if e.is_transient() => {
                    let retry_in = self.backoff.next_delay();
                    tracing::info!(error = %e, ?retry_in, "sync failed, reconnecting");
                    let offline = ConnectionState::Offline {
                        failures: self.backoff.failures(),
                        retry_in,
                        error: e.to_string(),
                    };
                    self.state.send_if_modified(|s| replace(s, offline));
                    tokio::time::sleep(retry_in).await;
                    self.state
                        .send_if_modified(|s| replace(s, ConnectionState::Connecting));
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Sets `*slot = new` and tells whether it changed (for `watch::Sender::send_if_modified`).
fn replace(slot: &mut ConnectionState, new: ConnectionState) -> bool {
    if *slot == new {
        false
    } else {
        *slot = new;
        true
    }
}

/// Keeps the events of a poll that were not delivered before, in `seq` order, and advances the
/// cursor to the highest stored one. Ephemeral events pass through without touching the cursor.
pub(crate) fn take_new(cursor: &mut Option<i64>, mut events: Vec<Event>) -> Vec<Event> {
    events.sort_by_key(|e| e.seq);
    let mut fresh = Vec::with_capacity(events.len());
    for event in events {
        if event.kind.is_ephemeral() {
            fresh.push(event);
        } else if cursor.is_none_or(|c| event.seq > c) {
            *cursor = Some(event.seq);
            fresh.push(event);
        } else {
            tracing::debug!(seq = event.seq, "dropping an event delivered before");
        }
    }
    fresh
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(seq: i64, kind: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::new_v4(), "seq": seq, "ts": "2026-02-09T20:00:00.000Z",
            "from": "a@hs", "to": "#x@hs", "type": kind, "body": "", "meta": {}
        }))
        .unwrap()
    }

    fn seqs(events: &[Event]) -> Vec<i64> {
        events.iter().map(|e| e.seq).collect()
    }

    #[test]
    fn first_batch_sets_cursor() {
        let mut cursor = None;
        let fresh = take_new(
            &mut cursor,
            vec![ev(3, "message"), ev(1, "join"), ev(2, "message")],
        );
        assert_eq!(seqs(&fresh), [1, 2, 3]);
        assert_eq!(cursor, Some(3));
    }

    #[test]
    fn repeats_are_dropped() {
        let mut cursor = Some(5);
        let fresh = take_new(
            &mut cursor,
            vec![ev(4, "message"), ev(5, "message"), ev(6, "message")],
        );
        assert_eq!(seqs(&fresh), [6]);
        assert_eq!(cursor, Some(6));
        let again = take_new(&mut cursor, vec![ev(6, "message"), ev(6, "message")]);
        assert!(again.is_empty());
        assert_eq!(cursor, Some(6));
    }

    #[test]
    fn duplicates_within_a_batch_are_dropped() {
        let mut cursor = None;
        let fresh = take_new(&mut cursor, vec![ev(7, "message"), ev(7, "message")]);
        assert_eq!(seqs(&fresh), [7]);
    }

    #[test]
    fn ephemeral_events_pass_without_moving_the_cursor() {
        let mut cursor = Some(10);
        let fresh = take_new(&mut cursor, vec![ev(0, "typing"), ev(11, "message")]);
        assert_eq!(fresh.len(), 2);
        assert_eq!(cursor, Some(11));
        let fresh = take_new(&mut cursor, vec![ev(11, "presence")]);
        assert_eq!(fresh.len(), 1);
        assert_eq!(cursor, Some(11));
    }

    #[test]
    fn state_replace_reports_changes() {
        let mut s = ConnectionState::Connecting;
        assert!(!replace(&mut s, ConnectionState::Connecting));
        assert!(replace(&mut s, ConnectionState::Connected));
        assert_eq!(s, ConnectionState::Connected);
    }
}
