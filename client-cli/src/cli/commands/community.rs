//! `ban`, `mute`, `block`, `blocks`, `report`, `invite-link`, `accept-invite`,
//! `notifications`, `notify-level` (issue 18).

use federation_proto::api::community::{BlockList, NotificationList};
use serde_json::json;

use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render;

/// `hearth ban CHANNEL MASK [--remove]`: the channel's bans after the change.
pub async fn ban(ctx: &Context, channel: &str, mask: &str, on: bool) -> Result<(), CliError> {
    let info = ctx.authed()?.ban(channel, mask, on).await?;
    let bans: Vec<String> = info
        .bans
        .clone()
        .unwrap_or_default()
        .into_iter()
        .map(|b| b.mask)
        .collect();
    let out = json!({"channel": info.name, "bans": bans});
    ctx.emit(&out, || {
        if bans.is_empty() {
            format!("{}: no bans", info.name)
        } else {
            format!("{} bans: {}", info.name, bans.join(", "))
        }
    })
}

/// `hearth mute CHANNEL NICK [--seconds N] [--remove]`.
pub async fn mute(
    ctx: &Context,
    channel: &str,
    nick: &str,
    on: bool,
    seconds: Option<i64>,
) -> Result<(), CliError> {
    ctx.authed()?.mute(channel, nick, on, seconds).await?;
    let out = json!({"channel": channel, "nick": nick, "muted": on, "seconds": seconds});
    ctx.emit(&out, || match (on, seconds) {
        (true, Some(s)) => format!("{nick} is muted in {channel} for {s} s"),
        (true, None) => format!("{nick} is muted in {channel}"),
        (false, _) => format!("{nick} is unmuted in {channel}"),
    })
}

fn describe_blocks(list: &BlockList) -> String {
    if list.blocks.is_empty() {
        return "you block no one".to_string();
    }
    list.blocks
        .iter()
        .map(|b| format!("{} (since {})", b.user, b.ts))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `hearth block HANDLE [--remove]`: the list after.
pub async fn block(ctx: &Context, handle: &str, on: bool) -> Result<(), CliError> {
    let list = ctx.authed()?.block(handle, on).await?;
    ctx.emit(&list, || describe_blocks(&list))
}

/// `hearth blocks`.
pub async fn blocks(ctx: &Context) -> Result<(), CliError> {
    let list = ctx.authed()?.blocks().await?;
    ctx.emit(&list, || describe_blocks(&list))
}

/// `hearth report ID REASON…`.
pub async fn report(ctx: &Context, id: &str, reason: &[String]) -> Result<(), CliError> {
    let reason = reason.join(" ");
    if reason.trim().is_empty() {
        return Err(CliError::Usage("say why: hearth report ID REASON".into()));
    }
    let created = ctx.authed()?.report(id, &reason).await?;
    ctx.emit(&created, || {
        format!("reported {id} (report {})", created.id)
    })
}

/// `hearth invite-link CHANNEL [--max-uses N] [--expires-in S]`.
pub async fn invite_link(
    ctx: &Context,
    channel: &str,
    max_uses: Option<i64>,
    expires_in: Option<i64>,
) -> Result<(), CliError> {
    let link = ctx
        .authed()?
        .create_invite_link(channel, max_uses, expires_in)
        .await?;
    ctx.emit(&link, || {
        let uses = link
            .max_uses
            .map_or("unlimited uses".to_string(), |n| format!("{n} uses"));
        format!(
            "{} for {} ({uses}, expires {}); join with: hearth accept-invite {}",
            link.code, link.channel, link.expires, link.code
        )
    })
}

/// `hearth accept-invite CODE`: the channel joined.
pub async fn accept_invite(ctx: &Context, code: &str) -> Result<(), CliError> {
    let info = ctx.authed()?.accept_invite_link(code).await?;
    ctx.emit(&info, || format!("joined {}", info.name))
}

/// The notifications for people: newest first, one line each.
pub fn describe_notifications(list: &NotificationList, local: Option<&str>) -> String {
    let mut lines = vec![format!("{} unread", list.unread)];
    for n in &list.notifications {
        let mark = if n.read { ' ' } else { '*' };
        let what = n.event.as_ref().map_or_else(
            || "(gone)".to_string(),
            |e| {
                let line = render::line(e, local, true);
                format!("{} {}", e.to, line)
            },
        );
        lines.push(format!("{mark} {:<7} {}  {what}", n.kind, n.ts));
    }
    lines.join("\n")
}

/// `hearth notifications [--unread] [--read-all]`.
pub async fn notifications(ctx: &Context, unread: bool, read_all: bool) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let list = client.notifications(unread).await?;
    if read_all {
        client.mark_notifications_read(None).await?;
    }
    let local = ctx.local_server();
    ctx.emit(&list, || describe_notifications(&list, local.as_deref()))
}

/// `hearth notify-level CHANNEL LEVEL`.
pub async fn notify_level(ctx: &Context, channel: &str, level: &str) -> Result<(), CliError> {
    let set = ctx.authed()?.set_notification_level(channel, level).await?;
    ctx.emit(&set, || format!("{}: {}", set.channel, set.level))
}
