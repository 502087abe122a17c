//! Sync, send and history handlers, and those of one message: get, edit, delete, reactions
//! and its thread.
//!
//! A sync that has to wait answers `200` at once and streams its body: the JSON answer once
//! there is one, after leading white space now and then (valid JSON) to keep intermediaries
//! from timing the connection out. actix-web does not notice a client that hangs up while a
//! handler waits (actix/actix-web#1313), so a waiting poll checks its socket every
//! [`HANG_UP_CHECK`](super::hangup::HANG_UP_CHECK) ([`super::hangup::ClientWatch`]) and ends
//! when the client is gone, instead of holding everything to its timeout. An event stream
//! ([`stream`](fn@stream)) is watched the same way. The bytes of each answer and each stream message come
//! from [`crate::transport`].

use std::future::Future;

use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use federation_proto::api::client::{
    AckRequest, AckResponse, EditRequest, HistoryQuery, HistoryResponse, ReactRequest, SendRequest,
    StreamQuery, SyncQuery, SyncResponse, ThreadResponse,
};
use federation_proto::api::{ErrorBody, ErrorDetail};
use federation_proto::event::Event;
use futures_util::Stream;

use super::hangup::{Check, ClientWatch, PeerSocket};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::stream::{self, EventStream};
use crate::services::sync::{self, Batch, SyncOutcome, SyncParams};
use crate::services::{messages, rich};
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
        (status = 413, description = "message_too_large", body = ErrorBody),
        (status = 429, description = "rate_limited (RATE_LIMIT_SEND), with Retry-After", body = ErrorBody)))]
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

/// `GET /api/v1/messages/{id}`
#[utoipa::path(get, path = "/api/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message's id")),
    responses((status = 200, body = Event, description = "the message with its aggregates: `edited` {ts, count} when edited, `deleted` (true: body empty, meta {}), `reactions` [{emoji, count, me}], `replies` {count, last_ts}"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "no_such_message (also for a message of a channel or conversation the user is not in)", body = ErrorBody)))]
pub async fn get_message(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<web::Json<Event>, ApiError> {
    Ok(web::Json(rich::get(&state, &session, &id).await?))
}

/// `PUT /api/v1/messages/{id}`
#[utoipa::path(put, path = "/api/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message's id")), request_body = EditRequest,
    responses((status = 200, body = Event, description = "the `edit` event (target = id, the new body and meta); history and GET /api/v1/messages/{id} show the new text with `edited`"),
        (status = 400, description = "empty_body, invalid_meta, not_a_message", body = ErrorBody),
        (status = 403, description = "not_sender, edit_window_closed (older than EDIT_WINDOW seconds), not_member", body = ErrorBody),
        (status = 404, description = "no_such_message", body = ErrorBody),
        (status = 409, description = "message_deleted", body = ErrorBody),
        (status = 413, description = "message_too_large, meta_too_large", body = ErrorBody),
        (status = 502, description = "host_unreachable (a channel hosted elsewhere)", body = ErrorBody)))]
pub async fn edit(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
    body: web::Json<EditRequest>,
) -> Result<web::Json<Event>, ApiError> {
    Ok(web::Json(
        crate::chat::edit(&state, &session, &id, body.into_inner()).await?,
    ))
}

/// `DELETE /api/v1/messages/{id}`
#[utoipa::path(delete, path = "/api/v1/messages/{id}", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message's id (a reaction's id withdraws that reaction)")),
    responses((status = 200, body = Event, description = "the `delete` event (target = id); the message's body and meta, and those of its edits, are erased from storage, and it shows as `deleted: true`"),
        (status = 400, description = "not_a_message", body = ErrorBody),
        (status = 403, description = "not_sender (only the sender or an operator of the channel), not_member", body = ErrorBody),
        (status = 404, description = "no_such_message", body = ErrorBody),
        (status = 409, description = "message_deleted (already)", body = ErrorBody)))]
pub async fn delete(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<web::Json<Event>, ApiError> {
    Ok(web::Json(crate::chat::delete(&state, &session, &id).await?))
}

/// `POST /api/v1/messages/{id}/reactions`
#[utoipa::path(post, path = "/api/v1/messages/{id}/reactions", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message's id")), request_body = ReactRequest,
    responses((status = 201, body = Event, description = "the `reaction` event (target = id, body = the emoji)"),
        (status = 200, body = Event, description = "the user already reacted with this emoji: the first reaction event; nothing is stored"),
        (status = 400, description = "invalid_emoji, not_a_message", body = ErrorBody),
        (status = 403, description = "not_member", body = ErrorBody),
        (status = 404, description = "no_such_message", body = ErrorBody),
        (status = 409, description = "message_deleted", body = ErrorBody)))]
pub async fn react(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
    body: web::Json<ReactRequest>,
) -> Result<HttpResponse, ApiError> {
    let acted = crate::chat::react(&state, &session, &id, body.into_inner().emoji).await?;
    Ok(if acted.created {
        HttpResponse::Created().json(acted.event)
    } else {
        HttpResponse::Ok().json(acted.event)
    })
}

/// `DELETE /api/v1/messages/{id}/reactions/{emoji}`
#[utoipa::path(delete, path = "/api/v1/messages/{id}/reactions/{emoji}", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "the message's id"), ("emoji" = String, Path, description = "the emoji, URL-encoded")),
    responses((status = 200, body = Event, description = "the `delete` event whose target is the reaction event"),
        (status = 404, description = "no_such_message, no_such_reaction (the user has no such reaction)", body = ErrorBody)))]
pub async fn unreact(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Event>, ApiError> {
    let (id, emoji) = path.into_inner();
    Ok(web::Json(
        crate::chat::unreact(&state, &session, &id, &emoji).await?,
    ))
}

/// `GET /api/v1/messages/{id}/thread`
#[utoipa::path(get, path = "/api/v1/messages/{id}/thread", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "the root message's id")),
    responses((status = 200, body = ThreadResponse, description = "the root and its replies (reply_to = root), oldest first, with their aggregates (at most 500 replies)"),
        (status = 404, description = "no_such_message", body = ErrorBody)))]
pub async fn thread(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<web::Json<ThreadResponse>, ApiError> {
    let (root, replies) = rich::thread(&state, &session, &id).await?;
    Ok(web::Json(ThreadResponse { root, replies }))
}
