//! Turning events into text for people, shared by the CLI's readable output and the chat UI.

use hearth_client::{Event, EventKind};

/// How a rendered line should look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    /// Someone said something.
    Speech,
    /// `/me` actions.
    Action,
    /// Notices (bots, services).
    Notice,
    /// Joins, parts, topic and mode changes, server messages.
    Status,
}

/// An event split into its parts for display.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rendered {
    /// `HH:MM:SS` (UTC) of the event.
    pub time: String,
    /// Who, decorated by kind: `<alice>`, `* alice`, `-alice-`, `-!-`.
    pub who: String,
    /// The text.
    pub text: String,
    /// The kind of line.
    pub tone: Tone,
}

/// Whether `body` mentions the user `me` (`nick@server`): `@nick` or `@nick@server` on word
/// boundaries, any case (the rule the server's notifications follow).
pub fn mentions_me(body: &str, me: &str) -> bool {
    let me = me.to_ascii_lowercase();
    let (nick, server) = me.split_once('@').unwrap_or((me.as_str(), ""));
    if nick.is_empty() {
        return false;
    }
    let lower = body.to_ascii_lowercase();
    let bytes = lower.as_bytes();
    let word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    let mut from = 0;
    while let Some(at) = lower[from..].find('@').map(|i| i + from) {
        from = at + 1;
        if at > 0 && (word(bytes[at - 1]) || bytes[at - 1] == b'@') {
            continue;
        }
        let rest = &lower[at + 1..];
        if !rest.starts_with(nick) {
            continue;
        }
        let after = &rest[nick.len()..];
        match after.as_bytes().first() {
            None => return true,
            Some(&b) if word(b) => continue,
            Some(b'@') => {
                let host = &after[1..];
                if host.starts_with(server)
                    && !host[server.len()..]
                        .bytes()
                        .next()
                        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'-')
                {
                    return true;
                }
            }
            Some(_) => return true,
        }
    }
    false
}

/// `alice` for `alice@<local>`, the full handle otherwise.
pub fn short_handle<'a>(handle: &'a str, local: Option<&str>) -> &'a str {
    match (handle.split_once('@'), local) {
        (Some((nick, server)), Some(local)) if server.eq_ignore_ascii_case(local) => nick,
        _ => handle,
    }
}

/// `HH:MM:SS` from an RFC 3339 timestamp, or the timestamp as it is when it has another shape.
pub fn clock(ts: &str) -> &str {
    ts.get(11..19)
        .filter(|t| t.as_bytes().get(2) == Some(&b':'))
        .unwrap_or(ts)
}

/// ` (id)` of the message a pin or unpin names, or nothing.
fn target_suffix(event: &Event) -> String {
    event
        .target
        .map(|id| format!(" ({id})"))
        .unwrap_or_default()
}

