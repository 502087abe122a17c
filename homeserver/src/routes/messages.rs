//! Sync, send and history handlers.
//!
//! A sync that has to wait answers `200` at once and streams its body: the JSON answer once
//! there is one, after leading white space now and then (valid JSON) to keep intermediaries
//! from timing the connection out. actix-web does not notice a client that hangs up while a
//! handler waits (actix/actix-web#1313), so a waiting poll checks its socket every
//! [`HANG_UP_CHECK`](super::hangup::HANG_UP_CHECK) ([`super::hangup::ClientWatch`]) and ends
//! when the client is gone, instead of holding everything to its timeout. An event stream
//! ([`stream`]) is watched the same way. The bytes of each answer and each stream message come
//! from [`crate::transport`].

use std::future::Future;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use federation_proto::api::client::{
    AckRequest, AckResponse, HistoryQuery, HistoryResponse, SendRequest, StreamQuery, SyncQuery,
    SyncResponse,
};
use federation_proto::api::{ErrorBody, ErrorDetail};
use federation_proto::event::Event;
use futures_util::Stream;

use super::hangup::{Check, ClientWatch, PeerSocket};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::messages;
use crate::services::stream::{self, EventStream};
use crate::services::sync::{self, Batch, SyncOutcome, SyncParams};
use crate::state::AppState;
use crate::transport::{long_poll, sse};

/// `GET /api/v1/messages`: sync.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", security(("bearer" = [])), params(SyncQuery),
    responses((status = 200, body = SyncResponse, description = "log events after the cursor, in seq order, then ephemeral events (typing, presence, receipt: seq 0, never stored, not counted in next); a waiting poll may send leading white space first"),
        (status = 401, body = ErrorBody)))]
pub async fn sync(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<SyncQuery>,
) -> Result<HttpResponse, ApiError> {
    let params = SyncParams::new(query.after, query.timeout, query.limit)?;
    match sync::start(state.into_inner(), session, params).await? {
        SyncOutcome::Ready(batch) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("cache-control", "no-store"))
            .body(long_poll::body(&batch))),
        SyncOutcome::Waiting(poll) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("cache-control", "no-store"))
            .streaming(until_answer(
                poll.wait(),
                req.conn_data::<PeerSocket>().copied(),
            ))),
    }
}

