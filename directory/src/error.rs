//! `ApiError`: every failure a request can meet, mapped to HTTP in one place
//! ([`ApiError::status`] and [`ApiError::code`]).
//!
//! The body is always `{"error": {"code", "message"}}`. Internal errors are logged with their
//! cause and answered with a bare `500 internal`; the cause never reaches the client.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, ResponseError};
use federation_proto::api::{ErrorBody, ErrorDetail};

use crate::db::DbError;

/// Why a request was refused. The `Display` text is the message sent to the client (except
/// for [`ApiError::Internal`], whose text is only logged).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// The body is not acceptable JSON (syntax, floats, duplicate keys, too deep…).
    #[error("the body is not acceptable JSON: {0}")]
    InvalidJson(String),
    /// The JSON has the wrong shape or types.
    #[error("{0}")]
    InvalidRequest(String),
    /// The query string does not parse.
    #[error("{0}")]
    InvalidQuery(String),
    /// `server_name` is not a server name in normalised (lower-case) form.
    #[error(
        "invalid server name {0:?}: a lower-case DNS name or IP literal, optionally with :port"
    )]
    InvalidServerName(String),
    /// `url` is not an `http(s)://` base URL.
    #[error("{0}")]
    InvalidUrl(String),
    /// `verify_keys` is not exactly one valid ed25519 key.
    #[error("{0}")]
    InvalidVerifyKeys(String),
    /// A registration's `ts` is too far from the directory's clock.
    #[error("ts {ts} is more than {max_skew_ms} ms from the directory's clock ({now})")]
    BadTimestamp {
        /// The registration's `ts`.
        ts: u64,
        /// The directory's clock.
        now: u64,
        /// The tolerance.
        max_skew_ms: u64,
    },
    /// A signed request came without an `Authorization` header.
    #[error("this request must carry an X-Hearth Authorization header")]
    MissingAuthorization,
    /// The `Authorization` header does not parse.
    #[error("bad Authorization header: {0}")]
    BadAuthorization(String),
    /// A signed request is addressed to another server.
    #[error("the request is addressed to {got:?}, this directory is {expected:?}")]
    WrongDestination {
        /// This directory's name.
        expected: String,
        /// The request's `destination`.
        got: String,
    },
    /// A signed request's `ts` is further from now than the allowed skew.
    #[error("{0}")]
    RequestExpired(String),
    /// A signature does not verify (or is missing).
    #[error("{0}")]
    BadSignature(String),
    /// The origin of a signed request is not a registered, live server.
    #[error("{0}")]
    UnknownServer(String),
    /// A signed request names a key that is not the origin's key on record.
    #[error("{0}")]
    UnknownKey(String),
    /// A signed request whose signature was already accepted.
    #[error("this request was already received (same signature)")]
    ReplayedRequest,
    /// The server is banned from this directory.
    #[error("{0} is banned from this directory")]
    Banned(String),
    /// A change of URL or key without a signature by the key on record.
    #[error("{0}")]
    NotSignedByKeyOnRecord(String),
    /// A signed request for another server's record.
    #[error("{origin:?} may not act on {name:?}")]
    OriginMismatch {
        /// Who signed.
        origin: String,
        /// The record named in the path.
        name: String,
    },
    /// No such route.
    #[error("{0}")]
    NotFound(String),
    /// Known path, wrong method.
    #[error("{0}")]
    MethodNotAllowed(String),
    /// A registration whose `ts` is not newer than the last accepted one.
    #[error("ts {ts} is not newer than the last accepted registration ({last}): replayed")]
    ReplayedRegistration {
        /// Its `ts`.
        ts: u64,
        /// The last accepted `ts`.
        last: u64,
    },
    /// The body exceeds the limit.
    #[error("request bodies are at most {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The key document at `{url}/api/v1/federation/key` is not validly self-signed.
    #[error("{0}")]
    InvalidKeyDocument(String),
    /// The key document names another server.
    #[error("the key document at {url} is for {got:?}, not {expected:?}")]
    ServerNameMismatch {
        /// Where it was fetched.
        url: String,
        /// The registering server.
        expected: String,
        /// What the document says.
        got: String,
    },
    /// The key document does not hold the registered key.
    #[error("{0}")]
    KeyMismatch(String),
    /// The key document could not be fetched.
    #[error("{0}")]
    KeyFetchFailed(String),
    /// Our fault; the text is logged, never sent.
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    /// The HTTP status of this error.
    pub fn status(&self) -> StatusCode {
        use ApiError::*;
        match self {
            InvalidJson(_)
            | InvalidRequest(_)
            | InvalidQuery(_)
            | InvalidServerName(_)
            | InvalidUrl(_)
            | InvalidVerifyKeys(_)
            | BadTimestamp { .. } => StatusCode::BAD_REQUEST,
            MissingAuthorization
            | BadAuthorization(_)
            | WrongDestination { .. }
            | RequestExpired(_)
            | BadSignature(_)
            | UnknownServer(_)
            | UnknownKey(_)
            | ReplayedRequest => StatusCode::UNAUTHORIZED,
            Banned(_) | NotSignedByKeyOnRecord(_) | OriginMismatch { .. } => StatusCode::FORBIDDEN,
            NotFound(_) => StatusCode::NOT_FOUND,
            MethodNotAllowed(_) => StatusCode::METHOD_NOT_ALLOWED,
            ReplayedRegistration { .. } => StatusCode::CONFLICT,
            BodyTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            InvalidKeyDocument(_) | ServerNameMismatch { .. } | KeyMismatch(_) => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            KeyFetchFailed(_) => StatusCode::BAD_GATEWAY,
            Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The stable snake_case code of this error.
    pub fn code(&self) -> &'static str {
        use ApiError::*;
        match self {
            InvalidJson(_) => "invalid_json",
            InvalidRequest(_) => "invalid_request",
            InvalidQuery(_) => "invalid_query",
            InvalidServerName(_) => "invalid_server_name",
            InvalidUrl(_) => "invalid_url",
            InvalidVerifyKeys(_) => "invalid_verify_keys",
            BadTimestamp { .. } => "bad_timestamp",
            MissingAuthorization => "missing_authorization",
            BadAuthorization(_) => "bad_authorization",
            WrongDestination { .. } => "wrong_destination",
            RequestExpired(_) => "request_expired",
            BadSignature(_) => "bad_signature",
            UnknownServer(_) => "unknown_server",
            UnknownKey(_) => "unknown_key",
            ReplayedRequest => "replayed_request",
            Banned(_) => "banned",
            NotSignedByKeyOnRecord(_) => "not_signed_by_key_on_record",
            OriginMismatch { .. } => "origin_mismatch",
            NotFound(_) => "not_found",
            MethodNotAllowed(_) => "method_not_allowed",
            ReplayedRegistration { .. } => "replayed_registration",
            BodyTooLarge { .. } => "body_too_large",
            InvalidKeyDocument(_) => "invalid_key_document",
            ServerNameMismatch { .. } => "server_name_mismatch",
            KeyMismatch(_) => "key_mismatch",
            KeyFetchFailed(_) => "key_fetch_failed",
            Internal(_) => "internal",
        }
    }

    /// An internal error from any cause (logged when answered).
    pub fn internal(cause: impl std::fmt::Display) -> Self {
        ApiError::Internal(cause.to_string())
    }

    /// The message sent to the client.
    fn public_message(&self) -> String {
        match self {
            ApiError::Internal(_) => "internal server error".to_string(),
            other => other.to_string(),
        }
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(cause) = self {
            tracing::error!(%cause, "internal error");
        }
        HttpResponse::build(self.status()).json(ErrorBody {
            error: ErrorDetail {
                code: self.code().to_string(),
                message: self.public_message(),
            },
        })
    }
}

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        ApiError::internal(e)
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::internal(DbError::Query(e))
    }
}

#[cfg(test)]
mod tests {
    use actix_web::body::MessageBody as _;

    use super::*;

    fn body(e: &ApiError) -> serde_json::Value {
        let bytes = e.error_response().into_body().try_into_bytes().unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    #[test]
    fn errors_render_code_and_message() {
        let e = ApiError::ReplayedRegistration { ts: 5, last: 7 };
        assert_eq!(e.status(), StatusCode::CONFLICT);
        let b = body(&e);
        assert_eq!(b["error"]["code"], "replayed_registration");
        assert!(b["error"]["message"].as_str().unwrap().contains("replayed"));
    }

    #[test]
    fn internal_causes_are_not_sent() {
        let e = ApiError::internal("disk on fire at /secret/path");
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let b = body(&e);
        assert_eq!(b["error"]["code"], "internal");
        assert!(!b.to_string().contains("secret"));
    }
}
