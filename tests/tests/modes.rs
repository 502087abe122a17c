//! Every channel mode and member mode is enforced, and each refusal is a 403 with a clear code.

use hearth_tests::api::User;
use hearth_tests::process::Homeserver;
use serde_json::json;

async fn mode(user: &User, channel: &str, body: serde_json::Value) -> hearth_tests::api::Reply {
    user.api
        .post(&format!("/api/v1/channels/{channel}/mode"), body)
        .await
}

#[actix_web::test]
async fn channel_modes_are_enforced() {
    let hs = Homeserver::start("hs1.test");
    let op = User::register(&hs.url, "oper").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    op.join("#m").await;

    // Only operators change modes.
    bob.join("#m").await;
    mode(&bob, "m", json!({"modes": "+i"}))
        .await
        .expect_error(403, "chanop_required");

    // +n: no messages from outside.
    carol
        .api
        .post("/api/v1/messages", json!({"to": "#m", "body": "hi"}))
        .await
        .expect_error(403, "not_member");

    // +t: only operators set the topic; -t lets anyone.
    bob.api
        .post("/api/v1/channels/m/topic", json!({"topic": "x"}))
        .await
        .expect_error(403, "chanop_required");
    mode(&op, "m", json!({"modes": "-t"})).await.expect(200);
    bob.api
        .post("/api/v1/channels/m/topic", json!({"topic": "x"}))
        .await
        .expect(200);

    // +m: only voiced members and operators speak.
    let info = mode(&op, "m", json!({"modes": "+m"})).await.expect(200);
    assert_eq!(info["modes"], "+mn");
    bob.api
        .post("/api/v1/messages", json!({"to": "#m", "body": "hi"}))
        .await
        .expect_error(403, "moderated");
    op.say("#m", "ops may speak").await;
    mode(&op, "m", json!({"modes": "+v", "nick": "bob"}))
        .await
        .expect(200);
    bob.say("#m", "voiced now").await;
    mode(&op, "m", json!({"modes": "-v", "nick": "bob"}))
        .await
        .expect(200);
    bob.api
        .post("/api/v1/messages", json!({"to": "#m", "body": "hi"}))
        .await
        .expect_error(403, "moderated");

    // +i: invite only, and an invite lets a user past it.
    mode(&op, "m", json!({"modes": "+i"})).await.expect(200);
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#m"}))
        .await
        .expect_error(403, "invite_only");
    bob.api
        .post("/api/v1/channels/m/invite", json!({"nick": "carol"}))
        .await
        .expect_error(403, "chanop_required");
    let carol_cursor = carol.sync(None, 0).await["next"].as_i64().unwrap();
    op.api
        .post("/api/v1/channels/m/invite", json!({"nick": "carol"}))
        .await
        .expect(200);
    let invite = carol.sync(Some(carol_cursor), 5).await;
    assert_eq!(
        invite["events"][0]["type"], "invite",
        "the invited user is told: {invite}"
    );
    assert_eq!(invite["events"][0]["meta"]["channel"], "#m@hs1.test");
    carol.join("#m").await;
    carol
        .api
        .post("/api/v1/channels/part", json!({"channel": "#m"}))
        .await
        .expect(200);
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#m"}))
        .await
        .expect_error(403, "invite_only");
    mode(&op, "m", json!({"modes": "-i"})).await.expect(200);

    // +k: the key is needed.
    mode(&op, "m", json!({"modes": "+k", "arg": "sesame"}))
        .await
        .expect(200);
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#m"}))
        .await
        .expect_error(403, "bad_channel_key");
    carol
        .api
        .post(
            "/api/v1/channels/join",
            json!({"channel": "#m", "key": "wrong"}),
        )
        .await
        .expect_error(403, "bad_channel_key");
    carol
        .api
        .post(
            "/api/v1/channels/join",
            json!({"channel": "#m", "key": "sesame"}),
        )
        .await
        .expect(200);
    carol
        .api
        .post("/api/v1/channels/part", json!({"channel": "#m"}))
        .await
        .expect(200);
    mode(&op, "m", json!({"modes": "-k"})).await.expect(200);

    // +l: the member limit.
    mode(&op, "m", json!({"modes": "+l 2"})).await.expect(200);
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#m"}))
        .await
        .expect_error(403, "channel_full");
    mode(&op, "m", json!({"modes": "-l"})).await.expect(200);
    carol.join("#m").await;

    // +s: secret channels are neither listed nor visible to non-members.
    mode(&op, "m", json!({"modes": "+s"})).await.expect(200);
    let outsider = User::register(&hs.url, "dave").await;
    let public = outsider
        .api
        .get("/api/v1/channels/public")
        .await
        .expect(200);
    assert!(public["channels"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["name"] != "#m@hs1.test"));
    outsider
        .api
        .get("/api/v1/channels/m")
        .await
        .expect_error(404, "no_such_channel");
    // A send included.
    mode(&op, "m", json!({"modes": "-n"})).await.expect(200);
    outsider
        .api
        .post("/api/v1/messages", json!({"to": "#m", "body": "anyone?"}))
        .await
        .expect_error(404, "no_such_channel");
    mode(&op, "m", json!({"modes": "+n-s"})).await.expect(200);
    let public = outsider
        .api
        .get("/api/v1/channels/public")
        .await
        .expect(200);
    assert!(public["channels"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "#m@hs1.test"));

    // Nonsense mode strings are a 400.
    mode(&op, "m", json!({"modes": "+x"}))
        .await
        .expect_error(400, "invalid_mode");
    mode(&op, "m", json!({"modes": "+k"}))
        .await
        .expect_error(400, "invalid_mode");
}

