//! One set of channel rules for members of every server (issue 14): a member limit counts
//! members of every server, a renamed member keeps membership and modes everywhere and every
//! server sees the rename, a remote operator invites, a member server lists remote channels
//! with their topic and member count, and peers listed in `PEERS` find each other whatever the
//! order they start in.

use std::time::Duration;

use hearth_tests::api::User;
use hearth_tests::eventually;
use hearth_tests::network::federated;
use hearth_tests::process::ServerProcess;
use serde_json::{json, Value};

async fn cursor_of(user: &User) -> i64 {
    user.sync(None, 0).await["next"].as_i64().unwrap()
}

async fn mode(user: &User, channel: &str, body: Value) -> hearth_tests::api::Reply {
    let path = format!("/api/v1/channels/{}/mode", channel.trim_start_matches('#'));
    user.api.post(&path, body).await
}

fn member<'a>(info: &'a Value, handle: &str) -> Option<&'a Value> {
    info["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["handle"] == handle)
}

#[actix_web::test]
async fn a_member_limit_counts_members_of_every_server() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs1.url, "carol").await;
    let dave = User::register(&hs2.url, "dave").await;
    alice.join("#small").await;
    mode(&alice, "#small", json!({"modes": "+l 2"}))
        .await
        .expect(200);
    bob.join("#small@hs1.test").await;

    // One local and one remote member: the channel is full for everyone.
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#small"}))
        .await
        .expect_error(403, "channel_full");
    dave.api
        .post(
            "/api/v1/channels/join",
            json!({"channel": "#small@hs1.test"}),
        )
        .await
        .expect_error(403, "channel_full");

    // A remote member leaving makes room for a local one.
    bob.api
        .post(
            "/api/v1/channels/part",
            json!({"channel": "#small@hs1.test"}),
        )
        .await
        .expect(200);
    carol.join("#small").await;
    let info = alice.api.get("/api/v1/channels/small").await.expect(200);
    assert_eq!(info["members"].as_array().unwrap().len(), 2, "{info}");
}

#[actix_web::test]
async fn a_renamed_member_keeps_membership_and_modes_on_every_server() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#general").await;
    bob.join("#general@hs1.test").await;
    carol.join("#general@hs1.test").await;
    mode(
        &alice,
        "#general",
        json!({"modes": "+o", "nick": "bob@hs2.test"}),
    )
    .await
    .expect(200);
    let mut alice_cursor = cursor_of(&alice).await;
    let mut carol_cursor = cursor_of(&carol).await;

    bob.api
        .post("/api/v1/users/nick", json!({"nick": "robert"}))
        .await
        .expect(200);

    // Right away, under the new nick: still a member, still an operator.
    let sent = bob.say("#general@hs1.test", "hello as robert").await;
    assert_eq!(sent["from"], "robert@hs2.test");
    bob.api
        .post(
            "/api/v1/channels/general@hs1.test/topic",
            json!({"topic": "set by an operator who changed nick"}),
        )
        .await
        .expect(200);
    let info = alice.api.get("/api/v1/channels/general").await.expect(200);
    assert!(member(&info, "bob@hs2.test").is_none(), "{info}");
    let robert = member(&info, "robert@hs2.test").expect("robert is a member");
    assert_eq!(robert["modes"], "o", "{info}");

    // The host's members and the other member server see the rename.
    for (user, cursor, server) in [
        (&alice, &mut alice_cursor, "hs1"),
        (&carol, &mut carol_cursor, "hs3"),
    ] {
        let nick = user
            .wait_for(cursor, &format!("the nick event on {server}"), |e| {
                e["type"] == "nick" && e["from"] == "bob@hs2.test"
            })
            .await;
        assert_eq!(nick["body"], "robert@hs2.test");
        assert_eq!(nick["to"], "#general@hs1.test");
        eventually(
            Duration::from_secs(30),
            &format!("robert's message on {server}"),
            || async {
                let history = user
                    .api
                    .get("/api/v1/history?target=%23general@hs1.test&limit=10")
                    .await
                    .expect(200);
                history["events"]
                    .as_array()?
                    .iter()
                    .any(|e| e["body"] == "hello as robert" && e["from"] == "robert@hs2.test")
                    .then_some(())
            },
        )
        .await;
    }

    // A user of the host who changes nick: the member servers see it too.
    alice
        .api
        .post("/api/v1/users/nick", json!({"nick": "alicia"}))
        .await
        .expect(200);
    let nick = carol
        .wait_for(&mut carol_cursor, "alice's rename on hs3", |e| {
            e["type"] == "nick" && e["from"] == "alice@hs1.test"
        })
        .await;
    assert_eq!(nick["body"], "alicia@hs1.test");
    let info = bob
        .api
        .get("/api/v1/channels/general@hs1.test")
        .await
        .expect(200);
    assert_eq!(
        info["owner"], "alicia@hs1.test",
        "ownership is kept: {info}"
    );
}

