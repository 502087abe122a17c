//! `hearth-load`: a load generator for the homeserver and federation (issue 6).
//!
//! Every scenario starts the real servers through the harness (or targets `--url`), sets up
//! users, warms up for `--warmup` seconds, measures for `--duration` seconds and returns a
//! [`report::Report`]. All loops are bounded by a deadline and by [`MAX_OPS`]; all traffic
//! stays on 127.0.0.1.
//!
//! # Layout
//! - [`client`]: awc client with typed, non-panicking calls.
//! - [`report`]: percentiles and output.
//! - [`procfs`]: server pid, RSS, CPU, open-file limit.
//! - [`target`]: starting or addressing the servers.
//! - one module per scenario: [`sends`], [`latency`], [`fanout`], [`polls`] (idle and hangup),
//!   [`federation`] (dm and relay), [`startup`], [`raw`] (raw-sqlite, raw-http), [`rich`] (sends, reactions and
//!   reads mixed), [`unread`] (conversation list after a burst), [`mentions`] (sends with and
//!   without a mention into a big channel), [`search`] (full-text search beside a `LIKE` scan),
//!   [`irc`] (`irc-idle`: idle IRC clients on the gateway and on ngIRCd), [`pgbench`]
//!   (`raw-postgres`), [`smoke`].
//! - [`pg`]: fresh Postgres databases for `--dburl`; [`group`]: `--processes N` homeservers on
//!   one database.

pub mod cli;
pub mod client;
pub mod fanout;
pub mod federation;
pub mod group;
pub mod irc;
pub mod latency;
pub mod mentions;
pub mod pg;
pub mod pgbench;
pub mod polls;
pub mod procfs;
pub mod raw;
pub mod report;
pub mod rich;
pub mod search;
pub mod sends;
pub mod smoke;
pub mod startup;
pub mod target;
pub mod unread;
pub mod uploads;

use std::time::{Duration, Instant};

/// Upper bound on the iterations of any loop, whatever the deadline.
pub const MAX_OPS: u64 = 50_000_000;

/// Options shared by every scenario.
#[derive(clap::Args, Debug, Clone)]
pub struct Common {
    /// Seconds of measurement after the warm-up.
    #[arg(long, global = true, default_value_t = 10.0)]
    pub duration: f64,
    /// Seconds of warm-up (load applied, not measured).
    #[arg(long, global = true, default_value_t = 2.0)]
    pub warmup: f64,
    /// Print JSON instead of a table.
    #[arg(long, global = true)]
    pub json: bool,
    /// Target a running homeserver on loopback instead of starting one. Start it with
    /// `RATE_LIMIT_SEND=off RATE_LIMIT_LOGIN=off` (the servers this tool starts have every
    /// rate limit off), or its limits are what gets measured.
    #[arg(long, global = true)]
    pub url: Option<String>,
    /// The pid of the `--url` server, to read its memory from /proc.
    #[arg(long, global = true)]
    pub pid: Option<u32>,
    /// Extra environment for the homeservers this tool starts, `KEY=VALUE`, repeatable
    /// (e.g. `--server-env RUST_LOG=warn`; the harness's default is `RUST_LOG=info`).
    #[arg(long = "server-env", global = true, value_parser = parse_env)]
    pub server_env: Vec<(String, String)>,
    /// Run the homeservers this tool starts on Postgres: a URL (loopback only) of an existing
    /// database, as a role allowed to `CREATE DATABASE`, e.g.
    /// `postgres://postgres@127.0.0.1:5432/postgres`. Each homeserver (or each group of
    /// `--processes`) gets a fresh database `hearth_load_<tag>_<n>` there, made with `psql`
    /// and dropped at the end. Without it: SQLite in the data directory. `raw-postgres` needs it.
    #[arg(long, global = true)]
    pub dburl: Option<String>,
    /// Homeservers on one database for `sends`, `latency` and `fanout` (needs `--dburl`): the
    /// same server name and signing key, clients spread over them (`sends`: senders
    /// round-robin; `latency`: the sender on the first, receivers on the others; `fanout`:
    /// members round-robin). CPU and peak RSS are summed over the processes. Several
    /// processes share the machine's cores: each gets `HTTP_WORKERS` = cores / N (at least 1)
    /// unless `--server-env HTTP_WORKERS=…` says otherwise.
    #[arg(long, global = true, default_value_t = 1)]
    pub processes: usize,
}

fn parse_env(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("expected KEY=VALUE, not {s:?}"))
}

impl Common {
    /// Refuses option combinations that cannot work, before anything starts.
    pub fn check(&self, multi_process: bool) -> anyhow::Result<()> {
        if let Some(url) = &self.dburl {
            pg::check_loopback(url)?;
        }
        if self.processes == 0 || self.processes > 64 {
            anyhow::bail!("--processes must be between 1 and 64");
        }
        if self.processes > 1 {
            if self.dburl.is_none() {
                anyhow::bail!(
                    "--processes {} needs --dburl: several processes share one Postgres \
                     database (SQLite is one process's file)",
                    self.processes
                );
            }
            if self.url.is_some() {
                anyhow::bail!("--processes starts homeservers, --url targets a running one");
            }
            if !multi_process {
                anyhow::bail!("--processes > 1 applies to sends, latency and fanout only");
            }
        }
        Ok(())
    }

    /// The storage of the homeservers this tool starts, as noted in reports.
    pub fn backend(&self) -> &'static str {
        match (&self.url, &self.dburl) {
            (Some(_), _) => "as run (--url)",
            (None, Some(_)) => "postgres",
            (None, None) => "sqlite",
        }
    }

    /// The measured window, bounded to a day.
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.clamp(0.1, 86_400.0))
    }

    /// The warm-up, bounded to an hour.
    pub fn warmup(&self) -> Duration {
        Duration::from_secs_f64(self.warmup.clamp(0.0, 3_600.0))
    }

    /// `(start of measurement, end of measurement)` counted from now.
    pub fn window(&self) -> (Instant, Instant) {
        let from = Instant::now() + self.warmup();
        (from, from + self.duration())
    }
}

/// A short random tag so that nicks do not collide on a reused `--url` server.
pub fn tag() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..5].to_string()
}

/// Seconds of a duration, rounded to milliseconds.
pub fn secs(d: Duration) -> f64 {
    (d.as_secs_f64() * 1000.0).round() / 1000.0
}
