//! The client API (`/api/v1`, JSON, `Authorization: Bearer <token>`): DESIGN.md, "Client API".

use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::event::Event;
pub use crate::event::{Edited, ReactionCount, Replies};

/// Paths of the client API. `{name}` is a channel name without `#` (the `%23` form is accepted),
/// `{handle}` a user handle.
pub mod paths {
    /// `POST`: create an account.
    pub const REGISTER: &str = "/api/v1/register";
    /// `POST`: log in; each login is a device.
    pub const LOGIN: &str = "/api/v1/login";
    /// `POST`: end this device's session.
    pub const LOGOUT: &str = "/api/v1/logout";
    /// `GET`: sync (long-poll); `POST`: send.
    pub const MESSAGES: &str = "/api/v1/messages";
    /// `GET`: the same events as sync, as a Server-Sent Events stream.
    pub const MESSAGES_STREAM: &str = "/api/v1/messages/stream";
    /// `GET`: one message with its aggregates; `PUT`: edit it; `DELETE`: delete it.
    pub const MESSAGE: &str = "/api/v1/messages/{id}";
    /// `POST`: react to a message.
    pub const REACTIONS: &str = "/api/v1/messages/{id}/reactions";
    /// `DELETE`: withdraw one's reaction.
    pub const REACTION: &str = "/api/v1/messages/{id}/reactions/{emoji}";
    /// `GET`: a message and its replies.
    pub const THREAD: &str = "/api/v1/messages/{id}/thread";
    /// `POST`: acknowledge up to a `seq` (moves the device's cursor) without fetching.
    pub const MESSAGES_ACK: &str = "/api/v1/messages/ack";
    /// `GET`: the same events as sync over a WebSocket, with client frames for sends and acks.
    pub const WS: &str = "/api/v1/ws";
    /// `GET`: stored history of a channel or DM.
    pub const HISTORY: &str = "/api/v1/history";
    /// `GET`: channels this user is in.
    pub const CHANNELS: &str = "/api/v1/channels";
    /// `GET`: public (not `+s`) channels of this server with member counts.
    pub const CHANNELS_PUBLIC: &str = "/api/v1/channels/public";
    /// `POST`: join (creating the channel when it does not exist).
    pub const JOIN: &str = "/api/v1/channels/join";
    /// `POST`: part.
    pub const PART: &str = "/api/v1/channels/part";
    /// `GET`: a channel's topic, modes and members.
    pub const CHANNEL: &str = "/api/v1/channels/{name}";
    /// `POST`: set the topic.
    pub const TOPIC: &str = "/api/v1/channels/{name}/topic";
    /// `GET` a channel's pins, `POST` a pin.
    pub const PINS: &str = "/api/v1/channels/{name}/pins";
    /// `DELETE` a pin (unpin the message `{id}`).
    pub const PIN: &str = "/api/v1/channels/{name}/pins/{id}";
    /// `POST`: change channel or member modes.
    pub const MODE: &str = "/api/v1/channels/{name}/mode";
    /// `POST`: invite a user past `+i`.
    pub const INVITE: &str = "/api/v1/channels/{name}/invite";
    /// `POST`: remove a member.
    pub const KICK: &str = "/api/v1/channels/{name}/kick";
    /// `GET`: own profile.
    pub const ME: &str = "/api/v1/users/me";
    /// `POST`: change nick.
    pub const NICK: &str = "/api/v1/users/nick";
    /// `GET`: anyone's profile.
    pub const USER: &str = "/api/v1/users/{handle}";
    /// `GET`: server information.
    pub const SERVER: &str = "/api/v1/server";
    /// `GET`: health, no auth.
    pub const HEALTH: &str = "/.well-known/healthcheck.json";
    /// `POST`: this user is (or stopped) typing in a channel or DM.
    pub const TYPING: &str = "/api/v1/typing";
}

