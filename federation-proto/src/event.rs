//! The event: every message and every change of state.
//!
//! [`Event`] is the client's view (DESIGN.md, "The event"). Between servers an event travels
//! without `seq` and with `origin`, `hashes` and `signatures` (see the `signing` module).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an event is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A chat message.
    Message,
    /// An IRC-style `/me` action.
    Action,
    /// A notice (bots, services): clients never auto-reply to it.
    Notice,
    /// A user joined a channel.
    Join,
    /// A user left a channel.
    Part,
    /// A user left the server.
    Quit,
    /// A user was removed from a channel.
    Kick,
    /// A channel's topic changed.
    Topic,
    /// A channel's or a member's modes changed.
    Mode,
    /// A user changed nick.
    Nick,
    /// A user was invited to a channel.
    Invite,
    /// A message from the server itself.
    System,
    /// An edit of an earlier message (`target`).
    Edit,
    /// A deletion of an earlier message (`target`).
    Delete,
    /// A reaction to an earlier message (`target`).
    Reaction,
    /// Ephemeral: a user is typing.
    Typing,
    /// Ephemeral: a user's presence changed.
    Presence,
    /// Ephemeral: a read receipt.
    Receipt,
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 18] = [
        EventKind::Message,
        EventKind::Action,
        EventKind::Notice,
        EventKind::Join,
        EventKind::Part,
        EventKind::Quit,
        EventKind::Kick,
        EventKind::Topic,
        EventKind::Mode,
        EventKind::Nick,
        EventKind::Invite,
        EventKind::System,
        EventKind::Edit,
        EventKind::Delete,
        EventKind::Reaction,
        EventKind::Typing,
        EventKind::Presence,
        EventKind::Receipt,
    ];

    /// The wire name (`"message"`, `"join"`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Message => "message",
            EventKind::Action => "action",
            EventKind::Notice => "notice",
            EventKind::Join => "join",
            EventKind::Part => "part",
            EventKind::Quit => "quit",
            EventKind::Kick => "kick",
            EventKind::Topic => "topic",
            EventKind::Mode => "mode",
            EventKind::Nick => "nick",
            EventKind::Invite => "invite",
            EventKind::System => "system",
            EventKind::Edit => "edit",
            EventKind::Delete => "delete",
            EventKind::Reaction => "reaction",
            EventKind::Typing => "typing",
            EventKind::Presence => "presence",
            EventKind::Receipt => "receipt",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Kinds a client may send with `POST /api/v1/messages` in the first wave.
    pub fn is_user_sendable(self) -> bool {
        matches!(
            self,
            EventKind::Message | EventKind::Action | EventKind::Notice
        )
    }

    /// Ephemeral kinds are delivered but never stored.
    pub fn is_ephemeral(self) -> bool {
        matches!(
            self,
            EventKind::Typing | EventKind::Presence | EventKind::Receipt
        )
    }
}

/// An event as the client sees it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Event {
    /// UUID v7 assigned by the origin server.
    #[schema(value_type = String)]
    pub id: uuid::Uuid,
    /// This server's position of the event in its log: the sync cursor.
    pub seq: i64,
    /// When the origin server accepted it (RFC 3339, milliseconds, UTC).
    pub ts: String,
    /// The sender's handle `nick@server`.
    pub from: String,
    /// `#channel@host` or the recipient's `nick@server`.
    pub to: String,
    /// What the event is.
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// UTF-8 text (markdown allowed).
    pub body: String,
    /// Free-form object for clients and extensions.
    #[schema(value_type = Object)]
    pub meta: serde_json::Map<String, serde_json::Value>,
    /// The message this one answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub reply_to: Option<uuid::Uuid>,
    /// The message an edit, delete or reaction acts on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub target: Option<uuid::Uuid>,
    /// Media ids.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
            let json = serde_json::to_string(&k).unwrap();
            assert_eq!(json, format!("\"{}\"", k.as_str()));
        }
        assert_eq!(EventKind::parse("nope"), None);
    }

    #[test]
    fn event_shape() {
        let text = r##"{"id":"0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b","seq":4182,"ts":"2026-02-09T20:00:00.000Z",
            "from":"alice@hs1.example","to":"#general@hs1.example","type":"message","body":"Hello, world!","meta":{}}"##;
        let ev: Event = serde_json::from_str(text).unwrap();
        assert_eq!(ev.kind, EventKind::Message);
        let back = serde_json::to_value(&ev).unwrap();
        assert_eq!(back["type"], "message");
        assert!(back.get("reply_to").is_none());
    }
}
