//! Accounts and sessions: register, login (each login is a device), logout, bearer tokens,
//! nick changes and profiles.
//!
//! Passwords are hashed with argon2id (PHC string with its own salt) through
//! [`super::passwords`], which bounds how many hashes run at once. Tokens are 256 random
//! bits, base64url; only their sha256 is stored.

use base64::Engine as _;
use federation_proto::api::client::{LoginResponse, RegisterResponse, UserProfile};
use federation_proto::event::EventKind;
use federation_proto::ids::Nick;
use federation_proto::time::format_rfc3339_ms;
use sha2::{Digest, Sha256};

use super::events::{append_event, Draft};
use super::now_ms;
use crate::db::models::{DeviceRow, UserRow};
use crate::db::{self, is_unique_violation, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Shortest accepted password, in bytes.
pub const PASSWORD_MIN: usize = 8;
/// Longest accepted password, in bytes.
pub const PASSWORD_MAX: usize = 1024;
/// Longest device name, in characters.
const DEVICE_NAME_MAX: usize = 64;

/// The authenticated caller of a request.
#[derive(Debug, Clone)]
pub struct Session {
    /// The device (one login).
    pub device_id: String,
    /// The user's stable id.
    pub user_id: String,
    /// The user's current nick.
    pub nick: String,
}

/// Key of the user's personal room (invites and notices addressed to them).
pub fn user_room_key(user_id: &str) -> String {
    format!("user:{user_id}")
}

fn validate_password(password: &str) -> Result<(), ApiError> {
    if password.len() < PASSWORD_MIN || password.len() > PASSWORD_MAX {
        return Err(ApiError::bad_request(
            "invalid_password",
            format!("a password is {PASSWORD_MIN} to {PASSWORD_MAX} bytes long"),
        ));
    }
    Ok(())
}

fn device_name(name: Option<String>) -> Result<String, ApiError> {
    let name = name.unwrap_or_else(|| "device".to_string());
    if name.chars().count() > DEVICE_NAME_MAX || name.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_device",
            "a device name is at most 64 printable characters",
        ));
    }
    Ok(name)
}

