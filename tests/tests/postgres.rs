//! The homeserver on Postgres: the core scenarios, two processes sharing one database, and the
//! SQLite → Postgres migration. Each test starts its own throwaway cluster (see
//! `hearth_tests::postgres`); without Postgres they say so and skip, except in CI.

use std::process::Command;
use std::time::{Duration, Instant};

use hearth_tests::api::{Api, User, PASSWORD};
use hearth_tests::eventually;
use hearth_tests::postgres::PgCluster;
use hearth_tests::process::{binary, Homeserver};
use serde_json::{json, Value};

/// Waits until the server at `url` has exactly one waiting long-poll.
async fn one_poll_waiting(url: &str) {
    let metrics = Api::new(url);
    eventually(Duration::from_secs(10), "the poll to wait", || async {
        let (_, text) = metrics.get_text("/metrics").await;
        text.contains("hearth_active_long_polls 1").then_some(())
    })
    .await;
}

/// Registers (or logs in, with `login`) and keeps the token, so that the same device can
/// talk to another process too.
async fn device(url: &str, nick: &str, login: bool) -> (User, String) {
    let (path, status) = if login {
        ("/api/v1/login", 200)
    } else {
        ("/api/v1/register", 201)
    };
    let body = Api::new(url)
        .post(path, json!({"nick": nick, "password": PASSWORD}))
        .await
        .expect(status);
    let token = body["token"].as_str().expect("token").to_string();
    let user = User {
        nick: nick.to_string(),
        device_id: body["device_id"].as_str().expect("device_id").to_string(),
        api: Api::new(url).with_token(&token),
    };
    (user, token)
}

/// The same device, talking to the server at `url`.
fn at(url: &str, user: &User, token: &str) -> User {
    User {
        api: Api::new(url).with_token(token),
        ..user.clone()
    }
}

/// A sync answer without its ephemeral events (`seq` 0: e.g. the `notification` of a DM),
/// which are delivered once and not kept.
fn log_only(mut sync: Value) -> Value {
    if let Some(events) = sync["events"].as_array_mut() {
        events.retain(|e| e["seq"].as_i64() != Some(0));
    }
    sync
}