/// Sync long-poll default, in seconds.
pub const SYNC_DEFAULT_TIMEOUT_S: u64 = 30;
/// Sync long-poll maximum, in seconds.
pub const SYNC_MAX_TIMEOUT_S: u64 = 120;
/// History page size maximum.
pub const HISTORY_MAX_LIMIT: u32 = 200;
/// A body is at most this many characters (and at most `MAX_MESSAGE_SIZE` bytes).
pub const BODY_MAX_CHARS: usize = 10_000;

/// `POST /api/v1/register`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// 3–20 characters of `[a-z0-9_]`.
    pub nick: String,
    /// 8–1024 bytes.
    pub password: String,
    /// Optional name of the first device.
    #[serde(default)]
    pub device: Option<String>,
}

/// Answer to register: a token for the first device and the new profile.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    /// Bearer token of the first device.
    pub token: String,
    /// The first device's id.
    pub device_id: String,
    /// The new user.
    pub user: UserProfile,
}

/// `POST /api/v1/login`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// The nick (case-insensitive).
    pub nick: String,
    /// The password.
    pub password: String,
    /// A name for this device ("phone", "laptop", …).
    #[serde(default)]
    pub device: Option<String>,
}

/// Answer to login.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token of the new device.
    pub token: String,
    /// The new device's id.
    pub device_id: String,
}

/// A user as others see them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct UserProfile {
    /// Stable UUID that survives nick changes.
    pub id: String,
    /// Current nick.
    pub nick: String,
    /// `nick@server`.
    pub handle: String,
    /// Whether any device of the user is connected or active in the last minutes.
    pub online: bool,
    /// Seconds since the user's last action.
    pub idle_seconds: i64,
    /// When the account was created (RFC 3339).
    pub created: String,
    /// The name the user chose to show (1–50 characters), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// An `https://` URL or a media id, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// `online`, `away`, `busy` or `offline` (appears offline), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// A short status line (at most 100 characters), when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// `POST /api/v1/users/nick`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NickRequest {
    /// The new nick.
    pub nick: String,
}

/// Query of `GET /api/v1/messages` (sync).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct SyncQuery {
    /// Return events after this `seq`, acknowledging everything up to it. Without it the
    /// server resumes from this device's stored cursor.
    pub after: Option<i64>,
    /// Seconds to wait when there is nothing new (default 30, max 120, 0 answers at once).
    pub timeout: Option<u64>,
    /// At most this many events (default and max 500).
    pub limit: Option<u32>,
}

/// Query of `GET /api/v1/messages/stream` (Server-Sent Events).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct StreamQuery {
    /// Stream events after this `seq`, acknowledging everything up to it. A `Last-Event-ID`
    /// header takes precedence (a reconnecting `EventSource` keeps its first URL). Without
    /// either the stream starts at this device's stored cursor.
    pub after: Option<i64>,
}

/// Query of `GET /api/v1/ws` (WebSocket).
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct WsQuery {
    /// Deliver events after this `seq`, acknowledging everything up to it (like sync's
    /// `after`). Without it the socket starts at this device's stored cursor.
    pub after: Option<i64>,
}

/// `POST /api/v1/messages/ack` (and the WebSocket's `ack` frame).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AckRequest {
    /// Everything up to this `seq` has been received. The cursor never moves backwards, and
    /// never past the end of the log.
    pub seq: i64,
}

/// Answer to an acknowledgement, once it is written.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AckResponse {
    /// The device's cursor now: where a sync without `after` (or a new stream) starts.
    pub cursor: i64,
}

/// Answer to sync.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SyncResponse {
    /// Events for this device, in `seq` order.
    pub events: Vec<Event>,
    /// The cursor to pass as `after` next time.
    pub next: i64,
}

/// `POST /api/v1/typing`: the members of `target` see a `typing` event (ephemeral, never
/// stored) that lapses after 5 s unless renewed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TypingRequest {
    /// `#channel[@host]` or `nick[@server]`.
    pub target: String,
    /// `true` while typing (renew every few seconds), `false` when done.
    pub typing: bool,
}

