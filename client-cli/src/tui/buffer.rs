//! One window of the chat UI: a channel, a DM conversation, or the status window. Pure.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use hearth_client::types::{Edited, ReactionCount};
use hearth_client::{Event, EventKind};

/// What a buffer shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferKind {
    /// Server notices, errors and help.
    Status,
    /// A channel.
    Channel,
    /// Direct messages with one user.
    Direct,
}

/// One line of a buffer.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry {
    /// An event from the server.
    Event(Box<Event>),
    /// A local note (errors, help, "joined").
    Note(String),
}

/// A window's contents and its view state.
#[derive(Debug, Clone)]
pub struct Buffer {
    /// `#name@host`, `nick@server`, or [`super::state::STATUS`]; lower-cased.
    pub key: String,
    /// What it shows.
    pub kind: BufferKind,
    /// Messages that arrived while another buffer was active.
    pub unread: usize,
    /// Of those, the ones that mention this user (`@nick`).
    pub mentions: usize,
    /// A DM partner's status from their `presence` events and profile (`online`, `away`,
    /// `busy`, `offline`), once known.
    pub presence: Option<String>,
    /// How many entries the view is scrolled up from the newest.
    pub scroll: usize,
    /// No older history exists on the server.
    pub history_complete: bool,
    /// An older-history request is under way.
    pub loading: bool,
    /// The channel topic, when known.
    pub topic: String,
    /// The channel description, when known.
    pub description: String,
    /// Who is typing here (handle, lower-cased) and until when.
    pub typing: BTreeMap<String, Instant>,
    /// The server's unread count covers events up to this `seq` (from
    /// `GET /api/v1/conversations`): only newer ones are counted locally.
    pub counted_through: i64,
    /// The `seq` of the newest message this window has been marked read up to.
    pub read_upto: i64,
    /// Entries ordered by (seq, note counter): events by their `seq`, notes after the newest
    /// event seen anywhere when they were written.
    entries: BTreeMap<(i64, u64), Entry>,
    notes: u64,
    /// Edits, deletes and reactions already applied in place, by `seq`.
    applied: BTreeSet<i64>,
    /// Reactions seen: reaction event id → (message id, emoji, who), for their withdrawal.
    reactions: HashMap<uuid::Uuid, (uuid::Uuid, String, String)>,
}

/// Whether `body` mentions the user whose handle is `me` (`nick@server`), by the server's rule.
pub fn mentions_me(body: &str, me: &str) -> bool {
    let (nick, server) = me.rsplit_once('@').unwrap_or((me, ""));
    federation_proto::mention::mentions(body, nick, server)
}

/// Edits, deletes and reactions: events that act on an earlier message.
pub fn acts_on_message(event: &Event) -> bool {
    matches!(
        event.kind,
        EventKind::Edit | EventKind::Delete | EventKind::Reaction
    ) && event.target.is_some()
}

impl Buffer {
    /// An empty buffer.
    pub fn new(key: String, kind: BufferKind) -> Buffer {
        Buffer {
            key,
            kind,
            unread: 0,
            mentions: 0,
            presence: None,
            scroll: 0,
            history_complete: kind == BufferKind::Status,
            loading: false,
            topic: String::new(),
            description: String::new(),
            typing: BTreeMap::new(),
            counted_through: 0,
            read_upto: 0,
            entries: BTreeMap::new(),
            notes: 0,
            applied: BTreeSet::new(),
            reactions: HashMap::new(),
        }
    }

    /// Whether this buffer holds what an edit, delete or reaction names (a message, or a
    /// reaction it saw), so that it can be shown in place instead of as a line of its own.
    pub fn holds_target(&self, event: &Event) -> bool {
        event.target.is_some_and(|target| {
            self.reactions.contains_key(&target) || self.message(target).is_some()
        })
    }

    /// Remembers a reaction from a history page (its message's aggregates already count it),
    /// so that its withdrawal can be shown later.
    pub fn remember_reaction(&mut self, event: &Event) {
        if let (EventKind::Reaction, Some(target)) = (event.kind, event.target) {
            self.reactions
                .insert(event.id, (target, event.body.clone(), event.from.clone()));
        }
    }

    /// The newest message (message, action or notice) held: where a read marker goes.
    pub fn newest_message(&self) -> Option<&Event> {
        self.entries.values().rev().find_map(|e| match e {
            Entry::Event(ev) if ev.is_message() => Some(&**ev),
            _ => None,
        })
    }

