//! Channel settings handlers (issue 24): the description, pins and deletion.

use actix_web::{web, HttpResponse};
use federation_proto::api::client::{ChannelInfo, ChannelSettingsRequest, PinList, PinRequest};
use federation_proto::api::ErrorBody;
use federation_proto::event::{Event, EventKind};

use crate::chat;
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::state::AppState;

/// `PUT /api/v1/channels/{name}`: set the description (operators).
#[utoipa::path(put, path = "/api/v1/channels/{name}", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path, description = "channel name without '#', optionally @host")),
    request_body = ChannelSettingsRequest,
    responses((status = 200, body = ChannelInfo, description = "the channel's info with its new description; members see a `description` event"),
        (status = 400, description = "invalid_description (over 500 characters or control characters)", body = ErrorBody),
        (status = 403, description = "not_member, chanop_required", body = ErrorBody),
        (status = 404, description = "no_such_channel", body = ErrorBody)))]
pub async fn describe(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<ChannelSettingsRequest>,
) -> Result<web::Json<ChannelInfo>, ApiError> {
    let description = body.into_inner().description;
    Ok(web::Json(
        chat::describe(&state, &session, &name, description).await?,
    ))
}

/// `DELETE /api/v1/channels/{name}`: the owner deletes the channel. Members get a `system`
/// event (`meta.channel_deleted`) and leave; its history is erased here and on member
/// servers; the name is free again.
#[utoipa::path(delete, path = "/api/v1/channels/{name}", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path, description = "channel name without '#', optionally @host")),
    responses((status = 200, body = Event, description = "the `system` event that announced the deletion"),
        (status = 403, description = "not_member, owner_required", body = ErrorBody),
        (status = 404, description = "no_such_channel", body = ErrorBody)))]
pub async fn delete_channel(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    Ok(match chat::delete_channel(&state, &session, &name).await? {
        Some(event) => HttpResponse::Ok().json(event),
        None => HttpResponse::NoContent().finish(),
    })
}

/// `GET /api/v1/channels/{name}/pins`: pinned messages, newest pin first (members).
#[utoipa::path(get, path = "/api/v1/channels/{name}/pins", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path, description = "channel name without '#', optionally @host")),
    responses((status = 200, body = PinList, description = "each message as it reads now (after edits); deleted messages are left out"),
        (status = 403, description = "not_member", body = ErrorBody),
        (status = 404, description = "no_such_channel", body = ErrorBody)))]
pub async fn pins(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
) -> Result<web::Json<PinList>, ApiError> {
    Ok(web::Json(PinList {
        pins: chat::pins(&state, &session, &name).await?,
    }))
}

/// `POST /api/v1/channels/{name}/pins`: pin a message of the channel (operators).
#[utoipa::path(post, path = "/api/v1/channels/{name}/pins", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path, description = "channel name without '#', optionally @host")),
    request_body = PinRequest,
    responses((status = 201, body = Event, description = "the `pin` event (`target` is the message)"),
        (status = 400, description = "not_a_message", body = ErrorBody),
        (status = 403, description = "not_member, chanop_required", body = ErrorBody),
        (status = 404, description = "no_such_channel, no_such_message", body = ErrorBody),
        (status = 409, description = "already_pinned, message_deleted", body = ErrorBody)))]
pub async fn pin(
    state: web::Data<AppState>,
    session: Session,
    name: web::Path<String>,
    body: web::Json<PinRequest>,
) -> Result<HttpResponse, ApiError> {
    let id = body.into_inner().id;
    let event = chat::pin(&state, &session, &name, EventKind::Pin, &id).await?;
    Ok(HttpResponse::Created().json(event))
}

/// `DELETE /api/v1/channels/{name}/pins/{id}`: unpin a message (operators).
#[utoipa::path(delete, path = "/api/v1/channels/{name}/pins/{id}", tag = "channels", security(("bearer" = [])),
    params(("name" = String, Path, description = "channel name without '#', optionally @host"),
        ("id" = String, Path, description = "the pinned message's id")),
    responses((status = 200, body = Event, description = "the `unpin` event (`target` is the message)"),
        (status = 403, description = "not_member, chanop_required", body = ErrorBody),
        (status = 404, description = "no_such_channel, no_such_message, not_pinned", body = ErrorBody)))]
pub async fn unpin(
    state: web::Data<AppState>,
    session: Session,
    path: web::Path<(String, String)>,
) -> Result<web::Json<Event>, ApiError> {
    let (name, id) = path.into_inner();
    Ok(web::Json(
        chat::pin(&state, &session, &name, EventKind::Unpin, &id).await?,
    ))
}
