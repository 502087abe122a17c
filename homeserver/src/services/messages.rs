//! Sending messages to channels and users (local or on other servers), and reading history.

use std::sync::atomic::Ordering;

use federation_proto::api::client::{SendRequest, BODY_MAX_CHARS, HISTORY_MAX_LIMIT};
use federation_proto::event::{Event, EventKind};
use federation_proto::ids::{ChannelName, Target, UserHandle};

use super::accounts::{mark_active, Session};
use super::channels::{for_history, for_send, local_actor, local_channel};
use super::events::{append_event, message_views, reactor_keys, view, Draft};
use super::fanout::{fan_out, queue_direct};
use super::now_ms;
use super::rich::check_reply_to;
use crate::db::models::UserRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Largest `meta` object, in bytes of JSON.
pub const META_MAX_BYTES: usize = 16 * 1024;
/// Longest `txn_id`.
pub const TXN_ID_MAX: usize = 128;
/// Default history page.
const HISTORY_DEFAULT_LIMIT: u32 = 50;

/// Key of the DM conversation between two local users (order-independent).
pub fn dm_room_key(a: &str, b: &str) -> String {
    let (lo, hi) = if a <= b { (a, b) } else { (b, a) };
    format!("dm:{lo}:{hi}")
}

/// Key of the DM conversation between a local user and a user of another server.
pub fn dm_room_key_remote(local_user_id: &str, remote_handle: &str) -> String {
    format!("dm:{local_user_id}:{remote_handle}")
}

/// Checks a body: not empty, no NUL character, within the size limits (`MAX_MESSAGE_SIZE`
/// bytes, 10,000 characters).
pub fn check_body(state: &AppState, body: &str) -> Result<(), ApiError> {
    if body.is_empty() {
        return Err(ApiError::bad_request(
            "empty_body",
            "a message needs a body",
        ));
    }
    // Postgres text cannot hold NUL; no chat client sends one.
    if body.contains('\0') {
        return Err(ApiError::bad_request(
            "invalid_body",
            "a body may not contain the NUL character",
        ));
    }
    let max_bytes = usize::try_from(state.config.max_message_size).unwrap_or(usize::MAX);
    if body.len() > max_bytes || body.chars().count() > BODY_MAX_CHARS {
        return Err(ApiError::too_large(
            "message_too_large",
            format!("a body is at most {BODY_MAX_CHARS} characters and {max_bytes} bytes"),
        ));
    }
    Ok(())
}

/// Checks that `meta` is an object within the size limit.
pub fn check_meta(meta: &serde_json::Value) -> Result<(), ApiError> {
    if !meta.is_object() {
        return Err(ApiError::bad_request(
            "invalid_meta",
            "meta must be a JSON object",
        ));
    }
    if meta.to_string().len() > META_MAX_BYTES {
        return Err(ApiError::too_large(
            "meta_too_large",
            format!("meta is at most {META_MAX_BYTES} bytes of JSON"),
        ));
    }
    Ok(())
}

/// Where a message goes, resolved.
enum Destination {
    /// A channel hosted here.
    Channel(ChannelName),
    /// A channel hosted by another server.
    RemoteChannel(ChannelName),
    /// A user of this server.
    LocalUser(UserHandle),
    /// A user of another server: `(qualified handle, server)`.
    RemoteUser(String, String),
}

fn resolve(state: &AppState, target: &Target) -> Result<Destination, ApiError> {
    match target {
        Target::Channel(channel) if !channel.is_local_to(&state.server_name) => {
            Ok(Destination::RemoteChannel(channel.clone()))
        }
        Target::Channel(raw) => Ok(Destination::Channel(local_channel(
            state,
            &raw.to_string(),
        )?)),
        Target::User(handle) if handle.is_local_to(&state.server_name) => {
            Ok(Destination::LocalUser(handle.clone()))
        }
        Target::User(handle) => {
            let server = handle
                .server
                .as_ref()
                .map(ToString::to_string)
                .unwrap_or_default();
            Ok(Destination::RemoteUser(handle.to_string(), server))
        }
    }
}

/// A conversation a target names, resolved without the database (see [`RoomRef::room_id`]).
pub struct RoomRef(Destination);

/// Resolves `target` to the conversation it names (search's `in`).
pub fn room_ref(state: &AppState, target: &Target) -> Result<RoomRef, ApiError> {
    resolve(state, target).map(RoomRef)
}