fn seqs(sync: &Value) -> Vec<i64> {
    sync["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect()
}

#[actix_web::test]
async fn core_scenarios_on_postgres() {
    let Some(pg) = PgCluster::start_or_skip("core_scenarios_on_postgres") else {
        return;
    };
    let url = pg.database();
    let mut hs = Homeserver::start_with(
        "hs1.test",
        &[("DBURL", url.as_str()), ("MAX_MESSAGE_SIZE", "1000")],
    );
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let created = alice.join("#general").await;
    assert_eq!(created["modes"], "+nt");
    bob.join("#general").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    // Chat, and a long-poll woken by the send.
    let waiting = bob.clone();
    let poll = actix_web::rt::spawn(async move {
        let started = Instant::now();
        (waiting.sync(Some(cursor), 60).await, started.elapsed())
    });
    one_poll_waiting(&hs.url).await;
    let sent = alice.say("#general", "hello bob").await;
    let (got, waited) = poll.await.unwrap();
    assert_eq!(User::bodies(&got), ["hello bob"]);
    assert_eq!(got["events"][0]["id"], sent["id"]);
    assert!(waited < Duration::from_secs(30), "woken by the send");

    // A second device resumes without `after` from the cursor the server holds.
    let laptop = User::login(&hs.url, "bob").await;
    for i in 0..3 {
        alice.say("#general", &format!("m{i}")).await;
    }
    alice.say("bob", "a direct message").await;
    let resumed = log_only(laptop.sync(None, 0).await);
    assert_eq!(
        User::bodies(&resumed),
        ["m0", "m1", "m2", "a direct message"]
    );
    let s = seqs(&resumed);
    assert!(s.windows(2).all(|w| w[0] < w[1]), "in seq order: {s:?}");
    laptop
        .sync(Some(resumed["next"].as_i64().unwrap()), 0)
        .await;
    assert_eq!(log_only(laptop.sync(None, 0).await)["events"], json!([]));

    // A retried txn_id answers with the first event.
    let body = json!({"to": "#general", "body": "only once", "txn_id": "txn-1"});
    let first = alice.api.post("/api/v1/messages", body.clone()).await;
    let first = first.expect(201);
    let second = alice.api.post("/api/v1/messages", body).await.expect(201);
    assert_eq!(first, second);

    // A mode refusal, and bad input that changes nothing.
    bob.api
        .post("/api/v1/channels/general/mode", json!({"modes": "+i"}))
        .await
        .expect_error(403, "chanop_required");
    bob.api
        .post("/api/v1/channels/general/topic", json!({"topic": "nope"}))
        .await
        .expect_error(403, "chanop_required");
    alice
        .api
        .post("/api/v1/channels/general/topic", json!({"topic": "kept"}))
        .await
        .expect(200);
    let anon = Api::new(&hs.url);
    anon.raw("POST", "/api/v1/register", b"{not json".to_vec())
        .await
        .expect_error(400, "invalid_json");
    anon.post(
        "/api/v1/register",
        json!({"nick": "ALICE", "password": "long enough"}),
    )
    .await
    .expect_error(409, "nick_taken");
    alice
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#general", "body": "x".repeat(2000)}),
        )
        .await
        .expect_error(413, "message_too_large");
    assert_eq!(
        anon.get("/api/v1/server").await.expect(200)["user_count"],
        2
    );

    // A restart (kill -9) loses nothing.
    let before = log_only(bob.sync(None, 0).await);
    hs.restart();
    User::login(&hs.url, "alice").await;
    assert_eq!(
        log_only(bob.sync(None, 0).await),
        before,
        "the same cursor and events"
    );
    let info = bob.api.get("/api/v1/channels/general").await.expect(200);
    assert_eq!(info["topic"], "kept");
    assert_eq!(info["members"].as_array().unwrap().len(), 2);
    let history = alice
        .api
        .get("/api/v1/history?target=%23general&limit=5")
        .await
        .expect(200);
    assert_eq!(
        User::bodies(&history).first().map(String::as_str),
        Some("only once"),
        "history is newest first"
    );
}

