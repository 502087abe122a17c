//! Presence and profiles (DESIGN.md, "Rich chat"): `PATCH /api/v1/users/me` sets a display
//! name, an avatar, a status (`online`, `away`, `busy`, `offline` = appear offline) and a
//! status message; users who share a channel or DM with the user get an ephemeral `presence`
//! event (`meta`: the four fields). Profiles show the fields; a user who appears offline shows
//! `online: false`. `GET /api/v1/users/search?q=` finds users of this server.
//!
//! Across servers, a presence change goes as an ephemeral item (`to` = the user's own handle)
//! to the servers of the user's conversations: the member servers of channels hosted here, the
//! hosts of mirrored channels, the servers of DM partners. A host passes it on to its channels'
//! other member servers (`to` = the channel), which publish it to their mirror's members.

use std::collections::HashMap;

use federation_proto::api::client::{ProfileUpdate, UserProfile, UserSearchResponse};
use federation_proto::event::{Event, EventKind};
use serde_json::Value;

use super::accounts::{profile_of, Session};
use super::ephemeral::{self, STATE_LIFETIME};
use super::now_ms;
use crate::db::read_state::ProfileRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest display name, in characters.
pub const DISPLAY_NAME_MAX: usize = 50;
/// Longest status message, in characters.
pub const STATUS_MESSAGE_MAX: usize = 100;
/// Longest avatar URL or media id, in bytes.
pub const AVATAR_MAX: usize = 2048;
/// The statuses a user may set.
pub const STATUSES: [&str; 4] = ["online", "away", "busy", "offline"];
/// The biggest channel (members here and elsewhere) whose members get a `presence` event when
/// someone connects or goes offline ([`connection_changed`]).
pub const PRESENCE_FANOUT_MAX: i64 = 200;
/// Longest search query, in characters.
pub const SEARCH_QUERY_MAX: usize = 50;
/// Most users a search answers (and the default).
pub const SEARCH_MAX: u32 = 50;
const SEARCH_DEFAULT: u32 = 20;

/// A profile with the user's chosen fields and effective status: `offline` (appear offline)
/// shows `online: false`, and a user who is not online (no device connected or seen within
/// `PRESENCE_GRACE`, [`super::presence`]) shows status `offline`.
pub fn with_fields(mut profile: UserProfile, fields: Option<ProfileRow>) -> UserProfile {
    let fields = fields.unwrap_or_default();
    let mut status = if fields.status.is_empty() {
        "online".to_string()
    } else {
        fields.status
    };
    if status == "offline" {
        profile.online = false;
    }
    if !profile.online {
        status = "offline".to_string();
    }
    profile.status = Some(status);
    profile.display_name = fields.display_name;
    profile.avatar = fields.avatar;
    profile.status_message = fields.status_message;
    profile
}

fn has_control(s: &str) -> bool {
    s.chars().any(char::is_control)
}

/// Checks a display name: 1–50 characters, no control characters, not only spaces.
pub fn check_display_name(name: &str) -> Result<(), ApiError> {
    let count = name.chars().count();
    if count == 0 || count > DISPLAY_NAME_MAX || has_control(name) || name.trim().is_empty() {
        return Err(ApiError::bad_request(
            "invalid_display_name",
            format!(
                "a display name is 1 to {DISPLAY_NAME_MAX} characters, not only spaces, \
                 without control characters"
            ),
        ));
    }
    Ok(())
}

/// Checks a status message: at most 100 characters, no control characters.
pub fn check_status_message(message: &str) -> Result<(), ApiError> {
    if message.chars().count() > STATUS_MESSAGE_MAX || has_control(message) {
        return Err(ApiError::bad_request(
            "invalid_status_message",
            format!(
                "a status message is at most {STATUS_MESSAGE_MAX} characters, without control \
                 characters"
            ),
        ));
    }
    Ok(())
}

/// Checks a status.
pub fn check_status(status: &str) -> Result<(), ApiError> {
    if !STATUSES.contains(&status) {
        return Err(ApiError::bad_request(
            "invalid_status",
            "status is online, away, busy or offline",
        ));
    }
    Ok(())
}

