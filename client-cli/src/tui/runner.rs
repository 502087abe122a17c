//! Carrying out the state's [`Action`]s with the SDK, each in its own local task, and reporting
//! [`Outcome`]s back over a channel so the UI never waits on the network.

use std::cell::Cell;
use std::rc::Rc;

use hearth_client::{mode_change, Client, SyncStream};
use tokio::sync::mpsc::UnboundedSender;

use crate::tui::state::{Action, Outcome, HISTORY_PAGE};

/// Results `/search` shows.
const SEARCH_PAGE: u32 = 10;

/// Starts `action` in the background. `Action::Quit` is the caller's to handle.
pub fn execute(client: &Client, action: Action, tx: &UnboundedSender<Outcome>) {
    let client = client.clone();
    let tx = tx.clone();
    hearth_client::spawn(async move {
        let outcome = perform(&client, action).await;
        if let Some(o) = outcome {
            // The receiver is gone only when the UI is closing.
            let _ = tx.send(o);
        }
    });
}

async fn perform(client: &Client, action: Action) -> Option<Outcome> {
    let failed = |what: String, e: hearth_client::ClientError| {
        Some(Outcome::Failed {
            what,
            error: e.to_string(),
        })
    };
    match action {
        Action::Send { to, kind, body } => match client.send_kind(&to, kind, &body).await {
            Ok(event) => Some(Outcome::Sent(Box::new(event))),
            Err(e) => failed(format!("sending to {to}"), e),
        },
        Action::Join { channel, key } => match client.join(&channel, key.as_deref()).await {
            Ok(info) => Some(Outcome::Joined {
                channel: info.name,
                topic: info.topic,
            }),
            Err(e) => failed(format!("joining {channel}"), e),
        },
        Action::Part { channel, reason } => match client.part(&channel, reason.as_deref()).await {
            Ok(()) => Some(Outcome::Parted { channel }),
            Err(e) => failed(format!("leaving {channel}"), e),
        },
        // The topic event shows the change.
        Action::SetTopic { channel, topic } => match client.set_topic(&channel, &topic).await {
            Ok(_) => None,
            Err(e) => failed(format!("setting the topic of {channel}"), e),
        },
        Action::ShowTopic { channel } => match client.channel_info(&channel).await {
            Ok(info) => Some(Outcome::Topic {
                channel: info.name,
                topic: info.topic,
            }),
            Err(e) => failed(format!("getting the topic of {channel}"), e),
        },
        Action::Search { query } => {
            let params = federation_proto::api::client::SearchQuery {
                q: Some(query.clone()),
                limit: Some(SEARCH_PAGE),
                ..Default::default()
            };
            match client.search(&params).await {
                Ok(resp) => Some(Outcome::SearchResults {
                    query,
                    lines: resp
                        .results
                        .iter()
                        .map(|r| {
                            let mut event = r.event.clone();
                            event.body = crate::render::bracketed(&event.body, &r.highlights);
                            crate::render::line(&event, None, true)
                        })
                        .collect(),
                }),
                Err(e) => failed(format!("searching {query}"), e),
            }
        }
        Action::Nick(nick) => match client.change_nick(&nick).await {
            Ok(me) => Some(Outcome::Me(me)),
            Err(e) => failed(format!("changing nick to {nick}"), e),
        },
        Action::Mode {
            channel,
            modes,
            arg,
        } => {
            match client
                .set_mode(&channel, &mode_change(&modes, arg.as_deref()))
                .await
            {
                // The mode event shows the change.
                Ok(_) => None,
                Err(e) => failed(format!("mode {modes} on {channel}"), e),
            }
        }
        // The mode event (and the kicks it causes) show a ban.
        Action::Ban { channel, mask, on } => match client.ban(&channel, &mask, on).await {
            Ok(_) => None,
            Err(e) => failed(format!("banning {mask} from {channel}"), e),
        },
        Action::Mute {
            channel,
            nick,
            seconds,
            on,
        } => match client.mute(&channel, &nick, on, seconds).await {
            Ok(()) => Some(Outcome::Note(if on {
                format!("{nick} is muted in {channel}")
            } else {
                format!("{nick} is unmuted in {channel}")
            })),
            Err(e) => failed(format!("muting {nick} in {channel}"), e),
        },
        Action::Block { handle, on } => match client.block(&handle, on).await {
            Ok(_) => Some(Outcome::Note(if on {
                format!("{handle} is blocked: their direct messages are refused")
            } else {
                format!("{handle} is unblocked")
            })),
            Err(e) => failed(format!("blocking {handle}"), e),
        },
        Action::Report { id, reason } => match client.report(&id, &reason).await {
            Ok(created) => Some(Outcome::Note(format!(
                "reported {id} (report {})",
                created.id
            ))),
            Err(e) => failed(format!("reporting {id}"), e),
        },
        Action::InviteLink { channel } => {
            match client.create_invite_link(&channel, None, None).await {
                Ok(link) => Some(Outcome::Note(format!(
                    "invite link for {}: {} (expires {}; `hearth accept-invite {}`)",
                    link.channel, link.code, link.expires, link.code
                ))),
                Err(e) => failed(format!("making an invite link for {channel}"), e),
            }
        }
        Action::LoadHistory { target, before } => {
            let query = federation_proto::api::client::HistoryQuery {
                target: target.clone(),
                before,
                after: None,
                limit: Some(HISTORY_PAGE),
            };
            match client.history(&query).await {
                Ok(resp) => Some(Outcome::History {
                    target,
                    events: resp.events,
                }),
                Err(e) => Some(Outcome::HistoryFailed {
                    target,
                    error: e.to_string(),
                }),
            }
        }
        Action::LoadConversations => match client.conversations().await {
            Ok(resp) => Some(Outcome::Conversations(resp.conversations)),
            Err(e) => failed("loading unread counts".to_string(), e),
        },
        // Best effort: a marker that did not move is moved by the next one.
        Action::MarkRead { target, id } => {
            if let Err(e) = client.read(&target, &id).await {
                tracing::debug!(%target, %id, error = %e, "marking read failed");
            }
            None
        }
        // Best effort: presence events keep it current anyway.
        Action::LoadPresence { handle } => match client.user(&handle).await {
            Ok(profile) => Some(Outcome::Presence {
                handle,
                status: profile.status.unwrap_or_else(|| {
                    if profile.online { "online" } else { "offline" }.to_string()
                }),
            }),
            Err(e) => {
                tracing::debug!(%handle, error = %e, "loading presence failed");
                None
            }
        },
        // Best effort too: typing notifications are renewed while the user types.
        Action::Typing { target, on } => {
            if let Err(e) = client.typing(&target, on).await {
                tracing::debug!(%target, error = %e, "typing notification failed");
            }
            None
        }
        Action::Quit => None,
    }
}

/// Runs the sync stream in the background: batches and connection changes become outcomes,
/// and `cursor` always holds the highest `seq` delivered (saved to the profile on exit).
pub fn start_sync(
    mut stream: SyncStream,
    cursor: Rc<Cell<Option<i64>>>,
    tx: &UnboundedSender<Outcome>,
) {
    let mut states = stream.state();
    let state_tx = tx.clone();
    hearth_client::spawn(async move {
        while states.changed().await.is_ok() {
            let state = states.borrow_and_update().clone();
            if state_tx.send(Outcome::Connection(state)).is_err() {
                break;
            }
        }
    });
    let tx = tx.clone();
    hearth_client::spawn(async move {
        loop {
            match stream.next_batch().await {
                Ok(batch) => {
                    cursor.set(stream.cursor());
                    if tx.send(Outcome::Events(batch)).is_err() {
                        break;
                    }
                }
                Err(e) => {
                    let _ = tx.send(Outcome::SyncStopped(e.to_string()));
                    break;
                }
            }
        }
    });
}
