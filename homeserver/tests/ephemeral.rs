//! Ephemeral events end to end, in process: the server runs on a loopback port with
//! [`homeserver::run_shared`], so the test can publish through
//! [`homeserver::services::ephemeral::publish`] (no endpoint produces ephemeral events yet),
//! while a polling device and a streaming device of the recipient read them over HTTP.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use federation_proto::event::EventKind;
use futures_util::StreamExt;
use homeserver::config::Cli;
use homeserver::services::ephemeral;
use homeserver::state::AppState;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

struct Server {
    url: String,
    state: Arc<AppState>,
    client: awc::Client,
    _dir: tempfile::TempDir,
}

/// A server on 127.0.0.1 with a fresh SQLite data directory, running on this test's runtime.
fn start() -> Server {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let data_dir = dir.path().to_str().expect("a UTF-8 path").to_string();
    let cli = Cli::try_parse_from([
        "homeserver",
        "--port",
        "0",
        "--bind",
        "127.0.0.1",
        "--server-name",
        "hs1.test",
        "--dburl",
        "",
        "--data-dir",
        &data_dir,
    ])
    .expect("valid flags");
    let state = Arc::new(homeserver::build_state(cli.config).expect("a server state"));
    let listener = TcpListener::bind("127.0.0.1:0").expect("a loopback port");
    let url = format!("http://{}", listener.local_addr().expect("an address"));
    actix_web::rt::spawn(homeserver::run_shared(Arc::clone(&state), listener));
    Server {
        url,
        state,
        client: awc::Client::builder().timeout(WAIT * 6).finish(),
        _dir: dir,
    }
}

impl Server {
    async fn call(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, Value) {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("a method");
        let mut req = self.client.request(method, format!("{}{path}", self.url));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let mut res = match body {
            Some(body) => req.send_json(&body).await,
            None => req.send().await,
        }
        .expect("an answer");
        let bytes = res.body().limit(1 << 20).await.expect("a body");
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (res.status().as_u16(), value)
    }

