//! The read-state, profile and typing subcommands against a real homeserver: `read`,
//! `receipts`, `conversations`, `profile set`, `users search` and `typing`, with and without
//! `--json`, and their exit codes.

use std::process::Stdio;
use std::time::Duration;

use hearth_tests::cli::Hearth;
use hearth_tests::process::{line_channel, wait_bounded, wait_for_line, Homeserver as Server};

fn find<'a>(list: &'a serde_json::Value, key: &str, value: &str) -> &'a serde_json::Value {
    list.as_array()
        .and_then(|items| items.iter().find(|c| c[key] == value))
        .unwrap_or_else(|| panic!("no {key} = {value} in {list}"))
}

#[test]
fn read_receipts_and_conversations() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.json("alice", &["join", "#rd"]);
    h.json("bob", &["join", "#rd"]);
    let first = h.json("alice", &["send", "#rd", "good morning"]);
    let second = h.json("alice", &["send", "#rd", "@bob coffee?"]);
    let first = first["id"].as_str().expect("id").to_string();
    let second = second["id"].as_str().expect("id").to_string();
    h.json("alice", &["dm", "bob", "psst"]);

    let convs = h.json("bob", &["conversations"]);
    let rd = find(&convs["conversations"], "target", "#rd@hs1");
    assert_eq!(rd["kind"], "channel");
    assert_eq!(rd["unread"], 2);
    assert_eq!(rd["mentions"], 1);
    let dm = find(&convs["conversations"], "target", "alice@hs1");
    assert_eq!(dm["kind"], "dm");
    assert_eq!(dm["unread"], 1);
    let table = h.ok("bob", &["conversations"]);
    let header = table.lines().next().expect("a header");
    for column in ["TARGET", "KIND", "UNREAD", "MENTIONS", "LAST ACTIVITY"] {
        assert!(header.contains(column), "{table}");
    }
    let row = table
        .lines()
        .find(|l| l.starts_with("#rd@hs1"))
        .unwrap_or_else(|| panic!("no #rd row:\n{table}"));
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(&cells[..4], ["#rd@hs1", "channel", "2", "1"], "{table}");

    let read = h.json("bob", &["read", "#rd", &second]);
    assert_eq!(read["moved"], true);
    assert_eq!(read["last_read"], second.as_str());
    assert_eq!(read["target"], "#rd@hs1");
    let text = h.ok("bob", &["read", "#rd", &first]);
    assert!(
        text.contains("not moved") && text.contains(&second),
        "{text}"
    );

    let convs = h.json("bob", &["conversations"]);
    assert_eq!(
        find(&convs["conversations"], "target", "#rd@hs1")["unread"],
        0
    );

    let receipts = h.json("alice", &["receipts", &second]);
    let bob = find(&receipts["read_by"], "user", "bob@hs1");
    assert!(bob["ts"].is_string());
    let text = h.ok("alice", &["receipts", &second]);
    assert!(text.starts_with("bob "), "{text}");

    let code = |profile: &str, args: &[&str]| h.run(profile, args, "").status.code();
    let unknown = uuid::Uuid::new_v4().to_string();
    assert_eq!(
        code("alice", &["receipts", &unknown]),
        Some(6),
        "no such message"
    );
    assert_eq!(
        code("bob", &["read", "#rd", &unknown]),
        Some(6),
        "no such message"
    );
    assert_eq!(
        code("bob", &["read", "alice", &first]),
        Some(8),
        "a message of another conversation"
    );
    let out = h.run("bob", &["--json", "read", "alice", &first], "");
    let err: serde_json::Value = serde_json::from_slice(&out.stderr).expect("JSON error");
    assert_eq!(err["error"]["code"], "not_in_conversation");
}

