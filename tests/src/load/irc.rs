//! `irc-idle`: N idle, registered IRC clients against the homeserver's IRC gateway, and the
//! same N against an ngIRCd (Debian's `ngircd`) started here with a generated configuration,
//! in the same run: the server memory each client costs on both.
//!
//! Method (the same for both servers): the clients connect in `--rounds` + 1 equal batches.
//! The first batch is a warm-up (thread pools, allocator arenas, caches: set up once, not per
//! client); after it and after each later batch the tool waits `SETTLE` and reads the
//! server's `VmRSS` and `RssAnon` (`/proc/PID/status`; anonymous memory leaves out the
//! binary's and libraries' file pages). A round's figure is the growth over its batch divided
//! by the clients that registered in it; the result is the median of the rounds. On Hearth
//! every device exists before the measured connections (a first pass logs each one in once and
//! quits, as a returning IRC client's device exists), so the figure is what a connected, idle
//! client holds, not the database rows and cache pages of new devices; `--new-devices` skips
//! that pass and measures first logins instead.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, Result};
use serde_json::json;
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};
use tokio::net::TcpStream;
use tokio::task::JoinHandle;

use super::client::Http;
use super::procfs;
use super::report::Report;
use super::target::Target;
use super::{secs, tag, Common};
use crate::process::KillOnDrop;

/// Parameters of `irc-idle`.
#[derive(clap::Args, Debug, Clone)]
pub struct Args {
    /// Idle registered IRC clients on each server.
    #[arg(long, default_value_t = 3000)]
    pub clients: usize,
    /// Hearth users the clients log in as (each client is a device of its own), round-robin.
    #[arg(long, default_value_t = 50)]
    pub users: usize,
    /// Logins at once (each one password hash on the homeserver).
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    /// The ngircd binary.
    #[arg(long, default_value = "/usr/sbin/ngircd")]
    pub ngircd: String,
    /// Measured rounds (each adds clients/(rounds+1) clients after a warm-up batch); the
    /// figures are the rounds' medians.
    #[arg(long, default_value_t = 4)]
    pub rounds: usize,
    /// Do not create the Hearth devices before the measured connections: every measured
    /// login then creates its device (database rows, cache pages) and the figure counts it.
    #[arg(long)]
    pub new_devices: bool,
}

/// How long the tool waits after a batch before reading a server's memory (the homeserver
/// trims its heap one second after a burst of logins: `homeserver::memory`).
const SETTLE: Duration = Duration::from_secs(3);

const PASSWORD: &str = "irc-idle-password";

/// Connects, registers (with `pass` when given) and reports once `001` came; then answers
/// `PING`s until aborted, or with `quit` says `QUIT` and ends.
async fn idle_client(
    addr: String,
    nick: String,
    pass: Option<String>,
    device: String,
    ready: tokio::sync::mpsc::Sender<bool>,
    quit: bool,
) {
    let Ok(stream) = TcpStream::connect(&addr).await else {
        let _ = ready.send(false).await;
        return;
    };
    let (r, mut w) = stream.into_split();
    let mut lines = BufReader::new(r).lines();
    let mut hello = String::new();
    if let Some(pass) = pass {
        hello.push_str(&format!("PASS :{pass}\r\n"));
    }
    hello.push_str(&format!("NICK {nick}\r\nUSER {device} 0 * :idle\r\n"));
    if w.write_all(hello.as_bytes()).await.is_err() {
        let _ = ready.send(false).await;
        return;
    }
    let mut registered = false;
    while let Ok(Some(line)) = lines.next_line().await {
        let mut words = line.split(' ');
        let first = words.next().unwrap_or("");
        let command = if first.starts_with(':') || first.starts_with('@') {
            words.next().unwrap_or("")
        } else {
            first
        };
        if command == "PING" {
            let token = line.rsplit(' ').next().unwrap_or(":x");
            let _ = w.write_all(format!("PONG {token}\r\n").as_bytes()).await;
        } else if command == "001" && !registered {
            registered = true;
            if quit {
                let _ = w.write_all(b"QUIT\r\n").await;
                let _ = ready.send(true).await;
                return;
            }
            let _ = ready.send(true).await;
        } else if matches!(command, "464" | "ERROR" | "433") && !registered {
            let _ = ready.send(false).await;
            return;
        }
    }
    if !registered {
        let _ = ready.send(false).await;
    }
}