#[actix_web::test]
async fn remote_operators_invite_users_of_every_server() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let dave = User::register(&hs1.url, "dave").await;
    let bob = User::register(&hs2.url, "bob").await;
    let erin = User::register(&hs2.url, "erin").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#club").await;
    mode(&alice, "#club", json!({"modes": "+i"}))
        .await
        .expect(200);
    alice
        .api
        .post(
            "/api/v1/channels/club/invite",
            json!({"nick": "bob@hs2.test"}),
        )
        .await
        .expect(200);
    bob.join("#club@hs1.test").await;
    mode(
        &alice,
        "#club",
        json!({"modes": "+o", "nick": "bob@hs2.test"}),
    )
    .await
    .expect(200);

    let (mut carol_cursor, mut erin_cursor, mut dave_cursor) = (
        cursor_of(&carol).await,
        cursor_of(&erin).await,
        cursor_of(&dave).await,
    );
    // bob, an operator on hs2, invites a user of hs3, one of his own server and one of the host.
    for invitee in ["carol@hs3.test", "erin", "dave@hs1.test"] {
        bob.api
            .post(
                "/api/v1/channels/club@hs1.test/invite",
                json!({"nick": invitee}),
            )
            .await
            .expect(200);
    }
    for (user, cursor) in [
        (&carol, &mut carol_cursor),
        (&erin, &mut erin_cursor),
        (&dave, &mut dave_cursor),
    ] {
        let invite = user
            .wait_for(cursor, &format!("{}'s invitation", user.nick), |e| {
                e["type"] == "invite"
            })
            .await;
        assert_eq!(invite["from"], "bob@hs2.test");
        assert_eq!(invite["meta"]["channel"], "#club@hs1.test");
    }
    carol.join("#club@hs1.test").await;
    erin.join("#club@hs1.test").await;
    dave.join("#club").await;

    // A member who is not an operator cannot invite to a +i channel, wherever they are.
    let frank = User::register(&hs3.url, "frank").await;
    carol
        .api
        .post(
            "/api/v1/channels/club@hs1.test/invite",
            json!({"nick": "frank@hs3.test"}),
        )
        .await
        .expect_error(403, "chanop_required");
    frank
        .api
        .post(
            "/api/v1/channels/join",
            json!({"channel": "#club@hs1.test"}),
        )
        .await
        .expect_error(403, "invite_only");
    // Inviting someone already in is a conflict.
    bob.api
        .post(
            "/api/v1/channels/club@hs1.test/invite",
            json!({"nick": "carol@hs3.test"}),
        )
        .await
        .expect_error(409, "already_member");
}

#[actix_web::test]
async fn remote_channels_are_listed_with_topic_modes_and_members() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    alice.join("#news").await;
    alice
        .api
        .post("/api/v1/channels/news/topic", json!({"topic": "daily"}))
        .await
        .expect(200);
    bob.join("#news@hs1.test").await;
    let listed = |list: &Value| -> Option<Value> {
        list["channels"]
            .as_array()?
            .iter()
            .find(|c| c["name"] == "#news@hs1.test")
            .cloned()
    };
    let mine = bob.api.get("/api/v1/channels").await.expect(200);
    let news = listed(&mine).expect("listed");
    assert_eq!(news["topic"], "daily", "{mine}");
    assert_eq!(news["members"], 2, "{mine}");
    assert_eq!(news["modes"], "+nt", "{mine}");

    // Changes on the host reach the listing.
    alice
        .api
        .post("/api/v1/channels/news/topic", json!({"topic": "weekly"}))
        .await
        .expect(200);
    mode(&alice, "#news", json!({"modes": "+m"}))
        .await
        .expect(200);
    User::register(&hs1.url, "carol").await.join("#news").await;
    eventually(
        Duration::from_secs(30),
        "bob's listing to follow",
        || async {
            let mine = bob.api.get("/api/v1/channels").await.expect(200);
            let news = listed(&mine)?;
            (news["topic"] == "weekly" && news["members"] == 3 && news["modes"] == "+mnt")
                .then_some(())
        },
    )
    .await;
}

