//! The commands of a registered client. Each one calls [`crate::chat`] or a service, as the
//! HTTP route of the same action does; refusals become numerics through
//! [`super::numerics::refusal`].

use std::sync::Arc;

use federation_proto::api::client::{ProfileUpdate, SendRequest};
use federation_proto::event::Event;
use federation_proto::time::parse_rfc3339_ms;

use super::conn::{Client, CAPS};
use super::names::{bare, channel_of, handle_of, nick_of};
use super::numerics::About;
use crate::chat;
use crate::services::{accounts, channels, messages, rich};
use crate::transport::irc::{Line, Message};

/// Most events one `CHATHISTORY` answers.
const CHATHISTORY_MAX: u32 = 200;

impl Client {
    /// Runs one client command.
    pub async fn command(&mut self, msg: Message) {
        let need = |n: usize| msg.params.len() >= n;
        match msg.command.as_str() {
            "PING" => {
                let token = msg.param(0).unwrap_or("").to_string();
                let server = self.server.clone();
                self.send(
                    Line::new("PONG")
                        .from(server.clone())
                        .arg(server)
                        .text(token),
                );
            }
            "PONG" => {
                let token = msg.params.last().cloned().unwrap_or_default();
                self.pong(&token).await;
            }
            "QUIT" => {
                self.out.push_str("ERROR :Closing link (quit)\r\n");
                self.quit = true;
            }
            "CAP" => self.cap(&msg),
            "PASS" | "USER" => self.numeric(462, vec!["You may not reregister".into()]),
            "AUTHENTICATE" => self.numeric(907, vec!["You have already authenticated".into()]),
            "MOTD" => self.motd(),
            "NICK" if need(1) => self.nick(&msg.params[0]).await,
            "NICK" => self.numeric(431, vec!["No nickname given".into()]),
            "JOIN" if need(1) => self.join(&msg).await,
            "PART" if need(1) => self.part(&msg).await,
            "PRIVMSG" | "NOTICE" if need(2) => self.message(&msg).await,
            "PRIVMSG" | "NOTICE" if need(1) => self.numeric(412, vec!["No text to send".into()]),
            "PRIVMSG" | "NOTICE" => {
                self.numeric(411, vec![format!("No recipient given ({})", msg.command)])
            }
            "TAGMSG" if need(1) => self.tagmsg(&msg).await,
            "TOPIC" if need(1) => self.topic(&msg).await,
            "MODE" if need(1) => self.mode(&msg).await,
            "KICK" if need(2) => self.kick(&msg).await,
            "INVITE" if need(2) => self.invite(&msg).await,
            "NAMES" => self.names(msg.param(0)).await,
            "WHO" if need(1) => self.who(&msg.params[0]).await,
            "WHOIS" if need(1) => {
                let nick = msg.params.last().cloned().unwrap_or_default();
                self.whois(&nick).await;
            }
            "LIST" => self.list().await,
            "AWAY" => self.away(msg.param(0).unwrap_or("")).await,
            "CHATHISTORY" if need(3) => self.chathistory(&msg).await,
            "JOIN" | "PART" | "TAGMSG" | "TOPIC" | "MODE" | "KICK" | "INVITE" | "WHO" | "WHOIS"
            | "CHATHISTORY" => self.numeric(
                461,
                vec![msg.command.clone(), "Not enough parameters".into()],
            ),
            other => {
                let other = other.to_string();
                self.numeric(421, vec![other, "Unknown command".into()]);
            }
        }
    }

    fn cap(&mut self, msg: &Message) {
        let nick = self.session.nick.clone();
        let server = self.server.clone();
        let reply = |sub: &str, text: String| {
            Line::new("CAP")
                .from(server.clone())
                .arg(nick.clone())
                .arg(sub.to_string())
                .text(text)
        };
        match msg.param(0).map(str::to_ascii_uppercase).as_deref() {
            Some("LS") => {
                let list = CAPS.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(" ");
                self.send(reply("LS", list));
            }
            Some("LIST") => {
                let list = CAPS
                    .iter()
                    .filter(|(_, bit)| self.caps & bit != 0)
                    .map(|(n, _)| *n)
                    .collect::<Vec<_>>()
                    .join(" ");
                self.send(reply("LIST", list));
            }
            Some("REQ") => {
                let wanted = msg.param(1).unwrap_or("").to_string();
                let mut caps = self.caps;
                let mut ok = true;
                for name in wanted.split_whitespace() {
                    let (off, name) = name.strip_prefix('-').map_or((false, name), |n| (true, n));
                    match CAPS.iter().find(|(n, _)| *n == name) {
                        Some((_, bit)) if off => caps &= !bit,
                        Some((_, bit)) => caps |= bit,
                        None => ok = false,
                    }
                }
                if ok {
                    self.caps = caps;
                    self.send(reply("ACK", wanted));
                } else {
                    self.send(reply("NAK", wanted));
                }
            }
            Some("END") => {}
            _ => {
                let sub = msg.param(0).unwrap_or("").to_string();
                self.numeric(410, vec![sub, "Invalid CAP command".into()]);
            }
        }
    }

