//! `send`, `dm`, `history`, and one message's `edit`, `delete`, `react`, `thread`, `show`.

use std::io::Read;

use federation_proto::api::client::HistoryQuery;
use hearth_client::{message, EventKind};

use crate::cli::args::SendArgs;
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render;

/// `hearth send TARGET [BODY…]`: the stored event is printed.
pub async fn send(ctx: &Context, args: &SendArgs) -> Result<(), CliError> {
    let body = body_from(&args.body, &mut std::io::stdin())?;
    let mut req = message(&args.target, &body);
    if args.action {
        req.kind = Some(EventKind::Action.as_str().to_string());
    } else if args.notice {
        req.kind = Some(EventKind::Notice.as_str().to_string());
    }
    req.reply_to = args.reply_to.clone();
    let event = ctx.authed()?.send_request(req).await?;
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// `hearth dm NICK [BODY…]`.
pub async fn dm(ctx: &Context, nick: &str, words: &[String]) -> Result<(), CliError> {
    let args = SendArgs {
        target: nick.to_string(),
        body: words.to_vec(),
        action: false,
        notice: false,
        reply_to: None,
    };
    if nick.starts_with('#') {
        return Err(CliError::Usage(format!(
            "{nick} is a channel: use `hearth send`"
        )));
    }
    send(ctx, &args).await
}

/// `hearth history TARGET [-n N] [--before SEQ] [--after SEQ]`: oldest first for people; the
/// server's order (newest first) with `--json`.
pub async fn history(
    ctx: &Context,
    target: &str,
    limit: u32,
    before: Option<i64>,
    after: Option<i64>,
) -> Result<(), CliError> {
    let query = HistoryQuery {
        target: target.to_string(),
        before,
        after,
        limit: Some(limit),
    };
    let resp = ctx.authed()?.history(&query).await?;
    let local = ctx.local_server();
    ctx.emit(&resp, || {
        resp.events
            .iter()
            .rev()
            .map(|e| render::line(e, local.as_deref(), false))
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `hearth edit ID [BODY…]`: the `edit` event is printed.
pub async fn edit(ctx: &Context, id: &str, words: &[String]) -> Result<(), CliError> {
    let body = body_from(words, &mut std::io::stdin())?;
    let event = ctx.authed()?.edit(id, &body).await?;
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// `hearth delete ID`: the `delete` event is printed.
pub async fn delete(ctx: &Context, id: &str) -> Result<(), CliError> {
    let event = ctx.authed()?.delete_message(id).await?;
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// `hearth react ID EMOJI [--remove]`: the `reaction` event (or, withdrawing, the `delete`
/// event) is printed.
pub async fn react(ctx: &Context, id: &str, emoji: &str, remove: bool) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let event = if remove {
        client.unreact(id, emoji).await?
    } else {
        client.react(id, emoji).await?
    };
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// `hearth thread ID`: the root, then its replies, oldest first (`{root, replies}` with
/// `--json`).
pub async fn thread(ctx: &Context, id: &str) -> Result<(), CliError> {
    let thread = ctx.authed()?.thread(id).await?;
    let local = ctx.local_server();
    ctx.emit(&thread, || {
        std::iter::once(render::line(&thread.root, local.as_deref(), true))
            .chain(
                thread
                    .replies
                    .iter()
                    .map(|e| format!("  ↳ {}", render::line(e, local.as_deref(), false))),
            )
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// `hearth show ID`: one message with its aggregates.
pub async fn show(ctx: &Context, id: &str) -> Result<(), CliError> {
    let event = ctx.authed()?.message(id).await?;
    let local = ctx.local_server();
    ctx.emit(&event, || render::line(&event, local.as_deref(), true))
}

/// The message body: the words joined by spaces, or all of `stdin` when there are none or the
/// only word is `-` (one trailing line ending dropped).
pub fn body_from(words: &[String], stdin: &mut impl Read) -> Result<String, CliError> {
    let body = if words.is_empty() || words == ["-"] {
        let mut text = String::new();
        stdin.read_to_string(&mut text)?;
        let trimmed = text.strip_suffix('\n').unwrap_or(&text);
        trimmed.strip_suffix('\r').unwrap_or(trimmed).to_string()
    } else {
        words.join(" ")
    };
    if body.trim().is_empty() {
        return Err(CliError::Usage("empty message".into()));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(w: &[&str]) -> Vec<String> {
        w.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn body_from_words() {
        let mut empty: &[u8] = b"";
        assert_eq!(
            body_from(&words(&["hello", "world"]), &mut empty).unwrap(),
            "hello world"
        );
    }

    #[test]
    fn body_from_stdin() {
        let mut input: &[u8] = b"line one\nline two\n";
        assert_eq!(body_from(&[], &mut input).unwrap(), "line one\nline two");
        let mut input: &[u8] = b"dash\r\n";
        assert_eq!(body_from(&words(&["-"]), &mut input).unwrap(), "dash");
    }

    #[test]
    fn empty_body_is_refused() {
        let mut input: &[u8] = b"  \n";
        assert!(matches!(
            body_from(&[], &mut input),
            Err(CliError::Usage(_))
        ));
    }
}
