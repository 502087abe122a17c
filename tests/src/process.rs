//! Spawning and stopping real server processes.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use crate::postgres::PgCluster;

/// How long a server may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a one-shot command (an operator subcommand, a `hearth` run) may take.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);

/// Path of a workspace binary in the target directory of this build.
pub fn binary(name: &str) -> PathBuf {
    if let Ok(path) = std::env::var(format!("HEARTH_{}_BIN", name.to_uppercase())) {
        return PathBuf::from(path);
    }
    // The test executable lives in target/<profile>/deps/.
    let exe = std::env::current_exe().expect("current_exe");
    let profile_dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>");
    let path = profile_dir.join(name);
    assert!(
        path.exists(),
        "{} does not exist: build the binaries first (cargo build --workspace --bins)",
        path.display()
    );
    path
}

/// A `homeserver` process.
pub type Homeserver = ServerProcess;

/// A running server process (`homeserver` or `directory`) with its own data directory.
pub struct ServerProcess {
    /// Which binary.
    bin: &'static str,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    /// The server's name.
    pub name: String,
    data: tempfile::TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
    /// `ADDR:PORT` of the IRC gateway, when the server was started with `IRC_PORT`.
    pub irc_addr: Option<String>,
    /// `ADDR:PORT` of the IRC gateway over TLS, when started with `IRC_TLS_PORT`.
    pub ircs_addr: Option<String>,
    /// The throwaway Postgres cluster of a homeserver run with `HEARTH_TEST_BACKEND=postgres`
    /// (stopped after the process, as fields drop after `Drop::drop`).
    _pg: Option<PgCluster>,
}

/// The homeserver's rate limits, turned `off` for every homeserver the harness starts unless
/// its test sets them (tests/tests/limits.rs does).
pub const RATE_LIMITS_OFF: [&str; 4] = [
    "RATE_LIMIT_SEND",
    "RATE_LIMIT_LOGIN",
    "RATE_LIMIT_FEDERATION",
    "RATE_LIMIT_TYPING",
];

/// Whether homeservers started without a `DBURL` get a throwaway Postgres database
/// (`HEARTH_TEST_BACKEND=postgres`, used by `scripts/test` to run the suite on both backends).
pub fn postgres_backend() -> bool {
    std::env::var("HEARTH_TEST_BACKEND").is_ok_and(|v| v == "postgres")
}

impl ServerProcess {
    /// Starts a homeserver named `name` with default settings.
    pub fn start(name: &str) -> ServerProcess {
        Self::start_with(name, &[])
    }

    /// Starts a homeserver with extra environment variables.
    pub fn start_with(name: &str, env: &[(&str, &str)]) -> ServerProcess {
        Self::launch("homeserver", name, env)
    }

    /// Starts a directory with extra environment variables.
    pub fn directory(name: &str, env: &[(&str, &str)]) -> ServerProcess {
        Self::launch("directory", name, env)
    }

    fn launch(bin: &'static str, name: &str, env: &[(&str, &str)]) -> ServerProcess {
        let mut server = Self::prepare_bin(bin, name, env);
        server.spawn();
        server
    }

    /// A homeserver with its data directory and settings (and, with
    /// `HEARTH_TEST_BACKEND=postgres`, its own empty database), not started yet: run
    /// subcommands on it first (`homeserver restore`), then [`ServerProcess::start_prepared`].
    pub fn prepare(name: &str, env: &[(&str, &str)]) -> ServerProcess {
        Self::prepare_bin("homeserver", name, env)
    }

    /// Starts a process made by [`ServerProcess::prepare`].
    pub fn start_prepared(&mut self) {
        assert!(self.child.is_none(), "already running");
        self.spawn();
    }

