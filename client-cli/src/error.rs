//! The SDK's error type: every call returns [`ClientError`], and [`ClientError::kind`] sorts it
//! into a small set of classes callers can act on (retry, log in again, fix the input, …).

use federation_proto::api::ErrorBody;

/// What went wrong with a call to the homeserver.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The server answered with an error body `{"error": {"code", "message"}}`.
    #[error("{message} ({code}, HTTP {status})")]
    Api {
        /// HTTP status.
        status: u16,
        /// Stable snake_case code, e.g. `nick_taken`, `not_member`.
        code: String,
        /// A sentence for people.
        message: String,
    },
    /// The server could not be reached, or the connection broke before an answer came.
    #[error("network error: {0}")]
    Network(String),
    /// The server answered something that is not what the API promises (bad JSON, HTML, …).
    #[error("unexpected response (HTTP {status}): {reason}")]
    Protocol {
        /// HTTP status of the response.
        status: u16,
        /// What did not fit.
        reason: String,
    },
    /// The caller passed something the SDK refuses before sending (bad channel name, bad URL, …).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// The call needs a token and the client has none.
    #[error("not logged in")]
    NotLoggedIn,
}

/// The class of a [`ClientError`], for callers that branch on it (and for CLI exit codes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// Could not reach the server: try again later.
    Network,
    /// 401, or no token: log in (again).
    Unauthorized,
    /// 403: not allowed (not an operator, banned, channel `+i`, …).
    Forbidden,
    /// 404: no such channel, user or message.
    NotFound,
    /// 409: taken (nick, channel) or conflicting state.
    Conflict,
    /// 400, 413, 422, or refused locally: fix the input.
    Invalid,
    /// 429: slow down.
    RateLimited,
    /// 5xx or an answer that breaks the API contract.
    Server,
}

impl ClientError {
    /// Builds the error for a non-success response from its status and raw body.
    pub fn from_response(status: u16, body: &[u8]) -> ClientError {
        match serde_json::from_slice::<ErrorBody>(body) {
            Ok(b) => ClientError::Api {
                status,
                code: b.error.code,
                message: b.error.message,
            },
            Err(_) => ClientError::Api {
                status,
                code: fallback_code(status).to_string(),
                message: summarize_body(body),
            },
        }
    }

    /// The server's error code (`nick_taken`, …), when the server sent one.
    pub fn code(&self) -> Option<&str> {
        match self {
            ClientError::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    /// The HTTP status, when there was a response.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Api { status, .. } | ClientError::Protocol { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The class of this error.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Network(_) => ErrorKind::Network,
            ClientError::NotLoggedIn => ErrorKind::Unauthorized,
            ClientError::InvalidInput(_) => ErrorKind::Invalid,
            ClientError::Protocol { .. } => ErrorKind::Server,
            ClientError::Api { status, .. } => match status {
                401 => ErrorKind::Unauthorized,
                403 => ErrorKind::Forbidden,
                404 => ErrorKind::NotFound,
                409 => ErrorKind::Conflict,
                429 => ErrorKind::RateLimited,
                s if *s >= 500 => ErrorKind::Server,
                _ => ErrorKind::Invalid,
            },
        }
    }

    /// Whether the same request may succeed if tried again later: network failures, 5xx and
    /// 429. (Sends are only retried because they carry a `txn_id`.)
    pub fn is_transient(&self) -> bool {
        matches!(self.kind(), ErrorKind::Network | ErrorKind::RateLimited)
            || matches!(self, ClientError::Api { status, .. } if *status >= 500)
    }
}

/// A code for error responses that carry no JSON body (a proxy's 502, …).
fn fallback_code(status: u16) -> &'static str {
    match status {
        400 => "bad_request",
        401 => "unauthorized",
        403 => "forbidden",
        404 => "not_found",
        409 => "conflict",
        413 => "too_large",
        422 => "invalid",
        429 => "rate_limited",
        s if s >= 500 => "server_error",
        _ => "http_error",
    }
}

/// The first line of a non-JSON body, cut short, for the error message.
fn summarize_body(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let line = text.lines().next().unwrap_or("").trim();
    if line.is_empty() {
        "no error body".to_string()
    } else {
        line.chars().take(200).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_error_body() {
        let e = ClientError::from_response(
            409,
            br#"{"error":{"code":"nick_taken","message":"that nick is taken"}}"#,
        );
        assert_eq!(e.code(), Some("nick_taken"));
        assert_eq!(e.status(), Some(409));
        assert_eq!(e.kind(), ErrorKind::Conflict);
        assert!(!e.is_transient());
        assert_eq!(e.to_string(), "that nick is taken (nick_taken, HTTP 409)");
    }

    #[test]
    fn non_json_error_gets_fallback_code() {
        let e = ClientError::from_response(502, b"<html>Bad Gateway</html>\nmore");
        assert_eq!(e.code(), Some("server_error"));
        assert_eq!(e.kind(), ErrorKind::Server);
        assert!(e.is_transient());
        assert!(e.to_string().contains("Bad Gateway"));
    }

    #[test]
    fn kinds() {
        let api = |status| ClientError::from_response(status, b"");
        assert_eq!(api(401).kind(), ErrorKind::Unauthorized);
        assert_eq!(api(403).kind(), ErrorKind::Forbidden);
        assert_eq!(api(404).kind(), ErrorKind::NotFound);
        assert_eq!(api(413).kind(), ErrorKind::Invalid);
        assert_eq!(api(422).kind(), ErrorKind::Invalid);
        assert_eq!(api(429).kind(), ErrorKind::RateLimited);
        assert!(api(429).is_transient());
        assert_eq!(ClientError::Network("x".into()).kind(), ErrorKind::Network);
        assert!(ClientError::Network("x".into()).is_transient());
        assert_eq!(ClientError::NotLoggedIn.kind(), ErrorKind::Unauthorized);
        assert!(!ClientError::InvalidInput("x".into()).is_transient());
    }
}
