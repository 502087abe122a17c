//! Channels with IRC semantics: joining a channel that does not exist creates it with the
//! joiner as owner; part, topic, modes, invite and kick; info and lists. Every change is an
//! event in the channel, committed in the same transaction as the change.

use federation_proto::api::client::{ChannelInfo, ChannelMember, ChannelSummary};
use federation_proto::event::EventKind;
use federation_proto::ids::{ChannelName, ServerName};
use federation_proto::time::format_rfc3339_ms;

use super::accounts::{mark_active, user_room_key, Session};
use super::events::{append_event, view, Draft};
use super::messages::dm_room_key_remote;
use super::modes::{self, MemberMode, ModeChange};
use super::now_ms;
use crate::db::models::{ChannelRow, MemberRow, UserRow};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::federation::hosting::fan_out;
use crate::federation::mirror;
use crate::keystore::KeyStore;
use crate::state::AppState;
use federation_proto::signing::hash_and_sign_event;
use std::sync::Arc;

/// Longest topic, in characters.
pub const TOPIC_MAX: usize = 1000;
/// Longest part or kick reason, in characters.
pub const REASON_MAX: usize = 500;
/// Most channels listed at once.
const LIST_MAX: i64 = 1000;

/// Key of a channel's room.
fn channel_room_key(name: &str) -> String {
    format!("chan:{name}")
}

/// Parses a channel name as written in a body or a path (`#name`, `name`, `%23name`, with an
/// optional `@host`).
pub fn parse_channel(raw: &str) -> Result<ChannelName, ApiError> {
    Ok(raw.replace("%23", "#").parse()?)
}

/// The channel if it is hosted elsewhere (`None` when it is hosted here).
pub fn remote_channel(state: &AppState, raw: &str) -> Result<Option<ChannelName>, ApiError> {
    let channel = parse_channel(raw)?;
    Ok((!channel.is_local_to(&state.server_name)).then_some(channel))
}

/// Parses a channel name and checks that it is hosted here.
pub fn local_channel(state: &AppState, raw: &str) -> Result<ChannelName, ApiError> {
    let channel = parse_channel(raw)?;
    if !channel.is_local_to(&state.server_name) {
        return Err(ApiError::not_found(
            "unknown_server",
            format!("{channel} is hosted on another server and this server has no federation link to it"),
        ));
    }
    Ok(channel)
}

fn no_such_channel(channel: &str) -> ApiError {
    ApiError::not_found("no_such_channel", format!("no channel {channel}"))
}

fn check_reason(reason: Option<String>) -> Result<String, ApiError> {
    let reason = reason.unwrap_or_default();
    if reason.chars().count() > REASON_MAX {
        return Err(ApiError::bad_request(
            "reason_too_long",
            format!("a reason is at most {REASON_MAX} characters"),
        ));
    }
    Ok(reason)
}

/// Loads a channel or 404.
pub fn load_channel(conn: &mut Conn, name: &str) -> Result<ChannelRow, ApiError> {
    db::channels::by_name(conn, name)?.ok_or_else(|| no_such_channel(&format!("#{name}")))
}

/// The caller's membership or 403.
fn require_member(
    conn: &mut Conn,
    channel: &ChannelRow,
    user_id: &str,
) -> Result<MemberRow, ApiError> {
    db::channels::member(conn, channel.room_id, user_id)?.ok_or_else(|| {
        ApiError::forbidden("not_member", format!("you are not in #{}", channel.name))
    })
}

/// The caller's membership as an operator, or 403.
fn require_op(conn: &mut Conn, channel: &ChannelRow, user_id: &str) -> Result<MemberRow, ApiError> {
    let member = require_member(conn, channel, user_id)?;
    if !member.is_op {
        return Err(ApiError::forbidden(
            "chanop_required",
            format!("you are not an operator of #{}", channel.name),
        ));
    }
    Ok(member)
}

