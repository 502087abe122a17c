//! The queries of a registered client (`WHO`, `WHOIS`, `LIST`, `CHATHISTORY`) and `AWAY`,
//! through [`crate::chat`] and the services like the HTTP routes.

use std::sync::Arc;

use federation_proto::api::client::ProfileUpdate;
use federation_proto::event::Event;
use federation_proto::time::parse_rfc3339_ms;

use super::conn::Client;
use super::names::{bare, channel_of, handle_of, nick_of};
use super::numerics::About;
use crate::chat;
use crate::services::{accounts, channels, messages, rich};
use crate::transport::irc::{Line, Message};

/// Most events one `CHATHISTORY` answers.
const CHATHISTORY_MAX: u32 = 200;

impl Client {
    /// `WHO #c` or `WHO nick`: 352 per user, then 315.
    pub(super) async fn who(&mut self, mask: &str) {
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

    pub(super) fn who_line(&mut self, channel: &str, handle: &str, flags: &str) {
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
    pub(super) async fn whois(&mut self, nick: &str) {
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
    pub(super) async fn list(&mut self) {
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
    pub(super) async fn away(&mut self, message: &str) {
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
    pub(super) async fn chathistory(&mut self, msg: &Message) {
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
