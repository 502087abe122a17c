//! Unit tests of the chat UI's state rules.

use super::*;
use crate::render::tests::event;
use crate::tui::buffer::Entry;
use std::time::{Duration, Instant};

use federation_proto::api::client::{ChannelSummary, Conversation, UserProfile};

const ME: &str = "alice@hs1";

fn entry_text(entry: &Entry, local: Option<&str>) -> String {
    match entry {
        Entry::Event(e) => crate::render::line(e, local, false),
        Entry::Note(n) => format!("-*- {n}"),
    }
}

fn typed(state: &mut State, text: &str) -> Vec<Action> {
    text.chars().for_each(|c| {
        state.key(Key::Char(c));
    });
    state.key(Key::Enter)
}

fn summary(name: &str, topic: &str) -> ChannelSummary {
    ChannelSummary {
        name: name.into(),
        topic: topic.into(),
        members: 2,
        modes: "+nt".into(),
        description: String::new(),
    }
}

fn texts(state: &State) -> Vec<String> {
    state
        .active()
        .entries()
        .map(|e| entry_text(e, state.local_server()))
        .collect()
}

fn keys(state: &State) -> Vec<&str> {
    state.buffers().iter().map(|b| b.key.as_str()).collect()
}

/// A state in #general with its (empty) history loaded.
fn in_general() -> State {
    let mut s = State::new(ME);
    s.apply(Outcome::Channels(vec![summary("#general@hs1", "welcome")]));
    s.apply(Outcome::History {
        target: "#general@hs1".into(),
        events: vec![],
    });
    s
}

#[test]
fn channel_list_creates_buffers_and_loads_history() {
    let mut s = State::new(ME);
    let actions = s.apply(Outcome::Channels(vec![
        summary("#General@hs1", "welcome"),
        summary("#dev@hs1", ""),
    ]));
    assert_eq!(keys(&s), [STATUS, "#general@hs1", "#dev@hs1"]);
    assert_eq!(s.active().key, "#general@hs1");
    assert_eq!(s.active().topic, "welcome");
    assert_eq!(
        actions,
        [
            Action::LoadHistory {
                target: "#general@hs1".into(),
                before: None
            },
            Action::LoadHistory {
                target: "#dev@hs1".into(),
                before: None
            },
        ]
    );
}

#[test]
fn typing_sends_to_active_buffer() {
    let mut s = in_general();
    let actions = typed(&mut s, "hello world");
    assert_eq!(
        actions,
        [Action::Send {
            to: "#general@hs1".into(),
            kind: EventKind::Message,
            body: "hello world".into()
        }]
    );
    assert_eq!(s.editor.text(), "");
    let actions = typed(&mut s, "/me waves");
    assert_eq!(
        actions,
        [Action::Send {
            to: "#general@hs1".into(),
            kind: EventKind::Action,
            body: "waves".into()
        }]
    );
}

#[test]
fn sent_message_is_echoed_once() {
    let mut s = in_general();
    let e = event(10, "message", ME, "#general@hs1", "hello");
    s.apply(Outcome::Sent(Box::new(e.clone())));
    s.apply(Outcome::Events(vec![e]));
    assert_eq!(texts(&s), ["20:01:02 <alice> hello"]);
    assert_eq!(s.active().unread, 0);
}

#[test]
fn live_messages_count_as_unread_elsewhere() {
    let mut s = State::new(ME);
    s.apply(Outcome::Channels(vec![
        summary("#a@hs1", ""),
        summary("#b@hs1", ""),
    ]));
    s.apply(Outcome::Events(vec![
        event(1, "message", "bob@hs1", "#b@hs1", "one"),
        event(2, "message", "bob@hs1", "#b@hs1", "two"),
        event(3, "join", "bob@hs1", "#b@hs1", ""),
        event(4, "message", "bob@hs1", "#a@hs1", "in active"),
        event(5, "message", ME, "#b@hs1", "mine"),
    ]));
    let unread: Vec<_> = s.buffers().iter().map(|b| b.unread).collect();
    assert_eq!(unread, [0, 0, 2]);
    s.key(Key::NextBuffer);
    assert_eq!(s.active().key, "#b@hs1");
    assert_eq!(s.active().unread, 0);
}

