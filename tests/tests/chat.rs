//! Channels, DMs, devices, long-poll and restarts, against the real binary.

use std::time::{Duration, Instant};

use hearth_tests::api::{Api, User};
use hearth_tests::eventually;
use hearth_tests::process::Homeserver;
use serde_json::{json, Value};

#[actix_web::test]
async fn two_users_chat_in_a_channel() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let created = alice.join("#general").await;
    assert_eq!(created["name"], "#general@hs1.test");
    assert_eq!(created["modes"], "+nt", "new channels start as +nt");
    assert_eq!(
        created["members"][0]["modes"], "o",
        "the creator is an operator"
    );
    assert_eq!(created["owner"], "alice@hs1.test");
    bob.join("#general").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    let sent = alice.say("#general", "hello bob").await;
    assert_eq!(sent["from"], "alice@hs1.test");
    assert_eq!(sent["to"], "#general@hs1.test");
    assert_eq!(sent["type"], "message");
    let got = bob.sync(Some(cursor), 5).await;
    assert_eq!(User::bodies(&got), ["hello bob"]);
    assert_eq!(got["events"][0]["id"], sent["id"]);

    bob.say("#general", "hi alice").await;
    let history = alice
        .api
        .get("/api/v1/history?target=%23general")
        .await
        .expect(200);
    let bodies: Vec<_> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].clone())
        .collect();
    assert_eq!(
        bodies[..2],
        [json!("hi alice"), json!("hello bob")],
        "history is newest first"
    );

    let mine = bob.api.get("/api/v1/channels").await.expect(200);
    assert_eq!(mine["channels"][0]["name"], "#general@hs1.test");
    assert_eq!(mine["channels"][0]["members"], 2);
    let info = bob.api.get("/api/v1/channels/general").await.expect(200);
    assert_eq!(info["members"].as_array().unwrap().len(), 2);
    let by_encoded_name = bob
        .api
        .get("/api/v1/channels/%23general@hs1.test")
        .await
        .expect(200);
    assert_eq!(by_encoded_name["name"], "#general@hs1.test");

    bob.api
        .post(
            "/api/v1/channels/part",
            json!({"channel": "#general", "reason": "bye"}),
        )
        .await
        .expect(200);
    let after_part = bob.sync(None, 0).await;
    let kinds: Vec<_> = after_part["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].clone())
        .collect();
    assert!(
        kinds.contains(&json!("part")),
        "the parting user sees their own part: {kinds:?}"
    );
    alice.say("#general", "bob is gone").await;
    let next = after_part["next"].as_i64().unwrap();
    assert!(
        User::bodies(&bob.sync(Some(next), 0).await).is_empty(),
        "no events after leaving"
    );
}

#[actix_web::test]
async fn long_poll_wakes_on_send_and_not_by_timeout() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#room").await;
    bob.join("#room").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    let waiting = bob.clone();
    let poll = actix_web::rt::spawn(async move {
        let started = Instant::now();
        let got = waiting.sync(Some(cursor), 60).await;
        (got, started.elapsed())
    });
    // Make sure the poll is waiting before sending.
    let metrics = Api::new(&hs.url);
    eventually(Duration::from_secs(10), "the poll to wait", || async {
        let (_, text) = metrics.get_text("/metrics").await;
        text.contains("hearth_active_long_polls 1").then_some(())
    })
    .await;
    alice.say("#room", "wake up").await;
    let (got, waited) = poll.await.unwrap();
    assert_eq!(User::bodies(&got), ["wake up"]);
    assert!(
        waited < Duration::from_secs(30),
        "the poll was woken by the send, not its 60 s timeout ({waited:?})"
    );

    // With nothing to deliver, a poll ends by its timeout with an empty answer.
    let next = got["next"].as_i64().unwrap();
    let empty = bob.sync(Some(next), 1).await;
    assert_eq!(empty["events"], json!([]));
    assert_eq!(empty["next"], next);
    // A cursor beyond the log's end is not echoed back: `next` stays a position that exists.
    let beyond = bob.sync(Some(next + 1000), 0).await;
    assert_eq!(beyond["next"], next);
}

