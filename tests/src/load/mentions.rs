//! `mentions` (issue 18): the cost of a send into a channel of `members` members (5,000 by
//! default, set up as `unread` does) without and with a mention. Two windows of `--duration`
//! each: plain sends, then sends that each mention another member (`@nick`). Measures each
//! window's acknowledged-send latency, throughput and the server's CPU; then checks that the
//! last mentioned member got the mention in `GET /api/v1/notifications` and notes how long
//! after the window that took (the notifications consumer runs after the commit, off the send
//! path).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::client::{join_all, register_many, LoadUser};
use super::report::{Percentiles, Report};
use super::target::Target;
use super::{secs, tag, Common, MAX_OPS};

/// Parameters of `mentions`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Members of the channel besides the sender.
    #[arg(long, default_value_t = 5000)]
    pub members: usize,
    /// Sends in flight.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// Registrations in flight during setup.
    #[arg(long, default_value_t = 32)]
    pub register_concurrency: usize,
}

/// One window's figures.
struct Window {
    latencies: Vec<Duration>,
    errors: u64,
    seconds: f64,
    cpu_cores: Option<f64>,
    last_mentioned: Option<usize>,
}

async fn window(
    target: &Target,
    common: &Common,
    sender: &LoadUser,
    members: &[LoadUser],
    channel: &str,
    concurrency: usize,
    mention: bool,
) -> Window {
    let (from, until) = common.window();
    let cpu_before = target.cpu_ticks();
    let began = Instant::now();
    let next = std::cell::Cell::new(0usize);
    let workers = (0..concurrency.max(1)).map(|_| async {
        let mut latencies = Vec::new();
        let mut errors = 0u64;
        let mut last = None;
        for _ in 0..MAX_OPS {
            let started = Instant::now();
            if started >= until || errors > 1_000 {
                break;
            }
            let i = next.get();
            next.set(i + 1);
            let body = if mention {
                let who = i % members.len();
                last = Some(who);
                format!("hey @{} number {i}", members[who].nick)
            } else {
                format!("plain message number {i}")
            };
            match sender.send(channel, &body).await {
                Ok(_) if started >= from => latencies.push(started.elapsed()),
                Ok(_) => {}
                Err(e) => {
                    errors += 1;
                    if errors == 1 {
                        eprintln!("mentions: {e:#}");
                    }
                }
            }
        }
        (latencies, errors, last)
    });
    let results = futures_util::future::join_all(workers).await;
    let spent = began.elapsed().as_secs_f64();
    let cpu_cores = match (cpu_before, target.cpu_ticks()) {
        (Some(b), Some(a)) if spent > 0.0 => Some(a.saturating_sub(b) as f64 / 100.0 / spent),
        _ => None,
    };
    let mut out = Window {
        latencies: Vec::new(),
        errors: 0,
        seconds: until.saturating_duration_since(from).as_secs_f64(),
        cpu_cores,
        last_mentioned: None,
    };
    for (latencies, errors, last) in results {
        out.latencies.extend(latencies);
        out.errors += errors;
        out.last_mentioned = out.last_mentioned.max(last);
    }
    out
}

fn note_window(report: &mut Report, prefix: &str, w: &Window) {
    let count = w.latencies.len();
    report.note(&format!("{prefix}_sends"), count as u64);
    if w.seconds > 0.0 {
        report.note(
            &format!("{prefix}_sends_per_s"),
            (count as f64 / w.seconds).round(),
        );
    }
    if let Some(p) = Percentiles::of(w.latencies.clone()) {
        report.note(&format!("{prefix}_p50_ms"), (p.p50 * 10.0).round() / 10.0);
        report.note(&format!("{prefix}_p99_ms"), (p.p99 * 10.0).round() / 10.0);
    }
    if let Some(c) = w.cpu_cores {
        report.note(
            &format!("{prefix}_server_cores"),
            (c * 100.0).round() / 100.0,
        );
    }
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    super::procfs::raise_nofile(1_000);
    let target = Target::homeserver(common, "load.test", &[("RATE_LIMIT_SEND", "off")])?;
    let setup = Instant::now();
    let users = register_many(
        &target.http,
        &format!("m{}_", tag()),
        args.members.max(1) + 1,
        args.register_concurrency,
    )
    .await?;
    let channel = format!("#mentions{}", tag());
    join_all(&users, &channel, 32).await?;
    let (sender, members) = users.split_first().context("no users")?;
    let setup_s = secs(setup.elapsed());

    let plain = window(
        &target,
        common,
        sender,
        members,
        &channel,
        args.concurrency,
        false,
    )
    .await;
    let mentioned = window(
        &target,
        common,
        sender,
        members,
        &channel,
        args.concurrency,
        true,
    )
    .await;
    // The last mentioned member's notification, made by the consumer after the commit.
    let waited = Instant::now();
    let mut notified_after_ms = None;
    if let Some(who) = mentioned.last_mentioned {
        let member = &members[who];
        while waited.elapsed() < Duration::from_secs(60) {
            let (status, list) = member
                .http
                .call(
                    awc::http::Method::GET,
                    "/api/v1/notifications?limit=200",
                    Some(&member.token),
                    None,
                )
                .await?;
            if status != 200 {
                bail!("notifications of {}: {status} {list}", member.nick);
            }
            let found = list["notifications"]
                .as_array()
                .is_some_and(|l| l.iter().any(|n| n["type"] == "mention"));
            if found {
                notified_after_ms = Some(waited.elapsed().as_millis() as u64);
                break;
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        if notified_after_ms.is_none() {
            bail!("{} was mentioned and got no notification", member.nick);
        }
    }

    let mut report = Report::new("mentions", "sends");
    report.errors = plain.errors + mentioned.errors;
    report.count = mentioned.latencies.len() as u64;
    report.seconds = mentioned.seconds;
    report.latency = Percentiles::of(mentioned.latencies.clone());
    note_window(&mut report, "plain", &plain);
    note_window(&mut report, "mention", &mentioned);
    if let Some(ms) = notified_after_ms {
        report.note("last_notification_after_window_ms", ms);
    }
    report.note("members", members.len() as u64);
    report.note("concurrency", args.concurrency as u64);
    report.note("setup_s", setup_s);
    target.finish(&mut report);
    Ok(report)
}
