//! `idle` (many long-polls held: server memory and CPU per poll) and `hangup` (long-polls
//! whose clients drop the connection: how fast `hearth_active_long_polls` falls).

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::Result;
use futures_util::StreamExt;
use tokio::task::JoinHandle;

use super::client::{cursors_at_end, register_many, Http, LoadUser};
use super::procfs;
use super::report::{Percentiles, Report};
use super::target::Target;
use super::{secs, tag, Common, MAX_OPS};

/// Parameters of `idle`.
#[derive(clap::Args, Debug, Clone)]
pub struct IdleArgs {
    /// Long-polls to hold.
    #[arg(long, default_value_t = 20_000)]
    pub polls: usize,
    /// Users (each one device) the polls are spread over, round-robin.
    #[arg(long, default_value_t = 500)]
    pub users: usize,
    /// Hold event streams (`GET /api/v1/messages/stream`) instead of long-polls.
    #[arg(long, conflicts_with = "websockets")]
    pub streams: bool,
    /// Hold WebSockets (`GET /api/v1/ws`, authenticated by header) instead of long-polls.
    #[arg(long)]
    pub websockets: bool,
}

/// What `idle` holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Held {
    Polls,
    Streams,
    WebSockets,
}

impl IdleArgs {
    fn held(&self) -> Held {
        if self.websockets {
            Held::WebSockets
        } else if self.streams {
            Held::Streams
        } else {
            Held::Polls
        }
    }
}

/// Parameters of `hangup`.
#[derive(clap::Args, Debug, Clone)]
pub struct HangupArgs {
    /// Long-polls opened and then dropped per round.
    #[arg(long, default_value_t = 1000)]
    pub polls: usize,
    /// Users the polls are spread over.
    #[arg(long, default_value_t = 100)]
    pub users: usize,
    /// Most rounds, within `--duration`.
    #[arg(long, default_value_t = 5)]
    pub rounds: usize,
}

/// Opens `count` polls (256 connecting at a time) that read their streamed bodies until
/// the poll's timeout. Failures are counted in `errors`.
fn open_many(
    held: Held,
    http: &Http,
    users: &[LoadUser],
    cursors: &[i64],
    count: usize,
    timeout_s: u64,
    errors: &Rc<Cell<u64>>,
) -> Vec<JoinHandle<()>> {
    let opener = Rc::new(tokio::sync::Semaphore::new(256));
    (0..count)
        .filter_map(|i| {
            let j = i % users.len().max(1);
            let user = users.get(j)?;
            let (http, token, cursor, opener, errors) = (
                http.clone(),
                user.token.clone(),
                cursors.get(j).copied().unwrap_or(0),
                opener.clone(),
                errors.clone(),
            );
            Some(actix_web::rt::spawn(async move {
                let permit = opener.acquire().await;
                if held == Held::WebSockets {
                    let socket = http.open_ws(&token, cursor).await;
                    drop(permit);
                    match socket {
                        // Answer pings (nothing else comes) until the task is aborted.
                        Ok(framed) => super::client::hold_ws(framed).await,
                        Err(_) => errors.set(errors.get() + 1),
                    }
                    return;
                }
                if held == Held::Streams {
                    let stream = http.open_stream(&token, cursor).await;
                    drop(permit);
                    match stream {
                        // Read (nothing comes) until the task is aborted.
                        Ok(mut body) => while let Some(Ok(_)) = body.next().await {},
                        Err(_) => errors.set(errors.get() + 1),
                    }
                    return;
                }
                let poll = http.open_poll(&token, cursor, timeout_s).await;
                drop(permit);
                if poll.is_err() {
                    errors.set(errors.get() + 1);
                } else if let Ok(poll) = poll {
                    let _ = poll.finish().await;
                }
            }))
        })
        .collect()
}

async fn users_with_cursors(
    target: &Target,
    prefix: &str,
    count: usize,
) -> Result<(Vec<LoadUser>, Vec<i64>)> {
    // Two at a time: each argon2 hash takes 19 MiB, and glibc keeps freed memory in
    // per-thread arenas, which would swamp the per-poll memory figures.
    let users = register_many(
        &target.http,
        &format!("{prefix}{}_", tag()),
        count.max(1),
        2,
    )
    .await?;
    let cursors = cursors_at_end(&users).await?;
    Ok((users, cursors))
}