fn local_user(conn: &mut Conn, state_server: &ServerName, nick: &str) -> Result<UserRow, ApiError> {
    let handle: federation_proto::ids::UserHandle = nick.parse()?;
    if !handle.is_local_to(state_server) {
        return Err(ApiError::not_found(
            "unknown_user",
            format!("{handle} is not a user of this server"),
        ));
    }
    db::users::by_nick(conn, handle.nick.as_str())?
        .ok_or_else(|| ApiError::not_found("unknown_user", format!("no user {nick}")))
}

/// `Some(nick@server)` when `who` names a user of another server.
fn remote_handle(local: &ServerName, who: &str) -> Result<Option<String>, ApiError> {
    let handle: federation_proto::ids::UserHandle = who.parse()?;
    Ok((!handle.is_local_to(local)).then(|| handle.to_string()))
}

/// Sets `+o`/`+v` of a member on another server; ownership stays with local users.
fn set_remote_member_mode(
    conn: &mut Conn,
    row: &ChannelRow,
    handle: &str,
    mode: MemberMode,
    on: bool,
) -> Result<String, ApiError> {
    let member = db::shared::remote_member(conn, row.room_id, handle)?.ok_or_else(|| {
        ApiError::not_found(
            "not_in_channel",
            format!("{handle} is not in #{}", row.name),
        )
    })?;
    let (is_op, is_voice) = match mode {
        MemberMode::Op => (on, member.is_voice),
        MemberMode::Voice => (member.is_op, on),
        MemberMode::Owner => {
            return Err(ApiError::bad_request(
                "invalid_mode",
                "ownership passes only to a user of the channel's host",
            ))
        }
    };
    db::shared::set_remote_member_modes(conn, row.room_id, handle, is_op, is_voice)?;
    Ok(modes::describe(&ModeChange::Member(
        mode,
        on,
        handle.to_string(),
    )))
}

/// Context shared by the write closures.
#[derive(Clone)]
struct Ctx {
    server: ServerName,
    max_history: i64,
    session: Session,
    keys: Arc<KeyStore>,
}

impl Ctx {
    fn new(state: &AppState, session: &Session) -> Ctx {
        Ctx {
            server: state.server_name.clone(),
            max_history: state.config.max_history,
            session: session.clone(),
            keys: state.keys.clone(),
        }
    }
    fn handle(&self) -> String {
        format!("{}@{}", self.session.nick, self.server)
    }
    fn global(&self, channel: &ChannelRow) -> String {
        format!("#{}@{}", channel.name, self.server)
    }
    /// Appends a channel event from the caller.
    fn emit(
        &self,
        conn: &mut Conn,
        channel: &ChannelRow,
        kind: EventKind,
        body: impl Into<String>,
        meta: serde_json::Value,
        out: &mut Outcome,
    ) -> Result<i64, ApiError> {
        let draft = Draft::new(
            channel.room_id,
            &self.handle(),
            Some(&self.session.user_id),
            &self.global(channel),
            kind,
            body,
        )
        .with_meta(meta);
        let row = append_event(conn, draft, self.max_history)?;
        // Member servers of this channel get the sequenced envelope (and a server whose user
        // was just removed, so it hears it).
        let also = out.also_relay_to.take();
        out.queued |= fan_out(
            conn,
            &self.keys,
            self.server.as_str(),
            channel,
            &row,
            also.as_deref(),
        )?;
        Ok(row.seq)
    }
}

/// What to do after a write commits (its events reach long-polls through the commit journal).
#[derive(Default)]
struct Outcome {
    queued: bool,
    also_relay_to: Option<String>,
}

impl Outcome {
    fn notify(self, state: &AppState) {
        if self.queued {
            state.federation.outbox_wake.notify_one();
        }
    }
}

