//! `unread`: a channel of `members` members (5,000 by default), a burst of `messages`
//! messages from one more member, then `GET /api/v1/conversations` from many members at once
//! for `--duration` seconds (issue 16). Measures the request's latency and checks every
//! answer: the channel's `unread` must be `messages`, or the server's cap of
//! [`UNREAD_CAP`] when the burst is larger, and `mentions` 0; a wrong count is an error.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::client::{join_all, register_many, LoadUser};
use super::report::{Percentiles, Report};
use super::target::Target;
use super::{secs, tag, Common, MAX_OPS};

/// Most unread messages the server counts per conversation (README "Read state",
/// `homeserver::services::read::UNREAD_CAP`: 1000 means "1000 or more").
pub const UNREAD_CAP: u64 = 1000;

/// Parameters of `unread`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Members of the channel who read the conversation list (the sender is one more).
    #[arg(long, default_value_t = 5000)]
    pub members: usize,
    /// Messages in the burst.
    #[arg(long, default_value_t = 1000)]
    pub messages: usize,
    /// `GET /api/v1/conversations` requests in flight (each from a different member).
    #[arg(long, default_value_t = 32)]
    pub concurrency: usize,
    /// Sends in flight during the burst.
    #[arg(long, default_value_t = 16)]
    pub burst_concurrency: usize,
    /// Registrations in flight during setup.
    #[arg(long, default_value_t = 32)]
    pub register_concurrency: usize,
}

/// Checks one member's conversation list: `Ok(())` when the channel is there with the
/// expected counts.
fn check(conversations: &[serde_json::Value], channel: &str, expected: u64) -> Result<()> {
    let prefix = format!("{channel}@");
    let conv = conversations
        .iter()
        .find(|c| {
            c["target"]
                .as_str()
                .is_some_and(|t| t == channel || t.starts_with(&prefix))
        })
        .with_context(|| format!("{channel} not in the conversation list"))?;
    let (unread, mentions) = (conv["unread"].as_u64(), conv["mentions"].as_u64());
    if unread != Some(expected) || mentions != Some(0) {
        bail!("{channel}: unread {unread:?} mentions {mentions:?}, expected unread {expected} mentions 0");
    }
    Ok(())
}

/// What one reader did in the measured window.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
    wrong: u64,
}

/// Worker `w` of `n` asks as members `w`, `w + n`, `w + 2n`, … (wrapping).
async fn reader(
    members: &[LoadUser],
    w: usize,
    n: usize,
    channel: &str,
    expected: u64,
    from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut last_error = None;
    let mut k = w;
    for _ in 0..MAX_OPS {
        let started = Instant::now();
        if started >= until || tally.errors > 1_000 {
            break;
        }
        let member = &members[k % members.len()];
        k += n;
        // `(error, whether the answer came but was wrong)`.
        let outcome = match member.conversations().await {
            Ok(list) => check(&list, channel, expected).map_err(|e| (e, true)),
            Err(e) => Err((e, false)),
        };
        let elapsed = started.elapsed();
        match outcome {
            Ok(()) if started >= from => tally.latencies.push(elapsed),
            Ok(()) => {}
            Err((e, wrong)) => {
                tally.errors += 1;
                tally.wrong += u64::from(wrong);
                last_error = Some(e);
            }
        }
    }
    if let Some(e) = last_error {
        eprintln!("unread: reader {w}: {} errors, last: {e:#}", tally.errors);
    }
    tally
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    super::procfs::raise_nofile(args.concurrency as u64 + 1_000);
    let target = Target::homeserver(common, "load.test", &[])?;
    let setup = Instant::now();
    let users = register_many(
        &target.http,
        &format!("u{}_", tag()),
        args.members.max(1) + 1,
        args.register_concurrency,
    )
    .await?;
    let register_s = secs(setup.elapsed());
    let channel = format!("#unread{}", tag());
    join_all(&users, &channel, 32).await?;
    let (sender, members) = users.split_first().context("no users")?;
    let setup_s = secs(setup.elapsed());

    // The burst: `messages` sends from one member, `burst_concurrency` in flight.
    let burst = Instant::now();
    {
        use futures_util::stream::{self, StreamExt, TryStreamExt};
        stream::iter(0..args.messages)
            .map(|i| {
                let channel = &channel;
                async move { sender.send(channel, &format!("burst {i}")).await }
            })
            .buffer_unordered(args.burst_concurrency.max(1))
            .try_collect::<Vec<i64>>()
            .await
            .context("burst")?;
    }
    let burst_s = burst.elapsed().as_secs_f64();
    let expected = (args.messages as u64).min(UNREAD_CAP);
    // The sender's own messages are not unread for them.
    check(&sender.conversations().await?, &channel, 0).context("the sender's list")?;

    let concurrency = args.concurrency.clamp(1, members.len());
    let (from, until) = common.window();
    let (began, cpu_before) = (Instant::now(), target.cpu_ticks());
    let tallies = futures_util::future::join_all(
        (0..concurrency).map(|w| reader(members, w, concurrency, &channel, expected, from, until)),
    )
    .await;
    let window = until.saturating_duration_since(from);

    let mut report = Report::new("unread", "requests");
    let mut latencies = Vec::new();
    let mut wrong = 0;
    for t in tallies {
        report.errors += t.errors;
        wrong += t.wrong;
        latencies.extend(t.latencies);
    }
    report.count = latencies.len() as u64;
    report.seconds = window.as_secs_f64();
    report.latency = Percentiles::of(latencies);
    target.note_cpu(&mut report, cpu_before, began.elapsed().as_secs_f64());
    report.note("members", members.len() as u64);
    report.note("messages", args.messages as u64);
    report.note("expected_unread", expected);
    report.note("wrong_counts", wrong);
    report.note("members_asked", report.count.min(members.len() as u64));
    report.note("concurrency", concurrency as u64);
    report.note("burst_s", secs(Duration::from_secs_f64(burst_s)));
    if burst_s > 0.0 {
        report.note(
            "burst_sends_per_s",
            (args.messages as f64 / burst_s).round(),
        );
    }
    report.note("register_s", register_s);
    report.note("setup_s", setup_s);
    target.finish(&mut report);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn check_wants_the_channel_with_the_expected_counts() {
        let list = [
            json!({"target": "bob@load.test", "unread": 3, "mentions": 0}),
            json!({"target": "#c@load.test", "unread": 1000, "mentions": 0}),
        ];
        assert!(check(&list, "#c", 1000).is_ok());
        assert!(check(&list, "#c", 999).is_err());
        assert!(check(&list, "#other", 1000).is_err());
        let mentioned = [json!({"target": "#c@load.test", "unread": 5, "mentions": 1})];
        assert!(check(&mentioned, "#c", 5).is_err());
    }
}
