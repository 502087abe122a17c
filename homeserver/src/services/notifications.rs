//! Notifications (issue 18): mentions (`@nick`, `@nick@server`), replies to one's message,
//! invitations and direct messages, never for one's own events.
//!
//! They are made by a queued consumer of the writer's commits ([`run`], `Db::commit_feed`),
//! never in the send path: a send costs nothing more, and a message that mentions no one costs
//! nothing per member (the consumer reads the body, and only looks up the users it names);
//! only a batch that makes notifications costs a write. Who set `all` on a channel comes with
//! each committed event (its watchers, read and cached by the writer, `db::recipients`), so a
//! batch of messages that mention no one, answer nothing and have no watchers costs no read
//! at all, not even a connection (`may_notify`).
//!
//! Each is stored (the list survives reconnects; kept [`KEEP_DAYS`] days, pruned by
//! [`prune`]) and announced by an ephemeral `notification` event to the user's devices that
//! poll or stream at the time (`meta.notification` is the list's item). A device that was away
//! reads the list.
//!
//! Levels, per user and channel (hosted here or elsewhere): `mentions` (the default: mentions
//! and replies), `all` (also every other message, as type `message`), `muted` (nothing). Direct
//! messages always notify. In a channel hosted elsewhere, a bare `@nick` names a user of this
//! server in it (each member server notifies its own users); `@nick@server` names one user.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use federation_proto::api::community::{LevelResponse, MarkedRead, Notification, NotificationList};
use federation_proto::event::EventKind;
use federation_proto::time::format_rfc3339_ms;

use super::accounts::Session;
use super::events::view;
use super::{ephemeral, now_ms};
use crate::db::models::EventRow;
use crate::db::notifications::{self as store, NotificationRow};
use crate::db::writer::{CommitFeed, Feed};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Notifications are kept this long.
pub const KEEP_DAYS: i64 = 30;
/// How often old notifications are deleted.
const PRUNE_EVERY: Duration = Duration::from_secs(3600);
/// Batches the consumer's feed holds before it reads what it missed from the log.
pub const FEED_CAPACITY: usize = 256;
/// Events read at once when catching up.
const CATCH_UP: i64 = 500;
/// Most notifications listed.
pub const LIST_MAX: i64 = 200;

/// Levels a user sets per channel.
pub const LEVELS: [&str; 3] = ["all", "mentions", "muted"];

/// The users named in a body: `@nick` or `@nick@server`, on word boundaries (the `@` starts
/// the text or follows a character that is not a letter, digit, `_` or `@`; the nick is 3–20
/// of `[a-z0-9_]`, any case, and is not followed by another of them). Lowercase, in order,
/// without repeats.
pub fn mentions(body: &str) -> Vec<(String, Option<String>)> {
    let bytes = body.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let host = |b: u8| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b);
    let mut found: Vec<(String, Option<String>)> = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'@' || (i > 0 && (word(bytes[i - 1]) || bytes[i - 1] == b'@')) {
            i += 1;
            continue;
        }
        let start = i + 1;
        let mut end = start;
        while end < bytes.len() && word(bytes[end]) {
            end += 1;
        }
        let len = end - start;
        if !(3..=20).contains(&len) {
            i = end.max(i + 1);
            continue;
        }
        let nick = body[start..end].to_ascii_lowercase();
        let mut server = None;
        let mut next = end;
        if end + 1 < bytes.len() && bytes[end] == b'@' && host(bytes[end + 1]) {
            let mut s_end = end + 1;
            while s_end < bytes.len() && host(bytes[s_end]) {
                s_end += 1;
            }
            // A sentence's full stop or colon is not part of the server name.
            let mut trimmed = s_end;
            while trimmed > end + 1 && matches!(bytes[trimmed - 1], b'.' | b':') {
                trimmed -= 1;
            }
            if trimmed > end + 1 {
                server = Some(body[end + 1..trimmed].to_ascii_lowercase());
                next = trimmed;
            }
        }
        let item = (nick, server);
        if !found.contains(&item) {
            found.push(item);
        }
        i = next;
    }
    found
}

/// The consumer of commits: makes the notifications of every committed event, in order, and
/// announces them. Ends when the writer stops.
pub async fn run(state: Arc<AppState>, mut feed: CommitFeed) {
    while let Some(item) = feed.recv().await {
        let result = match item {
            Feed::Committed(commits) => {
                let items: Vec<Item> = commits
                    .iter()
                    .filter(|c| worth_a_look(&c.row))
                    .map(|c| Item {
                        row: c.row.clone(),
                        recipients: Arc::clone(&c.recipients),
                        watchers: Arc::clone(&c.watchers),
                    })
                    .collect();
                handle(&state, items).await
            }
            Feed::Missed { after, through } => catch_up(&state, after, through).await,
        };
        if let Err(e) = result {
            tracing::warn!(error = %e, "making notifications failed");
        }
    }
}