/// Splits an event into time, sender and text.
pub fn render(event: &Event, local: Option<&str>) -> Rendered {
    let nick = short_handle(&event.from, local);
    let place = short_handle(&event.to, local);
    let body = event.body.as_str();
    let with_reason = |what: String| {
        if body.is_empty() {
            what
        } else {
            format!("{what} ({body})")
        }
    };
    let (who, text, tone) = match event.kind {
        EventKind::Message => (format!("<{nick}>"), body.to_string(), Tone::Speech),
        EventKind::Action => (format!("* {nick}"), body.to_string(), Tone::Action),
        EventKind::Notice => (format!("-{nick}-"), body.to_string(), Tone::Notice),
        EventKind::Join => ("-->".into(), format!("{nick} joined {place}"), Tone::Status),
        EventKind::Part => (
            "<--".into(),
            with_reason(format!("{nick} left {place}")),
            Tone::Status,
        ),
        EventKind::Quit => (
            "<--".into(),
            with_reason(format!("{nick} quit")),
            Tone::Status,
        ),
        EventKind::Kick => (
            "<--".into(),
            with_reason(format!(
                "{nick} kicked {} from {place}",
                meta_handle(event, "nick", local)
            )),
            Tone::Status,
        ),
        EventKind::Topic => (
            "-!-".into(),
            format!("{nick} set the topic: {body}"),
            Tone::Status,
        ),
        EventKind::Mode => (
            "-!-".into(),
            format!("{nick} set mode {body}"),
            Tone::Status,
        ),
        EventKind::Nick => (
            "-!-".into(),
            format!("{nick} is now known as {}", short_handle(body, local)),
            Tone::Status,
        ),
        EventKind::Invite => (
            "-!-".into(),
            format!("{nick} invites {place} to {}", short_handle(body, local)),
            Tone::Status,
        ),
        EventKind::System => ("-!-".into(), body.to_string(), Tone::Status),
        EventKind::Edit => (
            "-!-".into(),
            format!("{nick} edited a message: {body}"),
            Tone::Status,
        ),
        EventKind::Delete => (
            "-!-".into(),
            format!("{nick} deleted a message"),
            Tone::Status,
        ),
        EventKind::Reaction => ("-!-".into(), format!("{nick} reacted {body}"), Tone::Status),
        EventKind::Pin => (
            "-!-".into(),
            format!("{nick} pinned a message{}", target_suffix(event)),
            Tone::Status,
        ),
        EventKind::Unpin => (
            "-!-".into(),
            format!("{nick} unpinned a message{}", target_suffix(event)),
            Tone::Status,
        ),
        EventKind::Description if body.is_empty() => (
            "-!-".into(),
            format!("{nick} cleared the description of {place}"),
            Tone::Status,
        ),
        EventKind::Description => (
            "-!-".into(),
            format!("{nick} set the description of {place}: {body}"),
            Tone::Status,
        ),
        EventKind::Typing => ("-!-".into(), format!("{nick} is typing"), Tone::Status),
        EventKind::Presence => ("-!-".into(), format!("{nick} is {body}"), Tone::Status),
        EventKind::Receipt => (
            "-!-".into(),
            format!("{nick} read up to here"),
            Tone::Status,
        ),
        EventKind::Notification => ("-!-".into(), format!("notification: {body}"), Tone::Status),
        // A type newer than this client: shown as what it is, never dropped silently.
        EventKind::Other(kind) => (
            "-!-".into(),
            with_reason(format!("{nick} sent a {} event", kind.as_str())),
            Tone::Status,
        ),
    };
    Rendered {
        time: clock(&event.ts).to_string(),
        who,
        text: with_aggregates(event, text),
        tone,
    }
}

/// A message's text as a message view shows it (history, `hearth thread`): `[deleted]`,
/// `(edited)`, reactions and the reply count. Raw events (sync) carry no aggregates and are
/// left as they are.
fn with_aggregates(event: &Event, text: String) -> String {
    if event.deleted == Some(true) {
        return "[deleted]".to_string();
    }
    let mut text = text;
    if event.edited.is_some() {
        text.push_str(" (edited)");
    }
    // Attachments: names and sizes where the server described them (message views), else
    // how many (raw events).
    match &event.files {
        Some(files) if !files.is_empty() => {
            let shown: Vec<String> = files
                .iter()
                .map(|f| format!("{} ({})", f.filename, size(f.size)))
                .collect();
            text.push_str(&format!("  [attached: {}]", shown.join(", ")));
        }
        _ => match event.attachments.len() {
            0 => {}
            1 => text.push_str("  [1 attachment]"),
            n => text.push_str(&format!("  [{n} attachments]")),
        },
    }
    if let Some(reactions) = event.reactions.as_ref().filter(|r| !r.is_empty()) {
        let shown: Vec<String> = reactions
            .iter()
            .map(|r| format!("{} {}", r.emoji, r.count))
            .collect();
        text.push_str(&format!("  [{}]", shown.join(", ")));
    }
    match event.replies.as_ref().map(|r| r.count) {
        Some(1) => text.push_str("  (1 reply)"),
        Some(n) if n > 1 => text.push_str(&format!("  ({n} replies)")),
        _ => {}
    }
    text
}

