//! `read`, `receipts`, `conversations`, `typing`.

use federation_proto::api::client::{Conversation, ReceiptsResponse};
use serde_json::json;

use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render::short_handle;

/// `hearth read TARGET ID`: moves the read marker; prints where it is now.
pub async fn read(ctx: &Context, target: &str, id: &str) -> Result<(), CliError> {
    let resp = ctx.authed()?.read(target, id).await?;
    ctx.emit(&resp, || {
        if resp.moved {
            format!("{}: read up to {}", resp.target, resp.last_read)
        } else {
            format!(
                "{}: already read up to {} (not moved)",
                resp.target, resp.last_read
            )
        }
    })
}

/// `hearth receipts ID`: who has read up to or past a message, earliest first.
pub async fn receipts(ctx: &Context, id: &str) -> Result<(), CliError> {
    let resp = ctx.authed()?.receipts(id).await?;
    let local = ctx.local_server();
    ctx.emit(&resp, || describe_receipts(&resp, local.as_deref()))
}

/// `hearth conversations`: a table of channels and DMs with unread and mention counts.
pub async fn conversations(ctx: &Context) -> Result<(), CliError> {
    let resp = ctx.authed()?.conversations().await?;
    ctx.emit(&resp, || describe_conversations(&resp.conversations))
}

/// `hearth typing TARGET [--stop]`.
pub async fn typing(ctx: &Context, target: &str, on: bool) -> Result<(), CliError> {
    ctx.authed()?.typing(target, on).await?;
    ctx.emit(&json!({"ok": true, "target": target, "typing": on}), || {
        if on {
            format!("typing in {target} (lapses after 5 s)")
        } else {
            format!("stopped typing in {target}")
        }
    })
}

/// Readers for people: `bob  2026-02-09 20:01:02`, one a line.
pub fn describe_receipts(resp: &ReceiptsResponse, local: Option<&str>) -> String {
    if resp.read_by.is_empty() {
        return "nobody has read it yet".into();
    }
    let width = resp
        .read_by
        .iter()
        .map(|r| short_handle(&r.user, local).len())
        .max()
        .unwrap_or(0);
    resp.read_by
        .iter()
        .map(|r| format!("{:width$}  {}", short_handle(&r.user, local), when(&r.ts)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// The conversation table: target, kind, unread, mentions, last activity.
pub fn describe_conversations(list: &[Conversation]) -> String {
    if list.is_empty() {
        return "no conversations".into();
    }
    let width = list
        .iter()
        .map(|c| c.target.len())
        .max()
        .unwrap_or(0)
        .max("TARGET".len());
    let mut lines = vec![format!(
        "{:width$}  {:7}  {:>6}  {:>8}  LAST ACTIVITY",
        "TARGET", "KIND", "UNREAD", "MENTIONS"
    )];
    for c in list {
        let unread = if c.unread >= 1000 {
            "1000+".to_string()
        } else {
            c.unread.to_string()
        };
        let last = c
            .last_event
            .as_ref()
            .map_or("-".to_string(), |e| when(&e.ts));
        lines.push(format!(
            "{:width$}  {:7}  {:>6}  {:>8}  {last}",
            c.target, c.kind, unread, c.mentions
        ));
    }
    lines.join("\n")
}

/// `2026-02-09 20:01:02` from an RFC 3339 timestamp (the timestamp as it is otherwise).
pub fn when(ts: &str) -> String {
    match (ts.get(..10), ts.get(11..19)) {
        (Some(date), Some(time)) if ts.as_bytes().get(10) == Some(&b'T') => {
            format!("{date} {time}")
        }
        _ => ts.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use federation_proto::api::client::Receipt;

    fn conv(target: &str, unread: u32, mentions: u32) -> Conversation {
        Conversation {
            target: target.into(),
            kind: if target.starts_with('#') {
                "channel"
            } else {
                "dm"
            }
            .into(),
            last_event: None,
            unread,
            mentions,
            last_read: None,
            description: None,
        }
    }

    #[test]
    fn conversation_table() {
        let text = describe_conversations(&[conv("#general@hs1", 3, 1), conv("bob@hs1", 1000, 0)]);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with("TARGET"), "{text}");
        assert!(lines[1].starts_with("#general@hs1  channel"), "{text}");
        assert!(lines[1].ends_with("-"), "no activity: {text}");
        assert!(lines[2].contains("1000+"), "{text}");
        assert_eq!(describe_conversations(&[]), "no conversations");
    }

    #[test]
    fn receipt_lines() {
        let resp = ReceiptsResponse {
            read_by: vec![Receipt {
                user: "bob@hs1".into(),
                ts: "2026-02-09T20:01:02.345Z".into(),
            }],
        };
        assert_eq!(
            describe_receipts(&resp, Some("hs1")),
            "bob  2026-02-09 20:01:02"
        );
        assert_eq!(when("soon"), "soon");
    }
}
