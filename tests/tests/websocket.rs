//! The WebSocket (`GET /api/v1/ws`) and `POST /api/v1/messages/ack` against the real binary:
//! authentication by header and by first frame, order, the cursor (only `ack` frames and
//! `after` move it), send frames, bad frames, hang-ups and logout.

use std::time::Duration;

use hearth_tests::api::{Api, User};
use hearth_tests::process::Homeserver;
use hearth_tests::ws::{Incoming, WsClient, WS};
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);
const ACK: &str = "/api/v1/messages/ack";

/// Opens the device's socket with its token in the header and reads the `ready` frame.
async fn open(user: &User, path: &str) -> (WsClient, i64) {
    let mut socket = user.api.open_ws(path).await.expect("upgraded");
    let ready = socket.next_of("ready", WAIT).await;
    (socket, ready["cursor"].as_i64().expect("cursor"))
}

async fn next_message(socket: &mut WsClient) -> (i64, String) {
    let event = socket.next_event(WAIT).await;
    (
        event["seq"].as_i64().expect("seq"),
        event["body"].as_str().unwrap_or_default().to_string(),
    )
}

fn token_of(user: &User) -> String {
    user.api
        .token()
        .expect("a logged-in user has a token")
        .to_string()
}

#[actix_web::test]
async fn events_arrive_in_order_and_only_acks_move_the_cursor() {
    let hs = Homeserver::start("hs1.test");
    let metrics = Api::new(&hs.url);
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#room").await;
    bob.join("#room").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    let (mut socket, start) = open(&bob, &format!("{WS}?after={cursor}")).await;
    assert_eq!(start, cursor, "after= is where the socket starts");
    metrics.sockets_open(1).await;
    for body in ["one", "two", "three"] {
        alice.say("#room", body).await;
    }
    let (first, one) = next_message(&mut socket).await;
    let (second, two) = next_message(&mut socket).await;
    let (third, three) = next_message(&mut socket).await;
    assert_eq!([one, two, three], ["one", "two", "three"]);
    assert!(cursor < first && first < second && second < third);

    // Writing an event to the socket is not an acknowledgement.
    let unacknowledged = bob.sync(None, 0).await;
    assert_eq!(User::bodies(&unacknowledged), ["one", "two", "three"]);

    // An ack frame moves the cursor; the answer comes once it is written.
    socket
        .send_json(&json!({"type": "ack", "seq": second}))
        .await;
    let acked = socket.next_of("acked", WAIT).await;
    assert_eq!(acked["cursor"], second);
    assert_eq!(User::bodies(&bob.sync(None, 0).await), ["three"]);
    // Never backwards.
    socket
        .send_json(&json!({"type": "ack", "seq": first}))
        .await;
    assert_eq!(socket.next_of("acked", WAIT).await["cursor"], second);
    assert_eq!(User::bodies(&bob.sync(None, 0).await), ["three"]);

    // A dropped socket loses nothing: the next one starts at the stored cursor.
    drop(socket);
    metrics.sockets_open(0).await;
    alice.say("#room", "four").await;
    let (mut again, start) = open(&bob, WS).await;
    assert_eq!(start, second);
    assert_eq!(next_message(&mut again).await, (third, "three".to_string()));
    assert_eq!(next_message(&mut again).await.1, "four");
    again.close().await;
    metrics.sockets_open(0).await;
}

#[actix_web::test]
async fn a_browser_authenticates_with_its_first_frame() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let mut socket = Api::new(&hs.url).open_ws(WS).await.expect("upgraded");
    socket
        .send_json(&json!({"type": "auth", "token": token_of(&bob)}))
        .await;
    socket.next_of("ready", WAIT).await;
    alice.say("bob", "hello bob").await;
    let event = socket.next_event(WAIT).await;
    assert_eq!(
        (event["from"].as_str(), event["body"].as_str()),
        (Some("alice@hs1.test"), Some("hello bob"))
    );
    socket
        .send_json(&json!({"type": "auth", "token": token_of(&bob)}))
        .await;
    assert_eq!(
        socket.next_of("error", WAIT).await["error"]["code"],
        "already_authenticated"
    );
}

