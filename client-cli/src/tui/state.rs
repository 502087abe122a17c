//! The chat UI's state and its rules, without any I/O: keys and server outcomes go in, actions
//! for the runner come out. Everything here is unit-tested.

use std::time::{Duration, Instant};

use federation_proto::api::client::Conversation;
use federation_proto::ids::{ChannelName, ServerName, UserHandle};
use hearth_client::{ConnectionState, Event, EventKind};

pub use crate::tui::action::{Action, Key, Outcome};
use crate::tui::buffer::{acts_on_message, mentions_me, Buffer, BufferKind};
use crate::tui::command::{self, Input, HELP};
use crate::tui::editor::LineEditor;

/// The status window's key.
pub const STATUS: &str = "*status*";
/// How many events one history request asks for.
pub const HISTORY_PAGE: u32 = 50;
/// How long someone shows as typing after their last typing event.
pub const TYPING_LAPSE: Duration = Duration::from_secs(5);
/// At most one typing notification per this interval.
pub const TYPING_THROTTLE: Duration = Duration::from_secs(3);

/// The whole UI state.
#[derive(Debug)]
pub struct State {
    me: String,
    local: Option<ServerName>,
    buffers: Vec<Buffer>,
    active: usize,
    latest_seq: i64,
    page: usize,
    /// The input line.
    pub editor: LineEditor,
    /// The sync connection's state, for the status indicator.
    pub connection: ConnectionState,
    /// The clock: set by the runner before each key and outcome (and every second), by tests
    /// explicitly.
    now: Instant,
    /// The connection went offline since the last connect: reload the unread counts when it
    /// comes back.
    reconnecting: bool,
    /// When the last typing notification went out.
    typing_sent: Option<Instant>,
}

impl State {
    /// A fresh state for the user `me_handle` (`nick@server`).
    pub fn new(me_handle: &str) -> State {
        let local = me_handle.split_once('@').and_then(|(_, s)| s.parse().ok());
        State {
            me: me_handle.to_ascii_lowercase(),
            local,
            buffers: vec![Buffer::new(STATUS.into(), BufferKind::Status)],
            active: 0,
            latest_seq: 0,
            page: 10,
            editor: LineEditor::default(),
            connection: ConnectionState::Connecting,
            now: Instant::now(),
            reconnecting: false,
            typing_sent: None,
        }
    }

    /// Sets the clock (typing lines lapse by it) and drops lapsed typing entries.
    pub fn set_now(&mut self, now: Instant) {
        self.now = now;
        for b in &mut self.buffers {
            b.typing.retain(|_, until| *until > now);
        }
    }

    /// "alice is typing…" for the active window, while someone is.
    pub fn typing_line(&self) -> Option<String> {
        let local = self.local_server();
        let names: Vec<&str> = self
            .active()
            .typing
            .iter()
            .filter(|(_, until)| **until > self.now)
            .map(|(who, _)| crate::render::short_handle(who, local))
            .collect();
        match names.as_slice() {
            [] => None,
            [one] => Some(format!("{one} is typing…")),
            [a, b] => Some(format!("{a} and {b} are typing…")),
            [a, b, rest @ ..] => Some(format!("{a}, {b} and {} more are typing…", rest.len())),
        }
    }

    /// Own handle.
    pub fn me(&self) -> &str {
        &self.me
    }

    /// The local server's name, for shortening handles.
    pub fn local_server(&self) -> Option<&str> {
        self.local.as_ref().map(ServerName::as_str)
    }

    /// All buffers, in display order.
    pub fn buffers(&self) -> &[Buffer] {
        &self.buffers
    }

    /// Index of the active buffer.
    pub fn active_index(&self) -> usize {
        self.active
    }

    /// The active buffer.
    pub fn active(&self) -> &Buffer {
        &self.buffers[self.active]
    }

    /// Sets how many lines the message pane shows (the view calls it when drawing).
    pub fn set_page(&mut self, lines: usize) {
        self.page = lines.max(1);
    }

