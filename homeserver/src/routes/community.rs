//! Community tools' handlers (issue 18): mutes, notifications, invite links, blocks and
//! reports. Bans go through
//! `channels::mode` (`+b`/`-b`).

use actix_web::web;
use federation_proto::api::client::ChannelInfo;
use federation_proto::api::client::Empty;
use federation_proto::api::community::{
    BlockList, InviteLink, InviteLinkRequest, LevelRequest, LevelResponse, MarkedRead, MuteRequest,
    NotificationList, NotificationQuery, Report, ReportCreated, ReportList, ReportQuery,
    ReportRequest, ResolveRequest, UnmuteRequest,
};
use federation_proto::api::ErrorBody;

use crate::chat;
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::channels::invite_links;
use crate::services::{blocks, notifications, reports};
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

/// `POST /api/v1/channels/{name}/invites`: an operator makes an invite link (default 7 days).
#[utoipa::path(post, path = "/api/v1/channels/{name}/invites", tag = "invites", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = InviteLinkRequest,
    responses((status = 201, body = InviteLink),
        (status = 400, description = "invalid_max_uses, invalid_expires_in, not_hosted_here", body = ErrorBody),
        (status = 403, description = "chanop_required, not_member", body = ErrorBody)))]
pub async fn create_invite(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<InviteLinkRequest>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let req = body.into_inner();
    let link =
        chat::create_invite_link(&state, &session, &name, req.max_uses, req.expires_in).await?;
    Ok(actix_web::HttpResponse::Created().json(link))
}

/// `GET /api/v1/invites/{code}`
#[utoipa::path(get, path = "/api/v1/invites/{code}", tag = "invites", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = InviteLink), (status = 404, description = "no_such_invite", body = ErrorBody)))]
pub async fn invite_details(
    state: web::Data<AppState>,
    _session: Session,
    code: web::Path<String>,
) -> Result<web::Json<InviteLink>, ApiError> {
    Ok(web::Json(
        invite_links::details(&state, code.into_inner()).await?,
    ))
}

/// `POST /api/v1/invites/{code}/accept`: join through the link (past +i and +k, not a ban).
#[utoipa::path(post, path = "/api/v1/invites/{code}/accept", tag = "invites", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = ChannelInfo),
        (status = 403, description = "banned, invite_expired, invite_used_up, channel_full", body = ErrorBody),
        (status = 404, description = "no_such_invite", body = ErrorBody)))]
pub async fn accept_invite(
    state: web::Data<AppState>,
    session: Session,
    code: web::Path<String>,
) -> Result<web::Json<ChannelInfo>, ApiError> {
    Ok(web::Json(
        invite_links::accept(&state, &session, code.into_inner()).await?,
    ))
}

/// `DELETE /api/v1/invites/{code}`: revoke (the channel's operators).
#[utoipa::path(delete, path = "/api/v1/invites/{code}", tag = "invites", security(("bearer" = [])),
    params(("code" = String, Path)),
    responses((status = 200, body = Empty), (status = 403, description = "chanop_required", body = ErrorBody),
        (status = 404, description = "no_such_invite", body = ErrorBody)))]
pub async fn revoke_invite(
    state: web::Data<AppState>,
    session: Session,
    code: web::Path<String>,
) -> Result<web::Json<Empty>, ApiError> {
    invite_links::revoke(&state, &session, code.into_inner()).await?;
    Ok(web::Json(Empty {}))
}

/// `POST /api/v1/users/{handle}/block`: refuse the user's direct messages (`403 blocked`).
#[utoipa::path(post, path = "/api/v1/users/{handle}/block", tag = "moderation", security(("bearer" = [])),
    params(("handle" = String, Path, description = "nick (this server) or nick@server")),
    responses((status = 200, body = BlockList), (status = 400, description = "cannot_block_self, invalid_nick", body = ErrorBody),
        (status = 404, description = "unknown_user", body = ErrorBody)))]
pub async fn block(
    state: web::Data<AppState>,
    session: Session,
    handle: web::Path<String>,
) -> Result<web::Json<BlockList>, ApiError> {
    Ok(web::Json(
        blocks::set(&state, &session, handle.into_inner(), true).await?,
    ))
}