    /// The `seq` of the event with this id, when held.
    pub fn seq_of(&self, id: uuid::Uuid) -> Option<i64> {
        self.entries.values().find_map(|e| match e {
            Entry::Event(ev) if ev.id == id => Some(ev.seq),
            _ => None,
        })
    }

    /// Messages from others than `me` with a `seq` above `seq`.
    pub fn messages_from_others_after(&self, seq: i64, me: &str) -> usize {
        self.entries
            .range((seq.saturating_add(1), 0)..)
            .filter(|(_, e)| {
                matches!(e, Entry::Event(ev) if ev.is_message() && !ev.from.eq_ignore_ascii_case(me))
            })
            .count()
    }

    /// How many of the messages after `seq` from others mention `me` (`nick@server`).
    pub fn mentions_after(&self, seq: i64, me: &str) -> usize {
        self.entries
            .range((seq.saturating_add(1), 0)..)
            .filter(|(_, e)| {
                matches!(e, Entry::Event(ev) if ev.is_message()
                    && !ev.from.eq_ignore_ascii_case(me)
                    && mentions_me(&ev.body, me))
            })
            .count()
    }

    fn message(&self, id: uuid::Uuid) -> Option<&Event> {
        self.entries.values().find_map(|e| match e {
            Entry::Event(ev) if ev.id == id && ev.is_message() => Some(&**ev),
            _ => None,
        })
    }

    fn message_mut(&mut self, id: uuid::Uuid) -> Option<&mut Event> {
        self.entries.values_mut().find_map(|e| match e {
            Entry::Event(ev) if ev.id == id && ev.is_message() => Some(&mut **ev),
            _ => None,
        })
    }

    /// Shows a live edit, delete or reaction in place: the message it names gets the new text,
    /// `[deleted]`, or its reaction counts. `true` when applied (the event needs no line of its
    /// own); `false` when this buffer does not hold the message. `me` is the user's handle.
    pub fn apply_in_place(&mut self, event: &Event, me: &str) -> bool {
        let Some(target) = event.target.filter(|_| acts_on_message(event)) else {
            return false;
        };
        if self.applied.contains(&event.seq) {
            return true;
        }
        let withdrawn = match self.reactions.get(&target) {
            Some(reaction) if event.kind == EventKind::Delete => Some(reaction.clone()),
            _ => None,
        };
        let message_id = withdrawn.as_ref().map_or(target, |(m, _, _)| *m);
        let Some(message) = self.message_mut(message_id) else {
            return false;
        };
        let mine = |who: &str| who.eq_ignore_ascii_case(me);
        match (event.kind, withdrawn) {
            (EventKind::Edit, _) => {
                message.body = event.body.clone();
                message.meta = event.meta.clone();
                let count = message.edited.as_ref().map_or(0, |e| e.count) + 1;
                message.edited = Some(Edited {
                    ts: event.ts.clone(),
                    count,
                });
            }
            (EventKind::Delete, Some((_, emoji, who))) => {
                count_reaction(message, &emoji, -1, mine(&who));
                self.reactions.remove(&target);
            }
            (EventKind::Delete, None) => {
                message.deleted = Some(true);
                message.body.clear();
                message.meta.clear();
                message.reactions = None;
            }
            _ => {
                count_reaction(message, &event.body, 1, mine(&event.from));
                self.remember_reaction(event);
            }
        }
        self.applied.insert(event.seq);
        true
    }

    /// Adds an event unless one with the same `seq` is there; tells whether it was new.
    pub fn insert_event(&mut self, event: Event) -> bool {
        let key = (event.seq, 0);
        if self.entries.contains_key(&key) {
            return false;
        }
        if event.kind == EventKind::Topic {
            self.topic = event.body.clone();
        }
        if event.kind == EventKind::Description {
            self.description = event.body.clone();
        }
        let older_than_view = self.oldest_seq().is_some_and(|oldest| event.seq < oldest);
        self.entries.insert(key, Entry::Event(Box::new(event)));
        // Keep the lines on screen where they are when something arrives below them.
        if self.scroll > 0 && !older_than_view {
            self.scroll += 1;
        }
        true
    }

    /// Adds a local note after the event with `seq` `after_seq`.
    pub fn note(&mut self, after_seq: i64, text: impl Into<String>) {
        self.notes += 1;
        self.entries
            .insert((after_seq, self.notes), Entry::Note(text.into()));
    }

