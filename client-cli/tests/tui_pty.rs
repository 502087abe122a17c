//! The chat UI in a real pseudo-terminal (tmux): type a message, see it echoed in the message
//! pane, see another user's message arrive live, quit with `/quit`; unread and mention counts
//! from the server, a DM partner's presence, marking read, and typing lines both ways.
//!
//! Needs `tmux` (`apt-get install tmux`). The screen is read with `capture-pane`; a UI has no
//! ready line, so the test polls the screen with a deadline.

use std::path::PathBuf;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use hearth_tests::cli::Hearth;
use hearth_tests::process::{line_channel, wait_bounded, wait_for_line, Homeserver as Server};
use hearth_tests::unique;

/// A tmux server on a private socket, killed on drop.
struct Tmux {
    socket: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmux {
    fn start(width: u16, height: u16, command: &str) -> Tmux {
        let version = Command::new("tmux").arg("-V").output();
        assert!(
            version.is_ok_and(|o| o.status.success()),
            "this test needs tmux to drive the UI in a pseudo-terminal: apt-get install tmux"
        );
        let dir = tempfile::tempdir().expect("temp dir");
        let tmux = Tmux {
            socket: dir.path().join("tmux.sock"),
            _dir: dir,
        };
        let out = tmux.run(&[
            "-f",
            "/dev/null",
            "new-session",
            "-d",
            "-x",
            &width.to_string(),
            "-y",
            &height.to_string(),
            command,
        ]);
        assert!(
            out.status.success(),
            "tmux new-session: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        tmux
    }

    fn run(&self, args: &[&str]) -> Output {
        let mut cmd = Command::new("tmux");
        cmd.arg("-S")
            .arg(&self.socket)
            .args(args)
            .env("TERM", "xterm-256color");
        wait_bounded(
            cmd.stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .expect("tmux"),
            Duration::from_secs(10),
        )
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.run(&["capture-pane", "-p"]).stdout).into_owned()
    }

    fn type_text(&self, text: &str) {
        assert!(self.run(&["send-keys", "-l", text]).status.success());
    }

    fn key(&self, key: &str) {
        assert!(self.run(&["send-keys", key]).status.success());
    }

    fn enter(&self) {
        assert!(self.run(&["send-keys", "Enter"]).status.success());
    }

    fn alive(&self) -> bool {
        self.run(&["has-session"]).status.success()
    }

    /// Polls the screen until `pred` holds (bounded).
    fn wait_screen(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let screen = self.screen();
            if pred(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "screen never showed {what}:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = self.run(&["kill-server"]);
    }
}

/// A line of the message pane (right of the window list) that contains `needle`.
fn pane_has(screen: &str, needle: &str) -> bool {
    screen
        .lines()
        .any(|l| l.contains('│') && l.contains(needle))
}

#[test]
fn chat_ui_echoes_a_sent_message_and_shows_live_ones() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.ok("alice", &["join", "#pty"]);
    h.ok("bob", &["join", "#pty"]);

    let command = format!(
        "env XDG_CONFIG_HOME='{}' '{}' --profile alice --server '{}' chat",
        h.config.path().display(),
        env!("CARGO_BIN_EXE_hearth"),
        server.url
    );
    let tmux = Tmux::start(100, 24, &command);
    tmux.wait_screen("the channel and a connected indicator", |s| {
        s.contains("#pty") && s.contains("● connected")
    });

    let mine = unique("typed-");
    tmux.type_text(&mine);
    tmux.wait_screen("the typed text in the input line", |s| {
        s.lines().any(|l| l.starts_with("> ") && l.contains(&mine))
    });
    tmux.enter();
    let screen = tmux.wait_screen("the sent message echoed", |s| {
        pane_has(s, &format!("<alice> {mine}"))
    });
    assert!(
        !screen
            .lines()
            .any(|l| l.starts_with("> ") && l.contains(&mine)),
        "input line cleared:\n{screen}"
    );

    let theirs = unique("live-");
    let sent = h.json("bob", &["send", "#pty", &theirs]);
    tmux.wait_screen("bob's message, live", |s| {
        pane_has(s, &format!("<bob> {theirs}"))
    });

    // Edits and deletes are shown in place, not as lines of their own.
    let id = sent["id"].as_str().expect("id");
    let fixed = unique("fixed-");
    h.ok("bob", &["edit", id, &fixed]);
    let screen = tmux.wait_screen("bob's message edited in place", |s| {
        pane_has(s, &format!("<bob> {fixed} (edited)"))
    });
    assert!(!screen.contains(&theirs), "the old text is gone:\n{screen}");
    h.ok("bob", &["delete", id]);
    let screen = tmux.wait_screen("bob's message deleted in place", |s| {
        pane_has(s, "<bob> [deleted]")
    });
    assert!(
        !screen.contains(&fixed),
        "the edited text is gone:\n{screen}"
    );

    tmux.type_text("/quit");
    tmux.enter();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive() {
        assert!(Instant::now() < deadline, "/quit did not end the UI");
        std::thread::sleep(Duration::from_millis(50));
    }

    let history = h.json("bob", &["history", "#pty"]);
    let stored = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["body"] == mine.as_str())
        .count();
    assert_eq!(stored, 1, "the typed message is stored once");
}

