//! Moderation (issue 18): bans (`+b`/`-b` masks) and mutes, on a channel hosted here and across
//! two servers (a remote user banned from and muted in a channel hosted here; a remote
//! operator who bans and mutes through the host).

use std::time::Duration;

use hearth_tests::api::{Reply, User};
use hearth_tests::eventually;
use hearth_tests::network::federated_with;
use hearth_tests::process::Homeserver;
use serde_json::{json, Value};

async fn mode(user: &User, channel: &str, modes: &str, arg: &str) -> Reply {
    user.api
        .post(
            &format!("/api/v1/channels/{channel}/mode"),
            json!({"modes": modes, "arg": arg}),
        )
        .await
}

async fn mute(user: &User, channel: &str, nick: &str, seconds: Option<i64>) -> Reply {
    let body = match seconds {
        Some(s) => json!({"nick": nick, "seconds": s}),
        None => json!({"nick": nick}),
    };
    user.api
        .post(&format!("/api/v1/channels/{channel}/mute"), body)
        .await
}

async fn unmute(user: &User, channel: &str, nick: &str) -> Reply {
    user.api
        .post(
            &format!("/api/v1/channels/{channel}/unmute"),
            json!({"nick": nick}),
        )
        .await
}

async fn send(user: &User, to: &str, body: &str) -> Reply {
    user.api
        .post("/api/v1/messages", json!({"to": to, "body": body}))
        .await
}

async fn join(user: &User, channel: &str) -> Reply {
    user.api
        .post("/api/v1/channels/join", json!({"channel": channel}))
        .await
}

fn masks(info: &Value) -> Vec<String> {
    info["bans"]
        .as_array()
        .unwrap_or_else(|| panic!("no bans in {info}"))
        .iter()
        .map(|b| b["mask"].as_str().expect("mask").to_string())
        .collect()
}

#[actix_web::test]
async fn bans_and_mutes_on_a_channel_hosted_here() {
    let hs = Homeserver::start_with("hs1.test", &[("RATE_LIMIT_SEND", "off")]);
    let owner = User::register(&hs.url, "owner").await;
    let op = User::register(&hs.url, "oper").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    for user in [&owner, &op, &bob, &carol] {
        user.join("#den").await;
    }
    owner
        .api
        .post(
            "/api/v1/channels/den/mode",
            json!({"modes": "+o", "nick": "oper"}),
        )
        .await
        .expect(200);
    let mut bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    // A ban: operators only, a valid mask; it removes the member it matches with a kick.
    mode(&carol, "den", "+b", "bob")
        .await
        .expect_error(403, "chanop_required");
    mode(&op, "den", "+b", "a@b@c")
        .await
        .expect_error(400, "invalid_mode");
    let info = mode(&op, "den", "+b", "Bob").await.expect(200);
    assert_eq!(masks(&info), ["bob@*"]);
    assert_eq!(info["bans"][0]["set_by"], "oper@hs1.test");
    assert!(info["members"]
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["nick"] != "bob"));
    let kick = bob
        .wait_for(&mut bob_cursor, "bob's removal", |e| e["type"] == "kick")
        .await;
    assert_eq!(kick["meta"]["nick"], "bob@hs1.test");
    assert_eq!(kick["meta"]["ban"], "bob@*");
    assert_eq!(kick["from"], "oper@hs1.test");
    let announced = carol
        .api
        .get("/api/v1/history?target=%23den&limit=50")
        .await
        .expect(200);
    assert!(
        announced["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "mode" && e["body"] == "+b bob@*"),
        "no +b in {announced}"
    );
    // Banned: no join, no send; operators see the list, members do not.
    join(&bob, "#den").await.expect_error(403, "banned");
    send(&bob, "#den", "let me in")
        .await
        .expect_error(403, "banned");
    let seen = carol.api.get("/api/v1/channels/den").await.expect(200);
    assert!(seen.get("bans").is_none(), "a member sees the bans: {seen}");
    let seen = op.api.get("/api/v1/channels/den").await.expect(200);
    assert_eq!(masks(&seen), ["bob@*"]);
    // An invitation does not get past a ban.
    owner
        .api
        .post("/api/v1/channels/den/invite", json!({"nick": "bob"}))
        .await
        .expect(200);
    join(&bob, "#den").await.expect_error(403, "banned");
    // The owner is exempt: a mask that matches them removes and stops no one else's owner.
    let info = mode(&op, "den", "+b", "owner@hs1.test").await.expect(200);
    assert_eq!(masks(&info), ["bob@*", "owner@hs1.test"]);
    send(&owner, "#den", "still here").await.expect(201);
    mode(&op, "den", "-b", "owner@hs1.test").await.expect(200);
    // Lifting the ban lets bob back.
    let info = mode(&op, "den", "-b", "bob").await.expect(200);
    assert_eq!(masks(&info), Vec::<String>::new());
    bob.join("#den").await;
    send(&bob, "#den", "back").await.expect(201);

    // Mutes: operators; a muted member reads but cannot send; unmute; expiry.
    mute(&carol, "den", "bob", None)
        .await
        .expect_error(403, "chanop_required");
    mute(&op, "den", "owner", None)
        .await
        .expect_error(403, "cannot_sanction_owner");
    mute(&op, "den", "nobody", None)
        .await
        .expect_error(404, "unknown_user");
    mute(&op, "nosuch", "bob", None)
        .await
        .expect_error(404, "no_such_channel");
    mute(&op, "den", "bob", Some(0))
        .await
        .expect_error(400, "invalid_duration");
    let outsider = User::register(&hs.url, "outsider").await;
    mute(&op, "den", "outsider", None)
        .await
        .expect_error(404, "not_in_channel");
    mute(&op, "den", "bob", None).await.expect(200);
    send(&bob, "#den", "hello?")
        .await
        .expect_error(403, "muted");
    let mut cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    send(&carol, "#den", "bob can read this").await.expect(201);
    bob.wait_for(&mut cursor, "carol's message", |e| {
        e["body"] == "bob can read this"
    })
    .await;
    unmute(&op, "den", "bob").await.expect(200);
    send(&bob, "#den", "I can talk").await.expect(201);
    // A mute with a duration lapses by itself (no check of the moment: a slow machine may
    // already be past the second when the next request arrives).
    mute(&op, "den", "bob", Some(1)).await.expect(200);
    eventually(Duration::from_secs(30), "the mute to lapse", || async {
        (send(&bob, "#den", "and now?").await.status == 201).then_some(())
    })
    .await;
    let history = carol
        .api
        .get("/api/v1/history?target=%23den&limit=100")
        .await
        .expect(200);
    assert!(
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "system" && e["meta"]["mute"] == "bob@hs1.test"),
        "no mute announced in {history}"
    );
    drop(outsider);
}

