//! `POST /api/v1/read`, `GET /api/v1/messages/{id}/receipts`, `GET /api/v1/conversations`.

use actix_web::web;
use federation_proto::api::client::{
    ConversationsResponse, ReadRequest, ReadResponse, ReceiptsResponse,
};
use federation_proto::api::ErrorBody;

use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::read;
use crate::state::AppState;

/// `POST /api/v1/read`
#[utoipa::path(post, path = "/api/v1/read", tag = "messages", security(("bearer" = [])), request_body = ReadRequest,
    description = "This user has read a channel or DM up to message `id`. The marker never moves backwards (an older id answers the current marker with `moved: false`). When it moves, the user's other devices and the conversation's other members, here and on other servers, get a `receipt` event (ephemeral: `seq` 0, `meta.id` and `target` the message id).",
    responses((status = 200, body = ReadResponse),
        (status = 400, description = "invalid_id, not_in_conversation (the message is in another conversation), invalid_target", body = ErrorBody),
        (status = 403, description = "not_member", body = ErrorBody),
        (status = 404, description = "no_such_message, no_such_channel, unknown_user", body = ErrorBody)))]
pub async fn read(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<ReadRequest>,
) -> Result<web::Json<ReadResponse>, ApiError> {
    let req = body.into_inner();
    Ok(web::Json(
        crate::chat::read(&state.into_inner(), &session, &req.target, &req.id).await?,
    ))
}

/// `GET /api/v1/messages/{id}/receipts`
#[utoipa::path(get, path = "/api/v1/messages/{id}/receipts", tag = "messages", security(("bearer" = [])),
    params(("id" = String, Path, description = "a message id")),
    description = "Who has read up to or past this message, earliest first (at most 500): users of this server, and users of other servers whose receipts reached this server (a channel hosted here hears every member server's; a mirror hears them from the host; a DM from the other server).",
    responses((status = 200, body = ReceiptsResponse),
        (status = 400, description = "invalid_id", body = ErrorBody),
        (status = 404, description = "no_such_message (also when the user is not in its conversation)", body = ErrorBody)))]
pub async fn receipts(
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<web::Json<ReceiptsResponse>, ApiError> {
    Ok(web::Json(read::receipts(&state, &session, &id).await?))
}

/// `GET /api/v1/conversations`
#[utoipa::path(get, path = "/api/v1/conversations", tag = "messages", security(("bearer" = [])),
    description = "Every channel (hosted here or elsewhere) and DM of the user, most recent activity first, with `unread` (messages of others after the read marker, at most 1000) and `mentions` (those naming `@nick`), from the stored markers: the same on every device and after a restart.",
    responses((status = 200, body = ConversationsResponse), (status = 401, body = ErrorBody)))]
pub async fn conversations(
    state: web::Data<AppState>,
    session: Session,
) -> Result<web::Json<ConversationsResponse>, ApiError> {
    Ok(web::Json(read::conversations(&state, &session).await?))
}
