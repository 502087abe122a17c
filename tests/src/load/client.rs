//! A load client: awc with an unlimited connection pool, every failure an `anyhow::Error`
//! (never a panic), and the few client-API calls the scenarios need.

use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{json, Value};

/// The password every load user gets.
pub const PASSWORD: &str = "load generator password";

/// An HTTP client for one server.
#[derive(Clone)]
pub struct Http {
    client: awc::Client,
    base: String,
}

impl Http {
    /// A client for `base` (`http://127.0.0.1:PORT`) with no connection limit.
    pub fn new(base: &str) -> Http {
        let connector = awc::Connector::new()
            .limit(0)
            .timeout(Duration::from_secs(10))
            .conn_keep_alive(Duration::from_secs(300));
        let client = awc::Client::builder()
            .connector(connector)
            .timeout(Duration::from_secs(130))
            .disable_redirects()
            .finish();
        Http {
            client,
            base: base.trim_end_matches('/').to_string(),
        }
    }

    /// The base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn request(
        &self,
        method: awc::http::Method,
        path: &str,
        token: Option<&str>,
    ) -> awc::ClientRequest {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            req = req.insert_header(("Authorization", format!("Bearer {token}")));
        }
        req
    }

    /// Sends `body` (or nothing) and returns the status and the JSON body (`Null` if not JSON).
    pub async fn call(
        &self,
        method: awc::http::Method,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        let req = self.request(method, path, token);
        let sent = match body {
            Some(body) => req.send_json(body).await,
            None => req.send().await,
        };
        let mut res = sent.map_err(|e| anyhow!("{path}: {e}"))?;
        let bytes = res
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .map_err(|e| anyhow!("{path}: body: {e}"))?;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Ok((res.status().as_u16(), value))
    }

    /// `GET` a text document (e.g. `/metrics`).
    pub async fn get_text(&self, path: &str) -> Result<String> {
        let mut res = self
            .request(awc::http::Method::GET, path, None)
            .send()
            .await
            .map_err(|e| anyhow!("{path}: {e}"))?;
        let bytes = res
            .body()
            .limit(16 * 1024 * 1024)
            .await
            .map_err(|e| anyhow!("{path}: body: {e}"))?;
        if !res.status().is_success() {
            bail!("{path}: status {}", res.status());
        }
        Ok(String::from_utf8_lossy(&bytes).into_owned())
    }

    /// The value of an unlabelled metric on `/metrics`.
    pub async fn metric(&self, name: &str) -> Result<f64> {
        let text = self.get_text("/metrics").await?;
        text.lines()
            .filter(|l| !l.starts_with('#'))
            .find_map(|l| {
                let (key, value) = l.split_once(' ')?;
                (key == name).then(|| value.trim().parse::<f64>().ok())?
            })
            .with_context(|| format!("metric {name} not on /metrics"))
    }

    /// Starts a long-poll and returns once the answer's head is in; the body (the leading
    /// spaces and then the JSON) is read by [`Poll::finish`].
    pub async fn open_poll(&self, token: &str, after: i64, timeout_s: u64) -> Result<Poll> {
        let path = format!("/api/v1/messages?after={after}&timeout={timeout_s}");
        let res = self
            .request(awc::http::Method::GET, &path, Some(token))
            .timeout(Duration::from_secs(timeout_s + 10))
            .send()
            .await
            .map_err(|e| anyhow!("poll: {e}"))?;
        if res.status().as_u16() != 200 {
            bail!("poll: status {}", res.status());
        }
        Ok(Poll { res })
    }

    /// Opens the device's event stream (`GET /api/v1/messages/stream`) after `after`; the
    /// response's body is the stream of SSE messages.
    pub async fn open_stream(&self, token: &str, after: i64) -> Result<awc::ClientResponse> {
        let path = format!("/api/v1/messages/stream?after={after}");
        let res = self
            .request(awc::http::Method::GET, &path, Some(token))
            .timeout(Duration::from_secs(3600))
            .send()
            .await
            .map_err(|e| anyhow!("stream: {e}"))?;
        if res.status().as_u16() != 200 {
            bail!("stream: status {}", res.status());
        }
        Ok(res)
    }

    /// Opens the device's WebSocket (`GET /api/v1/ws`) after `after`, authenticated by header.
    pub async fn open_ws(
        &self,
        token: &str,
        after: i64,
    ) -> Result<actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>> {
        let (_, framed) = self
            .client
            .ws(format!("{}/api/v1/ws?after={after}", self.base))
            .bearer_auth(token)
            .connect()
            .await
            .map_err(|e| anyhow!("websocket: {e}"))?;
        Ok(framed)
    }
}