/// Checks an avatar: an `https://` URL with a host and no spaces, or a media id (letters,
/// digits, `-` and `_`, at most 128).
pub fn check_avatar(avatar: &str) -> Result<(), ApiError> {
    let bad = || {
        ApiError::bad_request(
            "invalid_avatar",
            "an avatar is an https:// URL or a media id",
        )
    };
    if avatar.len() > AVATAR_MAX || has_control(avatar) || avatar.contains(char::is_whitespace) {
        return Err(bad());
    }
    if let Some(rest) = avatar.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        if host.is_empty() || host.starts_with(':') || host.contains('@') {
            return Err(bad());
        }
        return Ok(());
    }
    // A media id of `POST /api/v1/media` (`<uuid>@<server>`), or an id of the older form.
    if avatar.parse::<federation_proto::media::MediaId>().is_ok() {
        return Ok(());
    }
    let media_id = !avatar.is_empty()
        && avatar.len() <= 128
        && avatar
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if media_id {
        Ok(())
    } else {
        Err(bad())
    }
}

/// Validates an update and applies it to `current` (an empty string clears a text field).
pub fn apply(current: ProfileRow, update: ProfileUpdate) -> Result<ProfileRow, ApiError> {
    let mut next = current;
    if next.status.is_empty() {
        next.status = "online".to_string();
    }
    if let Some(name) = update.display_name {
        next.display_name = if name.is_empty() {
            None
        } else {
            check_display_name(&name)?;
            Some(name)
        };
    }
    if let Some(avatar) = update.avatar {
        next.avatar = if avatar.is_empty() {
            None
        } else {
            check_avatar(&avatar)?;
            Some(avatar)
        };
    }
    if let Some(status) = update.status {
        check_status(&status)?;
        next.status = status;
    }
    if let Some(message) = update.status_message {
        check_status_message(&message)?;
        next.status_message = (!message.is_empty()).then_some(message);
    }
    Ok(next)
}

/// A presence change: the event devices get and the other servers to tell.
pub struct Notice {
    pub event: Option<Event>,
    /// `(server, to)`: the item goes to `server` with `to` in place of the event's.
    pub items: Vec<(String, String)>,
}

/// The `presence` event of `from` (shown to `to`) with the profile's fields in `meta`.
pub fn presence_event(from: &str, to: &str, fields: &ProfileRow) -> Event {
    let mut event = ephemeral::event(from, to, EventKind::Presence, "");
    let text = |v: &Option<String>| v.clone().map_or(Value::Null, Value::String);
    event
        .meta
        .insert("status".into(), Value::String(fields.status.clone()));
    event
        .meta
        .insert("display_name".into(), text(&fields.display_name));
    event.meta.insert("avatar".into(), text(&fields.avatar));
    event
        .meta
        .insert("status_message".into(), text(&fields.status_message));
    event
}

/// The fields of a presence event's (or item's) `meta`, checked like a local update.
pub fn fields_of(meta: &serde_json::Map<String, Value>) -> Result<ProfileRow, ApiError> {
    let text = |key: &str| meta.get(key).and_then(Value::as_str).map(str::to_string);
    let update = ProfileUpdate {
        display_name: text("display_name"),
        avatar: text("avatar"),
        status: Some(text("status").unwrap_or_else(|| "online".to_string())),
        status_message: text("status_message"),
    };
    apply(ProfileRow::default(), update)
}

/// `PATCH /api/v1/users/me`: validates, stores, and publishes a `presence` event to every
/// user who shares a channel or DM with this one (their own devices included). Returns the
/// servers to tell.
pub async fn update(
    state: &AppState,
    session: &Session,
    update: ProfileUpdate,
) -> Result<Notice, ApiError> {
    // Checked before the write, so a bad field changes nothing.
    apply(ProfileRow::default(), update.clone())?;
    let user_id = session.user_id.clone();
    let me = format!("{}@{}", session.nick, state.server_name);
    let me_in = (me.clone(), state.server_name.to_string());
    let (fields, users, items) = state
        .db
        .write(move |conn| {
            let current = db::read_state::profile(conn, &user_id)?.unwrap_or_default();
            let next = apply(current, update)?;
            db::read_state::save_profile(conn, &user_id, &next, now_ms())?;
            let users = db::read_state::co_members(conn, &user_id)?;
            let items = items_of(conn, &user_id, &me_in)?;
            Ok::<_, ApiError>((next, users, items))
        })
        .await?;
    // The user's own change: they are here to make it.
    let event = presence_event(&me, &me, &fields);
    ephemeral::publish(state, &users, &event, STATE_LIFETIME)?;
    Ok(Notice {
        event: Some(event),
        items,
    })
}

