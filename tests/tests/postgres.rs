//! The homeserver on Postgres: the core scenarios, two processes sharing one database, and the
//! SQLite → Postgres migration. Each test starts its own throwaway cluster (see
//! `hearth_tests::postgres`); without Postgres they say so and skip, except in CI.

use std::process::Command;
use std::time::{Duration, Instant};

use hearth_tests::api::{polls_waiting, Api, User, PASSWORD};
use hearth_tests::eventually;
use hearth_tests::postgres::{two_processes, PgCluster, ROLE};
use hearth_tests::process::{binary, Homeserver};
use serde_json::{json, Value};

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

/// `user` long-polls after `cursor` (for up to 60 s) in a task of its own: what it got, and
/// how long it waited.
fn long_poll(user: &User, cursor: i64) -> actix_web::rt::task::JoinHandle<(Value, Duration)> {
    let waiting = user.clone();
    actix_web::rt::spawn(async move {
        let started = Instant::now();
        (waiting.sync(Some(cursor), 60).await, started.elapsed())
    })
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
    let poll = long_poll(&bob, cursor);
    polls_waiting(&hs.url, 1).await;
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
    // Same server name, database and signing key (the data directory holds the key).
    let (a, b) = two_processes(&pg.database(), &[]);
    let (alice, alice_token) = device(&b.url, "alice", false).await;
    let (bob, bob_token) = device(&a.url, "bob", false).await;
    alice.join("#lb").await;
    bob.join("#lb").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    // bob long-polls on A; alice sends through B.
    let poll = long_poll(&bob, cursor);
    polls_waiting(&a.url, 1).await;
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

    // A cursor handed out by one process, brought at once to the other (no sticky sessions),
    // which may not have heard of its events yet: kept as it is, and nothing comes twice.
    for i in 0..30 {
        let sent = alice.say("#lb", &format!("handed over {i}")).await;
        let seq = sent["seq"].as_i64().expect("seq");
        for (follower, via) in [(&bob, "a"), (&bob_on_b, "b")] {
            let got = follower.sync(Some(seq), 0).await;
            assert!(
                seqs(&got).iter().all(|&s| s > seq),
                "after {seq}, through {via}: {got}"
            );
            assert_eq!(got["next"].as_i64(), Some(seq), "the cursor is kept");
        }
    }

    // A notification level set through one process holds at once for messages sent through
    // the other, whose writer had the room's watchers (nobody) cached.
    bob.api
        .put("/api/v1/channels/lb/notifications", json!({"level": "all"}))
        .await
        .expect(200);
    alice.say("#lb", "for every watcher").await;
    eventually(Duration::from_secs(30), "bob's notification", || async {
        let list = bob.api.get("/api/v1/notifications").await.expect(200);
        list["notifications"]
            .as_array()
            .is_some_and(|all| {
                all.iter()
                    .any(|n| n["type"] == "message" && n["event"]["body"] == "for every watcher")
            })
            .then_some(())
    })
    .await;
}

/// A process alone on its database sends no `NOTIFY` after its flushes (nobody would hear it),
/// and a process that starts beside it later is woken by its sends at once, and reads what it
/// sent alone.
#[actix_web::test]
async fn a_process_alone_notifies_nobody_and_one_that_joins_it_is_woken() {
    let Some(pg) = PgCluster::start_or_skip("a_process_alone_notifies_nobody") else {
        return;
    };
    let url = pg.database();
    alone_then_joined(&url, &url).await;
}

/// The same when the two processes connect as different roles, neither of them a superuser:
/// the first then sees the second's sessions without their `backend_type`, and must still
/// count them (it once took them for nobody, went quiet again a second after the second's
/// announcement, and left its long-polls to their timeout).
#[actix_web::test]
async fn a_process_alone_hears_one_that_joins_it_with_another_role() {
    let Some(pg) = PgCluster::start_or_skip("a_process_alone_hears_another_role") else {
        return;
    };
    let url = pg.database();
    let name = url.rsplit('/').next().expect("a database name");
    // `b` may use what `a` owns (it is a member of `a`), but `a` is not a member of `b`, so
    // `a` cannot read the details of `b`'s sessions.
    for sql in [
        "CREATE ROLE hearth_a LOGIN".to_string(),
        "CREATE ROLE hearth_b LOGIN IN ROLE hearth_a".to_string(),
        format!("ALTER DATABASE {name} OWNER TO hearth_a"),
    ] {
        pg.query(&url, &sql);
    }
    let as_role = |role: &str| {
        url.replacen(
            &format!("postgres://{ROLE}@"),
            &format!("postgres://{role}@"),
            1,
        )
    };
    let (a_url, b_url) = (as_role("hearth_a"), as_role("hearth_b"));
    assert_ne!(a_url, url);
    alone_then_joined(&a_url, &b_url).await;
}

