//! `search`: fills one channel with `messages` messages through the API (every one holds the
//! common word, one in `rare_every` the rare word), then times `GET /api/v1/search` for the
//! rare word and the common word (first page of 20), one request at a time, half of
//! `--duration` each. For context, the same words are looked up with a plain `LIKE` scan
//! straight on the SQLite file (newest 20 matches; only when this tool started the server on
//! SQLite).

use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use super::client::{join_all, register_many, LoadUser};
use super::report::{Percentiles, Report};
use super::target::Target;
use super::{secs, tag, Common, MAX_OPS};

/// The word in every message.
const COMMON: &str = "lorem";
/// The word in one message of `rare_every`.
const RARE: &str = "quokka";

/// Parameters of `search`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Messages stored before the searches (filling also stops after `--fill-seconds`).
    #[arg(long, default_value_t = 20_000)]
    pub messages: u64,
    /// One message in this many holds the rare word.
    #[arg(long, default_value_t = 1_000)]
    pub rare_every: u64,
    /// Most seconds spent filling.
    #[arg(long, default_value_t = 600)]
    pub fill_seconds: u64,
    /// Concurrent filling clients.
    #[arg(long, default_value_t = 16)]
    pub senders: usize,
}

/// Times `GET /api/v1/search?q=word` until `until`; every answer must have results.
async fn time_search(user: &LoadUser, word: &str, until: Instant) -> (Vec<Duration>, u64) {
    let path = format!("/api/v1/search?q={word}&limit=20");
    let (mut samples, mut errors) = (Vec::new(), 0);
    for _ in 0..MAX_OPS {
        let started = Instant::now();
        if started >= until || errors > 100 {
            break;
        }
        let answer = user
            .http
            .call(awc::http::Method::GET, &path, Some(&user.token), None)
            .await;
        let elapsed = started.elapsed();
        match answer {
            Ok((200, v)) if v["results"].as_array().is_some_and(|r| !r.is_empty()) => {
                samples.push(elapsed)
            }
            Ok((status, v)) => {
                errors += 1;
                eprintln!("search {word}: {status} {v}");
            }
            Err(e) => {
                errors += 1;
                eprintln!("search {word}: {e:#}");
            }
        }
    }
    (samples, errors)
}

/// Times a `LIKE '%word%'` scan for the newest 20 matches on the SQLite file, `runs` times
/// or until `until`.
fn time_like(db: &str, word: &str, runs: usize, until: Instant) -> Result<Vec<Duration>> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Seq {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        #[allow(dead_code)]
        seq: i64,
    }
    let mut conn = diesel::sqlite::SqliteConnection::establish(db).context("open the database")?;
    let mut samples = Vec::new();
    for _ in 0..runs {
        if Instant::now() >= until {
            break;
        }
        let started = Instant::now();
        let rows: Vec<Seq> = diesel::sql_query(
            "SELECT seq FROM events WHERE kind = 'message' AND deleted = 0 AND body LIKE ? \
             ORDER BY seq DESC LIMIT 20",
        )
        .bind::<diesel::sql_types::Text, _>(format!("%{word}%"))
        .load(&mut conn)?;
        samples.push(started.elapsed());
        if rows.is_empty() {
            bail!("LIKE {word}: no rows");
        }
    }
    Ok(samples)
}

fn note_percentiles(report: &mut Report, prefix: &str, samples: Vec<Duration>) {
    if let Some(p) = Percentiles::of(samples) {
        report.note(&format!("{prefix}_samples"), p.samples as u64);
        report.note(
            &format!("{prefix}_p50_ms"),
            (p.p50 * 1000.0).round() / 1000.0,
        );
        report.note(
            &format!("{prefix}_p99_ms"),
            (p.p99 * 1000.0).round() / 1000.0,
        );
    }
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    let target = Target::homeserver(common, "load.test", &[("MAX_HISTORY", "100000000")])?;
    let senders = register_many(
        &target.http,
        &format!("u{}_", tag()),
        args.senders.max(1),
        16,
    )
    .await?;
    let channel = format!("#search{}", tag());
    join_all(&senders, &channel, 16).await?;
    let filling = Instant::now();
    let until = filling + Duration::from_secs(args.fill_seconds);
    let every = args.rare_every.max(1);
    let total = args.messages.max(every);
    let n = senders.len() as u64;
    let fills = senders.iter().enumerate().map(|(w, s)| {
        let channel = &channel;
        async move {
            let (mut stored, mut errors) = (0u64, 0u64);
            let mut i = w as u64;
            while i < total && Instant::now() < until && errors < 100 {
                let body = if i.is_multiple_of(every) {
                    format!("{COMMON} message {i} about the {RARE} seen in the park")
                } else {
                    format!("{COMMON} ipsum message {i} of a realistic length, about sixty")
                };
                match s.send(channel, &body).await {
                    Ok(_) => {
                        stored += 1;
                        i += n;
                    }
                    Err(_) => errors += 1,
                }
            }
            stored
        }
    });
    let stored: u64 = futures_util::future::join_all(fills)
        .await
        .into_iter()
        .sum();
    let fill_s = filling.elapsed();
    let reader = senders.first().context("no users")?;

    let (from, end) = common.window();
    let half = end.saturating_duration_since(from) / 2;
    // Warm-up: both words, not measured.
    let _ = time_search(reader, RARE, from).await;
    let (rare, rare_errors) = time_search(reader, RARE, from + half).await;
    let (common_hits, common_errors) = time_search(reader, COMMON, end).await;

    let mut report = Report::new("search", "searches");
    report.errors = rare_errors + common_errors;
    report.count = (rare.len() + common_hits.len()) as u64;
    report.seconds = end.saturating_duration_since(from).as_secs_f64();
    report.latency = Percentiles::of(rare.iter().chain(&common_hits).copied().collect());
    report.note("messages_stored", stored);
    report.note("rare_matches", stored.div_ceil(every));
    report.note("fill_s", secs(fill_s));
    note_percentiles(&mut report, "rare", rare);
    note_percentiles(&mut report, "common", common_hits);
    if let Some(dir) = target.data_dir() {
        let db = format!("{dir}/hearth.db");
        let deadline = Instant::now() + Duration::from_secs(60);
        match (
            time_like(&db, RARE, 20, deadline),
            time_like(&db, COMMON, 20, deadline),
        ) {
            (Ok(r), Ok(c)) => {
                note_percentiles(&mut report, "like_rare", r);
                note_percentiles(&mut report, "like_common", c);
            }
            (Err(e), _) | (_, Err(e)) => report.note("like", format!("not measured: {e:#}")),
        }
    }
    target.finish(&mut report);
    Ok(report)
}