/// A local user connected (`true`) or has had no connection for `PRESENCE_GRACE`
/// (`false`): the other co-members here get a `presence` event with the user's status (or `offline`),
/// and the servers to tell are returned, as for [`update`]. A user who appears offline
/// announces nothing.
pub async fn connection_changed(
    state: &AppState,
    user_id: &str,
    connected: bool,
) -> Result<Notice, ApiError> {
    let server = state.server_name.to_string();
    let id = user_id.to_string();
    let found = state
        .db
        .run(move |conn| {
            let Some(user) = db::users::by_id(conn, &id)? else {
                return Ok::<_, ApiError>(None);
            };
            let fields = db::read_state::profile(conn, &id)?.unwrap_or_default();
            if fields.status == "offline" {
                return Ok(None);
            }
            let me = format!("{}@{server}", user.nick);
            let (users, items) = connection_audience(conn, &id, &me, &server)?;
            Ok(Some((me, fields, users, items)))
        })
        .await?;
    let Some((me, mut fields, users, items)) = found else {
        return Ok(Notice {
            event: None,
            items: Vec::new(),
        });
    };
    fields.status = match (connected, fields.status.is_empty()) {
        (false, _) => "offline".to_string(),
        (true, true) => "online".to_string(),
        (true, false) => fields.status,
    };
    let event = presence_event(&me, &me, &fields);
    ephemeral::publish(state, &users, &event, STATE_LIFETIME)?;
    Ok(Notice {
        event: Some(event),
        items,
    })
}

/// Local users to publish to, and `(server, to)` items for other servers.
type Audience = (Vec<String>, Vec<(String, String)>);

/// Who hears that a user connected or went offline: the other local members of their DMs and
/// of channels of at most [`PRESENCE_FANOUT_MAX`] members here (a connection change in a big
/// channel would wake every member for every member who comes or goes: there, profiles show
/// it), and as items the DM partners' servers and the member servers of such channels hosted
/// here. For channels hosted elsewhere only the local members of small ones hear it: the host
/// is not told, as it would pass the item on to all of the user's channels there, big ones
/// included (their members see the user's profile).
fn connection_audience(
    conn: &mut Conn,
    user_id: &str,
    me: &str,
    server: &str,
) -> Result<Audience, ApiError> {
    let rooms = db::read_state::open_rooms(conn, user_id)?;
    let ids: Vec<i64> = rooms.iter().map(|r| r.room_id).collect();
    // Members are read only for rooms small enough to hear it.
    let small: Vec<i64> = db::read_state::open_member_counts(conn, &ids)?
        .into_iter()
        .filter(|(_, count)| *count <= PRESENCE_FANOUT_MAX)
        .map(|(room, _)| room)
        .collect();
    let mut members: HashMap<i64, Vec<String>> = HashMap::new();
    for (room, user) in db::read_state::open_members(conn, &small)? {
        members.entry(room).or_default().push(user);
    }
    let names: HashMap<i64, String> = db::read_state::channel_names(conn, &ids)?
        .into_iter()
        .collect();
    let mirror_sizes: HashMap<i64, i64> = db::shared::mirrors_of_user(conn, user_id)?
        .into_iter()
        .map(|m| (m.room_id, m.members))
        .collect();
    let (mut users, mut items) = (Vec::new(), Vec::new());
    for room in &rooms {
        let Some(here) = members.remove(&room.room_id) else {
            continue; // too big (or empty)
        };
        match room.kind.as_str() {
            "dm" => {
                if let Some((_, handle)) = room.room_key.rsplit_once(':') {
                    if let Some((_, peer)) = handle.rsplit_once('@') {
                        items.push((peer.to_string(), me.to_string()));
                    }
                }
            }
            "channel" => {
                let Some(name) = names.get(&room.room_id) else {
                    continue;
                };
                let size = i64::try_from(here.len()).unwrap_or(i64::MAX)
                    + db::shared::remote_member_count(conn, room.room_id)?;
                if size > PRESENCE_FANOUT_MAX {
                    continue;
                }
                for peer in db::shared::member_servers(conn, room.room_id)? {
                    items.push((peer, format!("#{name}@{server}")));
                }
            }
            // Its local members hear it here; the host is not told (see above).
            "mirror" => {
                let known = mirror_sizes.get(&room.room_id).copied();
                if known.is_none_or(|size| size > PRESENCE_FANOUT_MAX) {
                    continue;
                }
            }
            _ => continue,
        }
        users.extend(here);
    }
    // The others: a user's own devices know whether they are connected.
    users.retain(|u| u != user_id);
    users.sort();
    users.dedup();
    items.sort();
    items.dedup();
    Ok((users, items))
}

