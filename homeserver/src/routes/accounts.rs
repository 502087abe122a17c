//! Account handlers.

use actix_web::{web, HttpRequest, HttpResponse};
use federation_proto::api::client::{
    Empty, LoginRequest, LoginResponse, NickRequest, RegisterRequest, RegisterResponse, UserProfile,
};
use federation_proto::api::ErrorBody;

use crate::error::ApiError;
use crate::services::accounts::{self, Session};
use crate::state::AppState;

/// `POST /api/v1/register`
#[utoipa::path(post, path = "/api/v1/register", tag = "accounts", request_body = RegisterRequest,
    responses((status = 201, body = RegisterResponse), (status = 400, body = ErrorBody), (status = 409, description = "nick_taken", body = ErrorBody),
        (status = 429, description = "rate_limited (RATE_LIMIT_LOGIN), with Retry-After", body = ErrorBody),
        (status = 503, description = "server_busy: too many password hashes waiting, with Retry-After", body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<RegisterRequest>,
) -> Result<HttpResponse, ApiError> {
    state.limits.check_login(state.limits.client_of(&req))?;
    let req = body.into_inner();
    let created = accounts::register(&state, &req.nick, req.password, req.device).await?;
    Ok(HttpResponse::Created().json(created))
}

/// `POST /api/v1/login`
#[utoipa::path(post, path = "/api/v1/login", tag = "accounts", request_body = LoginRequest,
    responses((status = 200, body = LoginResponse), (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 429, description = "rate_limited (RATE_LIMIT_LOGIN), with Retry-After", body = ErrorBody),
        (status = 503, description = "server_busy: too many password hashes waiting, with Retry-After", body = ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<LoginRequest>,
) -> Result<web::Json<LoginResponse>, ApiError> {
    state.limits.check_login(state.limits.client_of(&req))?;
    let req = body.into_inner();
    Ok(web::Json(
        accounts::login(&state, &req.nick, req.password, req.device).await?,
    ))
}

/// `POST /api/v1/logout`
#[utoipa::path(post, path = "/api/v1/logout", tag = "accounts", security(("bearer" = [])),
    responses((status = 200, body = Empty), (status = 401, body = ErrorBody)))]
pub async fn logout(
    state: web::Data<AppState>,
    session: Session,
) -> Result<web::Json<Empty>, ApiError> {
    accounts::logout(&state, &session).await?;
    Ok(web::Json(Empty {}))
}

/// `GET /api/v1/users/me`
#[utoipa::path(get, path = "/api/v1/users/me", tag = "users", security(("bearer" = [])),
    responses((status = 200, body = UserProfile), (status = 401, body = ErrorBody)))]
pub async fn me(
    state: web::Data<AppState>,
    session: Session,
) -> Result<web::Json<UserProfile>, ApiError> {
    Ok(web::Json(
        crate::chat::profile(&state, &session.nick).await?,
    ))
}

/// `POST /api/v1/users/nick`
#[utoipa::path(post, path = "/api/v1/users/nick", tag = "users", security(("bearer" = [])), request_body = NickRequest,
    responses((status = 200, body = UserProfile), (status = 400, body = ErrorBody), (status = 409, description = "nick_taken", body = ErrorBody)))]
pub async fn change_nick(
    state: web::Data<AppState>,
    session: Session,
    body: web::Json<NickRequest>,
) -> Result<web::Json<UserProfile>, ApiError> {
    Ok(web::Json(
        crate::chat::change_nick(&state, &session, &body.nick).await?,
    ))
}

/// `GET /api/v1/users/{handle}`
#[utoipa::path(get, path = "/api/v1/users/{handle}", tag = "users", security(("bearer" = [])),
    params(("handle" = String, Path, description = "nick or nick@server")),
    responses((status = 200, body = UserProfile), (status = 404, description = "unknown_user", body = ErrorBody)))]
pub async fn profile(
    state: web::Data<AppState>,
    _session: Session,
    handle: web::Path<String>,
) -> Result<web::Json<UserProfile>, ApiError> {
    Ok(web::Json(crate::chat::profile(&state, &handle).await?))
}
