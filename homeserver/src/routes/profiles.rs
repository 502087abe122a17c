//! `PATCH /api/v1/users/me`, `GET /api/v1/users/search`.

use actix_web::web;
use federation_proto::api::client::{
    ProfileUpdate, UserProfile, UserSearchQuery, UserSearchResponse,
};
use federation_proto::api::ErrorBody;

use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::profiles;
use crate::state::AppState;

/// `PATCH /api/v1/users/me`
#[utoipa::path(patch, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])), request_body = ProfileUpdate,
    description = "Sets any of display name (1–50 characters), avatar (an https:// URL or a media id), status (`online`, `away`, `busy`, `offline` = appear offline) and status message (at most 100 characters); an empty string clears a text field. Users who share a channel or DM with this one, here and on other servers, get a `presence` event (ephemeral) with the four fields in `meta`. Answers the profile.",
    responses((status = 200, body = UserProfile),
        (status = 400, description = "invalid_display_name, invalid_avatar, invalid_status, invalid_status_message, invalid_request", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn update_me(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<ProfileUpdate>,
) -> Result<web::Json<UserProfile>, ApiError> {
    Ok(web::Json(
        crate::chat::update_profile(&state.into_inner(), &session, body.into_inner()).await?,
    ))
}

/// `GET /api/v1/users/search`
#[utoipa::path(get, path = "/api/v1/users/search", tag = "users", security(("bearer" = [])),
    params(UserSearchQuery),
    description = "Users of this server whose nick or display name contains `q` (case-insensitive), nick prefixes first, at most `limit` (1–50, default 20). Users of other servers are not searched: ask for their profile by handle.",
    responses((status = 200, body = UserSearchResponse),
        (status = 400, description = "invalid_query (q missing, empty or longer than 50 characters)", body = ErrorBody)))]
pub async fn search(
    state: web::Data<AppState>,
    _session: Session,
    query: web::Query<UserSearchQuery>,
) -> Result<web::Json<UserSearchResponse>, ApiError> {
    let query = query.into_inner();
    Ok(web::Json(
        profiles::search(&state, query.q, query.limit).await?,
    ))
}