/// Where a user's presence goes: `(server, to)`. A channel hosted here goes to its member
/// servers as the channel (they publish it to their mirror's members); the host of a mirrored
/// channel and a DM partner's server get the user's own handle (the host finds the channels
/// the user is in and passes it on).
fn items_of(
    conn: &mut Conn,
    user_id: &str,
    (me, server): &(String, String),
) -> Result<Vec<(String, String)>, ApiError> {
    let mut items = Vec::new();
    let rooms = db::read_state::open_rooms(conn, user_id)?;
    let ids: Vec<i64> = rooms.iter().map(|r| r.room_id).collect();
    for (room_id, name) in db::read_state::channel_names(conn, &ids)? {
        for peer in db::shared::member_servers(conn, room_id)? {
            items.push((peer, format!("#{name}@{server}")));
        }
    }
    for room in rooms.iter().filter(|r| r.kind == "dm") {
        if let Some((_, handle)) = room.room_key.rsplit_once(':') {
            if let Some((_, peer)) = handle.rsplit_once('@') {
                items.push((peer.to_string(), me.clone()));
            }
        }
    }
    items.extend(
        db::shared::mirrors_of_user(conn, user_id)?
            .into_iter()
            .map(|m| (m.host, me.clone())),
    );
    items.sort();
    items.dedup();
    Ok(items)
}

/// A presence item of `from` told by `origin`: `to` is `from` itself (a user of `origin`) or a
/// channel `origin` hosts (passed on by the host). Published to the local users who share a
/// conversation with `from`. Returns what to pass on: `(server, to)` for the other member
/// servers of channels hosted here that `from` is in.
pub async fn from_remote(
    state: &AppState,
    origin: &str,
    from: &str,
    to: &str,
    meta: &serde_json::Map<String, Value>,
) -> Result<Vec<(String, String)>, ApiError> {
    let fields = fields_of(meta)?;
    let of_origin = from.rsplit_once('@').is_some_and(|(_, s)| s == origin);
    let channel_of_origin =
        to.starts_with('#') && to.rsplit_once('@').is_some_and(|(_, s)| s == origin);
    let server = state.server_name.to_string();
    let (from_name, to_name, origin_name) = (from.to_string(), to.to_string(), origin.to_string());
    let (users, pass_on) = state
        .db
        .run(move |conn| {
            let mut users = Vec::new();
            let mut pass_on = Vec::new();
            if channel_of_origin {
                if let Some(m) = db::shared::mirror_by_channel(conn, &to_name)? {
                    users.extend(db::events::recipients(conn, m.room_id)?.iter().cloned());
                }
            } else if of_origin && to_name == from_name {
                for (room_id, name) in db::read_state::rooms_of_remote_member(conn, &from_name)? {
                    users.extend(db::events::recipients(conn, room_id)?.iter().cloned());
                    for peer in db::shared::member_servers(conn, room_id)? {
                        if peer != origin_name {
                            pass_on.push((peer, format!("#{name}@{server}")));
                        }
                    }
                }
                for (_, key) in db::read_state::dm_rooms_with(conn, &from_name)? {
                    if let Some((local, _)) =
                        key.strip_prefix("dm:").and_then(|k| k.split_once(':'))
                    {
                        users.push(local.to_string());
                    }
                }
            } else {
                return Err(ApiError::forbidden(
                    "origin_mismatch",
                    "a server speaks for its own users, and a host for its channels' members",
                ));
            }
            users.sort();
            users.dedup();
            Ok::<_, ApiError>((users, pass_on))
        })
        .await?;
    let event = presence_event(from, to, &fields);
    ephemeral::publish(state, &users, &event, STATE_LIFETIME)?;
    Ok(pass_on)
}