#[test]
fn direct_messages_open_a_buffer_for_the_other_party() {
    let mut s = in_general();
    s.apply(Outcome::Events(vec![event(
        7, "message", "bob@hs1", ME, "psst",
    )]));
    assert_eq!(keys(&s), [STATUS, "#general@hs1", "bob@hs1"]);
    assert_eq!(s.buffers()[2].unread, 1);
    s.apply(Outcome::Sent(Box::new(event(
        8, "message", ME, "bob@hs1", "yes?",
    ))));
    assert_eq!(s.buffers()[2].len(), 2);
}

#[test]
fn msg_and_query_commands() {
    let mut s = in_general();
    let actions = typed(&mut s, "/msg Bob hi there");
    assert_eq!(
        actions,
        [Action::Send {
            to: "bob@hs1".into(),
            kind: EventKind::Message,
            body: "hi there".into()
        }]
    );
    assert_eq!(s.active().key, "#general@hs1", "/msg does not switch");
    let actions = typed(&mut s, "/query carol@hs2");
    assert_eq!(s.active().key, "carol@hs2");
    assert_eq!(
        actions,
        [Action::LoadHistory {
            target: "carol@hs2".into(),
            before: None
        }]
    );
    assert!(
        typed(&mut s, "/part").is_empty(),
        "parting a DM closes it locally"
    );
    assert!(!keys(&s).contains(&"carol@hs2"));
}

#[test]
fn join_part_flow() {
    let mut s = in_general();
    assert_eq!(
        typed(&mut s, "/join Rust"),
        [Action::Join {
            channel: "#rust@hs1".into(),
            key: None
        }]
    );
    let actions = s.apply(Outcome::Joined {
        channel: "#rust@hs1".into(),
        topic: "crabs".into(),
    });
    assert_eq!(s.active().key, "#rust@hs1");
    assert_eq!(
        actions,
        [Action::LoadHistory {
            target: "#rust@hs1".into(),
            before: None
        }]
    );
    assert_eq!(
        typed(&mut s, "/part bye"),
        [Action::Part {
            channel: "#rust@hs1".into(),
            reason: Some("bye".into())
        }]
    );
    s.apply(Outcome::Parted {
        channel: "#rust@hs1".into(),
    });
    assert_eq!(keys(&s), [STATUS, "#general@hs1"]);
    assert_eq!(s.active().key, "#general@hs1");
}

#[test]
fn own_part_event_from_another_device_closes_the_buffer() {
    let mut s = in_general();
    s.apply(Outcome::Events(vec![event(
        3,
        "part",
        ME,
        "#general@hs1",
        "",
    )]));
    assert_eq!(keys(&s), [STATUS]);
    assert_eq!(s.active_index(), 0);
}

#[test]
fn join_event_for_unknown_channel_creates_it() {
    let mut s = in_general();
    let actions = s.apply(Outcome::Events(vec![event(3, "join", ME, "#new@hs1", "")]));
    assert!(keys(&s).contains(&"#new@hs1"));
    assert_eq!(
        actions,
        [Action::LoadHistory {
            target: "#new@hs1".into(),
            before: None
        }]
    );
}

#[test]
fn topic_nick_mode_commands() {
    let mut s = in_general();
    assert_eq!(
        typed(&mut s, "/topic"),
        [Action::ShowTopic {
            channel: "#general@hs1".into()
        }]
    );
    assert_eq!(
        typed(&mut s, "/topic new one"),
        [Action::SetTopic {
            channel: "#general@hs1".into(),
            topic: "new one".into()
        }]
    );
    assert_eq!(typed(&mut s, "/nick zed"), [Action::Nick("zed".into())]);
    assert_eq!(
        typed(&mut s, "/mode +o bob"),
        [Action::Mode {
            channel: "#general@hs1".into(),
            modes: "+o".into(),
            arg: Some("bob".into())
        }]
    );
    s.apply(Outcome::Topic {
        channel: "#general@hs1".into(),
        topic: "t".into(),
    });
    assert_eq!(s.active().topic, "t");
}