    /// The operating system's id of the running process.
    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// The value of a setting this process runs with (`DBURL` under
    /// `HEARTH_TEST_BACKEND=postgres`), if the test or the harness set it.
    pub fn setting(&self, key: &str) -> Option<&str> {
        self.env
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    fn prepare_bin(bin: &'static str, name: &str, env: &[(&str, &str)]) -> ServerProcess {
        let data = tempfile::tempdir().expect("tempdir");
        let mut env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let pg = if bin == "homeserver"
            && postgres_backend()
            && !env.iter().any(|(k, _)| k == "DBURL")
        {
            let cluster =
                PgCluster::start().unwrap_or_else(|e| panic!("HEARTH_TEST_BACKEND=postgres: {e}"));
            env.push(("DBURL".to_string(), cluster.database()));
            Some(cluster)
        } else {
            None
        };
        ServerProcess {
            bin,
            url: String::new(),
            name: name.to_string(),
            data,
            env,
            child: None,
            irc_addr: None,
            ircs_addr: None,
            _pg: pg,
        }
    }

    /// Runs `sql` with `psql` in the throwaway Postgres database of a homeserver started with
    /// `HEARTH_TEST_BACKEND=postgres`: its output, unaligned and without headers. `None` when
    /// it runs on SQLite (or on a database its test chose).
    pub fn pg_query(&self, sql: &str) -> Option<String> {
        let pg = self._pg.as_ref()?;
        Some(pg.query(self.setting("DBURL")?, sql))
    }

    /// The data directory.
    pub fn data_dir(&self) -> &Path {
        self.data.path()
    }

    fn spawn(&mut self) {
        // A restart keeps the port it had, so clients can reconnect to the same URL.
        let port = self
            .url
            .rsplit(':')
            .next()
            .filter(|p| !p.is_empty())
            .unwrap_or("0")
            .to_string();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.data.path().join("server.log"))
            .expect("log file");
        let mut cmd = self.command(&port);
        cmd.stdout(Stdio::piped()).stderr(Stdio::from(log));
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin));
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = mpsc::channel();
        let (irc_tx, irc_rx) = mpsc::channel();
        let (ircs_tx, ircs_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().trim_end_matches('/').to_string());
                } else if let Some(addr) = line.strip_prefix("irc listening on ") {
                    let _ = irc_tx.send(addr.trim().to_string());
                } else if let Some(addr) = line.strip_prefix("ircs listening on ") {
                    let _ = ircs_tx.send(addr.trim().to_string());
                }
            }
        });
        let wants = |var: &str| self.env.iter().any(|(k, v)| k == var && !v.is_empty());
        let (wants_irc, wants_ircs) = (wants("IRC_PORT"), wants("IRC_TLS_PORT"));
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(url) => self.url = url,
            Err(_) => {
                let _ = child.kill();
                let log = std::fs::read_to_string(self.data.path().join("server.log"))
                    .unwrap_or_default();
                panic!(
                    "{} {} printed no ready line within {READY_TIMEOUT:?}; its log:\n{log}",
                    self.bin, self.name
                );
            }
        }
        if wants_irc {
            match irc_rx.recv_timeout(READY_TIMEOUT) {
                Ok(addr) => self.irc_addr = Some(addr),
                Err(_) => {
                    let _ = child.kill();
                    panic!("{} printed no `irc listening on` line", self.name);
                }
            }
        }
        if wants_ircs {
            match ircs_rx.recv_timeout(READY_TIMEOUT) {
                Ok(addr) => self.ircs_addr = Some(addr),
                Err(_) => {
                    let _ = child.kill();
                    panic!("{} printed no `ircs listening on` line", self.name);
                }
            }
        }
        self.child = Some(child);
    }

    /// The binary with this server's settings (`PORT` aside, the ones it runs with).
    fn command(&self, port: &str) -> Command {
        let port_arg = port;
        let mut cmd = Command::new(binary(self.bin));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", port)
            .env("BIND", "127.0.0.1")
            .env("DATA_DIR", self.data.path())
            .env("SERVER_NAME", &self.name)
            .env("RUST_LOG", "info")
            .stdin(Stdio::null());
        if self.bin == "homeserver" {
            // Scenarios register many users from 127.0.0.1 and send in bursts: rate limits are
            // off unless a test sets them (its `env` comes after and wins).
            for var in RATE_LIMITS_OFF {
                cmd.env(var, "off");
            }
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        // A restart keeps the IRC port too.
        if let Some(port) = self.irc_addr.as_deref().and_then(|a| a.rsplit(':').next()) {
            if port_arg != "0" {
                cmd.env("IRC_PORT", port);
            }
        }
        cmd
    }

    /// Runs the binary with `args` (a subcommand such as `directory servers list`) on this
    /// server's data directory and settings, and waits for it (bounded).
    pub fn run(&self, args: &[&str]) -> Output {
        let child = self
            .command("0")
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin));
        wait_bounded(child, COMMAND_TIMEOUT)
    }

    /// The command [`ServerProcess::run`] would run, to start it while the test goes on
    /// (`homeserver backup` while senders send); wait for it with [`wait_bounded`].
    pub fn subcommand(&self, args: &[&str]) -> Command {
        let mut cmd = self.command("0");
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd
    }

    /// Like [`ServerProcess::run`], with `input` on its standard input.
    pub fn run_with_input(&self, args: &[&str], input: &str) -> Output {
        use std::io::Write as _;
        let mut child = self
            .command("0")
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {}: {e}", self.bin));
        if let Some(mut stdin) = child.stdin.take() {
            stdin.write_all(input.as_bytes()).expect("write stdin");
        }
        wait_bounded(child, COMMAND_TIMEOUT)
    }

    /// The port it listens on (kept across [`ServerProcess::restart`]).
    pub fn port(&self) -> u16 {
        self.url
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .expect("a port in the URL")
    }

    /// Kills the process (like a crash: no graceful shutdown) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills and starts again on the same data directory and port.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.data.path().join("server.log")).unwrap_or_default()
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `bin` (`homeserver` or `directory`) on an ephemeral port of 127.0.0.1 with a
/// temporary data directory and `env`, for a start that must fail: waits for it to exit
/// (bounded) and returns its output.
pub fn start_failing(bin: &str, env: &[(&str, &str)]) -> Output {
    let data = tempfile::tempdir().expect("tempdir");
    let child = Command::new(binary(bin))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", "0")
        .env("BIND", "127.0.0.1")
        .env("DATA_DIR", data.path())
        .env("SERVER_NAME", "failing.test")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {bin}: {e}"));
    wait_bounded(child, COMMAND_TIMEOUT)
}

