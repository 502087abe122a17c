//! Read state, receipts, conversations, presence, profiles and user search (DESIGN.md, "Rich
//! chat"): markers never move backwards; other devices and members get `receipt` events; the
//! conversation list counts unread messages and mentions from stored markers (across devices
//! and restarts); presence reaches co-members only; all of it across servers.

use hearth_tests::api::User;
use hearth_tests::network::federated;
use hearth_tests::process::ServerProcess;
use serde_json::{json, Value};

async fn cursor_of(user: &User) -> i64 {
    user.sync(None, 0).await["next"].as_i64().unwrap()
}

async fn read(user: &User, target: &str, id: &Value) -> hearth_tests::api::Reply {
    user.api
        .post("/api/v1/read", json!({"target": target, "id": id}))
        .await
}

async fn conversations(user: &User) -> Vec<Value> {
    user.api.get("/api/v1/conversations").await.expect(200)["conversations"]
        .as_array()
        .unwrap()
        .clone()
}

async fn conversation(user: &User, target: &str) -> Value {
    conversations(user)
        .await
        .into_iter()
        .find(|c| c["target"] == target)
        .unwrap_or_else(|| panic!("{} has no conversation {target}", user.nick))
}

async fn readers(user: &User, id: &Value) -> Vec<String> {
    let id = id.as_str().unwrap();
    let got = user
        .api
        .get(&format!("/api/v1/messages/{id}/receipts"))
        .await
        .expect(200);
    got["read_by"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            assert!(r["ts"].is_string(), "{r}");
            r["user"].as_str().unwrap().to_string()
        })
        .collect()
}

async fn receipt_from(user: &User, cursor: &mut i64, from: &str, id: &Value) -> Value {
    user.wait_for(
        cursor,
        &format!("{from}'s receipt, seen by {}", user.nick),
        |e| e["type"] == "receipt" && e["from"] == from && &e["meta"]["id"] == id,
    )
    .await
}

