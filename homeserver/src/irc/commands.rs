//! The commands of a registered client. Each one calls [`crate::chat`] or a service, as the
//! HTTP route of the same action does; refusals become numerics through
//! [`super::numerics::refusal`].

use std::sync::Arc;

use federation_proto::api::client::SendRequest;
use federation_proto::time::parse_rfc3339_ms;

use super::conn::{Client, CAPS};
use super::names::{channel_of, handle_of, nick_of};
use super::numerics::About;
use crate::chat;
use crate::transport::irc::{Line, Message};

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
