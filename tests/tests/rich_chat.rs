//! Edits, deletes, reactions and threads (issue 16): each rule end to end, for a channel hosted
//! here, DMs here, a channel hosted on another server and DMs across servers. The edit window
//! is waited for with a deadline loop, never timed.

use std::time::{Duration, Instant};

use hearth_tests::api::{Reply, User};
use hearth_tests::eventually;
use hearth_tests::network::federated_with;
use hearth_tests::process::{postgres_backend, Homeserver, ServerProcess};
use serde_json::{json, Value};

/// Percent-encodes a path segment (emoji in `…/reactions/{emoji}`).
fn enc(segment: &str) -> String {
    segment
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

fn id_of(event: &Value) -> String {
    event["id"].as_str().expect("id").to_string()
}

async fn get(user: &User, id: &str) -> Reply {
    user.api.get(&format!("/api/v1/messages/{id}")).await
}

async fn edit(user: &User, id: &str, body: &str) -> Reply {
    user.api
        .put(&format!("/api/v1/messages/{id}"), json!({"body": body}))
        .await
}

async fn delete(user: &User, id: &str) -> Reply {
    user.api.delete(&format!("/api/v1/messages/{id}")).await
}

async fn react(user: &User, id: &str, emoji: &str) -> Reply {
    user.api
        .post(
            &format!("/api/v1/messages/{id}/reactions"),
            json!({"emoji": emoji}),
        )
        .await
}

async fn unreact(user: &User, id: &str, emoji: &str) -> Reply {
    user.api
        .delete(&format!("/api/v1/messages/{id}/reactions/{}", enc(emoji)))
        .await
}

async fn reply(user: &User, to: &str, root: &str, body: &str) -> Reply {
    user.api
        .post(
            "/api/v1/messages",
            json!({"to": to, "body": body, "reply_to": root}),
        )
        .await
}

/// `(emoji, count, me)` of a message view.
fn reactions(message: &Value) -> Vec<(String, i64, bool)> {
    message["reactions"]
        .as_array()
        .unwrap_or_else(|| panic!("no reactions in {message}"))
        .iter()
        .map(|r| {
            (
                r["emoji"].as_str().unwrap().to_string(),
                r["count"].as_i64().unwrap(),
                r["me"].as_bool().unwrap(),
            )
        })
        .collect()
}

fn r(emoji: &str, count: i64, me: bool) -> (String, i64, bool) {
    (emoji.to_string(), count, me)
}

/// Waits until `user`'s view of message `id` satisfies `ok`; returns it.
async fn view_until(user: &User, id: &str, what: &str, ok: impl Fn(&Value) -> bool) -> Value {
    eventually(Duration::from_secs(30), what, || async {
        let reply = get(user, id).await;
        (reply.status == 200 && ok(&reply.body)).then_some(reply.body)
    })
    .await
}

/// Every stored text of the SQLite database of `hs` (bodies, meta, signed wire forms, stored
/// answers of idempotent sends), read
/// beside the running server; `None` on Postgres.
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
         UNION ALL SELECT response AS text FROM txns",
    )
    .load(&mut conn)
    .expect("read events");
    Some(rows.into_iter().map(|t| t.text).collect())
}

/// Edits `id` until the server says the window is closed; every earlier try succeeds.
async fn edit_until_window_closes(user: &User, id: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let reply = edit(user, id, "still in time?").await;
        if reply.status == 403 {
            reply.expect_error(403, "edit_window_closed");
            return;
        }
        assert_eq!(reply.status, 200, "{}", reply.body);
        assert!(Instant::now() < deadline, "the edit window never closed");
        actix_web::rt::time::sleep(Duration::from_millis(250)).await;
    }
}