#[test]
fn search_asks_and_shows_results_in_the_active_window() {
    let mut s = in_general();
    assert_eq!(
        typed(&mut s, "/search red \"new flat\""),
        [Action::Search {
            query: "red \"new flat\"".into()
        }]
    );
    s.apply(Outcome::SearchResults {
        query: "red".into(),
        lines: vec!["12:00:00 #general bob the [red] door".into()],
    });
    let texts = texts(&s);
    assert!(
        texts.iter().any(|t| t.contains("search red: 1 result")),
        "{texts:?}"
    );
    assert!(
        texts.iter().any(|t| t.contains("the [red] door")),
        "{texts:?}"
    );
}

#[test]
fn status_window_refuses_plain_text() {
    let mut s = State::new(ME);
    assert!(typed(&mut s, "hello").is_empty());
    assert!(texts(&s)[0].contains("status window"), "{:?}", texts(&s));
    assert!(typed(&mut s, "/bogus").is_empty());
    assert!(texts(&s)[1].contains("unknown command"));
}

#[test]
fn scrolling_up_fetches_older_history() {
    let mut s = State::new(ME);
    s.set_page(10);
    s.apply(Outcome::Channels(vec![summary("#general@hs1", "")]));
    let page: Vec<Event> = (51..=100)
        .rev()
        .map(|seq| event(seq, "message", "bob@hs1", "#general@hs1", "x"))
        .collect();
    let newest = page[0].id.to_string();
    let actions = s.apply(Outcome::History {
        target: "#general@hs1".into(),
        events: page,
    });
    assert_eq!(
        actions,
        [Action::MarkRead {
            target: "#general@hs1".into(),
            id: newest
        }],
        "the viewed window is read up to its newest message"
    );
    assert!(!s.active().history_complete);
    let mut requested = None;
    for _ in 0..10 {
        let actions = s.key(Key::PageUp);
        if let Some(Action::LoadHistory { before, .. }) = actions.first() {
            requested = *before;
            break;
        }
    }
    assert_eq!(requested, Some(51));
    assert!(s.key(Key::PageUp).is_empty(), "one request at a time");
    let older: Vec<Event> = (40..=50)
        .rev()
        .map(|seq| event(seq, "message", "bob@hs1", "#general@hs1", "o"))
        .collect();
    s.apply(Outcome::History {
        target: "#general@hs1".into(),
        events: older,
    });
    assert!(s.active().history_complete, "a short page is the last");
    assert_eq!(s.active().len(), 61);
    assert!(s.key(Key::PageUp).is_empty());
}

#[test]
fn history_failure_is_shown_and_retryable() {
    let mut s = in_general();
    let actions = s.apply(Outcome::HistoryFailed {
        target: "#general@hs1".into(),
        error: "boom".into(),
    });
    assert!(actions.is_empty());
    assert!(!s.active().loading);
    assert!(texts(&s).iter().any(|t| t.contains("boom")));
}

#[test]
fn connection_and_sync_stop() {
    let mut s = in_general();
    s.apply(Outcome::Connection(ConnectionState::Connected));
    assert_eq!(s.connection, ConnectionState::Connected);
    s.apply(Outcome::SyncStopped("token expired".into()));
    assert!(matches!(s.connection, ConnectionState::Offline { .. }));
}

#[test]
fn nick_change_updates_me() {
    let mut s = in_general();
    let profile = UserProfile {
        id: "u".into(),
        nick: "zed".into(),
        handle: "zed@hs1".into(),
        online: true,
        idle_seconds: 0,
        created: String::new(),
        display_name: None,
        avatar: None,
        status: None,
        status_message: None,
    };
    s.apply(Outcome::Me(profile));
    assert_eq!(s.me(), "zed@hs1");
    s.apply(Outcome::Events(vec![event(
        9, "message", "zed@hs1", "bob@hs1", "hi",
    )]));
    assert!(keys(&s).contains(&"bob@hs1"));
}

