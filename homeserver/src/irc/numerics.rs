//! The one mapping of [`ApiError`] codes to IRC error numerics.

use crate::error::ApiError;

/// What a refused command was about, for the numeric's parameters.
#[derive(Debug, Default, Clone, Copy)]
pub struct About<'a> {
    /// The command (`PRIVMSG`, `JOIN`, …).
    pub command: &'a str,
    /// The channel it named, if any.
    pub channel: Option<&'a str>,
    /// The nick it named, if any.
    pub nick: Option<&'a str>,
}

/// The numeric and its parameters (after the client's nick) for a refusal: the same code
/// gets the same numeric everywhere, except `not_member`, which is `404` for a message and
/// `442` for anything else (as in RFC 2812).
pub fn refusal(err: &ApiError, about: About<'_>) -> (u16, Vec<String>) {
    let channel = about.channel.unwrap_or("*").to_string();
    let nick = about.nick.unwrap_or("*").to_string();
    let command = about.command.to_string();
    let message = err.message.clone();
    let sending = matches!(about.command, "PRIVMSG" | "NOTICE" | "TAGMSG");
    match err.code {
        "no_such_channel" | "invalid_channel" => (403, vec![channel, message]),
        "unknown_user" | "invalid_target" | "invalid_server" | "unknown_server" => {
            (401, vec![nick, message])
        }
        "invalid_nick" => (432, vec![nick, message]),
        "nick_taken" => (433, vec![nick, message]),
        "not_member" if sending => (404, vec![channel, message]),
        "moderated" | "muted" | "blocked" => (404, vec![channel, message]),
        "not_member" => (442, vec![channel, message]),
        "not_in_channel" => (441, vec![nick, channel, message]),
        "already_member" => (443, vec![nick, channel, message]),
        "channel_full" => (471, vec![channel, message]),
        "invalid_mode" => (472, vec![channel, message]),
        "invite_only" => (473, vec![channel, message]),
        "banned" => (474, vec![channel, message]),
        "bad_channel_key" => (475, vec![channel, message]),
        "chanop_required"
        | "cannot_kick_owner"
        | "cannot_deop_owner"
        | "owner_required"
        | "cannot_sanction_owner" => (482, vec![channel, message]),
        "empty_body" => (412, vec![message]),
        "invalid_credentials" => (464, vec![message]),
        "account_disabled" => (465, vec![message]),
        "rate_limited" | "server_busy" => (263, vec![command, message]),
        "too_large" | "body_too_large" | "message_too_large" => (417, vec![message]),
        _ => (400, vec![command, format!("{}: {}", err.code, message)]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_numerics() {
        let about = About {
            command: "JOIN",
            channel: Some("#c"),
            nick: None,
        };
        let err = |code| ApiError::forbidden(code, "no");
        assert_eq!(refusal(&err("banned"), about).0, 474);
        assert_eq!(refusal(&err("not_member"), about).0, 442);
        let send = About {
            command: "PRIVMSG",
            ..about
        };
        assert_eq!(refusal(&err("not_member"), send).0, 404);
        assert_eq!(refusal(&err("chanop_required"), about).1[0], "#c");
        assert_eq!(refusal(&err("something_new"), about).0, 400);
    }
}
