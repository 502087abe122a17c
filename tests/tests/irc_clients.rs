//! Real IRC clients against the gateway, headless: weechat-headless (driven through its FIFO)
//! and irssi (in a private tmux server). Each logs in as a device, joins, chats with an HTTP
//! user, disconnects, misses messages, reconnects and shows them, and talks with a user of
//! another server by the IRC form of their nick. Their own log files are what is checked.
//! Without the clients the tests are skipped, except under `CI=true`, where that is a failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use hearth_tests::api::{Api, User};
use hearth_tests::eventually;
use hearth_tests::network::federated_with;
use hearth_tests::process::{Homeserver, KillOnDrop};
use serde_json::json;

/// The IRC users' password (no spaces: it is given on command lines).
const IRC_PASSWORD: &str = "irc-clients-password";
const WAIT: Duration = Duration::from_secs(40);

/// Whether `program` is on the PATH; without it the test is skipped, except under `CI=true`.
fn installed(programs: &[&str]) -> bool {
    let missing: Vec<&str> = programs
        .iter()
        .copied()
        .filter(|p| {
            !std::env::var_os("PATH")
                .is_some_and(|path| std::env::split_paths(&path).any(|dir| dir.join(p).is_file()))
        })
        .collect();
    if missing.is_empty() {
        return true;
    }
    let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
    assert!(
        !ci,
        "CI=true and {missing:?} not installed (apt-get install weechat-headless irssi tmux)"
    );
    eprintln!("skipped: {missing:?} not installed");
    false
}

