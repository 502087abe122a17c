//! `raw-postgres`: the raw ceiling of the `--dburl` Postgres, beside `raw-sqlite`. Debian's
//! `pgbench` runs on a fresh database a script of one single-row `INSERT` per transaction
//! (autocommit), from `--clients` connections, `-j 2`, `-M prepared`, for `--warmup` s (not
//! measured) and then `--duration` s. The table is a small chat event with one index
//! (`--table plain`, the default: the ceiling of the server and its disk), or the homeserver's
//! own `events` table as its migrations make it (`--table hearth`: seven indexes, the search
//! column and its GIN index, the room's foreign key; what one stored message costs Postgres).
//! Every figure comes from pgbench: commits/s and the average latency from its summary, the
//! percentiles from its per-transaction log (`-l`).

use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::pg::{self, Database};
use super::report::{Percentiles, Report};
use super::{Common, MAX_OPS};

/// Parameters of `raw-postgres`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Concurrent pgbench clients (connections), each one transaction at a time.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// The table the rows go into.
    #[arg(long, value_enum, default_value_t = Table::Plain)]
    pub table: Table,
}

/// Which table `raw-postgres` inserts into.
#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Table {
    /// A small chat event with one index.
    #[default]
    Plain,
    /// The homeserver's `events` table (made by its migrations), one room.
    Hearth,
}

/// One transaction into the homeserver's `events` table: a message as a send stores it (a
/// fresh id, the search column computed by Postgres).
const HEARTH_SCRIPT: &str = "INSERT INTO events (id, room_id, ts_ms, sender, recipient, kind, \
body, meta) VALUES (gen_random_uuid()::text, 1, :client_id, 'load@load.test', '#load@load.test', \
'message', 'a message body of about sixty bytes, like the load messages', '{}');
";

/// Makes the homeserver's schema in `url`: opening the database runs its migrations (an
/// operator command that only reads), then one room to write into.
fn hearth_schema(url: &str) -> Result<()> {
    let data = tempfile::tempdir()?;
    let mut cmd = std::process::Command::new(crate::process::binary("homeserver"));
    cmd.args(["admin", "users", "list"])
        .env("DBURL", url)
        .env("DATA_DIR", data.path())
        .env("RUST_LOG", "warn");
    let out = pg::run_bounded(cmd, Duration::from_secs(120)).context("homeserver migrations")?;
    if !out.status.success() {
        bail!(
            "the homeserver could not migrate the database: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    pg::psql(
        url,
        "INSERT INTO rooms (id, room_key, kind, event_count) VALUES (1, 'load', 'channel', 0);",
    )
    .context("create the room")?;
    Ok(())
}

/// The table: a small chat event.
const TABLE: &str = "CREATE TABLE events (
    id bigserial PRIMARY KEY,
    room_id bigint NOT NULL,
    sender text NOT NULL,
    body text NOT NULL,
    ts bigint NOT NULL
);
CREATE INDEX events_room ON events (room_id, id);";

/// One transaction of the script: one row, committed on its own (autocommit).
const SCRIPT: &str = "\\set room random(1, 100)
INSERT INTO events (room_id, sender, body, ts) VALUES (:room, 'load@load.test', \
'a message body of about sixty bytes, like the load messages', :client_id);
";

/// pgbench's summary figures.
#[derive(Debug, Default, PartialEq)]
struct Summary {
    transactions: Option<u64>,
    failed: Option<u64>,
    latency_avg_ms: Option<f64>,
    tps: Option<f64>,
}

/// Reads pgbench's summary (`number of transactions actually processed: N`, `latency average
/// = X ms`, `tps = Y (without initial connection time)`).
fn parse_summary(out: &str) -> Summary {
    let mut s = Summary::default();
    for line in out.lines().map(str::trim) {
        let number = |rest: &str| rest.split_whitespace().next().map(str::to_string);
        if let Some(rest) = line.strip_prefix("number of transactions actually processed:") {
            // `N` or `N/M` (with -t).
            s.transactions = number(rest).and_then(|n| n.split('/').next()?.parse().ok());
        } else if let Some(rest) = line.strip_prefix("number of failed transactions:") {
            s.failed = number(rest).and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("latency average =") {
            s.latency_avg_ms = number(rest).and_then(|n| n.parse().ok());
        } else if let Some(rest) = line.strip_prefix("tps =") {
            if s.tps.is_none() || line.contains("without initial connection time") {
                s.tps = number(rest).and_then(|n| n.parse().ok());
            }
        }
    }
    s
}

/// Latencies of pgbench's per-transaction log files `<prefix>*` in `dir` (the third field of
/// each line, in µs: `client_id transaction_no time script_no time_epoch time_us`).
fn read_logs(dir: &Path) -> Result<Vec<Duration>> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if !entry
            .file_name()
            .to_string_lossy()
            .starts_with("pgbench_log")
        {
            continue;
        }
        let text = std::fs::read_to_string(entry.path())?;
        for line in text.lines().take(MAX_OPS as usize) {
            // A failed transaction logs `failed` or `serialization`/`deadlock` instead.
            if let Some(us) = line
                .split_whitespace()
                .nth(2)
                .and_then(|f| f.parse::<u64>().ok())
            {
                all.push(Duration::from_micros(us));
            }
        }
    }
    Ok(all)
}

