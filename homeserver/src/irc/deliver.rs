//! What a device receives, as IRC lines: the welcome, the channels it is in, the replay of
//! what it has not acknowledged, and live events.
//!
//! Rich events degrade: an edit is the new text with an `[edited]` marker, a deletion a
//! `NOTICE`, a reaction a `TAGMSG` with `+draft/react` (a `NOTICE` without `message-tags`), a
//! reply carries `+draft/reply`.

use std::sync::Arc;

use federation_proto::api::client::ChannelInfo;
use federation_proto::event::{Event, EventKind};
use federation_proto::time::parse_rfc3339_ms;

use super::conn::{Client, AWAY_NOTIFY, BATCH, ECHO_MESSAGE, MESSAGE_TAGS, SERVER_TIME};
use super::names::{bare, channel_of, host_of, nick_of};
use crate::chat;
use crate::error::ApiError;
use crate::notifier::Delivered;
use crate::services::{channels, sync};
use crate::transport::irc::{split_body, Line};

/// The product name and version in `002`/`004`.
const VERSION: &str = concat!("hearth-", env!("CARGO_PKG_VERSION"));
/// Renames remembered, so that the `nick` event of each shared channel is one `NICK` line.
const RENAMES_REMEMBERED: usize = 16;
/// Bytes of a `353` line's nick list.
const NAMES_ROOM: usize = 380;

impl Client {
    /// The source of a handle's lines: `nick!user@host`.
    pub fn source_of(&self, handle: &str) -> String {
        let local = &self.state.server_name;
        let host = host_of(handle, local);
        let host = if host == local.as_str() {
            self.server.as_str()
        } else {
            host
        };
        format!("{}!{}@{}", nick_of(handle, local), bare(handle), host)
    }

    /// Whether a handle is this user's.
    pub fn is_me(&self, handle: &str) -> bool {
        handle.eq_ignore_ascii_case(&self.me_handle())
    }

    /// Registration replies 001–005, the MOTD, and the channels the user is in.
    pub async fn welcome(&mut self) {
        let nick = self.session.nick.clone();
        let server = self.server.clone();
        self.numeric(1, vec![format!("Welcome to the Hearth network, {nick}")]);
        self.numeric(2, vec![format!("Your host is {server}, running {VERSION}")]);
        self.numeric(
            3,
            vec!["This server keeps your session: nothing is missed".into()],
        );
        self.numeric(
            4,
            vec![
                server,
                VERSION.into(),
                "i".into(),
                "biklmnostv".into(),
                "bklov".into(),
            ],
        );
        let isupport = [
            "CASEMAPPING=ascii",
            "CHANTYPES=#",
            "PREFIX=(ov)@+",
            "CHANMODES=b,k,l,imnst",
            "NETWORK=Hearth",
            "NICKLEN=20",
            "CHANNELLEN=320",
            "TOPICLEN=1000",
            "KICKLEN=1000",
            "AWAYLEN=100",
            "MODES=4",
            "TARGMAX=PRIVMSG:4,NOTICE:4,JOIN:,PART:,NAMES:1,WHOIS:1",
            "CHATHISTORY=200",
            "MSGREFTYPES=msgid,timestamp",
        ];
        let mut params: Vec<String> = isupport.iter().map(|s| s.to_string()).collect();
        params.push("are supported by this server".into());
        self.numeric(5, params);
        self.motd();
        match channels::mine(&self.state, &self.session).await {
            Ok(list) => {
                for summary in list {
                    self.join_burst(&summary.name, None).await;
                }
            }
            Err(e) => tracing::warn!(code = e.code, "IRC: cannot list the user's channels"),
        }
    }

    /// `MOTD`: 375/372/376, or 422 without one.
    pub fn motd(&mut self) {
        let motd = self.state.config.motd.clone();
        if motd.trim().is_empty() {
            self.numeric(422, vec!["MOTD File is missing".into()]);
            return;
        }
        let server = self.server.clone();
        self.numeric(375, vec![format!("- {server} Message of the day - ")]);
        for line in motd.lines() {
            self.numeric(372, vec![format!("- {line}")]);
        }
        self.numeric(376, vec!["End of /MOTD command.".into()]);
    }

