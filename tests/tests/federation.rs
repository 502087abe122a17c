//! Direct messages across homeservers: signed, queued durably, delivered in order exactly once,
//! and refused when forged, replayed or out of policy.

use std::time::Duration;

use federation_proto::signing::{
    event_content_hash, hash_and_sign_event, sign_json, sign_request, ServerKeyPair,
};
use hearth_tests::api::{Api, Reply, User};
use hearth_tests::eventually;
use hearth_tests::network::{federated, federated_with, key_of, now_ms, random_key};
use hearth_tests::process::ServerProcess;
use serde_json::{json, Value};

/// Every `message` body `user` receives until `count` have arrived, following the cursor.
async fn receive(user: &User, cursor: &mut i64, count: usize) -> Vec<String> {
    let mut bodies = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while bodies.len() < count {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of {count} arrived: {bodies:?}",
            bodies.len()
        );
        let got = user.sync(Some(*cursor), 5).await;
        bodies.extend(User::bodies(&got));
        *cursor = got["next"].as_i64().unwrap();
    }
    // Nothing more than expected arrives.
    let extra = user.sync(Some(*cursor), 1).await;
    bodies.extend(User::bodies(&extra));
    bodies
}

async fn cursor_of(user: &User) -> i64 {
    user.sync(None, 0).await["next"].as_i64().unwrap()
}

#[actix_web::test]
async fn a_direct_message_crosses_servers() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob_phone = User::register(&hs2.url, "bob").await;
    let bob_laptop = User::login(&hs2.url, "bob").await;
    let (mut phone, mut laptop) = (cursor_of(&bob_phone).await, cursor_of(&bob_laptop).await);

    let sent = alice.say("bob@hs2.test", "hello across").await;
    assert_eq!(sent["to"], "bob@hs2.test");
    assert_eq!(receive(&bob_phone, &mut phone, 1).await, ["hello across"]);
    assert_eq!(receive(&bob_laptop, &mut laptop, 1).await, ["hello across"]);
    let history = bob_phone
        .api
        .get("/api/v1/history?target=alice@hs1.test")
        .await
        .expect(200);
    let got = &history["events"][0];
    assert_eq!(got["id"], sent["id"], "the event keeps its origin's id");
    assert_eq!(got["from"], "alice@hs1.test");
    assert_eq!(got["to"], "bob@hs2.test");
    assert_eq!(got["ts"], sent["ts"]);

    // And back.
    let mut alice_cursor = cursor_of(&alice).await;
    bob_phone.say("alice@hs1.test", "hello back").await;
    assert_eq!(receive(&alice, &mut alice_cursor, 1).await, ["hello back"]);

    // Remote profiles.
    let profile = alice
        .api
        .get("/api/v1/users/bob@hs2.test")
        .await
        .expect(200);
    assert_eq!(profile["handle"], "bob@hs2.test");
    alice
        .api
        .get("/api/v1/users/nobody@hs2.test")
        .await
        .expect_error(404, "unknown_user");
    alice
        .api
        .get("/api/v1/users/bob@nowhere.test")
        .await
        .expect_error(404, "unknown_server");
    alice
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "bob@nowhere.test", "body": "x"}),
        )
        .await
        .expect_error(404, "unknown_server");

    // Link health.
    let status = Api::new(&hs1.url)
        .get("/api/v1/federation/status")
        .await
        .expect(200);
    let peer = &status["peers"][0];
    assert_eq!(peer["server_name"], "hs2.test");
    assert_eq!(peer["reachable"], true, "{status}");
    assert_eq!(peer["queue_depth"], 0);
    assert!(peer["last_success_ts"].is_i64());
}