fn random_token() -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// The stored form of a token.
pub fn hash_token(token: &str) -> String {
    let digest = Sha256::digest(token.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn new_device(
    conn: &mut Conn,
    user_id: &str,
    name: String,
    now: i64,
) -> Result<(String, String), ApiError> {
    let token = random_token()?;
    let device_id = uuid::Uuid::now_v7().to_string();
    // A new device starts at the present: history is for the past.
    let cursor = db::events::max_seq(conn)?;
    db::devices::insert(
        conn,
        &DeviceRow {
            id: device_id.clone(),
            user_id: user_id.to_string(),
            token_hash: hash_token(&token),
            name,
            created_ms: now,
            last_seen_ms: now,
            cursor,
        },
    )?;
    Ok((token, device_id))
}

/// `POST /api/v1/register`: creates the account and its first device.
pub async fn register(
    state: &AppState,
    nick: &str,
    password: String,
    device: Option<String>,
) -> Result<RegisterResponse, ApiError> {
    let nick: Nick = nick.parse()?;
    validate_password(&password)?;
    let device = device_name(device)?;
    let password_hash = state.hashing.hash(password).await?;
    let now = now_ms();
    let user = UserRow {
        id: uuid::Uuid::now_v7().to_string(),
        nick: nick.as_str().to_string(),
        password_hash,
        created_ms: now,
        last_active_ms: now,
    };
    let row = user.clone();
    let (token, device_id) = state
        .db
        .write(move |conn| {
            db::users::insert(conn, &row).map_err(|e| {
                if is_unique_violation(&e) {
                    ApiError::conflict("nick_taken", format!("the nick {} is taken", row.nick))
                } else {
                    e.into()
                }
            })?;
            let room = db::events::ensure_room(conn, &user_room_key(&row.id), "user")?;
            db::events::open_span(conn, &row.id, room, 0)?;
            new_device(conn, &row.id, device, now)
        })
        .await?;
    tracing::info!(nick = %user.nick, "account registered");
    let user = profile_of(state, &user, Some(now));
    Ok(RegisterResponse {
        token,
        device_id,
        user,
    })
}

/// `POST /api/v1/login`: checks the password and adds a device.
pub async fn login(
    state: &AppState,
    nick: &str,
    password: String,
    device: Option<String>,
) -> Result<LoginResponse, ApiError> {
    let device = device_name(device)?;
    let user = check_password(state, nick, password).await?;
    let now = now_ms();
    let (token, device_id) = state
        .db
        .write(move |conn| {
            refuse_disabled(conn, &user.id)?;
            new_device(conn, &user.id, device, now)
        })
        .await?;
    Ok(LoginResponse { token, device_id })
}

/// The user of `nick` if `password` is theirs, else `401 invalid_credentials`: one bounded
/// hash either way (an unknown nick is checked against a stand-in hash, so nicks cannot be
/// probed by timing).
async fn check_password(
    state: &AppState,
    nick: &str,
    password: String,
) -> Result<UserRow, ApiError> {
    let invalid =
        || ApiError::unauthorized("invalid_credentials", "unknown nick or wrong password");
    let nick: Nick = nick.parse().map_err(|_| invalid())?;
    let lookup = nick.as_str().to_string();
    let user = state
        .db
        .run(move |conn| db::users::by_nick(conn, &lookup).map_err(ApiError::from))
        .await?;
    let stored = user.as_ref().map(|u| u.password_hash.clone());
    if !state.hashing.verify(password, stored).await? {
        return Err(invalid());
    }
    user.ok_or_else(invalid)
}

fn refuse_disabled(conn: &mut Conn, user_id: &str) -> Result<(), ApiError> {
    if db::admin::flags(conn, user_id)?.1 {
        return Err(ApiError::forbidden(
            "account_disabled",
            "this account is disabled by the server's admins",
        ));
    }
    Ok(())
}

/// The IRC gateway's login (`PASS`/`NICK`/`USER` or SASL PLAIN): checks the password like
/// [`login`], then takes the user's device named `device`, created (without a token anyone
/// knows) on its first login: the same device, with the same cursor, on every later one.
pub async fn login_named_device(
    state: &AppState,
    nick: &str,
    password: String,
    device: &str,
) -> Result<Session, ApiError> {
    let device = device_name(Some(device.to_string()))?;
    let user = check_password(state, nick, password).await?;
    let now = now_ms();
    let user_id = user.id.clone();
    let device_id = state
        .db
        .write(move |conn| {
            refuse_disabled(conn, &user_id)?;
            if let Some(id) = db::devices::by_user_and_name(conn, &user_id, &device)? {
                db::devices::touch(conn, &id, now)?;
                return Ok(id);
            }
            new_device(conn, &user_id, device, now).map(|(_, id)| id)
        })
        .await?;
    Ok(Session {
        device_id,
        user_id: user.id,
        nick: user.nick,
    })
}

/// The names of a user's devices, oldest first (the IRC gateway's WHOIS).
pub async fn device_names(state: &AppState, user_id: &str) -> Result<Vec<String>, ApiError> {
    let user_id = user_id.to_string();
    state
        .db
        .run(move |conn| db::devices::names_of(conn, &user_id).map_err(ApiError::from))
        .await
}

/// `POST /api/v1/logout`: ends this device's token.
pub async fn logout(state: &AppState, session: &Session) -> Result<(), ApiError> {
    let device_id = session.device_id.clone();
    state
        .db
        .write(move |conn| db::devices::delete(conn, &device_id).map_err(ApiError::from))
        .await?;
    state.sessions.forget_device(&session.device_id);
    state.cursors.forget(&session.device_id);
    Ok(())
}

/// Resolves a bearer token to its session. A token idle longer than `SESSION_TIMEOUT` is
/// deleted and refused.
pub async fn authenticate(state: &AppState, token: &str) -> Result<Session, ApiError> {
    if token.is_empty() || token.len() > 256 {
        return Err(ApiError::unauthorized(
            "invalid_token",
            "unknown or malformed token",
        ));
    }
    let token_hash = hash_token(token);
    let timeout_ms = state.session_timeout_ms();
    // Refresh last-seen at most every quarter of the timeout (and at most every 30 s).
    let touch_every_ms = (timeout_ms / 4).min(30_000);
    let now = now_ms();
    if let Some((session, last_seen_ms)) = state.sessions.get(&token_hash) {
        if now - last_seen_ms < touch_every_ms {
            return Ok(session);
        }
    }
    let lookup_hash = token_hash.clone();
    let (device, user) = state
        .db
        .run(move |conn| {
            db::devices::by_token_hash(conn, &lookup_hash)?.ok_or_else(|| {
                ApiError::unauthorized("invalid_token", "unknown or malformed token")
            })
        })
        .await?;
    if now - device.last_seen_ms > timeout_ms {
        let device_id = device.id.clone();
        state
            .db
            .write(move |conn| db::devices::delete(conn, &device_id).map_err(ApiError::from))
            .await?;
        state.cursors.forget(&device.id);
        return Err(ApiError::unauthorized(
            "token_expired",
            "this session has expired; log in again",
        ));
    }
    let mut last_seen_ms = device.last_seen_ms;
    if now - last_seen_ms >= touch_every_ms {
        touch_device(state, &device.id);
        last_seen_ms = now;
    }
    let session = Session {
        device_id: device.id,
        user_id: user.id,
        nick: user.nick,
    };
    state
        .sessions
        .insert(token_hash, session.clone(), last_seen_ms);
    Ok(session)
}

/// Marks the device as seen now (long-polls call it when they end), without waiting for the
/// write.
pub fn touch_device(state: &AppState, device_id: &str) {
    let device_id = device_id.to_string();
    state.db.write_detached("touch device", move |conn| {
        db::devices::touch(conn, &device_id, now_ms()).map_err(Into::into)
    });
}

/// A renamed user's nick submissions for the channels they are in on other servers: signed,
/// and queued in the outbox in the rename's transaction (so a host that is down hears it
/// later), to be pushed at once by `federation::mirror::announce_nick`.
pub struct Renamed {
    /// `(channel, host, signed nick event)` for each channel hosted elsewhere.
    pub submissions: Vec<(String, String, serde_json::Value)>,
}

/// `POST /api/v1/users/nick`: renames the user. Every channel they are in sees a `nick` event
/// (from the old handle, with the new one as body): channels hosted here append it and relay
/// it to their member servers; for channels hosted elsewhere a signed submission goes to the
/// host, which renames the member (modes kept) and relays the event to every member server.
pub async fn change_nick(
    state: &AppState,
    session: &Session,
    new_nick: &str,
) -> Result<(UserProfile, Option<Renamed>), ApiError> {
    let new_nick: Nick = new_nick.parse()?;
    let host = super::channels::act::Host::of(state);
    let session = session.clone();
    let (user, renamed, queued) = state
        .db
        .write(move |conn| {
            let user = db::users::by_id(conn, &session.user_id)?
                .ok_or_else(|| ApiError::not_found("unknown_user", "no such user"))?;
            if user.nick == new_nick.as_str() {
                return Ok((user, None, false));
            }
            if db::users::by_nick(conn, new_nick.as_str())?.is_some() {
                return Err(ApiError::conflict(
                    "nick_taken",
                    format!("the nick {new_nick} is taken"),
                ));
            }
            db::users::set_nick(conn, &user.id, new_nick.as_str())?;
            let server = &host.server;
            let old_handle = format!("{}@{}", user.nick, server);
            let new_handle = format!("{}@{}", new_nick, server);
            let actor = super::policy::Actor::Local {
                user_id: user.id.clone(),
                handle: old_handle.clone(),
            };
            let mut queued = false;
            for channel in db::channels::of_user(conn, &user.id)? {
                let done = super::channels::act::rename(
                    conn,
                    &host,
                    channel,
                    &actor,
                    &new_handle,
                    super::channels::act::Authored::Here,
                )?;
                queued |= done.queued;
            }
            let meta = serde_json::json!({"old": old_handle, "new": new_handle});
            let own = db::events::ensure_room(conn, &user_room_key(&user.id), "user")?;
            let draft = Draft::new(
                own,
                &old_handle,
                Some(&user.id),
                &new_handle,
                EventKind::Nick,
                new_handle.clone(),
            )
            .with_meta(meta.clone());
            append_event(conn, draft, host.max_history)?;
            let mut submissions = Vec::new();
            for mirror in db::shared::mirrors_of_user(conn, &user.id)? {
                let mut event = serde_json::json!({
                    "id": uuid::Uuid::now_v7().to_string(),
                    "ts": format_rfc3339_ms(now_ms()),
                    "from": old_handle,
                    "to": mirror.channel,
                    "type": EventKind::Nick.as_str(),
                    "body": new_handle,
                    "meta": meta,
                });
                federation_proto::signing::hash_and_sign_event(
                    &mut event,
                    server.as_str(),
                    host.keys.current(),
                )
                .map_err(ApiError::internal)?;
                let id = event["id"].as_str().unwrap_or_default().to_string();
                db::outbox::enqueue(conn, &mirror.host, &id, &event.to_string(), now_ms())?;
                queued = true;
                submissions.push((mirror.channel, mirror.host, event));
            }
            let renamed = UserRow {
                nick: new_nick.as_str().to_string(),
                ..user
            };
            Ok((renamed, Some(Renamed { submissions }), queued))
        })
        .await?;
    if queued {
        state.federation.outbox_wake.notify_one();
    }
    // Cached sessions carry the old nick.
    state.sessions.forget_user(&user.id);
    Ok((profile_of(state, &user, None), renamed))
}

/// A user's public profile.
pub fn profile_of(state: &AppState, user: &UserRow, last_seen_ms: Option<i64>) -> UserProfile {
    let now = now_ms();
    // Connected now, or a device seen within the presence grace (a poll, stream or socket
    // that ended touches its device): the rule `services::presence` announces.
    let grace_ms =
        i64::try_from(state.config.presence_grace.saturating_mul(1000)).unwrap_or(i64::MAX);
    let online = state.notifier.is_waiting(&user.id)
        || last_seen_ms.is_some_and(|seen| now - seen <= grace_ms);
    UserProfile {
        id: user.id.clone(),
        nick: user.nick.clone(),
        handle: format!("{}@{}", user.nick, state.server_name),
        online,
        idle_seconds: ((now - user.last_active_ms) / 1000).max(0),
        created: format_rfc3339_ms(user.created_ms),
        display_name: None,
        avatar: None,
        status: None,
        status_message: None,
    }
}

/// The profile of a user of this server.
pub async fn local_profile(state: &AppState, nick: &str) -> Result<UserProfile, ApiError> {
    let nick: Nick = nick.parse()?;
    let lookup = nick.as_str().to_string();
    let found = state
        .db
        .run(move |conn| {
            let Some(user) = db::users::by_nick(conn, &lookup)? else {
                return Ok::<_, ApiError>(None);
            };
            let seen = db::devices::user_last_seen(conn, &user.id)?;
            let shown = db::read_state::profile(conn, &user.id)?;
            Ok(Some((user, seen, shown)))
        })
        .await?;
    let (user, seen, shown) = found.ok_or_else(|| {
        ApiError::not_found(
            "unknown_user",
            format!("no user {nick}@{}", state.server_name),
        )
    })?;
    Ok(super::profiles::with_fields(
        profile_of(state, &user, seen),
        shown,
    ))
}

/// How stale a user's last-activity time may get: idle time is shown in seconds.
const ACTIVE_RESOLUTION_MS: i64 = 1000;

/// Records that the user did something (for idle time): at most once a second per user, and
/// without a read in between (`db::users::touch_active`).
pub fn mark_active(conn: &mut Conn, user_id: &str) -> Result<(), ApiError> {
    db::users::touch_active(conn, user_id, now_ms(), ACTIVE_RESOLUTION_MS).map_err(ApiError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_hashed() {
        let a = random_token().unwrap();
        let b = random_token().unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 43);
        assert_eq!(hash_token(&a).len(), 64);
        assert_ne!(hash_token(&a), hash_token(&b));
    }

    #[test]
    fn password_limits() {
        assert!(validate_password("short").is_err());
        assert!(validate_password("long enough").is_ok());
        assert!(validate_password(&"x".repeat(PASSWORD_MAX + 1)).is_err());
    }
}
