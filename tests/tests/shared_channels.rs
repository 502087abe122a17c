//! A channel hosted on one server with members on three: the host orders every event, each
//! member server receives it once, in the host's order; modes and kicks apply to remote members;
//! a member server that was down catches up.

use std::time::Duration;

use hearth_tests::api::User;
use hearth_tests::network::federated;
use serde_json::{json, Value};

/// `(type, from, body)` of the channel events `user` receives until `count` messages arrived.
async fn follow(user: &User, cursor: &mut i64, messages: usize) -> Vec<(String, String, String)> {
    let mut seen = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while seen
        .iter()
        .filter(|(t, _, _): &&(String, String, String)| t == "message")
        .count()
        < messages
    {
        assert!(
            std::time::Instant::now() < deadline,
            "timed out; got {seen:?}"
        );
        let got = user.sync(Some(*cursor), 5).await;
        *cursor = got["next"].as_i64().unwrap();
        for e in got["events"].as_array().unwrap() {
            let s = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            seen.push((s("type"), s("from"), s("body")));
        }
    }
    seen
}

fn messages(events: &[(String, String, String)]) -> Vec<(String, String)> {
    events
        .iter()
        .filter(|(t, _, _)| t == "message")
        .map(|(_, f, b)| (f.clone(), b.clone()))
        .collect()
}

async fn cursor_of(user: &User) -> i64 {
    user.sync(None, 0).await["next"].as_i64().unwrap()
}

#[actix_web::test]
async fn every_member_sees_the_hosts_order() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#general").await;
    let mut alice_cursor = cursor_of(&alice).await;
    let joined = bob.join("#general@hs1.test").await;
    assert_eq!(joined["name"], "#general@hs1.test");
    let joined = carol.join("#general@hs1.test").await;
    let handles: Vec<Value> = joined["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["handle"].clone())
        .collect();
    assert!(
        handles.contains(&json!("bob@hs2.test")) && handles.contains(&json!("carol@hs3.test")),
        "{joined}"
    );
    let (mut bob_cursor, mut carol_cursor) = (cursor_of(&bob).await, cursor_of(&carol).await);

    // Everyone talks at once.
    for i in 0..3 {
        alice.say("#general", &format!("alice {i}")).await;
        bob.say("#general@hs1.test", &format!("bob {i}")).await;
        carol.say("#general@hs1.test", &format!("carol {i}")).await;
    }
    let on_hs1 = messages(&follow(&alice, &mut alice_cursor, 9).await);
    let on_hs2 = messages(&follow(&bob, &mut bob_cursor, 9).await);
    let on_hs3 = messages(&follow(&carol, &mut carol_cursor, 9).await);
    assert_eq!(on_hs1.len(), 9, "{on_hs1:?}");
    assert_eq!(on_hs1, on_hs2, "hs2 sees the host's order");
    assert_eq!(on_hs1, on_hs3, "hs3 sees the host's order");
    assert!(on_hs1.contains(&("bob@hs2.test".to_string(), "bob 2".to_string())));

    // Remote channel info and history.
    let info = bob
        .api
        .get("/api/v1/channels/general@hs1.test")
        .await
        .expect(200);
    assert_eq!(info["members"].as_array().unwrap().len(), 3);
    let history = carol
        .api
        .get("/api/v1/history?target=%23general@hs1.test&limit=3")
        .await
        .expect(200);
    assert_eq!(history["events"][0]["body"], "carol 2");
    let mine = bob.api.get("/api/v1/channels").await.expect(200);
    assert_eq!(mine["channels"][0]["name"], "#general@hs1.test");

    // A part travels too, and ends delivery to the one who left.
    bob.api
        .post(
            "/api/v1/channels/part",
            json!({"channel": "#general@hs1.test"}),
        )
        .await
        .expect(200);
    alice.say("#general", "after bob left").await;
    let seen = follow(&carol, &mut carol_cursor, 1).await;
    assert!(
        seen.iter()
            .any(|(t, f, _)| t == "part" && f == "bob@hs2.test"),
        "{seen:?}"
    );
    let after = bob.sync(Some(bob_cursor), 1).await;
    let bodies = User::bodies(&after);
    assert!(
        !bodies.contains(&"after bob left".to_string()),
        "{bodies:?}"
    );
    bob.api
        .post(
            "/api/v1/messages",
            json!({"to": "#general@hs1.test", "body": "still here?"}),
        )
        .await
        .expect_error(403, "not_member");
}