/// Opens `count` clients (`concurrency` registering at once); returns their tasks, how many
/// registered, and how long that took.
async fn open_clients(
    addr: &str,
    count: usize,
    concurrency: usize,
    quit: bool,
    login: impl Fn(usize) -> (String, Option<String>, String),
) -> (Vec<JoinHandle<()>>, usize, Duration) {
    let started = Instant::now();
    let (tx, mut rx) = tokio::sync::mpsc::channel(count.max(1));
    let mut handles = Vec::with_capacity(count);
    let mut ok = 0;
    let mut pending = 0;
    for i in 0..count {
        if pending >= concurrency.max(1) {
            if rx.recv().await == Some(true) {
                ok += 1;
            }
            pending -= 1;
        }
        let (nick, pass, device) = login(i);
        handles.push(actix_web::rt::spawn(idle_client(
            addr.to_string(),
            nick,
            pass,
            device,
            tx.clone(),
            quit,
        )));
        pending += 1;
    }
    while pending > 0 {
        match tokio::time::timeout(Duration::from_secs(60), rx.recv()).await {
            Ok(Some(true)) => ok += 1,
            Ok(Some(false)) => {}
            _ => break,
        }
        pending -= 1;
    }
    (handles, ok, started.elapsed())
}

/// ngIRCd on a free port of 127.0.0.1 with a generated configuration.
struct Ngircd {
    _child: KillOnDrop,
    _dir: tempfile::TempDir,
    pid: u32,
    addr: String,
}

