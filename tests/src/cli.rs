//! Running the `hearth` command against a server: a temporary config home shared by its
//! profiles, bounded runs, `--json` parsing. Used by the client crate's end-to-end tests.

use std::io::Write as _;
use std::process::{Command, Output, Stdio};

use crate::process::{binary, wait_bounded, COMMAND_TIMEOUT};

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
        let mut cmd = Command::new(binary("hearth"));
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
        wait_bounded(child, COMMAND_TIMEOUT)
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
