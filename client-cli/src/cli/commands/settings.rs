//! `pin`, `unpin`, `pins`, `channel describe`, `channel delete` (issue 24).

use federation_proto::api::client::PinList;
use serde_json::json;

use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render;

/// `hearth pin CHANNEL ID`: the `pin` event is printed.
pub async fn pin(ctx: &Context, channel: &str, id: &str) -> Result<(), CliError> {
    let event = ctx.authed()?.pin(channel, id).await?;
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// `hearth unpin CHANNEL ID`: the `unpin` event is printed.
pub async fn unpin(ctx: &Context, channel: &str, id: &str) -> Result<(), CliError> {
    let event = ctx.authed()?.unpin(channel, id).await?;
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// `hearth pins CHANNEL`: newest pin first (`{pins: [...]}` with `--json`).
pub async fn pins(ctx: &Context, channel: &str) -> Result<(), CliError> {
    let list = ctx.authed()?.pins(channel).await?;
    let local = ctx.local_server();
    ctx.emit(&list, || describe_pins(&list, channel, local.as_deref()))
}

/// `hearth channel describe CHANNEL [TEXT…] [--clear]`: shows the description, or sets it.
pub async fn describe(
    ctx: &Context,
    channel: &str,
    words: &[String],
    clear: bool,
) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let info = if clear || !words.is_empty() {
        client.set_description(channel, &words.join(" ")).await?
    } else {
        client.channel_info(channel).await?
    };
    let out = json!({"channel": info.name, "description": info.description});
    ctx.emit(&out, || {
        if info.description.is_empty() {
            format!("{}: no description", info.name)
        } else {
            format!("{}: {}", info.name, info.description)
        }
    })
}

/// `hearth channel delete CHANNEL --yes`: deletes the channel (its owner only); the `system`
/// event is printed.
pub async fn delete(ctx: &Context, channel: &str, yes: bool) -> Result<(), CliError> {
    if !yes {
        return Err(CliError::Usage(format!(
            "deleting {channel} erases its history for everyone: add --yes"
        )));
    }
    let event = ctx.authed()?.delete_channel(channel).await?;
    let local = ctx.local_server();
    match event {
        Some(event) => ctx.emit(&event, || render::line(&event, local.as_deref(), true)),
        None => ctx.emit(&json!({"ok": true, "channel": channel}), || {
            format!("deleted {channel}")
        }),
    }
}

/// The pins for people: one line per message, newest pin first.
pub fn describe_pins(list: &PinList, channel: &str, local: Option<&str>) -> String {
    if list.pins.is_empty() {
        return format!("no pinned messages in {channel}");
    }
    list.pins
        .iter()
        .map(|p| {
            format!(
                "{}  {}  (pinned by {})",
                p.message.id,
                render::line(&p.message, local, false),
                render::short_handle(&p.pinned_by, local)
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pins_for_people() {
        let list: PinList = serde_json::from_value(json!({"pins": [{
            "message": {
                "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b", "seq": 4, "ts": "2026-01-01T10:00:00.000Z",
                "from": "alice@hs1", "to": "#general@hs1", "type": "message",
                "body": "house rules", "meta": {}
            },
            "pinned_by": "bob@hs2", "pinned_at": "2026-01-01T11:00:00.000Z"
        }]}))
        .unwrap();
        let text = describe_pins(&list, "#general", Some("hs1"));
        assert!(
            text.starts_with("0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b"),
            "{text}"
        );
        assert!(text.contains("house rules"), "{text}");
        assert!(text.ends_with("(pinned by bob@hs2)"), "{text}");
        let empty = PinList { pins: vec![] };
        assert_eq!(
            describe_pins(&empty, "#general", None),
            "no pinned messages in #general"
        );
    }
}
