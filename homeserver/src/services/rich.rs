//! Edits, deletes, reactions and threads of messages in channels hosted here and in DMs (of
//! this server's users, and with users of other servers). A message in a channel hosted
//! elsewhere is acted on through its host (`federation::mirror`); `crate::chat` picks the way
//! with [`place_of`].
//!
//! The rules are `services::policy`'s ([`policy::edit`], [`policy::delete`],
//! [`policy::react`]), asked with the facts [`facts`] loads; a channel hosted here goes
//! through `channels::act::message_action`, the same function the host's handling of
//! submissions calls. What an edit, delete or reaction event does to its message is applied
//! in one place, `services::events::append_event`.

use federation_proto::event::{validate_emoji, Event, EventKind};
use serde_json::Value;

use super::accounts::{mark_active, Session};
use super::channels::act::{self, Authored, Host};
use super::channels::local_actor;
use super::events::{append_event, message_views, reactor_keys, view, Draft};
use super::fanout::queue_direct;
use super::messages::{check_body, check_meta};
use super::now_ms;
use super::policy::{self, MessageFacts, TargetKind, DM_PARTICIPANT};
use crate::db::models::{ChannelRow, EventRow};
use crate::db::shared::MirrorRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Most replies a thread answers.
pub const THREAD_MAX: i64 = 500;

/// 404 for a message that does not exist or that the user cannot see.
pub fn no_such_message(id: &str) -> ApiError {
    ApiError::not_found("no_such_message", format!("no message {id}"))
}

/// Where a message lives.
pub enum Place {
    /// A channel hosted here.
    Hosted(ChannelRow),
    /// The mirror of a channel hosted elsewhere: act through its host.
    Mirror(MirrorRow),
    /// A DM between two users of this server.
    LocalDm,
    /// A DM with a user of another server: `(their handle, their server)`.
    RemoteDm(String, String),
    /// The user's own stream (invitations): nothing to act on.
    Own,
}

/// A message the user can see, and where it lives.
pub struct Located {
    /// The stored message.
    pub row: EventRow,
    /// Its room.
    pub place: Place,
}

/// Finds a message that the user receives (a channel or DM they are in), or 404.
pub fn locate(conn: &mut Conn, user_id: &str, id: &str) -> Result<Located, ApiError> {
    let parsed = uuid::Uuid::parse_str(id).map_err(|_| no_such_message(id))?;
    let row = db::events::by_id(conn, &parsed.to_string())?.ok_or_else(|| no_such_message(id))?;
    if !db::events::has_open_span(conn, user_id, row.room_id)? {
        return Err(no_such_message(id));
    }
    let key = db::rich::room_key(conn, row.room_id)?.unwrap_or_default();
    let place = if let Some(name) = key.strip_prefix("chan:") {
        Place::Hosted(db::channels::by_name(conn, name)?.ok_or_else(|| no_such_message(id))?)
    } else if let Some(global) = key.strip_prefix("mirror:") {
        Place::Mirror(
            db::shared::mirror_by_channel(conn, global)?.ok_or_else(|| no_such_message(id))?,
        )
    } else if let Some(pair) = key.strip_prefix("dm:") {
        match pair.split_once(':') {
            Some((_, handle)) if handle.contains('@') => {
                let server = handle.rsplit('@').next().unwrap_or_default().to_string();
                Place::RemoteDm(handle.to_string(), server)
            }
            _ => Place::LocalDm,
        }
    } else {
        Place::Own
    };
    Ok(Located { row, place })
}