    /// `JOIN` from this client for `channel` (any form), its topic and names; `info` when the
    /// caller has it already.
    pub async fn join_burst(&mut self, channel: &str, info: Option<ChannelInfo>) {
        let info = match info {
            Some(info) => info,
            None => match chat::info(&self.state, &self.session, channel).await {
                Ok(info) => info,
                Err(e) => {
                    tracing::warn!(code = e.code, %channel, "IRC: no info for a joined channel");
                    return;
                }
            },
        };
        let name = channel_of(&info.name, &self.state.server_name);
        self.joined.insert(name.clone());
        let me = self.me_source();
        self.send(Line::new("JOIN").from(me).arg(name.clone()));
        self.topic_reply(&name, &info, false);
        self.names_reply(&name, &info);
    }

    /// 332/333 (or 331 when asked and there is none).
    pub fn topic_reply(&mut self, name: &str, info: &ChannelInfo, asked: bool) {
        if info.topic.is_empty() {
            if asked {
                self.numeric(331, vec![name.into(), "No topic is set".into()]);
            }
            return;
        }
        self.numeric(332, vec![name.into(), info.topic.clone()]);
        let setter = info.topic_set_by.as_deref().map_or_else(
            || self.server.clone(),
            |h| nick_of(h, &self.state.server_name),
        );
        let when = parse_rfc3339_ms(&info.created).map_or(0, |ms| ms / 1000);
        self.numeric(333, vec![name.into(), setter, when.to_string()]);
    }

    /// 353… then 366.
    pub fn names_reply(&mut self, name: &str, info: &ChannelInfo) {
        let symbol = if info.modes.contains('s') { "@" } else { "=" };
        let mut chunk = String::new();
        for member in &info.members {
            let prefix = if member.owner || member.modes.contains('o') {
                "@"
            } else if member.modes.contains('v') {
                "+"
            } else {
                ""
            };
            let nick = nick_of(&member.handle, &self.state.server_name);
            if !chunk.is_empty() && chunk.len() + nick.len() + 2 > NAMES_ROOM {
                let full = std::mem::take(&mut chunk);
                self.numeric(353, vec![symbol.into(), name.into(), full]);
            }
            if !chunk.is_empty() {
                chunk.push(' ');
            }
            chunk.push_str(prefix);
            chunk.push_str(&nick);
        }
        if !chunk.is_empty() {
            self.numeric(353, vec![symbol.into(), name.into(), chunk]);
        }
        self.numeric(366, vec![name.into(), "End of /NAMES list".into()]);
    }

    /// Replays every event after the device's cursor, page by page (in `chathistory`
    /// batches with `batch`), then pings for the acknowledgement. Returns where live delivery
    /// starts.
    pub async fn replay(&mut self) -> Result<i64, ApiError> {
        let mut from = self.cursor().await?;
        self.position = from;
        let limit = sync::SYNC_MAX_LIMIT;
        loop {
            let page = sync::stored_events(&self.state, &self.session.user_id, from, limit).await?;
            let Some(last) = page.last() else { break };
            from = last.seq;
            let full = page.len() >= limit as usize;
            self.replay_page(&page).await;
            self.position = from;
            if !full {
                break;
            }
        }
        if self.position > 0 {
            self.ping();
        }
        Ok(from)
    }

    async fn replay_page(&mut self, page: &[Arc<Delivered>]) {
        let events: Vec<Event> = page.iter().filter_map(|d| parse(&d.json)).collect();
        if !self.has(BATCH) {
            for event in &events {
                let lines = self.render(event, true).await;
                for line in lines {
                    self.send(line);
                }
            }
            return;
        }
        // One batch per conversation, in the order of their first events.
        let mut groups: Vec<(String, Vec<Line>)> = Vec::new();
        for event in &events {
            let target = self.target_of(event);
            let lines = self.render(event, true).await;
            if lines.is_empty() {
                continue;
            }
            match groups.iter_mut().find(|(t, _)| *t == target) {
                Some((_, group)) => group.extend(lines),
                None => groups.push((target, lines)),
            }
        }
        for (target, lines) in groups {
            let id = self.batch_ref();
            self.send(
                Line::new("BATCH")
                    .from(self.server.clone())
                    .arg(format!("+{id}"))
                    .arg("chathistory")
                    .arg(target),
            );
            for line in lines {
                self.send(line.tag("batch", id.clone()));
            }
            self.send(
                Line::new("BATCH")
                    .from(self.server.clone())
                    .arg(format!("-{id}")),
            );
        }
    }