#[test]
fn buffer_switching_keys() {
    let mut s = State::new(ME);
    s.apply(Outcome::Channels(vec![
        summary("#a@hs1", ""),
        summary("#b@hs1", ""),
    ]));
    s.key(Key::Jump(0));
    assert_eq!(s.active_index(), 0);
    s.key(Key::PrevBuffer);
    assert_eq!(s.active_index(), 2);
    s.key(Key::Jump(9));
    assert_eq!(s.active_index(), 2);
    assert_eq!(s.key(Key::Quit), [Action::Quit]);
    assert_eq!(typed(&mut s, "/quit"), [Action::Quit]);
}

#[test]
fn remote_names_are_kept() {
    let mut s = in_general();
    assert_eq!(
        typed(&mut s, "/join #dev@hs2"),
        [Action::Join {
            channel: "#dev@hs2".into(),
            key: None
        }]
    );
    assert_eq!(
        typed(&mut s, "/msg bob@hs2 hi"),
        [Action::Send {
            to: "bob@hs2".into(),
            kind: EventKind::Message,
            body: "hi".into()
        }]
    );
}

#[test]
fn being_kicked_closes_the_buffer_with_a_note() {
    let mut s = in_general();
    let mut kick = event(4, "kick", "bob@hs1", "#general@hs1", "bye");
    kick.meta.insert("nick".into(), ME.into());
    s.apply(Outcome::Events(vec![kick]));
    assert_eq!(keys(&s), [STATUS]);
    assert!(
        texts(&s)
            .iter()
            .any(|t| t.contains("bob kicked alice from #general (bye)")),
        "{:?}",
        texts(&s)
    );
}

#[test]
fn own_nick_event_from_another_device_updates_me() {
    let mut s = in_general();
    s.apply(Outcome::Events(vec![event(
        4,
        "nick",
        ME,
        "#general@hs1",
        "zed@hs1",
    )]));
    assert_eq!(s.me(), "zed@hs1");
}

#[test]
fn edits_deletes_and_reactions_show_in_place() {
    let mut s = in_general();
    let m = event(10, "message", "bob@hs1", "#general@hs1", "helo");
    let mut edit = event(11, "edit", "bob@hs1", "#general@hs1", "hello");
    edit.target = Some(m.id);
    let mut react = event(12, "reaction", ME, "#general@hs1", "👍");
    react.target = Some(m.id);
    s.apply(Outcome::Events(vec![
        m.clone(),
        edit.clone(),
        react.clone(),
    ]));
    assert_eq!(texts(&s), ["20:01:02 <bob> hello (edited)  [👍 1]"]);
    // The same events again (a resumed sync) change nothing.
    s.apply(Outcome::Events(vec![edit, react.clone()]));
    assert_eq!(texts(&s), ["20:01:02 <bob> hello (edited)  [👍 1]"]);
    let mut withdraw = event(13, "delete", ME, "#general@hs1", "");
    withdraw.target = Some(react.id);
    s.apply(Outcome::Events(vec![withdraw]));
    assert_eq!(texts(&s), ["20:01:02 <bob> hello (edited)"]);
    let mut delete = event(14, "delete", "bob@hs1", "#general@hs1", "");
    delete.target = Some(m.id);
    s.apply(Outcome::Events(vec![delete]));
    assert_eq!(texts(&s), ["20:01:02 <bob> [deleted]"]);
    // An edit of a message this window does not hold is shown as a line.
    let mut stray = event(15, "edit", "bob@hs1", "#general@hs1", "older");
    stray.target = Some(uuid::Uuid::new_v4());
    s.apply(Outcome::Events(vec![stray]));
    assert_eq!(texts(&s).len(), 2);
    assert_eq!(s.active().unread, 0);
}

