//! The event: every message and every change of state.
//!
//! [`Event`] is the client's view (DESIGN.md, "The event"). Between servers an event travels
//! without `seq` and with `origin`, `hashes` and `signatures` (see the `signing` module).

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What an event is.
///
/// Forward compatible: a type this build does not know yet (a newer server's, or an
/// extension's such as `org.example.poll`) parses as [`EventKind::Other`] and keeps its name,
/// so servers store and pass such events on and clients show or skip them instead of failing.
/// On the wire a kind is its name as a JSON string.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// A message was pinned in a channel (`target`).
    Pin,
    /// A message was unpinned (`target`).
    Unpin,
    /// A channel's description changed (`body`).
    Description,
    /// Ephemeral: a user is typing.
    Typing,
    /// Ephemeral: a user's presence changed.
    Presence,
    /// Ephemeral: a read receipt.
    Receipt,
    /// Ephemeral: a notification was made for the user (`meta.notification`).
    Notification,
    /// A type this build does not know (see [`TypeName`] for the names allowed).
    Other(TypeName),
}

/// The name of an event type this build does not know: 1 to [`TypeName::MAX`] characters of
/// `[a-z0-9_.-]`, starting with a letter. Stored inline so that [`EventKind`] stays `Copy`.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TypeName {
    len: u8,
    bytes: [u8; TypeName::MAX],
}

impl TypeName {
    /// Longest type name.
    pub const MAX: usize = 48;

    /// A valid type name, or `None`.
    pub fn new(name: &str) -> Option<TypeName> {
        let valid = !name.is_empty()
            && name.len() <= Self::MAX
            && name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b));
        if !valid {
            return None;
        }
        let mut bytes = [0u8; Self::MAX];
        bytes[..name.len()].copy_from_slice(name.as_bytes());
        Some(TypeName {
            len: u8::try_from(name.len()).ok()?,
            bytes,
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        // Only ASCII is ever stored (checked in `new`).
        std::str::from_utf8(&self.bytes[..usize::from(self.len)]).unwrap_or_default()
    }
}

impl std::fmt::Debug for TypeName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", self.as_str())
    }
}

impl EventKind {
    /// Every kind, in declaration order.
    pub const ALL: [EventKind; 22] = [
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
        EventKind::Pin,
        EventKind::Unpin,
        EventKind::Description,
        EventKind::Typing,
        EventKind::Presence,
        EventKind::Receipt,
        EventKind::Notification,
    ];

    /// The wire name (`"message"`, `"join"`, …).
    pub fn as_str(&self) -> &str {
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
            EventKind::Pin => "pin",
            EventKind::Unpin => "unpin",
            EventKind::Description => "description",
            EventKind::Typing => "typing",
            EventKind::Presence => "presence",
            EventKind::Receipt => "receipt",
            EventKind::Notification => "notification",
            EventKind::Other(name) => name.as_str(),
        }
    }

    /// Parses the name of a kind this build knows; `None` for any other name.
    pub fn parse(s: &str) -> Option<EventKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Parses a wire name: a known kind, or [`EventKind::Other`] for a well-formed name this
    /// build does not know; `None` for a malformed one.
    pub fn from_wire(s: &str) -> Option<EventKind> {
        Self::parse(s).or_else(|| TypeName::new(s).map(EventKind::Other))
    }

    /// Whether this build knows the kind.
    pub fn is_known(&self) -> bool {
        !matches!(self, EventKind::Other(_))
    }

    /// Kinds a client may send with `POST /api/v1/messages` in the first wave.
    pub fn is_user_sendable(&self) -> bool {
        matches!(
            self,
            EventKind::Message | EventKind::Action | EventKind::Notice
        )
    }

    /// Ephemeral kinds are delivered but never stored.
    pub fn is_ephemeral(&self) -> bool {
        matches!(
            self,
            EventKind::Typing | EventKind::Presence | EventKind::Receipt | EventKind::Notification
        )
    }
}