/// Runs `idle`.
pub async fn idle(common: &Common, args: &IdleArgs) -> Result<Report> {
    let limit = procfs::raise_nofile(args.polls as u64 + 2_000);
    // This process and the server each hold one descriptor per poll, plus a few hundred.
    let polls = args.polls.min(limit.saturating_sub(500) as usize);
    if polls < args.polls {
        eprintln!(
            "idle: the open-file limit is {limit}: holding {polls} polls, not {}",
            args.polls
        );
    }
    let target = Target::homeserver(common, "load.test", &[])?;
    let setup = Instant::now();
    let (users, cursors) = users_with_cursors(&target, "i", args.users).await?;
    let setup_s = secs(setup.elapsed());
    actix_web::rt::time::sleep(common.warmup()).await;
    let gauge = match args.held() {
        Held::WebSockets => "hearth_active_websockets",
        Held::Streams => "hearth_active_streams",
        Held::Polls => "hearth_active_long_polls",
    };
    let base = target.http.metric(gauge).await.unwrap_or(0.0);
    let rss_before = target.rss_kib();

    let errors = Rc::new(Cell::new(0));
    let opening = Instant::now();
    let client = Http::new(target.http.base());
    let handles = open_many(args.held(), &client, &users, &cursors, polls, 120, &errors);
    let held = target
        .wait_metric(gauge, Duration::from_secs(100), |v| {
            v + errors.get() as f64 >= base + polls as f64
        })
        .await
        - base;
    let open_s = secs(opening.elapsed());
    // Hold them (the polls time out after 120 s; stay well inside that).
    let hold = common.duration().min(Duration::from_secs(90));
    let cpu_before = target.cpu_ticks();
    actix_web::rt::time::sleep(hold).await;
    let mut report = Report::new("idle", "polls");
    target.note_cpu(&mut report, cpu_before, hold.as_secs_f64());
    let rss_after = target.rss_kib();
    let still = target.http.metric(gauge).await.unwrap_or(-1.0) - base;
    let fds = target.pid.and_then(procfs::open_fds);
    for h in &handles {
        h.abort();
    }

    report.count = held.max(0.0) as u64;
    report.seconds = hold.as_secs_f64();
    report.errors = errors.get() + (polls as u64).saturating_sub(report.count);
    if let (Some(b), Some(a)) = (rss_before, rss_after) {
        report.note("server_rss_before_kib", b);
        report.note("server_rss_after_kib", a);
        let per = (a as f64 - b as f64) * 1024.0 / held.max(1.0);
        report.note("rss_growth_per_poll_bytes", per.round());
    }
    report.note("polls_still_held_at_end", still);
    report.note(
        "held",
        match args.held() {
            Held::WebSockets => "websockets",
            Held::Streams => "streams",
            Held::Polls => "long-polls",
        },
    );
    report.note("polls_requested", args.polls as u64);
    report.note("open_s", open_s);
    report.note("users", users.len() as u64);
    report.note("setup_s", setup_s);
    report.note("nofile_limit", limit);
    if let Some(fds) = fds {
        report.note("server_open_fds", fds as u64);
    }
    target.finish(&mut report);
    Ok(report)
}

/// Runs `hangup`.
pub async fn hangup(common: &Common, args: &HangupArgs) -> Result<Report> {
    procfs::raise_nofile(2 * args.polls as u64 + 2_000);
    let target = Target::homeserver(common, "load.test", &[])?;
    let (users, cursors) = users_with_cursors(&target, "h", args.users).await?;
    let base = target.http.metric("hearth_active_long_polls").await?;
    let errors = Rc::new(Cell::new(0));
    let mut releases = Vec::new();
    let mut halves = Vec::new();
    let mut report = Report::new("hangup", "polls released");
    let until = Instant::now() + common.warmup() + common.duration();
    let began = Instant::now();
    let mut rounds = 0;
    while rounds < args.rounds.max(1) && (rounds == 0 || Instant::now() < until) {
        rounds += 1;
        let polls = Http::new(target.http.base());
        let handles = open_many(
            Held::Polls,
            &polls,
            &users,
            &cursors,
            args.polls,
            60,
            &errors,
        );
        let want = base + args.polls as f64;
        let parked = target
            .wait_polls_at_least(want, Duration::from_secs(30))
            .await;
        let opened = (parked - base).max(0.0);
        let hung_up = Instant::now();
        for h in &handles {
            h.abort();
        }
        drop(handles);
        drop(polls);
        let mut half = None;
        let mut all = None;
        for _ in 0..MAX_OPS {
            let elapsed = hung_up.elapsed();
            if elapsed > Duration::from_secs(20) {
                break;
            }
            if let Ok(v) = target.http.metric("hearth_active_long_polls").await {
                if half.is_none() && v <= base + opened / 2.0 {
                    half = Some(elapsed);
                }
                if v <= base {
                    all = Some(elapsed);
                    break;
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(5)).await;
        }
        report.count += opened as u64;
        halves.extend(half);
        match all {
            Some(all) => releases.push(all),
            None => report.errors += 1,
        }
    }
    report.seconds = began.elapsed().as_secs_f64();
    report.errors += errors.get();
    if let Some(p) = Percentiles::of(halves) {
        report.note("half_released_p50_ms", (p.p50 * 1000.0).round() / 1000.0);
    }
    report.latency = Percentiles::of(releases);
    report.note(
        "latency_is",
        "hang-up until the gauge is back at its baseline, per round",
    );
    report.note("rounds", rounds as u64);
    report.note("polls_per_round", args.polls as u64);
    target.finish(&mut report);
    Ok(report)
}
