//! `hearth ban`, `mute`, `block`, `blocks`, `report`, `invite-link`, `accept-invite`,
//! `notifications` and `notify-level` against a real homeserver, with `--json` and exit codes.

use std::time::{Duration, Instant};

use hearth_tests::cli::Hearth;
use hearth_tests::process::Homeserver as Server;

#[test]
fn community_commands() {
    let server = Server::start_with("hs1", &[("RATE_LIMIT_SEND", "off")]);
    let h = Hearth::new(&server.url);
    for nick in ["alice", "bob", "carol"] {
        h.register(nick);
    }
    h.json("alice", &["join", "#den"]);
    h.json("bob", &["join", "#den"]);
    h.json("carol", &["join", "#den"]);
    let code = |profile: &str, args: &[&str]| h.run(profile, args, "").status.code();

    // Notifications: a mention, listed newest first; --read-all marks them read.
    h.json("bob", &["send", "#den", "hey @alice, look"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    let list = loop {
        let list = h.json("alice", &["notifications", "--unread"]);
        if list["unread"] == 1 {
            break list;
        }
        assert!(Instant::now() < deadline, "no notification: {list}");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(list["notifications"][0]["type"], "mention");
    let text = h.ok("alice", &["notifications", "--read-all"]);
    assert!(
        text.contains("1 unread") && text.contains("hey @alice"),
        "{text}"
    );
    assert_eq!(h.json("alice", &["notifications", "--unread"])["unread"], 0);
    let level = h.json("alice", &["notify-level", "#den", "muted"]);
    assert_eq!(level["level"], "muted");

    // Mute and ban (operators).
    assert_eq!(code("bob", &["mute", "#den", "carol"]), Some(5));
    let muted = h.json("alice", &["mute", "#den", "carol", "--seconds", "600"]);
    assert_eq!(muted["muted"], true);
    assert_eq!(code("carol", &["send", "#den", "hello?"]), Some(5));
    h.json("alice", &["mute", "#den", "carol", "--remove"]);
    let sent = h.json("carol", &["send", "#den", "spam spam"]);
    let id = sent["id"].as_str().expect("id").to_string();
    let banned = h.json("alice", &["ban", "#den", "carol"]);
    assert_eq!(banned["bans"][0], "carol@*");
    assert_eq!(code("carol", &["join", "#den"]), Some(5));
    let text = h.ok("alice", &["ban", "#den", "carol", "--remove"]);
    assert!(text.contains("no bans"), "{text}");

    // Report.
    let report = h.json("bob", &["report", &id, "spam"]);
    assert!(report["id"].is_string());
    assert_eq!(code("bob", &["report", &id]), Some(2), "a reason is needed");

    // Invite links.
    h.json("alice", &["mode", "#den", "+i"]);
    assert_eq!(code("bob", &["invite-link", "#den"]), Some(5));
    let link = h.json("alice", &["invite-link", "#den", "--max-uses", "1"]);
    let code_text = link["code"].as_str().expect("code").to_string();
    assert_eq!(link["max_uses"], 1);
    let joined = h.json("carol", &["accept-invite", &code_text]);
    assert_eq!(joined["name"], "#den@hs1");

    // Blocks.
    let blocks = h.json("alice", &["block", "bob"]);
    assert_eq!(blocks["blocks"][0]["user"], "bob@hs1");
    assert_eq!(code("bob", &["dm", "alice", "hi"]), Some(5));
    let text = h.ok("alice", &["blocks"]);
    assert!(text.contains("bob@hs1"), "{text}");
    h.json("alice", &["block", "bob", "--remove"]);
    h.json("bob", &["dm", "alice", "hi again"]);
}