#[actix_web::test]
async fn markers_receipts_and_conversations_on_one_server() {
    let mut hs = ServerProcess::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let alice_phone = User::login(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let eve = User::register(&hs.url, "eve").await;
    alice.join("#general").await;
    bob.join("#general").await;
    eve.join("#other").await;

    let m1 = bob.say("#general", "hello").await["id"].clone();
    let m2 = bob.say("#general", "hey @alice, look").await["id"].clone();
    let m3 = bob.say("#general", "@alicex is not alice").await["id"].clone();
    alice.say("#general", "my own @alice does not count").await;
    let d1 = bob.say("alice", "psst").await["id"].clone();

    // Unread and mentions before anything is read; most recent activity first.
    let list = conversations(&alice).await;
    assert_eq!(list.len(), 2, "{list:?}");
    assert_eq!(list[0]["target"], "bob@hs1.test");
    assert_eq!(list[0]["kind"], "dm");
    assert_eq!(list[0]["unread"], 1);
    assert_eq!(list[0]["last_event"]["id"], d1);
    assert_eq!(list[1]["target"], "#general@hs1.test");
    assert_eq!(list[1]["kind"], "channel");
    assert_eq!(list[1]["unread"], 3);
    assert_eq!(list[1]["mentions"], 1);
    assert_eq!(list[1]["last_read"], Value::Null);

    // Reading moves the marker; the other device and the other member get a receipt.
    let (mut phone_at, mut bob_at) = (cursor_of(&alice_phone).await, cursor_of(&bob).await);
    let eve_at = cursor_of(&eve).await;
    let answer = read(&alice, "#general", &m2).await.expect(200);
    assert_eq!(answer["moved"], true);
    assert_eq!(answer["last_read"], m2);
    for (user, cursor) in [(&alice_phone, &mut phone_at), (&bob, &mut bob_at)] {
        let event = receipt_from(user, cursor, "alice@hs1.test", &m2).await;
        assert_eq!(event["seq"], 0);
        assert_eq!(event["to"], "#general@hs1.test");
    }
    let c = conversation(&alice_phone, "#general@hs1.test").await;
    assert_eq!(
        (c["unread"].clone(), c["mentions"].clone()),
        (json!(1), json!(0))
    );
    assert_eq!(c["last_read"], m2);

    // Never backwards.
    let answer = read(&alice, "#general", &m1).await.expect(200);
    assert_eq!(answer["moved"], false);
    assert_eq!(answer["last_read"], m2);
    assert_eq!(readers(&bob, &m1).await, vec!["alice@hs1.test"]);
    assert_eq!(readers(&bob, &m2).await, vec!["alice@hs1.test"]);
    assert!(readers(&bob, &m3).await.is_empty());

    // Receipts for a DM; eve, who shares nothing, got none of it.
    read(&alice, "bob", &d1).await.expect(200);
    receipt_from(&bob, &mut bob_at, "alice@hs1.test", &d1).await;
    let eve_sync = eve.sync(Some(eve_at), 1).await;
    assert!(
        eve_sync["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "receipt"),
        "{eve_sync}"
    );

    // Bad input, each with its code.
    read(&alice, "#general", &d1)
        .await
        .expect_error(400, "not_in_conversation");
    read(&alice, "#general", &json!("not-a-uuid"))
        .await
        .expect_error(400, "invalid_id");
    read(
        &alice,
        "#general",
        &json!("0194c6d2-7d1a-7c3e-9b1a-1234567890ab"),
    )
    .await
    .expect_error(404, "no_such_message");
    read(&eve, "#general", &m1)
        .await
        .expect_error(403, "not_member");
    eve.api
        .get(&format!(
            "/api/v1/messages/{}/receipts",
            m1.as_str().unwrap()
        ))
        .await
        .expect_error(404, "no_such_message");

    // Across a restart, from stored markers.
    hs.restart();
    let alice = User::login(&hs.url, "alice").await;
    let c = conversation(&alice, "#general@hs1.test").await;
    assert_eq!(c["unread"], 1);
    assert_eq!(c["last_read"], m2);
    assert_eq!(conversation(&alice, "bob@hs1.test").await["unread"], 0);
    read(&alice, "#general", &m3).await.expect(200);
    assert_eq!(conversation(&alice, "#general@hs1.test").await["unread"], 0);
}

/// `(unread, mentions)` of one of the user's conversations.
async fn counts(user: &User, target: &str) -> (Value, Value) {
    let c = conversation(user, target).await;
    (c["unread"].clone(), c["mentions"].clone())
}

async fn delete_message(user: &User, id: &Value) {
    let id = id.as_str().unwrap();
    user.api
        .delete(&format!("/api/v1/messages/{id}"))
        .await
        .expect(200);
}

#[actix_web::test]
async fn deleted_messages_are_neither_unread_nor_mentions() {
    let hs = ServerProcess::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    alice.join("#general").await;
    bob.join("#general").await;
    carol.join("#general").await;

    let kept = bob.say("#general", "this one stays").await["id"].clone();
    let oops = bob.say("#general", "hey @carol, wrong window").await["id"].clone();
    let rude = bob.say("#general", "@carol something rude").await["id"].clone();
    assert_eq!(
        counts(&carol, "#general@hs1.test").await,
        (json!(3), json!(2))
    );

    // The sender takes one back; the channel's operator (its creator) removes the other.
    delete_message(&bob, &oops).await;
    assert_eq!(
        counts(&carol, "#general@hs1.test").await,
        (json!(2), json!(1))
    );
    delete_message(&alice, &rude).await;
    assert_eq!(
        counts(&carol, "#general@hs1.test").await,
        (json!(1), json!(0))
    );
    // The delete events themselves are not messages to read.
    read(&carol, "#general", &kept).await.expect(200);
    assert_eq!(
        counts(&carol, "#general@hs1.test").await,
        (json!(0), json!(0))
    );

    // In a DM too.
    let dm = bob.say("carol", "@carol psst").await["id"].clone();
    assert_eq!(counts(&carol, "bob@hs1.test").await, (json!(1), json!(1)));
    delete_message(&bob, &dm).await;
    assert_eq!(counts(&carol, "bob@hs1.test").await, (json!(0), json!(0)));
}

#[actix_web::test]
async fn receipts_cross_servers_through_the_host_and_in_dms() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let carol = User::register(&hs2.url, "carol").await;
    let dave = User::register(&hs3.url, "dave").await;
    alice.join("#general").await;
    carol.join("#general@hs1.test").await;
    dave.join("#general@hs1.test").await;
    let (mut carol_at, mut dave_at) = (cursor_of(&carol).await, cursor_of(&dave).await);
    let m1 = alice.say("#general", "hi @carol").await["id"].clone();

    // The message reaches the mirrors; it counts as unread there, with its mention.
    carol
        .wait_for(&mut carol_at, "m1 on hs2", |e| e["id"] == m1)
        .await;
    dave.wait_for(&mut dave_at, "m1 on hs3", |e| e["id"] == m1)
        .await;
    let c = conversation(&carol, "#general@hs1.test").await;
    assert_eq!(
        (c["unread"].clone(), c["mentions"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(c["kind"], "channel");

    // A member server's user reads: the host's users and the other member server hear it, and
    // both keep the receipt.
    let mut alice_at = cursor_of(&alice).await;
    read(&carol, "#general@hs1.test", &m1).await.expect(200);
    receipt_from(&alice, &mut alice_at, "carol@hs2.test", &m1).await;
    receipt_from(&dave, &mut dave_at, "carol@hs2.test", &m1).await;
    assert_eq!(readers(&alice, &m1).await, vec!["carol@hs2.test"]);
    assert_eq!(readers(&dave, &m1).await, vec!["carol@hs2.test"]);
    assert_eq!(conversation(&carol, "#general@hs1.test").await["unread"], 0);

    // The host's user reads: member servers hear it.
    read(&alice, "#general", &m1).await.expect(200);
    receipt_from(&carol, &mut carol_at, "alice@hs1.test", &m1).await;
    let mut by_carol = readers(&carol, &m1).await;
    by_carol.sort();
    assert_eq!(by_carol, vec!["alice@hs1.test", "carol@hs2.test"]);

    // A DM across servers.
    let d1 = alice.say("carol@hs2.test", "psst").await["id"].clone();
    carol
        .wait_for(&mut carol_at, "the DM on hs2", |e| e["id"] == d1)
        .await;
    assert_eq!(conversation(&carol, "alice@hs1.test").await["unread"], 1);
    read(&carol, "alice@hs1.test", &d1).await.expect(200);
    receipt_from(&alice, &mut alice_at, "carol@hs2.test", &d1).await;
    assert_eq!(readers(&alice, &d1).await, vec!["carol@hs2.test"]);
    assert_eq!(conversation(&carol, "alice@hs1.test").await["unread"], 0);
    drop(hs3);
}

#[actix_web::test]
async fn profiles_presence_and_search() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs1.url, "bob").await;
    let eve = User::register(&hs1.url, "eve").await;
    let carol = User::register(&hs2.url, "carol").await;
    alice.join("#general").await;
    bob.join("#general").await;
    carol.join("#general@hs1.test").await;
    eve.join("#elsewhere").await;
    let (mut bob_at, eve_at, mut carol_at) = (
        cursor_of(&bob).await,
        cursor_of(&eve).await,
        cursor_of(&carol).await,
    );

    let patch = |body: Value| {
        let api = alice.api.clone();
        async move {
            api.raw(
                "PATCH",
                "/api/v1/users/me",
                serde_json::to_vec(&body).unwrap(),
            )
            .await
        }
    };
    let me = patch(json!({"display_name": "Alice A.", "status": "away",
        "status_message": "lunch", "avatar": "https://example.com/a.png"}))
    .await
    .expect(200);
    assert_eq!(me["display_name"], "Alice A.");
    assert_eq!(me["status"], "away");

    // Co-members here and on another server get a presence event; eve does not.
    for (user, cursor) in [(&bob, &mut bob_at), (&carol, &mut carol_at)] {
        let event = user
            .wait_for(
                cursor,
                &format!("alice's presence for {}", user.nick),
                |e| e["type"] == "presence" && e["from"] == "alice@hs1.test",
            )
            .await;
        assert_eq!(event["seq"], 0);
        assert_eq!(event["meta"]["status"], "away");
        assert_eq!(event["meta"]["status_message"], "lunch");
    }
    let eve_sync = eve.sync(Some(eve_at), 1).await;
    assert!(
        eve_sync["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["type"] != "presence"),
        "{eve_sync}"
    );

    // Profiles show the fields, here and from another server; appearing offline.
    patch(json!({"status": "offline"})).await.expect(200);
    let seen = bob.api.get("/api/v1/users/alice").await.expect(200);
    assert_eq!(seen["display_name"], "Alice A.");
    assert_eq!(seen["status"], "offline");
    assert_eq!(seen["online"], false);
    let remote = carol
        .api
        .get("/api/v1/users/alice@hs1.test")
        .await
        .expect(200);
    assert_eq!(remote["status_message"], "lunch");
    assert_eq!(remote["avatar"], "https://example.com/a.png");

    // Validation.
    for (body, code) in [
        (json!({"display_name": ""}), "ok"),
        (
            json!({"display_name": "x".repeat(51)}),
            "invalid_display_name",
        ),
        (json!({"status": "sleeping"}), "invalid_status"),
        (
            json!({"status_message": "x".repeat(101)}),
            "invalid_status_message",
        ),
        (
            json!({"avatar": "http://example.com/a.png"}),
            "invalid_avatar",
        ),
        (json!({"nick": "x"}), "invalid_request"),
    ] {
        let got = patch(body.clone()).await;
        if code == "ok" {
            got.expect(200);
        } else {
            got.expect_error(400, code);
        }
    }

    // Search: nick or display name, case-insensitive, bounded; q required.
    patch(json!({"display_name": "Wonder Woman"}))
        .await
        .expect(200);
    let found = bob
        .api
        .get("/api/v1/users/search?q=WONDER")
        .await
        .expect(200);
    let nicks: Vec<&str> = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["nick"].as_str().unwrap())
        .collect();
    assert_eq!(nicks, vec!["alice"]);
    let found = bob.api.get("/api/v1/users/search?q=e").await.expect(200);
    let nicks: Vec<&str> = found["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["nick"].as_str().unwrap())
        .collect();
    assert_eq!(nicks, vec!["eve", "alice"], "nick prefixes first");
    let found = bob
        .api
        .get("/api/v1/users/search?q=e&limit=1")
        .await
        .expect(200);
    assert_eq!(found["users"].as_array().unwrap().len(), 1);
    bob.api
        .get("/api/v1/users/search")
        .await
        .expect_error(400, "invalid_query");
    bob.api
        .get(&format!("/api/v1/users/search?q={}", "a".repeat(51)))
        .await
        .expect_error(400, "invalid_query");
    drop(hs2);
}
