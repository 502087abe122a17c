//! `rich`: a channel of `members` members in which `users` virtual users each loop over a mix
//! of sends, reactions to a recent message and read markers (issue 16), one request in flight
//! each. Reports ops/s and latency per kind as notes (`send_per_s`, `react_p99_ms`, …), and all
//! kinds together as the report's count and latency.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::client::{join_all, register_many, LoadUser};
use super::report::{Percentiles, Report};
use super::target::Target;
use super::{secs, tag, Common, MAX_OPS};

/// Emoji the virtual users react with (none needs a variation selector).
const EMOJI: [&str; 8] = ["👍", "🎉", "😂", "🚀", "👀", "🔥", "✅", "💯"];

/// Parameters of `rich`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Members of the channel.
    #[arg(long, default_value_t = 100)]
    pub members: usize,
    /// Virtual users (each a member, one request in flight each).
    #[arg(long, default_value_t = 32)]
    pub users: usize,
    /// Sends in each user's cycle of operations.
    #[arg(long, default_value_t = 1)]
    pub sends: usize,
    /// Reactions (to one of the `--recent` newest messages) in each user's cycle.
    #[arg(long, default_value_t = 1)]
    pub reactions: usize,
    /// Read markers (moved to the newest message) in each user's cycle.
    #[arg(long, default_value_t = 1)]
    pub reads: usize,
    /// How many of the newest messages reactions pick from.
    #[arg(long, default_value_t = 64)]
    pub recent: usize,
}

/// One kind of operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Send,
    React,
    Read,
}

const KINDS: [Kind; 3] = [Kind::Send, Kind::React, Kind::Read];

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Send => "send",
            Kind::React => "react",
            Kind::Read => "read",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// What one virtual user did in the measured window, per kind.
#[derive(Default)]
struct Tally {
    latencies: [Vec<Duration>; 3],
    errors: [u64; 3],
    /// Reactions the server answered `200` (this user had already reacted so).
    repeats: u64,
}

/// The newest message ids, shared by the virtual users (one thread: `Rc<RefCell<…>>`).
type Recent = Rc<RefCell<VecDeque<String>>>;

/// The cycle of operations: `sends` sends, then reactions, then reads.
fn cycle(args: &Args) -> Vec<Kind> {
    let mut plan = vec![Kind::Send; args.sends];
    plan.extend(std::iter::repeat_n(Kind::React, args.reactions));
    plan.extend(std::iter::repeat_n(Kind::Read, args.reads));
    plan
}