#[test]
fn chat_ui_shows_unread_counts_marks_read_and_shows_typing() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.ok("alice", &["join", "#main"]);
    h.ok("bob", &["join", "#main"]);
    // Two DMs before the UI starts: only the server knows they are unread.
    h.ok("bob", &["dm", "alice", "one"]);
    h.ok("bob", &["dm", "alice", "two @alice"]);

    let command = format!(
        "env XDG_CONFIG_HOME='{}' '{}' --profile alice --server '{}' chat",
        h.config.path().display(),
        env!("CARGO_BIN_EXE_hearth"),
        server.url
    );
    let tmux = Tmux::start(100, 24, &command);
    // The server's counts: 2 unread, one of them a mention; bob's presence beside his window.
    tmux.wait_screen("the DM window with 2 unread, 1 mention, bob online", |s| {
        s.contains("bob (2) @1 online") && s.contains("● connected")
    });
    h.ok("bob", &["profile", "set", "--status", "away"]);
    tmux.wait_screen("bob away", |s| s.contains("bob (2) @1 away"));

    // bob types in #main, the active window: the typing line shows, then lapses.
    h.ok("bob", &["typing", "#main"]);
    tmux.wait_screen("bob typing", |s| s.contains("bob is typing…"));
    tmux.wait_screen("the typing line gone after 5 s", |s| {
        !s.contains("is typing")
    });

    // alice types (without sending): bob hears it.
    let mut tail = h
        .cmd("bob")
        .args(["--json", "tail", "#main", "--type", "typing", "--no-resume"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn tail");
    let lines = line_channel(tail.stdout.take().expect("stdout"));
    let mut seen = Err(Vec::new());
    for c in ["h", "e", "l", "l", "o", " ", "t", "h", "e", "r", "e"] {
        tmux.type_text(c);
        seen = wait_for_line(&lines, Duration::from_secs(1), |l| l.contains("alice@hs1"));
        if seen.is_ok() {
            break;
        }
    }
    let _ = tail.kill();
    let _ = wait_bounded(tail, Duration::from_secs(10));
    assert!(seen.is_ok(), "bob never saw alice typing: {seen:?}");
    tmux.key("C-u");

    // Viewing the DM window clears its count here and on the server.
    tmux.key("Tab");
    tmux.wait_screen("the DM window read", |s| {
        pane_has(s, "<bob> two @alice") && !s.contains("bob (2)")
    });
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let convs = h.json("alice", &["conversations"]);
        let dm = convs["conversations"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["target"] == "bob@hs1").cloned());
        if dm.as_ref().is_some_and(|dm| dm["unread"] == 0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server still counts the DM unread: {dm:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    tmux.type_text("/quit");
    tmux.enter();
    let deadline = Instant::now() + Duration::from_secs(10);
    while tmux.alive() {
        assert!(Instant::now() < deadline, "/quit did not end the UI");
        std::thread::sleep(Duration::from_millis(50));
    }
}
