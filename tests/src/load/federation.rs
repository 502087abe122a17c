//! `dm` (one DM at a time from `hs1.load` to `hs2.load`: send → delivery on the other server)
//! and `relay` (many DMs at once: events per second until all are delivered). Both start a
//! directory and two registered homeservers, so every event is signed and verified.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use super::client::{cursors_at_end, register_many, LoadUser};
use super::report::{Percentiles, Report};
use super::target::Pair;
use super::{secs, tag, Common, MAX_OPS};

/// Parameters of `dm`.
#[derive(clap::Args, Debug, Clone)]
pub struct DmArgs {
    /// Milliseconds between parking the receiver's poll and sending (0: send at once, as a
    /// busy conversation does; ≥ 50 keeps the poll's first heartbeat out of the figure).
    #[arg(long, default_value_t = 0)]
    pub settle_ms: u64,
}

/// Parameters of `relay`.
#[derive(clap::Args, Debug, Clone)]
pub struct RelayArgs {
    /// Most DMs to send (sending also stops at the end of `--duration`).
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// Sender/receiver pairs (senders on hs1, receivers on hs2).
    #[arg(long, default_value_t = 16)]
    pub pairs: usize,
    /// Stop hs2 while sending, then start it again: measures draining a backlog of queued
    /// events (from the first to the last arrival), independent of hs1's send rate.
    #[arg(long)]
    pub backlog: bool,
}

fn note_both(report: &mut Report, pair: &Pair) {
    report.server_peak_rss_kib = pair.hs1.peak_rss_kib();
    if let Some(k) = pair.hs2.peak_rss_kib() {
        report.note("hs2_peak_rss_kib", k);
    }
}

/// Waits until `user` has received a message with `body` (or `within` passes).
async fn await_body(user: &LoadUser, cursor: &mut i64, body: &str, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        let (events, next) = user.poll(*cursor, 5).await?;
        *cursor = next;
        if events.iter().any(|e| e["body"] == body) {
            return Ok(());
        }
    }
    anyhow::bail!("{body:?} did not arrive within {within:?}")
}

/// Runs `dm`.
pub async fn dm(common: &Common, args: &DmArgs) -> Result<Report> {
    let setup = Instant::now();
    let pair = Pair::start(common).await?;
    let t = tag();
    let alice = LoadUser::register(&pair.hs1.http, &format!("a{t}")).await?;
    let bob = LoadUser::register(&pair.hs2.http, &format!("b{t}")).await?;
    let to = format!("b{t}@hs2.load");
    let mut cursor = bob.cursor_at_end().await?;
    let setup_s = secs(setup.elapsed());

    let (from, until) = common.window();
    let mut samples = Vec::new();
    let mut report = Report::new("dm", "DMs delivered");
    let cpu = (pair.hs1.cpu_ticks(), pair.hs2.cpu_ticks());
    let began = Instant::now();
    for i in 0..MAX_OPS {
        if Instant::now() >= until {
            break;
        }
        let body = format!("dm {i}");
        // Park bob's poll first, so the figure is send → delivery, not poll set-up.
        let poll = bob.http.open_poll(&bob.token, cursor, 10).await?;
        if args.settle_ms > 0 {
            actix_web::rt::time::sleep(Duration::from_millis(args.settle_ms.min(5_000))).await;
        }
        let sent = Instant::now();
        if let Err(e) = alice.send(&to, &body).await {
            eprintln!("dm: send: {e:#}");
            report.errors += 1;
            continue;
        }
        let (events, next) = poll.finish().await?;
        cursor = next;
        let arrived = if events.iter().any(|e| e["body"] == body.as_str()) {
            Ok(())
        } else {
            await_body(&bob, &mut cursor, &body, Duration::from_secs(10)).await
        };
        match arrived {
            Ok(()) if sent >= from => samples.push(sent.elapsed()),
            Ok(()) => {}
            Err(e) => {
                eprintln!("dm: {e:#}");
                report.errors += 1;
            }
        }
    }
    report.count = samples.len() as u64;
    report.seconds = until.saturating_duration_since(from).as_secs_f64();
    report.latency = Percentiles::of(samples);
    report.note("settle_ms", args.settle_ms);
    report.note("setup_s", setup_s);
    let elapsed = began.elapsed().as_secs_f64();
    pair.hs1.note_cpu(&mut report, cpu.0, elapsed);
    rename_last(&mut report, "hs1_cpu_cores");
    pair.hs2.note_cpu(&mut report, cpu.1, elapsed);
    rename_last(&mut report, "hs2_cpu_cores");
    note_both(&mut report, &pair);
    Ok(report)
}

fn rename_last(report: &mut Report, key: &str) {
    if let Some(last) = report.notes.last_mut() {
        if last.0 == "server_cpu_cores" {
            last.0 = key.to_string();
        }
    }
}