/// A committed event for the consumer, with who could hear of it.
struct Item {
    row: EventRow,
    /// Users whose window covers it.
    recipients: Arc<[String]>,
    /// Users whose level for its channel is `all`.
    watchers: Arc<[String]>,
}

/// Whether an event may notify anyone: a message, action or notice, or an invitation to a
/// user (not the `invite` event in the channel).
fn worth_a_look(row: &EventRow) -> bool {
    match EventKind::from_wire(&row.kind) {
        Some(k) if k.is_user_sendable() => !row.deleted,
        Some(EventKind::Invite) => !row.recipient.starts_with('#'),
        _ => false,
    }
}

async fn catch_up(state: &AppState, after: i64, through: i64) -> Result<(), ApiError> {
    let mut from = after;
    while from < through {
        let items = state
            .db
            .run(move |conn| {
                let rows = db::events::range(conn, from, through, CATCH_UP)?;
                let last = rows.last().map(|row| row.seq);
                // Today's windows and levels: what the commit would have carried is gone.
                let mut items = Vec::new();
                for row in rows.into_iter().filter(worth_a_look) {
                    items.push(Item {
                        recipients: db::events::recipients(conn, row.room_id)?,
                        watchers: store::watchers(conn, &row)?,
                        row,
                    });
                }
                Ok::<_, ApiError>((last, items))
            })
            .await?;
        let (Some(last), items) = items else {
            break;
        };
        from = last;
        handle(state, items).await?;
    }
    Ok(())
}

/// Whether an event can make a notification at all, judged from what its commit carries: an
/// invitation to a user or a direct message (for their recipients), or a channel message that
/// mentions someone, answers a message or has watchers ([`make`]'s rules). Most channel
/// messages do none of these, and a batch of only such messages costs no database read.
fn may_notify(item: &Item) -> bool {
    let row = &item.row;
    !row.recipient.starts_with('#')
        || row.reply_to.is_some()
        || !item.watchers.is_empty()
        || !mentions(&row.body).is_empty()
}

/// Makes, stores and announces the notifications of these events.
#[tracing::instrument(name = "notifications", skip_all, fields(events = items.len()))]
async fn handle(state: &AppState, items: Vec<Item>) -> Result<(), ApiError> {
    let items: Vec<Item> = items.into_iter().filter(may_notify).collect();
    if items.is_empty() {
        return Ok(());
    }
    let server = state.server_name.to_string();
    let wanted = state
        .db
        .run(move |conn| make(conn, &server, &items))
        .await?;
    if wanted.is_empty() {
        return Ok(());
    }
    let stored = state
        .db
        .write(move |conn| {
            let mut stored = Vec::new();
            for (row, event) in wanted {
                if store::insert(conn, &row)? {
                    stored.push((row, event));
                }
            }
            Ok::<_, ApiError>(stored)
        })
        .await?;
    for (row, event) in stored {
        let item = item_of(&row, Some(event.clone()));
        let mut announce = ephemeral::event(
            &event.sender,
            &event.recipient,
            EventKind::Notification,
            row.kind.clone(),
        );
        announce.target = uuid::Uuid::parse_str(&event.id).ok();
        if let Ok(value) = serde_json::to_value(&item) {
            announce.meta.insert("notification".into(), value);
        }
        ephemeral::publish(
            state,
            std::slice::from_ref(&row.user_id),
            &announce,
            ephemeral::STATE_LIFETIME,
        )?;
    }
    Ok(())
}

