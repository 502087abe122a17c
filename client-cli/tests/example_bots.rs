//! The example bots against a real homeserver: each is started as a process, waits for its
//! `ready` line, and answers a request sent with the `hearth` command.
//!
//! The example binaries are built by `cargo test -p client-cli` (or
//! `cargo build -p client-cli --examples`); the test fails with that advice when they are missing.

/// The dice bot's pure logic, with its unit tests.
#[allow(dead_code)]
#[path = "../examples/dice_bot/dice.rs"]
mod dice;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hearth_tests::cli::Hearth;
use hearth_tests::process::{
    example, line_channel, wait_for_line, Homeserver as Server, KillOnDrop,
};
use hearth_tests::unique;

/// Starts example `name` as `nick` in `channel` and waits for its ready line.
fn start_bot(name: &str, server: &Server, nick: &str, channel: &str) -> KillOnDrop {
    let mut child = Command::new(example(name))
        .env("HEARTH_SERVER", &server.url)
        .env("HEARTH_BOT_NICK", nick)
        .env("HEARTH_BOT_PASSWORD", "bot password here")
        .env("HEARTH_BOT_CHANNELS", channel)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("spawn bot");
    let lines = line_channel(child.stdout.take().expect("stdout"));
    let bot = KillOnDrop(child);
    if let Err(seen) = wait_for_line(&lines, Duration::from_secs(20), |l| l.starts_with("ready ")) {
        panic!("{name} did not get ready; printed {seen:?}");
    }
    bot
}

/// Waits until `channel`'s history holds a notice from `bot` matching `pred` (bounded).
fn wait_for_notice(
    h: &Hearth,
    profile: &str,
    channel: &str,
    bot: &str,
    pred: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    // Follow live events instead of polling history: tail prints each new notice as it comes.
    let mut tail = h
        .cmd(profile)
        .args(["--json", "tail", channel, "--type", "notice"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tail");
    let lines = line_channel(tail.stdout.take().expect("stdout"));
    let found = wait_for_line(
        &lines,
        deadline.saturating_duration_since(Instant::now()),
        |l| {
            serde_json::from_str::<serde_json::Value>(l).is_ok_and(|e| {
                e["from"].as_str().is_some_and(|f| f.starts_with(bot))
                    && e["body"].as_str().is_some_and(&pred)
            })
        },
    );
    let _ = tail.kill();
    let _ = tail.wait();
    match found {
        Ok(lines) => lines.last().cloned().unwrap_or_default(),
        Err(seen) => panic!("no matching notice from {bot}; saw {seen:?}"),
    }
}

#[test]
fn echo_bot_echoes() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    let channel = format!("#{}", unique("echo"));
    h.ok("alice", &["join", &channel]);
    let _bot = start_bot("echo_bot", &server, "echobot", &channel);
    let text = unique("say-");
    h.ok("alice", &["send", &channel, &format!("echobot: {text}")]);
    h.ok("alice", &["send", &channel, "not for the bot"]);
    let notice = wait_for_notice(&h, "alice", &channel, "echobot@", |b| b == text);
    assert!(notice.contains(&text));
}

#[test]
fn dice_bot_rolls() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    let channel = format!("#{}", unique("dice"));
    h.ok("alice", &["join", &channel]);
    let _bot = start_bot("dice_bot", &server, "dicebot", &channel);
    h.ok("alice", &["send", &channel, "!roll 3d6+1"]);
    let notice = wait_for_notice(&h, "alice", &channel, "dicebot@", |b| {
        b.starts_with("alice rolls 3d6+1: ")
    });
    let event: serde_json::Value = serde_json::from_str(&notice).expect("json");
    let body = event["body"].as_str().unwrap_or_default();
    let total: i64 = body
        .rsplit("= ")
        .next()
        .and_then(|t| t.parse().ok())
        .expect("a total");
    assert!((4..=19).contains(&total), "{body}");
}