#[actix_web::test]
async fn edits_deletes_reactions_and_threads_in_a_channel() {
    let hs = Homeserver::start_with("hs1.test", &[("EDIT_WINDOW", "2")]);
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    let dave = User::register(&hs.url, "dave").await;
    alice.join("#general").await;
    bob.join("#general").await;
    carol.join("#general").await;
    dave.join("#elsewhere").await;
    let bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    let send_once = json!({"to": "#general", "body": "secret-typo-one", "txn_id": "t-1"});
    let m = id_of(
        &bob.api
            .post("/api/v1/messages", send_once.clone())
            .await
            .expect(201),
    );

    // Edits: the sender only.
    edit(&alice, &m, "not yours")
        .await
        .expect_error(403, "not_sender");
    let edited = edit(&bob, &m, "secret-fixed-two").await.expect(200);
    assert_eq!(edited["type"], "edit");
    assert_eq!(edited["target"], json!(m));
    assert_eq!(edited["body"], "secret-fixed-two");
    let view = get(&alice, &m).await.expect(200);
    assert_eq!(view["body"], "secret-fixed-two");
    assert_eq!(view["edited"]["count"], 1);
    assert!(view["edited"]["ts"].is_string(), "{view}");
    assert_eq!(view["deleted"], false);
    assert_eq!(view["reactions"], json!([]));
    assert_eq!(view["replies"]["count"], 0);
    bob.api
        .put(
            &format!("/api/v1/messages/{m}"),
            json!({"body": "secret-final-three", "meta": {"k": "secret-meta"}}),
        )
        .await
        .expect(200);
    let view = get(&carol, &m).await.expect(200);
    assert_eq!(
        (view["body"].clone(), view["edited"]["count"].clone()),
        (json!("secret-final-three"), json!(2))
    );
    assert_eq!(view["meta"]["k"], "secret-meta");

    // Bad input changes nothing.
    let unknown = uuid::Uuid::now_v7().to_string();
    get(&bob, &unknown)
        .await
        .expect_error(404, "no_such_message");
    edit(&bob, &unknown, "x")
        .await
        .expect_error(404, "no_such_message");
    get(&bob, "not-an-id")
        .await
        .expect_error(404, "no_such_message");
    edit(&bob, &m, "").await.expect_error(400, "empty_body");
    let wrong_type = bob
        .api
        .put(&format!("/api/v1/messages/{m}"), json!({"body": 5}))
        .await;
    assert_eq!(wrong_type.status, 400, "{}", wrong_type.body);
    let oversized = "x".repeat(10_001);
    edit(&bob, &m, &oversized)
        .await
        .expect_error(413, "message_too_large");
    get(&dave, &m).await.expect_error(404, "no_such_message");
    edit(&dave, &m, "outsider")
        .await
        .expect_error(404, "no_such_message");
    let view = get(&bob, &m).await.expect(200);
    assert_eq!(view["body"], "secret-final-three");
    assert_eq!(view["edited"]["count"], 2);

    // Reactions: once per user, emoji and message; grouped with `me`.
    let first = react(&alice, &m, "👍").await.expect(201);
    assert_eq!(first["type"], "reaction");
    assert_eq!(first["target"], json!(m));
    assert_eq!(first["body"], "👍");
    let again = react(&alice, &m, "👍").await.expect(200);
    assert_eq!(again["id"], first["id"], "a repeat answers the first");
    react(&bob, &m, "👍").await.expect(201);
    react(&alice, &m, "❤️").await.expect(201);
    for bad in ["ok", "", "👍 ", ":)", "1", "👍👍👍👍👍👍👍👍👍"] {
        let reply = react(&alice, &m, bad).await;
        reply.expect_error(400, "invalid_emoji");
    }
    let wrong = alice
        .api
        .post(
            &format!("/api/v1/messages/{m}/reactions"),
            json!({"emoji": 1}),
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    assert_eq!(
        reactions(&get(&alice, &m).await.expect(200)),
        [r("👍", 2, true), r("❤️", 1, true)]
    );
    assert_eq!(
        reactions(&get(&carol, &m).await.expect(200)),
        [r("👍", 2, false), r("❤️", 1, false)]
    );
    let withdrawn = unreact(&alice, &m, "👍").await.expect(200);
    assert_eq!(withdrawn["type"], "delete");
    assert_eq!(withdrawn["target"], first["id"]);
    unreact(&alice, &m, "👍")
        .await
        .expect_error(404, "no_such_reaction");
    assert_eq!(
        reactions(&get(&bob, &m).await.expect(200)),
        [r("👍", 1, true), r("❤️", 1, false)]
    );

    // Threads: reply_to must name a message of the same channel.
    let r1 = reply(&carol, "#general", &m, "first reply")
        .await
        .expect(201);
    let r2 = reply(&alice, "#general", &m, "second reply")
        .await
        .expect(201);
    reply(&carol, "#general", &unknown, "to nothing")
        .await
        .expect_error(400, "invalid_reply_to");
    let elsewhere = id_of(&dave.say("#elsewhere", "other channel").await);
    dave.join("#general").await;
    reply(&dave, "#general", &elsewhere, "across channels")
        .await
        .expect_error(400, "invalid_reply_to");
    let thread = carol
        .api
        .get(&format!("/api/v1/messages/{m}/thread"))
        .await
        .expect(200);
    assert_eq!(thread["root"]["id"], json!(m));
    assert_eq!(thread["root"]["replies"]["count"], 2);
    assert_eq!(thread["root"]["replies"]["last_ts"], r2["ts"]);
    let replies: Vec<&Value> = thread["replies"].as_array().unwrap().iter().collect();
    assert_eq!(replies.len(), 2);
    assert_eq!(replies[0]["id"], r1["id"], "oldest first");
    assert_eq!(replies[1]["id"], r2["id"]);
    assert_eq!(replies[0]["reply_to"], json!(m));

    // Deletes: the sender or an operator; the text is erased.
    delete(&carol, &m).await.expect_error(403, "not_sender");
    let by_op = delete(&alice, &id_of(&r1)).await.expect(200);
    assert_eq!(by_op["type"], "delete");
    let gone = delete(&bob, &m).await.expect(200);
    assert_eq!(gone["target"], json!(m));
    let view = get(&carol, &m).await.expect(200);
    assert_eq!(view["deleted"], true);
    assert_eq!(view["body"], "");
    assert_eq!(view["meta"], json!({}));
    assert_eq!(view["reactions"], json!([]));
    edit(&bob, &m, "back from the dead")
        .await
        .expect_error(409, "message_deleted");
    delete(&bob, &m).await.expect_error(409, "message_deleted");
    react(&carol, &m, "🎉")
        .await
        .expect_error(409, "message_deleted");
    let history = carol
        .api
        .get("/api/v1/history?target=%23general&limit=200")
        .await
        .expect(200);
    let events = history["events"].as_array().unwrap();
    let text = history.to_string();
    for secret in [
        "secret-typo-one",
        "secret-fixed-two",
        "secret-final-three",
        "secret-meta",
    ] {
        assert!(!text.contains(secret), "{secret} is still in history");
    }
    let original = events.iter().find(|e| e["id"] == json!(m)).unwrap();
    assert_eq!(original["deleted"], true);
    let edits: Vec<&Value> = events
        .iter()
        .filter(|e| e["type"] == "edit" && e["target"] == json!(m))
        .collect();
    assert_eq!(edits.len(), 2, "the edit events stay, blanked");
    assert!(edits.iter().all(|e| e["body"] == ""), "{edits:?}");
    // A retried send still answers, with the erased message.
    let retried = bob
        .api
        .post("/api/v1/messages", send_once)
        .await
        .expect(201);
    assert_eq!(
        (retried["id"].clone(), retried["body"].clone()),
        (json!(m), json!(""))
    );
    if let Some(texts) = stored_texts(&hs) {
        let leaked: Vec<&String> = texts.iter().filter(|t| t.contains("secret-")).collect();
        assert!(
            leaked.is_empty(),
            "stored rows keep deleted text: {leaked:?}"
        );
    }
    let thread = carol
        .api
        .get(&format!("/api/v1/messages/{m}/thread"))
        .await
        .expect(200);
    assert_eq!(thread["root"]["deleted"], true);
    assert_eq!(thread["replies"][0]["deleted"], true, "r1 was deleted");
    assert_eq!(thread["replies"][1]["body"], "second reply");

    // Sync keeps delivering the raw events, in order, without aggregates.
    let synced = bob.sync(Some(bob_cursor), 0).await;
    let kinds: Vec<&str> = synced["events"]
        .as_array()
        .unwrap()
        .iter()
        // Log events only: a reply also notifies (an ephemeral `notification`, `seq` 0).
        .filter(|e| e["seq"].as_i64() != Some(0))
        .filter(|e| e["target"].is_string() || e["id"] == json!(m))
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "message", "edit", "edit", "reaction", "reaction", "reaction", "delete", "delete",
            "delete"
        ]
    );
    for e in synced["events"].as_array().unwrap() {
        for aggregate in ["edited", "deleted", "reactions", "replies"] {
            assert!(
                e.get(aggregate).is_none(),
                "{aggregate} in a synced event {e}"
            );
        }
    }

    // The edit window (EDIT_WINDOW=2 here).
    let late = id_of(&bob.say("#general", "edit me soon").await);
    edit_until_window_closes(&bob, &late).await;
    // Deletes have no window.
    delete(&bob, &late).await.expect(200);
}