#[actix_web::test]
async fn missing_or_bad_auth_closes_the_socket_and_delivers_nothing() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.say("bob", "secret").await;
    let anonymous = Api::new(&hs.url);

    let closed_4401 = |incoming: Incoming| match incoming {
        Incoming::Closed(4401, reason) => assert!(!reason.is_empty(), "a reason"),
        other => panic!("expected close 4401, got {other:?}"),
    };

    // Something else first.
    let mut socket = anonymous.open_ws(WS).await.expect("upgraded");
    socket
        .send_json(&json!({"type": "send", "to": "alice", "body": "hi"}))
        .await;
    closed_4401(socket.next(WAIT).await);

    // A bad token.
    let mut socket = anonymous.open_ws(WS).await.expect("upgraded");
    socket
        .send_json(&json!({"type": "auth", "token": "not-a-token"}))
        .await;
    closed_4401(socket.next(WAIT).await);

    // Not even JSON, and a binary frame.
    let mut socket = anonymous.open_ws(WS).await.expect("upgraded");
    socket.send_text("hello?").await;
    closed_4401(socket.next(WAIT).await);
    let mut socket = anonymous.open_ws(WS).await.expect("upgraded");
    socket.send_binary(b"\x00\x01").await;
    closed_4401(socket.next(WAIT).await);

    // A bad header is refused before the upgrade, as any request's.
    assert_eq!(
        anonymous.with_token("not-a-token").open_ws(WS).await.err(),
        Some(401)
    );
    // Bad input and a plain GET.
    assert_eq!(
        bob.api.open_ws(&format!("{WS}?after=-1")).await.err(),
        Some(400)
    );
    bob.api
        .get(WS)
        .await
        .expect_error(400, "websocket_required");

    // Nothing was acknowledged on bob's behalf by any of this.
    assert_eq!(User::bodies(&bob.sync(None, 0).await), ["secret"]);
}

#[actix_web::test]
async fn a_send_frame_stores_the_message_and_answers() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#room").await;
    bob.join("#room").await;
    let (mut socket, _) = open(&alice, WS).await;

    socket
        .send_json(&json!({"type": "send", "to": "#room", "body": "waves", "kind": "action", "txn_id": "t1"}))
        .await;
    let sent = socket.next_of("sent", WAIT).await;
    assert_eq!(sent["txn_id"], "t1");
    let event = &sent["event"];
    assert_eq!(
        (&event["type"], &event["body"], &event["to"]),
        (&json!("action"), &json!("waves"), &json!("#room@hs1.test"))
    );
    // Alice's own socket gets it too (after the joins before it), like her sync would.
    while socket.next_event(WAIT).await["id"] != event["id"] {}
    // The same txn_id again: the first answer, nothing new stored.
    socket
        .send_json(&json!({"type": "send", "to": "#room", "body": "waves", "kind": "action", "txn_id": "t1"}))
        .await;
    assert_eq!(
        socket.next_of("sent", WAIT).await["event"]["id"],
        event["id"]
    );
    let history = alice
        .api
        .get("/api/v1/history?target=%23room")
        .await
        .expect(200);
    let waves = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["body"] == "waves")
        .count();
    assert_eq!(waves, 1);
    let got = bob.sync(None, 0).await;
    assert!(got["events"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["id"] == event["id"]));

    // Refused like POST /api/v1/messages, with the txn_id echoed.
    socket
        .send_json(&json!({"type": "send", "to": "#nowhere", "body": "x", "txn_id": "t2"}))
        .await;
    let error = socket.next_of("error", WAIT).await;
    assert_eq!(error["error"]["code"], "no_such_channel");
    assert_eq!(error["txn_id"], "t2");
    socket
        .send_json(&json!({"type": "send", "to": "#room", "body": "", "txn_id": "t3"}))
        .await;
    let error = socket.next_of("error", WAIT).await;
    assert!(error["error"]["message"].is_string());
    assert_eq!(error["txn_id"], "t3");
}