    /// Feeds a key press; returns the work it causes.
    pub fn key(&mut self, key: Key) -> Vec<Action> {
        match key {
            Key::Char(c) => {
                self.editor.insert(c);
                return self.typing_notification();
            }
            Key::Enter => return self.submit(),
            Key::Backspace => self.editor.backspace(),
            Key::Delete => self.editor.delete(),
            Key::Left => self.editor.left(),
            Key::Right => self.editor.right(),
            Key::Home => self.editor.home(),
            Key::End => self.editor.end(),
            Key::Up => self.editor.previous(),
            Key::Down => self.editor.next(),
            Key::KillLine => self.editor.kill_to_start(),
            Key::DeleteWord => self.editor.delete_word(),
            Key::PageUp => {
                let page = self.page;
                let buffer = &mut self.buffers[self.active];
                buffer.scroll_up(page.saturating_sub(1).max(1), page);
                return self.older_history_if_needed();
            }
            Key::PageDown => {
                let page = self.page;
                self.buffers[self.active].scroll_down(page.saturating_sub(1).max(1));
            }
            Key::NextBuffer => return self.switch_to((self.active + 1) % self.buffers.len()),
            Key::PrevBuffer => {
                return self.switch_to((self.active + self.buffers.len() - 1) % self.buffers.len())
            }
            Key::Jump(i) if i < self.buffers.len() => return self.switch_to(i),
            Key::Jump(_) | Key::Resize => {}
            Key::Quit => return vec![Action::Quit],
        }
        Vec::new()
    }

    /// Feeds a result from the runner; returns follow-up work.
    pub fn apply(&mut self, outcome: Outcome) -> Vec<Action> {
        match outcome {
            Outcome::Channels(list) => {
                let mut actions = Vec::new();
                for c in list {
                    let key = c.name.to_ascii_lowercase();
                    let i = self.ensure_buffer(&key, BufferKind::Channel);
                    self.buffers[i].topic = c.topic;
                    self.buffers[i].description = c.description;
                    actions.extend(self.load_newest(i));
                }
                if self.active == 0 && self.buffers.len() > 1 {
                    self.active = 1;
                }
                actions
            }
            Outcome::Conversations(list) => self.conversations(list),
            Outcome::Events(events) => events.into_iter().flat_map(|e| self.route(e)).collect(),
            Outcome::Sent(event) => self.route(*event),
            Outcome::Connection(state) => {
                let mut actions = Vec::new();
                match state {
                    ConnectionState::Offline { .. } => self.reconnecting = true,
                    ConnectionState::Connected if self.reconnecting => {
                        self.reconnecting = false;
                        actions.push(Action::LoadConversations);
                    }
                    _ => {}
                }
                self.connection = state;
                actions
            }
            Outcome::Joined { channel, topic } => {
                let i = self.ensure_buffer(&channel.to_ascii_lowercase(), BufferKind::Channel);
                self.buffers[i].topic = topic;
                let mut actions = self.switch_to(i);
                actions.extend(self.load_newest(i));
                actions
            }
            Outcome::Parted { channel } => {
                self.remove_buffer(&channel.to_ascii_lowercase());
                Vec::new()
            }
            Outcome::History { target, events } => {
                let Some(i) = self.find(&target) else {
                    return Vec::new();
                };
                let full_page = events.len() >= HISTORY_PAGE as usize;
                let buffer = &mut self.buffers[i];
                buffer.loading = false;
                buffer.history_complete = !full_page;
                // A page's messages carry their aggregates: their edits, deletes and
                // reactions are already counted there, so those get no line of their own
                // (messages first: a page is newest first).
                let (acting, plain): (Vec<Event>, Vec<Event>) =
                    events.into_iter().partition(acts_on_message);
                for e in plain.into_iter().chain(acting) {
                    self.latest_seq = self.latest_seq.max(e.seq);
                    self.buffers[i].remember_reaction(&e);
                    if acts_on_message(&e) && self.buffers[i].holds_target(&e) {
                        continue;
                    }
                    self.buffers[i].insert_event(e);
                }
                if i == self.active {
                    let mut actions = self.mark_read(i);
                    actions.extend(self.older_history_if_needed());
                    return actions;
                }
                Vec::new()
            }
            Outcome::Topic { channel, topic } => {
                let key = channel.to_ascii_lowercase();
                let text = if topic.is_empty() {
                    format!("{channel} has no topic")
                } else {
                    format!("topic of {channel}: {topic}")
                };
                if let Some(i) = self.find(&key) {
                    self.buffers[i].topic = topic;
                }
                self.note_active(text);
                Vec::new()
            }
            Outcome::Presence { handle, status } => {
                if let Some(i) = self.find(&handle.to_ascii_lowercase()) {
                    self.buffers[i].presence = Some(status);
                }
                Vec::new()
            }
            Outcome::SearchResults { query, lines } => {
                self.note_active(format!("search {query}: {} result(s)", lines.len()));
                for line in lines {
                    self.note_active(line);
                }
                Vec::new()
            }
            Outcome::Me(profile) => {
                self.me = profile.handle.to_ascii_lowercase();
                self.note_active(format!("you are now known as {}", profile.nick));
                Vec::new()
            }
            Outcome::HistoryFailed { target, error } => {
                if let Some(i) = self.find(&target) {
                    self.buffers[i].loading = false;
                    self.buffers[i]
                        .note(self.latest_seq, format!("could not load history: {error}"));
                }
                Vec::new()
            }
            Outcome::Failed { what, error } => {
                self.note_active(format!("{what} failed: {error}"));
                Vec::new()
            }
            Outcome::Note(text) => {
                self.note_active(text);
                Vec::new()
            }
            Outcome::SyncStopped(error) => {
                self.connection = ConnectionState::Offline {
                    failures: 0,
                    retry_in: Default::default(),
                    error: error.clone(),
                };
                self.note_active(format!(
                    "live updates stopped: {error} (log in again with `hearth login`)"
                ));
                Vec::new()
            }
        }
    }