/// `POST /api/v1/channels/join`
pub async fn join(
    state: &AppState,
    session: &Session,
    raw: &str,
    key: Option<String>,
) -> Result<ChannelInfo, ApiError> {
    if let Some(remote) = remote_channel(state, raw)? {
        return mirror::join(state, session, &remote, key).await;
    }
    let channel = local_channel(state, raw)?;
    let ctx = Ctx::new(state, session);
    let (info, outcome) = state
        .db
        .write(move |conn| {
            let mut out = Outcome::default();
            let now = now_ms();
            let user_id = ctx.session.user_id.clone();
            let existing = db::channels::by_name(conn, &channel.name)?;
            let (row, is_op) = match existing {
                Some(row) => {
                    if db::channels::member(conn, row.room_id, &user_id)?.is_some() {
                        let info = info_of(conn, &ctx.server, &row, true)?;
                        return Ok((info, out));
                    }
                    let invited = db::channels::has_invite(conn, row.room_id, &user_id)?;
                    if row.mode_invite_only && !invited {
                        return Err(ApiError::forbidden(
                            "invite_only",
                            format!("#{} is invite-only (+i)", row.name),
                        ));
                    }
                    if let Some(chan_key) = &row.chan_key {
                        if key.as_deref() != Some(chan_key.as_str()) {
                            return Err(ApiError::forbidden(
                                "bad_channel_key",
                                format!("#{} needs the right key (+k)", row.name),
                            ));
                        }
                    }
                    if let Some(limit) = row.user_limit {
                        if db::channels::member_count(conn, row.room_id)? >= limit {
                            return Err(ApiError::forbidden(
                                "channel_full",
                                format!("#{} is full (+l {limit})", row.name),
                            ));
                        }
                    }
                    if invited {
                        db::channels::remove_invite(conn, row.room_id, &user_id)?;
                    }
                    (row, false)
                }
                None => {
                    let room_id =
                        db::events::ensure_room(conn, &channel_room_key(&channel.name), "channel")?;
                    let row = ChannelRow {
                        room_id,
                        name: channel.name.clone(),
                        topic: String::new(),
                        topic_set_by: None,
                        topic_set_ms: None,
                        owner_id: user_id.clone(),
                        created_ms: now,
                        mode_invite_only: false,
                        mode_moderated: false,
                        mode_secret: false,
                        mode_topic_ops: true,
                        mode_no_external: true,
                        chan_key: None,
                        user_limit: None,
                    };
                    db::channels::insert(conn, &row)?;
                    (row, true)
                }
            };
            db::channels::add_member(
                conn,
                &MemberRow {
                    room_id: row.room_id,
                    user_id: user_id.clone(),
                    is_op,
                    is_voice: false,
                    joined_ms: now,
                },
            )?;
            // The window opens before the join event so the joiner receives it too.
            let next_seq = db::events::max_seq(conn)? + 1;
            db::events::open_span(conn, &user_id, row.room_id, next_seq)?;
            ctx.emit(
                conn,
                &row,
                EventKind::Join,
                "",
                serde_json::json!({}),
                &mut out,
            )?;
            mark_active(conn, &user_id)?;
            let info = info_of(conn, &ctx.server, &row, true)?;
            Ok((info, out))
        })
        .await?;
    outcome.notify(state);
    Ok(info)
}

/// `POST /api/v1/channels/part`
pub async fn part(
    state: &AppState,
    session: &Session,
    raw: &str,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let reason = check_reason(reason)?;
    if let Some(remote) = remote_channel(state, raw)? {
        return mirror::part(state, session, &remote, reason).await;
    }
    let channel = local_channel(state, raw)?;
    let ctx = Ctx::new(state, session);
    let outcome = state
        .db
        .write(move |conn| {
            let mut out = Outcome::default();
            let row = load_channel(conn, &channel.name)?;
            require_member(conn, &row, &ctx.session.user_id)?;
            let seq = ctx.emit(
                conn,
                &row,
                EventKind::Part,
                reason,
                serde_json::json!({}),
                &mut out,
            )?;
            db::channels::remove_member(conn, row.room_id, &ctx.session.user_id)?;
            db::events::close_span(conn, &ctx.session.user_id, row.room_id, seq)?;
            mark_active(conn, &ctx.session.user_id)?;
            Ok::<_, ApiError>(out)
        })
        .await?;
    outcome.notify(state);
    Ok(())
}