    /// Live events and ephemeral events; a `PING :hearth-S` after log events.
    pub async fn deliver(&mut self, batch: sync::Batch) {
        for delivered in &batch.events {
            if let Some(event) = parse(&delivered.json) {
                let lines = self.render(&event, false).await;
                for line in lines {
                    self.send(line);
                }
            }
        }
        for item in &batch.ephemeral {
            if let Some(event) = parse(&item.json) {
                if let Some(line) = self.render_ephemeral(&event) {
                    self.send(line);
                }
            }
        }
        if !batch.events.is_empty() {
            self.position = batch.next;
            self.ping();
        }
    }

    /// The IRC name of an event's conversation: its channel, or the other user of a DM.
    pub fn target_of(&self, event: &Event) -> String {
        let local = &self.state.server_name;
        if event.to.starts_with('#') {
            channel_of(&event.to, local)
        } else if self.is_me(&event.from) {
            nick_of(&event.to, local)
        } else {
            nick_of(&event.from, local)
        }
    }

    /// Where a line about the event goes: the channel, or for a DM the recipient's nick.
    fn line_target(&self, event: &Event) -> String {
        let local = &self.state.server_name;
        if event.to.starts_with('#') {
            channel_of(&event.to, local)
        } else {
            nick_of(&event.to, local)
        }
    }

    fn tagged(&self, line: Line, event: &Event, with_id: bool) -> Line {
        let mut line = line;
        if self.has(SERVER_TIME) {
            line = line.tag("time", event.ts.clone());
        }
        if self.has(MESSAGE_TAGS) && with_id {
            line = line.tag("msgid", event.id.to_string());
            if let Some(reply_to) = event.reply_to {
                line = line.tag("+draft/reply", reply_to.to_string());
            }
        }
        line
    }

