//! Sync, send and history handlers.
//!
//! A sync that has to wait answers `200` at once and streams its body: a space every
//! [`HEARTBEAT`] (leading white space is valid JSON), then the JSON answer. actix-web does not
//! notice a client that hangs up while a handler waits (actix/actix-web#1313), but it does
//! notice a failed write, so the heartbeat releases an abandoned long-poll within two
//! heartbeats instead of holding it to its timeout.

use std::future::Future;
use std::time::Duration;

use actix_web::web::Bytes;
use actix_web::{web, HttpResponse};
use federation_proto::api::client::{
    HistoryQuery, HistoryResponse, SendRequest, SyncQuery, SyncResponse,
};
use federation_proto::api::{ErrorBody, ErrorDetail};
use federation_proto::event::Event;
use futures_util::Stream;

use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::messages;
use crate::services::sync::{self, SyncBody, SyncOutcome, SyncParams};
use crate::state::AppState;

/// How often a waiting long-poll writes a byte to find out whether its client is still there.
/// The first write after a hang-up draws a reset and the second one fails, so an abandoned
/// poll is released within two intervals: 800 ms (at 500 ms it took up to 1 s, BENCHMARKS.md).
pub const HEARTBEAT: Duration = Duration::from_millis(400);

/// `GET /api/v1/messages`: sync.
#[utoipa::path(get, path = "/api/v1/messages", tag = "messages", security(("bearer" = [])), params(SyncQuery),
    responses((status = 200, body = SyncResponse, description = "events after the cursor; a waiting poll may send leading white space first"),
        (status = 401, body = ErrorBody)))]
pub async fn sync(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<SyncQuery>,
) -> Result<HttpResponse, ApiError> {
    let params = SyncParams::new(query.after, query.timeout, query.limit)?;
    match sync::start(state.into_inner(), session, params).await? {
        SyncOutcome::Ready(body) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("cache-control", "no-store"))
            .body(body)),
        SyncOutcome::Waiting(poll) => Ok(HttpResponse::Ok()
            .content_type("application/json")
            .insert_header(("cache-control", "no-store"))
            .streaming(with_heartbeat(poll.wait()))),
    }
}

/// Streams white space every [`HEARTBEAT`] until `answer` resolves, then its JSON.
fn with_heartbeat<F>(answer: F) -> impl Stream<Item = Result<Bytes, actix_web::Error>>
where
    F: Future<Output = Result<SyncBody, ApiError>> + 'static,
{
    let ticks = tokio::time::interval(HEARTBEAT);
    futures_util::stream::unfold(Some((Box::pin(answer), ticks)), |pending| async move {
        let (mut answer, mut ticks) = pending?;
        tokio::select! {
            result = &mut answer => Some((Ok(final_chunk(result)), None)),
            _ = ticks.tick() => Some((Ok(Bytes::from_static(b" ")), Some((answer, ticks)))),
        }
    })
}

fn final_chunk(result: Result<SyncBody, ApiError>) -> Bytes {
    let json = match result {
        Ok(body) => Ok(body),
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
    let event = messages::send(&state, &session, body.into_inner()).await?;
    Ok(HttpResponse::Created().json(event))
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