#[actix_web::test]
async fn an_abandoned_long_poll_is_released() {
    let hs = Homeserver::start("hs1.test");
    let bob = User::register(&hs.url, "bob").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    let metrics = Api::new(&hs.url);
    let poll = actix_web::rt::spawn({
        let bob = bob.clone();
        async move { bob.sync(Some(cursor), 100).await }
    });
    eventually(Duration::from_secs(10), "the poll to wait", || async {
        metrics
            .get_text("/metrics")
            .await
            .1
            .contains("hearth_active_long_polls 1")
            .then_some(())
    })
    .await;
    poll.abort(); // the client hangs up
    eventually(
        Duration::from_secs(10),
        "the abandoned poll to be released",
        || async {
            metrics
                .get_text("/metrics")
                .await
                .1
                .contains("hearth_active_long_polls 0")
                .then_some(())
        },
    )
    .await;
}

#[actix_web::test]
async fn every_device_gets_every_event_and_an_offline_one_resumes() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let phone = User::register(&hs.url, "bob").await;
    let laptop = User::login(&hs.url, "bob").await;
    assert_ne!(phone.device_id, laptop.device_id);
    alice.join("#team").await;
    phone.join("#team").await;

    // The laptop is offline from here on; the phone follows live.
    let mut phone_cursor = phone.sync(None, 0).await["next"].as_i64().unwrap();

    for i in 0..5 {
        alice.say("#team", &format!("m{i}")).await;
    }
    alice.say("bob", "a direct message").await;

    // The phone follows live.
    let mut phone_bodies = Vec::new();
    while phone_bodies.len() < 6 {
        let got = phone.sync(Some(phone_cursor), 5).await;
        phone_bodies.extend(User::bodies(&got));
        phone_cursor = got["next"].as_i64().unwrap();
    }
    assert_eq!(
        phone_bodies,
        ["m0", "m1", "m2", "m3", "m4", "a direct message"]
    );

    // The laptop comes back without `after`: it resumes from the cursor the server holds for
    // it (where it logged in) and gets everything, once, in order.
    // Log events only: the DM also notifies (an ephemeral `notification`, `seq` 0, made by a
    // consumer of commits, so it may come with any of the polls below).
    let resumed = without_notifications(laptop.sync(None, 0).await);
    let events = resumed["events"].as_array().unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e["seq"].as_i64().unwrap()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "in seq order: {seqs:?}"
    );
    assert!(seqs.iter().all(|s| *s > 0));
    let bodies = User::bodies(&resumed);
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4", "a direct message"]);

    // Acknowledge, then a resume without `after` has nothing new: exactly once.
    let next = resumed["next"].as_i64().unwrap();
    let acked = without_notifications(laptop.sync(Some(next), 0).await);
    assert_eq!(acked["events"], json!([]));
    let again = without_notifications(laptop.sync(None, 0).await);
    assert_eq!(
        again["events"],
        json!([]),
        "acknowledged events are not delivered again"
    );

    // DMs are in both users' history.
    let dm = phone
        .api
        .get("/api/v1/history?target=alice")
        .await
        .expect(200);
    assert_eq!(dm["events"][0]["body"], "a direct message");
    assert_eq!(dm["events"][0]["to"], "bob@hs1.test");
}