/// Streams `answer`'s JSON once it resolves. Meanwhile a [`ClientWatch`] checks whether the
/// client hung up, which ends the body (dropping `answer`), and asks for a space now and then.
fn until_answer<F>(
    answer: F,
    socket: Option<PeerSocket>,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    F: Future<Output = Result<Batch, ApiError>> + 'static,
{
    let waiting = Waiting {
        answer: Box::pin(answer),
        watch: ClientWatch::new(socket),
    };
    futures_util::stream::unfold(Some(waiting), |pending| async move {
        let mut waiting = pending?;
        loop {
            tokio::select! {
                result = &mut waiting.answer => return Some((Ok(final_chunk(result)), None)),
                check = waiting.watch.next() => match check {
                    // Ends the body: the poll and its subscription are dropped now.
                    Check::Gone => return None,
                    Check::KeepAlive => return Some((Ok(Bytes::from_static(long_poll::KEEP_ALIVE)), Some(waiting))),
                    Check::Quiet => {}
                },
            }
        }
    })
}

/// A waiting poll's state between the chunks of its body.
struct Waiting<F> {
    answer: std::pin::Pin<Box<F>>,
    watch: ClientWatch,
}

fn final_chunk(result: Result<Batch, ApiError>) -> Bytes {
    let json = match result {
        Ok(batch) => Ok(long_poll::body(&batch)),
        Err(e) => {
            // The status line is already sent; the body still says what went wrong.
            tracing::warn!(code = e.code, message = %e.message, "long-poll failed after its status was sent");
            serde_json::to_vec(&ErrorBody {
                error: ErrorDetail {
                    code: e.code.to_string(),
                    message: e.message,
                },
            })
        }
    };
    Bytes::from(json.unwrap_or_else(|_| {
        br#"{"error":{"code":"internal","message":"internal server error"}}"#.to_vec()
    }))
}

/// `GET /api/v1/messages/stream`: the device's events as Server-Sent Events
/// ([`crate::services::stream`]).
#[utoipa::path(get, path = "/api/v1/messages/stream", tag = "messages", security(("bearer" = [])), params(StreamQuery,
        ("Last-Event-ID" = Option<i64>, Header, description = "acknowledge up to this seq and stream what follows; takes precedence over after")),
    responses((status = 200, content_type = "text/event-stream",
            description = "never ends: one message per log event, `id: <seq>` and `data: <event JSON>`; an ephemeral event (typing, presence, receipt: seq 0) is a `data:` message without `id:`; a `:` comment line every 15 s"),
        (status = 400, description = "invalid_cursor", body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn stream(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<StreamQuery>,
) -> Result<HttpResponse, ApiError> {
    let after = last_event_id(&req)?.or(query.after);
    let events = stream::open(state.into_inner(), session, after).await?;
    Ok(HttpResponse::Ok()
        .content_type("text/event-stream")
        .insert_header(("cache-control", "no-store"))
        // nginx would otherwise buffer the stream.
        .insert_header(("x-accel-buffering", "no"))
        .streaming(sse_body(events, req.conn_data::<PeerSocket>().copied())))
}

/// The `Last-Event-ID` header, if there is a non-empty one.
fn last_event_id(req: &HttpRequest) -> Result<Option<i64>, ApiError> {
    let Some(value) = req.headers().get("last-event-id") else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or("x").trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse::<i64>().map(Some).map_err(|_| {
        ApiError::bad_request("invalid_cursor", "Last-Event-ID must be an event's seq")
    })
}

/// The stream's body: its events as they come. A [`ClientWatch`] ends it when the client
/// hangs up and asks for an SSE comment now and then. An error (the device logged out, the
/// database failed) ends it too.
fn sse_body(
    events: EventStream,
    socket: Option<PeerSocket>,
) -> impl Stream<Item = Result<Bytes, actix_web::Error>> {
    let streaming = Streaming {
        events,
        watch: ClientWatch::new(socket),
    };
    futures_util::stream::unfold(streaming, |mut s| async move {
        loop {
            tokio::select! {
                batch = s.events.next_batch() => match batch {
                    Ok(batch) => return Some((Ok(Bytes::from(sse::frames(&batch))), s)),
                    Err(e) => {
                        tracing::info!(code = e.code, message = %e.message, at = s.events.position(), "event stream ended");
                        return None;
                    }
                },
                check = s.watch.next() => match check {
                    Check::Gone => return None,
                    Check::KeepAlive => return Some((Ok(Bytes::from_static(sse::KEEP_ALIVE)), s)),
                    Check::Quiet => {}
                },
            }
        }
    })
}

/// An open stream's state between the chunks of its body.
struct Streaming {
    events: EventStream,
    watch: ClientWatch,
}

/// `POST /api/v1/messages`: send.
#[utoipa::path(post, path = "/api/v1/messages", tag = "messages", security(("bearer" = [])), request_body = SendRequest,
    responses((status = 201, body = Event, description = "the stored event (the same one again for a repeated txn_id)"),
        (status = 400, body = ErrorBody), (status = 403, description = "not_member, moderated", body = ErrorBody),
        (status = 404, description = "no_such_channel, unknown_user", body = ErrorBody),
        (status = 413, description = "message_too_large", body = ErrorBody)))]
pub async fn send(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<SendRequest>,
) -> Result<HttpResponse, ApiError> {
    let event = crate::chat::send(&state, &session, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(event))
}

/// `POST /api/v1/messages/ack`: moves the device's cursor without fetching anything.
#[utoipa::path(post, path = "/api/v1/messages/ack", tag = "messages", security(("bearer" = [])), request_body = AckRequest,
    responses((status = 200, body = AckResponse, description = "the acknowledgement is written: a sync without `after`, a new event stream or WebSocket starts after `cursor`. The cursor never moves backwards (an older `seq` changes nothing) nor past the end of the log (a larger `seq` stops there)"),
        (status = 400, description = "invalid_cursor (a negative seq), invalid_json", body = ErrorBody), (status = 401, body = ErrorBody)))]
pub async fn ack(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<AckRequest>,
) -> Result<web::Json<AckResponse>, ApiError> {
    let cursor = sync::acknowledge(&state, &session.device_id, body.seq).await?;
    Ok(web::Json(AckResponse { cursor }))
}

/// `GET /api/v1/history`
#[utoipa::path(get, path = "/api/v1/history", tag = "messages", security(("bearer" = [])), params(HistoryQuery),
    responses((status = 200, body = HistoryResponse), (status = 403, description = "not_member", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn history(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<HistoryQuery>,
) -> Result<web::Json<HistoryResponse>, ApiError> {
    let q = query.into_inner();
    let events = messages::history(&state, &session, &q.target, q.before, q.after, q.limit).await?;
    Ok(web::Json(HistoryResponse { events }))
}
