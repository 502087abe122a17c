//! `smoke`: every cheap scenario for about two seconds with small sizes, so that CI notices
//! when the tool or the paths it measures break. Passes when each scenario counted
//! something and saw no errors; it checks no timings.

use super::cli::{self, print, Scenario};
use super::{
    fanout, federation, latency, mentions, polls, raw, rich, sends, startup, unread, uploads,
    Common,
};

fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario::RawSqlite(raw::SqliteArgs { batch: 1 }),
        Scenario::RawHttp(raw::HttpArgs {
            connections: 4,
            stream_ms: None,
            nodelay: false,
        }),
        Scenario::Sends(sends::Args {
            members: 5,
            senders: 2,
        }),
        Scenario::Rich(rich::Args {
            members: 5,
            users: 3,
            sends: 1,
            reactions: 1,
            reads: 1,
            recent: 16,
        }),
        Scenario::Uploads(uploads::Args {
            concurrency: 2,
            size_mib: 1,
            rounds: 1,
        }),
        Scenario::Unread(unread::Args {
            members: 20,
            messages: 30,
            concurrency: 4,
            burst_concurrency: 4,
            register_concurrency: 8,
        }),
        Scenario::Mentions(mentions::Args {
            members: 20,
            concurrency: 2,
            register_concurrency: 8,
        }),
        Scenario::Latency(latency::Args {
            rate: 50.0,
            receivers: 3,
            in_flight: 8,
            transport: latency::Transport::Poll,
        }),
        Scenario::Latency(latency::Args {
            rate: 50.0,
            receivers: 3,
            in_flight: 8,
            transport: latency::Transport::Sse,
        }),
        Scenario::Fanout(fanout::Args {
            members: 10,
            rounds: 2,
            register_concurrency: 8,
        }),
        Scenario::Idle(polls::IdleArgs {
            polls: 50,
            users: 5,
            streams: false,
            websockets: false,
        }),
        Scenario::Idle(polls::IdleArgs {
            polls: 50,
            users: 5,
            streams: true,
            websockets: false,
        }),
        Scenario::Idle(polls::IdleArgs {
            polls: 50,
            users: 5,
            streams: false,
            websockets: true,
        }),
        Scenario::Hangup(polls::HangupArgs {
            polls: 20,
            users: 5,
            rounds: 1,
        }),
        Scenario::Dm(federation::DmArgs { settle_ms: 0 }),
        Scenario::Relay(federation::RelayArgs {
            messages: 100,
            pairs: 2,
            backlog: true,
        }),
        Scenario::Startup(startup::Args {
            events: 200,
            fill_seconds: 10,
            senders: 4,
            restarts: 1,
        }),
    ]
}

/// Runs the smoke set; returns whether every scenario passed.
pub async fn run(common: &Common) -> bool {
    let short = Common {
        duration: common.duration.min(2.0),
        warmup: common.warmup.min(0.3),
        json: common.json,
        url: None,
        pid: None,
        server_env: common.server_env.clone(),
        dburl: common.dburl.clone(),
        processes: 1,
    };
    let mut ok = true;
    for scenario in scenarios() {
        match cli::run(&short, &scenario).await {
            Ok(report) => {
                print(&short, &report);
                if report.count == 0 || report.errors > 0 {
                    eprintln!(
                        "smoke: {} FAILED (count {}, errors {})",
                        report.scenario, report.count, report.errors
                    );
                    ok = false;
                }
            }
            Err(e) => {
                eprintln!("smoke: {scenario:?} FAILED: {e:#}");
                ok = false;
            }
        }
    }
    eprintln!(
        "smoke: {}",
        if ok { "all scenarios passed" } else { "FAILED" }
    );
    ok
}