#[actix_web::test]
async fn two_processes_share_one_database() {
    let Some(pg) = PgCluster::start_or_skip("two_processes_share_one_database") else {
        return;
    };
    let url = pg.database();
    let a = Homeserver::start_with("hs1.test", &[("DBURL", url.as_str())]);
    // Same server name, database and signing key (the data directory holds the key).
    let data = a.data_dir().to_string_lossy().into_owned();
    let b = Homeserver::start_with(
        "hs1.test",
        &[("DBURL", url.as_str()), ("DATA_DIR", data.as_str())],
    );
    let (alice, alice_token) = device(&b.url, "alice", false).await;
    let (bob, bob_token) = device(&a.url, "bob", false).await;
    alice.join("#lb").await;
    bob.join("#lb").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    // bob long-polls on A; alice sends through B.
    let waiting = bob.clone();
    let poll = actix_web::rt::spawn(async move {
        let started = Instant::now();
        (waiting.sync(Some(cursor), 60).await, started.elapsed())
    });
    one_poll_waiting(&a.url).await;
    let sent = alice.say("#lb", "through b").await;
    let (got, waited) = poll.await.unwrap();
    assert_eq!(User::bodies(&got), ["through b"]);
    assert_eq!(got["events"][0]["id"], sent["id"]);
    assert!(
        waited < Duration::from_secs(30),
        "woken by the other process, not the 60 s timeout ({waited:?})"
    );

    // A txn_id retried on the other process returns the same event.
    let body = json!({"to": "#lb", "body": "once across processes", "txn_id": "t-42"});
    let first = alice
        .api
        .post("/api/v1/messages", body.clone())
        .await
        .expect(201);
    let on_a = at(&a.url, &alice, &alice_token);
    let again = on_a.api.post("/api/v1/messages", body).await.expect(201);
    assert_eq!(first, again);

    // Writers on both processes at once: a device following through either process gets every
    // event exactly once, in seq order (no cursor ever skips a later-committed smaller seq).
    let mut cursor = got["next"].as_i64().unwrap();
    let carol_b = User::register(&b.url, "carol").await;
    carol_b.join("#lb").await;
    let carol_a = User::login(&a.url, "carol").await;
    let senders: Vec<_> = [(alice.clone(), "b"), (carol_a.clone(), "a")]
        .into_iter()
        .map(|(user, via)| {
            actix_web::rt::spawn(async move {
                for i in 0..15 {
                    user.say("#lb", &format!("{via}{i}")).await;
                }
            })
        })
        .collect();
    let mut bodies = Vec::new();
    let mut last_seq = cursor;
    let bob_on_b = at(&b.url, &bob, &bob_token);
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut turn = 0;
    while bodies.iter().filter(|b: &&String| b.len() <= 3).count() < 30 {
        assert!(Instant::now() < deadline, "got only {bodies:?}");
        let follower = if turn % 2 == 0 { &bob } else { &bob_on_b };
        turn += 1;
        let got = follower.sync(Some(cursor), 5).await;
        for s in seqs(&got) {
            assert!(s > last_seq, "seq {s} after {last_seq}: in order, once");
            last_seq = s;
        }
        bodies.extend(User::bodies(&got));
        cursor = got["next"].as_i64().unwrap();
    }
    for sender in senders {
        sender.await.unwrap();
    }
    for via in ["a", "b"] {
        let mine: Vec<_> = bodies.iter().filter(|b| b.starts_with(via)).collect();
        let expected: Vec<String> = (0..15).map(|i| format!("{via}{i}")).collect();
        assert_eq!(mine, expected.iter().collect::<Vec<_>>(), "all of {via}");
    }
}