/// Path of a cargo example of this build (`target/<profile>/examples/<name>`), built by
/// `cargo test -p <its crate>` or `cargo build --examples`.
pub fn example(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    let path = exe
        .parent()
        .and_then(Path::parent)
        .expect("target/<profile>")
        .join("examples")
        .join(name);
    assert!(
        path.exists(),
        "example {name} not built: run `cargo build --examples` (cargo test builds them)"
    );
    path
}

/// A child process that is killed (and reaped) when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Forwards the lines of a child's stdout to a channel (a thread per stream).
pub fn line_channel(stdout: ChildStdout) -> Receiver<String> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    rx
}

/// Waits for the first line that satisfies `pred`, up to `timeout`; returns every line read
/// (`Err` with them if none matched in time or the stream ended).
pub fn wait_for_line(
    rx: &Receiver<String>,
    timeout: Duration,
    pred: impl Fn(&str) -> bool,
) -> Result<Vec<String>, Vec<String>> {
    let deadline = Instant::now() + timeout;
    let mut seen = Vec::new();
    loop {
        match rx.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                let hit = pred(&line);
                seen.push(line);
                if hit {
                    return Ok(seen);
                }
            }
            Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => return Err(seen),
        }
    }
}

/// Waits for a child with a deadline, killing it (by its pid) when the deadline passes.
pub fn wait_bounded(child: Child, timeout: Duration) -> Output {
    let pid = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => out.expect("wait for the child"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("command did not finish within {timeout:?}");
        }
    }
}