/// The notifications `items` make (each with its event), by the rules in the module doc.
/// `may_notify` skips the events none of these rules can match: a new rule goes there too.
fn make(
    conn: &mut Conn,
    server: &str,
    items: &[Item],
) -> Result<Vec<(NotificationRow, EventRow)>, ApiError> {
    let mut out = Vec::new();
    for Item {
        row,
        recipients,
        watchers,
    } in items
    {
        let sender_id = sender_of(conn, server, row)?;
        let own = |user: &str| sender_id.as_deref() == Some(user);
        let member = |user: &str| recipients.iter().any(|r| r == user);
        let mut wanted: Vec<(String, &'static str)> = Vec::new();
        let is_channel = row.recipient.starts_with('#');
        if row.kind == EventKind::Invite.as_str() {
            for user in recipients.iter().filter(|u| !own(u)) {
                wanted.push((user.clone(), "invite"));
            }
        } else if !is_channel {
            for user in recipients.iter().filter(|u| !own(u)) {
                wanted.push((user.clone(), "dm"));
            }
        } else {
            for (nick, named_server) in mentions(&row.body) {
                if named_server.as_deref().is_some_and(|s| s != server) {
                    continue;
                }
                if let Some(user) = db::users::by_nick(conn, &nick)? {
                    if member(&user.id) && !own(&user.id) {
                        wanted.push((user.id, "mention"));
                    }
                }
            }
            if let Some(parent) = &row.reply_to {
                if let Some(parent) = db::events::by_id(conn, parent)? {
                    if let Some(author) = sender_of(conn, server, &parent)? {
                        if member(&author) && !own(&author) && parent.sender != row.sender {
                            wanted.push((author, "reply"));
                        }
                    }
                }
            }
            for user in watchers.iter() {
                if member(user) && !own(user) {
                    wanted.push((user.clone(), "message"));
                }
            }
        }
        let mut seen = HashSet::new();
        wanted.retain(|(user, _)| seen.insert(user.clone()));
        for (user, kind) in wanted {
            if is_channel && store::level(conn, &user, row.room_id)?.as_deref() == Some("muted") {
                continue;
            }
            out.push((
                NotificationRow {
                    id: uuid::Uuid::now_v7().to_string(),
                    user_id: user,
                    kind: kind.to_string(),
                    event_id: row.id.clone(),
                    ts_ms: row.ts_ms,
                    is_read: false,
                },
                row.clone(),
            ));
        }
    }
    Ok(out)
}

/// The local user who sent `row`, if a user of this server did (mirrored copies of one's own
/// messages carry no sender id, so the handle decides).
fn sender_of(conn: &mut Conn, server: &str, row: &EventRow) -> Result<Option<String>, ApiError> {
    if let Some(id) = &row.sender_id {
        return Ok(Some(id.clone()));
    }
    match row.sender.split_once('@') {
        Some((nick, s)) if s.eq_ignore_ascii_case(server) => {
            Ok(db::users::by_nick(conn, &nick.to_ascii_lowercase())?.map(|u| u.id))
        }
        _ => Ok(None),
    }
}

fn item_of(row: &NotificationRow, event: Option<EventRow>) -> Notification {
    Notification {
        id: row.id.clone(),
        kind: row.kind.clone(),
        event: event.and_then(|e| view(e).ok()),
        ts: format_rfc3339_ms(row.ts_ms),
        read: row.is_read,
    }
}

/// `GET /api/v1/notifications`: newest first, with the unread count.
pub async fn list(
    state: &AppState,
    session: &Session,
    unread_only: bool,
    limit: Option<i64>,
) -> Result<NotificationList, ApiError> {
    let limit = match limit {
        None => 50,
        Some(n) if (1..=LIST_MAX).contains(&n) => n,
        Some(_) => {
            return Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit is 1 to {LIST_MAX}"),
            ))
        }
    };
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let rows = store::list(conn, &user_id, unread_only, limit)?;
            let mut notifications = Vec::with_capacity(rows.len());
            for row in rows {
                let event = db::events::by_id(conn, &row.event_id)?;
                notifications.push(item_of(&row, event));
            }
            Ok(NotificationList {
                notifications,
                unread: store::unread_count(conn, &user_id)?,
            })
        })
        .await
}

/// `PATCH /api/v1/notifications/{id}/read` (`Some(id)`) and `/read-all` (`None`).
pub async fn mark_read(
    state: &AppState,
    session: &Session,
    id: Option<String>,
) -> Result<MarkedRead, ApiError> {
    let user_id = session.user_id.clone();
    state
        .db
        .write(move |conn| {
            let marked = match &id {
                Some(id) => match store::mark_read(conn, &user_id, id)? {
                    None => {
                        return Err(ApiError::not_found(
                            "no_such_notification",
                            format!("no notification {id}"),
                        ))
                    }
                    Some(was_unread) => i64::from(was_unread),
                },
                None => i64::try_from(store::mark_all_read(conn, &user_id)?).unwrap_or(i64::MAX),
            };
            Ok(MarkedRead {
                marked,
                unread: store::unread_count(conn, &user_id)?,
            })
        })
        .await
}

/// A valid level, or `400 invalid_level`.
pub fn check_level(level: &str) -> Result<(), ApiError> {
    if LEVELS.contains(&level) {
        Ok(())
    } else {
        Err(ApiError::bad_request(
            "invalid_level",
            "a level is all, mentions or muted",
        ))
    }
}

