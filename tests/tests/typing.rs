//! Typing notifications: the other members of a channel or DM see an ephemeral `typing`
//! event (seq 0, never in history), on this server and on every other, through the host for a
//! shared channel; outsiders cannot send them; they are rate-limited per user.

use hearth_tests::api::User;
use hearth_tests::network::federated;
use hearth_tests::process::ServerProcess;
use serde_json::{json, Value};

async fn cursor_of(user: &User) -> i64 {
    user.sync(None, 0).await["next"].as_i64().unwrap()
}

async fn type_in(user: &User, target: &str, typing: bool) -> hearth_tests::api::Reply {
    user.api
        .post(
            "/api/v1/typing",
            json!({"target": target, "typing": typing}),
        )
        .await
}

/// Follows `user`'s stream until a typing event from `from` arrives; returns it.
async fn typing_from(user: &User, cursor: &mut i64, from: &str) -> Value {
    user.wait_for(
        cursor,
        &format!("{from} typing, seen by {}", user.nick),
        |e| e["type"] == "typing" && e["from"] == from,
    )
    .await
}

#[actix_web::test]
async fn members_everywhere_see_who_is_typing() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs1.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    let dave = User::register(&hs3.url, "dave").await;
    alice.join("#general").await;
    bob.join("#general").await;
    carol.join("#general@hs1.test").await;
    dave.join("#general@hs1.test").await;
    let (mut bob_at, mut carol_at, mut dave_at) = (
        cursor_of(&bob).await,
        cursor_of(&carol).await,
        cursor_of(&dave).await,
    );

    // A user of the host types: its members and both member servers see it.
    type_in(&alice, "#general", true).await.expect(204);
    for (user, cursor) in [
        (&bob, &mut bob_at),
        (&carol, &mut carol_at),
        (&dave, &mut dave_at),
    ] {
        let event = typing_from(user, cursor, "alice@hs1.test").await;
        assert_eq!(event["to"], "#general@hs1.test");
        assert_eq!(event["seq"], 0);
        assert_eq!(event["meta"]["typing"], true);
    }
    // A member on hs2 types: through the host, hs1's users and hs3's see it.
    let mut alice_at = cursor_of(&alice).await;
    type_in(&carol, "#general@hs1.test", false)
        .await
        .expect(204);
    for (user, cursor) in [(&alice, &mut alice_at), (&dave, &mut dave_at)] {
        let event = typing_from(user, cursor, "carol@hs2.test").await;
        assert_eq!(event["meta"]["typing"], false);
    }

    // A DM across servers.
    let mut carol_at = cursor_of(&carol).await;
    type_in(&alice, "carol@hs2.test", true).await.expect(204);
    let event = typing_from(&carol, &mut carol_at, "alice@hs1.test").await;
    assert_eq!(event["to"], "carol@hs2.test");

    // Never stored: not in history, and a later poll from an older cursor does not get it.
    let history = bob
        .api
        .get("/api/v1/history?target=%23general&limit=50")
        .await
        .expect(200);
    assert!(
        history["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "typing"),
        "{history}"
    );

    // Outsiders and bad input are refused and change nothing.
    let eve = User::register(&hs1.url, "eve").await;
    type_in(&eve, "#general", true)
        .await
        .expect_error(403, "not_member");
    type_in(&eve, "#nowhere", true)
        .await
        .expect_error(404, "no_such_channel");
    type_in(&eve, "nobody", true)
        .await
        .expect_error(404, "unknown_user");
    eve.api
        .post(
            "/api/v1/typing",
            json!({"target": "#general", "typing": "yes"}),
        )
        .await
        .expect_error(400, "invalid_request");
}

#[actix_web::test]
async fn typing_is_rate_limited_per_user() {
    let hs = ServerProcess::start_with("hs1.test", &[("RATE_LIMIT_TYPING", "2/1h")]);
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    type_in(&alice, "bob", true).await.expect(204);
    type_in(&alice, "bob", true).await.expect(204);
    let refused = type_in(&alice, "bob", true).await;
    refused.expect_error(429, "rate_limited");
    // Another user has a budget of their own.
    type_in(&bob, "alice", true).await.expect(204);
}

#[actix_web::test]
async fn a_websocket_types_and_sees_typing() {
    let hs = ServerProcess::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#room").await;
    bob.join("#room").await;
    let wait = std::time::Duration::from_secs(10);
    let mut alice_socket = alice
        .api
        .open_ws(hearth_tests::ws::WS)
        .await
        .expect("upgraded");
    alice_socket.next_of("ready", wait).await;
    let mut bob_socket = bob
        .api
        .open_ws(hearth_tests::ws::WS)
        .await
        .expect("upgraded");
    bob_socket.next_of("ready", wait).await;

    // A typing frame acts like POST /api/v1/typing: bob's socket gets the event.
    alice_socket
        .send_json(&json!({"type": "typing", "target": "#room", "typing": true}))
        .await;
    let event = loop {
        // The socket starts at bob's stored cursor: his join comes first.
        let event = bob_socket.next_event(wait).await;
        if event["type"] == "typing" {
            break event;
        }
    };
    assert_eq!(
        (
            &event["type"],
            &event["from"],
            &event["meta"]["typing"],
            &event["seq"]
        ),
        (
            &json!("typing"),
            &json!("alice@hs1.test"),
            &json!(true),
            &json!(0)
        )
    );
    // Its failures come back as error frames.
    alice_socket
        .send_json(&json!({"type": "typing", "target": "#elsewhere", "typing": true}))
        .await;
    let error = alice_socket.next_of("error", wait).await;
    assert_eq!(error["error"]["code"], "no_such_channel");
}
