//! Heartbeats, expiry and deregistration.

use serde_json::json;

use hearth_tests::directory::*;

const HEARTBEAT: &str = "/directory/v1/heartbeat";

#[actix_web::test]
async fn heartbeats_from_unknown_servers_and_replays_are_refused() {
    let dir = Directory::start(&[]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;

    // Not registered yet.
    hs1.signed(&dir, "POST", HEARTBEAT, b"{}")
        .await
        .expect_error(401, "unknown_server");
    hs1.register(&dir).await.expect(201);

    let (header, reply) =
        signed_request(&dir, "hs1.test", &hs1.key(), "POST", HEARTBEAT, b"{}").await;
    let answer = reply.expect(200);
    let expires = answer["expires_ts"].as_u64().unwrap();
    assert!(
        expires > now_ms() + 800_000 && expires <= now_ms() + 900_000,
        "{answer}"
    );

    // The same request again.
    dir.api()
        .send_with_headers(
            "POST",
            HEARTBEAT,
            &[("Authorization", header)],
            b"{}".to_vec(),
        )
        .await
        .expect_error(401, "replayed_request");

    // Signed by another key, for another destination, over another body, or not at all.
    let (_, r) = signed_request(&dir, "hs1.test", &key("k1", 77), "POST", HEARTBEAT, b"{}").await;
    r.expect_error(401, "bad_signature");
    let (_, r) = signed_request(&dir, "hs1.test", &key("k9", 1), "POST", HEARTBEAT, b"{}").await;
    r.expect_error(401, "unknown_key");
    let auth = federation_proto::signing::sign_request(
        "POST",
        HEARTBEAT,
        "hs1.test",
        "other.test",
        now_ms(),
        b"{}",
        &hs1.key(),
    )
    .unwrap();
    dir.api()
        .send_with_headers(
            "POST",
            HEARTBEAT,
            &[("Authorization", auth.to_header())],
            b"{}".to_vec(),
        )
        .await
        .expect_error(401, "wrong_destination");
    let auth = federation_proto::signing::sign_request(
        "POST",
        HEARTBEAT,
        "hs1.test",
        DIR_NAME,
        now_ms(),
        b"{}",
        &hs1.key(),
    )
    .unwrap();
    dir.api()
        .send_with_headers(
            "POST",
            HEARTBEAT,
            &[("Authorization", auth.to_header())],
            b"{\"x\":1}".to_vec(),
        )
        .await
        .expect_error(401, "bad_signature");
    let old = federation_proto::signing::sign_request(
        "POST",
        HEARTBEAT,
        "hs1.test",
        DIR_NAME,
        now_ms() - 600_000,
        b"{}",
        &hs1.key(),
    )
    .unwrap();
    dir.api()
        .send_with_headers(
            "POST",
            HEARTBEAT,
            &[("Authorization", old.to_header())],
            b"{}".to_vec(),
        )
        .await
        .expect_error(401, "request_expired");
    dir.api()
        .post(HEARTBEAT, json!({}))
        .await
        .expect_error(401, "missing_authorization");
    dir.api()
        .send_with_headers(
            "POST",
            HEARTBEAT,
            &[("Authorization", "Bearer x".into())],
            vec![],
        )
        .await
        .expect_error(401, "bad_authorization");
}

#[actix_web::test]
async fn silent_servers_expire_and_must_register_again() {
    let dir = Directory::start(&[("SERVER_TTL", "1"), ("EXPIRY_CHECK_SECS", "1")]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    hs1.register(&dir).await.expect(201);
    let gone = eventually(DEADLINE, "hs1 to expire", || async {
        dir.entries()
            .await
            .into_iter()
            .find(|e| e["status"] == "gone")
    })
    .await;
    assert_eq!(gone["seq"], 2);
    assert_eq!(gone["server_name"], "hs1.test");
    assert_eq!(gone["url"], hs1.url.as_str());
    assert_signed_by_directory(&dir, &gone).await;

    // A heartbeat does not bring it back; a registration does.
    hs1.signed(&dir, "POST", HEARTBEAT, b"{}")
        .await
        .expect_error(401, "unknown_server");
    let back = hs1.register(&dir).await.expect(201);
    assert_eq!(
        (back["seq"].as_u64(), back["status"].as_str()),
        (Some(3), Some("up"))
    );
}

#[actix_web::test]
async fn a_server_deregisters_itself() {
    let dir = Directory::start(&[]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let hs2 = FakeHomeserver::start("hs2.test", 2).await;
    hs1.register(&dir).await.expect(201);
    hs2.register(&dir).await.expect(201);

    // Only hs1 may remove hs1.
    hs2.signed(&dir, "DELETE", "/directory/v1/servers/hs1.test", b"")
        .await
        .expect_error(403, "origin_mismatch");
    let gone = hs1
        .signed(&dir, "DELETE", "/directory/v1/servers/hs1.test", b"")
        .await
        .expect(200);
    assert_eq!(
        (gone["seq"].as_u64(), gone["status"].as_str()),
        (Some(3), Some("gone"))
    );
    assert_signed_by_directory(&dir, &gone).await;
    // Idempotent: again, the same entry and nothing new.
    let again = hs1
        .signed(&dir, "DELETE", "/directory/v1/servers/hs1.test", b"")
        .await
        .expect(200);
    assert_eq!(again, gone);
    assert_eq!(dir.entries().await.len(), 3);
    // Gone: no heartbeats, and hs2 hears about the departure.
    hs1.signed(&dir, "POST", HEARTBEAT, b"{}")
        .await
        .expect_error(401, "unknown_server");
    eventually(DEADLINE, "hs2 to learn hs1 left", || async {
        (hs2.known_up() == ["hs2.test"]).then_some(())
    })
    .await;
}