#[actix_web::test]
async fn a_restart_loses_nothing() {
    let mut hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#durable").await;
    bob.join("#durable").await;
    bob.api
        .post("/api/v1/channels/durable/topic", json!({"topic": "kept"}))
        .await
        .expect_error(403, "chanop_required");
    alice
        .api
        .post("/api/v1/channels/durable/topic", json!({"topic": "kept"}))
        .await
        .expect(200);
    let acked = bob.sync(None, 0).await["next"].as_i64().unwrap();
    bob.sync(Some(acked), 0).await; // acknowledge
    for i in 0..3 {
        alice.say("#durable", &format!("before restart {i}")).await;
    }

    hs.restart(); // kill -9 and start again on the same data directory and port

    // Accounts and tokens survive: the same tokens still work, and login works.
    User::login(&hs.url, "alice").await;
    let resumed = bob.sync(None, 0).await;
    assert_eq!(
        User::bodies(&resumed),
        ["before restart 0", "before restart 1", "before restart 2"]
    );
    let info = bob.api.get("/api/v1/channels/durable").await.expect(200);
    assert_eq!(info["topic"], "kept");
    assert_eq!(info["members"].as_array().unwrap().len(), 2);
    let history = alice
        .api
        .get("/api/v1/history?target=%23durable&limit=3")
        .await
        .expect(200);
    assert_eq!(history["events"][0]["body"], "before restart 2");
}

#[actix_web::test]
async fn a_retried_txn_id_returns_the_first_event() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#once").await;
    let body = json!({"to": "#once", "body": "only once", "txn_id": "txn-1"});
    let first = alice
        .api
        .post("/api/v1/messages", body.clone())
        .await
        .expect(201);
    let second = alice
        .api
        .post("/api/v1/messages", body.clone())
        .await
        .expect(201);
    assert_eq!(first, second);
    let history = alice
        .api
        .get("/api/v1/history?target=%23once")
        .await
        .expect(200);
    let copies = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"] == "only once")
        .count();
    assert_eq!(copies, 1);
    // Another device may use the same txn_id for its own message.
    let other = User::login(&hs.url, "alice").await;
    let third = other.api.post("/api/v1/messages", body).await.expect(201);
    assert_ne!(third["id"], first["id"]);
}

#[actix_web::test]
async fn nick_changes_and_profiles() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#nicks").await;
    bob.join("#nicks").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    bob.api
        .post("/api/v1/users/nick", json!({"nick": "alice"}))
        .await
        .expect_error(409, "nick_taken");
    let renamed = alice
        .api
        .post("/api/v1/users/nick", json!({"nick": "Alicia"}))
        .await
        .expect(200);
    assert_eq!(renamed["handle"], "alicia@hs1.test");
    let got = bob.sync(Some(cursor), 5).await;
    let nick_event = got["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "nick")
        .expect("nick event");
    assert_eq!(nick_event["from"], "alice@hs1.test");
    assert_eq!(nick_event["body"], "alicia@hs1.test");
    let profile = bob.api.get("/api/v1/users/alicia").await.expect(200);
    assert_eq!(
        profile["id"], renamed["id"],
        "the stable id survives the nick change"
    );
    assert_eq!(profile["online"], true);
    assert!(profile["idle_seconds"].as_i64().unwrap() >= 0);
    bob.api
        .get("/api/v1/users/alice")
        .await
        .expect_error(404, "unknown_user");
    let me = alice.api.get("/api/v1/users/me").await.expect(200);
    assert_eq!(me["nick"], "alicia");
    let server = Api::new(&hs.url).get("/api/v1/server").await.expect(200);
    assert_eq!(server["name"], "hs1.test");
    assert_eq!(server["user_count"], 2);
}

/// Sends that arrive together share a batch: the newest `MAX_HISTORY` stay, also when one batch
/// holds more sends than the limit and its rotation drops some of its own events (on Postgres
/// inside `hearth_end_batch`, after its insert).
#[actix_web::test]
async fn history_rotates_when_a_batch_outgrows_max_history() {
    let hs = Homeserver::start_with("hs1.test", &[("MAX_HISTORY", "3")]);
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#burst").await;
    for round in 0..3 {
        let bodies: Vec<String> = (0..12).map(|i| format!("r{round}m{i}")).collect();
        let sends = bodies.iter().map(|body| alice.say("#burst", body));
        let sent = futures_util::future::join_all(sends).await;
        let mut newest: Vec<(i64, String)> = sent
            .iter()
            .zip(&bodies)
            .map(|(e, body)| (e["seq"].as_i64().unwrap(), body.clone()))
            .collect();
        newest.sort();
        let expected: Vec<String> = newest
            .iter()
            .rev()
            .take(3)
            .map(|(_, b)| b.clone())
            .collect();
        let history = alice
            .api
            .get("/api/v1/history?target=%23burst&limit=200")
            .await
            .expect(200);
        assert_eq!(
            history["events"].as_array().map(Vec::len),
            Some(3),
            "{history}"
        );
        assert_eq!(User::bodies(&history), expected, "round {round}: {history}");
    }
}

