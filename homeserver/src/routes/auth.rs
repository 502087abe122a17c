//! The `Session` extractor: `Authorization: Bearer <token>` → the device and its user; without
//! that header, the browser's session cookie (with its CSRF check, `routes::web_session`).

use actix_web::dev::Payload;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, FromRequest, HttpRequest};
use futures_util::future::LocalBoxFuture;

use crate::error::ApiError;
use crate::services::accounts::{authenticate, Session};
use crate::state::AppState;

impl FromRequest for Session {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Session, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::internal("application state missing"))?;
            let token = token?;
            authenticate(&state, &token).await
        })
    }
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    bearer_header(req)
        .or_else(|| super::web_session::cookie_token(req))
        .unwrap_or_else(|| Err(missing()))
}

fn missing() -> ApiError {
    ApiError::unauthorized("missing_token", "send Authorization: Bearer <token>")
}

/// The bearer token of the `Authorization` header: `None` without the header, an error when
/// it is not `Bearer <token>`. (The WebSocket takes its token from a frame without one.)
pub(crate) fn bearer_header(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let value = req.headers().get(AUTHORIZATION)?;
    Some(parse_bearer(value.to_str().map_err(|_| missing())))
}

fn parse_bearer(value: Result<&str, ApiError>) -> Result<String, ApiError> {
    let value = value?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(missing());
    }
    Ok(token.trim().to_string())
}
