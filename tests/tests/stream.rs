//! The event stream (`GET /api/v1/messages/stream`, Server-Sent Events) against the real
//! binary: order, ids, acknowledgement by `Last-Event-ID`, hang-ups, logout and bad input.

use std::time::Duration;

use hearth_tests::api::{Api, SseStream, User};
use hearth_tests::process::Homeserver;

const STREAM: &str = "/api/v1/messages/stream";
const WAIT: Duration = Duration::from_secs(10);

async fn next_body(stream: &mut SseStream) -> (i64, String) {
    let message = stream.next(WAIT).await.expect("the stream ended");
    let id: i64 = message.id.parse().expect("the id is a seq");
    assert_eq!(message.data["seq"], id, "the id is the event's seq");
    let body = message.data["body"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    (id, body)
}

#[actix_web::test]
async fn a_stream_delivers_in_order_and_resumes_after_its_last_event_id() {
    let hs = Homeserver::start("hs1.test");
    let metrics = Api::new(&hs.url);
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#room").await;
    bob.join("#room").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();

    let mut stream = bob
        .api
        .open_stream(&format!("{STREAM}?after={cursor}"), &[])
        .await;
    metrics.streams_open(1).await;
    for body in ["one", "two", "three"] {
        alice.say("#room", body).await;
    }
    let (first, one) = next_body(&mut stream).await;
    let (second, two) = next_body(&mut stream).await;
    let (third, three) = next_body(&mut stream).await;
    assert_eq!([one, two, three], ["one", "two", "three"]);
    assert!(cursor < first && first < second && second < third);

    // Writing an event is not an acknowledgement: the stored cursor has not moved.
    let unacknowledged = bob.sync(None, 0).await;
    assert_eq!(User::bodies(&unacknowledged), ["one", "two", "three"]);

    // The client hangs up: the server lets go of the stream.
    drop(stream);
    metrics.streams_open(0).await;

    // Reconnecting with Last-Event-ID acknowledges up to it; it wins over `after`, which a
    // reconnecting EventSource keeps from its first URL.
    let mut resumed = bob
        .api
        .open_stream(
            &format!("{STREAM}?after={cursor}"),
            &[("Last-Event-ID", &first.to_string())],
        )
        .await;
    assert_eq!(next_body(&mut resumed).await, (second, "two".to_string()));
    assert_eq!(next_body(&mut resumed).await, (third, "three".to_string()));
    let from_stored_cursor = bob.sync(None, 0).await;
    assert_eq!(User::bodies(&from_stored_cursor), ["two", "three"]);

    // Live events keep coming on the same response.
    bob.say("#room", "four").await;
    assert_eq!(next_body(&mut resumed).await.1, "four");
}

#[actix_web::test]
async fn without_a_cursor_a_stream_starts_at_the_stored_one_on_every_device() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let phone = User::register(&hs.url, "bob").await;
    let laptop = User::login(&hs.url, "bob").await;
    alice.join("#room").await;
    phone.join("#room").await;
    let cursor = phone.sync(None, 0).await["next"].as_i64().unwrap();
    phone.sync(Some(cursor), 0).await;
    alice.say("#room", "while away").await;

    let mut on_phone = phone.api.open_stream(STREAM, &[]).await;
    assert_eq!(next_body(&mut on_phone).await.1, "while away");
    let mut on_laptop = laptop.api.open_stream(STREAM, &[]).await;
    let mut laptop_bodies = Vec::new();
    while laptop_bodies.last().map(String::as_str) != Some("while away") {
        laptop_bodies.push(next_body(&mut on_laptop).await.1);
    }
    alice.say("#room", "both").await;
    assert_eq!(next_body(&mut on_phone).await.1, "both");
    assert_eq!(next_body(&mut on_laptop).await.1, "both");
}

#[actix_web::test]
async fn a_stream_ends_when_its_device_logs_out() {
    // Sessions are checked every quarter of the timeout (at most every 30 s).
    let hs = Homeserver::start_with("hs1.test", &[("SESSION_TIMEOUT", "4")]);
    let metrics = Api::new(&hs.url);
    let bob = User::register(&hs.url, "bob").await;
    let mut stream = bob.api.open_stream(STREAM, &[]).await;
    metrics.streams_open(1).await;
    let reply = bob.api.post("/api/v1/logout", serde_json::json!({})).await;
    assert!(reply.status < 300, "logout: {}", reply.status);
    assert!(
        stream.next(WAIT).await.is_none(),
        "the stream ends after logout"
    );
    metrics.streams_open(0).await;
    bob.api.get(STREAM).await.expect_error(401, "invalid_token");
}

#[actix_web::test]
async fn a_stream_refuses_bad_input() {
    let hs = Homeserver::start("hs1.test");
    let bob = User::register(&hs.url, "bob").await;
    Api::new(&hs.url)
        .get(STREAM)
        .await
        .expect_error(401, "missing_token");
    bob.api
        .get(&format!("{STREAM}?after=-1"))
        .await
        .expect_error(400, "invalid_cursor");
    bob.api
        .get(&format!("{STREAM}?after=abc"))
        .await
        .expect_error(400, "invalid_query");
    bob.api
        .send_with_headers(
            "GET",
            STREAM,
            &[("Last-Event-ID", "not a seq".to_string())],
            Vec::new(),
        )
        .await
        .expect_error(400, "invalid_cursor");
    bob.api
        .raw("POST", STREAM, b"{}".to_vec())
        .await
        .expect_error(405, "method_not_allowed");
}