    /// `NICK new`: renames the account (every device and channel sees a `nick` event).
    async fn nick(&mut self, new: &str) {
        if new.eq_ignore_ascii_case(&self.session.nick) {
            return;
        }
        match chat::change_nick(&self.state, &self.session, new).await {
            Ok(profile) => {
                // The `nick` events that follow on the stream announce it.
                self.session.nick = profile.nick;
            }
            Err(e) => self.refuse(
                &e,
                About {
                    command: "NICK",
                    channel: None,
                    nick: Some(new),
                },
            ),
        }
    }

    /// `JOIN #a,#b key1,key2` (`JOIN 0` parts every channel).
    async fn join(&mut self, msg: &Message) {
        let channels_param = msg.params[0].clone();
        if channels_param == "0" {
            let joined: Vec<String> = self.joined.iter().cloned().collect();
            for name in joined {
                if let Err(e) = chat::part(&self.state, &self.session, &name, None).await {
                    self.refuse(
                        &e,
                        About {
                            command: "PART",
                            channel: Some(&name),
                            nick: None,
                        },
                    );
                }
            }
            return;
        }
        let mut keys = msg.param(1).unwrap_or("").split(',').map(str::to_string);
        for name in channels_param.split(',').filter(|c| !c.is_empty()) {
            let key = keys.next().filter(|k| !k.is_empty());
            if !name.starts_with('#') {
                self.numeric(403, vec![name.to_string(), "No such channel".into()]);
                continue;
            }
            match chat::join(&self.state, &self.session, name, key).await {
                Ok(info) => {
                    let irc_name = channel_of(&info.name, &self.state.server_name);
                    if !self.joined.contains(&irc_name) {
                        self.join_burst(name, Some(info)).await;
                    }
                }
                Err(e) => self.refuse(
                    &e,
                    About {
                        command: "JOIN",
                        channel: Some(name),
                        nick: None,
                    },
                ),
            }
        }
    }

    /// `PART #a,#b :reason`; the `PART` line comes with the event.
    async fn part(&mut self, msg: &Message) {
        let reason = msg.param(1).map(str::to_string).filter(|r| !r.is_empty());
        for name in msg.params[0].clone().split(',').filter(|c| !c.is_empty()) {
            if let Err(e) = chat::part(&self.state, &self.session, name, reason.clone()).await {
                self.refuse(
                    &e,
                    About {
                        command: "PART",
                        channel: Some(name),
                        nick: None,
                    },
                );
            }
        }
    }

    /// `PRIVMSG`/`NOTICE targets :text`: channels and nicks (DMs); CTCP `ACTION` is an
    /// `action`, other CTCP requests are not passed on; `+draft/reply` makes a reply.
    async fn message(&mut self, msg: &Message) {
        let command = msg.command.clone();
        let text = msg.params[1].clone();
        let (kind, body) = match text.strip_prefix('\u{1}') {
            Some(ctcp) => {
                let ctcp = ctcp.trim_end_matches('\u{1}');
                match ctcp.strip_prefix("ACTION") {
                    Some(action) => ("action", action.trim_start().to_string()),
                    None => return,
                }
            }
            None if command == "NOTICE" => ("notice", text),
            None => ("message", text),
        };
        let reply_to = msg.tag("+draft/reply").map(str::to_string);
        for target in msg.params[0].clone().split(',').filter(|t| !t.is_empty()) {
            let to = if target.starts_with('#') {
                target.to_string()
            } else {
                handle_of(target)
            };
            let req = SendRequest {
                to,
                kind: Some(kind.to_string()),
                body: body.clone(),
                meta: None,
                reply_to: reply_to.clone(),
                txn_id: None,
                attachments: Vec::new(),
            };
            match chat::send(&self.state, &self.session, req).await {
                Ok(event) => self.remember_sent(event.id),
                // NOTICE is never answered with an error (RFC 2812), except a refusal the
                // user must know of.
                Err(e) if command == "NOTICE" && e.status.as_u16() == 400 => {}
                Err(e) => self.refuse(&e, about_target(&command, target)),
            }
        }
    }

