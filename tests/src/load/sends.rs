//! `sends`: sustained acknowledged sends into one channel with `members` members, from
//! `senders` concurrent clients, each waiting for its `201` before the next send. With
//! `--processes N`, sender `i` talks to process `i mod N`.

use std::time::{Duration, Instant};

use anyhow::Result;

use super::client::{join_all, register_many, LoadUser};
use super::group::Group;
use super::report::{Percentiles, Report};
use super::{secs, tag, Common, MAX_OPS};

/// Parameters of `sends`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Members of the channel.
    #[arg(long, default_value_t = 100)]
    pub members: usize,
    /// Concurrent senders (each a member, one request in flight each).
    #[arg(long, default_value_t = 32)]
    pub senders: usize,
}

/// What one sender did in the measured window.
#[derive(Default)]
struct Tally {
    latencies: Vec<Duration>,
    errors: u64,
}

async fn sender(user: &LoadUser, channel: &str, from: Instant, until: Instant) -> Tally {
    let mut tally = Tally::default();
    let mut last_error = None;
    for i in 0..MAX_OPS {
        let started = Instant::now();
        if started >= until || tally.errors > 1_000 {
            break;
        }
        match user.send(channel, &format!("load {i}")).await {
            Ok(_) if started >= from => tally.latencies.push(started.elapsed()),
            Ok(_) => {}
            Err(e) => {
                tally.errors += 1;
                last_error = Some(e);
            }
        }
    }
    if let Some(e) = last_error {
        eprintln!("sends: {} errors, last: {e:#}", tally.errors);
    }
    tally
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    let group = Group::homeservers(common, "load.test", &[])?;
    let members = args.members.max(args.senders).max(1);
    let setup = Instant::now();
    let users = register_many(&group.first().http, &format!("s{}_", tag()), members, 16).await?;
    let channel = format!("#load{}", tag());
    join_all(&users, &channel, 16).await?;
    let setup_s = secs(setup.elapsed());

    let (from, until) = common.window();
    let senders: Vec<LoadUser> = users
        .iter()
        .take(args.senders.max(1))
        .enumerate()
        .map(|(i, u)| group.user_on(u, i))
        .collect();
    let (began, cpu_before) = (Instant::now(), group.cpu_ticks());
    let tallies =
        futures_util::future::join_all(senders.iter().map(|u| sender(u, &channel, from, until)))
            .await;
    let window = until.saturating_duration_since(from);

    let mut report = Report::new("sends", "sends");
    let mut latencies = Vec::new();
    for t in tallies {
        report.errors += t.errors;
        latencies.extend(t.latencies);
    }
    report.count = latencies.len() as u64;
    report.seconds = window.as_secs_f64();
    report.latency = Percentiles::of(latencies);
    group.note_cpu(&mut report, &cpu_before, began.elapsed().as_secs_f64());
    report.note("members", members as u64);
    report.note("senders", args.senders as u64);
    report.note("setup_s", setup_s);
    group.finish(&mut report);
    Ok(report)
}