#[actix_web::test]
async fn member_modes_and_ownership_are_enforced() {
    let hs = Homeserver::start("hs1.test");
    let owner = User::register(&hs.url, "owner").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    owner.join("#o").await;
    bob.join("#o").await;
    carol.join("#o").await;

    // Non-operators cannot kick; operators can.
    bob.api
        .post("/api/v1/channels/o/kick", json!({"nick": "carol"}))
        .await
        .expect_error(403, "chanop_required");
    let info = mode(&owner, "o", json!({"modes": "+o", "nick": "bob"}))
        .await
        .expect(200);
    let bob_entry = info["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["nick"] == "bob")
        .cloned()
        .unwrap();
    assert_eq!(bob_entry["modes"], "o");
    let carol_cursor = carol.sync(None, 0).await["next"].as_i64().unwrap();
    bob.api
        .post(
            "/api/v1/channels/o/kick",
            json!({"nick": "carol", "reason": "spam"}),
        )
        .await
        .expect(200);
    let kicked = carol.sync(Some(carol_cursor), 5).await;
    let kick = kicked["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "kick")
        .cloned()
        .expect("kick event");
    assert_eq!(kick["meta"]["nick"], "carol@hs1.test");
    assert_eq!(kick["body"], "spam");
    carol
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#o", "body": "still here?"}),
        )
        .await
        .expect_error(403, "not_member");

    // The owner cannot be de-opped or kicked by other operators.
    mode(&bob, "o", json!({"modes": "-o", "nick": "owner"}))
        .await
        .expect_error(403, "cannot_deop_owner");
    bob.api
        .post("/api/v1/channels/o/kick", json!({"nick": "owner"}))
        .await
        .expect_error(403, "cannot_kick_owner");
    // Only the owner transfers ownership.
    mode(&bob, "o", json!({"modes": "+q", "nick": "bob"}))
        .await
        .expect_error(403, "owner_required");
    let transferred = mode(&owner, "o", json!({"modes": "+q", "nick": "bob"}))
        .await
        .expect(200);
    assert_eq!(transferred["owner"], "bob@hs1.test");
    // Now the old owner is an ordinary operator, and the new owner can de-op them.
    mode(&bob, "o", json!({"modes": "-o", "nick": "owner"}))
        .await
        .expect(200);
    mode(&owner, "o", json!({"modes": "+m"}))
        .await
        .expect_error(403, "chanop_required");
    // Member modes need a member.
    mode(&bob, "o", json!({"modes": "+v", "nick": "carol"}))
        .await
        .expect_error(404, "not_in_channel");
}