    /// Enter: runs the input line.
    fn submit(&mut self) -> Vec<Action> {
        let line = self.editor.take();
        match command::parse(&line) {
            Ok(None) => Vec::new(),
            Ok(Some(input)) => {
                self.buffers[self.active].scroll = 0;
                if matches!(input, Input::Say(_) | Input::Me(_)) {
                    // The message ends the typing: the next one is announced at once.
                    self.typing_sent = None;
                }
                self.run(input)
            }
            Err(message) => {
                self.note_active(message);
                Vec::new()
            }
        }
    }

    /// Turns a parsed input line into actions.
    fn run(&mut self, input: Input) -> Vec<Action> {
        let result = match input {
            Input::Say(body) => self
                .active_target("say something")
                .map(|to| vec![send(to, EventKind::Message, body)]),
            Input::Me(body) => self
                .active_target("send an action")
                .map(|to| vec![send(to, EventKind::Action, body)]),
            Input::Msg { target, body } => self.canonical_target(&target).map(|to| {
                let kind = if to.starts_with('#') {
                    BufferKind::Channel
                } else {
                    BufferKind::Direct
                };
                if kind == BufferKind::Direct {
                    self.ensure_buffer(&to, kind);
                }
                vec![send(to, EventKind::Message, body)]
            }),
            Input::Query { target } => self.canonical_user(&target).map(|to| {
                let i = self.ensure_buffer(&to, BufferKind::Direct);
                self.switch_to(i)
            }),
            Input::Join { channel, key } => self
                .canonical_channel(&channel)
                .map(|channel| vec![Action::Join { channel, key }]),
            Input::Part { channel, reason } => self.channel_or_active(channel).map(|channel| {
                if self
                    .find(&channel)
                    .is_some_and(|i| self.buffers[i].kind == BufferKind::Direct)
                {
                    self.remove_buffer(&channel);
                    Vec::new()
                } else {
                    vec![Action::Part { channel, reason }]
                }
            }),
            Input::Topic { channel, topic } => {
                self.channel_or_active(channel).map(|channel| match topic {
                    Some(topic) => vec![Action::SetTopic { channel, topic }],
                    None => vec![Action::ShowTopic { channel }],
                })
            }
            Input::Search(query) => Ok(vec![Action::Search { query }]),
            Input::Nick(nick) => Ok(vec![Action::Nick(nick)]),
            Input::Mode {
                channel,
                modes,
                arg,
            } => self.channel_or_active(channel).map(|channel| {
                vec![Action::Mode {
                    channel,
                    modes,
                    arg,
                }]
            }),
            Input::Ban { channel, mask, on } => self
                .channel_or_active(channel)
                .map(|channel| vec![Action::Ban { channel, mask, on }]),
            Input::Mute {
                channel,
                nick,
                seconds,
                on,
            } => self.channel_or_active(channel).map(|channel| {
                vec![Action::Mute {
                    channel,
                    nick,
                    seconds,
                    on,
                }]
            }),
            Input::Block { handle, on } => Ok(vec![Action::Block { handle, on }]),
            Input::Report { id, reason } => Ok(vec![Action::Report { id, reason }]),
            Input::InviteLink { channel } => self
                .channel_or_active(channel)
                .map(|channel| vec![Action::InviteLink { channel }]),
            Input::Help => {
                for line in HELP {
                    self.note_active(*line);
                }
                Ok(Vec::new())
            }
            Input::Quit => Ok(vec![Action::Quit]),
        };
        result.unwrap_or_else(|message| {
            self.note_active(message);
            Vec::new()
        })
    }

