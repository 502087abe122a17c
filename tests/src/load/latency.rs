//! `latency`: one client sends into a channel at a fixed rate while `receivers` members
//! long-poll (or, with `--transport sse`, hold an event stream); each message carries its send
//! time, and every receiver records send → delivery. A final `end` message releases the
//! receivers. With `--processes N` the sender talks to the first process and the receivers
//! to the others, round-robin, so the figure is the wake-up across processes.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tokio::sync::Semaphore;

use super::client::{join_all, register_many, LoadUser};
use super::group::Group;
use super::report::{Percentiles, Report};
use super::{secs, tag, Common, MAX_OPS};
use crate::sse::{self, SseBuffer};

/// Parameters of `latency`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Target sends per second.
    #[arg(long, default_value_t = 1000.0)]
    pub rate: f64,
    /// Long-polling receivers (members of the channel).
    #[arg(long, default_value_t = 100)]
    pub receivers: usize,
    /// Most sends in flight at once.
    #[arg(long, default_value_t = 256)]
    pub in_flight: usize,
    /// How receivers get their events.
    #[arg(long, value_enum, default_value_t = Transport::Poll)]
    pub transport: Transport,
}

/// How the receivers of `latency` get their events.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    /// Long-polls, `GET /api/v1/messages` (one request per answer).
    Poll,
    /// Server-Sent Events, `GET /api/v1/messages/stream` (one request per receiver).
    Sse,
}

impl Transport {
    fn gauge(self) -> &'static str {
        match self {
            Transport::Poll => "hearth_active_long_polls",
            Transport::Sse => "hearth_active_streams",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Transport::Poll => "poll",
            Transport::Sse => "sse",
        }
    }
}

/// Samples gathered by the receivers.
#[derive(Default)]
struct Gathered {
    delivery: Vec<Duration>,
    errors: u64,
}

/// Body of a message: `m <µs since anchor> <measured 0|1>`.
fn parse(body: &str) -> Option<(u64, bool)> {
    let mut parts = body.strip_prefix("m ")?.split(' ');
    let us = parts.next()?.parse().ok()?;
    let measured = parts.next()? == "1";
    Some((us, measured))
}

/// An event's `body`, every other field skipped.
#[derive(serde::Deserialize)]
struct BodyOnly<'a> {
    #[serde(borrow, default)]
    body: std::borrow::Cow<'a, str>,
}

/// Records one delivered event; `true` when it is the final `end` message.
fn record(g: &mut Gathered, event: &serde_json::Value, now_us: u64) -> bool {
    record_body(g, event["body"].as_str().unwrap_or_default(), now_us)
}

/// Records one delivered event by its body; `true` when it is the final `end` message.
fn record_body(g: &mut Gathered, body: &str, now_us: u64) -> bool {
    if body == "end" {
        return true;
    }
    if let Some((sent_us, true)) = parse(body) {
        g.delivery
            .push(Duration::from_micros(now_us.saturating_sub(sent_us)));
    }
    false
}

/// A receiver holding an event stream: reads SSE messages until `end` or `stop`.
async fn stream_receiver(
    user: LoadUser,
    anchor: Instant,
    gathered: Rc<RefCell<Gathered>>,
    stop: Instant,
) {
    use futures_util::StreamExt;
    let opened = match user.cursor_at_end().await {
        Ok(cursor) => user.http.open_stream(&user.token, cursor).await,
        Err(e) => Err(e),
    };
    let mut body = match opened {
        Ok(body) => body,
        Err(e) => {
            eprintln!("latency: receiver {}: {e:#}", user.nick);
            gathered.borrow_mut().errors += 1;
            return;
        }
    };
    let mut buffer = SseBuffer::default();
    loop {
        let chunk = match tokio::time::timeout_at(stop.into(), body.next()).await {
            Ok(Some(Ok(chunk))) => chunk,
            Ok(Some(Err(e))) => {
                eprintln!("latency: receiver {}: stream: {e}", user.nick);
                gathered.borrow_mut().errors += 1;
                return;
            }
            Ok(None) | Err(_) => return,
        };
        let now_us = anchor.elapsed().as_micros() as u64;
        buffer.push(&chunk);
        let mut g = gathered.borrow_mut();
        while let Some(message) = buffer.next_message() {
            for (name, data) in sse::fields(message) {
                if name != b"data" {
                    continue;
                }
                // Only the body: one thread reads for every receiver, and a full parse of each
                // event would delay the receivers behind it.
                match serde_json::from_slice::<BodyOnly>(data) {
                    Ok(event) => {
                        if record_body(&mut g, &event.body, now_us) {
                            return;
                        }
                    }
                    Err(_) => g.errors += 1,
                }
            }
        }
    }
}

