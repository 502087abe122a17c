//! Echo bot: answers every message addressed to it (`echobot: hello`, or any DM) with the same
//! text, as a notice.
//!
//! ```sh
//! HEARTH_SERVER=http://127.0.0.1:8080 HEARTH_BOT_PASSWORD='a long password' \
//! HEARTH_BOT_CHANNELS='#bots' cargo run -p client-cli --example echo_bot
//! ```
//!
//! It prints `ready <handle>` once it listens. See `hearth_client::bot` for the settings.

use hearth_client::bot::{Bot, BotConfig};
use hearth_client::ClientError;

fn main() -> Result<(), ClientError> {
    // awc is not `Send`: the SDK runs on a current-thread runtime, which `run` provides.
    hearth_client::run(async {
        let config = BotConfig::from_env("echobot")?;
        let mut bot = Bot::connect(&config).await?;
        println!("ready {}", bot.me.handle);
        loop {
            let message = bot.next_message().await?;
            if let Some(text) = bot.addressed(&message).filter(|t| !t.is_empty()) {
                bot.answer(&message, text).await?;
            }
        }
    })
}
