//! `join`, `part`, `channels`, `info`, `topic`, `mode`, `invite`, `kick`.

use federation_proto::api::client::{ChannelInfo, ChannelList};
use hearth_client::mode_change;
use serde_json::json;

use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render::short_handle;

/// `hearth join CHANNEL [--key K]`: joins, then shows the channel.
pub async fn join(ctx: &Context, channel: &str, key: Option<&str>) -> Result<(), CliError> {
    let info = ctx.authed()?.join(channel, key).await?;
    let local = ctx.local_server();
    ctx.emit(&info, || {
        format!(
            "joined {}\n{}",
            info.name,
            describe_channel(&info, local.as_deref())
        )
    })
}

/// `hearth part CHANNEL [REASON…]`.
pub async fn part(ctx: &Context, channel: &str, reason: &[String]) -> Result<(), CliError> {
    let reason = reason.join(" ");
    let reason = (!reason.is_empty()).then_some(reason.as_str());
    ctx.authed()?.part(channel, reason).await?;
    ctx.emit(&json!({"ok": true, "channel": channel}), || {
        format!("left {channel}")
    })
}

/// `hearth channels [--public]`.
pub async fn channels(ctx: &Context, public: bool) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let list = if public {
        client.public_channels().await?
    } else {
        client.channels().await?
    };
    ctx.emit(&list, || describe_list(&list, public))
}

/// `hearth info CHANNEL`.
pub async fn info(ctx: &Context, channel: &str) -> Result<(), CliError> {
    let info = ctx.authed()?.channel_info(channel).await?;
    let local = ctx.local_server();
    ctx.emit(&info, || describe_channel(&info, local.as_deref()))
}

/// `hearth topic CHANNEL [TOPIC…] [--clear]`: shows the topic, or sets it and shows the result.
pub async fn topic(
    ctx: &Context,
    channel: &str,
    words: &[String],
    clear: bool,
) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let info = if clear || !words.is_empty() {
        client.set_topic(channel, &words.join(" ")).await?
    } else {
        client.channel_info(channel).await?
    };
    let out = json!({"channel": info.name, "topic": info.topic, "topic_set_by": info.topic_set_by});
    ctx.emit(&out, || match (info.topic.is_empty(), &info.topic_set_by) {
        (true, _) => format!("{}: no topic", info.name),
        (false, Some(by)) => format!("{}: {} (set by {by})", info.name, info.topic),
        (false, None) => format!("{}: {}", info.name, info.topic),
    })
}

/// `hearth mode CHANNEL [MODES [ARG]]`: shows the modes, or changes them and shows the result.
pub async fn mode(
    ctx: &Context,
    channel: &str,
    modes: Option<&str>,
    arg: Option<&str>,
) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let info = match modes {
        Some(modes) if !modes.starts_with(['+', '-']) => {
            return Err(CliError::Usage(format!(
                "a mode change starts with + or -: {modes:?}"
            )));
        }
        Some(modes) => client.set_mode(channel, &mode_change(modes, arg)).await?,
        None => client.channel_info(channel).await?,
    };
    let members: Vec<_> = info
        .members
        .iter()
        .filter(|m| !m.modes.is_empty())
        .map(|m| json!({"handle": m.handle, "modes": m.modes}))
        .collect();
    let out = json!({"channel": info.name, "modes": info.modes, "members": members});
    ctx.emit(&out, || format!("{}: {}", info.name, info.modes))
}

/// `hearth invite CHANNEL NICK`.
pub async fn invite(ctx: &Context, channel: &str, nick: &str) -> Result<(), CliError> {
    ctx.authed()?.invite(channel, nick).await?;
    ctx.emit(
        &json!({"ok": true, "channel": channel, "nick": nick}),
        || format!("invited {nick} to {channel}"),
    )
}

/// `hearth kick CHANNEL NICK [REASON…]`.
pub async fn kick(
    ctx: &Context,
    channel: &str,
    nick: &str,
    reason: &[String],
) -> Result<(), CliError> {
    let reason = reason.join(" ");
    let reason = (!reason.is_empty()).then_some(reason.as_str());
    ctx.authed()?.kick(channel, nick, reason).await?;
    ctx.emit(
        &json!({"ok": true, "channel": channel, "nick": nick}),
        || format!("kicked {nick} from {channel}"),
    )
}

/// A channel list for people, one channel a line.
pub fn describe_list(list: &ChannelList, public: bool) -> String {
    if list.channels.is_empty() {
        return if public {
            "no public channels".into()
        } else {
            "you are in no channel".into()
        };
    }
    let width = list
        .channels
        .iter()
        .map(|c| c.name.len())
        .max()
        .unwrap_or(0);
    list.channels
        .iter()
        .map(|c| {
            format!(
                "{:width$}  {:>4} members  {:6}  {}",
                c.name, c.members, c.modes, c.topic
            )
        })
        .map(|l| l.trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A channel for people: name, modes, topic, owner, members with `@` (operator) and `+` (voice).
pub fn describe_channel(info: &ChannelInfo, local: Option<&str>) -> String {
    let mut text = format!("{} {}", info.name, info.modes);
    if info.topic.is_empty() {
        text.push_str("\n  no topic");
    } else {
        text.push_str(&format!("\n  topic: {}", info.topic));
        if let Some(by) = &info.topic_set_by {
            text.push_str(&format!(" (set by {})", short_handle(by, local)));
        }
    }
    if !info.description.is_empty() {
        text.push_str(&format!("\n  description: {}", info.description));
    }
    text.push_str(&format!(
        "\n  owner: {}, created {}",
        short_handle(&info.owner, local),
        info.created
    ));
    let members: Vec<String> = info
        .members
        .iter()
        .map(|m| {
            let sigil = if m.modes.contains('o') {
                "@"
            } else if m.modes.contains('v') {
                "+"
            } else {
                ""
            };
            format!("{sigil}{}", short_handle(&m.handle, local))
        })
        .collect();
    text.push_str(&format!(
        "\n  members ({}): {}",
        members.len(),
        members.join(" ")
    ));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_description() {
        let info: ChannelInfo = serde_json::from_value(json!({
            "name": "#general@hs1", "topic": "hi", "topic_set_by": "alice@hs1", "modes": "+nt",
            "owner": "alice@hs1", "created": "2026-01-01T00:00:00.000Z",
            "members": [
                {"handle": "alice@hs1", "nick": "alice", "modes": "o", "owner": true},
                {"handle": "bob@hs2", "nick": "bob", "modes": "v", "owner": false},
                {"handle": "carol@hs1", "nick": "carol", "modes": "", "owner": false}
            ]
        }))
        .unwrap();
        let text = describe_channel(&info, Some("hs1"));
        assert!(text.starts_with("#general@hs1 +nt"), "{text}");
        assert!(text.contains("topic: hi (set by alice)"), "{text}");
        assert!(
            text.contains("members (3): @alice +bob@hs2 carol"),
            "{text}"
        );
    }

    #[test]
    fn list_description() {
        let list: ChannelList = serde_json::from_value(json!({"channels": [
            {"name": "#a@hs1", "topic": "", "members": 2, "modes": "+nt"}
        ]}))
        .unwrap();
        assert_eq!(describe_list(&list, false), "#a@hs1     2 members  +nt");
        assert_eq!(
            describe_list(&ChannelList { channels: vec![] }, true),
            "no public channels"
        );
    }
}
