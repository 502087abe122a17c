//! Blocks (issue 18): a blocked user's DMs to the blocker are refused (`403 blocked`), also from
//! another server (the receiving server refuses the event); list and unblock.

use std::time::Duration;

use hearth_tests::api::User;
use hearth_tests::eventually;
use hearth_tests::network::federated_with;
use serde_json::{json, Value};

fn users(list: &Value) -> Vec<String> {
    list["blocks"]
        .as_array()
        .unwrap_or_else(|| panic!("no blocks in {list}"))
        .iter()
        .map(|b| b["user"].as_str().unwrap().to_string())
        .collect()
}

async fn dm(from: &User, to: &str, body: &str) -> hearth_tests::api::Reply {
    from.api
        .post("/api/v1/messages", json!({"to": to, "body": body}))
        .await
}

#[actix_web::test]
async fn blocks_on_one_server_and_across_two() {
    let (_dir, servers) = federated_with(&[
        ("hs1.test", vec![("RATE_LIMIT_SEND", "off")]),
        ("hs2.test", vec![("RATE_LIMIT_SEND", "off")]),
    ])
    .await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs1.url, "bob").await;
    let carol = User::register(&hs1.url, "carol").await;
    let remote = User::register(&hs2.url, "rob").await;
    let friend = User::register(&hs2.url, "fred").await;

    // Bad input.
    alice
        .api
        .post("/api/v1/users/alice/block", json!({}))
        .await
        .expect_error(400, "cannot_block_self");
    alice
        .api
        .post("/api/v1/users/nobody/block", json!({}))
        .await
        .expect_error(404, "unknown_user");
    assert_eq!(
        alice
            .api
            .post("/api/v1/users/x!y/block", json!({}))
            .await
            .status,
        400
    );

    // A local block.
    let list = alice
        .api
        .post("/api/v1/users/bob/block", json!({}))
        .await
        .expect(200);
    assert_eq!(users(&list), ["bob@hs1.test"]);
    dm(&bob, "alice", "hello?")
        .await
        .expect_error(403, "blocked");
    dm(&carol, "alice", "hi alice").await.expect(201);
    // Blocking is one way: alice still writes to bob.
    dm(&alice, "bob", "bye").await.expect(201);

    // A remote block: the receiving server refuses the DM.
    alice
        .api
        .post("/api/v1/users/rob@hs2.test/block", json!({}))
        .await
        .expect(200);
    let list = alice.api.get("/api/v1/users/me/blocks").await.expect(200);
    assert_eq!(users(&list), ["bob@hs1.test", "rob@hs2.test"]);
    let mut cursor = alice.sync(None, 0).await["next"].as_i64().unwrap();
    dm(&remote, "alice@hs1.test", "blocked words")
        .await
        .expect(201);
    dm(&friend, "alice@hs1.test", "friendly words")
        .await
        .expect(201);
    alice
        .wait_for(&mut cursor, "fred's DM", |e| e["body"] == "friendly words")
        .await;
    eventually(
        Duration::from_secs(30),
        "hs2 to log the refusal",
        || async { hs2.log().contains("blocked").then_some(()) },
    )
    .await;
    let history = alice
        .api
        .get("/api/v1/history?target=rob@hs2.test&limit=50")
        .await;
    if history.status == 200 {
        let events = history.body["events"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert!(
            events.iter().all(|e| e["body"] != "blocked words"),
            "a blocked DM was stored: {events:?}"
        );
    }

    // Unblock: DMs pass again.
    let list = alice
        .api
        .delete("/api/v1/users/bob/block")
        .await
        .expect(200);
    assert_eq!(users(&list), ["rob@hs2.test"]);
    dm(&bob, "alice", "friends again").await.expect(201);
    alice
        .api
        .delete("/api/v1/users/rob@hs2.test/block")
        .await
        .expect(200);
    dm(&remote, "alice@hs1.test", "me too").await.expect(201);
    alice
        .wait_for(&mut cursor, "rob's DM", |e| e["body"] == "me too")
        .await;
    drop(hs1);
}