async fn register_irc_user(hs: &Homeserver, nick: &str) {
    Api::new(&hs.url)
        .post(
            "/api/v1/register",
            json!({"nick": nick, "password": IRC_PASSWORD}),
        )
        .await
        .expect(201);
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Waits until the file at `path` contains `text`.
async fn shows(path: &Path, text: &str) {
    let deadline = std::time::Instant::now() + WAIT;
    while !read(path).contains(text) {
        assert!(
            std::time::Instant::now() < deadline,
            "no {text:?} in {} within {WAIT:?}; it has:\n{}\nbeside: {:?}",
            path.display(),
            read(path),
            path.parent()
                .and_then(|d| std::fs::read_dir(d).ok())
                .map(|d| d.flatten().map(|e| e.file_name()).collect::<Vec<_>>())
        );
        actix_web::rt::time::sleep(Duration::from_millis(50)).await;
    }
}

fn port_of(addr: &str) -> &str {
    addr.rsplit(':').next().expect("a port")
}

/// weechat-headless with its own directory, connected to `irc` as `nick` on device `device`.
struct Weechat {
    dir: tempfile::TempDir,
    _child: KillOnDrop,
}

impl Weechat {
    fn start(irc: &str, nick: &str, device: &str, channel: &str) -> Weechat {
        let dir = tempfile::tempdir().expect("tempdir");
        let logs = dir.path().join("logs");
        let commands = [
            format!("/set logger.file.path {}", logs.display()),
            "/set logger.file.flush_delay 0".to_string(),
            "/set logger.level.irc 9".to_string(),
            format!(
                "/server add hearth 127.0.0.1/{} -notls -password={IRC_PASSWORD} -username={device} -nicks={nick} -autojoin={channel}",
                port_of(irc)
            ),
            "/connect hearth".to_string(),
        ];
        let child = Command::new("weechat-headless")
            .arg("--dir")
            .arg(dir.path())
            .arg("-r")
            .arg(commands.join(";"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn weechat-headless");
        Weechat {
            dir,
            _child: KillOnDrop(child),
        }
    }

    fn log(&self, buffer: &str) -> PathBuf {
        self.dir
            .path()
            .join("logs")
            .join(format!("{buffer}.weechatlog"))
    }

    /// Writes one command to weechat's FIFO (`*text` goes to `buffer`).
    async fn fifo(&self, line: &str) {
        let dir = self.dir.path().to_path_buf();
        let fifo = eventually(
            WAIT,
            "weechat's FIFO (its fifo plugin: package weechat-plugins)",
            || {
                let dir = dir.clone();
                async move {
                    std::fs::read_dir(&dir).ok()?.flatten().find_map(|e| {
                        let name = e.file_name().to_string_lossy().to_string();
                        name.starts_with("weechat_fifo").then(|| e.path())
                    })
                }
            },
        )
        .await;
        std::fs::write(&fifo, format!("{line}\n")).expect("write to weechat's FIFO");
    }
}

#[actix_web::test]
async fn weechat_chats_reconnects_and_misses_nothing() {
    if !installed(&["weechat-headless"]) {
        return;
    }
    let irc_on = vec![("IRC_PORT", "0")];
    let (_dir, servers) = federated_with(&[("hs1.test", irc_on), ("hs2.test", Vec::new())]).await;
    let [hs, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    bob.join("#room").await;
    register_irc_user(&hs, "alice").await;
    let irc = hs.irc_addr.clone().expect("IRC address");

    let weechat = Weechat::start(&irc, "alice", "weechat", "#room");
    let room = weechat.log("irc.hearth.#room");
    shows(&room, "alice (alice@hs1.test) has joined #room").await;
    shows(&room, "Channel #room: 2 nicks").await;

    weechat.fifo("irc.hearth.#room *hello from weechat").await;
    let mut cursor = 0;
    bob.wait_for(&mut cursor, "weechat's message", |e| {
        e["body"] == "hello from weechat"
    })
    .await;
    bob.say("#room", "hello weechat").await;
    shows(&room, "bob\thello weechat").await;

    // Away: what is said meanwhile comes on the next connection.
    let server_log = weechat.log("irc.server.hearth");
    weechat.fifo("*/disconnect hearth").await;
    shows(&server_log, "disconnected from server").await;
    eventually(WAIT, "the gateway noticing", || async {
        hs.log().contains("IRC client left").then_some(())
    })
    .await;
    bob.say("#room", "said while you were away").await;
    weechat.fifo("*/connect hearth").await;
    shows(&room, "bob\tsaid while you were away").await;

    // A user of another server: a DM to the IRC form of their nick, and their answer.
    weechat
        .fifo("irc.server.hearth */msg carol|hs2_test hi from weechat")
        .await;
    let mut carol_cursor = 0;
    carol
        .wait_for(&mut carol_cursor, "weechat's DM", |e| {
            e["body"] == "hi from weechat"
        })
        .await;
    carol.say("alice@hs1.test", "hi from hs2").await;
    let private = weechat.log("irc.hearth.carol|hs2_test");
    shows(&private, "carol|hs2_test\thi from hs2").await;
    drop(hs2);
}

/// irssi in a tmux server of its own, removed when dropped.
struct Irssi {
    home: tempfile::TempDir,
    socket: String,
}

impl Irssi {
    fn start(irc: &str, nick: &str, device: &str) -> Irssi {
        let home = tempfile::tempdir().expect("tempdir");
        let logs = home.path().join("logs");
        let config = format!(
            "settings = {{\n  core = {{ real_name = \"{nick}\"; user_name = \"{device}\"; nick = \"{nick}\"; }};\n  \"fe-common/core\" = {{ autolog = \"yes\"; autolog_path = \"{}/$0.log\"; autolog_level = \"all\"; }};\n}};\n",
            logs.display()
        );
        std::fs::write(home.path().join("config"), config).expect("irssi config");
        let socket = format!("hearth-irc-{}", std::process::id());
        let irssi = format!(
            "irssi --home={} --connect=127.0.0.1 --port={} --password={IRC_PASSWORD} --nick={nick}",
            home.path().display(),
            port_of(irc)
        );
        let status = Command::new("tmux")
            .args([
                "-L",
                &socket,
                "new-session",
                "-d",
                "-x",
                "200",
                "-y",
                "50",
                &irssi,
            ])
            .env_remove("TMUX")
            .status()
            .expect("run tmux");
        assert!(status.success(), "tmux new-session failed");
        Irssi { home, socket }
    }

    fn type_line(&self, line: &str) {
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0", "-l", line])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
        let status = Command::new("tmux")
            .args(["-L", &self.socket, "send-keys", "-t", "0", "Enter"])
            .status()
            .expect("tmux send-keys");
        assert!(status.success());
    }

    fn log(&self, target: &str) -> PathBuf {
        self.home.path().join("logs").join(format!("{target}.log"))
    }
}

impl Drop for Irssi {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.socket, "kill-server"])
            .status();
    }
}

#[actix_web::test]
async fn irssi_chats_reconnects_and_misses_nothing() {
    if !installed(&["irssi", "tmux"]) {
        return;
    }
    let irc_on = vec![("IRC_PORT", "0")];
    let (_dir, servers) = federated_with(&[("hs1.test", irc_on), ("hs2.test", Vec::new())]).await;
    let [hs, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    bob.join("#room").await;
    register_irc_user(&hs, "alice").await;
    let irc = hs.irc_addr.clone().expect("IRC address");

    let irssi = Irssi::start(&irc, "alice", "irssi");
    // Logged in (the gateway says so in its log) before anything is typed.
    eventually(WAIT, "irssi's login", || async {
        hs.log().contains("IRC client logged in").then_some(())
    })
    .await;
    irssi.type_line("/join #room");
    let room = irssi.log("#room");
    shows(&room, "alice [alice@hs1.test] has joined #room").await;
    shows(&room, "Total of 2 nicks").await;

    irssi.type_line("/msg #room hello from irssi");
    let mut cursor = 0;
    bob.wait_for(&mut cursor, "irssi's message", |e| {
        e["body"] == "hello from irssi"
    })
    .await;
    bob.say("#room", "hello irssi").await;
    shows(&room, "bob> hello irssi").await;

    irssi.type_line("/disconnect");
    // The gateway sees the connection end before the message is sent.
    eventually(WAIT, "the gateway noticing", || async {
        hs.log().contains("IRC client left").then_some(())
    })
    .await;
    bob.say("#room", "said while you were away").await;
    irssi.type_line(&format!(
        "/connect 127.0.0.1 {} {IRC_PASSWORD} alice",
        port_of(&irc)
    ));
    shows(&room, "bob> said while you were away").await;

    // A user of another server by the IRC form of their nick, both ways.
    irssi.type_line("/msg carol|hs2_test hi from irssi");
    let mut carol_cursor = 0;
    carol
        .wait_for(&mut carol_cursor, "irssi's DM", |e| {
            e["body"] == "hi from irssi"
        })
        .await;
    carol.say("alice@hs1.test", "hi irssi").await;
    // (irssi writes `|` in a log file's name as `_`.)
    shows(&irssi.log("carol_hs2_test"), "carol|hs2_test> hi irssi").await;
    drop(hs2);
}
