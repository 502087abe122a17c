//! Channel handlers.

use actix_web::web;
use federation_proto::api::client::{
    ChannelInfo, ChannelList, Empty, JoinRequest, MemberActionRequest, ModeRequest, TopicRequest,
};
use federation_proto::api::ErrorBody;

use crate::chat;
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::channels;
use crate::state::AppState;

/// `GET /api/v1/channels`
#[utoipa::path(get, path = "/api/v1/channels", tag = "channels", security(("bearer" = [])),
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorBody)))]
pub async fn list_mine(
    state: web::Data<AppState>,
    session: Session,
) -> Result<web::Json<ChannelList>, ApiError> {
    Ok(web::Json(ChannelList {
        channels: channels::mine(&state, &session).await?,
    }))
}

/// `GET /api/v1/channels/public`
#[utoipa::path(get, path = "/api/v1/channels/public", tag = "channels", security(("bearer" = [])),
    responses((status = 200, body = ChannelList), (status = 401, body = ErrorBody)))]
pub async fn list_public(
    state: web::Data<AppState>,
    session: Session,
) -> Result<web::Json<ChannelList>, ApiError> {
    Ok(web::Json(ChannelList {
        channels: channels::public(&state, &session).await?,
    }))
}

/// `POST /api/v1/channels/join`
#[utoipa::path(post, path = "/api/v1/channels/join", tag = "channels", security(("bearer" = [])), request_body = JoinRequest,
    responses((status = 200, body = ChannelInfo),
        (status = 403, description = "invite_only, bad_channel_key, channel_full", body = ErrorBody)))]
pub async fn join(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<JoinRequest>,
) -> Result<web::Json<ChannelInfo>, ApiError> {
    let req = body.into_inner();
    Ok(web::Json(
        chat::join(&state, &session, &req.channel, req.key).await?,
    ))
}

/// `POST /api/v1/channels/part`
#[utoipa::path(post, path = "/api/v1/channels/part", tag = "channels", security(("bearer" = [])), request_body = JoinRequest,
    responses((status = 200, body = Empty), (status = 403, description = "not_member", body = ErrorBody),
        (status = 404, description = "no_such_channel", body = ErrorBody)))]
pub async fn part(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<JoinRequest>,
) -> Result<web::Json<Empty>, ApiError> {
    let req = body.into_inner();
    chat::part(&state, &session, &req.channel, req.reason).await?;
    Ok(web::Json(Empty {}))
}

/// `GET /api/v1/channels/{name}`
#[utoipa::path(get, path = "/api/v1/channels/{name}", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path, description = "channel name without '#', optionally @host")),
    responses((status = 200, body = ChannelInfo), (status = 404, description = "no_such_channel", body = ErrorBody)))]
pub async fn info(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
) -> Result<web::Json<ChannelInfo>, ApiError> {
    Ok(web::Json(chat::info(&state, &session, &name).await?))
}

/// `POST /api/v1/channels/{name}/topic`
#[utoipa::path(post, path = "/api/v1/channels/{name}/topic", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = TopicRequest,
    responses((status = 200, body = ChannelInfo), (status = 403, description = "not_member, chanop_required", body = ErrorBody)))]
pub async fn topic(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<TopicRequest>,
) -> Result<web::Json<ChannelInfo>, ApiError> {
    Ok(web::Json(
        chat::set_topic(&state, &session, &name, body.into_inner().topic).await?,
    ))
}

/// `POST /api/v1/channels/{name}/mode`
#[utoipa::path(post, path = "/api/v1/channels/{name}/mode", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = ModeRequest,
    responses((status = 200, body = ChannelInfo), (status = 400, description = "invalid_mode", body = ErrorBody),
        (status = 403, description = "chanop_required, cannot_deop_owner, owner_required", body = ErrorBody)))]
pub async fn mode(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<ModeRequest>,
) -> Result<web::Json<ChannelInfo>, ApiError> {
    let req = body.into_inner();
    Ok(web::Json(
        chat::set_modes(&state, &session, &name, &req.modes, req.nick, req.arg).await?,
    ))
}

/// `POST /api/v1/channels/{name}/invite`
#[utoipa::path(post, path = "/api/v1/channels/{name}/invite", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = MemberActionRequest,
    responses((status = 200, body = Empty), (status = 403, body = ErrorBody), (status = 409, description = "already_member", body = ErrorBody)))]
pub async fn invite(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<MemberActionRequest>,
) -> Result<web::Json<Empty>, ApiError> {
    chat::invite(&state, &session, &name, &body.nick).await?;
    Ok(web::Json(Empty {}))
}

/// `POST /api/v1/channels/{name}/kick`
#[utoipa::path(post, path = "/api/v1/channels/{name}/kick", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path)), request_body = MemberActionRequest,
    responses((status = 200, body = Empty), (status = 403, description = "chanop_required, cannot_kick_owner", body = ErrorBody)))]
pub async fn kick(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<MemberActionRequest>,
) -> Result<web::Json<Empty>, ApiError> {
    let req = body.into_inner();
    chat::kick(&state, &session, &name, &req.nick, req.reason).await?;
    Ok(web::Json(Empty {}))
}
