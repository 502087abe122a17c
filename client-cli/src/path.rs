//! Filling the `{name}` / `{handle}` placeholders of the path constants in
//! [`federation_proto::api::client::paths`] with percent-encoded values.

use federation_proto::ids::{ChannelName, UserHandle};
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::ClientError;

/// Characters kept as they are in a path segment: RFC 3986 unreserved plus `@` and `:`, which
/// handles and server names with ports contain and which are legal in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@')
    .remove(b':');

/// Percent-encodes one path segment.
pub fn encode_segment(raw: &str) -> String {
    utf8_percent_encode(raw, SEGMENT).to_string()
}

/// Replaces `{placeholder}` in `template` with the encoded `value`.
pub fn fill(template: &str, placeholder: &str, value: &str) -> String {
    template.replace(&format!("{{{placeholder}}}"), &encode_segment(value))
}

/// A channel's path segment: its name without `#`, with `@host` when given
/// (`general`, `general@hs1.example`). The name is validated first.
pub fn channel_segment(channel: &str) -> Result<String, ClientError> {
    let parsed: ChannelName = channel
        .parse()
        .map_err(|_| ClientError::InvalidInput(format!("not a channel name: {channel:?}")))?;
    Ok(match &parsed.server {
        Some(server) => format!("{}@{}", parsed.name, server),
        None => parsed.name,
    })
}

/// Fills a `{name}` path (channel endpoints) from a channel name such as `#general@hs1`.
pub fn channel_path(template: &str, channel: &str) -> Result<String, ClientError> {
    Ok(fill(template, "name", &channel_segment(channel)?))
}

/// Fills a `{handle}` path (user endpoints) from a handle such as `bob` or `bob@hs2`.
pub fn user_path(template: &str, handle: &str) -> Result<String, ClientError> {
    let parsed: UserHandle = handle
        .parse()
        .map_err(|_| ClientError::InvalidInput(format!("not a user handle: {handle:?}")))?;
    Ok(fill(template, "handle", &parsed.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use federation_proto::api::client::paths;

    #[test]
    fn channel_paths() {
        assert_eq!(
            channel_path(paths::CHANNEL, "#General").unwrap(),
            "/api/v1/channels/general"
        );
        assert_eq!(
            channel_path(paths::TOPIC, "#dev@hs1.example:8080").unwrap(),
            "/api/v1/channels/dev@hs1.example:8080/topic"
        );
        assert_eq!(
            channel_path(paths::KICK, "ops").unwrap(),
            "/api/v1/channels/ops/kick"
        );
        assert!(channel_path(paths::CHANNEL, "#a b").is_err());
        assert!(channel_path(paths::CHANNEL, "#../x").is_err());
    }

    #[test]
    fn user_paths() {
        assert_eq!(user_path(paths::USER, "Bob").unwrap(), "/api/v1/users/bob");
        assert_eq!(
            user_path(paths::USER, "bob@hs2.example").unwrap(),
            "/api/v1/users/bob@hs2.example"
        );
        assert!(user_path(paths::USER, "bo b").is_err());
    }

    #[test]
    fn encodes_reserved_characters() {
        assert_eq!(encode_segment("a/b?c#d%e f"), "a%2Fb%3Fc%23d%25e%20f");
        assert_eq!(encode_segment("a.b-c_d~e@f:1"), "a.b-c_d~e@f:1");
    }
}
