//! Heartbeats.

use actix_web::{web, HttpRequest};
use federation_proto::api::directory::HeartbeatResponse;

use super::input::signed_request;
use crate::error::ApiError;
use crate::services::servers;
use crate::state::AppState;

/// `POST /directory/v1/heartbeat`, signed (`X-Hearth`) by a registered server for this
/// directory: keeps its registration up for another `SERVER_TTL` seconds.
pub async fn heartbeat(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<HeartbeatResponse>, ApiError> {
    let signed = signed_request(&req, payload).await?;
    Ok(web::Json(servers::heartbeat(&state, &signed).await?))
}
