//! The `hearth` command against a real homeserver: accounts, channels, messages, history,
//! `tail` seeing another user's message, `--json` output and exit codes.

use std::process::Stdio;
use std::time::Duration;

use hearth_tests::cli::Hearth;
use hearth_tests::process::{line_channel, wait_bounded, wait_for_line, Homeserver as Server};
use hearth_tests::unique;

#[test]
fn register_join_send_history_json() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    let out = h.run(
        "bob",
        &["--json", "register", "bob", "--password-stdin"],
        "correct horse battery\n",
    );
    assert!(out.status.success());
    let reg: serde_json::Value = serde_json::from_slice(&out.stdout).expect("register --json");
    assert_eq!(reg["user"]["handle"], "bob@hs1");
    assert!(reg.get("token").is_none(), "tokens are never printed");

    let joined = h.json("alice", &["join", "#room"]);
    assert_eq!(joined["name"], "#room@hs1");
    h.json("bob", &["join", "#room"]);

    let sent = h.json("alice", &["send", "#room", "hello", "world"]);
    assert_eq!(sent["body"], "hello world");
    assert_eq!(sent["from"], "alice@hs1");
    let piped = h.run("bob", &["--json", "send", "#room"], "from stdin\n");
    assert!(
        piped.status.success(),
        "{}",
        String::from_utf8_lossy(&piped.stderr)
    );
    let piped: serde_json::Value = serde_json::from_slice(&piped.stdout).expect("send --json");
    assert_eq!(piped["body"], "from stdin");

    let history = h.json("alice", &["history", "#room", "-n", "10"]);
    let bodies: Vec<&str> = history["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["type"] == "message")
        .filter_map(|e| e["body"].as_str())
        .collect();
    assert_eq!(bodies, ["from stdin", "hello world"], "newest first");
    let text = h.ok("alice", &["history", "#room"]);
    let hello = text.find("<alice> hello world").expect("readable history");
    let stdin_line = text.find("<bob> from stdin").expect("readable history");
    assert!(
        hello < stdin_line,
        "readable history is oldest first:\n{text}"
    );

    let channels = h.json("alice", &["channels"]);
    assert_eq!(channels["channels"][0]["name"], "#room@hs1");
    let info = h.json("alice", &["info", "#room"]);
    assert_eq!(info["members"].as_array().map(Vec::len), Some(2));
    let topic = h.json("alice", &["topic", "#room", "all", "about", "rooms"]);
    assert_eq!(topic["topic"], "all about rooms");
    let mode = h.json("alice", &["mode", "#room", "+v", "bob"]);
    assert!(mode["members"]
        .as_array()
        .expect("members")
        .iter()
        .any(|m| m["handle"] == "bob@hs1" && m["modes"] == "v"));
    let whois = h.json("alice", &["whois", "bob"]);
    assert_eq!(whois["handle"], "bob@hs1");
    let server_info = h.json("alice", &["server"]);
    assert_eq!(server_info["name"], "hs1");
    let dm = h.json("alice", &["dm", "bob", "psst"]);
    assert_eq!(dm["to"], "bob@hs1");
    let dm_history = h.json("bob", &["history", "alice"]);
    assert_eq!(dm_history["events"][0]["body"], "psst");
    let renamed = h.json("bob", &["nick", "robert"]);
    assert_eq!(renamed["handle"], "robert@hs1");
    let profiles = h.json("bob", &["profiles"]);
    assert_eq!(profiles["profiles"].as_array().map(Vec::len), Some(2));
}

#[test]
fn profile_file_is_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("carol");
    let path = h.config.path().join("hearth/profiles/carol.json");
    let mode = std::fs::metadata(&path)
        .expect("profile written")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600);
    let text = std::fs::read_to_string(&path).expect("profile");
    assert!(text.contains("\"token\""));
    // Login through the environment variable makes a second device in another profile.
    let out = h.run_env(
        "carol2",
        &["--json", "login", "carol"],
        "",
        &[("HEARTH_PASSWORD", "correct horse battery")],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let login: serde_json::Value = serde_json::from_slice(&out.stdout).expect("login --json");
    assert_eq!(login["user"]["handle"], "carol@hs1");
    h.ok("carol2", &["logout"]);
    let after = h.run("carol2", &["channels"], "");
    assert_eq!(after.status.code(), Some(4), "logged out profile: exit 4");
}

#[test]
fn tail_sees_a_message_from_another_user_and_resumes() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.ok("alice", &["join", "#tails"]);
    h.ok("bob", &["join", "#tails"]);

    let mut tail = h
        .cmd("alice")
        .args(["--json", "tail", "#tails", "--type", "message"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tail");
    let lines = line_channel(tail.stdout.take().expect("stdout"));
    let body = unique("live-");
    h.ok("bob", &["send", "#tails", &body]);
    let seen = wait_for_line(&lines, Duration::from_secs(20), |l| l.contains(&body));
    // Ctrl-C ends tail cleanly, with its cursor saved.
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &tail.id().to_string()])
        .status();
    assert!(interrupted.is_ok_and(|s| s.success()));
    let status = wait_bounded(tail, Duration::from_secs(10)).status;
    assert!(status.success(), "tail exits 0 on Ctrl-C: {status:?}");
    let seen = seen.unwrap_or_else(|seen| panic!("tail did not show bob's message; saw {seen:?}"));
    for line in &seen {
        let event: serde_json::Value =
            serde_json::from_str(line).expect("tail --json prints one JSON event a line");
        assert_eq!(event["type"], "message");
    }
    let last: serde_json::Value = serde_json::from_str(seen.last().expect("a line")).expect("json");
    assert_eq!(last["from"], "bob@hs1");

    // The next tail resumes after what was shown: the first message it prints is the new one.
    let second = unique("second-");
    h.ok("bob", &["send", "#tails", &second]);
    let out = h.run(
        "alice",
        &[
            "--json", "tail", "#tails", "--type", "message", "--count", "1",
        ],
        "",
    );
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains(&second) && !text.contains(&body),
        "resumed tail printed: {text}"
    );
}

