//! A small JSON client for the client API, on awc, plus typed helpers for the common steps.

use std::time::Duration;

use serde_json::{json, Value};

use crate::sse::SseBuffer;

/// Status and JSON body of an answer (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Parsed body.
    pub body: Value,
}

impl Reply {
    /// The error code of an error answer.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }

    /// Panics unless the status is `status`.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.body);
        self.body
    }

    /// Panics unless this is an error with this status and code.
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (self.status, self.code()),
            (status, code),
            "unexpected answer: {}",
            self.body
        );
        assert!(
            self.body["error"]["message"].is_string(),
            "error without message: {}",
            self.body
        );
    }
}

/// An answer with its headers ([`Api::exchange`]).
#[derive(Debug)]
pub struct FullReply {
    /// Status and body.
    pub reply: Reply,
    /// The answer's headers.
    pub headers: awc::http::header::HeaderMap,
}

impl FullReply {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A client bound to one server URL, optionally with a bearer token.
#[derive(Clone)]
pub struct Api {
    client: awc::Client,
    base: String,
    token: Option<String>,
}

impl Api {
    /// A client for `base` without a token. HTTPS trusts the test CA ([`crate::tls`]).
    pub fn new(base: &str) -> Api {
        let connector = awc::Connector::new().rustls_0_23(crate::tls::client_config());
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(Duration::from_secs(150))
            .disable_redirects()
            .finish();
        Api {
            client,
            base: base.to_string(),
            token: None,
        }
    }

    /// The same client with a token.
    pub fn with_token(&self, token: &str) -> Api {
        Api {
            token: Some(token.to_string()),
            ..self.clone()
        }
    }

    pub(crate) fn client(&self) -> &awc::Client {
        &self.client
    }

    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    /// The bearer token, if this client has one.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn request(&self, method: awc::http::Method, path: &str) -> awc::ClientRequest {
        let mut req = self
            .client
            .request(method, format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        req
    }

    /// Sends raw bytes as the body.
    pub async fn raw(&self, method: &str, path: &str, body: Vec<u8>) -> Reply {
        self.send_with_headers(method, path, &[], body).await
    }

    /// Sends raw bytes with extra headers (e.g. a signed `Authorization`).
    pub async fn send_with_headers(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self
            .request(method, path)
            .insert_header(("Content-Type", "application/json"));
        for (name, value) in headers {
            req = req.insert_header((*name, value.as_str()));
        }
        let res = req
            .send_body(body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let (status, bytes) = read(path, res).await;
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Any request with extra headers, and its answer with the answer's headers (a `body` is
    /// sent as JSON; without one, no `Content-Type`, as in a CORS preflight).
    pub async fn exchange(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<Vec<u8>>,
    ) -> FullReply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.request(method, path);
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let res = match body {
            Some(body) => {
                req.insert_header(("Content-Type", "application/json"))
                    .send_body(body)
                    .await
            }
            None => req.send().await,
        }
        .unwrap_or_else(|e| panic!("{path}: {e}"));
        let headers = res.headers().clone();
        let (status, bytes) = read(path, res).await;
        FullReply {
            reply: Reply {
                status,
                body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            },
            headers,
        }
    }

    /// `POST` a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.raw("POST", path, serde_json::to_vec(&body).expect("json"))
            .await
    }

    /// `PUT` a JSON body.
    pub async fn put(&self, path: &str, body: Value) -> Reply {
        self.raw("PUT", path, serde_json::to_vec(&body).expect("json"))
            .await
    }

