//! `ApiError`: every failure a request can meet, mapped to HTTP in one place.
//!
//! The body is always `{"error": {"code", "message"}}`. Internal errors are logged with their
//! cause and answered with a bare `500 internal`; the cause never reaches the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use federation_proto::api::{ErrorBody, ErrorDetail};

use crate::db::DbError;

/// An error answer: status, stable code, message for people.
#[derive(Debug, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable snake_case code.
    pub code: &'static str,
    /// Human-readable message.
    pub message: String,
    /// Whole seconds to wait before trying again (`Retry-After`), for 429 and 503.
    pub retry_after: Option<u64>,
}

impl ApiError {
    /// Any status.
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            status,
            code,
            message: message.into(),
            retry_after: None,
        }
    }
    /// 400: the request is malformed or a field is invalid.
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 401: no valid credentials.
    pub fn unauthorized(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }
    /// 403: authenticated but not allowed.
    pub fn forbidden(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, code, message)
    }
    /// 404: the thing named does not exist (or is hidden from this user).
    pub fn not_found(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 409: conflicts with current state.
    pub fn conflict(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, code, message)
    }
    /// 413: too large.
    pub fn too_large(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, code, message)
    }
    /// 429 `rate_limited`: over a rate limit; `wait` until the next attempt can succeed
    /// (sent as `Retry-After` in whole seconds, at least 1).
    pub fn rate_limited(message: impl Into<String>, wait: std::time::Duration) -> Self {
        Self::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", message).retry_after(wait)
    }
    /// 503 `server_busy`: the server sheds load it cannot take now; try again after `wait`.
    pub fn busy(message: impl Into<String>, wait: std::time::Duration) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "server_busy", message).retry_after(wait)
    }
    /// Adds `Retry-After`: `wait` rounded up to whole seconds, at least 1.
    pub fn retry_after(mut self, wait: std::time::Duration) -> Self {
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        self.retry_after = Some(secs.max(1));
        self
    }
    /// 500: our fault; the cause is logged, not sent.
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        tracing::error!(%cause, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "internal server error",
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(secs) = self.retry_after {
            response.insert_header((actix_web::http::header::RETRY_AFTER, secs));
        }
        response.json(ErrorBody {
            error: ErrorDetail {
                code: self.code.to_string(),
                message: self.message.clone(),
            },
        })
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::internal(e)
    }
}

impl From<federation_proto::ids::IdError> for ApiError {
    fn from(e: federation_proto::ids::IdError) -> Self {
        use federation_proto::ids::IdError;
        let code = match e {
            IdError::Nick(_) => "invalid_nick",
            IdError::Channel(_) => "invalid_channel",
            IdError::Server(_) => "invalid_server",
            IdError::Target(_) => "invalid_target",
        };
        ApiError::bad_request(code, e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn retry_after_is_whole_seconds_rounded_up() {
        let secs = |d| ApiError::rate_limited("slow down", d).retry_after;
        assert_eq!(secs(Duration::ZERO), Some(1));
        assert_eq!(secs(Duration::from_millis(1)), Some(1));
        assert_eq!(secs(Duration::from_millis(1000)), Some(1));
        assert_eq!(secs(Duration::from_millis(1001)), Some(2));
        assert_eq!(secs(Duration::from_secs(59)), Some(59));
    }

    #[test]
    fn rate_limited_answers_carry_retry_after() {
        let response =
            ApiError::rate_limited("slow down", Duration::from_millis(2500)).error_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(
            response
                .headers()
                .get(actix_web::http::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("3")
        );
        let plain = ApiError::bad_request("x", "y").error_response();
        assert!(plain
            .headers()
            .get(actix_web::http::header::RETRY_AFTER)
            .is_none());
    }
}