    /// Puts an event in its buffer (creating a DM buffer when needed) and counts it as unread.
    fn route(&mut self, event: Event) -> Vec<Action> {
        if event.kind == EventKind::Typing {
            self.typing_event(&event);
            return Vec::new();
        }
        if event.kind == EventKind::Receipt {
            self.own_receipt(&event);
            return Vec::new();
        }
        if event.kind == EventKind::Presence {
            self.presence_event(&event);
            return Vec::new();
        }
        if event.kind.is_ephemeral() {
            return Vec::new();
        }
        self.latest_seq = self.latest_seq.max(event.seq);
        let from_me = event.from.eq_ignore_ascii_case(&self.me);
        let (key, kind) = if event.to.starts_with('#') {
            (event.to.to_ascii_lowercase(), BufferKind::Channel)
        } else if matches!(
            event.kind,
            EventKind::Message | EventKind::Action | EventKind::Notice
        ) || acts_on_message(&event)
        {
            let other = if from_me { &event.to } else { &event.from };
            (other.to_ascii_lowercase(), BufferKind::Direct)
        } else {
            (STATUS.to_string(), BufferKind::Status)
        };
        let mut actions = Vec::new();
        if event.kind == EventKind::Nick && from_me {
            // A nick change from this or another device: own messages carry the new handle.
            self.me = event.body.to_ascii_lowercase();
        }
        if kind == BufferKind::Channel && from_me && event.kind == EventKind::Part {
            self.remove_buffer(&key);
            return actions;
        }
        let kicked = event.meta.get("nick").and_then(|v| v.as_str());
        if kind == BufferKind::Channel
            && event.kind == EventKind::Kick
            && kicked.is_some_and(|k| k.eq_ignore_ascii_case(&self.me))
        {
            self.remove_buffer(&key);
            let text = crate::render::render(&event, self.local_server()).text;
            self.buffers[0].note(self.latest_seq, text);
            return actions;
        }
        let existed = self.find(&key).is_some();
        let i = self.ensure_buffer(&key, kind);
        if !existed && kind == BufferKind::Channel {
            actions.extend(self.load_newest(i));
        }
        if !existed && kind == BufferKind::Direct {
            actions.push(Action::LoadPresence { handle: key });
        }
        let speech = matches!(
            event.kind,
            EventKind::Message | EventKind::Action | EventKind::Notice
        );
        // Edits and deletes show in place, reactions under their message.
        if self.buffers[i].apply_in_place(&event, &self.me) {
            return actions;
        }
        if speech {
            // Their message ends their typing.
            self.buffers[i]
                .typing
                .remove(&event.from.to_ascii_lowercase());
        }
        let seq = event.seq;
        let mentioned = speech && mentions_me(&event.body, &self.me);
        let is_new = self.buffers[i].insert_event(event);
        if is_new && speech && !from_me {
            if i == self.active {
                actions.extend(self.mark_read(i));
            } else if seq > self.buffers[i].counted_through {
                self.buffers[i].unread += 1;
                self.buffers[i].mentions += usize::from(mentioned);
            }
        }
        actions
    }

