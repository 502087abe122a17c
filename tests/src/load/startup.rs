//! `startup`: fills a homeserver with events through the API (many concurrent clients, one
//! channel, `MAX_HISTORY` raised so nothing rotates out), then kills it and times restarts
//! on the same data until the ready line and until the health check answers `200`.

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::client::{join_all, register_many, LoadUser};
use super::report::{Percentiles, Report};
use super::target::Target;
use super::{procfs, secs, tag, Common};

/// Parameters of `startup`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Events to store before the restarts (filling also stops after `--fill-seconds`).
    #[arg(long, default_value_t = 1_000_000)]
    pub events: u64,
    /// Most seconds spent filling.
    #[arg(long, default_value_t = 300)]
    pub fill_seconds: u64,
    /// Concurrent filling clients.
    #[arg(long, default_value_t = 32)]
    pub senders: usize,
    /// Restarts timed.
    #[arg(long, default_value_t = 3)]
    pub restarts: usize,
}

async fn fill(user: &LoadUser, channel: &str, quota: u64, until: Instant) -> u64 {
    let mut stored = 0;
    let mut errors = 0;
    while stored < quota && Instant::now() < until && errors < 100 {
        match user
            .send(
                channel,
                "filler message of a realistic length, about sixty bytes",
            )
            .await
        {
            Ok(_) => stored += 1,
            Err(_) => errors += 1,
        }
    }
    stored
}

async fn healthy(target: &Target, within: Duration) -> Result<()> {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if target
            .http
            .get_text("/.well-known/healthcheck.json")
            .await
            .is_ok()
        {
            return Ok(());
        }
        actix_web::rt::time::sleep(Duration::from_millis(2)).await;
    }
    bail!("not healthy within {within:?}")
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    if common.url.is_some() {
        bail!("startup restarts the server itself: it cannot use --url");
    }
    let mut target = Target::homeserver(common, "load.test", &[("MAX_HISTORY", "100000000")])?;
    let senders = register_many(
        &target.http,
        &format!("u{}_", tag()),
        args.senders.max(1),
        16,
    )
    .await?;
    let channel = format!("#fill{}", tag());
    join_all(&senders, &channel, 16).await?;

    let filling = Instant::now();
    let until = filling + Duration::from_secs(args.fill_seconds);
    let quota = args.events.div_ceil(senders.len() as u64);
    let stored: u64 =
        futures_util::future::join_all(senders.iter().map(|s| fill(s, &channel, quota, until)))
            .await
            .into_iter()
            .sum();
    let fill_s = filling.elapsed();

    let mut report = Report::new("startup", "restarts");
    report.note("events_stored", stored);
    report.note("fill_s", secs(fill_s));
    report.note(
        "fill_rate",
        (stored as f64 / fill_s.as_secs_f64().max(1e-9)).round(),
    );
    report.server_peak_rss_kib = target.peak_rss_kib();
    let mut ready = Vec::new();
    let mut health = Vec::new();
    for _ in 0..args.restarts.max(1) {
        let process = target.process.as_mut().context("no process")?;
        process.kill();
        let t = Instant::now();
        let restarted =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| process.restart()));
        if restarted.is_err() {
            report.errors += 1;
            break;
        }
        ready.push(t.elapsed());
        target.pid = procfs::child_with_data_dir(process.data_dir());
        match healthy(&target, Duration::from_secs(60)).await {
            Ok(()) => health.push(t.elapsed()),
            Err(e) => {
                eprintln!("startup: {e:#}");
                report.errors += 1;
            }
        }
    }
    report.count = health.len() as u64;
    report.seconds = health.iter().map(Duration::as_secs_f64).sum();
    if let Some(p) = Percentiles::of(ready) {
        report.note("ready_line_p50_ms", (p.p50 * 1000.0).round() / 1000.0);
    }
    report.latency = Percentiles::of(health);
    report.note(
        "latency_is",
        "kill → restart → health check 200, per restart",
    );
    if let Some(rss) = target.rss_kib() {
        report.note("server_rss_after_restart_kib", rss);
    }
    if let Some(dir) = target.data_dir() {
        for file in ["hearth.db", "hearth.db-wal"] {
            if let Some(size) = target.data_file_size(file) {
                report.note(&format!("{file}_bytes"), size);
            }
        }
        report.note("data_dir", dir);
    }
    Ok(report)
}