#[actix_web::test]
async fn dms_on_one_server() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    let m = id_of(&alice.say("bob", "dm-secret").await);
    get(&carol, &m).await.expect_error(404, "no_such_message");
    edit(&bob, &m, "mine now?")
        .await
        .expect_error(403, "not_sender");
    delete(&bob, &m).await.expect_error(403, "not_sender");
    react(&bob, &m, "👀").await.expect(201);
    react(&bob, &m, "👀").await.expect(200);
    edit(&alice, &m, "dm-secret-edited").await.expect(200);
    let view = get(&bob, &m).await.expect(200);
    assert_eq!(view["body"], "dm-secret-edited");
    assert_eq!(view["edited"]["count"], 1);
    assert_eq!(reactions(&view), [r("👀", 1, true)]);
    let answer = reply(&bob, "alice", &m, "answer").await.expect(201);
    assert_eq!(answer["reply_to"], json!(m));
    let other = id_of(&carol.say("bob", "from carol").await);
    reply(&bob, "alice", &other, "wrong conversation")
        .await
        .expect_error(400, "invalid_reply_to");
    let history = alice
        .api
        .get("/api/v1/history?target=bob")
        .await
        .expect(200);
    let original = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == json!(m))
        .unwrap()
        .clone();
    assert_eq!(original["replies"]["count"], 1);
    assert_eq!(reactions(&original), [r("👀", 1, false)]);
    delete(&alice, &m).await.expect(200);
    let view = get(&bob, &m).await.expect(200);
    assert_eq!(
        (view["deleted"].clone(), view["body"].clone()),
        (json!(true), json!(""))
    );
    let history = bob
        .api
        .get("/api/v1/history?target=alice")
        .await
        .expect(200);
    assert!(!history.to_string().contains("dm-secret"), "{history}");
}