#[actix_web::test]
async fn the_host_enforces_modes_on_remote_members() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#mod").await;
    bob.join("#mod@hs1.test").await;
    carol.join("#mod@hs1.test").await;
    let mut carol_cursor = cursor_of(&carol).await;

    // +m: a remote member without voice is refused by the host, with the host's reason.
    alice
        .api
        .post("/api/v1/channels/mod/mode", json!({"modes": "+m"}))
        .await
        .expect(200);
    bob.api
        .post(
            "/api/v1/messages",
            json!({"to": "#mod@hs1.test", "body": "hi"}),
        )
        .await
        .expect_error(403, "moderated");
    alice
        .api
        .post(
            "/api/v1/channels/mod/mode",
            json!({"modes": "+v", "nick": "bob@hs2.test"}),
        )
        .await
        .expect(200);
    bob.say("#mod@hs1.test", "voiced").await;

    // A kick of a remote member reaches that member's server and ends its membership.
    alice
        .api
        .post(
            "/api/v1/channels/mod/kick",
            json!({"nick": "carol@hs3.test", "reason": "bye"}),
        )
        .await
        .expect(200);
    carol
        .wait_for(&mut carol_cursor, "the kick", |e| {
            e["type"] == "kick" && e["meta"]["nick"] == "carol@hs3.test"
        })
        .await;
    carol
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#mod@hs1.test", "body": "x"}),
        )
        .await
        .expect_error(403, "not_member");

    // +k and +i apply to remote joiners.
    alice
        .api
        .post(
            "/api/v1/channels/mod/mode",
            json!({"modes": "+k", "arg": "sesame"}),
        )
        .await
        .expect(200);
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#mod@hs1.test"}))
        .await
        .expect_error(403, "bad_channel_key");
    carol
        .api
        .post(
            "/api/v1/channels/join",
            json!({"channel": "#mod@hs1.test", "key": "sesame"}),
        )
        .await
        .expect(200);
}

#[actix_web::test]
async fn a_member_server_that_was_down_catches_up_in_order() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, mut hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#ops").await;
    bob.join("#ops@hs1.test").await;
    carol.join("#ops@hs1.test").await;
    let mut bob_cursor = cursor_of(&bob).await;
    let mut alice_cursor = cursor_of(&alice).await;

    hs2.kill();
    for i in 0..5 {
        alice.say("#ops", &format!("a{i}")).await;
        carol.say("#ops@hs1.test", &format!("c{i}")).await;
    }
    let on_host = messages(&follow(&alice, &mut alice_cursor, 10).await);
    hs2.restart();
    let on_hs2 = messages(&follow(&bob, &mut bob_cursor, 10).await);
    assert_eq!(on_hs2, on_host, "every event, in the host's order, once");
}

