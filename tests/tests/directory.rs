//! A directory and three homeservers: registration with proof, signed announcements pushed to
//! every peer, catch-up after an outage, and refusals of forged or replayed input.

use std::time::Duration;

use federation_proto::signing::{sign_json, sign_request};
use hearth_tests::api::{Api, Reply};
use hearth_tests::eventually;
use hearth_tests::network::{
    directory_key, key_of, now_ms, peers_up, random_key, registration, start_directory,
    start_homeserver, wait_for_peers,
};
use hearth_tests::process::ServerProcess;
use serde_json::{json, Value};

#[actix_web::test]
async fn three_homeservers_end_up_knowing_each_other() {
    let dir = start_directory();
    let key = directory_key(&dir).await;
    let hs1 = start_homeserver("hs1.test", &dir, &key);
    let hs2 = start_homeserver("hs2.test", &dir, &key);
    let hs3 = start_homeserver("hs3.test", &dir, &key);
    wait_for_peers(&hs1, &["hs2.test", "hs3.test"]).await;
    wait_for_peers(&hs2, &["hs1.test", "hs3.test"]).await;
    wait_for_peers(&hs3, &["hs1.test", "hs2.test"]).await;

    let status = Api::new(&hs1.url)
        .get("/api/v1/federation/status")
        .await
        .expect(200);
    assert_eq!(status["directory"]["registered"], true, "{status}");
    assert_eq!(status["directory"]["name"], "dir.test");
    let hs2_entry = status["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["server_name"] == "hs2.test")
        .cloned()
        .unwrap();
    assert_eq!(
        hs2_entry["url"],
        hs2.url.as_str(),
        "peers learn each other's URL"
    );
    let hs2_key = key_of(&hs2).public_key_b64();
    assert!(hs2_entry["verify_keys"]
        .as_object()
        .unwrap()
        .values()
        .any(|k| k["key"] == hs2_key.as_str()));
}

#[actix_web::test]
async fn a_homeserver_that_was_down_learns_of_a_newcomer() {
    let dir = start_directory();
    let key = directory_key(&dir).await;
    let hs1 = start_homeserver("hs1.test", &dir, &key);
    let mut hs2 = start_homeserver("hs2.test", &dir, &key);
    wait_for_peers(&hs2, &["hs1.test"]).await;
    hs2.kill();
    let hs3 = start_homeserver("hs3.test", &dir, &key);
    wait_for_peers(&hs1, &["hs2.test", "hs3.test"]).await;
    hs2.restart();
    wait_for_peers(&hs2, &["hs1.test", "hs3.test"]).await;
    wait_for_peers(&hs3, &["hs1.test", "hs2.test"]).await;
}

#[actix_web::test]
async fn forged_announcements_are_refused() {
    let dir = start_directory();
    let key = directory_key(&dir).await;
    let hs1 = start_homeserver("hs1.test", &dir, &key);
    let hs2 = start_homeserver("hs2.test", &dir, &key);
    wait_for_peers(&hs1, &["hs2.test"]).await;
    let api = Api::new(&hs1.url);

    // An entry signed by some other key.
    let forger = random_key();
    let mut forged = json!({
        "seq": 999, "server_name": "evil.test", "url": "http://127.0.0.1:9", "status": "up", "ts": now_ms(),
        "verify_keys": {"ed25519:t1": {"key": forger.public_key_b64()}},
    });
    sign_json(&mut forged, "dir.test", &forger).unwrap();
    api.post("/api/v1/federation/directory", json!({"entries": [forged]}))
        .await
        .expect_error(403, "bad_signature");

    // A genuine entry, tampered with.
    let page = Api::new(&dir.url)
        .get("/directory/v1/servers?since=0")
        .await
        .expect(200);
    let mut tampered = page["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["server_name"] == "hs2.test")
        .cloned()
        .unwrap();
    tampered["url"] = json!("http://127.0.0.1:9");
    tampered["seq"] = json!(1000);
    api.post(
        "/api/v1/federation/directory",
        json!({"entries": [tampered]}),
    )
    .await
    .expect_error(403, "bad_signature");
    api.post(
        "/api/v1/federation/directory",
        json!({"entries": [{"seq": 1}]}),
    )
    .await
    .expect_error(403, "bad_signature");

    // Nothing changed.
    assert_eq!(peers_up(&hs1).await, ["hs2.test"]);
    let status = api.get("/api/v1/federation/status").await.expect(200);
    let hs2_entry = status["peers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["server_name"] == "hs2.test")
        .cloned()
        .unwrap();
    assert_eq!(hs2_entry["url"], hs2.url.as_str());
}

#[actix_web::test]
async fn the_directory_refuses_false_replayed_and_unknown_servers() {
    let dir = start_directory();
    let key = directory_key(&dir).await;
    let hs1 = start_homeserver("hs1.test", &dir, &key);
    let api = Api::new(&dir.url);

    // A registration whose URL serves another server's key.
    let impostor = random_key();
    let refused = api
        .post(
            "/directory/v1/servers",
            registration("hs9.test", &hs1.url, &impostor, now_ms()),
        )
        .await;
    assert_client_error(&refused);

    // A replayed registration: hs1's own, signed with its real key, sent twice.
    let hs1_key = key_of(&hs1);
    let fresh = registration("hs1.test", &hs1.url, &hs1_key, now_ms() + 60_000); // newer than hs1's own, within the skew
    let first = api.post("/directory/v1/servers", fresh.clone()).await;
    assert!(
        first.status == 200 || first.status == 201,
        "a fresh registration is accepted: {}",
        first.body
    );
    let replay = api.post("/directory/v1/servers", fresh).await;
    assert_client_error(&replay);

    // A heartbeat from a server the directory does not know.
    let stranger = random_key();
    let body = b"{}".to_vec();
    let auth = sign_request(
        "POST",
        "/directory/v1/heartbeat",
        "stranger.test",
        "dir.test",
        now_ms(),
        &body,
        &stranger,
    )
    .unwrap();
    let unknown = api
        .send_with_headers(
            "POST",
            "/directory/v1/heartbeat",
            &[("Authorization", auth.to_header())],
            body,
        )
        .await;
    unknown.expect_error(401, "unknown_server");
    // And one with no signature at all.
    assert_client_error(&api.post("/directory/v1/heartbeat", json!({})).await);
}

#[track_caller]
fn assert_client_error(reply: &Reply) {
    assert!(
        (400..500).contains(&reply.status),
        "expected a 4xx, got {}: {}",
        reply.status,
        reply.body
    );
    assert!(
        reply.body["error"]["code"].is_string(),
        "error body without code: {}",
        reply.body
    );
}

#[actix_web::test]
async fn peers_listed_by_hand_are_known_without_a_directory() {
    let hs2 = ServerProcess::start("hs2.test");
    let peers = format!("hs2.test={}", hs2.url);
    let hs1 = ServerProcess::start_with(
        "hs1.test",
        &[("PEERS", peers.as_str()), ("DIRECTORY_PULL_SECS", "1")],
    );
    wait_for_peers(&hs1, &["hs2.test"]).await;
    let status = Api::new(&hs1.url)
        .get("/api/v1/federation/status")
        .await
        .expect(200);
    assert_eq!(status["directory"], Value::Null, "no directory configured");
    assert_eq!(status["peers"][0]["source"], "config");
    // A listed peer that serves another server's key is not trusted.
    let wrong = format!("hs3.test={}", hs2.url);
    let hs4 = ServerProcess::start_with(
        "hs4.test",
        &[("PEERS", wrong.as_str()), ("DIRECTORY_PULL_SECS", "1")],
    );
    eventually(
        Duration::from_secs(30),
        "hs4 to check the listed peer",
        || async {
            hs4.log()
                .contains("serves another server's key")
                .then_some(())
        },
    )
    .await;
    assert!(peers_up(&hs4).await.is_empty());
}

#[actix_web::test]
async fn a_rotated_key_reaches_every_peer() {
    let (_dir, servers) = hearth_tests::network::federated(&["hs1.test", "hs2.test"]).await;
    let [mut hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let old_key = key_of(&hs1).public_key_b64();
    hs1.kill();
    let out = std::process::Command::new(hearth_tests::process::binary("homeserver"))
        .args(["keys", "rotate"])
        .env("DATA_DIR", hs1.data_dir())
        .env("SERVER_NAME", "hs1.test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let new_key = key_of(&hs1).public_key_b64();
    assert_ne!(new_key, old_key);
    hs1.restart();

    // The directory accepts the new key (signed by the old one too) and tells hs2.
    let hs2_api = Api::new(&hs2.url);
    eventually(
        Duration::from_secs(30),
        "hs2 to learn hs1's new key",
        || async {
            let status = hs2_api.get("/api/v1/federation/status").await.expect(200);
            let hs1_peer = status["peers"]
                .as_array()?
                .iter()
                .find(|p| p["server_name"] == "hs1.test")?
                .clone();
            hs1_peer["verify_keys"]
                .as_object()?
                .values()
                .any(|k| k["key"] == new_key.as_str())
                .then_some(())
        },
    )
    .await;
    // The replaced secret is gone from the key file once the directory has the new key.
    eventually(
        Duration::from_secs(30),
        "the replaced secret to be dropped",
        || async {
            let text = std::fs::read_to_string(hs1.data_dir().join("signing.key")).ok()?;
            (!text.lines().any(|l| l.starts_with("previous "))).then_some(())
        },
    )
    .await;
    // And hs1's signatures with the new key are accepted.
    let alice = hearth_tests::api::User::register(&hs1.url, "alice").await;
    let bob = hearth_tests::api::User::register(&hs2.url, "bob").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    alice.say("bob@hs2.test", "signed with the new key").await;
    let got = bob.sync(Some(cursor), 20).await;
    assert_eq!(
        hearth_tests::api::User::bodies(&got),
        ["signed with the new key"]
    );
}