/// `POST /api/v1/messages`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SendRequest {
    /// `#channel[@host]` or `nick[@server]`.
    pub to: String,
    /// `message` (default), `action` or `notice`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
    /// The text.
    pub body: String,
    /// A JSON object for clients and extensions.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
    /// Id of the message this one answers.
    #[serde(default)]
    pub reply_to: Option<String>,
    /// Client transaction id: a repeat from the same device returns the first result.
    #[serde(default)]
    pub txn_id: Option<String>,
    /// Media ids (`<uuid>@<server>`) the sender uploaded, at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub attachments: Vec<String>,
}

/// `PUT /api/v1/messages/{id}`: the new text of one's message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EditRequest {
    /// The new text.
    pub body: String,
    /// A new `meta` object (`{}` when absent).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub meta: Option<serde_json::Value>,
}

/// `POST /api/v1/messages/{id}/reactions`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReactRequest {
    /// One emoji (a short sequence of emoji or symbols: at most 8 characters and 32 bytes, no
    /// letters, digits, white space or control characters).
    pub emoji: String,
}

/// Answer to `GET /api/v1/messages/{id}/thread`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ThreadResponse {
    /// The root message, with its aggregates.
    pub root: Event,
    /// Its replies (`reply_to` = the root), oldest first, with their aggregates.
    pub replies: Vec<Event>,
}

/// Query of `GET /api/v1/history`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// `#channel[@host]` or a user handle for a DM.
    pub target: String,
    /// Only events with `seq` below this.
    pub before: Option<i64>,
    /// Only events with `seq` above this.
    pub after: Option<i64>,
    /// At most this many (default 50, max 200).
    pub limit: Option<u32>,
}

/// Answer to history: newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct HistoryResponse {
    /// Events, newest first. Messages carry their aggregates (`edited`, `deleted`,
    /// `reactions`, `replies`).
    pub events: Vec<Event>,
}

/// `POST /api/v1/channels/join` and `/part`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct JoinRequest {
    /// `#name[@host]`.
    pub channel: String,
    /// The channel key when `+k` is set.
    #[serde(default)]
    pub key: Option<String>,
    /// Reserved for invite tokens; invites are recorded by the server.
    #[serde(default)]
    pub invite: Option<String>,
    /// Part message.
    #[serde(default)]
    pub reason: Option<String>,
}

/// One channel in a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelSummary {
    /// `#name@host`.
    pub name: String,
    /// Current topic.
    pub topic: String,
    /// Number of members.
    pub members: i64,
    /// Channel modes, e.g. `+nt`.
    pub modes: String,
    /// What the channel is for (empty when unset).
    #[serde(default)]
    pub description: String,
}

/// Answer to `GET /api/v1/channels` and `/channels/public`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelList {
    /// The channels.
    pub channels: Vec<ChannelSummary>,
}

/// A channel member and their modes.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelMember {
    /// `nick@server`.
    pub handle: String,
    /// Current nick.
    pub nick: String,
    /// Member modes: `o` (operator), `v` (voice); empty for none.
    pub modes: String,
    /// Whether this member owns the channel.
    pub owner: bool,
}

/// Answer to `GET /api/v1/channels/{name}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ChannelInfo {
    /// `#name@host`.
    pub name: String,
    /// Current topic.
    pub topic: String,
    /// Who set the topic.
    #[serde(default)]
    pub topic_set_by: Option<String>,
    /// What the channel is for, at most 500 characters (empty when unset).
    #[serde(default)]
    pub description: String,
    /// Channel modes, e.g. `+ntl 50` (the key is only shown to members).
    pub modes: String,
    /// The owner's handle.
    pub owner: String,
    /// When it was created (RFC 3339).
    pub created: String,
    /// Members with their modes.
    pub members: Vec<ChannelMember>,
    /// The channel's bans (`+b` masks), shown to its operators only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bans: Option<Vec<ChannelBan>>,
}

/// A ban of a channel (`GET /api/v1/channels/{name}`, operators only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ChannelBan {
    /// The mask, `nick@server` with `*`/`?` wildcards (lowercase).
    pub mask: String,
    /// Who set it (`nick@server`).
    pub set_by: String,
    /// When (RFC 3339).
    pub set_at: String,
}