/// Runs pgbench for `seconds` against `url`; with `log_dir`, per-transaction logs go there.
fn pgbench(
    url: &str,
    table: Table,
    clients: usize,
    seconds: u64,
    log_dir: Option<&Path>,
) -> Result<String> {
    let script_dir = tempfile::tempdir()?;
    let script = script_dir.path().join("insert.sql");
    std::fs::write(
        &script,
        match table {
            Table::Plain => SCRIPT,
            Table::Hearth => HEARTH_SCRIPT,
        },
    )?;
    let mut cmd = pg::tool("pgbench")?;
    cmd.args(["-n", "-M", "prepared", "-j", "2"])
        .arg(format!("--client={clients}"))
        .arg(format!("--time={seconds}"))
        .arg(format!("--file={}", script.display()));
    if let Some(dir) = log_dir {
        cmd.arg("--log")
            .arg(format!(
                "--log-prefix={}",
                dir.join("pgbench_log").display()
            ))
            .current_dir(dir);
    }
    cmd.arg(url);
    // pgbench stops itself after `seconds`; the margin covers connecting and the summary.
    let out = pg::run_bounded(cmd, Duration::from_secs(seconds + 120)).context("pgbench")?;
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    if !out.status.success() {
        bail!(
            "pgbench failed ({}): {}{}",
            out.status,
            stdout.trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(stdout)
}

/// Runs the scenario (blocking on this thread, like `raw-sqlite`: nothing else runs).
pub fn run(common: &Common, args: &Args) -> Result<Report> {
    let admin = common.dburl.as_deref().context(
        "raw-postgres needs --dburl (a Postgres on loopback where it may CREATE DATABASE)",
    )?;
    // Fail before making a database when pgbench is missing.
    pg::tool("pgbench")?;
    let db = Database::create(admin, &super::tag())?;
    match args.table {
        Table::Plain => pg::psql(&db.url, TABLE)
            .map(drop)
            .context("create the events table")?,
        Table::Hearth => hearth_schema(&db.url)?,
    }
    let clients = args.clients.clamp(1, 1_000);
    let warmup = common.warmup().as_secs_f64().round() as u64;
    if warmup > 0 {
        pgbench(&db.url, args.table, clients, warmup, None).context("warm-up run")?;
    }
    let seconds = (common.duration().as_secs_f64().round() as u64).max(1);
    let logs = tempfile::tempdir()?;
    let out = pgbench(&db.url, args.table, clients, seconds, Some(logs.path()))?;
    let summary = parse_summary(&out);
    let Some(transactions) = summary.transactions else {
        bail!("no transaction count in pgbench's output:\n{out}");
    };

    let mut report = Report::new("raw-postgres", "commits");
    report.count = transactions;
    report.seconds = seconds as f64;
    report.errors = summary.failed.unwrap_or(0);
    report.latency = Percentiles::of(read_logs(logs.path())?);
    if let Some(tps) = summary.tps {
        report.note("pgbench_tps", tps);
    }
    if let Some(avg) = summary.latency_avg_ms {
        report.note("pgbench_latency_avg_ms", avg);
    }
    report.note("clients", clients as u64);
    report.note(
        "table",
        match args.table {
            Table::Plain => "plain: a small chat event, one index",
            Table::Hearth => "hearth: the homeserver's events table",
        },
    );
    report.note("pgbench_threads", 2u64);
    report.note(
        "figures_from",
        "pgbench: count, tps and average from its summary, percentiles from its -l log",
    );
    report.note("latency_is", "one single-row INSERT committed (autocommit)");
    report.note("database", db.name.as_str());
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pgbench_summary_is_parsed() {
        let out = "transaction type: insert.sql
scaling factor: 1
query mode: prepared
number of clients: 16
number of threads: 2
maximum number of tries: 1
duration: 10 s
number of transactions actually processed: 188123
number of failed transactions: 0 (0.000%)
latency average = 0.850 ms
initial connection time = 12.345 ms
tps = 18812.345678 (without initial connection time)
";
        assert_eq!(
            parse_summary(out),
            Summary {
                transactions: Some(188_123),
                failed: Some(0),
                latency_avg_ms: Some(0.85),
                tps: Some(18_812.345_678),
            }
        );
        assert_eq!(parse_summary("garbage"), Summary::default());
    }
}
