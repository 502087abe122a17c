//! `hearth tail`: follows the device's events live, resuming where the last run stopped.
//!
//! The cursor is saved to the profile after each batch is printed (and so on Ctrl-C or
//! SIGTERM, which end `tail` between batches). Printing comes before saving: a `tail` killed
//! outright may show the last batch again next time, but never skips an event.

use federation_proto::ids::{ChannelName, UserHandle};
use hearth_client::{Event, EventKind};

use crate::cli::args::TailArgs;
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::render;

/// Which events `tail` prints.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    channel: Option<ChannelName>,
    user: Option<UserHandle>,
    kinds: Vec<EventKind>,
}

impl Filter {
    /// Builds the filter from a target (`#chan[@server]` or `nick[@server]`) and type names.
    pub fn new(target: Option<&str>, types: &[String]) -> Result<Filter, CliError> {
        let mut filter = Filter::default();
        match target {
            Some(t) if t.starts_with('#') => {
                filter.channel = Some(
                    t.parse()
                        .map_err(|_| CliError::Usage(format!("not a channel: {t:?}")))?,
                );
            }
            Some(t) => {
                filter.user = Some(
                    t.parse()
                        .map_err(|_| CliError::Usage(format!("not a user: {t:?}")))?,
                )
            }
            None => {}
        }
        for name in types.iter().flat_map(|t| t.split(',')) {
            let kind = EventKind::parse(name.trim())
                .ok_or_else(|| CliError::Usage(format!("unknown event type {name:?}")))?;
            filter.kinds.push(kind);
        }
        Ok(filter)
    }

    /// Whether `event` passes.
    pub fn accepts(&self, event: &Event) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&event.kind) {
            return false;
        }
        if let Some(want) = &self.channel {
            let Ok(got) = event.to.parse::<ChannelName>() else {
                return false;
            };
            if !event.to.starts_with('#')
                || got.name != want.name
                || want
                    .server
                    .as_ref()
                    .is_some_and(|s| Some(s) != got.server.as_ref())
            {
                return false;
            }
        }
        if let Some(want) = &self.user {
            if event.to.starts_with('#') {
                return false;
            }
            let is_want = |h: &str| {
                h.parse::<UserHandle>().is_ok_and(|got| {
                    got.nick == want.nick
                        && want
                            .server
                            .as_ref()
                            .is_none_or(|s| Some(s) == got.server.as_ref())
                })
            };
            if !is_want(&event.from) && !is_want(&event.to) {
                return false;
            }
        }
        true
    }
}

/// Runs `tail` until `--count` events were printed, or forever.
pub async fn tail(ctx: &mut Context, args: &TailArgs) -> Result<(), CliError> {
    let filter = Filter::new(args.target.as_deref(), &args.types)?;
    if args.count == Some(0) {
        return Ok(());
    }
    let client = ctx.authed()?;
    let saved = if args.no_resume {
        None
    } else {
        ctx.profile.as_ref().and_then(|p| p.cursor)
    };
    let mut stream = client.sync().starting_after(saved);
    let local = ctx.local_server();
    let mut printed = 0u64;
    let mut stop = Box::pin(interrupted());
    loop {
        // `next_batch` is cancel-safe: an interrupt loses nothing that was not yet printed.
        let batch = tokio::select! {
            batch = stream.next_batch() => batch?,
            () = &mut stop => return Ok(()),
        };
        let mut last_seq = None;
        let mut done = false;
        for event in &batch {
            if !event.kind.is_ephemeral() {
                last_seq = Some(event.seq);
            }
            if !filter.accepts(event) {
                continue;
            }
            let text = if ctx.json {
                serde_json::to_string(event).map_err(std::io::Error::other)?
            } else {
                render::line(event, local.as_deref(), true)
            };
            println!("{text}");
            printed += 1;
            if args.count.is_some_and(|n| printed >= n) {
                done = true;
                break;
            }
        }
        if !args.no_resume {
            save_cursor(ctx, last_seq)?;
        }
        if done {
            return Ok(());
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM, so `tail` ends cleanly with its cursor saved.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = tokio::signal::ctrl_c() => {}
                    _ = term.recv() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

/// Stores the highest `seq` shown in the profile, so the next `tail` starts after it.
fn save_cursor(ctx: &mut Context, seq: Option<i64>) -> Result<(), CliError> {
    let (Some(seq), Some(mut profile)) = (seq, ctx.profile.clone()) else {
        return Ok(());
    };
    if profile.cursor.is_some_and(|c| c >= seq) {
        return Ok(());
    }
    profile.cursor = Some(seq);
    ctx.save(profile)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::event;

    #[test]
    fn channel_filter() {
        let f = Filter::new(Some("#General"), &[]).unwrap();
        assert!(f.accepts(&event(1, "message", "a@hs1", "#general@hs1", "x")));
        assert!(!f.accepts(&event(1, "message", "a@hs1", "#other@hs1", "x")));
        assert!(!f.accepts(&event(1, "message", "a@hs1", "bob@hs1", "x")));
        let f = Filter::new(Some("#general@hs2"), &[]).unwrap();
        assert!(!f.accepts(&event(1, "message", "a@hs1", "#general@hs1", "x")));
        assert!(f.accepts(&event(1, "message", "a@hs1", "#general@hs2", "x")));
    }

    #[test]
    fn user_filter() {
        let f = Filter::new(Some("bob"), &[]).unwrap();
        assert!(f.accepts(&event(1, "message", "bob@hs1", "me@hs1", "x")));
        assert!(f.accepts(&event(1, "message", "me@hs1", "bob@hs1", "x")));
        assert!(!f.accepts(&event(1, "message", "bob@hs1", "#general@hs1", "x")));
        assert!(!f.accepts(&event(1, "message", "carol@hs1", "me@hs1", "x")));
    }

    #[test]
    fn type_filter() {
        let f = Filter::new(None, &["message,action".to_string()]).unwrap();
        assert!(f.accepts(&event(1, "action", "a@hs1", "#g@hs1", "x")));
        assert!(!f.accepts(&event(1, "join", "a@hs1", "#g@hs1", "")));
        assert!(Filter::new(None, &["bogus".to_string()]).is_err());
    }
}