#[actix_web::test]
async fn a_peer_that_was_down_gets_everything_in_order_exactly_once() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [hs1, mut hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let mut cursor = cursor_of(&bob).await;

    hs2.kill();
    let expected: Vec<String> = (0..20)
        .map(|i| format!("while you were away {i}"))
        .collect();
    for body in &expected {
        alice.say("bob@hs2.test", body).await; // acknowledged: durable on hs1
    }
    let hs1_api = Api::new(&hs1.url);
    eventually(
        Duration::from_secs(30),
        "hs1 to notice hs2 is down",
        || async {
            let status = hs1_api.get("/api/v1/federation/status").await.expect(200);
            let peer = status["peers"][0].clone();
            (peer["reachable"] == false
                && peer["queue_depth"] == 20
                && peer["last_error"].is_string())
            .then_some(())
        },
    )
    .await;

    hs2.restart();
    assert_eq!(
        receive(&bob, &mut cursor, 20).await,
        expected,
        "all of them, in order, once"
    );
    eventually(Duration::from_secs(30), "the queue to drain", || async {
        let status = hs1_api.get("/api/v1/federation/status").await.expect(200);
        (status["peers"][0]["queue_depth"] == 0 && status["peers"][0]["reachable"] == true)
            .then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_sender_restarted_with_a_queue_still_delivers() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [mut hs1, mut hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let mut cursor = cursor_of(&bob).await;

    hs2.kill();
    let expected: Vec<String> = (0..5).map(|i| format!("queued {i}")).collect();
    for body in &expected {
        alice.say("bob@hs2.test", body).await;
    }
    hs1.kill(); // crash with a non-empty queue
    hs2.restart();
    hs1.restart();
    assert_eq!(receive(&bob, &mut cursor, 5).await, expected);
}

/// A relay transaction from `origin`, signed with `key`, as raw request parts.
fn signed_relay(
    origin: &str,
    destination: &str,
    key: &ServerKeyPair,
    txn_id: &str,
    events: Vec<Value>,
) -> (Vec<u8>, String) {
    let body =
        serde_json::to_vec(&json!({"txn_id": txn_id, "origin": origin, "events": events})).unwrap();
    let auth = sign_request(
        "POST",
        "/api/v1/federation/relay",
        origin,
        destination,
        now_ms(),
        &body,
        key,
    )
    .unwrap();
    (body, auth.to_header())
}

async fn post_relay(hs: &ServerProcess, body: Vec<u8>, auth: String) -> Reply {
    Api::new(&hs.url)
        .send_with_headers(
            "POST",
            "/api/v1/federation/relay",
            &[("Authorization", auth)],
            body,
        )
        .await
}

fn dm(from: &str, to: &str, body: &str) -> Value {
    json!({
        "id": uuid::Uuid::now_v7().to_string(), "ts": "2026-11-24T12:00:00.000Z", "from": from, "to": to,
        "type": "message", "body": body, "meta": {},
    })
}

#[actix_web::test]
async fn forged_replayed_and_out_of_policy_federation_is_refused() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let bob = User::register(&hs2.url, "bob").await;
    let hs1_key = key_of(&hs1);

    // A genuine transaction is accepted once; a repeat is acknowledged again, applied once.
    let mut genuine = dm("alice@hs1.test", "bob@hs2.test", "genuine");
    hash_and_sign_event(&mut genuine, "hs1.test", &hs1_key).unwrap();
    let (body, auth) = signed_relay(
        "hs1.test",
        "hs2.test",
        &hs1_key,
        "txn-a",
        vec![genuine.clone()],
    );
    let first = post_relay(&hs2, body.clone(), auth.clone())
        .await
        .expect(200);
    let id = genuine["id"].as_str().unwrap().to_string();
    assert_eq!(first["results"][&id], json!({}));
    // The same request again is a replay of a signature.
    post_relay(&hs2, body, auth)
        .await
        .expect_error(401, "replayed_request");
    // The same transaction, freshly signed: same answer, nothing new stored.
    let (body, auth) = signed_relay(
        "hs1.test",
        "hs2.test",
        &hs1_key,
        "txn-a",
        vec![genuine.clone()],
    );
    assert_eq!(post_relay(&hs2, body, auth).await.expect(200), first);
    // The same event in a new transaction: acknowledged, still stored once.
    let (body, auth) = signed_relay("hs1.test", "hs2.test", &hs1_key, "txn-b", vec![genuine]);
    assert_eq!(
        post_relay(&hs2, body, auth).await.expect(200)["results"][&id],
        json!({})
    );

    // A tampered event: signed, then changed.
    let mut tampered = dm("alice@hs1.test", "bob@hs2.test", "original");
    hash_and_sign_event(&mut tampered, "hs1.test", &hs1_key).unwrap();
    tampered["body"] = json!("tampered");
    // A sender that is not of the origin server, hashed and signed by the origin anyway.
    let mut impostor = dm("mallory@hs3.test", "bob@hs2.test", "impostor");
    impostor["origin"] = json!("hs1.test");
    let hash = event_content_hash(&impostor).unwrap();
    impostor["hashes"] = json!({"sha256": hash});
    sign_json(&mut impostor, "hs1.test", &hs1_key).unwrap();
    // An event for a user who does not exist, and one of a kind that does not travel yet.
    let mut stranger = dm("alice@hs1.test", "nobody@hs2.test", "hello?");
    hash_and_sign_event(&mut stranger, "hs1.test", &hs1_key).unwrap();
    let mut join = dm("alice@hs1.test", "bob@hs2.test", "");
    join["type"] = json!("join");
    hash_and_sign_event(&mut join, "hs1.test", &hs1_key).unwrap();
    let events = vec![
        tampered.clone(),
        impostor.clone(),
        stranger.clone(),
        join.clone(),
    ];
    let (body, auth) = signed_relay("hs1.test", "hs2.test", &hs1_key, "txn-c", events);
    let answer = post_relay(&hs2, body, auth).await.expect(200);
    let code = |ev: &Value| answer["results"][ev["id"].as_str().unwrap()]["error"]["code"].clone();
    assert_eq!(code(&tampered), "invalid_event", "{answer}");
    assert_eq!(code(&impostor), "invalid_event", "{answer}");
    assert_eq!(code(&stranger), "unknown_user", "{answer}");
    assert_eq!(code(&join), "unsupported_type", "{answer}");

    // Refused events between good ones: the good ones are stored, in order, the others not.
    let mut before = dm("alice@hs1.test", "bob@hs2.test", "before the stranger");
    hash_and_sign_event(&mut before, "hs1.test", &hs1_key).unwrap();
    let mut nobody = dm("alice@hs1.test", "nobody@hs2.test", "lost?");
    hash_and_sign_event(&mut nobody, "hs1.test", &hs1_key).unwrap();
    let mut after = dm("alice@hs1.test", "bob@hs2.test", "after the stranger");
    hash_and_sign_event(&mut after, "hs1.test", &hs1_key).unwrap();
    let events = vec![
        before.clone(),
        nobody.clone(),
        tampered.clone(),
        after.clone(),
    ];
    let (body, auth) = signed_relay("hs1.test", "hs2.test", &hs1_key, "txn-g", events);
    let answer = post_relay(&hs2, body, auth).await.expect(200);
    let result = |ev: &Value| answer["results"][ev["id"].as_str().unwrap()].clone();
    assert_eq!(result(&before), json!({}), "{answer}");
    assert_eq!(result(&nobody)["error"]["code"], "unknown_user", "{answer}");
    assert_eq!(
        result(&tampered)["error"]["code"],
        "invalid_event",
        "{answer}"
    );
    assert_eq!(result(&after), json!({}), "{answer}");

    // Requests: a server that is not a peer, the wrong destination, a forged signature.
    let stranger_key = random_key();
    let (body, auth) = signed_relay("evil.test", "hs2.test", &stranger_key, "txn-d", vec![]);
    post_relay(&hs2, body, auth)
        .await
        .expect_error(401, "unknown_server");
    let (body, auth) = signed_relay("hs1.test", "hs3.test", &hs1_key, "txn-e", vec![]);
    post_relay(&hs2, body, auth)
        .await
        .expect_error(401, "wrong_destination");
    let (body, _) = signed_relay("hs1.test", "hs2.test", &hs1_key, "txn-f", vec![]);
    let forged = sign_request(
        "POST",
        "/api/v1/federation/relay",
        "hs1.test",
        "hs2.test",
        now_ms(),
        &body,
        &stranger_key,
    )
    .unwrap()
    .to_header()
    .replace(stranger_key.key_id().as_str(), hs1_key.key_id().as_str());
    post_relay(&hs2, body, forged)
        .await
        .expect_error(401, "bad_signature");
    let unsigned = Api::new(&hs2.url)
        .post(
            "/api/v1/federation/relay",
            json!({"txn_id": "x", "origin": "hs1.test", "events": []}),
        )
        .await;
    unsigned.expect_error(401, "missing_signature");

    // Bob holds exactly the genuine messages, each once, newest first.
    let history = bob
        .api
        .get("/api/v1/history?target=alice@hs1.test")
        .await
        .expect(200);
    let bodies: Vec<_> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["body"].clone())
        .collect();
    assert_eq!(
        bodies,
        [
            json!("after the stranger"),
            json!("before the stranger"),
            json!("genuine")
        ]
    );
}

#[actix_web::test]
async fn federation_key_keeps_strangers_out() {
    let club = vec![("FEDERATION_KEY", "club secret")];
    let (_dir, servers) = federated_with(&[
        ("hs1.test", club.clone()),
        ("hs2.test", club),
        ("hs3.test", vec![("FEDERATION_KEY", "another secret")]),
    ])
    .await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    let mut cursor = cursor_of(&alice).await;
    bob.say("alice@hs1.test", "same club").await;
    carol.say("alice@hs1.test", "wrong club").await;
    assert_eq!(receive(&alice, &mut cursor, 1).await, ["same club"]);
    let hs3_api = Api::new(&hs3.url);
    eventually(
        Duration::from_secs(30),
        "hs3's delivery to be refused",
        || async {
            let status = hs3_api.get("/api/v1/federation/status").await.expect(200);
            let hs1_peer = status["peers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|p| p["server_name"] == "hs1.test")
                .cloned()
                .unwrap();
            hs1_peer["last_error"]
                .as_str()
                .filter(|e| e.contains("federation_key_required"))
                .map(|_| ())
        },
    )
    .await;
}

#[actix_web::test]
async fn envelopes_for_channels_nobody_here_joined_create_nothing() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    alice.join("#general").await;
    alice.say("#general", "before anyone from hs2").await;
    let hs1_key = key_of(&hs1);

    // hs1 relays, unasked, an envelope of a channel no user of hs2 asked to join.
    let mut event = dm("alice@hs1.test", "#general@hs1.test", "unasked");
    hash_and_sign_event(&mut event, "hs1.test", &hs1_key).unwrap();
    let id = event["id"].as_str().unwrap().to_string();
    let envelope =
        federation_proto::signing::sign_envelope("#general@hs1.test", 1, now_ms(), event, &hs1_key)
            .unwrap();
    let (body, auth) = signed_relay(
        "hs1.test",
        "hs2.test",
        &hs1_key,
        "txn-unasked",
        vec![envelope],
    );
    let answer = post_relay(&hs2, body, auth).await.expect(200);
    assert_eq!(
        answer["results"][&id]["error"]["code"], "not_mirrored",
        "{answer}"
    );
    bob.api
        .get("/api/v1/history?target=%23general@hs1.test")
        .await
        .expect_error(403, "not_member");

    // A real join afterwards works as always, with the channel's real history.
    bob.join("#general@hs1.test").await;
    let history = bob
        .api
        .get("/api/v1/history?target=%23general@hs1.test")
        .await
        .expect(200);
    let bodies: Vec<&str> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["body"].as_str())
        .collect();
    assert!(bodies.contains(&"before anyone from hs2"), "{history}");
    assert!(!bodies.contains(&"unasked"), "{history}");
}