impl std::fmt::Display for EventKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for EventKind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for EventKind {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = std::borrow::Cow::<'de, str>::deserialize(deserializer)?;
        EventKind::from_wire(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("{name:?} is not an event type name")))
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
    #[schema(value_type = String, example = "message")]
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
    /// Aggregate, in message views only (history, `GET /api/v1/messages/{id}`, threads): the
    /// message was edited (`body` and `meta` are the latest). Absent otherwise, and in sync.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<Edited>,
    /// Aggregate: `true` when the message was deleted (its `body` is empty and `meta` `{}`).
    /// Message views carry it on every message; sync never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<bool>,
    /// Aggregate: reactions grouped by emoji, in the order they were first given. Message
    /// views carry it on every message (empty when none); sync never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reactions: Option<Vec<ReactionCount>>,
    /// Aggregate: replies to this message (`reply_to` = its id). Message views carry it on
    /// every message; sync never does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replies: Option<Replies>,
    /// Aggregate: for each of `attachments` this server knows, its name, size, type and
    /// thumbnail (in the order of `attachments`). Message views with attachments only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<crate::media::MediaInfo>>,
}

impl Event {
    /// Whether the kind is a message that edits, deletes, reactions and replies apply to
    /// (`message`, `action`, `notice`).
    pub fn is_message(&self) -> bool {
        self.kind.is_user_sendable()
    }

    /// The same event without aggregates: the raw event as sync delivers it.
    pub fn without_aggregates(mut self) -> Event {
        self.edited = None;
        self.deleted = None;
        self.reactions = None;
        self.replies = None;
        self.files = None;
        self
    }
}

/// The `edited` aggregate of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Edited {
    /// When the latest edit was made (RFC 3339, milliseconds, UTC).
    pub ts: String,
    /// How many edits were made.
    pub count: i64,
}

/// One emoji's reactions to a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ReactionCount {
    /// The emoji.
    pub emoji: String,
    /// How many users reacted with it.
    pub count: i64,
    /// Whether the user asking is one of them.
    pub me: bool,
}

/// The `replies` aggregate of a message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Replies {
    /// How many messages answer this one.
    pub count: i64,
    /// When the latest reply was sent (RFC 3339), `null` without replies.
    pub last_ts: Option<String>,
}

/// Longest reaction, in characters (Unicode scalar values).
pub const EMOJI_MAX_CHARS: usize = 8;
/// Longest reaction, in UTF-8 bytes.
pub const EMOJI_MAX_BYTES: usize = 32;

/// Why a reaction is not an emoji.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmojiError {
    /// Empty.
    #[error("a reaction is an emoji, not empty")]
    Empty,
    /// Longer than [`EMOJI_MAX_CHARS`] characters or [`EMOJI_MAX_BYTES`] bytes.
    #[error("a reaction is at most {EMOJI_MAX_CHARS} characters and {EMOJI_MAX_BYTES} bytes")]
    TooLong,
    /// Letters, digits, white space, control or formatting characters, or plain ASCII: text.
    #[error("a reaction is an emoji or symbol, not text")]
    NotEmoji,
}

/// Checks that `s` is a reaction: a short sequence of emoji or symbols (with their joiners,
/// variation selectors, skin tones and tags), not free text. Pure; the server and the SDK use
/// the same rule. Keycaps (`1️⃣`, `#️⃣`) are the one place an ASCII character may appear.
pub fn validate_emoji(s: &str) -> Result<(), EmojiError> {
    if s.is_empty() {
        return Err(EmojiError::Empty);
    }
    if s.len() > EMOJI_MAX_BYTES || s.chars().count() > EMOJI_MAX_CHARS {
        return Err(EmojiError::TooLong);
    }
    let chars: Vec<char> = s.chars().collect();
    let mut symbols = 0;
    for (i, &c) in chars.iter().enumerate() {
        let next = chars.get(i + 1).copied();
        let keycap = matches!(c, '0'..='9' | '#' | '*')
            && (next == Some('\u{20E3}')
                || (next == Some('\u{FE0F}') && chars.get(i + 2) == Some(&'\u{20E3}')));
        if keycap {
            symbols += 1;
            continue;
        }
        if is_emoji_modifier(c) {
            continue;
        }
        let text_like = c.is_ascii()
            || c.is_alphanumeric()
            || c.is_whitespace()
            || c.is_control()
            || is_format(c)
            || ('\u{0300}'..='\u{036F}').contains(&c);
        if text_like {
            return Err(EmojiError::NotEmoji);
        }
        symbols += 1;
    }
    if symbols == 0 {
        return Err(EmojiError::NotEmoji);
    }
    Ok(())
}