/// `POST /api/v1/channels/{name}/topic`
pub async fn set_topic(
    state: &AppState,
    session: &Session,
    raw: &str,
    topic: String,
) -> Result<ChannelInfo, ApiError> {
    check_topic(&topic)?;
    if let Some(remote) = remote_channel(state, raw)? {
        mirror::act(
            state,
            session,
            &remote,
            EventKind::Topic,
            &topic,
            serde_json::json!({}),
        )
        .await?;
        return mirror::info(state, &remote).await;
    }
    let channel = local_channel(state, raw)?;
    let ctx = Ctx::new(state, session);
    let (info, outcome) = state
        .db
        .write(move |conn| {
            let mut out = Outcome::default();
            let mut row = load_channel(conn, &channel.name)?;
            let member = require_member(conn, &row, &ctx.session.user_id)?;
            if row.mode_topic_ops && !member.is_op {
                return Err(ApiError::forbidden(
                    "chanop_required",
                    format!("only operators set the topic of #{} (+t)", row.name),
                ));
            }
            row.topic = topic.clone();
            row.topic_set_by = Some(ctx.handle());
            row.topic_set_ms = Some(now_ms());
            db::channels::update(conn, &row)?;
            ctx.emit(
                conn,
                &row,
                EventKind::Topic,
                topic,
                serde_json::json!({}),
                &mut out,
            )?;
            mark_active(conn, &ctx.session.user_id)?;
            Ok((info_of(conn, &ctx.server, &row, true)?, out))
        })
        .await?;
    outcome.notify(state);
    Ok(info)
}

/// `POST /api/v1/channels/{name}/mode`
pub async fn set_modes(
    state: &AppState,
    session: &Session,
    raw: &str,
    modes_text: &str,
    nick: Option<String>,
    arg: Option<String>,
) -> Result<ChannelInfo, ApiError> {
    let changes = modes::parse(modes_text, nick.as_deref(), arg.as_deref())
        .map_err(|e| ApiError::bad_request("invalid_mode", e.to_string()))?;
    if let Some(remote) = remote_channel(state, raw)? {
        let meta = serde_json::json!({"nick": nick, "arg": arg});
        mirror::act(state, session, &remote, EventKind::Mode, modes_text, meta).await?;
        return mirror::info(state, &remote).await;
    }
    let channel = local_channel(state, raw)?;
    let ctx = Ctx::new(state, session);
    let (info, outcome) = state
        .db
        .write(move |conn| {
            let mut out = Outcome::default();
            let mut row = load_channel(conn, &channel.name)?;
            require_op(conn, &row, &ctx.session.user_id)?;
            let caller = ctx.session.user_id.clone();
            let announced =
                apply_mode_changes(conn, &ctx.server, &mut row, &changes, Some(&caller))?;
            let meta = serde_json::json!({"modes": modes::render(&row, false)});
            ctx.emit(conn, &row, EventKind::Mode, announced, meta, &mut out)?;
            mark_active(conn, &ctx.session.user_id)?;
            Ok::<_, ApiError>((info_of(conn, &ctx.server, &row, true)?, out))
        })
        .await?;
    outcome.notify(state);
    Ok(info)
}