/// Process A on `a_url` until it finds itself alone, sends; then process B on `b_url` (the same
/// database) reads what A sent alone, and a long-poll on B is woken by A's next send.
async fn alone_then_joined(a_url: &str, b_url: &str) {
    const QUIET: &str = "no other session on the database: flushes notify nobody";
    const HEARD: &str = "another session on the database: flushes notify again";
    let a = Homeserver::start_with("hs1.test", &[("DBURL", a_url)]);
    eventually(
        Duration::from_secs(30),
        "a's check for other sessions",
        || async { a.log().contains(QUIET).then_some(()) },
    )
    .await;
    let (alice, _) = device(&a.url, "alice", false).await;
    alice.join("#solo").await;
    for i in 0..5 {
        alice.say("#solo", &format!("alone {i}")).await;
    }
    assert!(
        !a.log().contains(HEARD),
        "nobody else was there: {}",
        a.log()
    );

    // B starts on the same database and data directory; it announces itself, and A notifies
    // again.
    let data = a.data_dir().to_string_lossy().into_owned();
    let b = Homeserver::start_with("hs1.test", &[("DBURL", b_url), ("DATA_DIR", data.as_str())]);
    let (bob, _) = device(&b.url, "bob", false).await;
    bob.join("#solo").await;
    let history = channel_history(&bob, "#solo@hs1.test").await;
    let alone = messages(&history, "alone");
    assert_eq!(alone.len(), 5, "{history:?}");
    let cursor = bob.sync(None, 0).await["next"].as_i64().expect("next");
    // Let A's once-a-second check run while B is there: it must count B's sessions, whatever
    // it can read of them, and not go quiet again.
    actix_web::rt::time::sleep(Duration::from_millis(2500)).await;
    assert!(a.log().contains(HEARD), "{}", a.log());
    assert_eq!(a.log().matches(QUIET).count(), 1, "{}", a.log());
    let poll = long_poll(&bob, cursor);
    polls_waiting(&b.url, 1).await;
    let sent = alice.say("#solo", "heard on b").await;
    let (got, waited) = poll.await.expect("poll");
    assert_eq!(User::bodies(&got), ["heard on b"]);
    assert_eq!(got["events"][0]["id"], sent["id"]);
    assert!(
        waited < Duration::from_secs(30),
        "woken by a's notification, not the 60 s timeout ({waited:?})"
    );
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
    // The copied messages are in the search index (the migration writes their words).
    let found = alice.api.get("/api/v1/search?q=k3").await.expect(200);
    let bodies: Vec<&str> = found["results"]
        .as_array()
        .expect("results")
        .iter()
        .filter_map(|r| r["event"]["body"].as_str())
        .collect();
    assert_eq!(bodies, ["k3"], "{found}");
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
    let (a, b) = two_processes(&pg.database(), &[("PEERS", peers.as_str())]);
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

/// Every event of a device's log from the start, paged (`after=0`, then each `next`), without
/// ephemeral events.
async fn whole_log(user: &User) -> Vec<Value> {
    let mut cursor = 0;
    let mut all = Vec::new();
    for _ in 0..10_000 {
        let got = user.sync(Some(cursor), 0).await;
        let next = got["next"].as_i64().expect("next");
        let events = got["events"].as_array().expect("events").clone();
        if events.is_empty() {
            return all;
        }
        all.extend(events.into_iter().filter(|e| e["seq"].as_i64() != Some(0)));
        cursor = next;
    }
    panic!("the log did not end within 10,000 pages");
}

/// A channel's events through `GET /api/v1/history` (paged back with `before`), oldest first.
async fn channel_history(user: &User, channel: &str) -> Vec<Value> {
    let target = channel.replace('#', "%23");
    let mut before: Option<i64> = None;
    let mut all = Vec::new();
    for _ in 0..1_000 {
        let mut path = format!("/api/v1/history?target={target}&limit=200");
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        let got = user.api.get(&path).await.expect(200);
        let events = got["events"].as_array().expect("events").clone();
        let Some(oldest) = events.last() else {
            all.reverse();
            return all;
        };
        before = Some(oldest["seq"].as_i64().expect("seq"));
        all.extend(events);
    }
    panic!("the history did not end within 1,000 pages");
}

/// `(id, seq, body)` of the message events of `log` whose body starts with `prefix`, in log
/// order; checks that `seq` strictly increases over the whole log.
fn messages(log: &[Value], prefix: &str) -> Vec<(String, i64, String)> {
    let all = log
        .iter()
        .map(|e| e["seq"].as_i64().expect("seq"))
        .collect::<Vec<_>>();
    assert!(
        all.windows(2).all(|w| w[0] < w[1]),
        "seq strictly increasing: {all:?}"
    );
    log.iter()
        .filter(|e| e["type"] == "message")
        .filter_map(|e| {
            let body = e["body"].as_str()?;
            body.starts_with(prefix).then(|| {
                (
                    e["id"].as_str().expect("id").to_string(),
                    e["seq"].as_i64().expect("seq"),
                    body.to_string(),
                )
            })
        })
        .collect()
}

/// Checks that each sender's messages (`<sender>m<k>`) appear in the order it sent them.
fn in_send_order(seen: &[(String, i64, String)]) {
    let mut last: std::collections::HashMap<&str, u32> = std::collections::HashMap::new();
    for (_, _, body) in seen {
        let (sender, k) = body.rsplit_once('m').expect("<sender>m<k>");
        let k: u32 = k.parse().expect("k");
        if let Some(prev) = last.insert(sender, k) {
            assert!(prev < k, "{sender}: m{k} after m{prev}");
        }
    }
}

/// A device of `nick` that follows `base` live from the start of its log (long-polls, each
/// answer acknowledged by the next) until `done` holds for what it got; fails after 120 s.
fn follow(
    base: &str,
    nick: &'static str,
    done: impl Fn(&[Value]) -> bool + 'static,
) -> actix_web::rt::task::JoinHandle<(User, Vec<Value>)> {
    let base = base.to_string();
    actix_web::rt::spawn(async move {
        let device = User::login(&base, nick).await;
        let mut cursor = 0;
        let mut log = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(120);
        while !done(&log) {
            assert!(
                Instant::now() < deadline,
                "{nick} on {base}: not done in time"
            );
            let got = device.sync(Some(cursor), 5).await;
            cursor = got["next"].as_i64().expect("next");
            log.extend(log_only(got)["events"].as_array().expect("events").clone());
        }
        (device, log)
    })
}

/// `per_process` users registered through each server of `bases` (`p<server>s<i>`), each in
/// `channel`.
async fn channel_senders(bases: &[&str], per_process: usize, channel: &str) -> Vec<User> {
    let mut senders = Vec::new();
    for (p, base) in bases.iter().enumerate() {
        for i in 0..per_process {
            let user = User::register(base, &format!("p{p}s{i}")).await;
            user.join(channel).await;
            senders.push(user);
        }
    }
    senders
}

#[actix_web::test]
async fn two_processes_taking_sends_at_once_make_one_gap_free_order() {
    const SENDERS_PER_PROCESS: usize = 4;
    const EACH: usize = 50;
    let Some(pg) = PgCluster::start_or_skip("two_processes_taking_sends_at_once") else {
        return;
    };
    let url = pg.database();
    let (a, b) = two_processes(&url, &[]);
    let urls = [a.url.clone(), b.url.clone()];
    let senders = channel_senders(&[&a.url, &b.url], SENDERS_PER_PROCESS, "#race").await;
    // One reader with a device on each process, reading the whole log afterwards, and two
    // more devices following live during the sends (a cursor that skipped an event committed
    // later with a smaller seq would lose it for good).
    let reader_a = User::register(&a.url, "reader").await;
    reader_a.join("#race").await;
    let reader_b = User::login(&b.url, "reader").await;
    let total = senders.len() * EACH;
    let followers: Vec<_> = urls
        .iter()
        .map(|base| follow(base, "reader", move |log| messages(log, "p").len() >= total))
        .collect();

    let sending: Vec<_> = senders
        .into_iter()
        .map(|user| {
            actix_web::rt::spawn(async move {
                let mut acked = Vec::new();
                for k in 0..EACH {
                    let event = user.say("#race", &format!("{}m{k}", user.nick)).await;
                    acked.push((
                        event["id"].as_str().expect("id").to_string(),
                        event["seq"].as_i64().expect("seq"),
                    ));
                }
                acked
            })
        })
        .collect();
    let mut acked = std::collections::HashMap::new();
    for s in sending {
        for (id, seq) in s.await.unwrap() {
            assert!(acked.insert(id, seq).is_none(), "one id per send");
        }
    }
    assert_eq!(acked.len(), total);

    let seen_a = messages(&whole_log(&reader_a).await, "p");
    let seen_b = messages(&whole_log(&reader_b).await, "p");
    assert_eq!(seen_a.len(), total, "every acknowledged send once");
    assert_eq!(seen_a, seen_b, "the same order through either process");
    for reader in [&reader_a, &reader_b] {
        let history = messages(&channel_history(reader, "#race").await, "p");
        assert_eq!(history, seen_a, "the channel's history has the same order");
    }
    for follower in followers {
        let (_, live) = follower.await.unwrap();
        assert_eq!(messages(&live, "p"), seen_a, "live followers see it too");
    }
    for (id, seq, body) in &seen_a {
        assert_eq!(acked.get(id), Some(seq), "{body}: stored as acknowledged");
    }
    in_send_order(&seen_a);
    let from_b = seen_a
        .iter()
        .filter(|(_, _, b)| b.starts_with("p1"))
        .count();
    assert_eq!(from_b, total / 2, "half of them through b");
    // The room's counters stayed exact across the turns (a writer taking the turn after the
    // other process gets them again): positions one apart in `seq` order, and the stored count
    // and last position.
    let counters = pg.query(
        &url,
        "WITH r AS (SELECT room_id AS id FROM events WHERE body = 'p0s0m0'), \
         e AS (SELECT room_seq, lag(room_seq) OVER (ORDER BY seq) AS prev FROM events \
         WHERE room_id = (SELECT id FROM r)) \
         SELECT (SELECT bool_and(room_seq = prev + 1) FROM e WHERE prev IS NOT NULL), \
         (SELECT event_count = (SELECT count(*) FROM e) \
         AND last_room_seq = (SELECT max(room_seq) FROM e) \
         FROM rooms WHERE id = (SELECT id FROM r))",
    );
    assert_eq!(counters, "t|t", "room positions and counters");
}

#[actix_web::test]
async fn a_kill_9_of_one_process_while_both_take_sends_loses_no_acknowledged_send() {
    use hearth_tests::load::client::Http;
    const SENDERS_PER_PROCESS: usize = 4;
    const EACH: usize = 60;
    let Some(pg) = PgCluster::start_or_skip("a_kill_9_of_one_process_while_both_take_sends") else {
        return;
    };
    let url = pg.database();
    let (a, mut b) = two_processes(&url, &[]);
    let urls = [a.url.clone(), b.url.clone()];
    let mut senders = Vec::new();
    for (p, base) in urls.iter().enumerate() {
        for i in 0..SENDERS_PER_PROCESS {
            let user = User::register(base, &format!("k{p}s{i}")).await;
            user.join("#crash").await;
            let token = user.api.token().expect("token").to_string();
            senders.push((p, user.nick.clone(), token, Http::new(base)));
        }
    }
    let reader_a = User::register(&a.url, "reader").await;
    reader_a.join("#crash").await;

    // Each sender sends EACH messages one after the other: a 201 is acknowledged, a
    // connection error (the process is gone) is a failure, anything else is a bug. b's
    // senders hold their last TAIL sends until b is killed, so that some always fail however
    // fast b is.
    const TAIL: usize = 10;
    let acks = std::rc::Rc::new(std::cell::Cell::new(0usize));
    let killed = std::rc::Rc::new(std::cell::Cell::new(false));
    let sending: Vec<_> = senders
        .into_iter()
        .map(|(p, nick, token, http)| {
            let (acks, killed) = (acks.clone(), killed.clone());
            actix_web::rt::spawn(async move {
                let (mut acked, mut failed) = (Vec::new(), Vec::new());
                for k in 0..EACH {
                    if p == 1 && k == EACH - TAIL {
                        eventually(Duration::from_secs(120), "the kill", || {
                            let done = killed.get();
                            async move { done.then_some(()) }
                        })
                        .await;
                    }
                    let body = format!("{nick}m{k}");
                    let msg = json!({"to": "#crash", "body": body});
                    let post = awc::http::Method::POST;
                    match http
                        .call(post, "/api/v1/messages", Some(&token), Some(&msg))
                        .await
                    {
                        Ok((201, event)) => {
                            acks.set(acks.get() + 1);
                            let id = event["id"].as_str().expect("id").to_string();
                            acked.push((id, event["seq"].as_i64().expect("seq"), body));
                        }
                        Ok((status, answer)) => panic!("{body} via {p}: {status} {answer}"),
                        Err(_) => failed.push(body),
                    }
                }
                (p, acked, failed)
            })
        })
        .collect();
    // Kill b once a quarter of the sends are acknowledged, as it takes sends (unless it was
    // fast enough to reach its held tail first).
    let quarter = 2 * SENDERS_PER_PROCESS * EACH / 4;
    eventually(Duration::from_secs(120), "a quarter of the sends", || {
        let n = acks.get();
        async move { (n >= quarter).then_some(()) }
    })
    .await;
    b.kill();
    killed.set(true);

    let mut acked = std::collections::HashMap::new();
    let (mut failed_on_a, mut failed_on_b) = (Vec::new(), Vec::new());
    for s in sending {
        let (p, ok, failed) = s.await.unwrap();
        for (id, seq, body) in ok {
            assert!(acked.insert(id, (seq, body)).is_none(), "one id per send");
        }
        if p == 0 {
            failed_on_a.extend(failed);
        } else {
            failed_on_b.extend(failed);
        }
    }
    assert_eq!(
        failed_on_a,
        Vec::<String>::new(),
        "the surviving process takes every send"
    );
    assert!(
        failed_on_b.len() >= SENDERS_PER_PROCESS * TAIL,
        "sends to the killed process fail"
    );

    // Read through the survivor, and through b started again on the same database.
    b.restart();
    let reader_b = User::login(&b.url, "reader").await;
    let seen_a = messages(&whole_log(&reader_a).await, "k");
    let seen_b = messages(&whole_log(&reader_b).await, "k");
    assert_eq!(
        seen_a, seen_b,
        "one order through the survivor and the restarted one"
    );
    for reader in [&reader_a, &reader_b] {
        let history = messages(&channel_history(reader, "#crash").await, "k");
        assert_eq!(history, seen_a, "the channel's history has the same order");
    }
    in_send_order(&seen_a);
    let mut ids = std::collections::HashSet::new();
    for (id, seq, body) in &seen_a {
        assert!(ids.insert(id.clone()), "{body} stored once");
        match acked.get(id) {
            Some((acked_seq, acked_body)) => assert_eq!((acked_seq, acked_body), (seq, body)),
            // A send whose answer the kill cut off may have been committed: whole, once.
            None => assert!(failed_on_b.contains(body), "{body}: stored but never sent"),
        }
    }
    for (id, (_, body)) in &acked {
        assert!(ids.contains(id), "acknowledged {body} is in the log");
    }
    eprintln!(
        "acknowledged {} (through b {}), failed on b {}, stored without an answer {}",
        acked.len(),
        acked.values().filter(|(_, b)| b.starts_with("k1")).count(),
        failed_on_b.len(),
        seen_a.len() - acked.len()
    );

    // The restarted process takes sends again, and the survivor delivers them.
    let mut cursor = reader_a.sync(None, 0).await["next"].as_i64().unwrap();
    let after = User::login(&b.url, "k1s0").await;
    let sent = after.say("#crash", "after the restart").await;
    let got = reader_a
        .wait_for(&mut cursor, "the send after the restart", |e| {
            e["body"] == "after the restart"
        })
        .await;
    assert_eq!(got["id"], sent["id"]);
}

/// On Postgres a send runs without a savepoint and its event joins the batch's one `INSERT`
/// (`db::appends`): sends that fail their checks, interleaved in the same batches with sends
/// that pass, must store nothing and fail nothing else; a DM that changes rows before its last
/// check (the conversation's windows) must leave none of them behind when that check fails.
#[actix_web::test]
async fn sends_failing_their_checks_amid_others_store_nothing_and_fail_no_other_send() {
    const EACH: usize = 30;
    let Some(pg) = PgCluster::start_or_skip("sends_failing_their_checks_amid_others") else {
        return;
    };
    let url = pg.database();
    let hs = Homeserver::start_with(
        "hs1.test",
        &[("DBURL", url.as_str()), ("RATE_LIMIT_SEND", "off")],
    );
    let members: Vec<User> = [
        User::register(&hs.url, "alice").await,
        User::register(&hs.url, "bob").await,
        User::register(&hs.url, "carol").await,
    ]
    .into();
    for m in &members {
        m.join("#quiet").await;
    }
    let outsider = User::register(&hs.url, "dave").await;
    let erin = User::register(&hs.url, "erin").await;
    let frank = User::register(&hs.url, "frank").await;

    let mut tasks = Vec::new();
    for (i, m) in members.iter().enumerate() {
        let m = m.clone();
        tasks.push(actix_web::rt::spawn(async move {
            for k in 0..EACH {
                let body = json!({"to": "#quiet", "body": format!("s{i}m{k}")});
                m.api.post("/api/v1/messages", body).await.expect(201);
            }
        }));
    }
    // Not a member of a `+n` channel: refused by a check, in the same batches.
    let o = outsider.clone();
    tasks.push(actix_web::rt::spawn(async move {
        for k in 0..EACH {
            let body = json!({"to": "#quiet", "body": format!("outsider{k}")});
            let reply = o.api.post("/api/v1/messages", body).await;
            assert_eq!(reply.status, 403, "{:?}", reply.body);
        }
    }));
    // Answers to messages that do not exist, refused by a check inside the write: a member's
    // in the channel (after the channel checks), and a first DM (after the conversation's
    // windows were opened).
    for (user, to, prefix) in [(&members[0], "#quiet", "orphan"), (&erin, "frank", "dm")] {
        let user = user.clone();
        tasks.push(actix_web::rt::spawn(async move {
            for k in 0..EACH {
                let body = json!({"to": to, "body": format!("{prefix}{k}"),
                    "reply_to": format!("00000000-0000-7000-8000-{k:012}")});
                let reply = user.api.post("/api/v1/messages", body).await;
                reply.expect_error(400, "invalid_reply_to");
            }
        }));
    }
    for task in tasks {
        task.await.expect("sender");
    }

    let log = whole_log(&members[1]).await;
    let stored = messages(&log, "s");
    assert_eq!(
        stored.len(),
        3 * EACH,
        "every passing send once: {stored:?}"
    );
    in_send_order(&stored);
    assert!(
        log.iter().all(|e| {
            let body = e["body"].as_str().unwrap_or("");
            !body.starts_with("outsider") && !body.starts_with("orphan")
        }),
        "a refused send was stored"
    );
    let history = channel_history(&members[2], "#quiet").await;
    assert_eq!(messages(&history, "s"), stored, "history and sync agree");
    // Nothing of the refused DMs: no event, no conversation, no delivery window.
    assert!(whole_log(&frank).await.is_empty());
    let conversations = frank.api.get("/api/v1/conversations").await.expect(200);
    assert!(
        !conversations.to_string().contains("erin"),
        "a refused first DM left its conversation behind: {conversations}"
    );
    let dm_windows = pg.query(
        &url,
        "SELECT count(*) FROM spans JOIN rooms ON rooms.id = spans.room_id WHERE rooms.kind = 'dm'",
    );
    assert_eq!(
        dm_windows, "0",
        "a refused first DM left delivery windows behind"
    );
}

/// A device long-polling a process that takes no sends is answered from what that process's
/// listener read of the others' commits (`remote_appends`), not from its own reads: every
/// device there (several users, a DM, and a user who joins midway) still gets exactly its
/// events, once each and in log order, as its whole log read back afterwards has them.
#[actix_web::test]
async fn devices_polling_a_third_process_get_every_event_once_in_order() {
    const SENDERS_PER_PROCESS: usize = 3;
    const EACH: usize = 40;
    let Some(pg) = PgCluster::start_or_skip("devices_polling_a_third_process") else {
        return;
    };
    let url = pg.database();
    let (a, b) = two_processes(&url, &[]);
    let data = a.data_dir().to_string_lossy().into_owned();
    let c = Homeserver::start_with("hs1.test", &[("DBURL", url.as_str()), ("DATA_DIR", &data)]);
    let senders = channel_senders(&[&a.url, &b.url], SENDERS_PER_PROCESS, "#trio").await;
    // Followers: three users polling c, one of them with a second device polling a, and a
    // user who joins once the sends have begun (its window opens mid-log).
    let mut followers = Vec::new();
    for nick in ["fan0", "fan1", "fan2"] {
        User::register(&c.url, nick).await.join("#trio").await;
    }
    User::register(&c.url, "late").await;
    for (nick, base) in [
        ("fan0", &c.url),
        ("fan1", &c.url),
        ("fan2", &c.url),
        ("fan0", &a.url),
        ("late", &c.url),
    ] {
        followers.push(follow(base, nick, |log| {
            log.iter().any(|e| e["body"] == "the end")
        }));
    }
    let sending: Vec<_> = senders
        .into_iter()
        .map(|user| {
            actix_web::rt::spawn(async move {
                for k in 0..EACH {
                    user.say("#trio", &format!("{}m{k}", user.nick)).await;
                    if k % 8 == 0 {
                        // A DM among the channel's messages: one recipient in the same ranges.
                        user.say("fan1", &format!("dm {} {k}", user.nick)).await;
                    }
                }
                user
            })
        })
        .collect();
    let late = User::login(&b.url, "late").await;
    late.join("#trio").await;
    let mut last = None;
    for s in sending {
        last = Some(s.await.unwrap());
    }
    last.expect("a sender").say("#trio", "the end").await;

    for follower in followers {
        let (device, live) = follower.await.unwrap();
        let truth = whole_log(&device).await;
        let wanted = messages(&truth, "p");
        assert_eq!(
            messages(&live, "p"),
            wanted,
            "{}: live as stored",
            device.nick
        );
        assert_eq!(
            messages(&live, "dm"),
            messages(&truth, "dm"),
            "{}: DMs",
            device.nick
        );
        in_send_order(&wanted);
    }
    // Every message reached the channel's first members; the DMs only f1.
    let f1 = User::login(&c.url, "fan1").await;
    let f1_log = whole_log(&f1).await;
    assert_eq!(messages(&f1_log, "p").len(), 2 * SENDERS_PER_PROCESS * EACH);
    assert_eq!(
        messages(&f1_log, "dm").len(),
        2 * SENDERS_PER_PROCESS * EACH.div_ceil(8)
    );
    let f2 = User::login(&c.url, "fan2").await;
    assert_eq!(
        messages(&whole_log(&f2).await, "p").len(),
        2 * SENDERS_PER_PROCESS * EACH
    );
}

/// Postgres drops every connection of the homeserver (a database restart, a failover) while a
/// full channel rotates: the sends that fail say so, the writer starts again on fresh
/// connections, and the room's counters still match its events (a batch's end answers the
/// writer only at its next turn, on the connection that is gone).
#[actix_web::test]
async fn the_writer_recovers_when_postgres_drops_its_connections() {
    const MAX_HISTORY: usize = 5;
    let Some(pg) = PgCluster::start_or_skip("the_writer_recovers_when_postgres_drops") else {
        return;
    };
    let url = pg.database();
    let hs = Homeserver::start_with(
        "hs1.test",
        &[
            ("DBURL", url.as_str()),
            ("RATE_LIMIT_SEND", "off"),
            ("MAX_HISTORY", "5"),
        ],
    );
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#rot").await;
    // Sends until each is acknowledged, with no `txn_id`: a send whose batch lost its
    // connection fails with a 5xx and changes nothing, and a batch that committed is confirmed
    // on disk even when the connection its confirmation was to use is gone (the flusher takes
    // a fresh one), so no send is stored twice.
    async fn send_all(user: &User, bodies: &[String]) -> Vec<(i64, String)> {
        let sends = bodies.iter().map(|body| async move {
            for _ in 0..50 {
                let reply = user
                    .api
                    .post("/api/v1/messages", json!({"to": "#rot", "body": body}))
                    .await;
                match reply.status {
                    201 => return (reply.body["seq"].as_i64().expect("seq"), body.clone()),
                    500..=599 => actix_web::rt::time::sleep(Duration::from_millis(20)).await,
                    other => panic!("send answered {other}: {:?}", reply.body),
                }
            }
            panic!("a send never succeeded");
        });
        futures_util::future::join_all(sends).await
    }
    let counters_match = || {
        let rows = pg.query(
            &url,
            "SELECT r.event_count = (SELECT count(*) FROM events AS e WHERE e.room_id = r.id) \
             FROM rooms AS r WHERE r.kind = 'channel'",
        );
        assert_eq!(rows.trim(), "t", "rooms' counters against their events");
    };
    // How many events the channel ever had: each round's twelve sends append twelve, however
    // many of them were retried (the history keeps only the newest five).
    let appended = || -> i64 {
        let rows = pg.query(
            &url,
            "SELECT last_room_seq FROM rooms WHERE kind = 'channel'",
        );
        rows.trim().parse().expect("the channel's last_room_seq")
    };
    let mut sent = Vec::new();
    for round in 0..3 {
        let bodies: Vec<String> = (0..12).map(|i| format!("r{round}m{i}")).collect();
        let before = appended();
        sent.extend(send_all(&alice, &bodies).await);
        assert_eq!(appended() - before, 12, "each send appended once");
        counters_match();
        let dropped = pg.query(
            &url,
            "SELECT count(pg_terminate_backend(pid)) > 0 FROM pg_stat_activity \
             WHERE datname = current_database() AND pid <> pg_backend_pid()",
        );
        assert_eq!(
            dropped.trim(),
            "t",
            "the homeserver had connections to drop"
        );
    }
    let bodies: Vec<String> = (0..12).map(|i| format!("after{i}")).collect();
    let before = appended();
    sent.extend(send_all(&alice, &bodies).await);
    assert_eq!(appended() - before, 12, "each send appended once");
    counters_match();
    sent.sort();
    let newest: Vec<String> = sent
        .iter()
        .rev()
        .take(MAX_HISTORY)
        .map(|(_, b)| b.clone())
        .collect();
    let history = alice
        .api
        .get("/api/v1/history?target=%23rot&limit=200")
        .await
        .expect(200);
    assert_eq!(User::bodies(&history), newest, "{history}");
}

/// A send is answered only once Postgres has flushed its commit: after each acknowledged send,
/// the WAL is flushed past where it ended when the send was made. The cluster commits
/// asynchronously by default (as the test cluster is set up), and its WAL writer is slowed to
/// its longest delay, so only the homeserver's own confirmation can move the flush that far
/// (a transaction that only takes an id, `txid_current()`, commits without flushing: this test
/// caught that).
#[actix_web::test]
async fn an_acknowledged_send_is_flushed_before_its_answer() {
    let Some(pg) = PgCluster::start_or_skip("an_acknowledged_send_is_flushed") else {
        return;
    };
    let url = pg.database();
    pg.query(&url, "ALTER SYSTEM SET wal_writer_delay = '10s'");
    pg.query(&url, "SELECT pg_reload_conf()");
    let hs = Homeserver::start_with(
        "hs1.test",
        &[("DBURL", url.as_str()), ("RATE_LIMIT_SEND", "off")],
    );
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#flush").await;
    for i in 0..20 {
        let before = pg.query(&url, "SELECT pg_current_wal_insert_lsn()");
        alice.say("#flush", &format!("m{i}")).await;
        let flushed = pg.query(
            &url,
            &format!(
                "SELECT pg_current_wal_flush_lsn() > '{before}'::pg_lsn, \
                 pg_current_wal_flush_lsn()"
            ),
        );
        assert!(
            flushed.starts_with("t|"),
            "send {i}: the WAL was at {before} when it was made, flushed only to {flushed}"
        );
    }
}

/// Postgres crashes (a backend killed: crash recovery, every connection gone). A confirmation
/// no longer vouches for commits of an era opened before the crash (recovery emptied the
/// unlogged `writer_eras`, and `hearth_confirm` refuses the era), and the homeserver goes on in
/// a new one: every acknowledged send is kept, and sends retried with their `txn_id` are each
/// stored once.
#[actix_web::test]
async fn after_a_crash_of_postgres_old_eras_are_refused_and_sends_go_on() {
    let Some(pg) = PgCluster::start_or_skip("after_a_crash_of_postgres") else {
        return;
    };
    let url = pg.database();
    let hs = Homeserver::start_with(
        "hs1.test",
        &[("DBURL", url.as_str()), ("RATE_LIMIT_SEND", "off")],
    );
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#crash").await;
    alice.say("#crash", "before").await;
    let newest = pg.query(
        &url,
        "SELECT instance || ' ' || era FROM writer_eras ORDER BY era DESC LIMIT 1",
    );
    let (instance, era) = newest.split_once(' ').expect("the writer's era");
    let confirm = format!("SELECT hearth_confirm({instance}, '{{{era}}}'::bigint[])");
    pg.try_query(&url, &confirm)
        .expect("the era is confirmed before the crash");

    pg.crash(&url);
    let refused = pg
        .try_query(&url, &confirm)
        .expect_err("an era from before the crash is refused");
    assert!(refused.contains("crashed or failed over"), "{refused}");

    // The first sends may fail (the writer's connection is gone): each is retried with its
    // `txn_id` until it is acknowledged.
    for i in 0..5 {
        let body = format!("after{i}");
        let request = json!({"to": "#crash", "body": body, "txn_id": format!("t-{body}")});
        let mut acknowledged = false;
        for _ in 0..100 {
            let reply = alice.api.post("/api/v1/messages", request.clone()).await;
            match reply.status {
                201 => {
                    acknowledged = true;
                    break;
                }
                500..=599 => actix_web::rt::time::sleep(Duration::from_millis(100)).await,
                other => panic!("send answered {other}: {:?}", reply.body),
            }
        }
        assert!(acknowledged, "{body} was never acknowledged");
    }
    let bodies: Vec<String> = channel_history(&alice, "#crash")
        .await
        .iter()
        .filter(|e| e["type"] == "message")
        .filter_map(|e| e["body"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        bodies,
        ["before", "after0", "after1", "after2", "after3", "after4"]
    );
    let eras = pg.query(
        &url,
        &format!(
            "SELECT count(*) > 0 FROM writer_eras WHERE instance = {instance} AND era > {era}"
        ),
    );
    assert_eq!(eras, "t", "the writer opened a new era after the crash");
}
