//! Messages: sending (with a `txn_id`, so retries are safe), history, one sync poll, and one
//! message's edits, deletes, reactions and thread.

use std::time::Duration;

use actix_web::http::Method;
use federation_proto::api::client::{
    paths, EditRequest, HistoryQuery, HistoryResponse, ReactRequest, SendRequest, SyncQuery,
    SyncResponse, ThreadResponse, SYNC_DEFAULT_TIMEOUT_S,
};
use federation_proto::event::{validate_emoji, Event, EventKind};

use crate::backoff::Backoff;
use crate::client::{Auth, Call, Client};
use crate::error::ClientError;
use crate::path::fill;
use crate::sync::SyncStream;

/// A [`SendRequest`] for a plain message to `to`, ready to adjust before [`Client::send_request`].
pub fn message(to: &str, body: &str) -> SendRequest {
    SendRequest {
        to: to.to_string(),
        kind: None,
        body: body.to_string(),
        meta: None,
        reply_to: None,
        txn_id: None,
        attachments: Vec::new(),
    }
}

impl Client {
    /// `POST /api/v1/messages`: sends a message to `#channel[@host]` or `nick[@server]` and
    /// returns the stored event. Retried safely like [`Client::send_request`].
    pub async fn send(&self, to: &str, body: &str) -> Result<Event, ClientError> {
        self.send_request(message(to, body)).await
    }

    /// Sends a message of another kind: [`EventKind::Action`] (`/me`) or [`EventKind::Notice`]
    /// (what bots should use for automatic answers).
    pub async fn send_kind(
        &self,
        to: &str,
        kind: EventKind,
        body: &str,
    ) -> Result<Event, ClientError> {
        let mut req = message(to, body);
        req.kind = Some(kind.as_str().to_string());
        self.send_request(req).await
    }

    /// Answers `event` in the same place (its channel, or its sender for a DM to `me_handle`).
    pub async fn reply(
        &self,
        event: &Event,
        me_handle: &str,
        body: &str,
    ) -> Result<Event, ClientError> {
        let mut req = message(reply_target(event, me_handle), body);
        req.reply_to = Some(event.id.to_string());
        self.send_request(req).await
    }

