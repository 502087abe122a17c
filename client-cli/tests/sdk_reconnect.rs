//! The SDK against a real homeserver that is killed and restarted (same data directory, same
//! port) while a sync stream is open: the stream reconnects and continues with no event lost
//! and none delivered twice; a send made while the server is down succeeds once it is back,
//! stored once.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::time::Duration;

use hearth_client::{BackoffPolicy, Client, ClientConfig, ConnectionState, Event, EventKind};
use hearth_tests::process::Homeserver as Server;
use hearth_tests::unique;
use tokio::sync::mpsc::UnboundedReceiver;

const PASSWORD: &str = "correct horse battery";

fn fast_config() -> ClientConfig {
    ClientConfig {
        backoff: BackoffPolicy {
            initial: Duration::from_millis(50),
            max: Duration::from_millis(500),
        },
        send_attempts: 60,
        request_timeout: Duration::from_secs(10),
        ..ClientConfig::default()
    }
}

async fn account(url: &str, nick: &str) -> Client {
    let mut client = Client::with_config(url, fast_config()).expect("client");
    client
        .register(nick, PASSWORD, Some("test"))
        .await
        .expect("register");
    client
}

/// Receives events into `received` until messages with all of `bodies` are there (bounded).
async fn receive_bodies(
    rx: &mut UnboundedReceiver<Event>,
    received: &mut Vec<Event>,
    bodies: &[String],
) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let have: HashSet<&str> = received.iter().map(|e| e.body.as_str()).collect();
        if bodies.iter().all(|b| have.contains(b.as_str())) {
            return;
        }
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(event)) => received.push(event),
            Ok(None) => panic!("the stream task ended"),
            Err(_) => panic!("stream did not deliver {bodies:?}; have {have:?}"),
        }
    }
}

/// Awaits `f` for at most 20 s.
async fn within<F: std::future::Future>(f: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(20), f)
        .await
        .expect("timed out")
}

#[test]
fn sync_stream_survives_a_server_restart() {
    let mut server = Server::start("hs1");
    let url = server.url.clone();
    hearth_client::run(async move {
        let alice = account(&url, "alice").await;
        let bob = account(&url, "bob").await;
        let channel = format!("#{}", unique("r"));
        alice.join(&channel, None).await.expect("join");
        bob.join(&channel, None).await.expect("join");

        let mut received = Vec::<Event>::new();
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let states = Rc::new(RefCell::new(Vec::<ConnectionState>::new()));
        let mut stream = alice.sync().poll_timeout(Duration::from_secs(2));
        let mut state_rx = stream.state();
        let states_sink = states.clone();
        hearth_client::spawn(async move {
            while state_rx.changed().await.is_ok() {
                let s = state_rx.borrow_and_update().clone();
                states_sink.borrow_mut().push(s);
            }
        });
        let pump = hearth_client::spawn(async move {
            loop {
                match stream.next().await {
                    Ok(event) => {
                        if tx.send(event).is_err() {
                            break;
                        }
                    }
                    Err(e) => panic!("stream failed: {e}"),
                }
            }
        });

        let before: Vec<String> = (1..=3).map(|i| format!("before-{i}")).collect();
        for body in &before {
            bob.send(&channel, body).await.expect("send");
        }
        receive_bodies(&mut rx, &mut received, &before).await;

        // Crash and restart; while the server is down, a send is under way and retrying.
        server.kill();
        let retried = {
            let bob = bob.clone();
            let channel = channel.clone();
            hearth_client::spawn(async move { bob.send(&channel, "sent-while-down").await })
        };
        tokio::time::sleep(Duration::from_millis(300)).await;
        server.restart();
        let stored = retried
            .await
            .expect("task")
            .expect("send retried until the server was back");
        assert_eq!(stored.body, "sent-while-down");

        let after: Vec<String> = (1..=3).map(|i| format!("after-{i}")).collect();
        for body in &after {
            bob.send(&channel, body).await.expect("send after restart");
        }
        let mut all = before.clone();
        all.push("sent-while-down".into());
        all.extend(after.iter().cloned());
        receive_bodies(&mut rx, &mut received, &all).await;
        pump.abort();

        let events = received;
        let messages: Vec<&Event> = events
            .iter()
            .filter(|e| e.kind == EventKind::Message)
            .collect();
        let bodies: Vec<&str> = messages.iter().map(|e| e.body.as_str()).collect();
        assert_eq!(
            bodies,
            all.iter().map(String::as_str).collect::<Vec<_>>(),
            "in order, no loss, no repeat"
        );
        let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
        assert!(
            seqs.windows(2).all(|w| w[0] < w[1]),
            "strictly increasing seqs: {seqs:?}"
        );
        let ids: HashSet<_> = events.iter().map(|e| e.id).collect();
        assert_eq!(ids.len(), events.len(), "no event delivered twice");

        let states = states.borrow().clone();
        assert!(
            states
                .iter()
                .any(|s| matches!(s, ConnectionState::Offline { .. })),
            "went offline: {states:?}"
        );
        assert_eq!(
            states.last(),
            Some(&ConnectionState::Connected),
            "{states:?}"
        );

        let history = bob.recent_history(&channel, 50).await.expect("history");
        let stored_once = history
            .iter()
            .filter(|e| e.body == "sent-while-down")
            .count();
        assert_eq!(stored_once, 1, "the retried send is stored once");
    });
}