    /// `TAGMSG`: a reaction (`+draft/react` with `+draft/reply`) or typing (`+typing`).
    async fn tagmsg(&mut self, msg: &Message) {
        let target = msg.params[0].clone();
        if let (Some(emoji), Some(id)) = (msg.tag("+draft/react"), msg.tag("+draft/reply")) {
            if let Err(e) = chat::react(&self.state, &self.session, id, emoji.to_string()).await {
                self.refuse(&e, about_target("TAGMSG", &target));
            }
            return;
        }
        if let Some(typing) = msg.tag("+typing") {
            let to = if target.starts_with('#') {
                target.clone()
            } else {
                handle_of(&target)
            };
            let state = Arc::clone(&self.state);
            // Typing is best effort: a refusal (rate limit) is not worth a numeric.
            let _ = chat::typing(&state, &self.session, &to, typing == "active").await;
        }
    }

    /// `TOPIC #c` asks; `TOPIC #c :text` sets (the `TOPIC` line comes with the event).
    async fn topic(&mut self, msg: &Message) {
        let name = msg.params[0].clone();
        let about = About {
            command: "TOPIC",
            channel: Some(&name),
            nick: None,
        };
        match msg.param(1) {
            None => match chat::info(&self.state, &self.session, &name).await {
                Ok(info) => {
                    let shown = channel_of(&info.name, &self.state.server_name);
                    self.topic_reply(&shown, &info, true);
                }
                Err(e) => self.refuse(&e, about),
            },
            Some(topic) => {
                if let Err(e) =
                    chat::set_topic(&self.state, &self.session, &name, topic.to_string()).await
                {
                    self.refuse(&e, about);
                }
            }
        }
    }

    /// `MODE #c` (324/329), `MODE #c b` (367/368), `MODE #c +o-v a b …` (through the same
    /// rules as the HTTP route), `MODE nick` (221).
    async fn mode(&mut self, msg: &Message) {
        let target = msg.params[0].clone();
        if !target.starts_with('#') {
            if target.eq_ignore_ascii_case(&self.session.nick) {
                self.numeric(221, vec!["+".into()]);
            } else {
                self.numeric(502, vec!["Can't change mode for other users".into()]);
            }
            return;
        }
        let about = About {
            command: "MODE",
            channel: Some(&target),
            nick: None,
        };
        let changes = msg.param(1).unwrap_or("");
        let list = changes.trim_start_matches('+');
        if changes.is_empty()
            || ((list == "b" || list == "e" || list == "I") && msg.params.len() == 2)
        {
            let info = match chat::info(&self.state, &self.session, &target).await {
                Ok(info) => info,
                Err(e) => return self.refuse(&e, about),
            };
            let name = channel_of(&info.name, &self.state.server_name);
            let created = parse_rfc3339_ms(&info.created).map_or(0, |ms| ms / 1000);
            match list {
                "" => {
                    let mut params = vec![name.clone()];
                    params.extend(info.modes.split_whitespace().map(str::to_string));
                    self.numeric(324, params);
                    self.numeric(329, vec![name, created.to_string()]);
                }
                "b" => {
                    for ban in info.bans.clone().unwrap_or_default() {
                        let when = parse_rfc3339_ms(&ban.set_at).map_or(0, |ms| ms / 1000);
                        let setter = nick_of(&ban.set_by, &self.state.server_name);
                        self.numeric(367, vec![name.clone(), ban.mask, setter, when.to_string()]);
                    }
                    self.numeric(368, vec![name, "End of channel ban list".into()]);
                }
                "e" => self.numeric(349, vec![name, "End of channel exception list".into()]),
                _ => self.numeric(347, vec![name, "End of channel invite list".into()]),
            }
            return;
        }
        let mut words = vec![changes.to_string()];
        let mut current = ' ';
        let mut arg_letters = changes.chars().filter(|c| {
            if matches!(c, '+' | '-') {
                current = *c;
                return false;
            }
            matches!(c, 'o' | 'v' | 'q' | 'b') || (current == '+' && matches!(c, 'k' | 'l'))
        });
        for arg in &msg.params[2..] {
            let word = match arg_letters.next() {
                Some('b') => mask_from_irc(arg),
                Some('o' | 'v' | 'q') => handle_of(arg),
                _ => arg.clone(),
            };
            words.push(word);
        }
        if let Err(e) = chat::set_modes(
            &self.state,
            &self.session,
            &target,
            &words.join(" "),
            None,
            None,
        )
        .await
        {
            self.refuse(&e, about);
        }
    }