/// Sends arriving together share a batch, whose events Postgres gets as SQL constants: every
/// character a body can hold comes back as it was sent, and the words are found.
#[actix_web::test]
async fn bodies_with_any_characters_come_back_whole() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#quoting").await;
    let bodies = [
        "it's \"quoted\" and back\\slashed \\\"",
        "$h$ closes $h1$ nothing $h2$ $$ $",
        "{braces,commas} NULL {\"NULL\"} ''",
        "'); DROP TABLE events; -- zebrafish",
        "line one\nline two\ttab \r end",
        "émoji 🔥 中文 ends with a backslash \\",
        " leading and trailing spaces ",
        "NULL",
    ];
    let sends = bodies.iter().map(|body| alice.say("#quoting", body));
    futures_util::future::join_all(sends).await;
    let history = alice
        .api
        .get("/api/v1/history?target=%23quoting&limit=200")
        .await
        .expect(200);
    let mut got = User::bodies(&history);
    let mut sent: Vec<String> = bodies.iter().map(|b| b.to_string()).collect();
    got.sort();
    sent.sort();
    assert_eq!(got, sent, "{history}");
    let found = alice
        .api
        .get("/api/v1/search?q=zebrafish")
        .await
        .expect(200);
    assert_eq!(
        found["results"][0]["event"]["body"].as_str(),
        Some(bodies[3]),
        "{found}"
    );
    assert_eq!(
        found["results"].as_array().map(Vec::len),
        Some(1),
        "{found}"
    );
}

#[actix_web::test]
async fn history_rotates_after_max_history() {
    let hs = Homeserver::start_with("hs1.test", &[("MAX_HISTORY", "5")]);
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#short").await;
    for i in 0..8 {
        alice.say("#short", &format!("n{i}")).await;
    }
    let history = alice
        .api
        .get("/api/v1/history?target=%23short&limit=200")
        .await
        .expect(200);
    let bodies: Vec<_> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["n7", "n6", "n5", "n4", "n3"]);
    let page = alice
        .api
        .get("/api/v1/history?target=%23short&limit=2")
        .await
        .expect(200);
    let before = page["events"][1]["seq"].as_i64().unwrap();
    let older = alice
        .api
        .get(&format!(
            "/api/v1/history?target=%23short&before={before}&limit=2"
        ))
        .await
        .expect(200);
    assert_eq!(older["events"][0]["body"], "n5");
    assert_eq!(older["events"][1]["body"], "n4");
}

#[actix_web::test]
async fn idle_tokens_expire() {
    let hs = Homeserver::start_with("hs1.test", &[("SESSION_TIMEOUT", "1")]);
    let alice = User::register(&hs.url, "alice").await;
    alice.api.get("/api/v1/users/me").await.expect(200);
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await; // the feature is about time
                                                                   // Refused on use (token_expired), or already swept by the reaper (invalid_token).
    let refused = alice.api.get("/api/v1/users/me").await;
    assert_eq!(refused.status, 401, "{}", refused.body);
    assert!(
        ["token_expired", "invalid_token"].contains(&refused.code()),
        "{}",
        refused.body
    );
    alice
        .api
        .get("/api/v1/users/me")
        .await
        .expect_error(401, "invalid_token");
    User::login(&hs.url, "alice")
        .await
        .api
        .get("/api/v1/users/me")
        .await
        .expect(200);
}

/// A sync answer without its ephemeral `notification` events (see `services::notifications`).
fn without_notifications(mut sync: Value) -> Value {
    if let Some(events) = sync["events"].as_array_mut() {
        events.retain(|e| e["type"] != "notification");
    }
    sync
}