#[test]
fn history_pages_do_not_count_edits_twice() {
    let mut s = State::new(ME);
    s.apply(Outcome::Channels(vec![summary("#general@hs1", "")]));
    let mut m = event(10, "message", "bob@hs1", "#general@hs1", "hello");
    m.edited = Some(hearth_client::types::Edited {
        ts: m.ts.clone(),
        count: 1,
    });
    m.deleted = Some(false);
    let mut edit = event(11, "edit", "bob@hs1", "#general@hs1", "hello");
    edit.target = Some(m.id);
    s.apply(Outcome::History {
        target: "#general@hs1".into(),
        events: vec![edit, m],
    });
    assert_eq!(texts(&s), ["20:01:02 <bob> hello (edited)"]);
}

fn conversation(target: &str, kind: &str, unread: u32, last_seq: i64) -> Conversation {
    Conversation {
        target: target.into(),
        kind: kind.into(),
        last_event: (last_seq > 0).then(|| event(last_seq, "message", "bob@hs1", target, "x")),
        unread,
        mentions: 0,
        last_read: None,
        description: None,
    }
}

fn unread(s: &State) -> Vec<(&str, usize)> {
    s.buffers()
        .iter()
        .map(|b| (b.key.as_str(), b.unread))
        .collect()
}

fn typing_event(from: &str, to: &str, on: bool) -> Event {
    let mut e = event(0, "typing", from, to, "");
    e.meta.insert("typing".into(), serde_json::Value::Bool(on));
    e
}

#[test]
fn unread_counts_come_from_the_server_and_count_on_locally() {
    let mut s = State::new(ME);
    s.apply(Outcome::Channels(vec![
        summary("#a@hs1", ""),
        summary("#b@hs1", ""),
    ]));
    // A message of #b arrives before the counts: it is newer than what the server counted.
    s.apply(Outcome::Events(vec![event(
        11, "message", "bob@hs1", "#b@hs1", "early",
    )]));
    let actions = s.apply(Outcome::Conversations(vec![
        conversation("#b@hs1", "channel", 4, 10),
        conversation("#a@hs1", "channel", 2, 9),
        conversation("carol@hs1", "dm", 3, 8),
        conversation("dave@hs1", "dm", 0, 7),
    ]));
    // #a is active: it is read, not counted (its history, once loaded, marks it). The DM
    // window asks for its partner's presence.
    assert_eq!(
        actions,
        [Action::LoadPresence {
            handle: "carol@hs1".into()
        }]
    );
    assert_eq!(
        unread(&s),
        [(STATUS, 0), ("#a@hs1", 0), ("#b@hs1", 5), ("carol@hs1", 3)],
        "a DM window opens only for unread DMs"
    );
    // Events the server already counted (seq ≤ 10) are not counted again; newer ones are.
    s.apply(Outcome::Events(vec![
        event(10, "message", "bob@hs1", "#b@hs1", "counted"),
        event(12, "message", "bob@hs1", "#b@hs1", "new"),
        event(13, "message", ME, "#b@hs1", "mine"),
        event(14, "join", "erin@hs1", "#b@hs1", ""),
    ]));
    assert_eq!(s.buffers()[2].unread, 6);

    // Viewing a window clears its count and marks it read up to its newest message.
    let actions = s.key(Key::Jump(2));
    assert_eq!(s.active().unread, 0);
    let newest = s.active().newest_message().map(|e| e.id.to_string());
    assert_eq!(newest.as_deref().map(str::len), Some(36));
    assert_eq!(
        actions,
        [Action::MarkRead {
            target: "#b@hs1".into(),
            id: newest.clone().unwrap_or_default()
        }]
    );
    // Nothing new: no second marker. A new message in the viewed window is read at once.
    s.key(Key::Jump(1));
    assert!(s.key(Key::Jump(2)).is_empty());
    let live = event(15, "message", "bob@hs1", "#b@hs1", "live");
    let live_id = live.id.to_string();
    let actions = s.apply(Outcome::Events(vec![live]));
    assert_eq!(
        actions,
        [Action::MarkRead {
            target: "#b@hs1".into(),
            id: live_id
        }]
    );
    assert_eq!(s.active().unread, 0);
}