async fn receive_all(
    user: LoadUser,
    mut cursor: i64,
    expected: Rc<Cell<Option<u64>>>,
    deadline: Instant,
) -> (u64, Option<Instant>, Option<Instant>) {
    let mut got = 0u64;
    let (mut first, mut last) = (None, None);
    for _ in 0..MAX_OPS {
        if Instant::now() >= deadline || expected.get().is_some_and(|n| got >= n) {
            break;
        }
        match user.poll(cursor, 2).await {
            Ok((events, next)) => {
                cursor = next;
                let n = events.iter().filter(|e| e["type"] == "message").count() as u64;
                if n > 0 {
                    got += n;
                    last = Some(Instant::now());
                    first = first.or(last);
                }
            }
            Err(e) => {
                eprintln!("relay: receiver {}: {e:#}", user.nick);
                actix_web::rt::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    (got, first, last)
}

async fn send_many(user: &LoadUser, to: String, quota: u64, until: Instant) -> (u64, u64) {
    let (mut sent, mut errors) = (0, 0);
    for i in 0..quota {
        if Instant::now() >= until || errors > 100 {
            break;
        }
        match user.send(&to, &format!("r {i}")).await {
            Ok(_) => sent += 1,
            Err(e) => {
                errors += 1;
                eprintln!("relay: send: {e:#}");
            }
        }
    }
    (sent, errors)
}

/// Runs `relay`.
pub async fn relay(common: &Common, args: &RelayArgs) -> Result<Report> {
    let setup = Instant::now();
    let mut pair = Pair::start(common).await?;
    let t = tag();
    let pairs = args.pairs.max(1);
    let senders = register_many(&pair.hs1.http, &format!("rs{t}_"), pairs, 16).await?;
    let receivers = register_many(&pair.hs2.http, &format!("rr{t}_"), pairs, 16).await?;
    let mut cursors = cursors_at_end(&receivers).await?;
    // Warm-up: one DM per pair, each awaited.
    for ((s, r), cursor) in senders.iter().zip(&receivers).zip(cursors.iter_mut()) {
        s.send(&format!("{}@hs2.load", r.nick), "warm").await?;
        await_body(r, cursor, "warm", Duration::from_secs(30))
            .await
            .context("warm-up DM")?;
    }
    let setup_s = secs(setup.elapsed());

    let expected: Vec<_> = (0..pairs).map(|_| Rc::new(Cell::new(None))).collect();
    let deadline = Instant::now() + common.duration() + Duration::from_secs(120);
    let spawn_receivers = || -> Vec<_> {
        receivers
            .iter()
            .zip(&cursors)
            .zip(&expected)
            .map(|((r, c), e)| {
                actix_web::rt::spawn(receive_all(r.clone(), *c, e.clone(), deadline))
            })
            .collect()
    };
    let mut handles = Vec::new();
    if args.backlog {
        pair.hs2.process.as_mut().context("hs2")?.kill();
    } else {
        handles = spawn_receivers();
    }
    let cpu = (pair.hs1.cpu_ticks(), pair.hs2.cpu_ticks());
    let started = Instant::now();
    let until = started + common.duration();
    let quota = args.messages.div_ceil(pairs as u64);
    let sent: Vec<(u64, u64)> = futures_util::future::join_all(
        senders
            .iter()
            .zip(&receivers)
            .map(|(s, r)| send_many(s, format!("{}@hs2.load", r.nick), quota, until)),
    )
    .await;
    let sending = started.elapsed();
    for ((n, _), e) in sent.iter().zip(&expected) {
        e.set(Some(*n));
    }
    let mut resumed = started;
    if args.backlog {
        let hs2 = pair.hs2.process.as_mut().context("hs2")?;
        let restarted = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| hs2.restart()));
        if restarted.is_err() {
            anyhow::bail!("hs2 did not restart");
        }
        pair.hs2.pid = super::procfs::child_with_data_dir(hs2.data_dir());
        resumed = Instant::now();
        handles = spawn_receivers();
    }
    let mut delivered = 0;
    let mut last = started;
    let mut first: Option<Instant> = None;
    for h in handles {
        if let Ok((got, f, at)) = h.await {
            delivered += got;
            last = last.max(at.unwrap_or(started));
            first = match (first, f) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
        }
    }
    let total_sent: u64 = sent.iter().map(|(n, _)| n).sum();
    let mut report = Report::new("relay", "events delivered");
    report.count = delivered;
    report.seconds = if args.backlog {
        let from = first.unwrap_or(resumed);
        report.note(
            "backlog_first_arrival_after_restart_s",
            secs(from.saturating_duration_since(resumed)),
        );
        last.saturating_duration_since(from).as_secs_f64()
    } else {
        last.saturating_duration_since(started).as_secs_f64()
    };
    report.errors = sent.iter().map(|(_, e)| e).sum::<u64>() + total_sent.saturating_sub(delivered);
    report.note("sent", total_sent);
    report.note(
        "send_rate_hs1",
        total_sent as f64 / sending.as_secs_f64().max(1e-9),
    );
    report.note("send_s", secs(sending));
    report.note(
        "drain_after_send_s",
        secs(last.saturating_duration_since(started + sending)),
    );
    report.note("pairs", pairs as u64);
    report.note("setup_s", setup_s);
    let elapsed = started.elapsed().as_secs_f64();
    pair.hs1.note_cpu(&mut report, cpu.0, elapsed);
    rename_last(&mut report, "hs1_cpu_cores");
    pair.hs2.note_cpu(&mut report, cpu.1, elapsed);
    rename_last(&mut report, "hs2_cpu_cores");
    note_both(&mut report, &pair);
    if let Some(size) = pair
        .hs1
        .data_file_size("hearth.db-wal")
        .filter(|_| pair.hs1.database.is_none())
    {
        report.note("hs1_wal_bytes", size);
    }
    Ok(report)
}