    /// `DELETE` without a body.
    pub async fn delete(&self, path: &str) -> Reply {
        self.bodiless(awc::http::Method::DELETE, path).await
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Reply {
        self.bodiless(awc::http::Method::GET, path).await
    }

    async fn bodiless(&self, method: awc::http::Method, path: &str) -> Reply {
        let res = self
            .request(method, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let (status, bytes) = read(path, res).await;
        Reply {
            status,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// Waits (up to 10 s) until the server's `/metrics` shows `count` open event streams.
    pub async fn streams_open(&self, count: usize) {
        self.gauge_reaches("hearth_active_streams", count).await;
    }

    /// Waits (up to 10 s) until the server's `/metrics` shows `count` open WebSockets.
    pub async fn sockets_open(&self, count: usize) {
        self.gauge_reaches("hearth_active_websockets", count).await;
    }

    /// Waits (up to 10 s) until the gauge `name` of `/metrics` is `count`.
    async fn gauge_reaches(&self, name: &str, count: usize) {
        let want = format!("{name} {count}\n");
        crate::eventually(
            Duration::from_secs(10),
            &format!("{name} at {count}"),
            || async {
                self.get_text("/metrics")
                    .await
                    .1
                    .contains(&want)
                    .then_some(())
            },
        )
        .await;
    }

    /// `GET` returning the raw text.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let res = self
            .request(awc::http::Method::GET, path)
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let (status, bytes) = read(path, res).await;
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }
}

/// Status and whole body of an answer.
async fn read<S>(path: &str, mut res: awc::ClientResponse<S>) -> (u16, Vec<u8>)
where
    S: futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>,
{
    let bytes = res
        .body()
        .limit(64 * 1024 * 1024)
        .await
        .unwrap_or_else(|e| panic!("{path}: body: {e}"));
    (res.status().as_u16(), bytes.to_vec())
}

/// An open event stream (`GET /api/v1/messages/stream`): reads its SSE messages.
pub struct SseStream {
    res: awc::ClientResponse,
    buffer: SseBuffer,
}

/// One SSE message: its `id` and its `data` as JSON.
#[derive(Debug, Clone)]
pub struct SseMessage {
    /// The `id:` field (the event's `seq`).
    pub id: String,
    /// The `data:` field, parsed.
    pub data: Value,
}

impl Api {
    /// Opens `path` as an event stream, with extra headers; panics unless it answers `200`
    /// `text/event-stream` (an error answer is read with [`Api::get`]).
    pub async fn open_stream(&self, path: &str, headers: &[(&str, &str)]) -> SseStream {
        let mut req = self.request(awc::http::Method::GET, path);
        for (name, value) in headers {
            req = req.insert_header((*name, *value));
        }
        let res = req
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        assert_eq!(res.status().as_u16(), 200, "{path}: status");
        let content_type = res
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        assert_eq!(content_type, "text/event-stream", "{path}: content type");
        SseStream {
            res,
            buffer: SseBuffer::default(),
        }
    }
}

impl SseStream {
    /// The next message with data (comments are skipped), `None` when the stream ends.
    /// Panics if none comes `within`.
    pub async fn next(&mut self, within: Duration) -> Option<SseMessage> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + within;
        loop {
            while let Some(message) = self.buffer.next_message() {
                let (mut id, mut data) = (String::new(), None);
                for (name, value) in crate::sse::fields(message) {
                    let value = std::str::from_utf8(value).expect("SSE is UTF-8");
                    match name {
                        b"id" => id = value.to_string(),
                        b"data" => data = Some(serde_json::from_str(value).expect("data is JSON")),
                        _ => {}
                    }
                }
                if let Some(data) = data {
                    return Some(SseMessage { id, data });
                }
            }
            match tokio::time::timeout_at(deadline, self.res.next()).await {
                Ok(Some(Ok(chunk))) => self.buffer.push(&chunk),
                Ok(Some(Err(_))) | Ok(None) => return None,
                Err(_) => panic!("no SSE message within {within:?}"),
            }
        }
    }
}

/// A logged-in user (one device).
#[derive(Clone)]
pub struct User {
    /// The nick.
    pub nick: String,
    /// The device's id.
    pub device_id: String,
    /// An authenticated client.
    pub api: Api,
}

/// The password every test user gets.
pub const PASSWORD: &str = "correct horse battery";

/// Waits (10 s at most) until the server at `base` has exactly `count` long-polls waiting
/// (`hearth_active_long_polls` in `/metrics`).
pub async fn polls_waiting(base: &str, count: usize) {
    let metrics = Api::new(base);
    let line = format!("hearth_active_long_polls {count}");
    crate::eventually(
        Duration::from_secs(10),
        "the long-polls to wait",
        || async {
            let (_, text) = metrics.get_text("/metrics").await;
            text.lines().any(|l| l == line).then_some(())
        },
    )
    .await;
}

impl User {
    /// Registers `nick` on the server at `base`.
    pub async fn register(base: &str, nick: &str) -> User {
        let body = Api::new(base)
            .post(
                "/api/v1/register",
                json!({"nick": nick, "password": PASSWORD}),
            )
            .await
            .expect(201);
        User::from_login(base, nick, &body)
    }

    /// Logs in again: a new device of the same user.
    pub async fn login(base: &str, nick: &str) -> User {
        let body = Api::new(base)
            .post("/api/v1/login", json!({"nick": nick, "password": PASSWORD}))
            .await
            .expect(200);
        User::from_login(base, nick, &body)
    }

    fn from_login(base: &str, nick: &str, body: &Value) -> User {
        let token = body["token"].as_str().expect("token");
        User {
            nick: nick.to_string(),
            device_id: body["device_id"].as_str().expect("device_id").to_string(),
            api: Api::new(base).with_token(token),
        }
    }

    /// Joins a channel (200 expected).
    pub async fn join(&self, channel: &str) -> Value {
        self.api
            .post("/api/v1/channels/join", json!({"channel": channel}))
            .await
            .expect(200)
    }

    /// Sends a message (201 expected) and returns the stored event.
    pub async fn say(&self, to: &str, body: &str) -> Value {
        self.api
            .post("/api/v1/messages", json!({"to": to, "body": body}))
            .await
            .expect(201)
    }

    /// One sync call.
    pub async fn sync(&self, after: Option<i64>, timeout: u64) -> Value {
        let path = match after {
            Some(after) => format!("/api/v1/messages?after={after}&timeout={timeout}"),
            None => format!("/api/v1/messages?timeout={timeout}"),
        };
        self.api.get(&path).await.expect(200)
    }

    /// Follows the sync stream from `cursor` until an event matches; returns that event.
    pub async fn wait_for(
        &self,
        cursor: &mut i64,
        what: &str,
        matches: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            assert!(
                std::time::Instant::now() < deadline,
                "timed out waiting for {what}"
            );
            let got = self.sync(Some(*cursor), 3).await;
            *cursor = got["next"].as_i64().expect("next");
            let events = got["events"].as_array().expect("events");
            if let Some(event) = events.iter().find(|e| matches(e)) {
                return event.clone();
            }
        }
    }

    /// Bodies of the `message` events in a sync answer.
    pub fn bodies(sync: &Value) -> Vec<String> {
        sync["events"]
            .as_array()
            .expect("events")
            .iter()
            .filter(|e| e["type"] == "message")
            .map(|e| e["body"].as_str().unwrap_or_default().to_string())
            .collect()
    }
}