#[test]
fn a_repeated_txn_id_is_stored_once() {
    let server = Server::start("hs1");
    let url = server.url.clone();
    hearth_client::run(async move {
        let alice = account(&url, "alice").await;
        alice.join("#txn", None).await.expect("join");
        let mut req = hearth_client::message("#txn", "only once");
        req.txn_id = Some(uuid::Uuid::new_v4().to_string());
        let first = alice.send_request(req.clone()).await.expect("first send");
        let second = alice.send_request(req).await.expect("repeat send");
        assert_eq!(first.id, second.id, "the repeat returns the first result");
        let history = alice.recent_history("#txn", 50).await.expect("history");
        assert_eq!(history.iter().filter(|e| e.body == "only once").count(), 1);
    });
}

#[test]
fn a_new_stream_resumes_from_a_saved_cursor() {
    let server = Server::start("hs1");
    let url = server.url.clone();
    hearth_client::run(async move {
        let alice = account(&url, "alice").await;
        let bob = account(&url, "bob").await;
        alice.join("#resume", None).await.expect("join");
        bob.join("#resume", None).await.expect("join");
        bob.send("#resume", "one").await.expect("send");
        let mut stream = alice.sync().poll_timeout(Duration::from_secs(2));
        let mut seen = Vec::new();
        while !seen.iter().any(|e: &Event| e.body == "one") {
            seen.push(within(stream.next()).await.expect("event"));
        }
        let cursor = stream.cursor();
        drop(stream);
        bob.send("#resume", "two").await.expect("send");
        let mut resumed = alice
            .sync()
            .starting_after(cursor)
            .poll_timeout(Duration::from_secs(2));
        let next = within(resumed.next()).await.expect("event");
        assert_eq!(next.body, "two", "starts right after the saved cursor");
    });
}

#[test]
fn typed_errors_carry_the_server_code() {
    let server = Server::start("hs1");
    let url = server.url.clone();
    hearth_client::run(async move {
        let alice = account(&url, "alice").await;
        let mut again = Client::new(&url).expect("client");
        let err = again
            .register("alice", PASSWORD, None)
            .await
            .expect_err("taken");
        assert_eq!(err.kind(), hearth_client::ErrorKind::Conflict);
        assert_eq!(err.status(), Some(409));
        assert!(err.code().is_some());
        let err = alice.channel_info("#missing").await.expect_err("missing");
        assert_eq!(err.kind(), hearth_client::ErrorKind::NotFound);
        let anonymous = Client::new(&url).expect("client");
        assert!(matches!(
            anonymous.me().await,
            Err(hearth_client::ClientError::NotLoggedIn)
        ));
        let bad = Client::new(&url).expect("client").with_token("not-a-token");
        assert_eq!(
            bad.me().await.expect_err("401").kind(),
            hearth_client::ErrorKind::Unauthorized
        );
        let info = anonymous
            .server_info()
            .await
            .expect("server info needs no login");
        assert_eq!(info.name, "hs1");
    });
}