#[test]
fn reconnects_reload_the_unread_counts() {
    let mut s = in_general();
    assert!(s
        .apply(Outcome::Connection(ConnectionState::Connected))
        .is_empty());
    s.apply(Outcome::Connection(ConnectionState::Offline {
        failures: 1,
        retry_in: Duration::from_secs(1),
        error: "gone".into(),
    }));
    assert!(s
        .apply(Outcome::Connection(ConnectionState::Connecting))
        .is_empty());
    assert_eq!(
        s.apply(Outcome::Connection(ConnectionState::Connected)),
        [Action::LoadConversations]
    );
    assert!(s
        .apply(Outcome::Connection(ConnectionState::Connected))
        .is_empty());
    // The fresh counts replace what was counted locally.
    s.apply(Outcome::Channels(vec![summary("#dev@hs1", "")]));
    s.apply(Outcome::Events(vec![event(
        5, "message", "bob@hs1", "#dev@hs1", "hi",
    )]));
    assert_eq!(s.buffers()[2].unread, 1);
    s.apply(Outcome::Conversations(vec![conversation(
        "#dev@hs1", "channel", 0, 5,
    )]));
    assert_eq!(s.buffers()[2].unread, 0, "read on another device");
}

#[test]
fn typing_line_appears_and_lapses() {
    let mut s = in_general();
    s.apply(Outcome::Channels(vec![summary("#dev@hs1", "")]));
    let t0 = Instant::now();
    s.set_now(t0);
    assert_eq!(s.typing_line(), None);
    s.apply(Outcome::Events(vec![typing_event(
        "bob@hs1",
        "#general@hs1",
        true,
    )]));
    assert_eq!(s.typing_line().as_deref(), Some("bob is typing…"));
    // Ephemeral events leave the unread counts and the buffers alone.
    assert!(s.active().is_empty());
    s.set_now(t0 + Duration::from_secs(3));
    s.apply(Outcome::Events(vec![
        typing_event("carol@hs2", "#general@hs1", true),
        typing_event(ME, "#general@hs1", true),
        typing_event("dave@hs1", "#dev@hs1", true),
    ]));
    assert_eq!(
        s.typing_line().as_deref(),
        Some("bob and carol@hs2 are typing…"),
        "not me, not other windows"
    );
    s.set_now(t0 + Duration::from_millis(5_001));
    assert_eq!(s.typing_line().as_deref(), Some("carol@hs2 is typing…"));
    s.set_now(t0 + Duration::from_secs(9));
    assert_eq!(s.typing_line(), None, "lapsed after 5 s");

    // Renewed, then ended by a stop or by a message.
    s.apply(Outcome::Events(vec![typing_event(
        "bob@hs1",
        "#general@hs1",
        true,
    )]));
    s.apply(Outcome::Events(vec![typing_event(
        "erin@hs1",
        "#general@hs1",
        true,
    )]));
    s.apply(Outcome::Events(vec![typing_event(
        "bob@hs1",
        "#general@hs1",
        false,
    )]));
    assert_eq!(s.typing_line().as_deref(), Some("erin is typing…"));
    s.apply(Outcome::Events(vec![event(
        20,
        "message",
        "erin@hs1",
        "#general@hs1",
        "done",
    )]));
    assert_eq!(s.typing_line(), None);

    // DMs: the sender's window.
    s.apply(Outcome::Events(vec![event(
        21, "message", "bob@hs1", ME, "psst",
    )]));
    s.apply(Outcome::Events(vec![typing_event("bob@hs1", ME, true)]));
    s.key(Key::Jump(3));
    assert_eq!(s.active().key, "bob@hs1");
    assert_eq!(s.typing_line().as_deref(), Some("bob is typing…"));
}