/// A handle carried in `meta[key]` (the kicked user, …), shortened; `someone` when absent.
fn meta_handle<'a>(event: &'a Event, key: &str, local: Option<&str>) -> &'a str {
    event
        .meta
        .get(key)
        .and_then(|v| v.as_str())
        .map_or("someone", |h| short_handle(h, local))
}

/// One line for `hearth history` / `hearth tail`: `HH:MM:SS [target] who text`.
pub fn line(event: &Event, local: Option<&str>, with_target: bool) -> String {
    let r = render(event, local);
    if with_target {
        format!(
            "{} {} {} {}",
            r.time,
            short_handle(&event.to, local),
            r.who,
            r.text
        )
    } else {
        format!("{} {} {}", r.time, r.who, r.text)
    }
}

/// `body` with each highlight (character ranges) in `[brackets]`.
pub fn bracketed(body: &str, highlights: &[federation_proto::api::client::Highlight]) -> String {
    let mut out = String::with_capacity(body.len() + 2 * highlights.len());
    for (i, ch) in body.chars().enumerate() {
        if highlights.iter().any(|h| h.start == i) {
            out.push('[');
        }
        if highlights.iter().any(|h| h.end == i) {
            out.push(']');
        }
        out.push(ch);
    }
    let n = body.chars().count();
    if highlights.iter().any(|h| h.end == n) {
        out.push(']');
    }
    out
}

/// A byte count for people: `512 B`, `1.5 KB`, `10.0 MB` (binary units).
pub fn size(bytes: i64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut value = bytes as f64 / 1024.0;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}