/// `DELETE /api/v1/users/{handle}/block`
#[utoipa::path(delete, path = "/api/v1/users/{handle}/block", tag = "moderation", security(("bearer" = [])),
    params(("handle" = String, Path)),
    responses((status = 200, body = BlockList), (status = 404, description = "unknown_user", body = ErrorBody)))]
pub async fn unblock(
    state: web::Data<AppState>,
    session: Session,
    handle: web::Path<String>,
) -> Result<web::Json<BlockList>, ApiError> {
    Ok(web::Json(
        blocks::set(&state, &session, handle.into_inner(), false).await?,
    ))
}

/// `GET /api/v1/users/me/blocks`
#[utoipa::path(get, path = "/api/v1/users/me/blocks", tag = "moderation", security(("bearer" = [])),
    responses((status = 200, body = BlockList)))]
pub async fn my_blocks(
    state: web::Data<AppState>,
    session: Session,
) -> Result<web::Json<BlockList>, ApiError> {
    Ok(web::Json(blocks::list(&state, &session).await?))
}

/// `POST /api/v1/messages/{id}/report`: report a message one can read.
#[utoipa::path(post, path = "/api/v1/messages/{id}/report", tag = "moderation", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ReportRequest,
    responses((status = 201, body = ReportCreated), (status = 400, description = "invalid_reason", body = ErrorBody),
        (status = 404, description = "no_such_message", body = ErrorBody)))]
pub async fn report(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
    body: web::Json<ReportRequest>,
) -> Result<actix_web::HttpResponse, ApiError> {
    let created =
        reports::report(&state, &session, id.into_inner(), body.into_inner().reason).await?;
    Ok(actix_web::HttpResponse::Created().json(created))
}

/// `GET /api/v1/admin/reports?open=true`: every report, newest first (server admins).
#[utoipa::path(get, path = "/api/v1/admin/reports", tag = "moderation", security(("bearer" = [])),
    params(("open" = Option<bool>, Query, description = "only open reports")),
    responses((status = 200, body = ReportList), (status = 403, description = "admin_required", body = ErrorBody)))]
pub async fn admin_reports(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<ReportQuery>,
) -> Result<web::Json<ReportList>, ApiError> {
    let open = query.into_inner().open.unwrap_or(false);
    Ok(web::Json(reports::list_all(&state, &session, open).await?))
}

/// `GET /api/v1/channels/{name}/reports?open=true`: a channel's reports (its operators).
#[utoipa::path(get, path = "/api/v1/channels/{name}/reports", tag = "moderation", security(("bearer" = [])),
    params(("name" = String, Path), ("open" = Option<bool>, Query, description = "only open reports")),
    responses((status = 200, body = ReportList), (status = 403, description = "chanop_required", body = ErrorBody)))]
pub async fn channel_reports(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    query: web::Query<ReportQuery>,
) -> Result<web::Json<ReportList>, ApiError> {
    let open = query.into_inner().open.unwrap_or(false);
    Ok(web::Json(
        chat::channel_reports(&state, &session, &name, open).await?,
    ))
}

/// `POST /api/v1/admin/reports/{id}/resolve`: `dismiss`, `delete` or `ban` (server admins,
/// or operators of the report's channel).
#[utoipa::path(post, path = "/api/v1/admin/reports/{id}/resolve", tag = "moderation", security(("bearer" = [])),
    params(("id" = String, Path)), request_body = ResolveRequest,
    responses((status = 200, body = Report), (status = 400, description = "invalid_action, not_hosted_here", body = ErrorBody),
        (status = 403, description = "admin_required, chanop_required", body = ErrorBody),
        (status = 404, description = "no_such_report", body = ErrorBody),
        (status = 409, description = "already_resolved", body = ErrorBody)))]
pub async fn resolve_report(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
    body: web::Json<ResolveRequest>,
) -> Result<web::Json<Report>, ApiError> {
    Ok(web::Json(
        reports::resolve(&state, &session, id.into_inner(), body.into_inner().action).await?,
    ))
}