#[actix_web::test]
async fn sqlite_to_postgres_migration_round_trip() {
    let Some(pg) = PgCluster::start_or_skip("sqlite_to_postgres_migration_round_trip") else {
        return;
    };
    let url = pg.database();
    let mut old = Homeserver::start("hs1.test");
    let (alice, alice_token) = device(&old.url, "alice", false).await;
    let (bob, bob_token) = device(&old.url, "bob", false).await;
    let (laptop, laptop_token) = device(&old.url, "bob", true).await;
    alice.join("#keep").await;
    bob.join("#keep").await;
    alice
        .api
        .post("/api/v1/channels/keep/topic", json!({"topic": "moved"}))
        .await
        .expect(200);
    alice.join("#second").await;
    let acked = bob.sync(None, 0).await["next"].as_i64().unwrap();
    bob.sync(Some(acked), 0).await;
    for i in 0..5 {
        alice.say("#keep", &format!("k{i}")).await;
    }
    alice.say("bob", "dm before the move").await;
    // Channel settings come along too (issue 24).
    alice
        .api
        .put("/api/v1/channels/keep", json!({"description": "kept"}))
        .await
        .expect(200);
    let pinned = alice.say("#keep", "pinned").await;
    alice
        .api
        .post("/api/v1/channels/keep/pins", json!({"id": pinned["id"]}))
        .await
        .expect(201);
    let pins = alice
        .api
        .get("/api/v1/channels/keep/pins")
        .await
        .expect(200);
    let bob_pending = log_only(bob.sync(None, 0).await);
    let laptop_pending = log_only(laptop.sync(None, 0).await);
    let history = alice
        .api
        .get("/api/v1/history?target=%23keep")
        .await
        .expect(200);
    let info = alice.api.get("/api/v1/channels/keep").await.expect(200);
    old.kill();

    let out = Command::new(binary("homeserver"))
        .args(["db", "migrate-from-sqlite"])
        .env("DATA_DIR", old.data_dir())
        .env("DBURL", &url)
        .env("RUST_LOG", "warn")
        .output()
        .expect("run the migration");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "migration failed: {stderr}");
    assert!(stderr.contains("events "), "a progress bar: {stderr}");
    assert!(stderr.contains("(100%)"), "progress reaches 100%: {stderr}");

    // A second run refuses to copy over existing data.
    let again = Command::new(binary("homeserver"))
        .args(["db", "migrate-from-sqlite"])
        .env("DATA_DIR", old.data_dir())
        .env("DBURL", &url)
        .output()
        .expect("run the migration again");
    assert!(!again.status.success(), "a non-empty target is refused");

    let data = old.data_dir().to_string_lossy().into_owned();
    let new = Homeserver::start_with(
        "hs1.test",
        &[("DBURL", url.as_str()), ("DATA_DIR", data.as_str())],
    );
    // Accounts (passwords and tokens), cursors, channels and events all came along.
    User::login(&new.url, "alice").await;
    User::login(&new.url, "bob").await;
    let alice = at(&new.url, &alice, &alice_token);
    let bob = at(&new.url, &bob, &bob_token);
    let laptop = at(&new.url, &laptop, &laptop_token);
    assert_eq!(log_only(bob.sync(None, 0).await), bob_pending);
    assert_eq!(log_only(laptop.sync(None, 0).await), laptop_pending);
    assert_eq!(
        alice
            .api
            .get("/api/v1/history?target=%23keep")
            .await
            .expect(200),
        history
    );
    assert_eq!(
        alice.api.get("/api/v1/channels/keep").await.expect(200),
        info
    );
    assert_eq!(
        alice
            .api
            .get("/api/v1/channels/keep/pins")
            .await
            .expect(200),
        pins
    );
    alice.api.get("/api/v1/channels/second").await.expect(200);
    // New events continue after the old ones.
    let next = alice.say("#keep", "after the move").await;
    let old_max = seqs(&bob_pending).into_iter().max().unwrap();
    assert!(next["seq"].as_i64().unwrap() > old_max);
    let got = bob.sync(None, 0).await;
    assert_eq!(User::bodies(&got).last().unwrap(), "after the move");
}

#[actix_web::test]
async fn a_replayed_request_is_refused_by_every_process() {
    let Some(pg) = PgCluster::start_or_skip("a_replayed_request_is_refused_by_every_process")
    else {
        return;
    };
    let peer = Homeserver::start("hs2.test");
    let peers = format!("hs2.test={}", peer.url);
    let url = pg.database();
    let a = Homeserver::start_with(
        "hs1.test",
        &[("DBURL", url.as_str()), ("PEERS", peers.as_str())],
    );
    let data = a.data_dir().to_string_lossy().into_owned();
    let b = Homeserver::start_with(
        "hs1.test",
        &[
            ("DBURL", url.as_str()),
            ("DATA_DIR", data.as_str()),
            ("PEERS", peers.as_str()),
        ],
    );
    // One signed request from hs2, sent to each process of hs1 in turn.
    let key = hearth_tests::network::key_of(&peer);
    let body =
        serde_json::to_vec(&json!({"txn_id": "t-replay", "origin": "hs2.test", "events": []}))
            .unwrap();
    let auth = federation_proto::signing::sign_request(
        "POST",
        "/api/v1/federation/relay",
        "hs2.test",
        "hs1.test",
        hearth_tests::network::now_ms(),
        &body,
        &key,
    )
    .unwrap()
    .to_header();
    let send = |base: String| {
        let (auth, body) = (auth.clone(), body.clone());
        async move {
            Api::new(&base)
                .send_with_headers(
                    "POST",
                    "/api/v1/federation/relay",
                    &[("Authorization", auth)],
                    body,
                )
                .await
        }
    };
    send(a.url.clone()).await.expect(200);
    send(b.url.clone())
        .await
        .expect_error(401, "replayed_request");
}
