//! Dice bot: rolls dice for anyone who asks with `!roll 2d6+1` in a channel it is in (or
//! `roll 3d8` in a DM), and answers with a notice like `alice rolls 2d6+1: 3 + 5 + 1 = 9`.
//!
//! ```sh
//! HEARTH_SERVER=http://127.0.0.1:8080 HEARTH_BOT_PASSWORD='a long password' \
//! HEARTH_BOT_CHANNELS='#games' cargo run -p client-cli --example dice_bot
//! ```
//!
//! It prints `ready <handle>` once it listens. Dice: 1–20 dice of 2–1000 sides, modifier
//! −1000…+1000.

mod dice;

use hearth_client::bot::{Bot, BotConfig};
use hearth_client::ClientError;

use dice::{parse_roll, request, roll};

fn main() -> Result<(), ClientError> {
    // awc is not `Send`: the SDK runs on a current-thread runtime, which `run` provides.
    hearth_client::run(async {
        let config = BotConfig::from_env("dicebot")?;
        let mut bot = Bot::connect(&config).await?;
        let mut rng = fastrand::Rng::new();
        println!("ready {}", bot.me.handle);
        loop {
            let message = bot.next_message().await?;
            let Some(spec) = request(&message.body, bot.addressed(&message)) else {
                continue;
            };
            let spec = if spec.is_empty() { "1d6" } else { spec };
            let who = message.from.split('@').next().unwrap_or(&message.from);
            let text = match parse_roll(spec) {
                Ok(r) => format!(
                    "{who} rolls {spec}: {}",
                    roll(r, |sides| rng.u32(1..=sides))
                ),
                Err(e) => format!("{who}: {e}"),
            };
            bot.answer(&message, &text).await?;
        }
    })
}