    /// `KICK #c nick[,nick] :reason`.
    async fn kick(&mut self, msg: &Message) {
        let channel = msg.params[0].clone();
        let reason = msg.param(2).map(str::to_string).filter(|r| !r.is_empty());
        for nick in msg.params[1].clone().split(',').filter(|n| !n.is_empty()) {
            let handle = handle_of(nick);
            if let Err(e) = chat::kick(
                &self.state,
                &self.session,
                &channel,
                &handle,
                reason.clone(),
            )
            .await
            {
                self.refuse(
                    &e,
                    About {
                        command: "KICK",
                        channel: Some(&channel),
                        nick: Some(nick),
                    },
                );
            }
        }
    }

    /// `INVITE nick #c` → 341.
    async fn invite(&mut self, msg: &Message) {
        let (nick, channel) = (msg.params[0].clone(), msg.params[1].clone());
        match chat::invite(&self.state, &self.session, &channel, &handle_of(&nick)).await {
            Ok(()) => self.numeric(341, vec![nick, channel]),
            Err(e) => self.refuse(
                &e,
                About {
                    command: "INVITE",
                    channel: Some(&channel),
                    nick: Some(&nick),
                },
            ),
        }
    }

    /// `NAMES #c` (366 alone for a channel the user cannot see).
    async fn names(&mut self, channel: Option<&str>) {
        let Some(channels) = channel else {
            return self.numeric(366, vec!["*".into(), "End of /NAMES list".into()]);
        };
        for name in channels.split(',').filter(|c| !c.is_empty()) {
            match chat::info(&self.state, &self.session, name).await {
                Ok(info) => {
                    let shown = channel_of(&info.name, &self.state.server_name);
                    self.names_reply(&shown, &info);
                }
                Err(_) => self.numeric(366, vec![name.to_string(), "End of /NAMES list".into()]),
            }
        }
    }

    /// `WHO #c` or `WHO nick`: 352 per user, then 315.
    async fn who(&mut self, mask: &str) {
        if mask.starts_with('#') {
            if let Ok(info) = chat::info(&self.state, &self.session, mask).await {
                let name = channel_of(&info.name, &self.state.server_name);
                for member in &info.members {
                    let op = member.owner || member.modes.contains('o');
                    let prefix = if op {
                        "@"
                    } else if member.modes.contains('v') {
                        "+"
                    } else {
                        ""
                    };
                    self.who_line(&name, &member.handle, &format!("H{prefix}"));
                }
            }
        } else if let Ok(profile) = chat::profile(&self.state, &handle_of(mask)).await {
            let away = matches!(profile.status.as_deref(), Some("away" | "busy"));
            self.who_line("*", &profile.handle, if away { "G" } else { "H" });
        }
        self.numeric(315, vec![mask.to_string(), "End of WHO list".into()]);
    }

    fn who_line(&mut self, channel: &str, handle: &str, flags: &str) {
        let source = self.source_of(handle);
        let (nick, rest) = source.split_once('!').unwrap_or((&source, ""));
        let (user, host) = rest.split_once('@').unwrap_or((rest, ""));
        let params = vec![
            channel.to_string(),
            user.to_string(),
            host.to_string(),
            self.server.clone(),
            nick.to_string(),
            flags.to_string(),
            format!("0 {handle}"),
        ];
        self.numeric(352, params);
    }