/// Reads a WebSocket's frames until it ends, answering the server's pings (it closes a socket
/// that stays silent for 45 s).
pub async fn hold_ws(mut framed: actix_codec::Framed<awc::BoxedSocket, awc::ws::Codec>) {
    use futures_util::{SinkExt, StreamExt};
    while let Some(Ok(frame)) = framed.next().await {
        let answered = match frame {
            awc::ws::Frame::Ping(bytes) => framed.send(awc::ws::Message::Pong(bytes)).await.is_ok(),
            awc::ws::Frame::Close(_) => false,
            _ => true,
        };
        if !answered {
            return;
        }
    }
}

/// A long-poll whose head has arrived.
pub struct Poll {
    res: awc::ClientResponse,
}

impl Poll {
    /// Reads the rest of the answer: `(events, next)`.
    pub async fn finish(mut self) -> Result<(Vec<Value>, i64)> {
        let bytes = self
            .res
            .body()
            .limit(64 * 1024 * 1024)
            .await
            .map_err(|e| anyhow!("poll body: {e}"))?;
        let value: Value = serde_json::from_slice(&bytes).context("poll body is not JSON")?;
        sync_parts(&value)
    }
}

/// `(events, next)` of a sync answer.
pub fn sync_parts(value: &Value) -> Result<(Vec<Value>, i64)> {
    let next = value["next"]
        .as_i64()
        .with_context(|| format!("sync answer without next: {value}"))?;
    let events = value["events"].as_array().cloned().unwrap_or_default();
    Ok((events, next))
}

/// Tries of one registration that the server answers `503 server_busy`.
const REGISTER_ATTEMPTS: u32 = 100;

/// A registered user with one device.
#[derive(Clone)]
pub struct LoadUser {
    /// The nick.
    pub nick: String,
    /// The bearer token.
    pub token: String,
    /// The client.
    pub http: Http,
}

impl LoadUser {
    /// Registers `nick`. A `503 server_busy` (more registrations waiting for a password hash
    /// than the server queues) is retried a bounded number of times; a `429` means the server
    /// runs with `RATE_LIMIT_LOGIN` on (the servers this tool starts have it off).
    pub async fn register(http: &Http, nick: &str) -> Result<LoadUser> {
        let body = json!({"nick": nick, "password": PASSWORD});
        let mut attempts = 0;
        let (status, value) = loop {
            let (status, value) = http
                .call(
                    awc::http::Method::POST,
                    "/api/v1/register",
                    None,
                    Some(&body),
                )
                .await?;
            attempts += 1;
            if status != 503 || attempts >= REGISTER_ATTEMPTS {
                break (status, value);
            }
            actix_web::rt::time::sleep(Duration::from_millis(200)).await;
        };
        if status == 429 {
            bail!("register {nick}: 429 rate_limited: start the server with RATE_LIMIT_LOGIN=off");
        }
        if status != 201 {
            bail!("register {nick}: {status} {value}");
        }
        let token = value["token"]
            .as_str()
            .with_context(|| format!("register {nick}: no token in {value}"))?;
        Ok(LoadUser {
            nick: nick.to_string(),
            token: token.to_string(),
            http: http.clone(),
        })
    }

    async fn post(&self, path: &str, body: &Value, want: u16) -> Result<Value> {
        let (status, value) = self
            .http
            .call(awc::http::Method::POST, path, Some(&self.token), Some(body))
            .await?;
        if status != want {
            bail!("{path} as {}: {status} {value}", self.nick);
        }
        Ok(value)
    }

    /// Joins `channel`.
    pub async fn join(&self, channel: &str) -> Result<()> {
        self.post("/api/v1/channels/join", &json!({"channel": channel}), 200)
            .await
            .map(drop)
    }

    /// Sends a message and returns its `seq` (acknowledged: `201`).
    pub async fn send(&self, to: &str, body: &str) -> Result<i64> {
        let event = self
            .post("/api/v1/messages", &json!({"to": to, "body": body}), 201)
            .await?;
        Ok(event["seq"].as_i64().unwrap_or(0))
    }

