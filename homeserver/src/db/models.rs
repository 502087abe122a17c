//! Row structs: storage shapes, converted to `federation-proto` types by the services.

use diesel::prelude::*;

use super::schema::{channels, devices, events, members, message_stats, reactions, users};

/// A local account.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = users)]
pub struct UserRow {
    pub id: String,
    pub nick: String,
    pub password_hash: String,
    pub created_ms: i64,
    pub last_active_ms: i64,
}

/// A logged-in device of a user.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = devices)]
pub struct DeviceRow {
    pub id: String,
    pub user_id: String,
    pub token_hash: String,
    pub name: String,
    pub created_ms: i64,
    pub last_seen_ms: i64,
    pub cursor: i64,
}

/// A channel hosted here.
#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = channels, treat_none_as_null = true)]
pub struct ChannelRow {
    pub room_id: i64,
    pub name: String,
    pub topic: String,
    pub topic_set_by: Option<String>,
    pub topic_set_ms: Option<i64>,
    pub owner_id: String,
    pub created_ms: i64,
    pub mode_invite_only: bool,
    pub mode_moderated: bool,
    pub mode_secret: bool,
    pub mode_topic_ops: bool,
    pub mode_no_external: bool,
    pub chan_key: Option<String>,
    pub user_limit: Option<i64>,
}

impl ChannelRow {
    /// A new channel as it starts: `+nt`, no topic, no key, no limit.
    pub fn new(room_id: i64, name: &str, owner_id: &str, created_ms: i64) -> ChannelRow {
        ChannelRow {
            room_id,
            name: name.to_string(),
            topic: String::new(),
            topic_set_by: None,
            topic_set_ms: None,
            owner_id: owner_id.to_string(),
            created_ms,
            mode_invite_only: false,
            mode_moderated: false,
            mode_secret: false,
            mode_topic_ops: true,
            mode_no_external: true,
            chan_key: None,
            user_limit: None,
        }
    }
}

/// A channel member.
#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = members)]
pub struct MemberRow {
    pub room_id: i64,
    pub user_id: String,
    pub is_op: bool,
    pub is_voice: bool,
    pub joined_ms: i64,
}

/// A stored event.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = events)]
pub struct EventRow {
    pub seq: i64,
    pub id: String,
    pub room_id: i64,
    pub ts_ms: i64,
    pub sender: String,
    pub sender_id: Option<String>,
    pub recipient: String,
    pub kind: String,
    pub body: String,
    pub meta: String,
    pub reply_to: Option<String>,
    pub target: Option<String>,
    pub room_seq: Option<i64>,
    pub wire: Option<String>,
    /// Erased: a deleted message, or an edit of one.
    pub deleted: bool,
    /// Media ids, a JSON array (`None` without attachments).
    pub attachments: Option<String>,
}

/// The counters of a message that was edited or answered.
#[derive(Debug, Clone, Default, Queryable, Selectable)]
#[diesel(table_name = message_stats)]
pub struct StatsRow {
    pub message_id: String,
    pub edit_count: i64,
    pub edited_ms: Option<i64>,
    pub reply_count: i64,
    pub last_reply_ms: Option<i64>,
}

/// A current reaction.
#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = reactions)]
pub struct ReactionRow {
    pub message_id: String,
    /// Who reacted: a local user's id, or the handle of a user of another server.
    pub reactor: String,
    pub emoji: String,
    pub event_id: String,
    pub ts_ms: i64,
}

/// An event to append ([`super::events::append`]).
#[derive(Debug, Clone)]
pub struct NewEvent {
    pub id: String,
    pub room_id: i64,
    pub ts_ms: i64,
    pub sender: String,
    pub sender_id: Option<String>,
    pub recipient: String,
    pub kind: String,
    pub body: String,
    pub meta: String,
    pub reply_to: Option<String>,
    pub target: Option<String>,
    /// The host's position when mirroring a channel; `None` takes the room's next position.
    pub room_seq: Option<i64>,
    pub wire: Option<String>,
    /// Media ids, a JSON array (`None` without attachments).
    pub attachments: Option<String>,
}

#[cfg(test)]
impl UserRow {
    /// An account for unit tests: id `id-<nick>`, a placeholder hash.
    pub fn for_test(nick: &str) -> UserRow {
        UserRow {
            id: format!("id-{nick}"),
            nick: nick.to_string(),
            password_hash: "x".into(),
            created_ms: 0,
            last_active_ms: 0,
        }
    }
}

#[cfg(test)]
impl NewEvent {
    /// A plain message `body` with id `id` for unit tests, at the room's next position.
    pub fn message_for_test(id: String, room_id: i64, body: String) -> NewEvent {
        NewEvent {
            id,
            room_id,
            ts_ms: 0,
            sender: "ann".into(),
            sender_id: None,
            recipient: String::new(),
            kind: "message".into(),
            body,
            meta: "{}".into(),
            reply_to: None,
            target: None,
            room_seq: None,
            wire: None,
            attachments: None,
        }
    }
}
