//! A small frame for bots: configuration from the environment, connect (log in or register,
//! join channels), a stream of the messages meant for the bot, and answers as notices.
//!
//! ```no_run
//! use hearth_client::bot::{Bot, BotConfig};
//!
//! fn main() -> Result<(), hearth_client::ClientError> {
//!     hearth_client::run(async {
//!         let mut bot = Bot::connect(&BotConfig::from_env("pingbot")?).await?;
//!         loop {
//!             let msg = bot.next_message().await?;
//!             if bot.addressed(&msg) == Some("ping") {
//!                 bot.answer(&msg, "pong").await?;
//!             }
//!         }
//!     })
//! }
//! ```

use std::path::PathBuf;

use federation_proto::api::client::UserProfile;

use crate::{Client, ClientConfig, ClientError, Event, EventKind, SyncStream};

/// Where and as whom a bot runs.
#[derive(Clone)]
pub struct BotConfig {
    /// Homeserver base URL (`HEARTH_SERVER`, default `http://127.0.0.1:8080`).
    pub server: String,
    /// The bot's nick (`HEARTH_BOT_NICK`, default given by the bot).
    pub nick: String,
    /// The bot's password (`HEARTH_BOT_PASSWORD`, required).
    pub password: String,
    /// Channels to join (`HEARTH_BOT_CHANNELS`, comma-separated, default `#bots`).
    pub channels: Vec<String>,
    /// A private CA's certificates (PEM) to trust besides the public roots (`EXTRA_CA_FILE`).
    pub extra_ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for BotConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BotConfig")
            .field("server", &self.server)
            .field("nick", &self.nick)
            .field("password", &"<redacted>")
            .field("channels", &self.channels)
            .field("extra_ca_file", &self.extra_ca_file)
            .finish()
    }
}

impl BotConfig {
    /// Reads the configuration from the environment (see the field docs).
    pub fn from_env(default_nick: &str) -> Result<BotConfig, ClientError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let password = var("HEARTH_BOT_PASSWORD").ok_or_else(|| {
            ClientError::InvalidInput("set HEARTH_BOT_PASSWORD to the bot's password".into())
        })?;
        Ok(BotConfig {
            server: var("HEARTH_SERVER").unwrap_or_else(|| "http://127.0.0.1:8080".into()),
            nick: var("HEARTH_BOT_NICK").unwrap_or_else(|| default_nick.to_string()),
            password,
            channels: parse_channels(&var("HEARTH_BOT_CHANNELS").unwrap_or_else(|| "#bots".into())),
            extra_ca_file: var("EXTRA_CA_FILE").map(PathBuf::from),
        })
    }
}

/// `"#a, b,,#c"` → `["#a", "#b", "#c"]`.
fn parse_channels(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(|c| {
            if c.starts_with('#') {
                c.to_string()
            } else {
                format!("#{c}")
            }
        })
        .collect()
}

/// A connected bot: its client, its profile and its event stream.
pub struct Bot {
    /// The logged-in client (clone it freely).
    pub client: Client,
    /// The bot's own profile.
    pub me: UserProfile,
    stream: SyncStream,
}

impl Bot {
    /// Logs in (registering the account the first time), joins the channels, and opens the
    /// event stream. A fresh login starts at the end of the log: old commands are not replayed.
    pub async fn connect(config: &BotConfig) -> Result<Bot, ClientError> {
        let mut settings = ClientConfig::default();
        if let Some(path) = &config.extra_ca_file {
            settings = settings.with_extra_ca_file(path)?;
        }
        let mut client = Client::with_config(&config.server, settings)?;
        client
            .login_or_register(&config.nick, &config.password, Some("bot"))
            .await?;
        for channel in &config.channels {
            client.join(channel, None).await?;
        }
        let me = client.me().await?;
        let stream = client.sync();
        Ok(Bot { client, me, stream })
    }

    /// The next message or action from someone else. Notices are skipped, as IRC bots must
    /// never answer them (two bots would loop forever), and so is everything the bot sent.
    pub async fn next_message(&mut self) -> Result<Event, ClientError> {
        loop {
            let event = self.stream.next().await?;
            let speech = matches!(event.kind, EventKind::Message | EventKind::Action);
            if speech && !event.from.eq_ignore_ascii_case(&self.me.handle) {
                return Ok(event);
            }
        }
    }

    /// The text meant for the bot: the whole body of a DM, or in a channel the rest of a body
    /// that starts with `nick:` or `nick,`. `None` when the bot is not addressed.
    pub fn addressed<'a>(&self, event: &'a Event) -> Option<&'a str> {
        if !event.to.starts_with('#') {
            return Some(event.body.trim());
        }
        let body = event.body.trim_start();
        let nick = &self.me.nick;
        let head = body.get(..nick.len())?;
        if !head.eq_ignore_ascii_case(nick) {
            return None;
        }
        let rest = &body[nick.len()..];
        rest.strip_prefix([':', ',']).map(str::trim)
    }

    /// Answers `event` with a notice in the same channel, or to its sender for a DM.
    pub async fn answer(&self, event: &Event, text: &str) -> Result<Event, ClientError> {
        let to = crate::reply_target(event, &self.me.handle).to_string();
        let mut req = crate::message(&to, text);
        req.kind = Some(EventKind::Notice.as_str().to_string());
        req.reply_to = Some(event.id.to_string());
        self.client.send_request(req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channel_lists() {
        assert_eq!(parse_channels("#a, b,,#c "), ["#a", "#b", "#c"]);
        assert!(parse_channels(" , ").is_empty());
    }

    fn bot_nick_matches(nick: &str, to: &str, body: &str) -> Option<String> {
        // `addressed` only needs the profile; build a Bot-less equivalent through a fake.
        let me = UserProfile {
            id: "x".into(),
            nick: nick.into(),
            handle: format!("{nick}@hs"),
            online: true,
            idle_seconds: 0,
            created: String::new(),
            display_name: None,
            avatar: None,
            status: None,
            status_message: None,
        };
        let client = Client::new("http://127.0.0.1:1").ok()?;
        let stream = client.sync();
        let bot = Bot { client, me, stream };
        let event: Event = serde_json::from_value(serde_json::json!({
            "id": uuid::Uuid::new_v4(), "seq": 1, "ts": "2026-01-01T00:00:00.000Z",
            "from": "u@hs", "to": to, "type": "message", "body": body, "meta": {}
        }))
        .ok()?;
        bot.addressed(&event).map(str::to_string)
    }

    #[test]
    fn addressing() {
        assert_eq!(
            bot_nick_matches("dice", "#g@hs", "dice: roll 2d6").as_deref(),
            Some("roll 2d6")
        );
        assert_eq!(
            bot_nick_matches("dice", "#g@hs", "Dice, hi").as_deref(),
            Some("hi")
        );
        assert_eq!(bot_nick_matches("dice", "#g@hs", "dicey: no"), None);
        assert_eq!(bot_nick_matches("dice", "#g@hs", "hello"), None);
        assert_eq!(
            bot_nick_matches("dice", "dice@hs", " hi there ").as_deref(),
            Some("hi there")
        );
        assert_eq!(bot_nick_matches("dice", "#g@hs", "dé"), None);
    }
}