    /// Sends a message and returns its event id (acknowledged: `201`).
    pub async fn send_id(&self, to: &str, body: &str) -> Result<String> {
        let event = self
            .post("/api/v1/messages", &json!({"to": to, "body": body}), 201)
            .await?;
        event["id"]
            .as_str()
            .map(str::to_string)
            .with_context(|| format!("send as {}: no id in {event}", self.nick))
    }

    /// Reacts to message `id` with `emoji`: `true` when new (`201`), `false` when this user
    /// had already reacted so (`200`, nothing stored).
    pub async fn react(&self, id: &str, emoji: &str) -> Result<bool> {
        let path = format!("/api/v1/messages/{id}/reactions");
        let (status, value) = self
            .http
            .call(
                awc::http::Method::POST,
                &path,
                Some(&self.token),
                Some(&json!({"emoji": emoji})),
            )
            .await?;
        match status {
            201 => Ok(true),
            200 => Ok(false),
            _ => bail!("react as {}: {status} {value}", self.nick),
        }
    }

    /// Moves the read marker in `target` to message `id` (`POST /api/v1/read`).
    pub async fn mark_read(&self, target: &str, id: &str) -> Result<()> {
        self.post("/api/v1/read", &json!({"target": target, "id": id}), 200)
            .await
            .map(drop)
    }

    /// `GET /api/v1/conversations`: the `conversations` array.
    pub async fn conversations(&self) -> Result<Vec<Value>> {
        let (status, value) = self
            .http
            .call(
                awc::http::Method::GET,
                "/api/v1/conversations",
                Some(&self.token),
                None,
            )
            .await?;
        if status != 200 {
            bail!("conversations as {}: {status} {value}", self.nick);
        }
        value["conversations"]
            .as_array()
            .cloned()
            .with_context(|| format!("conversations as {}: {value}", self.nick))
    }

    /// One sync call that returns at once: `(events, next)`.
    pub async fn sync_now(&self, after: Option<i64>) -> Result<(Vec<Value>, i64)> {
        let path = match after {
            Some(after) => format!("/api/v1/messages?after={after}&timeout=0"),
            None => "/api/v1/messages?timeout=0".to_string(),
        };
        let (status, value) = self
            .http
            .call(awc::http::Method::GET, &path, Some(&self.token), None)
            .await?;
        if status != 200 {
            bail!("sync as {}: {status} {value}", self.nick);
        }
        sync_parts(&value)
    }

    /// Acknowledges everything and returns the cursor at the log's end. Two calls: the
    /// server clamps the *stored* cursor to the log's end but answers `next = after`.
    pub async fn cursor_at_end(&self) -> Result<i64> {
        self.sync_now(Some(i64::MAX / 2)).await?;
        let (_, next) = self.sync_now(None).await?;
        Ok(next)
    }

    /// A whole long-poll: `(events, next)`.
    pub async fn poll(&self, after: i64, timeout_s: u64) -> Result<(Vec<Value>, i64)> {
        self.http
            .open_poll(&self.token, after, timeout_s)
            .await?
            .finish()
            .await
    }
}

/// Registers `count` users named `<prefix><i>` with at most `concurrency` in flight.
pub async fn register_many(
    http: &Http,
    prefix: &str,
    count: usize,
    concurrency: usize,
) -> Result<Vec<LoadUser>> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    stream::iter(0..count)
        .map(|i| {
            let nick = format!("{prefix}{i}");
            async move { LoadUser::register(http, &nick).await }
        })
        .buffered(concurrency.max(1))
        .try_collect()
        .await
}

/// Every user joins `channel`, `concurrency` at a time.
pub async fn join_all(users: &[LoadUser], channel: &str, concurrency: usize) -> Result<()> {
    use futures_util::stream::{self, StreamExt, TryStreamExt};
    stream::iter(users)
        .map(|u| u.join(channel))
        .buffer_unordered(concurrency.max(1))
        .try_collect::<Vec<()>>()
        .await
        .map(drop)
}

/// Moves every user's cursor to the end of the log (64 at a time); returns the cursors.
pub async fn cursors_at_end(users: &[LoadUser]) -> Result<Vec<i64>> {
    use futures_util::stream::{self, StreamExt};
    stream::iter(users)
        .map(|u| u.cursor_at_end())
        .buffered(64)
        .collect::<Vec<_>>()
        .await
        .into_iter()
        .collect()
}