/// Applies mode changes made by an operator (`caller` is the local operator's user id, `None`
/// for an operator on another server) and saves them; returns the announcement text.
pub fn apply_mode_changes(
    conn: &mut Conn,
    server: &ServerName,
    row: &mut ChannelRow,
    changes: &[ModeChange],
    caller: Option<&str>,
) -> Result<String, ApiError> {
    let caller_is_owner = caller == Some(row.owner_id.as_str());
    let mut announced = Vec::new();
    let mut channel_changed = false;
    for change in changes {
        if let ModeChange::Member(mode, on, who) = change {
            if let Some(handle) = remote_handle(server, who)? {
                announced.push(set_remote_member_mode(conn, row, &handle, *mode, *on)?);
                continue;
            }
            let target = local_user(conn, server, who)?;
            let member = db::channels::member(conn, row.room_id, &target.id)?.ok_or_else(|| {
                ApiError::not_found("not_in_channel", format!("{who} is not in #{}", row.name))
            })?;
            let is_owner = target.id == row.owner_id;
            let (mut is_op, mut is_voice) = (member.is_op, member.is_voice);
            match mode {
                MemberMode::Op if !on && is_owner && !caller_is_owner => {
                    return Err(ApiError::forbidden(
                        "cannot_deop_owner",
                        format!("the owner of #{} cannot be de-opped", row.name),
                    ));
                }
                MemberMode::Op => is_op = *on,
                MemberMode::Voice => is_voice = *on,
                MemberMode::Owner => {
                    if !caller_is_owner {
                        return Err(ApiError::forbidden(
                            "owner_required",
                            format!("only the owner of #{} can transfer it", row.name),
                        ));
                    }
                    row.owner_id = target.id.clone();
                    is_op = true;
                    channel_changed = true;
                }
            }
            db::channels::set_member_modes(conn, row.room_id, &target.id, is_op, is_voice)?;
            announced.push(modes::describe(&ModeChange::Member(
                *mode,
                *on,
                target.nick.clone(),
            )));
        } else {
            modes::apply(row, change);
            channel_changed = true;
            announced.push(modes::describe(change));
        }
    }
    if channel_changed {
        db::channels::update(conn, row)?;
    }
    Ok(announced.join(" "))
}

/// The member a kick removes.
pub enum KickTarget {
    /// A user of this server.
    Local {
        /// Their id.
        user_id: String,
        /// `nick@server`.
        handle: String,
    },
    /// A member on another server (already removed from `remote_members`).
    Remote {
        /// `nick@server`.
        handle: String,
        /// Their server, which must hear the kick.
        server: String,
    },
}

/// Checks that `nick` may be kicked from the channel by an operator (`caller_is_owner` for the
/// owner) and, for a remote member, removes them.
pub fn kick_target(
    conn: &mut Conn,
    server: &ServerName,
    row: &ChannelRow,
    nick: &str,
    caller_is_owner: bool,
) -> Result<KickTarget, ApiError> {
    if let Some(handle) = remote_handle(server, nick)? {
        let member = db::shared::remote_member(conn, row.room_id, &handle)?.ok_or_else(|| {
            ApiError::not_found(
                "not_in_channel",
                format!("{handle} is not in #{}", row.name),
            )
        })?;
        db::shared::remove_remote_member(conn, row.room_id, &handle)?;
        return Ok(KickTarget::Remote {
            handle,
            server: member.server,
        });
    }
    let target = local_user(conn, server, nick)?;
    if db::channels::member(conn, row.room_id, &target.id)?.is_none() {
        return Err(ApiError::not_found(
            "not_in_channel",
            format!("{} is not in #{}", target.nick, row.name),
        ));
    }
    if target.id == row.owner_id && !caller_is_owner {
        return Err(ApiError::forbidden(
            "cannot_kick_owner",
            format!("the owner of #{} cannot be kicked", row.name),
        ));
    }
    Ok(KickTarget::Local {
        handle: format!("{}@{server}", target.nick),
        user_id: target.id,
    })
}

/// Completes a kick of a local user once the kick event (`seq`) is appended.
pub fn finish_kick(
    conn: &mut Conn,
    row: &ChannelRow,
    target: &KickTarget,
    seq: i64,
) -> Result<(), ApiError> {
    if let KickTarget::Local { user_id, .. } = target {
        db::channels::remove_member(conn, row.room_id, user_id)?;
        db::events::close_span(conn, user_id, row.room_id, seq)?;
    }
    Ok(())
}

