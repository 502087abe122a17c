//! Community tools' handlers (issue 18): mutes and notifications. Bans go through
//! `channels::mode` (`+b`/`-b`).

use actix_web::web;
use federation_proto::api::client::Empty;
use federation_proto::api::community::{
    LevelRequest, LevelResponse, MarkedRead, MuteRequest, NotificationList, NotificationQuery,
    UnmuteRequest,
};
use federation_proto::api::ErrorBody;

use crate::chat;
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::notifications;
use crate::state::AppState;

/// `POST /api/v1/channels/{name}/mute`: a muted member reads but cannot send (`403 muted`).
#[utoipa::path(post, path = "/api/v1/channels/{name}/mute", tag = "moderation", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = MuteRequest,
    responses((status = 200, body = Empty), (status = 400, description = "invalid_duration", body = ErrorBody),
        (status = 403, description = "chanop_required, cannot_sanction_owner", body = ErrorBody),
        (status = 404, description = "no_such_channel, not_in_channel", body = ErrorBody)))]
pub async fn mute(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<MuteRequest>,
) -> Result<web::Json<Empty>, ApiError> {
    let req = body.into_inner();
    chat::mute(&state, &session, &name, &req.nick, true, req.seconds).await?;
    Ok(web::Json(Empty {}))
}

/// `POST /api/v1/channels/{name}/unmute`
#[utoipa::path(post, path = "/api/v1/channels/{name}/unmute", tag = "moderation", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = UnmuteRequest,
    responses((status = 200, body = Empty), (status = 403, description = "chanop_required", body = ErrorBody),
        (status = 404, description = "no_such_channel, not_in_channel", body = ErrorBody)))]
pub async fn unmute(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<UnmuteRequest>,
) -> Result<web::Json<Empty>, ApiError> {
    let req = body.into_inner();
    chat::mute(&state, &session, &name, &req.nick, false, None).await?;
    Ok(web::Json(Empty {}))
}

/// `GET /api/v1/notifications?unread=true`: newest first, with the unread count.
#[utoipa::path(get, path = "/api/v1/notifications", tag = "notifications", security(("bearer" = [])),
    params(("unread" = Option<bool>, Query, description = "only unread ones"),
        ("limit" = Option<i64>, Query, description = "1-200, default 50")),
    responses((status = 200, body = NotificationList), (status = 400, description = "invalid_limit", body = ErrorBody)))]
pub async fn notifications(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<NotificationQuery>,
) -> Result<web::Json<NotificationList>, ApiError> {
    let q = query.into_inner();
    Ok(web::Json(
        notifications::list(&state, &session, q.unread.unwrap_or(false), q.limit).await?,
    ))
}

/// `PATCH /api/v1/notifications/{id}/read`
#[utoipa::path(patch, path = "/api/v1/notifications/{id}/read", tag = "notifications", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = MarkedRead), (status = 404, description = "no_such_notification", body = ErrorBody)))]
pub async fn read_one(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<web::Json<MarkedRead>, ApiError> {
    Ok(web::Json(
        notifications::mark_read(&state, &session, Some(id.into_inner())).await?,
    ))
}

/// `PATCH /api/v1/notifications/read-all`
#[utoipa::path(patch, path = "/api/v1/notifications/read-all", tag = "notifications", security(("bearer" = [])),
    responses((status = 200, body = MarkedRead)))]
pub async fn read_all(
    state: web::Data<AppState>,
    session: Session,
) -> Result<web::Json<MarkedRead>, ApiError> {
    Ok(web::Json(
        notifications::mark_read(&state, &session, None).await?,
    ))
}

/// `PUT /api/v1/channels/{name}/notifications`: `all`, `mentions` (default) or `muted`.
#[utoipa::path(put, path = "/api/v1/channels/{name}/notifications", tag = "notifications", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = LevelRequest,
    responses((status = 200, body = LevelResponse), (status = 400, description = "invalid_level", body = ErrorBody),
        (status = 403, description = "not_member", body = ErrorBody)))]
pub async fn level(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<LevelRequest>,
) -> Result<web::Json<LevelResponse>, ApiError> {
    Ok(web::Json(
        chat::notification_level(&state, &session, &name, body.into_inner().level).await?,
    ))
}