impl RoomRef {
    /// Its room for `user_id` (a channel hosted here, the mirror of one hosted elsewhere, or
    /// their DM with a user), `None` when there is none. No permission check: the caller reads
    /// only within the user's delivery windows (search).
    pub fn room_id(&self, conn: &mut Conn, user_id: &str) -> Result<Option<i64>, ApiError> {
        Ok(match &self.0 {
            Destination::Channel(channel) => {
                db::channels::by_name(conn, &channel.name)?.map(|row| row.room_id)
            }
            Destination::RemoteChannel(channel) => {
                db::shared::mirror_by_channel(conn, &channel.to_string())?.map(|m| m.room_id)
            }
            Destination::LocalUser(handle) => match db::users::by_nick(conn, handle.nick.as_str())?
            {
                Some(peer) => db::events::room_id(conn, &dm_room_key(user_id, &peer.id))?,
                None => None,
            },
            Destination::RemoteUser(handle, _) => {
                db::events::room_id(conn, &dm_room_key_remote(user_id, handle))?
            }
        })
    }
}

/// A live peer, or 404 `unknown_server`.
fn require_peer(conn: &mut Conn, server: &str) -> Result<(), ApiError> {
    match db::peers::get(conn, server)? {
        Some(peer) if peer.status == "up" => Ok(()),
        _ => Err(ApiError::not_found(
            "unknown_server",
            format!("{server} is not a known peer of this server"),
        )),
    }
}

/// A validated send request.
pub struct Outgoing {
    /// Where it goes.
    pub target: Target,
    /// `message`, `action` or `notice`.
    pub kind: EventKind,
    /// The text.
    pub body: String,
    /// The client's object.
    pub meta: serde_json::Value,
    /// The message it answers.
    pub reply_to: Option<String>,
    /// The device's idempotency key.
    pub txn_id: Option<String>,
    /// Media ids the sender uploaded (well-formed, at most 10; ownership is checked in the
    /// send's write).
    pub attachments: Vec<String>,
}

/// Checks a send request's fields.
pub fn validate(state: &AppState, req: SendRequest) -> Result<Outgoing, ApiError> {
    let target: Target = req.to.parse()?;
    let kind = match req.kind.as_deref() {
        None => EventKind::Message,
        Some(name) => EventKind::parse(name)
            .filter(|k| k.is_user_sendable())
            .ok_or_else(|| {
                ApiError::bad_request(
                    "invalid_type",
                    format!("type {name:?} cannot be sent; use message, action or notice"),
                )
            })?,
    };
    check_body(state, &req.body)?;
    let meta = match req.meta {
        None | Some(serde_json::Value::Null) => serde_json::Value::Object(Default::default()),
        Some(meta) => meta,
    };
    check_meta(&meta)?;
    let reply_to = match req.reply_to {
        Some(id) => Some(
            uuid::Uuid::parse_str(&id)
                .map_err(|_| {
                    ApiError::bad_request("invalid_reply_to", "reply_to must be an event id")
                })?
                .to_string(),
        ),
        None => None,
    };
    if let Some(txn) = &req.txn_id {
        if txn.is_empty() || txn.len() > TXN_ID_MAX {
            return Err(ApiError::bad_request(
                "invalid_txn_id",
                format!("txn_id is 1-{TXN_ID_MAX} bytes"),
            ));
        }
    }
    let attachments = super::media::parse_attachments(req.attachments)?;
    Ok(Outgoing {
        target,
        kind,
        body: req.body,
        meta,
        reply_to,
        txn_id: req.txn_id,
        attachments,
    })
}

fn local_user_by_handle(conn: &mut Conn, handle: &UserHandle) -> Result<UserRow, ApiError> {
    db::users::by_nick(conn, handle.nick.as_str())?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {handle}")))
}