/// A valid topic, or 400.
pub fn check_topic(topic: &str) -> Result<(), ApiError> {
    if topic.chars().count() > TOPIC_MAX || topic.chars().any(|c| c.is_control()) {
        return Err(ApiError::bad_request(
            "invalid_topic",
            format!("a topic is at most {TOPIC_MAX} characters without control characters"),
        ));
    }
    Ok(())
}

/// `POST /api/v1/channels/{name}/invite`: lets a user past `+i` and tells them.
pub async fn invite(
    state: &AppState,
    session: &Session,
    raw: &str,
    nick: &str,
) -> Result<(), ApiError> {
    let channel = local_channel(state, raw)?;
    let nick = nick.to_string();
    let ctx = Ctx::new(state, session);
    let outcome = state
        .db
        .write(move |conn| {
            let mut out = Outcome::default();
            let row = load_channel(conn, &channel.name)?;
            let member = require_member(conn, &row, &ctx.session.user_id)?;
            if row.mode_invite_only && !member.is_op {
                return Err(ApiError::forbidden(
                    "chanop_required",
                    format!("only operators invite to #{} (+i)", row.name),
                ));
            }
            if let Some(handle) = remote_handle(&ctx.server, &nick)? {
                invite_remote(conn, &ctx, &row, &handle)?;
                out.queued = true;
                return Ok(out);
            }
            let target = local_user(conn, &ctx.server, &nick)?;
            if db::channels::member(conn, row.room_id, &target.id)?.is_some() {
                return Err(ApiError::conflict(
                    "already_member",
                    format!("{} is already in #{}", target.nick, row.name),
                ));
            }
            db::channels::add_invite(
                conn,
                row.room_id,
                &target.id,
                &ctx.session.user_id,
                now_ms(),
            )?;
            let target_handle = format!("{}@{}", target.nick, ctx.server);
            let own_room = db::events::ensure_room(conn, &user_room_key(&target.id), "user")?;
            let draft = Draft::new(
                own_room,
                &ctx.handle(),
                Some(&ctx.session.user_id),
                &target_handle,
                EventKind::Invite,
                ctx.global(&row),
            )
            .with_meta(serde_json::json!({"channel": ctx.global(&row)}));
            append_event(conn, draft, ctx.max_history)?;
            Ok::<_, ApiError>(out)
        })
        .await?;
    outcome.notify(state);
    Ok(())
}

/// Invites a user of another server: the invitation is recorded here (their server's join is
/// checked against it) and an `invite` event, signed by this server, goes to their server,
/// which shows it to them. The inviter's conversation with them keeps a copy.
fn invite_remote(
    conn: &mut Conn,
    ctx: &Ctx,
    row: &ChannelRow,
    handle: &str,
) -> Result<(), ApiError> {
    if db::shared::remote_member(conn, row.room_id, handle)?.is_some() {
        return Err(ApiError::conflict(
            "already_member",
            format!("{handle} is already in #{}", row.name),
        ));
    }
    let server = handle.rsplit('@').next().unwrap_or_default().to_string();
    match db::peers::get(conn, &server)? {
        Some(peer) if peer.status == "up" => {}
        _ => {
            return Err(ApiError::not_found(
                "unknown_server",
                format!("{server} is not a known peer of this server"),
            ))
        }
    }
    db::shared::add_remote_invite(conn, row.room_id, handle, &ctx.session.user_id, now_ms())?;
    let room = db::events::ensure_room(
        conn,
        &dm_room_key_remote(&ctx.session.user_id, handle),
        "dm",
    )?;
    db::events::open_span(conn, &ctx.session.user_id, room, 0)?;
    let draft = Draft::new(
        room,
        &ctx.handle(),
        Some(&ctx.session.user_id),
        handle,
        EventKind::Invite,
        ctx.global(row),
    )
    .with_meta(serde_json::json!({"channel": ctx.global(row)}));
    let row_ev = append_event(conn, draft, ctx.max_history)?;
    let event = view(row_ev)?;
    let mut wire = serde_json::to_value(&event).map_err(ApiError::internal)?;
    hash_and_sign_event(&mut wire, ctx.server.as_str(), ctx.keys.current())
        .map_err(ApiError::internal)?;
    db::outbox::enqueue(
        conn,
        &server,
        &event.id.to_string(),
        &wire.to_string(),
        now_ms(),
    )?;
    Ok(())
}