/// `PUT /api/v1/channels/{name}/notifications` for the room of a channel the user is in
/// (hosted here or a mirror; `chat` finds it).
pub async fn set_level(
    state: &AppState,
    session: &Session,
    channel: String,
    room_id: i64,
    level: String,
) -> Result<LevelResponse, ApiError> {
    check_level(&level)?;
    let user_id = session.user_id.clone();
    let stored = level.clone();
    state
        .db
        .write(move |conn| {
            let value = (stored != "mentions").then_some(stored.as_str());
            store::set_level(conn, &user_id, room_id, value).map_err(ApiError::from)
        })
        .await?;
    Ok(LevelResponse { channel, level })
}

/// The room of a channel hosted here that the user is in, or `403 not_member` (`404` for a
/// secret channel or none).
pub async fn hosted_room(
    state: &AppState,
    session: &Session,
    name: String,
) -> Result<i64, ApiError> {
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let channel = super::channels::load_channel(conn, &name)?;
            let member = db::channels::member(conn, channel.room_id, &user_id)?.is_some();
            super::policy::read_history(&channel, member)
                .map_err(|d| d.into_error(&format!("#{name}")))?;
            Ok(channel.room_id)
        })
        .await
}

/// Deletes notifications older than [`KEEP_DAYS`], at start and every hour.
pub async fn prune(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(PRUNE_EVERY);
    loop {
        ticks.tick().await;
        let cutoff = now_ms() - KEEP_DAYS * 24 * 3600 * 1000;
        match state
            .db
            .write(move |conn| store::prune_before(conn, cutoff).map_err(ApiError::from))
            .await
        {
            Ok(0) => {}
            Ok(n) => tracing::info!(notifications = n, "pruned old notifications"),
            Err(e) => tracing::warn!(error = %e, "pruning notifications failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Named = Vec<(String, Option<String>)>;

    fn named(body: &str) -> Named {
        mentions(body)
    }

    #[test]
    fn finds_mentions_on_word_boundaries() {
        let m = |n: &str, s: Option<&str>| (n.to_string(), s.map(str::to_string));
        let table: [(&str, Named); 12] = [
            ("hi @bob", vec![m("bob", None)]),
            ("@Bob: look", vec![m("bob", None)]),
            ("@bob@hs2.example, hi", vec![m("bob", Some("hs2.example"))]),
            ("ask @bob@hs2.example.", vec![m("bob", Some("hs2.example"))]),
            (
                "@bob@127.0.0.1:8080 yes",
                vec![m("bob", Some("127.0.0.1:8080"))],
            ),
            ("mail bob@hs2.example", vec![]),
            ("x@bob", vec![]),
            ("@@bob", vec![]),
            ("@bo is short", vec![]),
            (
                "(@carol) and @dave_1!",
                vec![m("carol", None), m("dave_1", None)],
            ),
            ("@bob @bob @BOB", vec![m("bob", None)]),
            ("@abcdefghijklmnopqrstu too long", vec![]),
        ];
        for (body, expected) in table {
            assert_eq!(named(body), expected, "{body:?}");
        }
    }

    #[test]
    fn only_events_that_can_notify_need_a_look() {
        let item = |recipient: &str, body: &str, reply_to: Option<&str>, watchers: &[&str]| Item {
            row: EventRow {
                seq: 1,
                id: "e1".into(),
                room_id: 1,
                ts_ms: 0,
                sender: "alice@hs1".into(),
                sender_id: Some("alice".into()),
                recipient: recipient.into(),
                kind: "message".into(),
                body: body.into(),
                meta: "{}".into(),
                reply_to: reply_to.map(str::to_string),
                target: None,
                room_seq: Some(1),
                wire: None,
                deleted: false,
                attachments: None,
            },
            recipients: Arc::from(vec!["alice".to_string(), "bob".to_string()]),
            watchers: watchers.iter().map(|w| w.to_string()).collect(),
        };
        assert!(!may_notify(&item("#general", "hello all", None, &[])));
        assert!(!may_notify(&item(
            "#general",
            "mail bob@hs2.example",
            None,
            &[]
        )));
        assert!(may_notify(&item("#general", "hi @bob", None, &[])));
        assert!(may_notify(&item("#general", "yes", Some("e0"), &[])));
        assert!(may_notify(&item("#general", "hello", None, &["bob"])));
        assert!(may_notify(&item("bob", "a direct message", None, &[])));
    }

    #[test]
    fn levels() {
        for level in LEVELS {
            assert!(check_level(level).is_ok());
        }
        assert_eq!(check_level("loud").unwrap_err().code, "invalid_level");
    }
}