/// Joiners, variation selectors, the keycap, and tag characters: parts of an emoji sequence
/// that are not emoji themselves.
fn is_emoji_modifier(c: char) -> bool {
    matches!(
        c,
        '\u{200D}' | '\u{FE0E}' | '\u{FE0F}' | '\u{20E3}' | '\u{E0020}'..='\u{E007F}'
    )
}

/// Invisible formatting characters (direction marks, zero-width spaces, the BOM, …) and
/// private-use and unassigned-looking ranges that render as nothing or as anything.
fn is_format(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{061C}' | '\u{180E}'
        | '\u{200B}'..='\u{200C}' | '\u{200E}'..='\u{200F}' | '\u{2028}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{FEFF}' | '\u{FFF0}'..='\u{FFFF}'
        | '\u{E000}'..='\u{F8FF}' | '\u{F0000}'..)
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
    fn unknown_kinds_are_kept() {
        let kind: EventKind = serde_json::from_str("\"org.example.poll\"").unwrap();
        assert_eq!(kind.as_str(), "org.example.poll");
        assert!(!kind.is_known());
        assert!(!kind.is_user_sendable() && !kind.is_ephemeral());
        assert_eq!(
            serde_json::to_string(&kind).unwrap(),
            "\"org.example.poll\""
        );
        for bad in ["", "Poll", "9lives", "a b", "<script>", &"x".repeat(49)] {
            assert_eq!(EventKind::from_wire(bad), None, "{bad:?}");
            assert!(serde_json::from_value::<EventKind>(serde_json::json!(bad)).is_err());
        }
        assert_eq!(EventKind::from_wire("join"), Some(EventKind::Join));
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
        for aggregate in ["edited", "deleted", "reactions", "replies"] {
            assert!(back.get(aggregate).is_none(), "{aggregate} in a raw event");
        }
    }

    #[test]
    fn emoji_rule() {
        for good in [
            "👍",
            "❤️",
            "🎉",
            "👍🏽",
            "👨‍👩‍👧‍👦",
            "🇫🇷",
            "1️⃣",
            "#️⃣",
            "✔",
            "★",
            "🏳️‍🌈",
            "🏴󠁧󠁢󠁳󠁣󠁴󠁿",
            "👍👍",
        ] {
            assert_eq!(validate_emoji(good), Ok(()), "{good:?}");
        }
        let table = [
            ("", EmojiError::Empty),
            ("a", EmojiError::NotEmoji),
            ("ok", EmojiError::NotEmoji),
            ("+1", EmojiError::NotEmoji),
            (":)", EmojiError::NotEmoji),
            ("1", EmojiError::NotEmoji),
            ("👍 ", EmojiError::NotEmoji),
            ("é", EmojiError::NotEmoji),
            ("日", EmojiError::NotEmoji),
            ("٣", EmojiError::NotEmoji),
            ("\u{200D}", EmojiError::NotEmoji),
            ("\u{FE0F}", EmojiError::NotEmoji),
            ("\u{202E}👍", EmojiError::NotEmoji),
            ("👍\n", EmojiError::NotEmoji),
            ("\u{0007}", EmojiError::NotEmoji),
            ("\u{E000}", EmojiError::NotEmoji),
            ("👍👍👍👍👍👍👍👍👍", EmojiError::TooLong),
            ("👨‍👩‍👧‍👦👨‍👩‍👧‍👦", EmojiError::TooLong),
        ];
        for (bad, why) in table {
            assert_eq!(validate_emoji(bad), Err(why), "{bad:?}");
        }
    }
}