/// One operation; `Ok(false)` for a repeated reaction.
async fn op(
    kind: Kind,
    user: &LoadUser,
    channel: &str,
    recent: &Recent,
    keep: usize,
    i: u64,
    me: usize,
) -> Result<bool> {
    match kind {
        Kind::Send => {
            let id = user.send_id(channel, &format!("rich {me} {i}")).await?;
            let mut recent = recent.borrow_mut();
            recent.push_back(id);
            while recent.len() > keep {
                recent.pop_front();
            }
            Ok(true)
        }
        Kind::React => {
            let (id, emoji) = {
                let recent = recent.borrow();
                let n = recent.len().max(1);
                // Spread the users over the recent messages and the emoji, so that most
                // reactions are new ones.
                let pick = (i as usize).wrapping_mul(7).wrapping_add(me) % n;
                let emoji = EMOJI[(i as usize / n + me) % EMOJI.len()];
                (recent.get(pick).cloned().context("no message yet")?, emoji)
            };
            user.react(&id, emoji).await
        }
        Kind::Read => {
            let id = recent.borrow().back().cloned().context("no message yet")?;
            user.mark_read(channel, &id).await.map(|()| true)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn user_loop(
    user: &LoadUser,
    me: usize,
    channel: &str,
    plan: &[Kind],
    recent: &Recent,
    keep: usize,
    from: Instant,
    until: Instant,
) -> Tally {
    let mut tally = Tally::default();
    let mut last_error = None;
    for i in 0..MAX_OPS {
        let started = Instant::now();
        if started >= until || tally.errors.iter().sum::<u64>() > 1_000 {
            break;
        }
        // Users start at different places of the cycle, so every kind runs at every moment.
        let kind = plan[(i as usize + me) % plan.len()];
        let result = op(kind, user, channel, recent, keep, i, me).await;
        let measured = started >= from;
        match result {
            Ok(new) if measured => {
                tally.latencies[kind.index()].push(started.elapsed());
                if !new {
                    tally.repeats += 1;
                }
            }
            Ok(_) => {}
            Err(e) => {
                tally.errors[kind.index()] += 1;
                last_error = Some(e);
            }
        }
    }
    if let Some(e) = last_error {
        eprintln!(
            "rich: user {me}: {} errors, last: {e:#}",
            tally.errors.iter().sum::<u64>()
        );
    }
    tally
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    let plan = cycle(args);
    if plan.is_empty() {
        bail!("rich: --sends, --reactions and --reads are all 0");
    }
    let target = Target::homeserver(common, "load.test", &[])?;
    let members = args.members.max(args.users).max(1);
    let setup = Instant::now();
    let users = register_many(&target.http, &format!("r{}_", tag()), members, 16).await?;
    let channel = format!("#rich{}", tag());
    join_all(&users, &channel, 16).await?;
    // One message, so that the first reaction or read has something to point at.
    let first = users[0].send_id(&channel, "rich seed").await?;
    let recent: Recent = Rc::new(RefCell::new(VecDeque::from([first])));
    let setup_s = secs(setup.elapsed());

    let keep = args.recent.max(1);
    let (from, until) = common.window();
    let (began, cpu_before) = (Instant::now(), target.cpu_ticks());
    let tallies = futures_util::future::join_all(
        users
            .iter()
            .take(args.users.max(1))
            .enumerate()
            .map(|(me, u)| user_loop(u, me, &channel, &plan, &recent, keep, from, until)),
    )
    .await;
    let window = until.saturating_duration_since(from).as_secs_f64();

    let mut report = Report::new("rich", "ops");
    let mut per_kind: [Vec<Duration>; 3] = Default::default();
    let mut repeats = 0;
    let mut kind_errors = [0u64; 3];
    for t in tallies {
        for k in KINDS {
            per_kind[k.index()].extend(t.latencies[k.index()].iter().copied());
            kind_errors[k.index()] += t.errors[k.index()];
        }
        repeats += t.repeats;
    }
    report.errors = kind_errors.iter().sum();
    report.count = per_kind.iter().map(|v| v.len() as u64).sum();
    report.seconds = window;
    report.latency = Percentiles::of(per_kind.iter().flatten().copied().collect());
    target.note_cpu(&mut report, cpu_before, began.elapsed().as_secs_f64());
    for k in KINDS {
        let samples = std::mem::take(&mut per_kind[k.index()]);
        let name = k.name();
        let count = samples.len() as u64;
        report.note(&format!("{name}_count"), count);
        if window > 0.0 {
            report.note(&format!("{name}_per_s"), round1(count as f64 / window));
        }
        if let Some(p) = Percentiles::of(samples) {
            report.note(&format!("{name}_p50_ms"), round3(p.p50));
            report.note(&format!("{name}_p90_ms"), round3(p.p90));
            report.note(&format!("{name}_p99_ms"), round3(p.p99));
            report.note(&format!("{name}_max_ms"), round3(p.max));
        }
        report.note(&format!("{name}_errors"), kind_errors[k.index()]);
    }
    report.note("react_repeats", repeats);
    report.note("members", members as u64);
    report.note("users", args.users as u64);
    report.note(
        "mix",
        format!(
            "{} send : {} react : {} read",
            args.sends, args.reactions, args.reads
        ),
    );
    report.note("setup_s", setup_s);
    target.finish(&mut report);
    Ok(report)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_cycle_follows_the_mix() {
        let args = Args {
            members: 1,
            users: 1,
            sends: 2,
            reactions: 1,
            reads: 0,
            recent: 1,
        };
        assert_eq!(cycle(&args), [Kind::Send, Kind::Send, Kind::React]);
    }
}