#[actix_web::test]
async fn remote_operators_act_through_the_host() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#ops").await;
    bob.join("#ops@hs1.test").await;
    carol.join("#ops@hs1.test").await;

    // Not an operator yet: the host refuses, with its reason.
    bob.api
        .post(
            "/api/v1/channels/ops@hs1.test/topic",
            json!({"topic": "bob's"}),
        )
        .await
        .expect_error(403, "chanop_required");
    bob.api
        .post("/api/v1/channels/ops@hs1.test/mode", json!({"modes": "+m"}))
        .await
        .expect_error(403, "chanop_required");

    // Opped by the host's operator, bob sets the topic and modes from his own server.
    alice
        .api
        .post(
            "/api/v1/channels/ops/mode",
            json!({"modes": "+o", "nick": "bob@hs2.test"}),
        )
        .await
        .expect(200);
    let info = bob
        .api
        .post(
            "/api/v1/channels/ops@hs1.test/topic",
            json!({"topic": "set from hs2"}),
        )
        .await
        .expect(200);
    assert_eq!(info["topic"], "set from hs2");
    assert_eq!(info["topic_set_by"], "bob@hs2.test");
    let info = bob
        .api
        .post("/api/v1/channels/ops@hs1.test/mode", json!({"modes": "+m"}))
        .await
        .expect(200);
    assert!(info["modes"].as_str().unwrap().contains('m'), "{info}");
    carol
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#ops@hs1.test", "body": "x"}),
        )
        .await
        .expect_error(403, "moderated");
    let on_host = alice.api.get("/api/v1/channels/ops").await.expect(200);
    assert_eq!(on_host["topic"], "set from hs2");

    // And kicks a member of a third server, who hears it.
    let mut carol_cursor = carol.sync(None, 0).await["next"].as_i64().unwrap();
    bob.api
        .post(
            "/api/v1/channels/ops@hs1.test/kick",
            json!({"nick": "carol@hs3.test"}),
        )
        .await
        .expect(200);
    carol
        .wait_for(&mut carol_cursor, "bob's kick", |e| {
            e["type"] == "kick" && e["from"] == "bob@hs2.test"
        })
        .await;
    let members = alice.api.get("/api/v1/channels/ops").await.expect(200)["members"].clone();
    assert!(
        members
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["handle"] != "carol@hs3.test"),
        "{members}"
    );
    // The owner on the host cannot be kicked by a remote operator.
    bob.api
        .post(
            "/api/v1/channels/ops@hs1.test/kick",
            json!({"nick": "alice@hs1.test"}),
        )
        .await
        .expect_error(403, "cannot_kick_owner");
}

#[actix_web::test]
async fn an_invitation_lets_a_remote_user_past_plus_i() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#vip").await;
    alice
        .api
        .post("/api/v1/channels/vip/mode", json!({"modes": "+i"}))
        .await
        .expect(200);
    bob.api
        .post("/api/v1/channels/join", json!({"channel": "#vip@hs1.test"}))
        .await
        .expect_error(403, "invite_only");

    let mut cursor = cursor_of(&bob).await;
    alice
        .api
        .post(
            "/api/v1/channels/vip/invite",
            json!({"nick": "bob@hs2.test"}),
        )
        .await
        .expect(200);
    let invited = bob
        .wait_for(&mut cursor, "the invitation", |e| e["type"] == "invite")
        .await;
    assert_eq!(invited["from"], "alice@hs1.test");
    assert_eq!(invited["meta"]["channel"], "#vip@hs1.test");

    bob.join("#vip@hs1.test").await;
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#vip@hs1.test"}))
        .await
        .expect_error(403, "invite_only");
    // An invitation is used up by the join.
    bob.api
        .post("/api/v1/channels/part", json!({"channel": "#vip@hs1.test"}))
        .await
        .expect(200);
    bob.api
        .post("/api/v1/channels/join", json!({"channel": "#vip@hs1.test"}))
        .await
        .expect_error(403, "invite_only");
}

#[actix_web::test]
async fn a_send_retried_with_its_txn_id_is_stored_once() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [mut hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    alice.join("#once").await;
    bob.join("#once@hs1.test").await;
    let body = json!({"to": "#once@hs1.test", "body": "exactly once", "txn_id": "t-1"});

    // The host is down: not acknowledged, nothing stored.
    hs1.kill();
    let refused = bob.api.post("/api/v1/messages", body.clone()).await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    hs1.restart();
    // The retry submits the same event; a second retry answers with the stored one.
    let first = bob
        .api
        .post("/api/v1/messages", body.clone())
        .await
        .expect(201);
    let again = bob.api.post("/api/v1/messages", body).await.expect(201);
    assert_eq!(first, again);
    let history = alice
        .api
        .get("/api/v1/history?target=%23once&limit=50")
        .await
        .expect(200);
    let copies = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"] == "exactly once")
        .count();
    assert_eq!(copies, 1);
}