#[test]
fn typing_notifications_are_throttled_and_skip_commands() {
    let mut s = in_general();
    let t0 = Instant::now();
    s.set_now(t0);
    let typing = |s: &mut State, c: char| {
        s.key(Key::Char(c))
            .into_iter()
            .filter(|a| matches!(a, Action::Typing { .. }))
            .count()
    };
    assert_eq!(typing(&mut s, 'h'), 1);
    assert_eq!(s.key(Key::Char('e')), [], "at most one every 3 s");
    s.set_now(t0 + Duration::from_secs(2));
    assert_eq!(typing(&mut s, 'l'), 0);
    s.set_now(t0 + Duration::from_secs(3));
    assert_eq!(
        s.key(Key::Char('l')),
        [Action::Typing {
            target: "#general@hs1".into(),
            on: true
        }]
    );
    s.key(Key::Enter);
    // After a message the next one is announced at once; commands never are.
    assert_eq!(typing(&mut s, '/'), 0);
    assert_eq!(typing(&mut s, 'm'), 0);
    s.key(Key::KillLine);
    assert_eq!(typing(&mut s, 'x'), 1);
    s.key(Key::KillLine);
    // Nor in the status window.
    s.key(Key::Jump(0));
    s.set_now(t0 + Duration::from_secs(60));
    assert_eq!(typing(&mut s, 'x'), 0);
}

#[test]
fn a_receipt_from_another_device_reads_the_window_here() {
    let mut s = in_general();
    s.apply(Outcome::Channels(vec![summary("#dev@hs1", "")]));
    let first = event(1, "message", "bob@hs1", "#dev@hs1", "one");
    let first_id = first.id;
    s.apply(Outcome::Events(vec![
        first,
        event(2, "message", "bob@hs1", "#dev@hs1", "two"),
        event(3, "message", "bob@hs1", "#dev@hs1", "three"),
    ]));
    assert_eq!(s.buffers()[2].unread, 3);
    let mut receipt = event(0, "receipt", "bob@hs1", "#dev@hs1", "");
    receipt.target = Some(first_id);
    s.apply(Outcome::Events(vec![receipt.clone()]));
    assert_eq!(s.buffers()[2].unread, 3, "someone else's receipt");
    receipt.from = ME.into();
    s.apply(Outcome::Events(vec![receipt]));
    assert_eq!(
        s.buffers()[2].unread,
        2,
        "read up to the first on another device"
    );
    assert_eq!(s.buffers()[2].len(), 3, "receipts are no lines");
}

#[test]
fn mentions_count_beside_unread_and_dm_partners_show_their_presence() {
    let mut s = State::new(ME);
    s.apply(Outcome::Channels(vec![
        summary("#a@hs1", ""),
        summary("#b@hs1", ""),
    ]));
    let mut counted = conversation("#b@hs1", "channel", 4, 10);
    counted.mentions = 2;
    s.apply(Outcome::Conversations(vec![
        counted,
        conversation("carol@hs1", "dm", 1, 8),
    ]));
    let b = |s: &State| (s.buffers()[2].unread, s.buffers()[2].mentions);
    assert_eq!(b(&s), (4, 2));
    // Newer messages count on locally; a mention of someone else (or by me) does not count.
    let me_nick = ME.split('@').next().unwrap_or_default();
    s.apply(Outcome::Events(vec![
        event(
            11,
            "message",
            "bob@hs1",
            "#b@hs1",
            &format!("hi @{me_nick}"),
        ),
        event(
            12,
            "message",
            "bob@hs1",
            "#b@hs1",
            &format!("@{me_nick}x no"),
        ),
        event(13, "message", ME, "#b@hs1", &format!("@{me_nick} me")),
    ]));
    assert_eq!(b(&s), (6, 3));
    s.key(Key::Jump(2));
    assert_eq!(b(&s), (0, 0), "viewing clears both");

    // The DM partner's status: from their profile, then from presence events.
    s.apply(Outcome::Presence {
        handle: "carol@hs1".into(),
        status: "away".into(),
    });
    let dm = |s: &State| {
        s.buffers()
            .iter()
            .find(|b| b.key == "carol@hs1")
            .and_then(|b| b.presence.clone())
    };
    assert_eq!(dm(&s).as_deref(), Some("away"));
    let mut presence = event(0, "presence", "carol@hs1", "carol@hs1", "");
    presence
        .meta
        .insert("status".into(), serde_json::Value::String("offline".into()));
    s.apply(Outcome::Events(vec![presence]));
    assert_eq!(dm(&s).as_deref(), Some("offline"));
}