/// `POST /api/v1/channels/{name}/topic`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TopicRequest {
    /// The new topic (at most 1000 characters; empty clears it).
    pub topic: String,
}

/// `PUT /api/v1/channels/{name}`: the channel's settings.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChannelSettingsRequest {
    /// What the channel is for: at most 500 characters, no control characters except line
    /// breaks; empty clears it.
    pub description: String,
}

/// `POST /api/v1/channels/{name}/pins`
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PinRequest {
    /// The id of a message of the channel.
    pub id: String,
}

/// One pinned message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Pin {
    /// The message as it reads now (after edits), with its aggregates.
    pub message: Event,
    /// Who pinned it (`nick@server`).
    pub pinned_by: String,
    /// When (RFC 3339).
    pub pinned_at: String,
}

/// Answer to `GET /api/v1/channels/{name}/pins`: newest pin first; deleted messages drop off.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PinList {
    /// The pins.
    pub pins: Vec<Pin>,
}

/// `POST /api/v1/channels/{name}/mode`: `{"modes": "+mt"}`, `{"modes": "+k", "arg": "secret"}`,
/// `{"modes": "+l", "arg": "50"}` or `{"modes": "+o", "nick": "bob"}`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ModeRequest {
    /// A mode string such as `+mt`, `-i`, `+k`, `+l`, `+o`, `+v`, `+q` (owner transfer).
    pub modes: String,
    /// For member modes: whose.
    #[serde(default)]
    pub nick: Option<String>,
    /// For `+k`/`+l`: the key or the limit. (`"+k secret"` and `"+l 50"` in `modes` work too.)
    #[serde(default)]
    pub arg: Option<String>,
}

/// `POST /api/v1/channels/{name}/invite` and `/kick`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberActionRequest {
    /// Whom.
    pub nick: String,
    /// Why (shown to the channel).
    #[serde(default)]
    pub reason: Option<String>,
}

/// Answer to `GET /api/v1/server`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ServerInfo {
    /// The server's name.
    pub name: String,
    /// Software version.
    pub version: String,
    /// Message of the day.
    pub motd: String,
    /// Number of local accounts.
    pub user_count: i64,
    /// The server's current ed25519 public key (unpadded base64), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
    /// Id of that key (`ed25519:…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_id: Option<String>,
}

/// Answer to the health check.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `"ok"` when the server and its database answer.
    pub status: String,
}

/// An empty success body: `{}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct Empty {}

/// Paths of read state, conversations, presence and profiles (DESIGN.md, "Rich chat").
pub mod read_paths {
    /// `POST`: set this user's read marker in a channel or DM.
    pub const READ: &str = "/api/v1/read";
    /// `GET`: who has read up to or past a message.
    pub const RECEIPTS: &str = "/api/v1/messages/{id}/receipts";
    /// `GET`: every channel and DM of the user, most recent activity first.
    pub const CONVERSATIONS: &str = "/api/v1/conversations";
    /// `GET`: users of this server by nick or display name.
    pub const USER_SEARCH: &str = "/api/v1/users/search";
}

/// `POST /api/v1/read`: this user has read `target` up to message `id`. The marker never moves
/// backwards; the user's other devices and the other members get a `receipt` event.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReadRequest {
    /// `#channel[@host]` or `nick[@server]`.
    pub target: String,
    /// The id of a message of that conversation.
    pub id: String,
}

/// Answer to `POST /api/v1/read`: the marker as it is now.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReadResponse {
    /// The conversation, as shown (`#channel@host` or `nick@server`).
    pub target: String,
    /// The message the marker is at (the newer one when the request would have moved it back).
    pub last_read: String,
    /// Whether this request moved the marker.
    pub moved: bool,
}

/// One reader of a message.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Receipt {
    /// `nick@server`.
    pub user: String,
    /// When they read it (RFC 3339): when their marker moved to or past it.
    pub ts: String,
}

