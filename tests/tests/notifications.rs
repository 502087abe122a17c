//! Notifications (issue 18): mentions, replies, invitations and DMs; never one's own; the list,
//! unread count and marking read; per-channel levels; the `notification` event on the stream;
//! and across two servers (a remote user's mention notifies a local one, and back).

use std::time::Duration;

use hearth_tests::api::User;
use hearth_tests::eventually;
use hearth_tests::network::federated_with;
use hearth_tests::process::Homeserver;
use serde_json::{json, Value};

async fn list(user: &User, unread: bool) -> Value {
    let path = if unread {
        "/api/v1/notifications?unread=true"
    } else {
        "/api/v1/notifications"
    };
    user.api.get(path).await.expect(200)
}

/// `(type, event body)` of each listed notification, newest first.
fn kinds(list: &Value) -> Vec<(String, String)> {
    list["notifications"]
        .as_array()
        .unwrap_or_else(|| panic!("no notifications in {list}"))
        .iter()
        .map(|n| {
            (
                n["type"].as_str().unwrap_or_default().to_string(),
                n["event"]["body"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

/// Waits until `user` has `count` notifications and returns the list.
async fn until_count(user: &User, count: usize) -> Value {
    eventually(Duration::from_secs(30), "the notifications", || async {
        let got = list(user, false).await;
        (kinds(&got).len() == count).then_some(got)
    })
    .await
}

async fn level(user: &User, channel: &str, level: &str) -> hearth_tests::api::Reply {
    user.api
        .put(
            &format!("/api/v1/channels/{channel}/notifications"),
            json!({ "level": level }),
        )
        .await
}

#[actix_web::test]
async fn notifications_on_one_server() {
    let hs = Homeserver::start_with("hs1.test", &[("RATE_LIMIT_SEND", "off")]);
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    for user in [&alice, &bob, &carol] {
        user.join("#den").await;
    }
    let mut cursor = alice.sync(None, 0).await["next"].as_i64().unwrap();

    // A mention: stored, and announced on the stream.
    bob.say("#den", "hi @Alice, welcome").await;
    let announced = alice
        .wait_for(&mut cursor, "the notification event", |e| {
            e["type"] == "notification"
        })
        .await;
    assert_eq!(announced["body"], "mention");
    assert_eq!(announced["meta"]["notification"]["type"], "mention");
    assert_eq!(announced["seq"], 0);
    let got = until_count(&alice, 1).await;
    assert_eq!(
        kinds(&got),
        [("mention".into(), "hi @Alice, welcome".into())]
    );
    assert_eq!(got["unread"], 1);
    assert_eq!(got["notifications"][0]["read"], false);
    assert_eq!(got["notifications"][0]["event"]["from"], "bob@hs1.test");

    // Nothing for a message that names no one, an address that is not a mention, or oneself.
    carol.say("#den", "no mention here").await;
    carol.say("#den", "write to alice@hs1.test").await;
    alice.say("#den", "@alice talks to herself").await;
    // A reply to one's message; a DM; an invitation.
    let mine = alice.say("#den", "a question").await;
    carol
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#den", "body": "an answer", "reply_to": mine["id"]}),
        )
        .await
        .expect(201);
    bob.say("alice", "psst").await;
    bob.join("#club").await;
    bob.api
        .post("/api/v1/channels/club/invite", json!({"nick": "alice"}))
        .await
        .expect(200);
    let got = until_count(&alice, 4).await;
    let types: Vec<String> = kinds(&got).into_iter().map(|(t, _)| t).collect();
    assert_eq!(types, ["invite", "dm", "reply", "mention"], "{got}");
    assert_eq!(got["unread"], 4);
    // The senders got nothing: one's own events never notify.
    assert_eq!(kinds(&list(&carol, false).await), []);
    assert_eq!(kinds(&list(&bob, false).await), []);

    // Mark one read, then all.
    let id = got["notifications"][3]["id"].as_str().unwrap().to_string();
    let marked = alice
        .api
        .raw(
            "PATCH",
            &format!("/api/v1/notifications/{id}/read"),
            b"{}".to_vec(),
        )
        .await
        .expect(200);
    assert_eq!(marked["unread"], 3);
    let unread = list(&alice, true).await;
    assert_eq!(kinds(&unread).len(), 3);
    assert_eq!(unread["unread"], 3);
    bob.api
        .raw(
            "PATCH",
            &format!("/api/v1/notifications/{id}/read"),
            b"{}".to_vec(),
        )
        .await
        .expect_error(404, "no_such_notification");
    let marked = alice
        .api
        .raw("PATCH", "/api/v1/notifications/read-all", b"{}".to_vec())
        .await
        .expect(200);
    assert_eq!(marked["marked"], 3);
    assert_eq!(marked["unread"], 0);
    assert_eq!(kinds(&list(&alice, true).await), []);

    // Levels: muted silences mentions; all notifies every message; bad input is refused.
    level(&alice, "den", "loud")
        .await
        .expect_error(400, "invalid_level");
    level(&alice, "nosuch", "all")
        .await
        .expect_error(404, "no_such_channel");
    let outsider = User::register(&hs.url, "outsider").await;
    level(&outsider, "den", "all")
        .await
        .expect_error(403, "not_member");
    let set = level(&alice, "den", "muted").await.expect(200);
    assert_eq!(set["level"], "muted");
    assert_eq!(set["channel"], "#den@hs1.test");
    bob.say("#den", "@alice are you there?").await;
    // The consumer judges events in order, with the level it reads then: once this DM's
    // notification is there, the mention above was judged while the channel was muted.
    bob.say("alice", "checkpoint").await;
    let got = until_count(&alice, 5).await;
    assert_eq!(kinds(&got)[0], ("dm".to_string(), "checkpoint".to_string()));
    level(&alice, "den", "all").await.expect(200);
    carol.say("#den", "just chatting").await;
    let got = until_count(&alice, 6).await;
    assert_eq!(
        kinds(&got)[0],
        ("message".to_string(), "just chatting".to_string())
    );
    level(&alice, "den", "mentions").await.expect(200);
    bob.say("#den", "@alice now?").await;
    let got = until_count(&alice, 7).await;
    assert_eq!(kinds(&got)[0], ("mention".into(), "@alice now?".into()));
    assert!(
        !kinds(&got)
            .iter()
            .any(|(_, b)| b == "@alice are you there?"),
        "a muted channel notified: {got}"
    );
}

#[actix_web::test]
async fn notifications_across_servers() {
    let (_dir, servers) = federated_with(&[
        ("hs1.test", vec![("RATE_LIMIT_SEND", "off")]),
        ("hs2.test", vec![("RATE_LIMIT_SEND", "off")]),
    ])
    .await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    alice.join("#town").await;
    bob.join("#town@hs1.test").await;

    // A remote user's mention notifies a local user (made by the host's consumer).
    bob.say("#town@hs1.test", "hello @alice@hs1.test").await;
    let got = until_count(&alice, 1).await;
    assert_eq!(
        kinds(&got),
        [("mention".into(), "hello @alice@hs1.test".into())]
    );
    assert_eq!(got["notifications"][0]["event"]["from"], "bob@hs2.test");
    // And a local user's mention of a remote one notifies them on their server (its mirror).
    alice.say("#town", "hi @bob@hs2.test").await;
    let got = until_count(&bob, 1).await;
    assert_eq!(kinds(&got), [("mention".into(), "hi @bob@hs2.test".into())]);
    // A remote DM.
    bob.say("alice@hs1.test", "a private word").await;
    let got = until_count(&alice, 2).await;
    assert_eq!(kinds(&got)[0], ("dm".into(), "a private word".into()));
    // A level on a channel hosted elsewhere is kept by the user's own server.
    let set = level(&bob, "town@hs1.test", "muted").await.expect(200);
    assert_eq!(set["channel"], "#town@hs1.test");
    drop(hs2);
}
