//! `irc-idle`: N idle, registered IRC clients against the homeserver's IRC gateway, and the
//! same N against an ngIRCd (Debian's `ngircd`) started here with a generated configuration,
//! in the same run: the server memory each client costs on both.

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
    #[arg(long, default_value_t = 1000)]
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
}

const PASSWORD: &str = "irc-idle-password";

/// Connects, registers (with `pass` when given) and returns once `001` came; then answers
/// `PING`s until aborted.
async fn idle_client(
    addr: String,
    nick: String,
    pass: Option<String>,
    device: String,
    ready: tokio::sync::mpsc::Sender<bool>,
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

/// Runs `irc-idle`.
pub async fn run(common: &Common, args: &Args) -> Result<Report> {
    let limit = procfs::raise_nofile(2 * args.clients as u64 + 2_000);
    let clients = args.clients.min(limit.saturating_sub(500) as usize / 2);
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
    let setup_s = secs(setup.elapsed());
    actix_web::rt::time::sleep(common.warmup()).await;

    // Each server gets the clients in two equal halves, and the figure is the growth over the
    // second half: what the first half set up once (thread pools, allocator arenas after the
    // password hashes, caches) is not counted per client.
    let half = (clients / 2).max(1);
    // Hearth: every client a device of its own (a cursor, a stream, a notifier slot).
    let hearth_login = |i: usize| {
        let nick = nicks[i % nicks.len()].clone();
        (nick, Some(PASSWORD.to_string()), format!("d{i}"))
    };
    let (mut handles, first_ok, first_open) =
        open_clients(&irc, half, args.concurrency, hearth_login).await;
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let before = target.rss_kib();
    let (more, second_ok, second_open) =
        open_clients(&irc, half, args.concurrency, |i| hearth_login(i + half)).await;
    handles.extend(more);
    let hold = common.duration().min(Duration::from_secs(60));
    let cpu_before = target.cpu_ticks();
    actix_web::rt::time::sleep(hold).await;
    let after = target.rss_kib();
    let mut report = Report::new("irc-idle", "clients");
    target.note_cpu(&mut report, cpu_before, hold.as_secs_f64());
    let fds = target.pid.and_then(procfs::open_fds);
    for h in &handles {
        h.abort();
    }
    let hearth_ok = first_ok + second_ok;
    let hearth_open = first_open + second_open;

    // ngIRCd, the same clients in the same halves.
    let ngircd = start_ngircd(&args.ngircd)?;
    let ng_login = |i: usize| (format!("n{i}"), None, format!("u{i}"));
    let (mut ng_handles, ng_first, ng_open_1) =
        open_clients(&ngircd.addr, half, 64, ng_login).await;
    actix_web::rt::time::sleep(Duration::from_secs(2)).await;
    let ng_before = procfs::rss_kib(ngircd.pid);
    let (more, ng_second, ng_open_2) =
        open_clients(&ngircd.addr, half, 64, |i| ng_login(i + half)).await;
    ng_handles.extend(more);
    actix_web::rt::time::sleep(hold).await;
    let ng_after = procfs::rss_kib(ngircd.pid);
    for h in &ng_handles {
        h.abort();
    }
    let ng_ok = ng_first + ng_second;
    let ng_open = ng_open_1 + ng_open_2;

    report.count = hearth_ok as u64;
    report.seconds = hold.as_secs_f64();
    report.errors = (2 * half - hearth_ok) as u64 + (2 * half - ng_ok) as u64;
    let per_client = |b: Option<u64>, a: Option<u64>, n: usize| {
        b.zip(a)
            .map(|(b, a)| ((a as f64 - b as f64) * 1024.0 / n.max(1) as f64).round())
    };
    let hearth_per = per_client(before, after, second_ok);
    let ng_per = per_client(ng_before, ng_after, ng_second);
    if let (Some(b), Some(a)) = (before, after) {
        report.note("hearth_rss_before_kib", b);
        report.note("hearth_rss_after_kib", a);
    }
    if let Some(per) = hearth_per {
        report.note("hearth_bytes_per_client", per);
    }
    if let (Some(b), Some(a)) = (ng_before, ng_after) {
        report.note("ngircd_rss_before_kib", b);
        report.note("ngircd_rss_after_kib", a);
    }
    if let Some(per) = ng_per {
        report.note("ngircd_bytes_per_client", per);
    }
    if let (Some(h), Some(n)) = (hearth_per, ng_per) {
        if n > 0.0 {
            report.note("ratio_hearth_to_ngircd", (h / n * 100.0).round() / 100.0);
        }
    }
    report.note("hearth_clients_registered", hearth_ok as u64);
    report.note("ngircd_clients_registered", ng_ok as u64);
    report.note("hearth_open_s", secs(hearth_open));
    report.note("ngircd_open_s", secs(ng_open));
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
