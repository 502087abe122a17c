//! The command line of `hearth-load` and the dispatch to the scenarios.

use anyhow::Result;

use super::report::Report;
use super::{
    fanout, federation, irc, latency, mentions, pgbench, polls, raw, rich, search, sends, smoke,
    startup, unread, uploads, Common,
};

/// Load generator for Hearth homeservers and federation (see BENCHMARKS.md).
#[derive(clap::Parser, Debug)]
#[command(name = "hearth-load", version)]
pub struct Cli {
    /// Options shared by every scenario.
    #[command(flatten)]
    pub common: Common,
    /// The scenario.
    #[command(subcommand)]
    pub scenario: Scenario,
}

/// One scenario per figure of issue 6, plus the raw baselines and the CI smoke run.
#[derive(clap::Subcommand, Debug, Clone)]
pub enum Scenario {
    /// Sustained acknowledged sends into one channel.
    Sends(sends::Args),
    /// Send → long-poll delivery latency at a fixed send rate.
    Latency(latency::Args),
    /// One message to a channel whose members all long-poll.
    Fanout(fanout::Args),
    /// Many idle long-polls: server RSS and CPU per poll.
    Idle(polls::IdleArgs),
    /// Long-polls whose clients hang up: how fast the server releases them.
    Hangup(polls::HangupArgs),
    /// Cross-server DM latency (directory + two homeservers).
    Dm(federation::DmArgs),
    /// Relay throughput from one homeserver to another.
    Relay(federation::RelayArgs),
    /// Start to healthy with a pre-filled database.
    Startup(startup::Args),
    /// Sends, reactions and read markers mixed in one channel: ops/s and latency per kind.
    Rich(rich::Args),
    /// `GET /api/v1/conversations` in a big channel after a burst: latency, and the unread
    /// count checked.
    Unread(unread::Args),
    /// 20 concurrent 10 MiB uploads: throughput and the server's RSS while they stream.
    Uploads(uploads::Args),
    /// Sends into a big channel without and with a mention: latency, throughput, CPU, and the
    /// mentioned member's notification checked.
    Mentions(mentions::Args),
    /// Full-text search over a filled channel: rare and common words, p50/p99, beside a
    /// plain `LIKE` scan of the SQLite file.
    Search(search::Args),
    /// Idle registered IRC clients on the IRC gateway and on an ngIRCd started beside it:
    /// server memory per client of each, in the same run.
    IrcIdle(irc::Args),
    /// Baseline: bare SQLite insert loop with the server's durability settings.
    RawSqlite(raw::SqliteArgs),
    /// Baseline: trivial actix-web handler.
    RawHttp(raw::HttpArgs),
    /// Baseline: Debian's `pgbench` on a fresh database of `--dburl`, one single-row `INSERT`
    /// per transaction (autocommit) into a chat-event-shaped table: commits/s and latency,
    /// as pgbench reports them.
    RawPostgres(pgbench::Args),
    /// Every cheap scenario for about two seconds with small sizes (CI).
    Smoke,
}

impl Scenario {
    /// Whether the scenario runs on `--processes N` homeservers.
    pub fn multi_process(&self) -> bool {
        matches!(
            self,
            Scenario::Sends(_) | Scenario::Latency(_) | Scenario::Fanout(_)
        )
    }

    /// The storage measured, as noted in every report.
    fn backend(&self, common: &Common) -> &'static str {
        match self {
            Scenario::RawSqlite(_) => "sqlite",
            Scenario::RawPostgres(_) => "postgres",
            Scenario::RawHttp(_) => "none",
            _ => common.backend(),
        }
    }
}

/// Runs one scenario; its report notes the backend and the number of processes.
pub async fn run(common: &Common, scenario: &Scenario) -> Result<Report> {
    common.check(scenario.multi_process())?;
    let mut report = run_scenario(common, scenario).await?;
    report.note("backend", scenario.backend(common));
    let processes = if scenario.multi_process() {
        common.processes.max(1)
    } else {
        1
    };
    report.note("processes", processes as u64);
    Ok(report)
}

async fn run_scenario(common: &Common, scenario: &Scenario) -> Result<Report> {
    match scenario {
        Scenario::Sends(a) => sends::run(common, a).await,
        Scenario::Latency(a) => latency::run(common, a).await,
        Scenario::Fanout(a) => fanout::run(common, a).await,
        Scenario::Idle(a) => polls::idle(common, a).await,
        Scenario::Hangup(a) => polls::hangup(common, a).await,
        Scenario::Dm(a) => federation::dm(common, a).await,
        Scenario::Relay(a) => federation::relay(common, a).await,
        Scenario::Startup(a) => startup::run(common, a).await,
        Scenario::Rich(a) => rich::run(common, a).await,
        Scenario::Unread(a) => unread::run(common, a).await,
        Scenario::Uploads(a) => uploads::run(common, a).await,
        Scenario::Mentions(a) => mentions::run(common, a).await,
        Scenario::Search(a) => search::run(common, a).await,
        Scenario::IrcIdle(a) => irc::run(common, a).await,
        Scenario::RawSqlite(a) => raw::sqlite(common, a),
        Scenario::RawHttp(a) => raw::http(common, a).await,
        Scenario::RawPostgres(a) => pgbench::run(common, a),
        Scenario::Smoke => anyhow::bail!("smoke runs through smoke::run"),
    }
}

/// Prints a report as a table or as one line of JSON.
pub fn print(common: &Common, report: &Report) {
    if common.json {
        println!("{}", report.to_json());
    } else {
        println!("{}", report.to_table());
    }
}

/// Runs the command line; returns whether everything worked.
pub async fn main(cli: Cli) -> bool {
    if let Scenario::Smoke = cli.scenario {
        return smoke::run(&cli.common).await;
    }
    match run(&cli.common, &cli.scenario).await {
        Ok(report) => {
            print(&cli.common, &report);
            true
        }
        Err(e) => {
            eprintln!("hearth-load: {e:#}");
            false
        }
    }
}
