//! Channel settings (issue 24): descriptions, pins and deleting a channel — who may, what
//! members see, across two servers, and that a deleted channel's history is gone from storage.

use std::time::Duration;

use hearth_tests::api::{Reply, User};
use hearth_tests::eventually;
use hearth_tests::network::federated_with;
use hearth_tests::process::{postgres_backend, Homeserver, ServerProcess};
use serde_json::{json, Value};

fn id_of(event: &Value) -> String {
    event["id"].as_str().expect("id").to_string()
}

async fn describe(user: &User, channel: &str, text: &str) -> Reply {
    user.api
        .put(
            &format!("/api/v1/channels/{channel}"),
            json!({ "description": text }),
        )
        .await
}

async fn pin(user: &User, channel: &str, id: &str) -> Reply {
    user.api
        .post(
            &format!("/api/v1/channels/{channel}/pins"),
            json!({ "id": id }),
        )
        .await
}

async fn unpin(user: &User, channel: &str, id: &str) -> Reply {
    user.api
        .delete(&format!("/api/v1/channels/{channel}/pins/{id}"))
        .await
}

async fn pins(user: &User, channel: &str) -> Reply {
    user.api
        .get(&format!("/api/v1/channels/{channel}/pins"))
        .await
}

/// `(message id, body)` of each pin, in the order listed.
fn pinned(list: &Value) -> Vec<(String, String)> {
    list["pins"]
        .as_array()
        .unwrap_or_else(|| panic!("no pins in {list}"))
        .iter()
        .map(|p| {
            (
                p["message"]["id"].as_str().unwrap().to_string(),
                p["message"]["body"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Waits until `user`'s pins of `channel` are `expected`.
async fn pins_until(user: &User, channel: &str, expected: &[(&str, &str)]) {
    let expected: Vec<(String, String)> = expected
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    eventually(Duration::from_secs(30), "the pins", || async {
        let reply = pins(user, channel).await;
        (reply.status == 200 && pinned(&reply.body) == expected).then_some(())
    })
    .await;
}

/// Every stored text of the SQLite database of `hs` (event bodies, meta and wire forms, stored
/// send answers, descriptions, pins), read beside the running server; `None` on Postgres.
fn stored_texts(hs: &ServerProcess) -> Option<Vec<String>> {
    use diesel::prelude::*;
    #[derive(QueryableByName)]
    struct Texts {
        #[diesel(sql_type = diesel::sql_types::Text)]
        text: String,
    }
    if postgres_backend() {
        return None;
    }
    let path = hs.data_dir().join("hearth.db");
    let mut conn =
        diesel::sqlite::SqliteConnection::establish(path.to_str().expect("path")).expect("open");
    let rows: Vec<Texts> = diesel::sql_query(
        "SELECT body || ' ' || meta || ' ' || COALESCE(wire, '') AS text FROM events \
         UNION ALL SELECT response AS text FROM txns \
         UNION ALL SELECT description AS text FROM channel_settings \
         UNION ALL SELECT message_id AS text FROM pins",
    )
    .load(&mut conn)
    .expect("read the database");
    Some(rows.into_iter().map(|t| t.text).collect())
}

fn assert_erased(hs: &ServerProcess, secret: &str) {
    if let Some(texts) = stored_texts(hs) {
        assert!(
            !texts.iter().any(|t| t.contains(secret)),
            "{} keeps a deleted channel's text",
            hs.name
        );
    }
}

#[actix_web::test]
async fn settings_of_a_channel_hosted_here() {
    let hs = Homeserver::start("hs1.test");
    let owner = User::register(&hs.url, "owner").await;
    let op = User::register(&hs.url, "oper").await;
    let member = User::register(&hs.url, "member").await;
    let outsider = User::register(&hs.url, "outsider").await;
    owner.join("#club").await;
    op.join("#club").await;
    member.join("#club").await;
    owner
        .api
        .post(
            "/api/v1/channels/club/mode",
            json!({"modes": "+o", "nick": "oper"}),
        )
        .await
        .expect(200);
    let mut cursor = member.sync(None, 0).await["next"].as_i64().unwrap();

    // The description: operators set it; info, lists and conversations show it.
    describe(&member, "club", "nope")
        .await
        .expect_error(403, "chanop_required");
    describe(&outsider, "club", "nope")
        .await
        .expect_error(403, "not_member");
    describe(&op, "club", &"x".repeat(501))
        .await
        .expect_error(400, "invalid_description");
    describe(&op, "nosuch", "x")
        .await
        .expect_error(404, "no_such_channel");
    let info = describe(&op, "club", "Rules: be kind.").await.expect(200);
    assert_eq!(info["description"], "Rules: be kind.");
    let seen = member
        .wait_for(&mut cursor, "the description event", |e| {
            e["type"] == "description"
        })
        .await;
    assert_eq!(seen["body"], "Rules: be kind.");
    assert_eq!(seen["from"], "oper@hs1.test");
    let info = outsider.api.get("/api/v1/channels/club").await.expect(200);
    assert_eq!(info["description"], "Rules: be kind.");
    let public = outsider
        .api
        .get("/api/v1/channels/public")
        .await
        .expect(200);
    assert_eq!(public["channels"][0]["description"], "Rules: be kind.");
    let mine = member.api.get("/api/v1/channels").await.expect(200);
    assert_eq!(mine["channels"][0]["description"], "Rules: be kind.");
    let conversations = member.api.get("/api/v1/conversations").await.expect(200);
    assert_eq!(
        conversations["conversations"][0]["description"],
        "Rules: be kind."
    );

    // Pins: operators pin and unpin, members read, newest pin first, current text.
    let first = id_of(&member.say("#club", "meet at noon").await);
    let second = id_of(&owner.say("#club", "house rules").await);
    let join = member
        .api
        .get("/api/v1/history?target=%23club&limit=200")
        .await
        .expect(200)["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "join")
        .map(id_of)
        .expect("a join in the history");
    pin(&member, "club", &first)
        .await
        .expect_error(403, "chanop_required");
    pin(&op, "club", &join)
        .await
        .expect_error(400, "not_a_message");
    pin(&op, "club", &uuid::Uuid::now_v7().to_string())
        .await
        .expect_error(404, "no_such_message");
    pin(&op, "club", "not-an-id")
        .await
        .expect_error(404, "no_such_message");
    let event = pin(&op, "club", &first).await.expect(201);
    assert_eq!(event["type"], "pin");
    assert_eq!(event["target"], first.as_str());
    pin(&op, "club", &first)
        .await
        .expect_error(409, "already_pinned");
    pin(&owner, "club", &second).await.expect(201);
    let seen = member
        .wait_for(&mut cursor, "the pin event", |e| e["type"] == "pin")
        .await;
    assert_eq!(seen["target"], first.as_str());
    pins(&outsider, "club")
        .await
        .expect_error(403, "not_member");
    let list = pins(&member, "club").await.expect(200);
    assert_eq!(
        pinned(&list),
        [
            (second.clone(), "house rules".to_string()),
            (first.clone(), "meet at noon".to_string())
        ]
    );
    assert_eq!(list["pins"][1]["pinned_by"], "oper@hs1.test");
    // An edit shows in the pins; a deleted message drops off.
    member
        .api
        .put(
            &format!("/api/v1/messages/{first}"),
            json!({"body": "meet at one"}),
        )
        .await
        .expect(200);
    pins_until(
        &member,
        "club",
        &[(&second, "house rules"), (&first, "meet at one")],
    )
    .await;
    owner
        .api
        .delete(&format!("/api/v1/messages/{second}"))
        .await
        .expect(200);
    pins_until(&member, "club", &[(&first, "meet at one")]).await;
    unpin(&member, "club", &first)
        .await
        .expect_error(403, "chanop_required");
    let event = unpin(&op, "club", &first).await.expect(200);
    assert_eq!(event["type"], "unpin");
    unpin(&op, "club", &first)
        .await
        .expect_error(404, "not_pinned");
    member
        .wait_for(&mut cursor, "the unpin event", |e| e["type"] == "unpin")
        .await;
    pins_until(&member, "club", &[]).await;

    // Deletion: the owner only; members get a system event and leave; erased; name free.
    pin(&op, "club", &first).await.expect(201);
    member.say("#club", "club-secret-words").await;
    op.api
        .delete("/api/v1/channels/club")
        .await
        .expect_error(403, "owner_required");
    member
        .api
        .delete("/api/v1/channels/club")
        .await
        .expect_error(403, "owner_required");
    let system = owner.api.delete("/api/v1/channels/club").await.expect(200);
    assert_eq!(system["type"], "system");
    assert_eq!(system["meta"]["channel_deleted"], "#club@hs1.test");
    let seen = member
        .wait_for(&mut cursor, "the deletion", |e| e["type"] == "system")
        .await;
    assert_eq!(seen["id"], system["id"]);
    for user in [&owner, &member, &outsider] {
        user.api
            .get("/api/v1/channels/club")
            .await
            .expect_error(404, "no_such_channel");
    }
    owner
        .api
        .delete("/api/v1/channels/club")
        .await
        .expect_error(404, "no_such_channel");
    pins(&member, "club")
        .await
        .expect_error(404, "no_such_channel");
    member
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#club", "body": "anyone?"}),
        )
        .await
        .expect_error(404, "no_such_channel");
    member
        .api
        .get(&format!("/api/v1/messages/{first}"))
        .await
        .expect_error(404, "no_such_message");
    let mine = member.api.get("/api/v1/channels").await.expect(200);
    assert_eq!(mine["channels"], json!([]));
    assert_erased(&hs, "club-secret-words");
    assert_erased(&hs, "Rules: be kind.");
    assert_erased(&hs, &first);

    // The name is free: a new channel, with none of the old history.
    let info = member.join("#club").await;
    assert_eq!(info["owner"], "member@hs1.test");
    assert_eq!(info["description"], "");
    let history = member
        .api
        .get("/api/v1/history?target=%23club&limit=200")
        .await
        .expect(200);
    let events = history["events"].as_array().unwrap();
    assert!(
        events.iter().all(|e| e["type"] == "join"),
        "old history in the new channel: {history}"
    );
    pins(&member, "club").await.expect(200);
    assert_eq!(pinned(&pins(&member, "club").await.expect(200)), []);
}

#[actix_web::test]
async fn settings_of_a_channel_hosted_on_another_server() {
    let (_dir, servers) = federated_with(&[
        ("hs1.test", vec![("RATE_LIMIT_SEND", "off")]),
        ("hs2.test", vec![]),
    ])
    .await;
    let [mut hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    alice.join("#town").await;
    bob.join("#town@hs1.test").await;
    carol.join("#town@hs1.test").await;
    let channel = "#town@hs1.test";
    let path = "town@hs1.test";
    alice
        .api
        .post(
            "/api/v1/channels/town/mode",
            json!({"modes": "+o", "nick": "bob@hs2.test"}),
        )
        .await
        .expect(200);
    let mut cursor = carol.sync(None, 0).await["next"].as_i64().unwrap();

    // The description, set by the host's owner and by a remote operator through the host.
    describe(&carol, path, "nope")
        .await
        .expect_error(403, "chanop_required");
    describe(&alice, "town", "The town square")
        .await
        .expect(200);
    let seen = carol
        .wait_for(&mut cursor, "the description on hs2", |e| {
            e["type"] == "description"
        })
        .await;
    assert_eq!(seen["body"], "The town square");
    let info = describe(&bob, path, "The town square, v2")
        .await
        .expect(200);
    assert_eq!(info["description"], "The town square, v2");
    let info = carol
        .api
        .get(&format!("/api/v1/channels/{path}"))
        .await
        .expect(200);
    assert_eq!(info["description"], "The town square, v2");
    eventually(
        Duration::from_secs(30),
        "the mirror's description",
        || async {
            let mine = carol.api.get("/api/v1/channels").await.expect(200);
            (mine["channels"][0]["description"] == "The town square, v2").then_some(())
        },
    )
    .await;
    let conversations = carol.api.get("/api/v1/conversations").await.expect(200);
    assert_eq!(
        conversations["conversations"][0]["description"],
        "The town square, v2"
    );

    // Pins across servers: a remote operator pins through the host; members of both
    // servers list them (hs2 from its mirror).
    let m = id_of(&carol.say(channel, "town-secret-meeting").await);
    let h = id_of(&alice.say("#town", "welcome").await);
    pin(&carol, path, &m)
        .await
        .expect_error(403, "chanop_required");
    let event = pin(&bob, path, &m).await.expect(201);
    assert_eq!(event["type"], "pin");
    assert_eq!(event["from"], "bob@hs2.test");
    pin(&alice, "town", &h).await.expect(201);
    pins_until(
        &carol,
        path,
        &[(&h, "welcome"), (&m, "town-secret-meeting")],
    )
    .await;
    pins_until(
        &alice,
        "town",
        &[(&h, "welcome"), (&m, "town-secret-meeting")],
    )
    .await;
    unpin(&bob, path, &h).await.expect(200);
    pins_until(&carol, path, &[(&m, "town-secret-meeting")]).await;
    pins_until(&alice, "town", &[(&m, "town-secret-meeting")]).await;

    // Deletion: a remote member cannot (the owner is a user of the host); the owner can, and
    // hs2 drops its mirror, its users see the same system event.
    bob.api
        .delete(&format!("/api/v1/channels/{path}"))
        .await
        .expect_error(403, "owner_required");
    let system = alice.api.delete("/api/v1/channels/town").await.expect(200);
    let seen = carol
        .wait_for(&mut cursor, "the deletion on hs2", |e| {
            e["type"] == "system"
        })
        .await;
    assert_eq!(seen["id"], system["id"]);
    assert_eq!(seen["meta"]["channel_deleted"], channel);
    eventually(Duration::from_secs(30), "the mirror dropped", || async {
        let mine = carol.api.get("/api/v1/channels").await.expect(200);
        (mine["channels"] == json!([])).then_some(())
    })
    .await;
    carol
        .api
        .get(&format!("/api/v1/channels/{path}"))
        .await
        .expect_error(404, "no_such_channel");
    pins(&carol, path).await.expect_error(403, "not_member");
    carol
        .api
        .get(&format!("/api/v1/messages/{m}"))
        .await
        .expect_error(404, "no_such_message");
    carol
        .api
        .post("/api/v1/messages", json!({"to": channel, "body": "hello?"}))
        .await
        .expect_error(403, "not_member");
    assert_erased(&hs1, "town-secret");
    assert_erased(&hs2, "town-secret");
    assert_erased(&hs2, "The town square");

    // The name is free on the host; hs2's users join the new channel, without old history.
    alice.join("#town").await;
    bob.join(channel).await;
    let history = bob
        .api
        .get("/api/v1/history?target=%23town@hs1.test&limit=200")
        .await
        .expect(200);
    assert!(
        !history.to_string().contains("town-secret"),
        "old history in the new channel: {history}"
    );
    assert_eq!(pinned(&pins(&bob, path).await.expect(200)), []);

    // A server that joins after more than a backfill of events still lists every pin, with
    // the message's current text, and shows the description.
    alice.join("#late").await;
    let old = id_of(&alice.say("#late", "first draft").await);
    alice
        .api
        .put(
            &format!("/api/v1/messages/{old}"),
            json!({"body": "final words"}),
        )
        .await
        .expect(200);
    pin(&alice, "late", &old).await.expect(201);
    describe(&alice, "late", "Latecomers welcome")
        .await
        .expect(200);
    for i in 0..60 {
        alice.say("#late", &format!("filler {i}")).await;
    }
    carol.join("#late@hs1.test").await;
    pins_until(&carol, "late@hs1.test", &[(&old, "final words")]).await;
    let mine = carol.api.get("/api/v1/channels").await.expect(200);
    let late = mine["channels"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "#late@hs1.test")
        .cloned()
        .expect("#late in carol's channels");
    assert_eq!(late["description"], "Latecomers welcome");

    // Pins are asked of the host; while it is down, hs2's own copy answers (the join brought
    // the pinned message and its edit, though older than the backfill).
    hs1.kill();
    let list = pins(&carol, "late@hs1.test").await.expect(200);
    assert_eq!(pinned(&list), [(old.clone(), "final words".to_string())]);
}