    /// A `typing` event: shows (for 5 s) or clears the sender in their window.
    fn typing_event(&mut self, event: &Event) {
        if event.from.eq_ignore_ascii_case(&self.me) {
            return;
        }
        let key = if event.to.starts_with('#') {
            &event.to
        } else {
            &event.from
        };
        let Some(i) = self.find(&key.to_ascii_lowercase()) else {
            return;
        };
        let who = event.from.to_ascii_lowercase();
        let on = event
            .meta
            .get("typing")
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if on {
            self.buffers[i].typing.insert(who, self.now + TYPING_LAPSE);
        } else {
            self.buffers[i].typing.remove(&who);
        }
    }

    /// A `receipt` of this user's other device: the window is read up to that message there,
    /// so only the messages after it (that this window holds) stay unread.
    fn own_receipt(&mut self, event: &Event) {
        if !event.from.eq_ignore_ascii_case(&self.me) {
            return;
        }
        let (Some(i), Some(id)) = (self.find(&event.to.to_ascii_lowercase()), event.target) else {
            return;
        };
        let me = self.me.clone();
        let b = &mut self.buffers[i];
        let Some(seq) = b.seq_of(id) else {
            return;
        };
        b.read_upto = b.read_upto.max(seq);
        b.unread = b.unread.min(b.messages_from_others_after(seq, &me));
        b.mentions = b.mentions.min(b.mentions_after(seq, &me));
    }

    /// After a key that changed the input: a typing notification for the active window,
    /// unless the line is a `/command` or one went out less than 3 s ago.
    fn typing_notification(&mut self) -> Vec<Action> {
        let b = &self.buffers[self.active];
        let text = self.editor.text();
        if b.kind == BufferKind::Status || text.starts_with('/') || text.trim().is_empty() {
            return Vec::new();
        }
        if self
            .typing_sent
            .is_some_and(|at| self.now.saturating_duration_since(at) < TYPING_THROTTLE)
        {
            return Vec::new();
        }
        self.typing_sent = Some(self.now);
        vec![Action::Typing {
            target: b.key.clone(),
            on: true,
        }]
    }

    /// The server's unread counts: they replace the local ones for everything up to each
    /// conversation's newest event; messages seen here since then are added. The active
    /// window is read instead. DM windows are opened for DMs with unread messages.
    fn conversations(&mut self, list: Vec<Conversation>) -> Vec<Action> {
        let mut actions = Vec::new();
        for c in list {
            let key = c.target.to_ascii_lowercase();
            let i = match (self.find(&key), c.kind.as_str()) {
                (Some(i), _) => i,
                (None, "dm") if c.unread > 0 => self.ensure_buffer(&key, BufferKind::Direct),
                (None, "channel") => {
                    let i = self.ensure_buffer(&key, BufferKind::Channel);
                    actions.extend(self.load_newest(i));
                    i
                }
                (None, _) => continue,
            };
            let through = c.last_event.as_ref().map_or(0, |e| e.seq);
            let me = self.me.clone();
            let b = &mut self.buffers[i];
            b.counted_through = b.counted_through.max(through);
            if i == self.active {
                b.unread = 0;
                b.mentions = 0;
                actions.extend(self.mark_read(i));
            } else {
                let seen_since = b.messages_from_others_after(through, &me);
                b.unread = usize::try_from(c.unread).unwrap_or(usize::MAX) + seen_since;
                b.mentions = usize::try_from(c.mentions).unwrap_or(usize::MAX)
                    + b.mentions_after(through, &me);
            }
            if c.kind == "dm" && self.buffers[i].presence.is_none() {
                actions.push(Action::LoadPresence { handle: key });
            }
        }
        actions
    }

    /// A `presence` event: the status of a DM partner, shown beside their window.
    fn presence_event(&mut self, event: &Event) {
        let Some(i) = self.find(&event.from.to_ascii_lowercase()) else {
            return;
        };
        if self.buffers[i].kind != BufferKind::Direct {
            return;
        }
        if let Some(status) = event.meta.get("status").and_then(|v| v.as_str()) {
            self.buffers[i].presence = Some(status.to_string());
        }
    }

    /// Marks buffer `i` read up to its newest message, unless it already is.
    fn mark_read(&mut self, i: usize) -> Vec<Action> {
        let b = &mut self.buffers[i];
        if b.kind == BufferKind::Status {
            return Vec::new();
        }
        let Some((seq, id)) = b.newest_message().map(|e| (e.seq, e.id)) else {
            return Vec::new();
        };
        if seq <= b.read_upto {
            return Vec::new();
        }
        b.read_upto = seq;
        vec![Action::MarkRead {
            target: b.key.clone(),
            id: id.to_string(),
        }]
    }