#[actix_web::test]
async fn a_bad_frame_gets_an_error_and_the_socket_stays_usable() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    User::register(&hs.url, "bob").await;
    let (mut socket, _) = open(&alice, WS).await;

    let code = |frame: Value| {
        frame["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    socket.send_text("{not json").await;
    assert_eq!(code(socket.next_of("error", WAIT).await), "invalid_json");
    socket.send_json(&json!({"type": "dance"})).await;
    assert_eq!(code(socket.next_of("error", WAIT).await), "unknown_frame");
    socket.send_json(&json!({"type": "ack", "seq": "x"})).await;
    assert_eq!(code(socket.next_of("error", WAIT).await), "invalid_frame");
    socket.send_json(&json!({"type": "ack", "seq": -1})).await;
    assert_eq!(code(socket.next_of("error", WAIT).await), "invalid_cursor");
    socket
        .send_json(&json!({"type": "send", "to": "bob", "body": "x", "type2": 1, "txn_id": "t"}))
        .await;
    let error = socket.next_of("error", WAIT).await;
    assert_eq!(
        (code(error.clone()), &error["txn_id"]),
        ("invalid_frame".to_string(), &json!("t"))
    );
    // Typing and read frames are refused like their HTTP forms (tests/tests/typing.rs and the
    // read marker below have the rest).
    socket
        .send_json(&json!({"type": "typing", "target": "nobody", "typing": true}))
        .await;
    assert_eq!(code(socket.next_of("error", WAIT).await), "unknown_user");
    socket
        .send_json(&json!({"type": "read", "target": "bob", "id": "x"}))
        .await;
    assert_eq!(code(socket.next_of("error", WAIT).await), "invalid_id");

    // Still usable.
    socket
        .send_json(&json!({"type": "send", "to": "bob", "body": "still here"}))
        .await;
    let sent = socket.next_of("sent", WAIT).await["event"].clone();
    assert_eq!(sent["body"], "still here");
    // A read frame sets the marker like POST /api/v1/read.
    socket
        .send_json(&json!({"type": "read", "target": "bob", "id": sent["id"]}))
        .await;
    let read = socket.next_of("read", WAIT).await;
    assert_eq!(
        (&read["last_read"], &read["moved"]),
        (&sent["id"], &json!(true))
    );

    // A frame above the body limit closes with 1009, a binary frame with 1003.
    let huge = "x".repeat(600 * 1024);
    socket
        .send_json(&json!({"type": "send", "to": "bob", "body": huge}))
        .await;
    loop {
        match socket.next(WAIT).await {
            Incoming::Frame(_) => continue,
            Incoming::Closed(code, _) => {
                assert_eq!(code, 1009);
                break;
            }
            Incoming::Ended => panic!("closed without a close frame"),
        }
    }
    let (mut socket, _) = open(&alice, WS).await;
    socket.send_binary(b"{}").await;
    loop {
        match socket.next(WAIT).await {
            Incoming::Frame(_) => continue,
            Incoming::Closed(code, _) => {
                assert_eq!(code, 1003);
                break;
            }
            Incoming::Ended => panic!("closed without a close frame"),
        }
    }
}

#[actix_web::test]
async fn the_socket_closes_when_its_device_logs_out() {
    // Sessions are checked every quarter of the timeout (at most every 30 s).
    let hs = Homeserver::start_with("hs1.test", &[("SESSION_TIMEOUT", "4")]);
    let metrics = Api::new(&hs.url);
    let bob = User::register(&hs.url, "bob").await;
    let (mut socket, _) = open(&bob, WS).await;
    metrics.sockets_open(1).await;
    let reply = bob.api.post("/api/v1/logout", json!({})).await;
    assert!(reply.status < 300, "logout: {}", reply.status);
    loop {
        match socket.next(WAIT).await {
            Incoming::Frame(_) => continue,
            Incoming::Closed(code, _) => {
                assert_eq!(code, 4401);
                break;
            }
            Incoming::Ended => panic!("closed without a close frame"),
        }
    }
    metrics.sockets_open(0).await;
    assert_eq!(bob.api.open_ws(WS).await.err(), Some(401));
}

#[actix_web::test]
async fn the_ack_endpoint_moves_the_cursor_forward_within_the_log() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let first = alice.say("bob", "one").await["seq"].as_i64().unwrap();
    let second = alice.say("bob", "two").await["seq"].as_i64().unwrap();

    let acked = bob.api.post(ACK, json!({"seq": first})).await.expect(200);
    assert_eq!(acked["cursor"], first);
    assert_eq!(User::bodies(&bob.sync(None, 0).await), ["two"]);
    // Never backwards.
    let acked = bob.api.post(ACK, json!({"seq": 0})).await.expect(200);
    assert_eq!(acked["cursor"], first);
    assert_eq!(User::bodies(&bob.sync(None, 0).await), ["two"]);
    // Never past the log: a later event still arrives.
    let acked = bob
        .api
        .post(ACK, json!({"seq": second + 1000}))
        .await
        .expect(200);
    assert_eq!(acked["cursor"], second);
    alice.say("bob", "three").await;
    assert_eq!(User::bodies(&bob.sync(None, 0).await), ["three"]);

    bob.api
        .post(ACK, json!({"seq": -1}))
        .await
        .expect_error(400, "invalid_cursor");
    bob.api
        .post(ACK, json!({"seq": "x"}))
        .await
        .expect_error(400, "invalid_request");
    Api::new(&hs.url)
        .post(ACK, json!({"seq": 1}))
        .await
        .expect_error(401, "missing_token");

    // Both are in the OpenAPI document.
    let doc = Api::new(&hs.url)
        .get("/api/v1/openapi.json")
        .await
        .expect(200);
    for path in [ACK, WS] {
        assert!(doc["paths"][path].is_object(), "{path} is documented");
    }
}
