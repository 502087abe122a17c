//! Bad input gets the documented 4xx JSON error and changes nothing.

use hearth_tests::api::{Api, User};
use hearth_tests::process::Homeserver;
use serde_json::json;

#[actix_web::test]
async fn bad_input_is_refused_and_changes_nothing() {
    let hs = Homeserver::start_with("hs1.test", &[("MAX_MESSAGE_SIZE", "1000")]);
    let anon = Api::new(&hs.url);
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#safe").await;
    alice.say("#safe", "the only message").await;

    // Registration.
    anon.raw("POST", "/api/v1/register", b"{not json".to_vec())
        .await
        .expect_error(400, "invalid_json");
    anon.raw("POST", "/api/v1/register", vec![0xff, 0xfe, b'{'])
        .await
        .expect_error(400, "invalid_json");
    anon.post(
        "/api/v1/register",
        json!({"nick": 42, "password": "long enough"}),
    )
    .await
    .expect_error(400, "invalid_request");
    anon.post("/api/v1/register", json!({"nick": "bob"}))
        .await
        .expect_error(400, "invalid_request");
    for nick in ["ab", "no spaces", "way_too_long_for_a_nick", "émile", ""] {
        anon.post(
            "/api/v1/register",
            json!({"nick": nick, "password": "long enough"}),
        )
        .await
        .expect_error(400, "invalid_nick");
    }
    anon.post(
        "/api/v1/register",
        json!({"nick": "bob", "password": "short"}),
    )
    .await
    .expect_error(400, "invalid_password");
    anon.post(
        "/api/v1/register",
        json!({"nick": "ALICE", "password": "long enough"}),
    )
    .await
    .expect_error(409, "nick_taken");
    let huge = vec![b' '; 2 * 1024 * 1024];
    anon.raw("POST", "/api/v1/register", huge)
        .await
        .expect_error(413, "body_too_large");
    assert_eq!(
        anon.get("/api/v1/server").await.expect(200)["user_count"],
        1,
        "no account was created"
    );

    // Login and tokens.
    anon.post(
        "/api/v1/login",
        json!({"nick": "alice", "password": "wrong password"}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    anon.post(
        "/api/v1/login",
        json!({"nick": "nobody", "password": "wrong password"}),
    )
    .await
    .expect_error(401, "invalid_credentials");
    anon.get("/api/v1/messages")
        .await
        .expect_error(401, "missing_token");
    anon.with_token("forged")
        .get("/api/v1/messages")
        .await
        .expect_error(401, "invalid_token");
    anon.post("/api/v1/messages", json!({"to": "#safe", "body": "x"}))
        .await
        .expect_error(401, "missing_token");

    // Sending.
    let api = &alice.api;
    api.raw(
        "POST",
        "/api/v1/messages",
        br##"{"to": "#safe", "body": "##.to_vec(),
    )
    .await
    .expect_error(400, "invalid_json");
    api.post("/api/v1/messages", json!({"to": "#safe", "body": ["x"]}))
        .await
        .expect_error(400, "invalid_request");
    api.post(
        "/api/v1/messages",
        json!({"to": "#safe", "body": "x", "meta": [1]}),
    )
    .await
    .expect_error(400, "invalid_meta");
    api.post(
        "/api/v1/messages",
        json!({"to": "#safe", "body": "x", "type": "join"}),
    )
    .await
    .expect_error(400, "invalid_type");
    api.post("/api/v1/messages", json!({"to": "#safe", "body": ""}))
        .await
        .expect_error(400, "empty_body");
    // Postgres text cannot hold NUL: refused on both backends, before anything is stored.
    api.post(
        "/api/v1/messages",
        json!({"to": "#safe", "body": "before\u{0}after"}),
    )
    .await
    .expect_error(400, "invalid_body");
    api.post(
        "/api/v1/messages",
        json!({"to": "#safe", "body": "x".repeat(1001)}),
    )
    .await
    .expect_error(413, "message_too_large");
    api.post(
        "/api/v1/messages",
        json!({"to": "#safe", "body": "é".repeat(501)}),
    )
    .await
    .expect_error(413, "message_too_large");
    api.post("/api/v1/messages", json!({"to": "#bad name", "body": "x"}))
        .await
        .expect_error(400, "invalid_channel");
    api.post("/api/v1/messages", json!({"to": "#nowhere", "body": "x"}))
        .await
        .expect_error(404, "no_such_channel");
    api.post("/api/v1/messages", json!({"to": "nobody", "body": "x"}))
        .await
        .expect_error(404, "unknown_user");
    api.post("/api/v1/messages", json!({"to": "", "body": "x"}))
        .await
        .expect_error(400, "invalid_target");
    api.post(
        "/api/v1/messages",
        json!({"to": "#safe", "body": "x", "reply_to": "nope"}),
    )
    .await
    .expect_error(400, "invalid_reply_to");

    // Channels.
    api.post("/api/v1/channels/join", json!({"channel": "#"}))
        .await
        .expect_error(400, "invalid_channel");
    api.post(
        "/api/v1/channels/join",
        json!({"channel": format!("#{}", "a".repeat(65))}),
    )
    .await
    .expect_error(400, "invalid_channel");
    api.post("/api/v1/channels/part", json!({"channel": "#nowhere"}))
        .await
        .expect_error(404, "no_such_channel");
    api.get("/api/v1/channels/nowhere")
        .await
        .expect_error(404, "no_such_channel");
    api.post(
        "/api/v1/channels/safe/topic",
        json!({"topic": "x".repeat(1001)}),
    )
    .await
    .expect_error(400, "invalid_topic");
    api.post("/api/v1/channels/safe/kick", json!({"nick": "nobody"}))
        .await
        .expect_error(404, "unknown_user");

    // Queries and routes.
    api.get("/api/v1/messages?after=banana")
        .await
        .expect_error(400, "invalid_query");
    api.get("/api/v1/messages?after=-1")
        .await
        .expect_error(400, "invalid_cursor");
    api.get("/api/v1/history?target=%23safe&limit=x")
        .await
        .expect_error(400, "invalid_query");
    api.get("/api/v1/nope").await.expect_error(404, "not_found");
    api.raw("DELETE", "/api/v1/messages", Vec::new())
        .await
        .expect_error(405, "method_not_allowed");

    // Nothing changed.
    let history = api.get("/api/v1/history?target=%23safe").await.expect(200);
    let messages: Vec<_> = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["type"] == "message")
        .collect();
    assert_eq!(messages.len(), 1);
    assert_eq!(messages[0]["body"], "the only message");
    let channels = api.get("/api/v1/channels/public").await.expect(200);
    assert_eq!(channels["channels"].as_array().unwrap().len(), 1);
    assert!(
        !hs.log().contains("panicked"),
        "the server panicked:\n{}",
        hs.log()
    );
}