fn start_ngircd(binary: &str) -> Result<Ngircd> {
    let dir = tempfile::tempdir()?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port();
    let config = format!(
        "[Global]\n  Name = ngircd.load.test\n  Info = hearth-load\n  Listen = 127.0.0.1\n  Ports = {port}\n  MotdPhrase = idle\n  PidFile = {dir}/ngircd.pid\n\
         [Limits]\n  MaxConnections = 0\n  MaxConnectionsIP = 0\n  MaxJoins = 0\n  PingTimeout = 600\n  PongTimeout = 600\n  MaxNickLength = 30\n\
         [Options]\n  DNS = no\n  Ident = no\n  PAM = no\n  SyslogFacility = local7\n",
        dir = dir.path().display()
    );
    let path = dir.path().join("ngircd.conf");
    std::fs::write(&path, config)?;
    let child = Command::new(binary)
        .args(["--nodaemon", "--config"])
        .arg(&path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("cannot start {binary} (apt-get install ngircd)"))?;
    let pid = child.id();
    let addr = format!("127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(&addr).is_err() {
        anyhow::ensure!(Instant::now() < deadline, "ngircd did not listen on {addr}");
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(Ngircd {
        _child: KillOnDrop(child),
        _dir: dir,
        pid,
        addr,
    })
}

/// Registers `users` users with [`PASSWORD`], one at a time.
async fn register(http: &Http, prefix: &str, users: usize) -> Result<Vec<String>> {
    let mut nicks = Vec::new();
    for i in 0..users.max(1) {
        let nick = format!("{prefix}{i}");
        let body = json!({"nick": nick, "password": PASSWORD});
        let answer = http
            .call(
                awc::http::Method::POST,
                "/api/v1/register",
                None,
                Some(&body),
            )
            .await?;
        anyhow::ensure!(answer.0 == 201, "register {nick}: {}", answer.0);
        nicks.push(nick);
    }
    Ok(nicks)
}

/// Memory readings of a server after a batch: `(VmRSS, RssAnon)` in KiB.
fn memory(pid: Option<u32>) -> Option<(u64, u64)> {
    let pid = pid?;
    Some((procfs::rss_kib(pid)?, procfs::status_kib(pid, "RssAnon")?))
}

/// One server's measured rounds.
#[derive(Default)]
struct Rounds {
    /// Per round: bytes of `VmRSS` and of `RssAnon` per client.
    per_client: Vec<(f64, f64)>,
    registered: usize,
    opening: Duration,
    handles: Vec<JoinHandle<()>>,
    /// Readings after the warm-up and after the last round.
    first: Option<(u64, u64)>,
    last: Option<(u64, u64)>,
}

impl Rounds {
    /// Opens the warm-up batch and `rounds` measured batches of `batch` clients each.
    async fn run(
        addr: &str,
        pid: Option<u32>,
        batch: usize,
        rounds: usize,
        concurrency: usize,
        login: impl Fn(usize) -> (String, Option<String>, String),
    ) -> Rounds {
        let mut out = Rounds::default();
        let mut before: Option<(u64, u64)> = None;
        for round in 0..=rounds {
            let (handles, ok, took) = open_clients(addr, batch, concurrency, false, |i| {
                login(round * batch + i)
            })
            .await;
            out.handles.extend(handles);
            out.registered += ok;
            out.opening += took;
            actix_web::rt::time::sleep(SETTLE).await;
            let now = memory(pid);
            if round == 0 {
                out.first = now;
            } else if let (Some(b), Some(a)) = (before, now) {
                let per = |b: u64, a: u64| (a as f64 - b as f64) * 1024.0 / ok.max(1) as f64;
                out.per_client.push((per(b.0, a.0), per(b.1, a.1)));
            }
            out.last = now;
            before = now;
        }
        out
    }

    /// The medians of the rounds: `(VmRSS, RssAnon)` bytes per client.
    fn medians(&self) -> Option<(f64, f64)> {
        if self.per_client.is_empty() {
            return None;
        }
        let median = |mut v: Vec<f64>| {
            v.sort_by(f64::total_cmp);
            let n = v.len();
            if n % 2 == 1 {
                v[n / 2]
            } else {
                (v[n / 2 - 1] + v[n / 2]) / 2.0
            }
        };
        Some((
            median(self.per_client.iter().map(|r| r.0).collect()).round(),
            median(self.per_client.iter().map(|r| r.1).collect()).round(),
        ))
    }

    /// The rounds' figures as `a / b / c`.
    fn list(&self, pick: impl Fn(&(f64, f64)) -> f64) -> String {
        self.per_client
            .iter()
            .map(|r| format!("{:.0}", pick(r)))
            .collect::<Vec<_>>()
            .join(" / ")
    }

    fn stop(&self) {
        for h in &self.handles {
            h.abort();
        }
    }
}

/// Runs `irc-idle`.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    let limit = procfs::raise_nofile(2 * args.clients as u64 + 2_000);
    let clients = args.clients.min(limit.saturating_sub(500) as usize / 2);
    let rounds = args.rounds.max(1);
    let batch = (clients / (rounds + 1)).max(1);
    anyhow::ensure!(
        Path::new(&args.ngircd).exists(),
        "{} not found (apt-get install ngircd)",
        args.ngircd
    );
    let target = Target::homeserver(
        common,
        "load.test",
        &[("IRC_PORT", "0"), ("IRC_MAX_PER_ADDRESS", "100000")],
    )?;
    let irc = target
        .process
        .as_ref()
        .and_then(|p| p.irc_addr.clone())
        .context("irc-idle starts its own homeserver (no --url)")?;
    let setup = Instant::now();
    let prefix = format!("irc{}_", tag());
    let nicks = register(&target.http, &prefix, args.users).await?;
    // Hearth: every client a device of its own (a cursor, a stream, a notifier slot).
    let hearth_login = |i: usize| {
        let nick = nicks[i % nicks.len()].clone();
        (nick, Some(PASSWORD.to_string()), format!("d{i}"))
    };
    let total = batch * (rounds + 1);
    let mut created = 0;
    if !args.new_devices {
        // Each device logs in once and quits: the measured logins find their devices.
        let (_, ok, _) = open_clients(&irc, total, args.concurrency, true, hearth_login).await;
        created = ok;
    }
    let setup_s = secs(setup.elapsed());
    actix_web::rt::time::sleep(common.warmup()).await;

    let hearth = Rounds::run(
        &irc,
        target.pid,
        batch,
        rounds,
        args.concurrency,
        hearth_login,
    )
    .await;
    let hold = common.duration().min(Duration::from_secs(60));
    let cpu_before = target.cpu_ticks();
    actix_web::rt::time::sleep(hold).await;
    let hearth_held = memory(target.pid);
    let mut report = Report::new("irc-idle", "clients");
    target.note_cpu(&mut report, cpu_before, hold.as_secs_f64());
    let fds = target.pid.and_then(procfs::open_fds);
    hearth.stop();

    // ngIRCd, the same clients in the same batches.
    let ngircd = start_ngircd(&args.ngircd)?;
    let ng_login = |i: usize| (format!("n{i}"), None, format!("u{i}"));
    let ng = Rounds::run(&ngircd.addr, Some(ngircd.pid), batch, rounds, 64, ng_login).await;
    actix_web::rt::time::sleep(hold).await;
    let ng_held = memory(Some(ngircd.pid));
    ng.stop();

    report.count = hearth.registered as u64;
    report.seconds = hold.as_secs_f64();
    report.errors = (2 * total - hearth.registered - ng.registered) as u64;
    let hearth_median = hearth.medians();
    let ng_median = ng.medians();
    if let Some((rss, anon)) = hearth_median {
        report.note("hearth_bytes_per_client", rss);
        report.note("hearth_anon_bytes_per_client", anon);
        report.note("hearth_rounds_bytes", hearth.list(|r| r.0));
        report.note("hearth_rounds_anon_bytes", hearth.list(|r| r.1));
    }
    if let Some((rss, anon)) = ng_median {
        report.note("ngircd_bytes_per_client", rss);
        report.note("ngircd_anon_bytes_per_client", anon);
        report.note("ngircd_rounds_bytes", ng.list(|r| r.0));
        report.note("ngircd_rounds_anon_bytes", ng.list(|r| r.1));
    }
    if let (Some(h), Some(n)) = (hearth_median, ng_median) {
        let ratio = |h: f64, n: f64| (n > 0.0).then(|| (h / n * 100.0).round() / 100.0);
        if let Some(r) = ratio(h.0, n.0) {
            report.note("ratio_hearth_to_ngircd", r);
        }
        if let Some(r) = ratio(h.1, n.1) {
            report.note("ratio_anon_hearth_to_ngircd", r);
        }
    }
    // Whether the memory stayed put while the clients idled for `--duration`.
    for (name, rounds, held) in [("hearth", &hearth, hearth_held), ("ngircd", &ng, ng_held)] {
        if let (Some(first), Some(last), Some(held)) = (rounds.first, rounds.last, held) {
            report.note(&format!("{name}_rss_after_warmup_kib"), first.0);
            report.note(&format!("{name}_rss_after_rounds_kib"), last.0);
            report.note(&format!("{name}_rss_after_idle_kib"), held.0);
        }
    }
    report.note("clients_per_round", batch as u64);
    report.note("rounds", rounds as u64);
    report.note("hearth_clients_registered", hearth.registered as u64);
    report.note("ngircd_clients_registered", ng.registered as u64);
    report.note(
        "hearth_devices",
        if args.new_devices {
            "created by the measured logins".to_string()
        } else {
            format!("{created} created before the rounds")
        },
    );
    report.note("hearth_open_s", secs(hearth.opening));
    report.note("ngircd_open_s", secs(ng.opening));
    report.note("users", nicks.len() as u64);
    report.note("setup_s", setup_s);
    if let Some(fds) = fds {
        report.note("hearth_open_fds", fds as u64);
    }
    report.note(
        "build",
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        },
    );
    target.finish(&mut report);
    Ok(report)
}
