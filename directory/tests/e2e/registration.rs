//! `POST /directory/v1/servers`: proof, refusals, replays and key changes.

use federation_proto::keydoc::KeyDocument;
use federation_proto::signing::sign_json;
use serde_json::json;

use hearth_tests::directory::*;

#[actix_web::test]
async fn a_proven_registration_is_accepted_and_signed_by_the_directory() {
    let dir = Directory::start(&[]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let entry = hs1.register(&dir).await.expect(201);
    assert_eq!(entry["seq"], 1);
    assert_eq!(entry["server_name"], "hs1.test");
    assert_eq!(entry["url"], hs1.url.as_str());
    assert_eq!(entry["status"], "up");
    assert_eq!(
        entry["verify_keys"]["ed25519:k1"]["key"],
        hs1.key().public_key_b64().as_str()
    );
    assert_signed_by_directory(&dir, &entry).await;

    // The pull list serves the same signed entry.
    let page = dir
        .api()
        .get("/directory/v1/servers?since=0")
        .await
        .expect(200);
    assert_eq!(page["entries"], json!([entry.clone()]));
    assert_eq!(page["next"], 1);
    let rest = dir
        .api()
        .get("/directory/v1/servers?since=1")
        .await
        .expect(200);
    assert_eq!(rest, json!({"entries": [], "next": 1}));

    // The same registration again (newer ts) changes nothing and answers the entry.
    let again = hs1.register(&dir).await.expect(200);
    assert_eq!(again, entry);
    assert_eq!(dir.entries().await.len(), 1);
}

#[actix_web::test]
async fn a_replayed_registration_is_refused() {
    let dir = Directory::start(&[]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let body = hs1.registration(now_ms());
    dir.api()
        .post("/directory/v1/servers", body.clone())
        .await
        .expect(201);
    dir.api()
        .post("/directory/v1/servers", body.clone())
        .await
        .expect_error(409, "replayed_registration");
    // An older one is a replay too.
    let older = hs1.registration(now_ms() - 60_000);
    dir.api()
        .post("/directory/v1/servers", older.clone())
        .await
        .expect_error(409, "replayed_registration");
    // Too far from the directory's clock.
    let stale = hs1.registration(now_ms() - 600_000);
    dir.api()
        .post("/directory/v1/servers", stale.clone())
        .await
        .expect_error(400, "bad_timestamp");
    assert_eq!(dir.entries().await.len(), 1);
}

#[actix_web::test]
async fn a_url_that_serves_another_key_or_name_is_refused() {
    let dir = Directory::start(&[]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;

    // Someone registers hs1's URL with a key hs1 does not serve.
    let impostor = key("k1", 99);
    let body = registration("hs1.test", &hs1.url, &impostor, now_ms());
    dir.api()
        .post("/directory/v1/servers", body.clone())
        .await
        .expect_error(422, "key_mismatch");

    // Someone claims another name at hs1's URL, with hs1's own key.
    let body = registration("hs2.test", &hs1.url, &hs1.key(), now_ms());
    dir.api()
        .post("/directory/v1/servers", body.clone())
        .await
        .expect_error(422, "server_name_mismatch");

    // A URL that serves a forged (tampered) key document.
    let mut doc =
        KeyDocument::build_signed("hs1.test", &hs1.key(), &[], now_ms(), 86_400_000).unwrap();
    doc.valid_until_ts += 1;
    hs1.serve_document(&doc);
    hs1.register(&dir)
        .await
        .expect_error(422, "invalid_key_document");

    // A URL where nothing answers.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let dead_url = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let body = registration("hs3.test", &dead_url, &key("k1", 3), now_ms());
    dir.api()
        .post("/directory/v1/servers", body.clone())
        .await
        .expect_error(502, "key_fetch_failed");

    assert!(dir.entries().await.is_empty(), "nothing was accepted");
}

#[actix_web::test]
async fn bad_signatures_and_malformed_bodies_are_refused_and_change_nothing() {
    let dir = Directory::start(&[]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let api = dir.api();

    let mut tampered = hs1.registration(now_ms());
    tampered["url"] = json!("http://127.0.0.1:9");
    api.post("/directory/v1/servers", tampered.clone())
        .await
        .expect_error(401, "bad_signature");
    let mut unsigned = hs1.registration(now_ms());
    unsigned.as_object_mut().unwrap().remove("signatures");
    api.post("/directory/v1/servers", unsigned.clone())
        .await
        .expect_error(401, "bad_signature");

    let raw = |body: &str| {
        api.send_with_headers(
            "POST",
            "/directory/v1/servers",
            &[],
            body.as_bytes().to_vec(),
        )
    };
    raw("{").await.expect_error(400, "invalid_json");
    raw("").await.expect_error(400, "invalid_json");
    raw(r#"{"ts": 1.5}"#)
        .await
        .expect_error(400, "invalid_json");
    raw(r#"{"a": 1, "a": 2}"#)
        .await
        .expect_error(400, "invalid_json");
    raw(r#"{"server_name": 5}"#)
        .await
        .expect_error(400, "invalid_request");
    raw("[]").await.expect_error(400, "invalid_request");
    let big = format!(r#"{{"pad": "{}"}}"#, "a".repeat(70_000));
    raw(&big).await.expect_error(413, "body_too_large");

    let with = |field: &str, value: serde_json::Value| {
        let mut body = hs1.registration(now_ms());
        body[field] = value;
        sign_json(&mut body, "hs1.test", &hs1.key()).unwrap();
        body
    };
    let bad_name = registration("HS1.test", &hs1.url, &hs1.key(), now_ms());
    api.post("/directory/v1/servers", bad_name.clone())
        .await
        .expect_error(400, "invalid_server_name");
    api.post("/directory/v1/servers", with("url", json!("ftp://x")))
        .await
        .expect_error(400, "invalid_url");
    api.post(
        "/directory/v1/servers",
        with(
            "verify_keys",
            json!({"ed25519:k1": {"key": hs1.key().public_key_b64()}, "ed25519:k2": {"key": key("k2", 2).public_key_b64()}}),
        ),
    )
    .await
    .expect_error(400, "invalid_verify_keys");
    api.send_with_headers("GET", "/directory/v1/servers?since=x", &[], vec![])
        .await
        .expect_error(400, "invalid_query");
    api.send_with_headers("PUT", "/directory/v1/servers", &[], vec![])
        .await
        .expect_error(405, "method_not_allowed");

    assert!(dir.entries().await.is_empty());
    // Still works afterwards.
    hs1.register(&dir).await.expect(201);
}

#[actix_web::test]
async fn a_new_key_needs_the_signature_of_the_key_on_record() {
    let dir = Directory::start(&[]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    hs1.register(&dir).await.expect(201);
    let old = hs1.key();
    let new = key("k2", 2);
    hs1.set_key(new.clone());

    // Signed only by the new key (which the URL does serve): refused.
    let only_new = hs1.registration(now_ms());
    dir.api()
        .post("/directory/v1/servers", only_new.clone())
        .await
        .expect_error(403, "not_signed_by_key_on_record");

    // Signed by both: accepted, a new entry with the new key.
    let mut both = hs1.registration(now_ms() + 1);
    sign_json(&mut both, "hs1.test", &old).unwrap();
    assert_eq!(both["signatures"]["hs1.test"].as_object().unwrap().len(), 2);
    let entry = dir
        .api()
        .post("/directory/v1/servers", both.clone())
        .await
        .expect(201);
    assert_eq!(entry["seq"], 2);
    assert_eq!(
        entry["verify_keys"],
        json!({"ed25519:k2": {"key": new.public_key_b64()}})
    );
    assert_signed_by_directory(&dir, &entry).await;

    // From now on the old key is not enough.
    hs1.set_key(old.clone());
    hs1.register(&dir)
        .await
        .expect_error(403, "not_signed_by_key_on_record");
}
