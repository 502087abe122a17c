//! The chat UI's vocabulary: [`Key`]s and [`Outcome`]s go into the state, [`Action`]s come out
//! for the runner. Plain data.

use federation_proto::api::client::{ChannelSummary, Conversation, UserProfile};
use hearth_client::{ConnectionState, Event, EventKind};

/// A key press, already translated from the terminal's events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// A printable character.
    Char(char),
    /// Send the input line.
    Enter,
    /// Delete before the cursor.
    Backspace,
    /// Delete under the cursor.
    Delete,
    /// Cursor left.
    Left,
    /// Cursor right.
    Right,
    /// Cursor to the start.
    Home,
    /// Cursor to the end.
    End,
    /// Previous input line.
    Up,
    /// Next input line.
    Down,
    /// Scroll up a page (fetching older history at the top).
    PageUp,
    /// Scroll down a page.
    PageDown,
    /// Next window.
    NextBuffer,
    /// Previous window.
    PrevBuffer,
    /// Window number n (0-based).
    Jump(usize),
    /// Delete to the start of the line.
    KillLine,
    /// Delete the word before the cursor.
    DeleteWord,
    /// The terminal was resized: nothing changes but the next drawing.
    Resize,
    /// Leave.
    Quit,
}

/// Work for the runner: each becomes one or two SDK calls and comes back as an [`Outcome`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Send a message, action or notice.
    Send {
        to: String,
        kind: EventKind,
        body: String,
    },
    /// Join, then report [`Outcome::Joined`].
    Join {
        channel: String,
        key: Option<String>,
    },
    /// Part, then report [`Outcome::Parted`].
    Part {
        channel: String,
        reason: Option<String>,
    },
    /// Set a topic (the topic event shows the result).
    SetTopic { channel: String, topic: String },
    /// Fetch the topic and report [`Outcome::Topic`].
    ShowTopic { channel: String },
    /// Change nick, then report [`Outcome::Me`].
    Nick(String),
    /// Change modes (the mode event shows the result).
    Mode {
        channel: String,
        modes: String,
        arg: Option<String>,
    },
    /// Fetch a page of history before `before` (the newest page when `None`).
    LoadHistory { target: String, before: Option<i64> },
    /// Fetch the unread counts and report [`Outcome::Conversations`].
    LoadConversations,
    /// Move the read marker of `target` to message `id` (nothing comes back).
    MarkRead { target: String, id: String },
    /// Fetch a DM partner's profile and report [`Outcome::Presence`].
    LoadPresence { handle: String },
    /// Tell `target` that the user types (nothing comes back).
    Typing { target: String, on: bool },
    /// Ban (`on`) or unban a mask; the mode event shows it.
    Ban {
        channel: String,
        mask: String,
        on: bool,
    },
    /// Mute (`on`) or unmute a member; reports [`Outcome::Note`].
    Mute {
        channel: String,
        nick: String,
        seconds: Option<i64>,
        on: bool,
    },
    /// Block (`on`) or unblock a user; reports [`Outcome::Note`].
    Block { handle: String, on: bool },
    /// Report a message; reports [`Outcome::Note`].
    Report { id: String, reason: String },
    /// Make an invite link; reports [`Outcome::Note`] with its code.
    InviteLink { channel: String },
    /// Search and report [`Outcome::SearchResults`].
    Search { query: String },
    /// Leave the UI.
    Quit,
}

/// What the runner learned, fed back into the state.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The channels this user is in, at start.
    Channels(Vec<ChannelSummary>),
    /// The channels and DMs with their unread counts, at start and after reconnects.
    Conversations(Vec<Conversation>),
    /// New events from the sync stream.
    Events(Vec<Event>),
    /// A message this client sent, as stored.
    Sent(Box<Event>),
    /// The sync connection changed state.
    Connection(ConnectionState),
    /// A join succeeded; `channel` is the server's full name.
    Joined { channel: String, topic: String },
    /// A part succeeded.
    Parted { channel: String },
    /// A page of history arrived (newest first, as the server sends it).
    History { target: String, events: Vec<Event> },
    /// The topic of a channel.
    Topic { channel: String, topic: String },
    /// Own profile after a nick change.
    Me(UserProfile),
    /// A DM partner's status (from their profile).
    Presence { handle: String, status: String },
    /// A search's results, one line each, most relevant first.
    SearchResults { query: String, lines: Vec<String> },
    /// A history request failed.
    HistoryFailed { target: String, error: String },
    /// An action failed.
    Failed { what: String, error: String },
    /// A line for the active window (what a community command did).
    Note(String),
    /// The sync stream stopped for good (e.g. the session expired).
    SyncStopped(String),
}