    /// Registers `nick`: its user id and the token of its first device.
    async fn register(&self, nick: &str) -> (String, String) {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/register",
                None,
                Some(json!({"nick": nick, "password": "correct horse"})),
            )
            .await;
        assert_eq!(status, 201, "register {nick}: {body}");
        let id = body["user"]["id"].as_str().expect("a user id").to_string();
        let token = body["token"].as_str().expect("a token").to_string();
        (id, token)
    }

    async fn login(&self, nick: &str) -> String {
        let (status, body) = self
            .call(
                "POST",
                "/api/v1/login",
                None,
                Some(json!({"nick": nick, "password": "correct horse"})),
            )
            .await;
        assert_eq!(status, 200, "login {nick}: {body}");
        body["token"].as_str().expect("a token").to_string()
    }

    async fn sync(&self, token: &str, query: &str) -> Value {
        let (status, body) = self
            .call(
                "GET",
                &format!("/api/v1/messages?{query}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(status, 200, "sync {query}: {body}");
        body
    }

    async fn metric(&self, line: &str) -> bool {
        let mut res = self
            .client
            .get(format!("{}/metrics", self.url))
            .send()
            .await
            .expect("metrics");
        let text = res.body().await.expect("a body");
        String::from_utf8_lossy(&text).lines().any(|l| l == line)
    }

    /// Waits until the metric line is there (deadline, not a timing assertion).
    async fn until_metric(&self, line: &str) {
        let deadline = tokio::time::Instant::now() + WAIT;
        while !self.metric(line).await {
            assert!(tokio::time::Instant::now() < deadline, "never saw {line}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    async fn max_seq(&self) -> i64 {
        self.state
            .db
            .run(|conn| {
                homeserver::db::events::max_seq(conn).map_err(homeserver::db::DbError::from)
            })
            .await
            .expect("the log's end")
    }
}

/// Reads one SSE message at a time: `(id, data)`; comments are skipped.
struct Sse {
    res: awc::ClientResponse,
    buffer: Vec<u8>,
}

impl Sse {
    async fn open(server: &Server, token: &str, after: i64) -> Sse {
        let res = server
            .client
            .get(format!(
                "{}/api/v1/messages/stream?after={after}",
                server.url
            ))
            .bearer_auth(token)
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .expect("a stream");
        assert_eq!(res.status().as_u16(), 200);
        Sse {
            res,
            buffer: Vec::new(),
        }
    }

    async fn next(&mut self) -> (Option<String>, Value) {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            while let Some(end) = self.buffer.windows(2).position(|w| w == b"\n\n") {
                let message: Vec<u8> = self.buffer.drain(..end + 2).collect();
                let text = String::from_utf8(message).expect("SSE is UTF-8");
                let (mut id, mut data) = (None, None);
                for line in text.lines() {
                    if let Some(value) = line.strip_prefix("id: ") {
                        id = Some(value.to_string());
                    } else if let Some(value) = line.strip_prefix("data: ") {
                        data = Some(serde_json::from_str(value).expect("data is JSON"));
                    }
                }
                if let Some(data) = data {
                    return (id, data);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.res.next())
                .await
                .expect("an SSE message in time")
                .expect("the stream goes on")
                .expect("a chunk");
            self.buffer.extend_from_slice(&chunk);
        }
    }
}

#[actix_web::test]
async fn a_polling_and_a_streaming_device_get_an_ephemeral_event_that_is_never_stored() {
    let server = start();
    let (_alice_id, alice) = server.register("alice").await;
    let (bob_id, bob_phone) = server.register("bob").await;
    let bob_laptop = server.login("bob").await;
    let next = server.sync(&bob_phone, "timeout=0").await["next"]
        .as_i64()
        .expect("next");
    let log_end = server.max_seq().await;

    // The laptop streams, the phone long-polls; both are waiting before anything is published.
    let mut stream = Sse::open(&server, &bob_laptop, next).await;
    server.until_metric("hearth_active_streams 1").await;
    let poll = {
        let (url, token, client) = (server.url.clone(), bob_phone.clone(), server.client.clone());
        actix_web::rt::spawn(async move {
            let mut res = client
                .get(format!("{url}/api/v1/messages?after={next}&timeout=60"))
                .bearer_auth(token)
                .send()
                .await
                .expect("a poll");
            let body = res.body().await.expect("a body");
            serde_json::from_slice::<Value>(&body).expect("JSON")
        })
    };
    server.until_metric("hearth_active_long_polls 1").await;

    let typing = ephemeral::event("alice@hs1.test", "bob@hs1.test", EventKind::Typing, "");
    let reached = ephemeral::publish(
        &server.state,
        std::slice::from_ref(&bob_id),
        &typing,
        ephemeral::TYPING_LIFETIME,
    )
    .expect("published");
    assert_eq!(reached, 1, "bob had a poll and a stream");

    // The waiting poll answers with it, and the cursor stays where it was.
    let answer = poll.await.expect("the poll");
    assert_eq!(
        answer["next"], next,
        "an ephemeral event does not move the cursor: {answer}"
    );
    let events = answer["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{answer}");
    assert_eq!(events[0]["type"], "typing");
    assert_eq!(events[0]["seq"], 0);
    assert_eq!(events[0]["id"], typing.id.to_string());

    // The stream hands it out as a message without an id, so Last-Event-ID stays a seq.
    let (id, data) = stream.next().await;
    assert_eq!(id, None);
    assert_eq!(data["type"], "typing");
    assert_eq!(data["id"], typing.id.to_string());

    // Never stored, never replayed: not in the log, not in the next poll of either device.
    assert_eq!(server.max_seq().await, log_end);
    for token in [&bob_phone, &bob_laptop] {
        let again = server.sync(token, &format!("after={next}&timeout=0")).await;
        assert_eq!(again["events"], json!([]), "{again}");
    }
    // One that lapses before anyone polls reaches nobody.
    let lapsed = ephemeral::event("alice@hs1.test", "bob@hs1.test", EventKind::Typing, "");
    ephemeral::publish(&server.state, &[bob_id], &lapsed, Duration::ZERO).expect("published");
    let again = server
        .sync(&bob_phone, &format!("after={next}&timeout=0"))
        .await;
    assert_eq!(again["events"], json!([]), "{again}");

    // Log events still come in order, with their seq as the stream's id.
    let (status, sent) = server
        .call(
            "POST",
            "/api/v1/messages",
            Some(&alice),
            Some(json!({"to": "bob@hs1.test", "body": "hi"})),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let seq = sent["seq"].as_i64().expect("a seq");
    let (id, data) = stream.next().await;
    assert_eq!(id, Some(seq.to_string()));
    assert_eq!(data["body"], "hi");
    let answer = server
        .sync(&bob_phone, &format!("after={next}&timeout=10"))
        .await;
    assert_eq!(answer["next"], seq);
    assert_eq!(answer["events"][0]["body"], "hi");
}
