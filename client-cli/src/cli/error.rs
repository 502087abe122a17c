//! The command's error type and its exit codes (documented in `docs/client.md`).

use std::process::ExitCode;

use hearth_client::{ClientError, ErrorKind};

use crate::cli::profile::ProfileError;

/// Exit codes: one per class of failure, so scripts can branch on `$?`.
pub mod code {
    /// Something unexpected (I/O on stdout, a bug).
    pub const OTHER: u8 = 1;
    /// Bad command line (clap uses 2 as well).
    pub const USAGE: u8 = 2;
    /// Local configuration: unreadable profile, no server URL, no terminal for a prompt.
    pub const CONFIG: u8 = 3;
    /// Not logged in, the token expired, or wrong nick/password (HTTP 401).
    pub const AUTH: u8 = 4;
    /// Not allowed (HTTP 403).
    pub const FORBIDDEN: u8 = 5;
    /// No such channel, user or message (HTTP 404).
    pub const NOT_FOUND: u8 = 6;
    /// Taken or conflicting, e.g. the nick is in use (HTTP 409).
    pub const CONFLICT: u8 = 7;
    /// The request was refused as invalid (HTTP 400, 413, 422, or checked locally).
    pub const INVALID: u8 = 8;
    /// Rate limited (HTTP 429).
    pub const RATE_LIMITED: u8 = 9;
    /// The server failed (HTTP 5xx) or answered outside the API.
    pub const SERVER: u8 = 10;
    /// The server could not be reached.
    pub const NETWORK: u8 = 11;
}

/// Why a `hearth` command failed.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    /// A call to the homeserver failed.
    #[error(transparent)]
    Client(#[from] ClientError),
    /// The profile could not be read or written.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// The profile has no token.
    #[error("{0}")]
    NotLoggedIn(String),
    /// A local configuration problem (no server, no password source, no terminal).
    #[error("{0}")]
    Config(String),
    /// The command line is valid for clap but not for the command.
    #[error("{0}")]
    Usage(String),
    /// Reading stdin or writing stdout failed.
    #[error("i/o: {0}")]
    Io(#[from] std::io::Error),
}

impl CliError {
    /// The exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Client(e) => match e.kind() {
                ErrorKind::Network => code::NETWORK,
                ErrorKind::Unauthorized => code::AUTH,
                ErrorKind::Forbidden => code::FORBIDDEN,
                ErrorKind::NotFound => code::NOT_FOUND,
                ErrorKind::Conflict => code::CONFLICT,
                ErrorKind::Invalid => code::INVALID,
                ErrorKind::RateLimited => code::RATE_LIMITED,
                ErrorKind::Server => code::SERVER,
            },
            CliError::NotLoggedIn(_) => code::AUTH,
            CliError::Profile(_) | CliError::Config(_) => code::CONFIG,
            CliError::Usage(_) => code::USAGE,
            CliError::Io(_) => code::OTHER,
        }
    }

    /// The error as a JSON object for `--json` runs: `{"error": {"code", "message", "exit"}}`.
    pub fn to_json(&self) -> serde_json::Value {
        let code = match self {
            CliError::Client(e) => e
                .code()
                .map(str::to_string)
                .unwrap_or_else(|| match e.kind() {
                    ErrorKind::Network => "network".to_string(),
                    ErrorKind::Unauthorized => "not_logged_in".to_string(),
                    ErrorKind::Invalid => "invalid_input".to_string(),
                    _ => "protocol".to_string(),
                }),
            CliError::NotLoggedIn(_) => "not_logged_in".to_string(),
            CliError::Profile(_) => "profile".to_string(),
            CliError::Config(_) => "config".to_string(),
            CliError::Usage(_) => "usage".to_string(),
            CliError::Io(_) => "io".to_string(),
        };
        serde_json::json!({"error": {"code": code, "message": self.to_string(), "exit": self.exit_code()}})
    }

    /// The process exit code.
    pub fn exit(&self) -> ExitCode {
        ExitCode::from(self.exit_code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_errors_map_to_codes() {
        let api = |s| CliError::Client(ClientError::from_response(s, b""));
        assert_eq!(api(401).exit_code(), code::AUTH);
        assert_eq!(api(403).exit_code(), code::FORBIDDEN);
        assert_eq!(api(404).exit_code(), code::NOT_FOUND);
        assert_eq!(api(409).exit_code(), code::CONFLICT);
        assert_eq!(api(422).exit_code(), code::INVALID);
        assert_eq!(api(429).exit_code(), code::RATE_LIMITED);
        assert_eq!(api(503).exit_code(), code::SERVER);
        assert_eq!(
            CliError::Client(ClientError::Network("x".into())).exit_code(),
            code::NETWORK
        );
        assert_eq!(
            CliError::Client(ClientError::NotLoggedIn).exit_code(),
            code::AUTH
        );
        assert_eq!(CliError::Config("x".into()).exit_code(), code::CONFIG);
    }

    #[test]
    fn json_form_carries_code() {
        let e = CliError::Client(ClientError::from_response(
            409,
            br#"{"error":{"code":"nick_taken","message":"taken"}}"#,
        ));
        let j = e.to_json();
        assert_eq!(j["error"]["code"], "nick_taken");
        assert_eq!(j["error"]["exit"], 7);
    }
}