    /// `WHOIS nick`: 311, 312, 319 (one's own channels), 301, 330, 320 (devices), 317, 318.
    async fn whois(&mut self, nick: &str) {
        let handle = handle_of(nick);
        let profile = match chat::profile(&self.state, &handle).await {
            Ok(profile) => profile,
            Err(e) => {
                self.refuse(
                    &e,
                    About {
                        command: "WHOIS",
                        channel: None,
                        nick: Some(nick),
                    },
                );
                return self.numeric(318, vec![nick.to_string(), "End of /WHOIS list".into()]);
            }
        };
        let shown = nick_of(&profile.handle, &self.state.server_name);
        let source = self.source_of(&profile.handle);
        let host = source
            .rsplit_once('@')
            .map_or(self.server.clone(), |(_, h)| h.to_string());
        let real = profile
            .display_name
            .clone()
            .unwrap_or_else(|| profile.handle.clone());
        self.numeric(
            311,
            vec![
                shown.clone(),
                bare(&profile.handle).to_string(),
                host.clone(),
                "*".into(),
                real,
            ],
        );
        let server_of = host.clone();
        self.numeric(
            312,
            vec![shown.clone(), server_of, "a Hearth homeserver".into()],
        );
        if self.is_me(&profile.handle) {
            if let Ok(list) = channels::mine(&self.state, &self.session).await {
                let names: Vec<String> = list
                    .iter()
                    .map(|c| channel_of(&c.name, &self.state.server_name))
                    .collect();
                if !names.is_empty() {
                    self.numeric(319, vec![shown.clone(), names.join(" ")]);
                }
            }
        }
        if matches!(profile.status.as_deref(), Some("away" | "busy")) {
            let text = profile
                .status_message
                .clone()
                .filter(|m| !m.is_empty())
                .unwrap_or_else(|| "away".into());
            self.numeric(301, vec![shown.clone(), text]);
        }
        self.numeric(
            330,
            vec![
                shown.clone(),
                profile.handle.clone(),
                "is logged in as".into(),
            ],
        );
        if profile
            .handle
            .ends_with(&format!("@{}", self.state.server_name))
        {
            if let Ok(devices) = accounts::device_names(&self.state, &profile.id).await {
                self.numeric(
                    320,
                    vec![shown.clone(), format!("devices: {}", devices.join(", "))],
                );
            }
        }
        let signon = parse_rfc3339_ms(&profile.created).map_or(0, |ms| ms / 1000);
        self.numeric(
            317,
            vec![
                shown.clone(),
                profile.idle_seconds.to_string(),
                signon.to_string(),
                "seconds idle, signon time".into(),
            ],
        );
        self.numeric(318, vec![shown, "End of /WHOIS list".into()]);
    }

    /// `LIST`: the channels that are not `+s`.
    async fn list(&mut self) {
        self.numeric(321, vec!["Channel".into(), "Users  Name".into()]);
        match channels::public(&self.state, &self.session).await {
            Ok(list) => {
                for c in list {
                    let name = channel_of(&c.name, &self.state.server_name);
                    self.numeric(322, vec![name, c.members.to_string(), c.topic]);
                }
            }
            Err(e) => tracing::warn!(code = e.code, "IRC LIST failed"),
        }
        self.numeric(323, vec!["End of /LIST".into()]);
    }

    /// `AWAY :message` sets the status `away`; `AWAY` alone sets it back to `online`.
    async fn away(&mut self, message: &str) {
        let away = !message.is_empty();
        let update = ProfileUpdate {
            status: Some(if away { "away" } else { "online" }.to_string()),
            status_message: Some(message.chars().take(100).collect()),
            ..ProfileUpdate::default()
        };
        let state = Arc::clone(&self.state);
        match chat::update_profile(&state, &self.session, update).await {
            Ok(_) if away => self.numeric(306, vec!["You have been marked as being away".into()]),
            Ok(_) => self.numeric(305, vec!["You are no longer marked as being away".into()]),
            Err(e) => self.refuse(
                &e,
                About {
                    command: "AWAY",
                    channel: None,
                    nick: None,
                },
            ),
        }
    }

