//! Invite links (issue 18): operators make them; a holder joins past +i and +k, never past a
//! ban; uses are counted (the last one once, even under concurrent accepts); expiry; revoke.

use std::time::Duration;

use futures_util::future::join_all;
use hearth_tests::api::User;
use hearth_tests::eventually;
use hearth_tests::process::Homeserver;
use serde_json::json;

#[actix_web::test]
async fn invite_links() {
    let hs = Homeserver::start_with("hs1.test", &[("RATE_LIMIT_SEND", "off")]);
    let owner = User::register(&hs.url, "owner").await;
    let member = User::register(&hs.url, "member").await;
    let bob = User::register(&hs.url, "bob").await;
    let troll = User::register(&hs.url, "troll").await;
    owner.join("#vip").await;
    member.join("#vip").await;
    owner
        .api
        .post(
            "/api/v1/channels/vip/mode",
            json!({"modes": "+ik", "arg": "sesame"}),
        )
        .await
        .expect(200);

    // Operators make links; bad input is refused.
    member
        .api
        .post("/api/v1/channels/vip/invites", json!({}))
        .await
        .expect_error(403, "chanop_required");
    owner
        .api
        .post("/api/v1/channels/vip/invites", json!({"max_uses": 0}))
        .await
        .expect_error(400, "invalid_max_uses");
    owner
        .api
        .post("/api/v1/channels/vip/invites", json!({"expires_in": -5}))
        .await
        .expect_error(400, "invalid_expires_in");
    owner
        .api
        .post("/api/v1/channels/nosuch/invites", json!({}))
        .await
        .expect_error(404, "no_such_channel");
    let link = owner
        .api
        .post("/api/v1/channels/vip/invites", json!({"max_uses": 2}))
        .await
        .expect(201);
    let code = link["code"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 22);
    assert_eq!(link["channel"], "#vip@hs1.test");
    assert_eq!(link["max_uses"], 2);
    assert_eq!(link["uses"], 0);
    let default = owner
        .api
        .post("/api/v1/channels/vip/invites", json!({}))
        .await
        .expect(201);
    assert!(default["max_uses"].is_null());
    let expires = default["expires"].as_str().unwrap();
    assert!(expires > "2026", "{expires}");

    // Anyone with the code sees it; it gets past +i and +k.
    let details = bob
        .api
        .get(&format!("/api/v1/invites/{code}"))
        .await
        .expect(200);
    assert_eq!(details["channel"], "#vip@hs1.test");
    bob.api
        .post("/api/v1/channels/join", json!({"channel": "#vip"}))
        .await
        .expect_error(403, "invite_only");
    let info = bob
        .api
        .post(&format!("/api/v1/invites/{code}/accept"), json!({}))
        .await
        .expect(200);
    assert!(info["members"]
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["nick"] == "bob"));
    // Accepting again as a member uses nothing.
    bob.api
        .post(&format!("/api/v1/invites/{code}/accept"), json!({}))
        .await
        .expect(200);
    let details = bob
        .api
        .get(&format!("/api/v1/invites/{code}"))
        .await
        .expect(200);
    assert_eq!(details["uses"], 1);

    // Never past a ban, and a refused accept uses nothing.
    owner
        .api
        .post(
            "/api/v1/channels/vip/mode",
            json!({"modes": "+b", "arg": "troll"}),
        )
        .await
        .expect(200);
    troll
        .api
        .post(&format!("/api/v1/invites/{code}/accept"), json!({}))
        .await
        .expect_error(403, "banned");
    assert_eq!(
        bob.api
            .get(&format!("/api/v1/invites/{code}"))
            .await
            .expect(200)["uses"],
        1
    );

    // The last use is taken once, even by users accepting at the same time.
    let mut racers = Vec::new();
    for i in 0..4 {
        racers.push(User::register(&hs.url, &format!("racer{i}")).await);
    }
    let path = format!("/api/v1/invites/{code}/accept");
    let answers = join_all(racers.iter().map(|r| r.api.post(&path, json!({})))).await;
    let joined = answers.iter().filter(|a| a.status == 200).count();
    assert_eq!(
        joined,
        1,
        "{:?}",
        answers.iter().map(|a| &a.body).collect::<Vec<_>>()
    );
    for answer in answers.iter().filter(|a| a.status != 200) {
        answer.expect_error(403, "invite_used_up");
    }
    assert_eq!(
        bob.api
            .get(&format!("/api/v1/invites/{code}"))
            .await
            .expect(200)["uses"],
        2
    );

    // Revoke: operators; afterwards the code is unknown.
    let other = default["code"].as_str().unwrap();
    member
        .api
        .delete(&format!("/api/v1/invites/{other}"))
        .await
        .expect_error(403, "chanop_required");
    owner
        .api
        .delete(&format!("/api/v1/invites/{other}"))
        .await
        .expect(200);
    let late = User::register(&hs.url, "late").await;
    late.api
        .post(&format!("/api/v1/invites/{other}/accept"), json!({}))
        .await
        .expect_error(404, "no_such_invite");
    // Expiry (asked by a member, whom an accept cannot change, so the race is harmless).
    let short = owner
        .api
        .post("/api/v1/channels/vip/invites", json!({"expires_in": 1}))
        .await
        .expect(201);
    let short = short["code"].as_str().unwrap().to_string();
    eventually(Duration::from_secs(30), "the link to expire", || async {
        let answer = bob
            .api
            .post(&format!("/api/v1/invites/{short}/accept"), json!({}))
            .await;
        (answer.code() == "invite_expired").then_some(())
    })
    .await;
    late.api
        .get("/api/v1/invites/not-a-code")
        .await
        .expect_error(404, "no_such_invite");
}
