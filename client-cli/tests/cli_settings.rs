//! `hearth channel describe`, `pin`, `unpin`, `pins` and `channel delete` against a real
//! homeserver, with `--json` and exit codes.

use hearth_tests::cli::Hearth;
use hearth_tests::process::Homeserver as Server;

#[test]
fn describe_pin_unpin_and_delete() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.json("alice", &["join", "#den"]);
    h.json("bob", &["join", "#den"]);
    let code = |profile: &str, args: &[&str]| h.run(profile, args, "").status.code();

    let described = h.json(
        "alice",
        &["channel", "describe", "#den", "Where", "we", "meet"],
    );
    assert_eq!(described["description"], "Where we meet");
    assert_eq!(
        h.json("bob", &["channel", "describe", "#den"])["description"],
        "Where we meet"
    );
    let text = h.ok("bob", &["info", "#den"]);
    assert!(text.contains("description: Where we meet"), "{text}");
    assert_eq!(
        code("bob", &["channel", "describe", "#den", "mine"]),
        Some(5),
        "not an operator"
    );

    let sent = h.json("bob", &["send", "#den", "meet at noon"]);
    let id = sent["id"].as_str().expect("id").to_string();
    assert_eq!(
        code("bob", &["pin", "#den", &id]),
        Some(5),
        "not an operator"
    );
    let pinned = h.json("alice", &["pin", "#den", &id]);
    assert_eq!(pinned["type"], "pin");
    assert_eq!(pinned["target"], id.as_str());
    assert_eq!(
        code("alice", &["pin", "#den", &id]),
        Some(7),
        "pinned already"
    );
    let list = h.json("bob", &["pins", "#den"]);
    assert_eq!(list["pins"][0]["message"]["body"], "meet at noon");
    let text = h.ok("bob", &["pins", "#den"]);
    assert!(
        text.contains("<bob> meet at noon") && text.contains("(pinned by alice)"),
        "{text}"
    );
    let history = h.ok("bob", &["history", "#den"]);
    assert!(history.contains("alice pinned a message"), "{history}");
    let unpinned = h.json("alice", &["unpin", "#den", &id]);
    assert_eq!(unpinned["type"], "unpin");
    assert!(h
        .ok("bob", &["pins", "#den"])
        .contains("no pinned messages"));

    assert_eq!(
        code("alice", &["channel", "delete", "#den"]),
        Some(2),
        "no --yes"
    );
    assert_eq!(
        code("bob", &["channel", "delete", "#den", "--yes"]),
        Some(5),
        "not the owner"
    );
    let deleted = h.json("alice", &["channel", "delete", "#den", "--yes"]);
    assert_eq!(deleted["type"], "system");
    assert_eq!(deleted["meta"]["channel_deleted"], "#den@hs1");
    assert_eq!(code("bob", &["info", "#den"]), Some(6), "gone");
}
