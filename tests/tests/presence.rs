//! Presence from connection state (issue 16): a user shows their status to co-members while a
//! poll, event stream or WebSocket of theirs is open, and `offline` once none has been for
//! `PRESENCE_GRACE` seconds (2 here); co-members here and on another server get `presence`
//! events for both changes; profiles show the same; appearing offline shows offline throughout.

use std::time::Duration;

use hearth_tests::api::User;
use hearth_tests::eventually;
use hearth_tests::network::federated_with;
use serde_json::{json, Value};

const GRACE: &str = "2";

async fn cursor_of(user: &User) -> i64 {
    user.sync(None, 0).await["next"].as_i64().unwrap()
}

/// Waits for a `presence` event from `from` with `status`.
async fn presence(user: &User, cursor: &mut i64, from: &str, status: &str) -> Value {
    user.wait_for(
        cursor,
        &format!("{from} {status}, seen by {}", user.nick),
        |e| e["type"] == "presence" && e["from"] == from && e["meta"]["status"] == status,
    )
    .await
}

/// Waits until `viewer` sees `handle`'s profile with `status` (and `online` to match).
async fn profile_shows(viewer: &User, handle: &str, status: &str) {
    eventually(
        Duration::from_secs(30),
        &format!("{handle} shown {status}"),
        || async {
            let profile = viewer
                .api
                .get(&format!("/api/v1/users/{handle}"))
                .await
                .expect(200);
            (profile["status"] == status && profile["online"] == (status != "offline"))
                .then_some(())
        },
    )
    .await;
}

#[actix_web::test]
async fn presence_follows_connections_across_servers() {
    let settings = vec![("PRESENCE_GRACE", GRACE)];
    let (_dir, servers) = federated_with(&[
        ("hs1.test", settings.clone()),
        ("hs2.test", settings.clone()),
    ])
    .await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs1.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    alice.join("#general").await;
    bob.join("#general").await;
    carol.join("#general@hs1.test").await;
    let (mut alice_at, mut carol_at) = (cursor_of(&alice).await, cursor_of(&carol).await);

    // Bob never connected: once his registration is older than the grace he shows offline.
    profile_shows(&alice, "bob", "offline").await;
    profile_shows(&carol, "bob@hs1.test", "offline").await;

    // A WebSocket: co-members here and on hs2 see him come online, with his status.
    let socket = bob.api.open_ws("/api/v1/ws").await.expect("upgraded");
    let event = presence(&alice, &mut alice_at, "bob@hs1.test", "online").await;
    assert_eq!(event["seq"], 0, "ephemeral");
    presence(&carol, &mut carol_at, "bob@hs1.test", "online").await;
    profile_shows(&alice, "bob", "online").await;
    profile_shows(&carol, "bob@hs1.test", "online").await;
    let me = bob
        .api
        .raw(
            "PATCH",
            "/api/v1/users/me",
            serde_json::to_vec(&json!({"status": "busy"})).unwrap(),
        )
        .await
        .expect(200);
    assert_eq!(me["status"], "busy");
    presence(&alice, &mut alice_at, "bob@hs1.test", "busy").await;

    // The socket closes: after the grace, offline everywhere.
    socket.close().await;
    presence(&alice, &mut alice_at, "bob@hs1.test", "offline").await;
    presence(&carol, &mut carol_at, "bob@hs1.test", "offline").await;
    profile_shows(&alice, "bob", "offline").await;
    profile_shows(&carol, "bob@hs1.test", "offline").await;

    // Polling counts too, and comes back with the chosen status.
    bob.sync(None, 1).await;
    presence(&alice, &mut alice_at, "bob@hs1.test", "busy").await;

    // Appearing offline: shown offline while connected.
    let _held = bob.api.open_ws("/api/v1/ws").await.expect("upgraded");
    profile_shows(&alice, "bob", "busy").await;
    bob.api
        .raw(
            "PATCH",
            "/api/v1/users/me",
            serde_json::to_vec(&json!({"status": "offline"})).unwrap(),
        )
        .await
        .expect(200);
    presence(&alice, &mut alice_at, "bob@hs1.test", "offline").await;
    profile_shows(&alice, "bob", "offline").await;
    profile_shows(&carol, "bob@hs1.test", "offline").await;
    drop((hs1, hs2));
}