/// Where the message `id` lives, for `crate::chat` to pick the way: `Some(mirror)` for a
/// channel hosted elsewhere, `None` for one hosted here or a DM.
pub async fn place_of(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<Option<MirrorRow>, ApiError> {
    let (user_id, id) = (session.user_id.clone(), id.to_string());
    state
        .db
        .run(move |conn| {
            Ok(match locate(conn, &user_id, &id)?.place {
                Place::Mirror(mirror) => Some(mirror),
                _ => None,
            })
        })
        .await
}

/// What the rules read about the message an action at `at_ms` names, by the user whose keys
/// are `actor` (a local user's id and handle, or a remote user's handle). The sender is
/// recognised by id where the row has one, so a nick change keeps a user's messages and
/// reactions theirs; a reaction also by whom it is now stored under (a remote user's
/// reactions follow their nick events).
pub fn facts(
    conn: &mut Conn,
    target: &EventRow,
    actor: &[&str],
    at_ms: i64,
) -> Result<MessageFacts, ApiError> {
    let kind = EventKind::from_wire(&target.kind);
    let target_kind = match kind {
        Some(k) if k.is_user_sendable() => TargetKind::Message,
        Some(EventKind::Reaction) => TargetKind::Reaction,
        _ => TargetKind::Other,
    };
    let is = |key: &str| actor.iter().any(|a| a.eq_ignore_ascii_case(key));
    let mut is_sender = match &target.sender_id {
        Some(id) => is(id),
        None => is(&target.sender),
    };
    // A withdrawn reaction counts as deleted.
    let mut withdrawn = false;
    if target_kind == TargetKind::Reaction {
        match db::rich::reaction_by_event(conn, &target.id)? {
            Some(current) => is_sender |= is(&current.reactor),
            None => withdrawn = true,
        }
    }
    Ok(MessageFacts {
        target: target_kind,
        is_sender,
        deleted: target.deleted || withdrawn,
        age_ms: at_ms.saturating_sub(target.ts_ms),
    })
}

/// The rule for an action of `kind` (edit, delete, reaction).
pub fn judge(
    kind: EventKind,
    member: Option<policy::Standing>,
    facts: MessageFacts,
    window_ms: i64,
) -> Result<(), policy::Denied> {
    match kind {
        EventKind::Edit => policy::edit(member, facts, window_ms),
        EventKind::Delete => policy::delete(member, facts),
        _ => policy::react(member, facts),
    }
}

/// An edit, delete or reaction, checked for its shape.
#[derive(Debug, Clone)]
pub struct Action {
    /// `edit`, `delete` or `reaction`.
    pub kind: EventKind,
    /// The message (or, for a delete, the reaction) it acts on.
    pub target: String,
    /// The new text, the emoji, or empty.
    pub body: String,
    /// The new `meta` of an edit; `{}` otherwise.
    pub meta: Value,
}

/// Checks the fields of an action of `kind` (a local request's, a submission's or a direct
/// event's): an edit's body and meta like a message's; a reaction's emoji.
pub fn check_fields(
    state: &AppState,
    kind: EventKind,
    body: &str,
    meta: &Value,
) -> Result<(), ApiError> {
    check_meta(meta)?;
    match kind {
        EventKind::Edit => check_body(state, body),
        EventKind::Reaction => {
            validate_emoji(body).map_err(|e| ApiError::bad_request("invalid_emoji", e.to_string()))
        }
        _ => Ok(()),
    }
}

/// `reply_to` must name a message of the same room.
pub fn check_reply_to(conn: &mut Conn, room_id: i64, reply_to: &str) -> Result<(), ApiError> {
    let ok = db::events::by_id(conn, reply_to)?.is_some_and(|r| {
        r.room_id == room_id && EventKind::from_wire(&r.kind).is_some_and(|k| k.is_user_sendable())
    });
    if !ok {
        return Err(ApiError::bad_request(
            "invalid_reply_to",
            "reply_to must name a message of the same channel or conversation",
        ));
    }
    Ok(())
}

/// What an action answered: the event, and whether it is new (a repeated reaction answers
/// the first one).
pub struct Acted {
    /// The event (new, or the first reaction).
    pub event: Event,
    /// Whether it was stored now.
    pub created: bool,
}

/// An edit, delete or reaction by a local user on a message of a channel hosted here or of a
/// DM, in one write: the rules, the event, its effect, and its delivery (envelopes for member
/// servers, a signed direct event for a user of another server).
pub async fn act(state: &AppState, session: &Session, action: Action) -> Result<Acted, ApiError> {
    check_fields(state, action.kind, &action.body, &action.meta)?;
    let host = Host::of(state);
    let actor = local_actor(state, session);
    let user_id = session.user_id.clone();
    let (acted, queued) = state
        .db
        .write(move |conn| {
            let located = locate(conn, &user_id, &action.target)?;
            let me = actor.handle().to_string();
            if action.kind == EventKind::Reaction {
                let keys = reactor_keys(&user_id, &me);
                if let Some(first) = db::rich::reaction(conn, &located.row.id, &keys, &action.body)?
                {
                    let row = db::events::by_id(conn, &first.event_id)?
                        .ok_or_else(|| ApiError::internal("a reaction without its event"))?;
                    let event = view(row)?;
                    return Ok::<_, ApiError>((
                        Acted {
                            event,
                            created: false,
                        },
                        false,
                    ));
                }
            }
            let (row, queued) = match located.place {
                Place::Hosted(channel) => {
                    let done = act::message_action(
                        conn,
                        &host,
                        channel,
                        &actor,
                        &action,
                        &located.row,
                        Authored::Here,
                    )?;
                    (done.row, done.queued)
                }
                Place::LocalDm | Place::RemoteDm(..) => {
                    let target = &located.row;
                    let facts = facts(conn, target, &reactor_keys(&user_id, &me), now_ms())?;
                    judge(
                        action.kind,
                        Some(DM_PARTICIPANT),
                        facts,
                        host.edit_window_ms,
                    )
                    .map_err(|d| d.into_error("this conversation"))?;
                    let other = match &located.place {
                        Place::RemoteDm(handle, _) => handle.clone(),
                        _ if target.sender.eq_ignore_ascii_case(&me) => target.recipient.clone(),
                        _ => target.sender.clone(),
                    };
                    let draft = Draft::new(
                        target.room_id,
                        &me,
                        actor.user_id(),
                        &other,
                        action.kind,
                        action.body,
                    )
                    .with_meta(action.meta)
                    .targeting(Some(target.id.clone()));
                    let row = append_event(conn, draft, host.max_history)?;
                    let queued = match &located.place {
                        Place::RemoteDm(_, server) => {
                            queue_direct(
                                conn,
                                &host.keys,
                                host.server.as_str(),
                                server,
                                &view(row.clone())?,
                            )?;
                            true
                        }
                        _ => false,
                    };
                    (row, queued)
                }
                Place::Mirror(_) => {
                    return Err(ApiError::internal(
                        "a message of a channel hosted elsewhere is acted on through its host",
                    ))
                }
                Place::Own => return Err(policy::Denied::NotAMessage.into_error("")),
            };
            if let Some(user_id) = actor.user_id() {
                mark_active(conn, user_id)?;
            }
            let event = view(row)?;
            Ok((
                Acted {
                    event,
                    created: true,
                },
                queued,
            ))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    Ok(acted)
}

/// The user's current reaction with `emoji` to the message `id`: the id of its reaction event
/// (what a withdrawal deletes), or 404.
pub async fn my_reaction(
    state: &AppState,
    session: &Session,
    id: &str,
    emoji: &str,
) -> Result<String, ApiError> {
    let me = local_actor(state, session).handle().to_string();
    let (user_id, id, emoji) = (session.user_id.clone(), id.to_string(), emoji.to_string());
    state
        .db
        .run(move |conn| {
            let located = locate(conn, &user_id, &id)?;
            db::rich::reaction(conn, &located.row.id, &reactor_keys(&user_id, &me), &emoji)?
                .map(|r| r.event_id)
                .ok_or_else(|| {
                    ApiError::not_found("no_such_reaction", format!("you did not react {emoji}"))
                })
        })
        .await
}

/// `GET /api/v1/messages/{id}`: one message with its aggregates.
pub async fn get(state: &AppState, session: &Session, id: &str) -> Result<Event, ApiError> {
    let me = local_actor(state, session).handle().to_string();
    let (user_id, id) = (session.user_id.clone(), id.to_string());
    state
        .db
        .run(move |conn| {
            let located = locate(conn, &user_id, &id)?;
            message_views(conn, vec![located.row], &reactor_keys(&user_id, &me))?
                .pop()
                .ok_or_else(|| ApiError::internal("a view of one row is empty"))
        })
        .await
}

/// `GET /api/v1/messages/{id}/thread`: the root and its replies, oldest first, with their
/// aggregates.
pub async fn thread(
    state: &AppState,
    session: &Session,
    id: &str,
) -> Result<(Event, Vec<Event>), ApiError> {
    let me = local_actor(state, session).handle().to_string();
    let (user_id, id) = (session.user_id.clone(), id.to_string());
    state
        .db
        .run(move |conn| {
            let root = locate(conn, &user_id, &id)?.row;
            let replies = db::rich::replies(conn, root.room_id, &root.id, THREAD_MAX)?;
            let mut views = message_views(
                conn,
                std::iter::once(root).chain(replies).collect(),
                &reactor_keys(&user_id, &me),
            )?;
            let root = views.remove(0);
            Ok((root, views))
        })
        .await
}