#[actix_web::test]
async fn a_channel_hosted_on_another_server() {
    let (_dir, servers) = federated_with(&[("hs1.test", vec![]), ("hs2.test", vec![])]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let bob2 = User::register(&hs2.url, "bobby").await;
    alice.join("#general").await;
    bob.join("#general@hs1.test").await;
    bob2.join("#general@hs1.test").await;
    let channel = "#general@hs1.test";

    let m = id_of(&bob.say(channel, "fed-secret-one").await);
    let a = id_of(&alice.say("#general", "from the host").await);

    // Edits through the host: the sender only, checked by the host.
    let edited = edit(&bob, &m, "fed-secret-two").await.expect(200);
    assert_eq!(edited["type"], "edit");
    assert_eq!(edited["from"], "bob@hs2.test");
    let on_hs2 = get(&bob2, &m).await.expect(200);
    assert_eq!(on_hs2["body"], "fed-secret-two");
    assert_eq!(on_hs2["edited"]["count"], 1);
    view_until(&alice, &m, "the host's copy edited", |v| {
        v["body"] == "fed-secret-two" && v["edited"]["count"] == 1
    })
    .await;
    view_until(&bob, &a, "the host's message on hs2", |_| true).await;
    edit(&bob, &a, "not mine")
        .await
        .expect_error(403, "not_sender");
    edit(&alice, &m, "not mine either")
        .await
        .expect_error(403, "not_sender");
    delete(&bob, &a).await.expect_error(403, "not_sender");

    // Reactions, once each, with the same aggregates on both servers.
    react(&bob, &m, "👍").await.expect(201);
    react(&bob, &m, "👍").await.expect(200);
    react(&bob2, &m, "👍").await.expect(201);
    react(&alice, &m, "🎉").await.expect(201);
    react(&bob, &m, "nope")
        .await
        .expect_error(400, "invalid_emoji");
    view_until(&bob, &m, "reactions relayed to hs2", |v| {
        reactions(v) == [r("👍", 2, true), r("🎉", 1, false)]
    })
    .await;
    assert_eq!(
        reactions(&get(&alice, &m).await.expect(200)),
        [r("👍", 2, false), r("🎉", 1, true)]
    );
    unreact(&bob2, &m, "👍").await.expect(200);
    view_until(&alice, &m, "the withdrawal on hs1", |v| {
        reactions(v) == [r("👍", 1, false), r("🎉", 1, true)]
    })
    .await;

    // Threads across servers.
    reply(&alice, "#general", &m, "host reply")
        .await
        .expect(201);
    reply(&bob2, channel, &m, "member reply").await.expect(201);
    reply(&bob2, channel, &uuid::Uuid::now_v7().to_string(), "nothing")
        .await
        .expect_error(400, "invalid_reply_to");
    eventually(Duration::from_secs(30), "the thread on hs2", || async {
        let thread = bob
            .api
            .get(&format!("/api/v1/messages/{m}/thread"))
            .await
            .expect(200);
        (thread["replies"].as_array().unwrap().len() == 2
            && thread["root"]["replies"]["count"] == 2)
            .then_some(())
    })
    .await;

    // An operator of the host deletes a remote member's message: erased on both servers.
    delete(&bob2, &m).await.expect_error(403, "not_sender");
    delete(&alice, &m).await.expect(200);
    let gone = view_until(&bob, &m, "the delete on hs2", |v| v["deleted"] == true).await;
    assert_eq!(gone["body"], "");
    assert_eq!(gone["reactions"], json!([]));
    edit(&bob, &m, "again")
        .await
        .expect_error(409, "message_deleted");
    for (user, hs) in [(&alice, &hs1), (&bob, &hs2)] {
        let history = user
            .api
            .get("/api/v1/history?target=%23general@hs1.test&limit=200")
            .await
            .expect(200);
        assert!(!history.to_string().contains("fed-secret"), "{history}");
        if let Some(texts) = stored_texts(hs) {
            assert!(
                !texts.iter().any(|t| t.contains("fed-secret")),
                "{} keeps deleted text",
                hs.name
            );
        }
    }

    // A member's own delete through the host.
    let own = id_of(&bob.say(channel, "take it back").await);
    delete(&bob, &own).await.expect(200);
    view_until(&alice, &own, "the member's delete on hs1", |v| {
        v["deleted"] == true
    })
    .await;
}

#[actix_web::test]
async fn the_host_enforces_the_edit_window() {
    let (_dir, servers) = federated_with(&[
        ("hs1.test", vec![("EDIT_WINDOW", "1")]),
        ("hs2.test", vec![]),
    ])
    .await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    alice.join("#w").await;
    bob.join("#w@hs1.test").await;
    let m = id_of(&bob.say("#w@hs1.test", "quick").await);
    edit_until_window_closes(&bob, &m).await;
}

#[actix_web::test]
async fn dms_across_servers() {
    let (_dir, servers) = federated_with(&[("hs1.test", vec![]), ("hs2.test", vec![])]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let mut bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    let m = id_of(&alice.say("bob@hs2.test", "dm-fed-secret").await);
    bob.wait_for(&mut bob_cursor, "alice's DM", |e| e["id"] == json!(m))
        .await;

    // Bob reacts on his server; alice's copy counts it.
    let reaction = react(&bob, &m, "👍").await.expect(201);
    react(&bob, &m, "👍").await.expect(200);
    view_until(&alice, &m, "bob's reaction on hs1", |v| {
        reactions(v) == [r("👍", 1, false)]
    })
    .await;
    unreact(&bob, &m, "👍").await.expect(200);
    view_until(&alice, &m, "the withdrawal on hs1", |v| {
        reactions(v).is_empty()
    })
    .await;
    react(&bob, &m, "🙂").await.expect(201);
    assert_ne!(reaction["id"], json!(null));

    // Only alice edits and deletes her message; her server sends both to bob's.
    edit(&bob, &m, "not mine")
        .await
        .expect_error(403, "not_sender");
    delete(&bob, &m).await.expect_error(403, "not_sender");
    edit(&alice, &m, "dm-fed-secret-edited").await.expect(200);
    let view = view_until(&bob, &m, "the edit on hs2", |v| v["edited"]["count"] == 1).await;
    assert_eq!(view["body"], "dm-fed-secret-edited");
    assert_eq!(reactions(&view), [r("🙂", 1, true)]);
    view_until(&alice, &m, "bob's second reaction on hs1", |v| {
        reactions(v) == [r("🙂", 1, false)]
    })
    .await;

    // A reply across servers counts on both copies.
    let answer = reply(&bob, "alice@hs1.test", &m, "bob answers")
        .await
        .expect(201);
    assert_eq!(answer["reply_to"], json!(m));
    view_until(&alice, &m, "the reply counted on hs1", |v| {
        v["replies"]["count"] == 1
    })
    .await;

    delete(&alice, &m).await.expect(200);
    let gone = view_until(&bob, &m, "the delete on hs2", |v| v["deleted"] == true).await;
    assert_eq!(gone["body"], "");
    for (user, target, hs) in [
        (&alice, "bob@hs2.test", &hs1),
        (&bob, "alice@hs1.test", &hs2),
    ] {
        let history = user
            .api
            .get(&format!("/api/v1/history?target={target}"))
            .await
            .expect(200);
        assert!(!history.to_string().contains("dm-fed-secret"), "{history}");
        if let Some(texts) = stored_texts(hs) {
            assert!(
                !texts.iter().any(|t| t.contains("dm-fed-secret")),
                "{} keeps deleted text",
                hs.name
            );
        }
    }
}

async fn rename(user: &User, nick: &str) {
    user.api
        .post("/api/v1/users/nick", json!({"nick": nick}))
        .await
        .expect(200);
}

#[actix_web::test]
async fn reactions_belong_to_the_user_across_a_nick_change() {
    let (_dir, servers) = federated_with(&[("hs1.test", vec![]), ("hs2.test", vec![])]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs1.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    alice.join("#general").await;
    bob.join("#general").await;
    carol.join("#general@hs1.test").await;

    // A channel hosted here and a DM: bob reacts, renames, and the reaction is still his.
    let m = id_of(&alice.say("#general", "react to me").await);
    let d = id_of(&alice.say("bob", "and to me").await);
    react(&bob, &m, "👍").await.expect(201);
    react(&bob, &d, "🎉").await.expect(201);
    rename(&bob, "robert").await;
    assert_eq!(
        reactions(&get(&bob, &m).await.expect(200)),
        [r("👍", 1, true)]
    );
    assert_eq!(
        reactions(&get(&bob, &d).await.expect(200)),
        [r("🎉", 1, true)]
    );
    assert_eq!(
        reactions(&get(&alice, &m).await.expect(200)),
        [r("👍", 1, false)]
    );
    // Once per user still: the same reaction again is the first one.
    react(&bob, &m, "👍").await.expect(200);
    unreact(&bob, &m, "👍").await.expect(200);
    unreact(&bob, &d, "🎉").await.expect(200);
    assert_eq!(reactions(&get(&alice, &m).await.expect(200)), []);
    assert_eq!(reactions(&get(&alice, &d).await.expect(200)), []);
    // A user who takes the old nick does not inherit anything.
    let new_bob = User::register(&hs1.url, "bob").await;
    new_bob.join("#general").await;
    react(&new_bob, &m, "👍").await.expect(201);
    assert_eq!(
        reactions(&get(&new_bob, &m).await.expect(200)),
        [r("👍", 1, true)]
    );
    unreact(&new_bob, &m, "👍").await.expect(200);

    // A user of another server, in a channel hosted here: the host follows the nick event, the
    // member server keys the reaction by the user.
    let c = id_of(&alice.say("#general", "across servers").await);
    view_until(&carol, &c, "the message on hs2", |_| true).await;
    react(&carol, &c, "🔥").await.expect(201);
    view_until(&alice, &c, "carol's reaction on hs1", |v| {
        reactions(v) == [r("🔥", 1, false)]
    })
    .await;
    rename(&carol, "caroline").await;
    carol.say("#general@hs1.test", "renamed").await;
    assert_eq!(
        reactions(&get(&carol, &c).await.expect(200)),
        [r("🔥", 1, true)]
    );
    react(&carol, &c, "🔥").await.expect(200);
    unreact(&carol, &c, "🔥").await.expect(200);
    view_until(&alice, &c, "the withdrawal on hs1", |v| {
        reactions(v).is_empty()
    })
    .await;
    view_until(&carol, &c, "the withdrawal on hs2", |v| {
        reactions(v).is_empty()
    })
    .await;
    drop((hs1, hs2));
}
