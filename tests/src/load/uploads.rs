//! `uploads`: `concurrency` uploads of `size_mib` MiB at once (20 × 10 MiB by default), for
//! `rounds` rounds (issue 17). Measures upload throughput and the server's RSS while they
//! stream: uploads are spooled to disk while hashed, so the RSS must not grow by the sum of
//! the files. Each file is distinct (no dedupe) and typed as a zip by its first bytes; the
//! client generates it chunk by chunk, so neither side holds a whole file.

use std::time::{Duration, Instant};

use anyhow::{bail, Result};
use futures_util::stream;

use super::client::LoadUser;
use super::report::{Percentiles, Report};
use super::target::Target;
use super::{secs, tag, Common};

/// Parameters of `uploads`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Uploads in flight at once.
    #[arg(long, default_value_t = 20)]
    pub concurrency: usize,
    /// Size of each file in MiB.
    #[arg(long, default_value_t = 10)]
    pub size_mib: u64,
    /// How many times all `concurrency` uploads run.
    #[arg(long, default_value_t = 3)]
    pub rounds: usize,
}

/// Bytes per generated chunk.
const CHUNK: usize = 256 * 1024;

/// File `n` of `len` bytes, chunk by chunk: a zip local-file header, then bytes that differ
/// from file to file.
fn file_body(
    n: u64,
    len: u64,
) -> impl futures_util::Stream<Item = Result<actix_web::web::Bytes, std::io::Error>> {
    stream::unfold(0u64, move |sent| async move {
        if sent >= len {
            return None;
        }
        let size = (len - sent).min(CHUNK as u64) as usize;
        let mut chunk = Vec::with_capacity(size);
        let mut x = n.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ sent;
        while chunk.len() < size {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            chunk.extend_from_slice(&x.to_le_bytes());
        }
        chunk.truncate(size);
        if sent == 0 {
            let header = b"PK\x03\x04\x14\x00\x00\x00\x00\x00";
            chunk[..header.len()].copy_from_slice(header);
        }
        Some((Ok(actix_web::web::Bytes::from(chunk)), sent + size as u64))
    })
}

async fn upload(target: &Target, user: &LoadUser, n: u64, len: u64) -> Result<Duration> {
    let started = Instant::now();
    let url = format!("{}/api/v1/media?filename=load-{n}.zip", target.http.base());
    let mut res = awc::Client::builder()
        .timeout(Duration::from_secs(600))
        .finish()
        .post(url)
        .insert_header(("Authorization", format!("Bearer {}", user.token)))
        .insert_header(("Content-Type", "application/zip"))
        .insert_header(("Content-Length", len.to_string()))
        .send_stream(file_body(n, len))
        .await
        .map_err(|e| anyhow::anyhow!("upload {n}: {e}"))?;
    let body = res
        .body()
        .await
        .map_err(|e| anyhow::anyhow!("upload {n}: {e}"))?;
    if res.status().as_u16() != 201 {
        bail!(
            "upload {n}: {} {}",
            res.status(),
            String::from_utf8_lossy(&body)
        );
    }
    Ok(started.elapsed())
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    let len = args.size_mib.max(1) << 20;
    let limit = format!("{}", len + (1 << 20));
    let target = Target::homeserver(common, "load.test", &[("MAX_UPLOAD_SIZE", &limit)])?;
    let user = LoadUser::register(&target.http, &format!("up{}", tag())).await?;
    // A first small upload warms the server's paths up before the baseline.
    upload(&target, &user, u64::MAX, 64 * 1024).await?;
    let rss_before = target.rss_kib();
    let mut peak = rss_before.unwrap_or(0);
    let concurrency = args.concurrency.max(1);
    let (began, cpu_before) = (Instant::now(), target.cpu_ticks());
    let mut latencies = Vec::new();
    let mut errors = 0;
    for round in 0..args.rounds.max(1) {
        let uploads = futures_util::future::join_all((0..concurrency).map(|i| {
            let n = (round * concurrency + i) as u64;
            upload(&target, &user, n, len)
        }));
        let mut uploads = std::pin::pin!(uploads);
        // Sample the server's RSS while the round streams.
        let results = loop {
            tokio::select! {
                results = &mut uploads => break results,
                () = actix_web::rt::time::sleep(Duration::from_millis(20)) => {
                    if let Some(kib) = target.rss_kib() {
                        peak = peak.max(kib);
                    }
                }
            }
        };
        for r in results {
            match r {
                Ok(d) => latencies.push(d),
                Err(e) => {
                    errors += 1;
                    eprintln!("uploads: {e:#}");
                }
            }
        }
    }
    let elapsed = began.elapsed();
    let mut report = Report::new("uploads", "uploads");
    report.count = latencies.len() as u64;
    report.errors = errors;
    report.seconds = elapsed.as_secs_f64();
    report.latency = Percentiles::of(latencies);
    target.note_cpu(&mut report, cpu_before, elapsed.as_secs_f64());
    let mib = (report.count * (len >> 20)) as f64;
    report.note("file_mib", args.size_mib);
    report.note("concurrency", concurrency as u64);
    report.note(
        "throughput_mib_per_s",
        (mib / elapsed.as_secs_f64() * 10.0).round() / 10.0,
    );
    if let Some(before) = rss_before {
        report.note("server_rss_before_kib", before);
        report.note("server_rss_peak_during_kib", peak);
        report.note("server_rss_growth_kib", peak.saturating_sub(before));
        report.note("files_in_flight_kib", concurrency as u64 * (len >> 10));
    }
    report.note("elapsed_s", secs(elapsed));
    target.finish(&mut report);
    Ok(report)
}