#[test]
fn exit_codes_say_what_went_wrong() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("dave");
    h.ok("dave", &["join", "#mine"]);
    h.register("erin");
    let code =
        |profile: &str, args: &[&str], stdin: &str| h.run(profile, args, stdin).status.code();

    assert_eq!(code("nobody", &["channels"], ""), Some(4), "not logged in");
    assert_eq!(
        code(
            "x",
            &["register", "dave", "--password-stdin"],
            "correct horse battery\n"
        ),
        Some(7),
        "nick taken"
    );
    assert_eq!(
        code(
            "y",
            &["login", "dave", "--password-stdin"],
            "wrong password\n"
        ),
        Some(4),
        "bad password"
    );
    assert_eq!(
        code("dave", &["info", "#nosuchchannel"], ""),
        Some(6),
        "not found"
    );
    assert_eq!(code("dave", &["join", "#bad name"], ""), Some(8), "invalid");
    assert_eq!(code("erin", &["join", "#mine"], ""), Some(0));
    assert_eq!(
        code("erin", &["topic", "#mine", "mine now"], ""),
        Some(5),
        "+t: operators only"
    );
    assert_eq!(
        code("dave", &["send", "#mine"], "   \n"),
        Some(2),
        "empty message"
    );
    let unreachable = Hearth::new("http://127.0.0.1:9");
    assert_eq!(
        unreachable.run("dave", &["server"], "").status.code(),
        Some(11),
        "unreachable"
    );
    let bad_url = Hearth::new("not a url");
    assert_eq!(
        bad_url.run("dave", &["server"], "").status.code(),
        Some(8),
        "bad URL"
    );

    let out = h.run("dave", &["--json", "info", "#nosuchchannel"], "");
    let err: serde_json::Value =
        serde_json::from_slice(&out.stderr).expect("--json errors are JSON on stderr");
    assert_eq!(err["error"]["exit"], 6);
    assert!(err["error"]["code"].is_string());
}

#[test]
fn edit_delete_react_and_thread() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.json("alice", &["join", "#rich"]);
    h.json("bob", &["join", "#rich"]);
    let sent = h.json("alice", &["send", "#rich", "helo"]);
    let id = sent["id"].as_str().expect("id").to_string();

    let edited = h.json("alice", &["edit", &id, "hello"]);
    assert_eq!(edited["type"], "edit");
    assert_eq!(edited["target"], id.as_str());
    let code = |profile: &str, args: &[&str]| h.run(profile, args, "").status.code();
    assert_eq!(
        code("bob", &["edit", &id, "mine"]),
        Some(5),
        "not the sender"
    );

    let reacted = h.json("bob", &["react", &id, "👍"]);
    assert_eq!(reacted["type"], "reaction");
    assert_eq!(reacted["body"], "👍");
    assert_eq!(
        h.json("bob", &["react", &id, "👍"])["id"],
        reacted["id"],
        "a repeat answers the first"
    );
    assert_eq!(code("bob", &["react", &id, "ok"]), Some(8), "not an emoji");
    let shown = h.json("bob", &["show", &id]);
    assert_eq!(shown["body"], "hello");
    assert_eq!(shown["edited"]["count"], 1);
    assert_eq!(shown["reactions"][0]["me"], true);
    let text = h.ok("bob", &["show", &id]);
    assert!(text.contains("<alice> hello (edited)  [👍 1]"), "{text}");

    let answer = h.json("bob", &["send", "#rich", "an answer", "--reply-to", &id]);
    let thread = h.json("alice", &["thread", &id]);
    assert_eq!(thread["root"]["replies"]["count"], 1);
    assert_eq!(thread["replies"][0]["id"], answer["id"]);
    let text = h.ok("alice", &["thread", &id]);
    assert!(text.contains("↳") && text.contains("an answer"), "{text}");

    let withdrawn = h.json("bob", &["react", &id, "👍", "--remove"]);
    assert_eq!(withdrawn["type"], "delete");
    assert_eq!(withdrawn["target"], reacted["id"]);
    assert_eq!(code("bob", &["delete", &id]), Some(5), "not the sender");
    let deleted = h.json("alice", &["delete", &id]);
    assert_eq!(deleted["type"], "delete");
    assert_eq!(code("alice", &["edit", &id, "again"]), Some(7), "deleted");
    let history = h.ok("bob", &["history", "#rich"]);
    assert!(history.contains("<alice> [deleted]"), "{history}");
    assert!(!history.contains("hello"), "{history}");
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        code("alice", &["show", &unknown]),
        Some(6),
        "no such message"
    );
}