#[test]
fn profile_set_whois_and_search() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");

    let me = h.json(
        "alice",
        &[
            "profile",
            "set",
            "--display-name",
            "Alice Liddell",
            "--status",
            "busy",
            "--status-message",
            "in a meeting",
        ],
    );
    assert_eq!(me["handle"], "alice@hs1");
    assert_eq!(me["display_name"], "Alice Liddell");
    assert_eq!(me["status"], "busy");
    assert_eq!(me["status_message"], "in a meeting");
    let text = h.ok(
        "alice",
        &["profile", "set", "--avatar", "https://example.com/a.png"],
    );
    assert!(text.contains("avatar https://example.com/a.png"), "{text}");
    assert!(text.contains("display name Alice Liddell"), "{text}");

    let whois = h.ok("bob", &["whois", "alice"]);
    for part in [
        "display name Alice Liddell",
        "status busy",
        "status message in a meeting",
    ] {
        assert!(whois.contains(part), "{part}: {whois}");
    }
    let whois = h.json("bob", &["whois", "alice"]);
    assert_eq!(whois["display_name"], "Alice Liddell");

    // "" clears a text field.
    let cleared = h.json("alice", &["profile", "set", "--status-message", ""]);
    assert!(cleared
        .get("status_message")
        .is_none_or(|m| m.is_null() || m == ""));

    let found = h.json("bob", &["users", "search", "liddell"]);
    assert_eq!(found["users"][0]["handle"], "alice@hs1");
    let text = h.ok("bob", &["users", "search", "ali"]);
    assert!(
        text.contains("alice@hs1") && text.contains("\"Alice Liddell\""),
        "{text}"
    );
    let none = h.ok("bob", &["users", "search", "zzzz"]);
    assert!(none.contains("no user matches"), "{none}");

    let code = |profile: &str, args: &[&str]| h.run(profile, args, "").status.code();
    assert_eq!(
        code("alice", &["profile", "set"]),
        Some(2),
        "nothing to set"
    );
    assert_eq!(
        code("alice", &["profile", "set", "--status", "lazy"]),
        Some(2),
        "not a status"
    );
    let long = "x".repeat(60);
    assert_eq!(
        code("alice", &["profile", "set", "--display-name", &long]),
        Some(8),
        "too long"
    );
    assert_eq!(
        code("alice", &["profile", "set", "--avatar", "ftp://x"]),
        Some(8),
        "not https"
    );
    let long_query = "q".repeat(51);
    assert_eq!(code("bob", &["users", "search", &long_query]), Some(8));
}

#[test]
fn typing_reaches_the_other_member() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.json("alice", &["join", "#ty"]);
    h.json("bob", &["join", "#ty"]);

    let mut tail = h
        .cmd("bob")
        .args(["--json", "tail", "#ty", "--type", "typing", "--no-resume"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn tail");
    let lines = line_channel(tail.stdout.take().expect("stdout"));
    // Renew until bob's tail (which needs a moment to start polling) sees it.
    let mut seen = Err(Vec::new());
    for _ in 0..10 {
        let out = h.json("alice", &["typing", "#ty"]);
        assert_eq!(
            out,
            serde_json::json!({"ok": true, "target": "#ty", "typing": true})
        );
        seen = wait_for_line(&lines, Duration::from_secs(2), |l| l.contains("alice@hs1"));
        if seen.is_ok() {
            break;
        }
    }
    let _ = tail.kill();
    let _ = wait_bounded(tail, Duration::from_secs(10));
    let seen = seen.unwrap_or_else(|seen| panic!("bob's tail saw no typing event: {seen:?}"));
    let event: serde_json::Value =
        serde_json::from_str(seen.last().expect("a line")).expect("json");
    assert_eq!(event["type"], "typing");
    assert_eq!(event["seq"], 0);
    assert_eq!(event["meta"]["typing"], true);

    let text = h.ok("alice", &["typing", "#ty", "--stop"]);
    assert_eq!(text.trim(), "stopped typing in #ty");
    let text = h.ok("alice", &["typing", "bob"]);
    assert!(text.starts_with("typing in bob"), "{text}");
    let code = |profile: &str, args: &[&str]| h.run(profile, args, "").status.code();
    assert_eq!(
        code("alice", &["typing", "#nosuch"]),
        Some(6),
        "no such channel"
    );
}