    /// `CHATHISTORY LATEST|BEFORE target ref limit` from the conversation's history
    /// (`ref` `*`, `msgid=…` or `timestamp=…`), oldest first, in a `chathistory` batch.
    async fn chathistory(&mut self, msg: &Message) {
        let sub = msg.params[0].to_ascii_uppercase();
        let target = msg.params[1].clone();
        let reference = msg.params[2].clone();
        let limit = msg
            .param(3)
            .and_then(|l| l.parse::<u32>().ok())
            .unwrap_or(50)
            .clamp(1, CHATHISTORY_MAX);
        let fail = |client: &mut Client, code: &str, text: &str| {
            client.send(
                Line::new("FAIL")
                    .from(client.server.clone())
                    .arg("CHATHISTORY")
                    .arg(code.to_string())
                    .arg(target.clone())
                    .text(text.to_string()),
            );
        };
        if !matches!(sub.as_str(), "LATEST" | "BEFORE" | "AFTER") {
            return fail(
                self,
                "INVALID_PARAMS",
                "LATEST, BEFORE and AFTER are supported",
            );
        }
        let hearth_target = if target.starts_with('#') {
            target.clone()
        } else {
            handle_of(&target)
        };
        // A reference by msgid is a position in the log; one by time filters a page.
        let (mut seq, mut ts) = (None, None);
        if let Some(id) = reference.strip_prefix("msgid=") {
            match rich::get(&self.state, &self.session, id).await {
                Ok(event) => seq = Some(event.seq),
                Err(_) => return fail(self, "INVALID_MSGREFTYPE", "unknown msgid"),
            }
        } else if let Some(time) = reference.strip_prefix("timestamp=") {
            match parse_rfc3339_ms(time) {
                Ok(ms) => ts = Some(i64::try_from(ms).unwrap_or(i64::MAX)),
                Err(_) => return fail(self, "INVALID_MSGREFTYPE", "bad timestamp"),
            }
        } else if reference != "*" || sub != "LATEST" {
            return fail(self, "INVALID_MSGREFTYPE", "use *, msgid= or timestamp=");
        }
        // LATEST stops at its reference, BEFORE starts there.
        let (before, after) = match sub.as_str() {
            "BEFORE" => (seq, None),
            _ => (None, seq),
        };
        let page = if ts.is_some() { CHATHISTORY_MAX } else { limit };
        let history = messages::history(
            &self.state,
            &self.session,
            &hearth_target,
            before,
            after,
            Some(page),
        )
        .await;
        let mut events: Vec<Event> = match history {
            Ok(events) => events,
            Err(e) => return fail(self, "INVALID_TARGET", &e.message),
        };
        if let Some(ts) = ts {
            events.retain(|e| {
                let at = parse_rfc3339_ms(&e.ts).map_or(0, |ms| i64::try_from(ms).unwrap_or(0));
                if sub == "BEFORE" {
                    at < ts
                } else {
                    at > ts
                }
            });
        }
        // Newest first from history: the newest `limit` of them, oldest first on the wire.
        events.retain(|e| e.deleted != Some(true));
        events.truncate(limit as usize);
        events.reverse();
        let id = self.batch_ref();
        let shown = if target.starts_with('#') {
            channel_of(&target, &self.state.server_name)
        } else {
            nick_of(&handle_of(&target), &self.state.server_name)
        };
        let batched = self.has(super::conn::BATCH);
        if batched {
            self.send(
                Line::new("BATCH")
                    .from(self.server.clone())
                    .arg(format!("+{id}"))
                    .arg("chathistory")
                    .arg(shown),
            );
        }
        for event in &events {
            for line in self.render_history(event).await {
                self.send(if batched {
                    line.tag("batch", id.clone())
                } else {
                    line
                });
            }
        }
        if batched {
            self.send(
                Line::new("BATCH")
                    .from(self.server.clone())
                    .arg(format!("-{id}")),
            );
        }
    }
}

/// The numerics' subject of a message target.
fn about_target<'a>(command: &'a str, target: &'a str) -> About<'a> {
    if target.starts_with('#') {
        About {
            command,
            channel: Some(target),
            nick: None,
        }
    } else {
        About {
            command,
            channel: None,
            nick: Some(target),
        }
    }
}

/// An IRC ban mask (`nick!user@host`) as a Hearth mask (`nick@server`): `bob!*@*` is
/// `bob@*`, `*!*@hs2.example` is `*@hs2.example`; a Hearth mask stays as it is.
fn mask_from_irc(mask: &str) -> String {
    match mask.split_once('!') {
        Some((nick, rest)) => {
            let host = rest.rsplit_once('@').map_or("*", |(_, h)| h);
            let handle = handle_of(nick);
            match handle.split_once('@') {
                Some(_) => handle,
                None => format!("{handle}@{host}"),
            }
        }
        None if mask.contains('|') => handle_of(mask),
        None => mask.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn irc_masks_become_hearth_masks() {
        assert_eq!(mask_from_irc("bob!*@*"), "bob@*");
        assert_eq!(mask_from_irc("*!*@hs2.example"), "*@hs2.example");
        assert_eq!(mask_from_irc("bob|hs2_example!*@*"), "bob@hs2.example");
        assert_eq!(mask_from_irc("*@hs2"), "*@hs2");
    }
}