    /// The lines of one log event (none for what IRC has no use for).
    async fn render(&mut self, event: &Event, replay: bool) -> Vec<Line> {
        let local = self.state.server_name.clone();
        let me = self.is_me(&event.from);
        let src = self.source_of(&event.from);
        let target = self.line_target(event);
        let mut lines = Vec::new();
        match event.kind {
            EventKind::Message | EventKind::Action | EventKind::Notice | EventKind::Edit => {
                if me && !self.has(ECHO_MESSAGE) && self.sent.contains(&event.id) {
                    return lines;
                }
                let command = if event.kind == EventKind::Notice {
                    "NOTICE"
                } else {
                    "PRIVMSG"
                };
                let overhead = src.len() + target.len() + 16;
                let body = match event.kind {
                    EventKind::Edit => format!("[edited] {}", event.body),
                    _ => event.body.clone(),
                };
                let mut body = body;
                for media in &event.attachments {
                    body.push_str(&format!("\n[attachment {media}]"));
                }
                for (i, piece) in split_body(&body, overhead).into_iter().enumerate() {
                    let text = if event.kind == EventKind::Action {
                        format!("\u{1}ACTION {piece}\u{1}")
                    } else {
                        piece
                    };
                    let line = Line::new(command)
                        .from(src.clone())
                        .arg(target.clone())
                        .text(text);
                    let mut line =
                        self.tagged(line, event, i == 0 && event.kind != EventKind::Edit);
                    if event.kind == EventKind::Edit && self.has(MESSAGE_TAGS) {
                        if let Some(t) = event.target {
                            line = line.tag("+hearth/edit", t.to_string());
                        }
                    }
                    lines.push(line);
                }
            }
            EventKind::Join => {
                let name = channel_of(&event.to, &local);
                if me {
                    if !replay && !self.joined.contains(&name) {
                        self.join_burst(&event.to, None).await;
                    }
                } else {
                    lines.push(self.tagged(Line::new("JOIN").from(src).arg(name), event, false));
                }
            }
            EventKind::Part => {
                let name = channel_of(&event.to, &local);
                if me && (replay || !self.joined.remove(&name)) {
                    return lines;
                }
                let line = Line::new("PART")
                    .from(src)
                    .arg(name)
                    .text(event.body.clone());
                lines.push(self.tagged(line, event, false));
            }
            EventKind::Quit => {
                lines.push(self.tagged(
                    Line::new("QUIT").from(src).text(event.body.clone()),
                    event,
                    false,
                ));
            }
            EventKind::Kick => {
                let name = channel_of(&event.to, &local);
                let victim = event
                    .meta
                    .get("nick")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                if self.is_me(victim) && (replay || !self.joined.remove(&name)) {
                    return lines;
                }
                let line = Line::new("KICK")
                    .from(src)
                    .arg(name)
                    .arg(nick_of(victim, &local))
                    .text(event.body.clone());
                lines.push(self.tagged(line, event, false));
            }
            EventKind::Topic => {
                let line = Line::new("TOPIC")
                    .from(src)
                    .arg(target)
                    .text(event.body.clone());
                lines.push(self.tagged(line, event, false));
            }
            EventKind::Mode => {
                let mut line = Line::new("MODE").from(src).arg(target);
                for word in irc_modes(&event.body, &local) {
                    line = line.arg(word);
                }
                lines.push(self.tagged(line, event, false));
            }
            EventKind::Nick => {
                let new = nick_of(&event.body, &local);
                if me {
                    self.session.nick = bare(&event.body).to_string();
                } else if replay && self.is_me(&event.body) {
                    return lines;
                }
                let key = (
                    event.from.to_ascii_lowercase(),
                    event.body.to_ascii_lowercase(),
                );
                if self.renames.contains(&key) {
                    return lines;
                }
                if self.renames.len() == RENAMES_REMEMBERED {
                    self.renames.pop_front();
                }
                self.renames.push_back(key);
                lines.push(self.tagged(Line::new("NICK").from(src).text(new), event, false));
            }
            EventKind::Invite => {
                if event.to.starts_with('#') {
                    if !me {
                        let who = event
                            .meta
                            .get("nick")
                            .and_then(|v| v.as_str())
                            .unwrap_or("");
                        let text = format!(
                            "{} invited {} to {}",
                            nick_of(&event.from, &local),
                            nick_of(who, &local),
                            target
                        );
                        lines.push(self.notice(&target, text, event));
                    }
                } else if !me {
                    let channel = channel_of(&event.body, &local);
                    let line = Line::new("INVITE")
                        .from(src)
                        .arg(self.session.nick.clone())
                        .arg(channel);
                    lines.push(self.tagged(line, event, false));
                }
            }
            EventKind::Delete => {
                let text = format!("{} deleted a message", nick_of(&event.from, &local));
                let mut line = self.notice(&self.target_of(event), text, event);
                if self.has(MESSAGE_TAGS) {
                    if let Some(t) = event.target {
                        line = line.tag("+draft/delete", t.to_string());
                    }
                }
                lines.push(line);
            }
            EventKind::Reaction => {
                let conv = if event.to.starts_with('#') {
                    target
                } else {
                    self.target_of(event)
                };
                if self.has(MESSAGE_TAGS) {
                    let mut line =
                        self.tagged(Line::new("TAGMSG").from(src).arg(conv), event, true);
                    line = line.tag("+draft/react", event.body.clone());
                    if let Some(t) = event.target {
                        line = line.tag("+draft/reply", t.to_string());
                    }
                    lines.push(line);
                } else {
                    let text = format!("{} reacted {}", nick_of(&event.from, &local), event.body);
                    lines.push(self.notice(&conv, text, event));
                }
            }
            EventKind::System => {
                let name = channel_of(&event.to, &local);
                if !event.body.is_empty() {
                    lines.push(self.notice(&target, event.body.clone(), event));
                }
                if event.meta.contains_key("channel_deleted")
                    && !replay
                    && self.joined.remove(&name)
                {
                    let line = Line::new("PART")
                        .from(self.me_source())
                        .arg(name)
                        .text("channel deleted");
                    lines.push(line);
                }
            }
            EventKind::Pin | EventKind::Unpin | EventKind::Description => {
                let what = match event.kind {
                    EventKind::Pin => "pinned a message".to_string(),
                    EventKind::Unpin => "unpinned a message".to_string(),
                    _ => format!("set the description: {}", event.body),
                };
                let text = format!("{} {what}", nick_of(&event.from, &local));
                lines.push(self.notice(&target, text, event));
            }
            _ => {}
        }
        lines
    }