    /// `POST /api/v1/messages` with every field under the caller's control.
    ///
    /// When `txn_id` is `None` a fresh UUID is set. Network failures, 5xx and 429 are retried
    /// with backoff up to [`crate::ClientConfig::send_attempts`] times with the *same* `txn_id`,
    /// so the server stores the message at most once even when an answer was lost.
    pub async fn send_request(&self, mut req: SendRequest) -> Result<Event, ClientError> {
        if req.txn_id.is_none() {
            req.txn_id = Some(uuid::Uuid::new_v4().to_string());
        }
        let mut backoff = Backoff::new(self.config().backoff);
        let mut attempt = 1;
        loop {
            match self.post(paths::MESSAGES, &req, Auth::Bearer).await {
                Ok(event) => return Ok(event),
                Err(e) if e.is_transient() && attempt < self.config().send_attempts => {
                    let delay = backoff.next_delay();
                    tracing::warn!(error = %e, attempt, ?delay, "send failed, retrying with the same txn_id");
                    tokio::time::sleep(delay).await;
                    attempt += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// `GET /api/v1/history`: stored history of a channel or DM, newest first.
    pub async fn history(&self, query: &HistoryQuery) -> Result<HistoryResponse, ClientError> {
        self.get_query(paths::HISTORY, query, None).await
    }

    /// The `limit` newest events of `target` (a channel or a user handle), newest first.
    pub async fn recent_history(
        &self,
        target: &str,
        limit: u32,
    ) -> Result<Vec<Event>, ClientError> {
        let query = HistoryQuery {
            target: target.to_string(),
            limit: Some(limit),
            ..HistoryQuery::default()
        };
        Ok(self.history(&query).await?.events)
    }

    /// `GET /api/v1/messages`: one sync poll. With `after`, acknowledges everything up to it;
    /// without, the server resumes from this device's stored cursor. Waits up to `timeout`
    /// seconds for events. Most callers want [`Client::sync`] instead.
    pub async fn sync_once(&self, query: &SyncQuery) -> Result<SyncResponse, ClientError> {
        self.sync_poll(query, None).await
    }

    /// [`Client::sync_once`], calling `on_status` as soon as the status line arrives (a waiting
    /// poll sends it at once, long before its events).
    pub(crate) async fn sync_poll(
        &self,
        query: &SyncQuery,
        on_status: Option<&dyn Fn(u16)>,
    ) -> Result<SyncResponse, ClientError> {
        let wait = Duration::from_secs(query.timeout.unwrap_or(SYNC_DEFAULT_TIMEOUT_S));
        let mut call = Call::<SyncQuery, ()>::new(Method::GET, paths::MESSAGES, Auth::Bearer);
        call.query = Some(query);
        call.timeout = Some(wait + self.config().poll_grace);
        call.on_status = on_status;
        self.call(call).await
    }

    /// `GET /api/v1/messages/{id}`: one message with its aggregates (`edited`, `deleted`,
    /// `reactions`, `replies`).
    pub async fn message(&self, id: &str) -> Result<Event, ClientError> {
        self.get(&message_path(paths::MESSAGE, id, None), Auth::Bearer)
            .await
    }

    /// `PUT /api/v1/messages/{id}`: edits one's own message (within the server's
    /// `EDIT_WINDOW`); returns the `edit` event.
    pub async fn edit(&self, id: &str, body: &str) -> Result<Event, ClientError> {
        let req = EditRequest {
            body: body.to_string(),
            meta: None,
        };
        let path = message_path(paths::MESSAGE, id, None);
        let mut call = Call::<(), EditRequest>::new(Method::PUT, &path, Auth::Bearer);
        call.body = Some(&req);
        self.call(call).await
    }

    /// `DELETE /api/v1/messages/{id}`: deletes a message (one's own, or any as an operator of
    /// its channel); returns the `delete` event.
    pub async fn delete_message(&self, id: &str) -> Result<Event, ClientError> {
        let path = message_path(paths::MESSAGE, id, None);
        self.call(Call::<(), ()>::new(Method::DELETE, &path, Auth::Bearer))
            .await
    }

    /// `POST /api/v1/messages/{id}/reactions`: reacts with `emoji`; a repeat answers the first
    /// reaction event.
    pub async fn react(&self, id: &str, emoji: &str) -> Result<Event, ClientError> {
        if let Err(e) = validate_emoji(emoji) {
            return Err(ClientError::InvalidInput(e.to_string()));
        }
        let req = ReactRequest {
            emoji: emoji.to_string(),
        };
        self.post(
            &message_path(paths::REACTIONS, id, None),
            &req,
            Auth::Bearer,
        )
        .await
    }

    /// `DELETE /api/v1/messages/{id}/reactions/{emoji}`: withdraws one's reaction; returns
    /// the `delete` event.
    pub async fn unreact(&self, id: &str, emoji: &str) -> Result<Event, ClientError> {
        let path = message_path(paths::REACTION, id, Some(emoji));
        self.call(Call::<(), ()>::new(Method::DELETE, &path, Auth::Bearer))
            .await
    }

    /// `GET /api/v1/messages/{id}/thread`: the root and its replies, oldest first.
    pub async fn thread(&self, id: &str) -> Result<ThreadResponse, ClientError> {
        self.get(&message_path(paths::THREAD, id, None), Auth::Bearer)
            .await
    }

    /// A [`SyncStream`] over this device's events, starting from the server's stored cursor.
    pub fn sync(&self) -> SyncStream {
        SyncStream::new(self.clone())
    }
}

/// Fills the `{id}` (and `{emoji}`) of a message path, percent-encoded.
fn message_path(template: &str, id: &str, emoji: Option<&str>) -> String {
    let path = fill(template, "id", id);
    match emoji {
        Some(emoji) => fill(&path, "emoji", emoji),
        None => path,
    }
}

/// Where an answer to `event` goes: its channel, or for a DM the other party.
pub fn reply_target<'a>(event: &'a Event, me_handle: &str) -> &'a str {
    if event.to.starts_with('#') || event.from.eq_ignore_ascii_case(me_handle) {
        &event.to
    } else {
        &event.from
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(from: &str, to: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b", "seq": 1, "ts": "2026-02-09T20:00:00.000Z",
            "from": from, "to": to, "type": "message", "body": "hi", "meta": {}
        }))
        .unwrap()
    }

    #[test]
    fn reply_targets() {
        assert_eq!(
            reply_target(&ev("bob@hs", "#general@hs"), "me@hs"),
            "#general@hs"
        );
        assert_eq!(reply_target(&ev("bob@hs", "me@hs"), "me@hs"), "bob@hs");
        assert_eq!(reply_target(&ev("me@hs", "bob@hs"), "me@hs"), "bob@hs");
    }

    #[test]
    fn message_defaults() {
        let m = message("#x", "hello");
        let json = serde_json::to_value(&m).unwrap();
        assert_eq!(json["to"], "#x");
        assert_eq!(json["body"], "hello");
        assert!(m.txn_id.is_none());
    }
}