/// A free loopback port, for a server that must be named in another's `PEERS` before it runs.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Two servers that list each other in `PEERS`, started in the wrong order: `early` starts
/// first and cannot resolve `late`, which is not up yet (its next try would be an hour away);
/// `late` starts after and resolves `early` at once. Returns `(early, late)`.
fn start_in_the_wrong_order(early: &str, late: &str) -> (ServerProcess, ServerProcess) {
    let port = free_port().to_string();
    let late_url = format!("http://127.0.0.1:{port}");
    let early = ServerProcess::start_with(
        early,
        &[
            ("PEERS", format!("{late}={late_url}").as_str()),
            ("DIRECTORY_PULL_SECS", "3600"),
        ],
    );
    let late = ServerProcess::start_with(
        late,
        &[
            ("PORT", port.as_str()),
            ("PEERS", format!("{}={}", early.name, early.url).as_str()),
            ("DIRECTORY_PULL_SECS", "3600"),
        ],
    );
    (early, late)
}

#[actix_web::test]
async fn peers_that_start_in_the_wrong_order_find_each_other_when_needed() {
    // First heard from: the late server writes to the early one, which resolves it from PEERS
    // when its request arrives.
    let (hs1, hs2) = start_in_the_wrong_order("hs1.test", "hs2.test");
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let mut alice_cursor = cursor_of(&alice).await;
    bob.say("alice@hs1.test", "hello from the late one").await;
    alice
        .wait_for(&mut alice_cursor, "bob's DM", |e| {
            e["body"] == "hello from the late one"
        })
        .await;

    // First needed: the early server writes first and resolves the late one for that send.
    let (hs4, hs3) = start_in_the_wrong_order("hs4.test", "hs3.test");
    let carol = User::register(&hs3.url, "carol").await;
    let dave = User::register(&hs4.url, "dave").await;
    let mut carol_cursor = cursor_of(&carol).await;
    dave.say("carol@hs3.test", "found you").await;
    carol
        .wait_for(&mut carol_cursor, "dave's DM", |e| e["body"] == "found you")
        .await;
    // And a channel on the late server is reachable from the early one.
    carol.join("#late").await;
    dave.join("#late@hs3.test").await;
}

#[actix_web::test]
async fn a_rename_while_the_host_is_down_reaches_it_later() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test"]).await;
    let [mut hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    alice.join("#general").await;
    bob.join("#general@hs1.test").await;
    mode(
        &alice,
        "#general",
        json!({"modes": "+v", "nick": "bob@hs2.test"}),
    )
    .await
    .expect(200);

    hs1.kill();
    // The rename is acknowledged by bob's own server; the host hears of it from the outbox.
    bob.api
        .post("/api/v1/users/nick", json!({"nick": "robert"}))
        .await
        .expect(200);
    hs1.restart();
    eventually(
        Duration::from_secs(60),
        "the host to learn the rename",
        || async {
            let info = alice.api.get("/api/v1/channels/general").await.expect(200);
            let robert = member(&info, "robert@hs2.test")?;
            (robert["modes"] == "v" && member(&info, "bob@hs2.test").is_none()).then_some(())
        },
    )
    .await;
    bob.say("#general@hs1.test", "back under a new name").await;
}

/// A signed submission from `origin` (with its real key) to a channel hosted by `host`.
async fn submit_as(
    origin: &ServerProcess,
    host: &ServerProcess,
    channel: &str,
    event: Value,
) -> hearth_tests::api::Reply {
    submit_signed(origin, host, channel, signed(origin, event)).await
}