#[actix_web::test]
async fn bans_and_mutes_across_servers() {
    let (_dir, servers) = federated_with(&[
        ("hs1.test", vec![("RATE_LIMIT_SEND", "off")]),
        ("hs2.test", vec![("RATE_LIMIT_SEND", "off")]),
    ])
    .await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let erin = User::register(&hs1.url, "erin").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    let dave = User::register(&hs2.url, "dave").await;
    alice.join("#town").await;
    erin.join("#town").await;
    let channel = "#town@hs1.test";
    let path = "town@hs1.test";
    bob.join(channel).await;
    carol.join(channel).await;
    let mut bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    let mut erin_cursor = erin.sync(None, 0).await["next"].as_i64().unwrap();

    // The host's operator bans a remote user: removed, and refused on join and send.
    let info = mode(&alice, "town", "+b", "bob@hs2.test").await.expect(200);
    assert_eq!(masks(&info), ["bob@hs2.test"]);
    let kick = bob
        .wait_for(&mut bob_cursor, "bob's removal on hs2", |e| {
            e["type"] == "kick"
        })
        .await;
    assert_eq!(kick["meta"]["nick"], "bob@hs2.test");
    join(&bob, channel).await.expect_error(403, "banned");
    assert_eq!(send(&bob, channel, "hi").await.status, 403);
    // A server-wide mask: nobody of hs2 joins (a present member is removed).
    mode(&alice, "town", "+b", "*@hs2.test").await.expect(200);
    join(&dave, channel).await.expect_error(403, "banned");
    eventually(Duration::from_secs(30), "carol's removal", || async {
        let info = alice.api.get("/api/v1/channels/town").await.expect(200);
        let members = info["members"].as_array().cloned().unwrap_or_default();
        members
            .iter()
            .all(|m| m["handle"] != "carol@hs2.test")
            .then_some(())
    })
    .await;
    mode(&alice, "town", "-b", "*@hs2.test").await.expect(200);
    mode(&alice, "town", "-b", "bob@hs2.test").await.expect(200);
    bob.join(channel).await;
    carol.join(channel).await;

    // A remote operator bans through the host: the host removes a user of its own, with a
    // kick from the channel's owner that names the remote operator.
    alice
        .api
        .post(
            "/api/v1/channels/town/mode",
            json!({"modes": "+o", "nick": "carol@hs2.test"}),
        )
        .await
        .expect(200);
    mode(&carol, path, "+b", "erin@hs1.test").await.expect(200);
    let kick = erin
        .wait_for(&mut erin_cursor, "erin's removal", |e| {
            e["type"] == "kick" && e["meta"]["nick"] == "erin@hs1.test"
        })
        .await;
    assert_eq!(kick["meta"]["nick"], "erin@hs1.test");
    assert_eq!(kick["meta"]["by"], "carol@hs2.test");
    join(&erin, "#town").await.expect_error(403, "banned");
    // A remote operator sees the bans in the channel's info (asked of the host); a remote
    // member does not.
    let seen = carol
        .api
        .get(&format!("/api/v1/channels/{path}"))
        .await
        .expect(200);
    assert_eq!(masks(&seen), ["erin@hs1.test"]);
    let seen = bob
        .api
        .get(&format!("/api/v1/channels/{path}"))
        .await
        .expect(200);
    assert!(seen.get("bans").is_none(), "a member sees the bans: {seen}");
    mode(&carol, path, "-b", "erin@hs1.test").await.expect(200);
    erin.join("#town").await;

    // Mutes of a remote member, by the host's operator and by a remote operator.
    mute(&alice, "town", "bob@hs2.test", None).await.expect(200);
    send(&bob, channel, "muted?")
        .await
        .expect_error(403, "muted");
    unmute(&carol, path, "bob@hs2.test").await.expect(200);
    send(&bob, channel, "free").await.expect(201);
    mute(&carol, path, "erin@hs1.test", None).await.expect(200);
    send(&erin, "#town", "me?").await.expect_error(403, "muted");
    mute(&bob, path, "erin@hs1.test", None)
        .await
        .expect_error(403, "chanop_required");
    mute(&carol, path, "alice@hs1.test", None)
        .await
        .expect_error(403, "cannot_sanction_owner");
    unmute(&alice, "town", "erin").await.expect(200);
    send(&erin, "#town", "thanks").await.expect(201);
    drop(hs2);
}