    /// Makes buffer `i` active, clearing its unread count.
    fn switch_to(&mut self, i: usize) -> Vec<Action> {
        self.active = i;
        self.buffers[i].unread = 0;
        self.buffers[i].mentions = 0;
        if self.buffers[i].is_empty()
            && !self.buffers[i].history_complete
            && !self.buffers[i].loading
        {
            return self.load_newest(i);
        }
        let mut actions = self.mark_read(i);
        actions.extend(self.older_history_if_needed());
        actions
    }

    /// Requests the newest page of history for buffer `i`.
    fn load_newest(&mut self, i: usize) -> Vec<Action> {
        let buffer = &mut self.buffers[i];
        if buffer.kind == BufferKind::Status || buffer.loading {
            return Vec::new();
        }
        buffer.loading = true;
        vec![Action::LoadHistory {
            target: buffer.key.clone(),
            before: None,
        }]
    }

    /// Requests older history when the active buffer is scrolled to its top.
    fn older_history_if_needed(&mut self) -> Vec<Action> {
        let page = self.page;
        let buffer = &mut self.buffers[self.active];
        if !buffer.wants_older(page) {
            return Vec::new();
        }
        let Some(before) = buffer.oldest_seq() else {
            return Vec::new();
        };
        buffer.loading = true;
        vec![Action::LoadHistory {
            target: buffer.key.clone(),
            before: Some(before),
        }]
    }

    fn find(&self, key: &str) -> Option<usize> {
        self.buffers.iter().position(|b| b.key == key)
    }

    fn ensure_buffer(&mut self, key: &str, kind: BufferKind) -> usize {
        if let Some(i) = self.find(key) {
            return i;
        }
        self.buffers.push(Buffer::new(key.to_string(), kind));
        self.buffers.len() - 1
    }

    fn remove_buffer(&mut self, key: &str) {
        let Some(i) = self.find(key) else { return };
        if i == 0 {
            return;
        }
        self.buffers.remove(i);
        if self.active >= i {
            self.active -= 1;
        }
        self.buffers[self.active].unread = 0;
    }

    /// Adds a note to the active buffer.
    fn note_active(&mut self, text: impl Into<String>) {
        let seq = self.latest_seq;
        self.buffers[self.active].note(seq, text);
    }

    /// Where text typed in the active buffer goes.
    fn active_target(&self, what: &str) -> Result<String, String> {
        let b = self.active();
        match b.kind {
            BufferKind::Status => Err(format!(
                "cannot {what} in the status window: /join a channel or /query a user"
            )),
            _ => Ok(b.key.clone()),
        }
    }

    fn channel_or_active(&self, channel: Option<String>) -> Result<String, String> {
        match channel {
            Some(c) => self.canonical_channel(&c),
            None if self.active().kind != BufferKind::Status => Ok(self.active().key.clone()),
            None => Err("name a channel: this is the status window".into()),
        }
    }

    fn canonical_target(&self, target: &str) -> Result<String, String> {
        if target.starts_with('#') {
            self.canonical_channel(target)
        } else {
            self.canonical_user(target)
        }
    }

    /// `#Name` → `#name@local`.
    fn canonical_channel(&self, raw: &str) -> Result<String, String> {
        let c: ChannelName = raw
            .parse()
            .map_err(|_| format!("not a channel name: {raw}"))?;
        Ok(match (&c.server, &self.local) {
            (Some(_), _) | (None, None) => c.to_string(),
            (None, Some(local)) => c.qualified(local),
        })
    }

    /// `Bob` → `bob@local`.
    fn canonical_user(&self, raw: &str) -> Result<String, String> {
        let u: UserHandle = raw.parse().map_err(|_| format!("not a user: {raw}"))?;
        Ok(match (&u.server, &self.local) {
            (Some(_), _) | (None, None) => u.to_string(),
            (None, Some(local)) => u.qualified(local),
        })
    }
}

fn send(to: String, kind: EventKind, body: String) -> Action {
    Action::Send { to, kind, body }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