/// `POST /api/v1/channels/{name}/kick`
pub async fn kick(
    state: &AppState,
    session: &Session,
    raw: &str,
    nick: &str,
    reason: Option<String>,
) -> Result<(), ApiError> {
    let reason = check_reason(reason)?;
    if let Some(remote) = remote_channel(state, raw)? {
        let meta = serde_json::json!({"nick": nick});
        return mirror::act(state, session, &remote, EventKind::Kick, &reason, meta).await;
    }
    let channel = local_channel(state, raw)?;
    let nick = nick.to_string();
    let ctx = Ctx::new(state, session);
    let outcome = state
        .db
        .write(move |conn| {
            let mut out = Outcome::default();
            let row = load_channel(conn, &channel.name)?;
            require_op(conn, &row, &ctx.session.user_id)?;
            let caller_is_owner = ctx.session.user_id == row.owner_id;
            let target = kick_target(conn, &ctx.server, &row, &nick, caller_is_owner)?;
            let handle = match &target {
                KickTarget::Local { handle, .. } => handle.clone(),
                KickTarget::Remote { handle, server } => {
                    // Its server must hear the kick even if it has no members left.
                    out.also_relay_to = Some(server.clone());
                    handle.clone()
                }
            };
            let meta = serde_json::json!({"nick": handle});
            let seq = ctx.emit(conn, &row, EventKind::Kick, reason, meta, &mut out)?;
            finish_kick(conn, &row, &target, seq)?;
            Ok::<_, ApiError>(out)
        })
        .await?;
    outcome.notify(state);
    Ok(())
}

/// `GET /api/v1/channels/{name}`: a secret channel is invisible to non-members.
pub async fn info(state: &AppState, session: &Session, raw: &str) -> Result<ChannelInfo, ApiError> {
    if let Some(remote) = remote_channel(state, raw)? {
        return mirror::info(state, &remote).await;
    }
    let channel = local_channel(state, raw)?;
    let server = state.server_name.clone();
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let row = load_channel(conn, &channel.name)?;
            let is_member = db::channels::member(conn, row.room_id, &user_id)?.is_some();
            if row.mode_secret && !is_member {
                return Err(no_such_channel(&channel.short()));
            }
            info_of(conn, &server, &row, is_member)
        })
        .await
}

pub fn info_of(
    conn: &mut Conn,
    server: &ServerName,
    row: &ChannelRow,
    is_member: bool,
) -> Result<ChannelInfo, ApiError> {
    let members = db::channels::members_with_nicks(conn, row.room_id)?;
    let mut owner = String::new();
    let members = members
        .into_iter()
        .map(|(m, nick)| {
            let handle = format!("{nick}@{server}");
            let is_owner = m.user_id == row.owner_id;
            if is_owner {
                owner = handle.clone();
            }
            let modes = [(m.is_op, 'o'), (m.is_voice, 'v')]
                .iter()
                .filter(|(on, _)| *on)
                .map(|(_, c)| *c)
                .collect();
            ChannelMember {
                handle,
                nick,
                modes,
                owner: is_owner,
            }
        })
        .collect::<Vec<_>>();
    let mut members = members;
    for remote in db::shared::remote_members(conn, row.room_id)? {
        let modes = [(remote.is_op, 'o'), (remote.is_voice, 'v')]
            .iter()
            .filter(|(on, _)| *on)
            .map(|(_, c)| *c)
            .collect();
        let nick = remote
            .handle
            .split('@')
            .next()
            .unwrap_or_default()
            .to_string();
        members.push(ChannelMember {
            handle: remote.handle,
            nick,
            modes,
            owner: false,
        });
    }
    if owner.is_empty() {
        if let Some(user) = db::users::by_id(conn, &row.owner_id)? {
            owner = format!("{}@{server}", user.nick);
        }
    }
    Ok(ChannelInfo {
        name: format!("#{}@{server}", row.name),
        topic: row.topic.clone(),
        topic_set_by: row.topic_set_by.clone(),
        modes: modes::render(row, is_member),
        owner,
        created: format_rfc3339_ms(row.created_ms),
        members,
    })
}