    /// The lines of an event of a `CHATHISTORY` answer (one's own messages included).
    pub async fn render_history(&mut self, event: &Event) -> Vec<Line> {
        let sent = std::mem::take(&mut self.sent);
        let lines = self.render(event, true).await;
        self.sent = sent;
        lines
    }

    /// A `NOTICE` from the server about an event.
    fn notice(&self, target: &str, text: String, event: &Event) -> Line {
        let line = Line::new("NOTICE")
            .from(self.server.clone())
            .arg(target.to_string())
            .text(text);
        self.tagged(line, event, false)
    }

    /// Typing as `TAGMSG +typing` (with `message-tags`), presence as `AWAY` (with
    /// `away-notify`); nothing else.
    fn render_ephemeral(&self, event: &Event) -> Option<Line> {
        if self.is_me(&event.from) {
            return None;
        }
        let src = self.source_of(&event.from);
        match event.kind {
            EventKind::Typing if self.has(MESSAGE_TAGS) => {
                let on = event
                    .meta
                    .get("typing")
                    .and_then(|v| v.as_bool())
                    .unwrap_or(false);
                let target = if event.to.starts_with('#') {
                    channel_of(&event.to, &self.state.server_name)
                } else {
                    self.session.nick.clone()
                };
                Some(
                    Line::new("TAGMSG")
                        .from(src)
                        .arg(target)
                        .tag("+typing", if on { "active" } else { "done" }),
                )
            }
            EventKind::Presence if self.has(AWAY_NOTIFY) => {
                let status = event
                    .meta
                    .get("status")
                    .and_then(|v| v.as_str())
                    .unwrap_or("online");
                let message = event
                    .meta
                    .get("status_message")
                    .and_then(|v| v.as_str())
                    .unwrap_or("");
                match status {
                    "away" | "busy" => {
                        Some(Line::new("AWAY").from(src).text(if message.is_empty() {
                            status.to_string()
                        } else {
                            message.to_string()
                        }))
                    }
                    _ => Some(Line::new("AWAY").from(src)),
                }
            }
            _ => None,
        }
    }
}

fn parse(json: &[u8]) -> Option<Event> {
    match serde_json::from_slice(json) {
        Ok(event) => Some(event),
        Err(e) => {
            tracing::warn!(error = %e, "IRC: an event that does not parse");
            None
        }
    }
}

/// A mode event's body (`+o bob +t`, `+l 5`, `+b *@hs2`) as IRC `MODE` words (`+ot bob`),
/// member arguments as IRC nicks; the owner mode `q` shows as `o`.
pub fn irc_modes(body: &str, local: &federation_proto::ids::ServerName) -> Vec<String> {
    let mut letters = String::new();
    let mut args = Vec::new();
    let mut sign = ' ';
    let mut last = ' ';
    for word in body.split_whitespace() {
        let mut chars = word.chars();
        match chars.next() {
            Some(s @ ('+' | '-')) => {
                for c in chars {
                    if s != sign {
                        letters.push(s);
                        sign = s;
                    }
                    let c = if c == 'q' { 'o' } else { c };
                    letters.push(c);
                    last = c;
                }
            }
            _ => args.push(if matches!(last, 'o' | 'v') {
                nick_of(word, local)
            } else {
                word.to_string()
            }),
        }
    }
    let mut words = vec![letters];
    words.extend(args);
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_bodies_become_irc_words() {
        let here: federation_proto::ids::ServerName = "hs1".parse().unwrap();
        assert_eq!(irc_modes("+o bob +t", &here), vec!["+ot", "bob"]);
        assert_eq!(
            irc_modes("+v ann@hs2.x -l", &here),
            vec!["+v-l", "ann|hs2_x"]
        );
        assert_eq!(irc_modes("+b *@hs2", &here), vec!["+b", "*@hs2"]);
        assert_eq!(irc_modes("+q carol", &here), vec!["+o", "carol"]);
    }
}