/// `GET /api/v1/users/search?q=`: users of this server whose nick or display name contains
/// `q` (case-insensitive), nick prefixes first, at most `limit` (1–50, default 20). Users of
/// other servers are not searched (a remote profile is asked for by handle).
pub async fn search(
    state: &AppState,
    q: Option<String>,
    limit: Option<u32>,
) -> Result<UserSearchResponse, ApiError> {
    let q = q.unwrap_or_default();
    let q = q.trim().to_lowercase();
    if q.is_empty() || q.chars().count() > SEARCH_QUERY_MAX || has_control(&q) {
        return Err(ApiError::bad_request(
            "invalid_query",
            format!("q is 1 to {SEARCH_QUERY_MAX} characters"),
        ));
    }
    let limit = limit.unwrap_or(SEARCH_DEFAULT).clamp(1, SEARCH_MAX) as usize;
    let escaped: String = q
        .chars()
        .flat_map(|c| match c {
            '%' | '_' | '\\' => vec!['\\', c],
            c => vec![c],
        })
        .collect();
    let needle = q.clone();
    let found = state
        .db
        .run(move |conn| {
            // A few more than asked, so that nick prefixes can go first.
            let rows = db::read_state::search_users(conn, &escaped, 200)?;
            let mut out = Vec::with_capacity(rows.len());
            for (user, fields) in rows {
                let seen = db::devices::user_last_seen(conn, &user.id)?;
                out.push((user, fields, seen));
            }
            Ok::<_, ApiError>(out)
        })
        .await?;
    let mut users: Vec<(bool, UserProfile)> = found
        .into_iter()
        .map(|(user, fields, seen)| {
            let prefix = user.nick.starts_with(&needle);
            (!prefix, with_fields(profile_of(state, &user, seen), fields))
        })
        .collect();
    users.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.nick.cmp(&b.1.nick)));
    users.truncate(limit);
    Ok(UserSearchResponse {
        users: users.into_iter().map(|(_, p)| p).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(r: Result<ProfileRow, ApiError>) -> String {
        match r {
            Ok(_) => "ok".into(),
            Err(e) => e.code.to_string(),
        }
    }

    fn with(f: impl FnOnce(&mut ProfileUpdate)) -> Result<ProfileRow, ApiError> {
        let mut u = ProfileUpdate::default();
        f(&mut u);
        apply(ProfileRow::default(), u)
    }

    #[test]
    fn profile_fields_are_checked() {
        assert_eq!(code(with(|u| u.display_name = Some("Ann".into()))), "ok");
        assert_eq!(code(with(|u| u.display_name = Some("é".repeat(50)))), "ok");
        assert_eq!(
            code(with(|u| u.display_name = Some("é".repeat(51)))),
            "invalid_display_name"
        );
        assert_eq!(
            code(with(|u| u.display_name = Some("   ".into()))),
            "invalid_display_name"
        );
        assert_eq!(
            code(with(|u| u.display_name = Some("a\nb".into()))),
            "invalid_display_name"
        );
        for ok in ["online", "away", "busy", "offline"] {
            assert_eq!(code(with(|u| u.status = Some(ok.into()))), "ok");
        }
        assert_eq!(
            code(with(|u| u.status = Some("Away".into()))),
            "invalid_status"
        );
        assert_eq!(
            code(with(|u| u.status_message = Some("x".repeat(100)))),
            "ok"
        );
        assert_eq!(
            code(with(|u| u.status_message = Some("x".repeat(101)))),
            "invalid_status_message"
        );
        for ok in [
            "https://example.com/a.png",
            "https://cdn.example.com:8443/x?y=1",
            "0194c6d2-7d1a-7c3e-9b1a-1234567890ab",
        ] {
            assert_eq!(code(with(|u| u.avatar = Some(ok.into()))), "ok", "{ok}");
        }
        for bad in [
            "http://example.com/a.png",
            "https://",
            "https://a b",
            "javascript:alert(1)",
            "ftp://x",
            "https://user@evil/x",
        ] {
            assert_eq!(
                code(with(|u| u.avatar = Some(bad.into()))),
                "invalid_avatar",
                "{bad}"
            );
        }
    }

    #[test]
    fn empty_strings_clear_and_status_defaults_to_online() {
        let set = apply(
            ProfileRow::default(),
            ProfileUpdate {
                display_name: Some("Ann".into()),
                status_message: Some("lunch".into()),
                ..ProfileUpdate::default()
            },
        )
        .unwrap();
        assert_eq!(set.status, "online");
        let cleared = apply(
            set,
            ProfileUpdate {
                display_name: Some(String::new()),
                status_message: Some(String::new()),
                ..ProfileUpdate::default()
            },
        )
        .unwrap();
        assert_eq!(cleared.display_name, None);
        assert_eq!(cleared.status_message, None);
    }
}