fn signed(origin: &ServerProcess, mut event: Value) -> Value {
    let key = hearth_tests::network::key_of(origin);
    federation_proto::signing::hash_and_sign_event(&mut event, &origin.name, &key).unwrap();
    event
}

/// Posts an already signed event as `origin`'s submission.
async fn submit_signed(
    origin: &ServerProcess,
    host: &ServerProcess,
    channel: &str,
    event: Value,
) -> hearth_tests::api::Reply {
    let key = hearth_tests::network::key_of(origin);
    let body = serde_json::to_vec(&json!({ "event": event })).unwrap();
    let path = format!("/api/v1/federation/channels/{channel}/submit");
    let auth = federation_proto::signing::sign_request(
        "POST",
        &path,
        &origin.name,
        &host.name,
        hearth_tests::network::now_ms(),
        &body,
        &key,
    )
    .unwrap();
    hearth_tests::api::Api::new(&host.url)
        .send_with_headers("POST", &path, &[("Authorization", auth.to_header())], body)
        .await
}

#[actix_web::test]
async fn events_of_unknown_types_are_kept_and_passed_on() {
    let (_dir, servers) = federated(&["hs1.test", "hs2.test", "hs3.test"]).await;
    let [hs1, hs2, hs3] = <[_; 3]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs3.url, "carol").await;
    alice.join("#general").await;
    bob.join("#general@hs1.test").await;
    carol.join("#general@hs1.test").await;
    let (mut alice_cursor, mut carol_cursor) = (cursor_of(&alice).await, cursor_of(&carol).await);

    // A newer hs2 submits a type this build does not know.
    let poll = json!({
        "id": uuid::Uuid::now_v7().to_string(),
        "ts": "2026-12-01T12:00:00.000Z",
        "from": "bob@hs2.test",
        "to": "#general@hs1.test",
        "type": "org.example.poll",
        "body": "lunch?",
        "meta": {"options": ["pizza", "soup"]},
        "future_field": 7,
    });
    let answer = submit_as(&hs2, &hs1, "general", poll.clone())
        .await
        .expect(200);
    assert_eq!(answer["envelope"]["event"]["type"], "org.example.poll");
    assert_eq!(answer["envelope"]["event"]["future_field"], 7);
    // The host's users and the other member server get it, type and content intact.
    for (user, cursor) in [(&alice, &mut alice_cursor), (&carol, &mut carol_cursor)] {
        let got = user
            .wait_for(cursor, "the poll", |e| e["type"] == "org.example.poll")
            .await;
        assert_eq!(got["body"], "lunch?");
        assert_eq!(got["meta"]["options"][1], "soup");
    }
    // A whole sync batch with it in still parses for a client that knows nothing of it.
    let history = carol
        .api
        .get("/api/v1/history?target=%23general@hs1.test&limit=5")
        .await
        .expect(200);
    assert_eq!(history["events"][0]["type"], "org.example.poll");

    // Malformed submissions are refused with a clear error and change nothing.
    let mut bad_type = poll.clone();
    bad_type["id"] = json!(uuid::Uuid::now_v7().to_string());
    bad_type["type"] = json!("Not A Type!");
    submit_as(&hs2, &hs1, "general", bad_type)
        .await
        .expect_error(400, "invalid_event");
    let mut ephemeral = poll.clone();
    ephemeral["id"] = json!(uuid::Uuid::now_v7().to_string());
    ephemeral["type"] = json!("typing");
    submit_as(&hs2, &hs1, "general", ephemeral)
        .await
        .expect_error(400, "unsupported_type");
    // Signed by hs2, then changed to speak for a user of hs3.
    let mut someone_else = poll;
    someone_else["id"] = json!(uuid::Uuid::now_v7().to_string());
    let mut someone_else = signed(&hs2, someone_else);
    someone_else["from"] = json!("carol@hs3.test");
    submit_signed(&hs2, &hs1, "general", someone_else)
        .await
        .expect_error(403, "invalid_event");
    let info = alice.api.get("/api/v1/channels/general").await.expect(200);
    assert_eq!(info["members"].as_array().unwrap().len(), 3, "{info}");
}