    /// Entries, oldest first.
    pub fn entries(&self) -> impl DoubleEndedIterator<Item = &Entry> {
        self.entries.values()
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether the buffer has no entry.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The lowest event `seq` held: older history is fetched `before` it.
    pub fn oldest_seq(&self) -> Option<i64> {
        self.entries.values().find_map(|e| match e {
            Entry::Event(ev) => Some(ev.seq),
            Entry::Note(_) => None,
        })
    }

    /// Scrolls towards older entries, at most until the oldest entry is at the top of a view of
    /// `page` lines.
    pub fn scroll_up(&mut self, by: usize, page: usize) {
        self.scroll = (self.scroll + by).min(self.len().saturating_sub(page));
    }

    /// Scrolls towards newer entries.
    pub fn scroll_down(&mut self, by: usize) {
        self.scroll = self.scroll.saturating_sub(by);
    }

    /// Whether the view shows the oldest held entry, so older history should be fetched.
    pub fn at_top(&self, page: usize) -> bool {
        self.scroll + page >= self.len()
    }

    /// Whether older history should be requested now.
    pub fn wants_older(&self, page: usize) -> bool {
        self.kind != BufferKind::Status
            && !self.history_complete
            && !self.loading
            && self.at_top(page)
    }
}

/// Adds (`delta` 1) or withdraws (-1) one reaction with `emoji` on a message.
fn count_reaction(message: &mut Event, emoji: &str, delta: i64, mine: bool) {
    let list = message.reactions.get_or_insert_with(Vec::new);
    match list.iter_mut().position(|r| r.emoji == emoji) {
        Some(i) => {
            list[i].count += delta;
            if mine {
                list[i].me = delta > 0;
            }
            if list[i].count <= 0 {
                list.remove(i);
            }
        }
        None if delta > 0 => list.push(ReactionCount {
            emoji: emoji.to_string(),
            count: delta,
            me: mine,
        }),
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::tests::event;

    fn seqs(b: &Buffer) -> Vec<Option<i64>> {
        b.entries()
            .map(|e| match e {
                Entry::Event(ev) => Some(ev.seq),
                Entry::Note(_) => None,
            })
            .collect()
    }

    #[test]
    fn ordered_and_deduplicated() {
        let mut b = Buffer::new("#a@hs".into(), BufferKind::Channel);
        assert!(b.insert_event(event(5, "message", "x@hs", "#a@hs", "5")));
        assert!(b.insert_event(event(3, "message", "x@hs", "#a@hs", "3")));
        assert!(!b.insert_event(event(5, "message", "x@hs", "#a@hs", "5")));
        b.note(5, "a note");
        assert!(b.insert_event(event(7, "message", "x@hs", "#a@hs", "7")));
        assert_eq!(seqs(&b), [Some(3), Some(5), None, Some(7)]);
        assert_eq!(b.oldest_seq(), Some(3));
    }

    #[test]
    fn description_events_set_the_description() {
        let mut b = Buffer::new("#a@hs".into(), BufferKind::Channel);
        b.insert_event(event(1, "description", "x@hs", "#a@hs", "what #a is for"));
        assert_eq!(b.description, "what #a is for");
    }

    #[test]
    fn topic_events_set_topic() {
        let mut b = Buffer::new("#a@hs".into(), BufferKind::Channel);
        b.insert_event(event(1, "topic", "x@hs", "#a@hs", "new topic"));
        assert_eq!(b.topic, "new topic");
    }

    #[test]
    fn scrolling_is_bounded_and_stable() {
        let mut b = Buffer::new("#a@hs".into(), BufferKind::Channel);
        for seq in 10..20 {
            b.insert_event(event(seq, "message", "x@hs", "#a@hs", ""));
        }
        b.scroll_up(100, 3);
        assert_eq!(b.scroll, 7, "the oldest entry stops at the top of the view");
        b.scroll_down(4);
        assert_eq!(b.scroll, 3);
        // A new message below keeps the view in place; older history above does not move it.
        b.insert_event(event(20, "message", "x@hs", "#a@hs", ""));
        assert_eq!(b.scroll, 4);
        b.insert_event(event(1, "message", "x@hs", "#a@hs", ""));
        assert_eq!(b.scroll, 4);
        b.scroll_down(100);
        assert_eq!(b.scroll, 0);
    }

    #[test]
    fn wants_older_at_top_only() {
        let mut b = Buffer::new("#a@hs".into(), BufferKind::Channel);
        for seq in 1..=30 {
            b.insert_event(event(seq, "message", "x@hs", "#a@hs", ""));
        }
        assert!(!b.wants_older(10));
        b.scroll_up(25, 10);
        assert_eq!(b.scroll, 20);
        assert!(b.wants_older(10));
        b.loading = true;
        assert!(!b.wants_older(10));
        assert!(!Buffer::new("*status*".into(), BufferKind::Status).wants_older(10));
    }
}
