//! `POST /api/v1/typing`.

use actix_web::{web, HttpResponse};
use federation_proto::api::client::TypingRequest;
use federation_proto::api::ErrorBody;

use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::state::AppState;

/// `POST /api/v1/typing`
#[utoipa::path(post, path = "/api/v1/typing", tag = "messages", security(("bearer" = [])), request_body = TypingRequest,
    description = "This user types (or stopped typing) in a channel or DM. The conversation's other members, here and on other servers, get a `typing` event with `meta.typing` (ephemeral: `seq` 0, never stored, delivered to devices that poll or stream within 5 s). Renew it every few seconds while typing; it lapses after 5 s. Rate-limited per user (`RATE_LIMIT_TYPING`).",
    responses((status = 204, description = "delivered to whoever listens"),
        (status = 403, description = "not_member", body = ErrorBody),
        (status = 404, description = "no_such_channel, unknown_user", body = ErrorBody),
        (status = 429, description = "rate_limited", body = ErrorBody)))]
pub async fn typing(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<TypingRequest>,
) -> Result<HttpResponse, ApiError> {
    let req = body.into_inner();
    crate::chat::typing(&state.into_inner(), &session, &req.target, req.typing).await?;
    Ok(HttpResponse::NoContent().finish())
}