async fn receiver(user: LoadUser, anchor: Instant, gathered: Rc<RefCell<Gathered>>, stop: Instant) {
    let mut cursor = match user.cursor_at_end().await {
        Ok(next) => next,
        Err(_) => {
            gathered.borrow_mut().errors += 1;
            return;
        }
    };
    for _ in 0..MAX_OPS {
        if Instant::now() >= stop {
            break;
        }
        let (events, next) = match user.poll(cursor, 5).await {
            Ok(got) => got,
            Err(e) => {
                eprintln!("latency: receiver {}: {e:#}", user.nick);
                gathered.borrow_mut().errors += 1;
                actix_web::rt::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let now_us = anchor.elapsed().as_micros() as u64;
        cursor = next;
        let mut g = gathered.borrow_mut();
        for event in &events {
            if record(&mut g, event, now_us) {
                return;
            }
        }
    }
}

/// Runs the scenario.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    let group = Group::homeservers(common, "load.test", &[])?;
    let setup = Instant::now();
    let users = register_many(
        &group.first().http,
        &format!("l{}_", tag()),
        args.receivers + 1,
        16,
    )
    .await?;
    let channel = format!("#lat{}", tag());
    join_all(&users, &channel, 16).await?;
    let sender = users.first().context("no sender")?.clone();
    let setup_s = secs(setup.elapsed());

    let anchor = Instant::now();
    let (from, until) = common.window();
    let hard_stop = until + Duration::from_secs(30);
    let gathered = Rc::new(RefCell::new(Gathered::default()));
    // Receiver `i` on process `1 + i mod (N - 1)`; all on the one process when N = 1.
    let others = group.len().saturating_sub(1);
    let process_of = |i: usize| if others == 0 { 0 } else { 1 + i % others };
    let mut parked = vec![0.0; group.len()];
    let receivers: Vec<_> = users[1..]
        .iter()
        .enumerate()
        .map(|(i, u)| {
            parked[process_of(i)] += 1.0;
            let (u, g) = (group.user_on(u, process_of(i)), gathered.clone());
            match args.transport {
                Transport::Poll => actix_web::rt::spawn(receiver(u, anchor, g, hard_stop)),
                Transport::Sse => actix_web::rt::spawn(stream_receiver(u, anchor, g, hard_stop)),
            }
        })
        .collect();
    // Let every receiver park its first poll (or open its stream).
    group
        .wait_metric_each(args.transport.gauge(), &parked, Duration::from_secs(10))
        .await;

    let cpu_before = group.cpu_ticks();
    let began = Instant::now();
    let permits = std::sync::Arc::new(Semaphore::new(args.in_flight.max(1)));
    let sent = Rc::new(Cell::new(0u64));
    let send_errors = Rc::new(Cell::new(0u64));
    let acks = Rc::new(RefCell::new(Vec::new()));
    let rate = args.rate.clamp(0.1, 1_000_000.0);
    let start = Instant::now();
    for i in 0..MAX_OPS {
        let due = start + Duration::from_secs_f64(i as f64 / rate);
        if due >= until {
            break;
        }
        actix_web::rt::time::sleep_until(due.into()).await;
        let Ok(permit) = permits.clone().acquire_owned().await else {
            break;
        };
        let measured = Instant::now() >= from;
        let body = format!("m {} {}", anchor.elapsed().as_micros(), u8::from(measured));
        let (sender, sent, send_errors, acks, channel) = (
            sender.clone(),
            sent.clone(),
            send_errors.clone(),
            acks.clone(),
            channel.clone(),
        );
        actix_web::rt::spawn(async move {
            let t = Instant::now();
            match sender.send(&channel, &body).await {
                Ok(_) if measured => {
                    sent.set(sent.get() + 1);
                    acks.borrow_mut().push(t.elapsed());
                }
                Ok(_) => {}
                Err(_) => send_errors.set(send_errors.get() + 1),
            }
            drop(permit);
        });
    }
    // Wait for the sends in flight, then release the receivers.
    let _ = permits.acquire_many(args.in_flight.max(1) as u32).await;
    let sending = began.elapsed();
    let expected = sent.get() * args.receivers as u64;
    let drain = Instant::now() + Duration::from_secs(10);
    while (gathered.borrow().delivery.len() as u64) < expected && Instant::now() < drain {
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    if let Err(e) = sender.send(&channel, "end").await {
        eprintln!("latency: end message: {e:#}");
    }
    for r in receivers {
        let _ = r.await;
    }

    let mut report = Report::new("latency", "deliveries");
    let g = std::mem::take(&mut *gathered.borrow_mut());
    report.count = g.delivery.len() as u64;
    report.errors = g.errors + send_errors.get() + expected.saturating_sub(report.count);
    report.seconds = until.saturating_duration_since(from).as_secs_f64();
    report.latency = Percentiles::of(g.delivery);
    let acks = std::mem::take(&mut *acks.borrow_mut());
    if let Some(p) = Percentiles::of(acks) {
        report.note("send_ack_p50_ms", (p.p50 * 1000.0).round() / 1000.0);
        report.note("send_ack_p99_ms", (p.p99 * 1000.0).round() / 1000.0);
    }
    report.note("target_rate", rate);
    report.note("sends_measured", sent.get());
    report.note(
        "achieved_send_rate",
        sent.get() as f64 / report.seconds.max(1e-9),
    );
    report.note("receivers", args.receivers as u64);
    report.note("transport", args.transport.name());
    report.note("setup_s", setup_s);
    group.note_cpu(&mut report, &cpu_before, sending.as_secs_f64());
    group.finish(&mut report);
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_body_of_an_event_is_read() {
        let event: BodyOnly =
            serde_json::from_str(r##"{"seq":3,"body":"m 12 1","to":"#a"}"##).unwrap();
        assert_eq!(parse(&event.body), Some((12, true)));
        let join: BodyOnly = serde_json::from_str(r#"{"type":"join"}"#).unwrap();
        assert_eq!(join.body, "");
    }
}
