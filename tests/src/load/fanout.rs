//! `fanout`: one message into a channel whose `members` all hold a long-poll; measures, per
//! round, the time from the send until each member has the message. With `--processes N`,
//! member `i` polls process `i mod N`; the sender sends through the first.

use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::client::{cursors_at_end, join_all, register_many, Http, LoadUser};
use super::group::Group;
use super::report::{Percentiles, Report};
use super::{secs, tag, Common};

/// Parameters of `fanout`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Long-polling members of the channel.
    #[arg(long, default_value_t = 5000)]
    pub members: usize,
    /// Most rounds (each one message), within `--duration`.
    #[arg(long, default_value_t = 10)]
    pub rounds: usize,
    /// Registrations in flight during setup.
    #[arg(long, default_value_t = 32)]
    pub register_concurrency: usize,
}

/// One round: every member opens a poll, the sender sends, each member's arrival is timed.
/// Returns the arrival delays and the failures; updates the cursors.
async fn round(
    group: &Group,
    polls: &[Http],
    users: &[LoadUser],
    sender: &LoadUser,
    channel: &str,
    cursors: &mut [i64],
) -> Result<(Vec<Duration>, u64)> {
    let sent_at = std::rc::Rc::new(std::cell::Cell::new(None::<Instant>));
    let mut handles = Vec::with_capacity(users.len());
    let opener = std::rc::Rc::new(tokio::sync::Semaphore::new(256));
    let mut want = vec![0.0; group.len()];
    for (i, (user, cursor)) in users.iter().zip(cursors.iter()).enumerate() {
        want[i % group.len().max(1)] += 1.0;
        let (polls, token, cursor, sent_at, opener) = (
            polls[i % polls.len().max(1)].clone(),
            user.token.clone(),
            *cursor,
            sent_at.clone(),
            opener.clone(),
        );
        handles.push(actix_web::rt::spawn(async move {
            let permit = opener.acquire().await;
            let poll = polls.open_poll(&token, cursor, 30).await;
            drop(permit);
            let (events, next) = poll?.finish().await?;
            let arrived = Instant::now();
            let got = events.iter().any(|e| e["body"] == "fanout");
            let delay = sent_at.get().map(|s| arrived.saturating_duration_since(s));
            anyhow::Ok((next, got.then_some(delay).flatten()))
        }));
    }
    let parked = group
        .wait_metric_each("hearth_active_long_polls", &want, Duration::from_secs(60))
        .await;
    if parked < users.len() as f64 {
        eprintln!("fanout: only {parked} of {} polls parked", users.len());
    }
    sent_at.set(Some(Instant::now()));
    sender
        .send(channel, "fanout")
        .await
        .context("fanout send")?;
    let mut delays = Vec::with_capacity(users.len());
    let mut failures = 0;
    for (i, handle) in handles.into_iter().enumerate() {
        match handle.await {
            Ok(Ok((next, Some(delay)))) => {
                cursors[i] = next;
                delays.push(delay);
            }
            Ok(Ok((next, None))) => {
                cursors[i] = next;
                failures += 1;
            }
            Ok(Err(e)) => {
                eprintln!("fanout: member {i}: {e:#}");
                failures += 1;
            }
            Err(_) => failures += 1,
        }
    }
    Ok((delays, failures))
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    super::procfs::raise_nofile(2 * args.members as u64 + 1_000);
    let group = Group::homeservers(common, "load.test", &[])?;
    let setup = Instant::now();
    let users = register_many(
        &group.first().http,
        &format!("f{}_", tag()),
        args.members + 1,
        args.register_concurrency,
    )
    .await?;
    let register_s = secs(setup.elapsed());
    let channel = format!("#fan{}", tag());
    join_all(&users, &channel, 32).await?;
    let (sender, members) = users.split_first().context("no users")?;
    let mut cursors = cursors_at_end(members).await?;
    let setup_s = secs(setup.elapsed());

    let polls: Vec<Http> = group
        .targets
        .iter()
        .map(|t| Http::new(t.http.base()))
        .collect();
    let mut report = Report::new("fanout", "deliveries");
    // Warm-up round, not measured.
    round(&group, &polls, members, sender, &channel, &mut cursors).await?;
    let until = Instant::now() + common.duration();
    let mut delays = Vec::new();
    let mut last_times = Vec::new();
    let mut rounds = 0u64;
    let cpu_before = group.cpu_ticks();
    let began = Instant::now();
    while rounds < args.rounds.max(1) as u64 && (rounds == 0 || Instant::now() < until) {
        let (round_delays, failures) =
            round(&group, &polls, members, sender, &channel, &mut cursors).await?;
        if let Some(last) = round_delays.iter().max() {
            last_times.push(*last);
        }
        delays.extend(round_delays);
        report.errors += failures;
        rounds += 1;
    }
    report.count = delays.len() as u64;
    report.seconds = began.elapsed().as_secs_f64();
    report.latency = Percentiles::of(delays);
    if let Some(p) = Percentiles::of(last_times) {
        report.note("last_member_p50_ms", (p.p50 * 1000.0).round() / 1000.0);
        report.note("last_member_max_ms", (p.max * 1000.0).round() / 1000.0);
    }
    report.note("rounds", rounds);
    report.note("members", members.len() as u64);
    report.note("register_s", register_s);
    report.note("setup_s", setup_s);
    let seconds = report.seconds;
    group.note_cpu(&mut report, &cpu_before, seconds);
    group.finish(&mut report);
    Ok(report)
}