/// Answer to `GET /api/v1/messages/{id}/receipts`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReceiptsResponse {
    /// Who has read up to or past the message, earliest first.
    pub read_by: Vec<Receipt>,
}

/// One channel or DM of the user.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Conversation {
    /// `#channel@host` or `nick@server`.
    pub target: String,
    /// `channel` or `dm`.
    pub kind: String,
    /// The conversation's newest stored event, if any.
    pub last_event: Option<Event>,
    /// Messages from others after the read marker (at most 1000: 1000 means "1000 or more").
    pub unread: u32,
    /// How many of those mention the user (`@nick`).
    pub mentions: u32,
    /// The message id the read marker is at, if the user has read anything.
    pub last_read: Option<String>,
    /// A channel's description (absent for DMs and channels without one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// Answer to `GET /api/v1/conversations`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ConversationsResponse {
    /// Most recent activity first.
    pub conversations: Vec<Conversation>,
}

/// `PATCH /api/v1/users/me`: every field is optional; an empty string clears `display_name`,
/// `avatar` or `status_message`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileUpdate {
    /// 1–50 characters (empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// An `https://` URL or a media id (empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// `online`, `away`, `busy` or `offline` (appear offline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// At most 100 characters (empty clears it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
}

/// Query of `GET /api/v1/users/search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct UserSearchQuery {
    /// 1–50 characters, matched case-insensitively against nicks and display names.
    pub q: Option<String>,
    /// At most this many users (1–50, default 20).
    #[serde(default)]
    pub limit: Option<u32>,
}

/// Answer to `GET /api/v1/users/search`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UserSearchResponse {
    /// Matching users of this server: nick prefixes first, then other matches, by nick.
    pub users: Vec<UserProfile>,
}

/// Paths of search (DESIGN.md, "Search").
pub mod search_paths {
    /// `GET`: full-text search over what the user may read.
    pub const SEARCH: &str = "/api/v1/search";
}

/// Default number of search results per page.
pub const SEARCH_DEFAULT_LIMIT: u32 = 20;
/// Most search results per page.
pub const SEARCH_MAX_LIMIT: u32 = 100;

/// Query of `GET /api/v1/search`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams, ToSchema)]
#[into_params(parameter_in = Query)]
pub struct SearchQuery {
    /// Words and "phrases" (in double quotes), all required; at most 500 characters and 16
    /// terms. Case-insensitive; no operators (everything is quoted).
    pub q: Option<String>,
    /// Only this channel (`#name[@host]`) or DM (a user handle).
    #[serde(rename = "in")]
    pub in_: Option<String>,
    /// Only messages from this user handle (`nick` or `nick@server`).
    pub from: Option<String>,
    /// `attachment` or `link` (`http://` or `https://` in the body).
    pub has: Option<String>,
    /// Only messages sent before this RFC 3339 time.
    pub before: Option<String>,
    /// Only messages sent after this RFC 3339 time.
    pub after: Option<String>,
    /// At most this many results (1–100, default 20).
    pub limit: Option<u32>,
    /// The `next` of the previous page (same query).
    pub next: Option<String>,
}

/// A match range of a message body: `[start, end)` in Unicode characters (code points).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Highlight {
    /// First character of the match.
    pub start: usize,
    /// One past its last character.
    pub end: usize,
}

/// The messages around a search result in its conversation, that the user may read.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
pub struct SearchContext {
    /// Up to 2 messages just before it, oldest first.
    pub before: Vec<Event>,
    /// Up to 2 messages just after it, oldest first.
    pub after: Vec<Event>,
}

/// One search result.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResult {
    /// The message, with its aggregates, in its latest form.
    pub event: Event,
    /// Where the query's words and phrases occur in `event.body`, in order.
    pub highlights: Vec<Highlight>,
    /// Its neighbours.
    pub context: SearchContext,
}

/// Answer to `GET /api/v1/search`.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    /// Most relevant first; equally relevant ones newest first.
    pub results: Vec<SearchResult>,
    /// Pass as `next=` with the same query for the next page; `null` at the end.
    pub next: Option<String>,
}