fn summary(
    conn: &mut Conn,
    server: &ServerName,
    row: &ChannelRow,
    is_member: bool,
) -> Result<ChannelSummary, ApiError> {
    Ok(ChannelSummary {
        name: format!("#{}@{server}", row.name),
        topic: row.topic.clone(),
        members: db::channels::member_count(conn, row.room_id)?
            + db::shared::remote_members(conn, row.room_id)?.len() as i64,
        modes: modes::render(row, is_member),
    })
}

/// `GET /api/v1/channels`: the caller's channels, hosted here or elsewhere.
pub async fn mine(state: &AppState, session: &Session) -> Result<Vec<ChannelSummary>, ApiError> {
    let server = state.server_name.clone();
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let rows = db::channels::of_user(conn, &user_id)?;
            let mut list = rows
                .iter()
                .map(|row| summary(conn, &server, row, true))
                .collect::<Result<Vec<_>, ApiError>>()?;
            // Channels hosted elsewhere: their name; topic, modes and members live on the host
            // (GET /api/v1/channels/{name}@{host}).
            for mirror in db::shared::mirrors_of_user(conn, &user_id)? {
                list.push(ChannelSummary {
                    name: mirror.channel,
                    topic: String::new(),
                    members: 0,
                    modes: String::new(),
                });
            }
            Ok(list)
        })
        .await
}

/// `GET /api/v1/channels/public`: channels that are not `+s`, with member counts.
pub async fn public(state: &AppState, session: &Session) -> Result<Vec<ChannelSummary>, ApiError> {
    let server = state.server_name.clone();
    let user_id = session.user_id.clone();
    state
        .db
        .run(move |conn| {
            let rows = db::channels::public(conn, LIST_MAX)?;
            rows.iter()
                .map(|row| {
                    let is_member = db::channels::member(conn, row.room_id, &user_id)?.is_some();
                    summary(conn, &server, row, is_member)
                })
                .collect()
        })
        .await
}

/// Resolves a channel for sending: the row and the sender's membership (if any).
pub fn for_send(
    conn: &mut Conn,
    name: &str,
    user_id: &str,
) -> Result<(ChannelRow, Option<MemberRow>), ApiError> {
    let row = load_channel(conn, name)?;
    let member = db::channels::member(conn, row.room_id, user_id)?;
    if member.is_none() && (row.mode_no_external || row.mode_secret) {
        return Err(ApiError::forbidden(
            "not_member",
            format!("#{} takes no messages from outside (+n)", row.name),
        ));
    }
    if row.mode_moderated && !member.as_ref().is_some_and(|m| m.is_op || m.is_voice) {
        return Err(ApiError::forbidden(
            "moderated",
            format!("#{} is moderated (+m): you need voice", row.name),
        ));
    }
    Ok((row, member))
}

/// Resolves a channel for reading history: members only.
pub fn for_history(conn: &mut Conn, name: &str, user_id: &str) -> Result<ChannelRow, ApiError> {
    let row = load_channel(conn, name)?;
    if db::channels::member(conn, row.room_id, user_id)?.is_none() {
        if row.mode_secret {
            return Err(no_such_channel(&format!("#{name}")));
        }
        return Err(ApiError::forbidden(
            "not_member",
            format!("join #{} to read its history", row.name),
        ));
    }
    Ok(row)
}
