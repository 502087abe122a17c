//! Test harness: a real homeserver process on 127.0.0.1 with an ephemeral port and a temporary
//! data directory, and helpers to run the `hearth` binary against it.
//!
//! The homeserver binary is `<workspace>/target/debug/homeserver` (or under `$CARGO_TARGET_DIR`);
//! build it first with `cargo build -p homeserver`. Tests fail with that advice when it is missing.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

/// How long a server may take to print its ready line.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// Path of the homeserver binary.
pub fn homeserver_bin() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../target"));
    let bin = target.join("debug/homeserver");
    assert!(
        bin.exists(),
        "homeserver binary not found at {}: run `cargo build -p homeserver` first",
        bin.display()
    );
    bin
}

/// A running homeserver; killed on drop. Its data directory outlives restarts.
pub struct Server {
    child: Option<Child>,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// The bound port (kept across [`Server::restart`]).
    pub port: u16,
    /// The server name.
    pub name: String,
    data: tempfile::TempDir,
}

impl Server {
    /// Starts a server named `name` on an ephemeral port with a fresh data directory.
    pub fn start(name: &str) -> Server {
        let data = tempfile::tempdir().expect("temp dir");
        let (child, url, port) = spawn(data.path(), name, 0);
        Server {
            child: Some(child),
            url,
            port,
            name: name.to_string(),
            data,
        }
    }

    /// Kills the process (no graceful shutdown: like a crash).
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port with the same data directory.
    pub fn restart(&mut self) {
        self.kill();
        let (child, url, _) = spawn(self.data.path(), &self.name, self.port);
        assert_eq!(url, self.url, "the restarted server must keep its address");
        self.child = Some(child);
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Spawns the binary and waits for `listening on http://ADDR:PORT` on its stdout.
fn spawn(data: &Path, name: &str, port: u16) -> (Child, String, u16) {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        let mut child = Command::new(homeserver_bin())
            .env("PORT", port.to_string())
            .env("BIND", "127.0.0.1")
            .env("DATA_DIR", data)
            .env("SERVER_NAME", name)
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn homeserver");
        let stdout = child.stdout.take().expect("stdout piped");
        let lines = line_channel(stdout);
        let ready = loop {
            match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
                Ok(line) => {
                    if let Some(url) = line.trim().strip_prefix("listening on ") {
                        break Some(url.to_string());
                    }
                }
                Err(_) => break None,
            }
        };
        if let Some(url) = ready {
            let port = url
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .expect("port in ready line");
            return (child, url, port);
        }
        // The process exited early (e.g. the old one still held the port) or hung: retry
        // until the deadline.
        let _ = child.kill();
        let _ = child.wait();
        assert!(
            Instant::now() < deadline,
            "homeserver did not print its ready line in {START_TIMEOUT:?}"
        );
        // A pause between attempts, not a readiness wait: the port may still be held briefly.
        std::thread::sleep(Duration::from_millis(100));
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

/// Waits for the first line that satisfies `pred`, up to `timeout`; returns every line read.
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

/// A temporary config home for the `hearth` binary, shared by its profiles.
pub struct Hearth {
    /// `XDG_CONFIG_HOME` for runs.
    pub config: tempfile::TempDir,
    /// The server URL passed as `--server`.
    pub server: String,
}

impl Hearth {
    /// A fresh config home for `server`.
    pub fn new(server: &str) -> Hearth {
        Hearth {
            config: tempfile::tempdir().expect("temp dir"),
            server: server.to_string(),
        }
    }

    /// A `hearth` command with the profile, config home and server set.
    pub fn cmd(&self, profile: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hearth"));
        cmd.env("XDG_CONFIG_HOME", self.config.path())
            .env_remove("HEARTH_PASSWORD")
            .env_remove("HEARTH_PROFILE")
            .env_remove("HEARTH_SERVER")
            .args(["--profile", profile, "--server", &self.server]);
        cmd
    }

    /// Runs `hearth --profile P ARGS…` with `stdin` as input; bounded by a timeout.
    pub fn run(&self, profile: &str, args: &[&str], stdin: &str) -> Output {
        self.run_env(profile, args, stdin, &[])
    }

    /// Like [`Hearth::run`] with extra environment variables.
    pub fn run_env(
        &self,
        profile: &str,
        args: &[&str],
        stdin: &str,
        env: &[(&str, &str)],
    ) -> Output {
        let mut child = self
            .cmd(profile)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hearth");
        let mut input = child.stdin.take().expect("stdin piped");
        input.write_all(stdin.as_bytes()).expect("write stdin");
        drop(input);
        wait_bounded(child, Duration::from_secs(30))
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok(&self, profile: &str, args: &[&str]) -> String {
        let out = self.run(profile, args, "");
        assert!(
            out.status.success(),
            "hearth {args:?} failed with {:?}: {}",
            out.status.code(),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 output")
    }

    /// Runs with `--json`, asserts success and parses stdout.
    pub fn json(&self, profile: &str, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let text = self.ok(profile, &all);
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("hearth {args:?}: not JSON ({e}): {text}"))
    }

    /// Registers `nick` (password from stdin) in profile `nick`.
    pub fn register(&self, nick: &str) {
        let out = self.run(
            nick,
            &["register", nick, "--password-stdin"],
            "correct horse battery\n",
        );
        assert!(
            out.status.success(),
            "register {nick}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
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
        Ok(out) => out.expect("wait for hearth"),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            panic!("command did not finish within {timeout:?}");
        }
    }
}

/// A unique suffix so names do not collide between tests sharing nothing but the clock.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}