/// `POST /api/v1/messages` to a channel hosted here or to a user (of this server or another):
/// stores the event and wakes its recipients. A repeated `txn_id` from the same device answers
/// with the first result and stores nothing. (A channel hosted elsewhere is sent through its
/// host: `federation::mirror::send`.)
pub async fn send(state: &AppState, session: &Session, out: Outgoing) -> Result<Event, ApiError> {
    let destination = resolve(state, &out.target)?;
    if let Destination::RemoteChannel(channel) = &destination {
        return Err(ApiError::internal(format!(
            "{channel} is hosted elsewhere: send through its host"
        )));
    }
    let actor = local_actor(state, session);
    let server = state.server_name.clone();
    let max_history = state.config.max_history;
    let keys = state.keys.clone();
    let session = session.clone();
    let (event, queued) = state
        .db
        .write_appending(move |conn| {
            // A send changes no channel, membership, ban, mute or remote membership: what it
            // reads of them may serve the next send (`db::rule_cache`). Keep it that way.
            // It checks everything before its first change (an appending write,
            // `db::appends`); the DM branches, which change before the last checks, say so.
            db::rule_cache::keep_for_this_write();
            if let Some(txn_id) = &out.txn_id {
                if let Some(stored) = db::devices::txn_response(conn, &session.device_id, txn_id)? {
                    let event: Event = serde_json::from_str(&stored).map_err(ApiError::internal)?;
                    return Ok::<_, ApiError>((event, false));
                }
            }
            let sender = format!("{}@{}", session.nick, server);
            let mut hosted = None;
            let (room_id, to) = match &destination {
                Destination::Channel(channel) => {
                    let row = for_send(conn, &channel.name, &actor)?;
                    let at = (row.room_id, format!("#{}@{}", row.name, server));
                    hosted = Some(row);
                    at
                }
                Destination::RemoteChannel(_) => {
                    return Err(ApiError::internal("a remote channel in a local send"))
                }
                Destination::LocalUser(handle) => {
                    let peer = local_user_by_handle(conn, handle)?;
                    super::blocks::check_dm(conn, &peer.id, &sender)?;
                    // Changes ahead of the reply and attachment checks below.
                    db::appends::changes(conn)?;
                    let room_id = db::events::ensure_room(
                        conn,
                        &dm_room_key(&session.user_id, &peer.id),
                        "dm",
                    )?;
                    db::events::open_span(conn, &session.user_id, room_id, 0)?;
                    db::events::open_span(conn, &peer.id, room_id, 0)?;
                    (room_id, format!("{}@{}", peer.nick, server))
                }
                Destination::RemoteUser(handle, peer_server) => {
                    require_peer(conn, peer_server)?;
                    db::appends::changes(conn)?;
                    let room_id = db::events::ensure_room(
                        conn,
                        &dm_room_key_remote(&session.user_id, handle),
                        "dm",
                    )?;
                    db::events::open_span(conn, &session.user_id, room_id, 0)?;
                    (room_id, handle.clone())
                }
            };
            if let Some(reply_to) = &out.reply_to {
                check_reply_to(conn, room_id, reply_to)?;
            }
            super::media::check_attachments(conn, &session.user_id, &out.attachments)?;
            let draft = Draft::new(
                room_id,
                &sender,
                Some(&session.user_id),
                &to,
                out.kind,
                out.body,
            )
            .with_meta(out.meta)
            .replying_to(out.reply_to)
            .with_attachments(out.attachments);
            let row = append_event(conn, draft, max_history)?;
            let mut queued = match &hosted {
                Some(channel) => fan_out(conn, &keys, server.as_str(), channel, &row, None)?,
                None => false,
            };
            let event = view(row)?;
            if let Destination::RemoteUser(_, peer_server) = &destination {
                // Signed now and queued in the same transaction: the send is durable.
                queue_direct(conn, &keys, server.as_str(), peer_server, &event)?;
                queued = true;
            }
            if let Some(txn_id) = &out.txn_id {
                let stored = serde_json::to_string(&event).map_err(ApiError::internal)?;
                db::devices::save_txn(conn, &session.device_id, txn_id, &stored, now_ms())?;
            }
            mark_active(conn, &session.user_id)?;
            Ok((event, queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    state.metrics.sends.fetch_add(1, Ordering::Relaxed);
    Ok(event)
}

/// `GET /api/v1/history`: a channel's or DM's stored events, newest first; messages with
/// their aggregates.
pub async fn history(
    state: &AppState,
    session: &Session,
    target: &str,
    before: Option<i64>,
    after: Option<i64>,
    limit: Option<u32>,
) -> Result<Vec<Event>, ApiError> {
    let target: Target = target.parse()?;
    let limit = i64::from(
        limit
            .unwrap_or(HISTORY_DEFAULT_LIMIT)
            .clamp(1, HISTORY_MAX_LIMIT),
    );
    let destination = resolve(state, &target)?;
    let user_id = session.user_id.clone();
    let actor = local_actor(state, session);
    let me = actor.handle().to_string();
    state
        .db
        .run(move |conn| {
            let room_id = match &destination {
                Destination::Channel(channel) => {
                    Some(for_history(conn, &channel.name, &actor)?.room_id)
                }
                Destination::RemoteChannel(channel) => {
                    let global = channel.to_string();
                    match db::shared::mirror_by_channel(conn, &global)? {
                        Some(m) if db::events::has_open_span(conn, &user_id, m.room_id)? => {
                            Some(m.room_id)
                        }
                        _ => {
                            return Err(ApiError::forbidden(
                                "not_member",
                                format!("join {global} to read its history"),
                            ))
                        }
                    }
                }
                Destination::LocalUser(handle) => {
                    let peer = local_user_by_handle(conn, handle)?;
                    db::events::room_id(conn, &dm_room_key(&user_id, &peer.id))?
                }
                Destination::RemoteUser(handle, _) => {
                    db::events::room_id(conn, &dm_room_key_remote(&user_id, handle))?
                }
            };
            match room_id {
                Some(room_id) => {
                    let rows = db::events::history(conn, room_id, before, after, limit)?;
                    message_views(conn, rows, &reactor_keys(&user_id, &me))
                }
                None => Ok(Vec::new()),
            }
        })
        .await
}