/// The server part of a handle (`hs1` for `alice@hs1`).
pub fn server_of(handle: &str) -> Option<&str> {
    handle.split_once('@').map(|(_, s)| s)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn sizes_and_attachments_are_shown() {
        assert_eq!(size(512), "512 B");
        assert_eq!(size(1536), "1.5 KB");
        assert_eq!(size(10 << 20), "10.0 MB");
        let mut e = event(1, "message", "alice@hs1", "#c@hs1", "look");
        e.attachments = vec!["x@hs1".into()];
        assert!(line(&e, Some("hs1"), false).ends_with("look  [1 attachment]"));
        e.files = Some(vec![federation_proto::media::MediaInfo {
            id: "x@hs1".into(),
            filename: "cat.png".into(),
            size: 2048,
            content_type: "image/png".into(),
            url: "/api/v1/media/x@hs1".into(),
            thumbnail_url: None,
        }]);
        assert!(line(&e, Some("hs1"), false).ends_with("look  [attached: cat.png (2.0 KB)]"));
    }

    #[test]
    fn mentions_are_found_on_word_boundaries() {
        let me = "alice@hs1.example";
        for (body, expected) in [
            ("hi @alice", true),
            ("@Alice: look", true),
            ("ping @alice@hs1.example.", true),
            ("ping @alice@hs2.example", false),
            ("mail alice@hs1.example", false),
            ("@alicia", false),
            ("@alice_b", false),
            ("x@alice", false),
            ("(@alice)", true),
        ] {
            assert_eq!(mentions_me(body, me), expected, "{body:?}");
        }
    }

    pub(crate) fn event(seq: i64, kind: &str, from: &str, to: &str, body: &str) -> Event {
        serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::new_v4(), "seq": seq, "ts": "2026-02-09T20:01:02.000Z",
            "from": from, "to": to, "type": kind, "body": body, "meta": {}
        }))
        .unwrap()
    }

    #[test]
    fn messages_and_actions() {
        let e = event(1, "message", "alice@hs1", "#general@hs1", "hi");
        assert_eq!(line(&e, Some("hs1"), false), "20:01:02 <alice> hi");
        assert_eq!(line(&e, Some("hs1"), true), "20:01:02 #general <alice> hi");
        assert_eq!(line(&e, None, true), "20:01:02 #general@hs1 <alice@hs1> hi");
        let a = event(2, "action", "bob@hs2", "#general@hs1", "waves");
        assert_eq!(line(&a, Some("hs1"), false), "20:01:02 * bob@hs2 waves");
        let n = event(3, "notice", "bot@hs1", "#general@hs1", "beep");
        assert_eq!(render(&n, Some("hs1")).who, "-bot-");
    }

    #[test]
    fn message_views_show_their_aggregates() {
        let mut e = event(1, "message", "alice@hs1", "#general@hs1", "fixed");
        e.edited = Some(hearth_client::types::Edited {
            ts: "2026-02-09T20:01:03.000Z".into(),
            count: 1,
        });
        e.deleted = Some(false);
        e.reactions = Some(vec![hearth_client::types::ReactionCount {
            emoji: "👍".into(),
            count: 2,
            me: true,
        }]);
        e.replies = Some(hearth_client::types::Replies {
            count: 3,
            last_ts: None,
        });
        assert_eq!(
            line(&e, Some("hs1"), false),
            "20:01:02 <alice> fixed (edited)  [👍 2]  (3 replies)"
        );
        e.deleted = Some(true);
        e.body = String::new();
        assert_eq!(line(&e, Some("hs1"), false), "20:01:02 <alice> [deleted]");
    }

    #[test]
    fn unknown_types_are_shown_not_fatal() {
        let batch: Vec<Event> = serde_json::from_value(serde_json::json!([
            {"id": uuid::Uuid::new_v4(), "seq": 1, "ts": "2026-02-09T20:01:02.000Z",
             "from": "alice@hs1", "to": "#general@hs1", "type": "org.example.poll",
             "body": "lunch?", "meta": {"options": ["a", "b"]}},
            {"id": uuid::Uuid::new_v4(), "seq": 2, "ts": "2026-02-09T20:01:03.000Z",
             "from": "bob@hs1", "to": "#general@hs1", "type": "message", "body": "hi", "meta": {}}
        ]))
        .unwrap();
        assert_eq!(
            render(&batch[0], Some("hs1")).text,
            "alice sent a org.example.poll event (lunch?)"
        );
        assert_eq!(render(&batch[1], Some("hs1")).text, "hi");
    }

    #[test]
    fn status_lines() {
        let j = event(1, "join", "alice@hs1", "#general@hs1", "");
        assert_eq!(render(&j, Some("hs1")).text, "alice joined #general");
        let p = event(2, "part", "alice@hs1", "#general@hs1", "bye");
        assert_eq!(render(&p, Some("hs1")).text, "alice left #general (bye)");
        assert_eq!(render(&p, Some("hs1")).tone, Tone::Status);
        let mut k = event(3, "kick", "alice@hs1", "#general@hs1", "spam");
        k.meta.insert("nick".into(), "bob@hs1".into());
        assert_eq!(
            render(&k, Some("hs1")).text,
            "alice kicked bob from #general (spam)"
        );
        let n = event(4, "nick", "bob@hs1", "#general@hs1", "robert@hs1");
        assert_eq!(render(&n, Some("hs1")).text, "bob is now known as robert");
        let i = event(5, "invite", "alice@hs1", "bob@hs1", "#secret@hs1");
        assert_eq!(render(&i, Some("hs1")).text, "alice invites bob to #secret");
    }

    #[test]
    fn clocks() {
        assert_eq!(clock("2026-02-09T20:00:00.000Z"), "20:00:00");
        assert_eq!(clock("weird"), "weird");
        assert_eq!(clock("2026-02-09Tx"), "2026-02-09Tx");
    }

    #[test]
    fn handles() {
        assert_eq!(short_handle("a@hs1", Some("HS1")), "a");
        assert_eq!(short_handle("a@hs2", Some("hs1")), "a@hs2");
        assert_eq!(short_handle("a", Some("hs1")), "a");
        assert_eq!(server_of("a@hs1"), Some("hs1"));
    }
}

#[cfg(test)]
mod search_tests {
    use super::bracketed;
    use federation_proto::api::client::Highlight;

    #[test]
    fn brackets_character_ranges() {
        let h = |start, end| Highlight { start, end };
        assert_eq!(bracketed("Grüße Köln", &[h(6, 10)]), "Grüße [Köln]");
        assert_eq!(bracketed("a b", &[h(0, 1), h(2, 3)]), "[a] [b]");
        assert_eq!(bracketed("abc", &[]), "abc");
    }
}
