//! `GET /api/v1/ws`: the device's events over a WebSocket ([`actix_ws`]), with client frames
//! that act like their HTTP forms. Frames: [`crate::transport::ws`].
//!
//! - **Authentication.** The upgrade request's `Authorization: Bearer` header (a bad one is a
//!   plain `401` before any upgrade), or else the first client frame `{"type":"auth","token"}`
//!   within [`AUTH_DEADLINE`]. Anything else first, a bad token or no frame in time closes the
//!   socket with [`UNAUTHORIZED`] (4401) and delivers nothing. Tokens follow the `Session`
//!   extractor's rules ([`authenticate`]), and `send` and `ack` frames resolve the token again,
//!   so a logged-out device can do nothing more.
//! - **Delivery.** The same per-device stream and cursor as sync and SSE
//!   ([`crate::services::stream`]): it starts at `?after=N` (acknowledging it) or the stored
//!   cursor, and never moves the cursor by itself. Only `ack` frames (or `after=`) do, so a
//!   dropped socket loses nothing.
//! - **Hang-ups and keep-alive.** A socket the client closed ends its task at once (the read
//!   half sees the end). The server pings every [`PING_EVERY`] and closes a socket it has heard
//!   nothing from (pongs included) for [`SILENCE_LIMIT`]. A logged-out device's socket closes
//!   within 30 s ([`crate::services::stream::SESSION_CHECK_MS`]).
//! - **Limits.** A frame (or a fragmented message) is at most [`crate::body_limit`] bytes,
//!   the size of an HTTP request body; a larger one closes with 1009. Binary frames close with
//!   1003. A frame that does not parse gets an `error` frame and the socket stays usable.

use std::sync::Arc;
use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use actix_ws::{AggregatedMessage, AggregatedMessageStream, CloseCode, CloseReason, ProtocolError};
use federation_proto::api::client::WsQuery;
use federation_proto::api::ErrorBody;
use tokio::time::{sleep_until, timeout, Instant};

use super::auth::bearer_header;
use crate::error::ApiError;
use crate::metrics::ActiveGuard;
use crate::services::accounts::{authenticate, Session};
use crate::services::stream::{self, EventStream};
use crate::services::sync::{self, Batch, SyncParams};
use crate::state::AppState;
use crate::transport::ws::{self as frames, ClientFrame};

/// How long a socket without an `Authorization` header waits for its `auth` frame.
pub const AUTH_DEADLINE: Duration = Duration::from_secs(10);
/// How often the server pings.
pub const PING_EVERY: Duration = Duration::from_secs(15);
/// A socket the server has heard nothing from (no pong, no frame) for this long is closed.
pub const SILENCE_LIMIT: Duration = Duration::from_secs(45);
/// Close code for a missing, bad or expired token, and for a device that logged out.
pub const UNAUTHORIZED: u16 = 4401;

/// `GET /api/v1/ws`: upgrades to a WebSocket on the device's event stream.
#[utoipa::path(get, path = "/api/v1/ws", tag = "messages", params(WsQuery,
        ("Authorization" = Option<String>, Header, description = "`Bearer <token>`; without it the first frame must be `{\"type\":\"auth\",\"token\":\"…\"}` within 10 s")),
    responses((status = 101, description = "A WebSocket of JSON text frames, each with a `type`. \
Server frames: `{\"type\":\"ready\",\"cursor\":N}` once authenticated (events after N follow); \
`{\"type\":\"event\",\"event\":{…}}` per event, with the sync shape, log events in seq order, ephemeral events (typing, presence, receipt) with seq 0; \
`{\"type\":\"sent\",\"txn_id\"?,\"event\":{…}}` answering a send; `{\"type\":\"acked\",\"cursor\":N}` answering an ack once written; \
`{\"type\":\"error\",\"error\":{\"code\",\"message\"},\"txn_id\"?}` for a refused frame (the socket stays open). \
Client frames: `{\"type\":\"auth\",\"token\"}` (first, without an Authorization header); \
`{\"type\":\"send\",\"to\",\"body\",\"kind\"?,\"meta\"?,\"reply_to\"?,\"txn_id\"?}` as POST /api/v1/messages (the message type is spelled `kind`); \
`{\"type\":\"ack\",\"seq\":N}` as POST /api/v1/messages/ack; `{\"type\":\"typing\",\"target\",\"typing\"}` (like POST /api/v1/typing: no answer unless it fails) and `{\"type\":\"read\",\"target\",\"id\"}` as POST /api/v1/read (answered `{\"type\":\"read\",\"target\",\"last_read\",\"moved\"}`). \
The socket never moves the cursor by itself: only ack frames and `after` do, so a reconnecting client gets everything it has not acknowledged. \
Close codes: 4401 missing, bad or expired token (or logout: within 30 s), 1009 frame too large (the HTTP body limit), 1003 binary frame, 1008 nothing heard for 45 s (the server pings every 15 s)."),
        (status = 400, description = "not a WebSocket upgrade (websocket_required), invalid_cursor", body = ErrorBody),
        (status = 401, description = "a bad Authorization header", body = ErrorBody)))]
pub async fn socket(
    req: HttpRequest,
    state: web::Data<AppState>,
    body: web::Payload,
    query: web::Query<WsQuery>,
) -> Result<HttpResponse, ApiError> {
    let state = state.into_inner();
    // The same validation as a poll's `after`, before upgrading.
    let after = SyncParams::new(query.after, None, None)?.after;
    let token = bearer_header(&req).transpose()?;
    let session = match &token {
        Some(token) => Some(authenticate(&state, token).await?),
        None => None,
    };
    let (response, ws, messages) = actix_ws::handle(&req, body)
        .map_err(|e| ApiError::bad_request("websocket_required", e.to_string()))?;
    let limit = crate::body_limit(&state.config);
    let messages = messages
        .max_frame_size(limit)
        .aggregate_continuations()
        .max_continuation_size(limit);
    let active = ActiveGuard::websocket(Arc::clone(&state.metrics));
    actix_web::rt::spawn(async move {
        let _active = active;
        let mut socket = Socket { ws, messages };
        let close = socket.run(state, token.zip(session), after).await;
        if let Some(reason) = close {
            // The client may be gone already; nothing to do then.
            let _ = socket.ws.close(Some(reason)).await;
        }
    });
    Ok(response)
}

/// The two halves of one WebSocket.
struct Socket {
    ws: actix_ws::Session,
    messages: AggregatedMessageStream,
}

/// What woke the connection's loop.
enum Step {
    Frame(Option<Result<AggregatedMessage, ProtocolError>>),
    Events(Result<Batch, ApiError>),
    Timer,
}

/// Why the loop ended: a close frame to send, or none when the client is gone.
type Ending = Option<CloseReason>;

fn close(code: CloseCode, description: &str) -> Ending {
    Some(CloseReason {
        code,
        description: Some(description.to_string()),
    })
}

fn unauthorized(description: &str) -> Ending {
    close(CloseCode::Other(UNAUTHORIZED), description)
}

/// A failure of the stream or of a client's token, as a close.
fn close_for(error: &ApiError) -> Ending {
    if error.status.as_u16() == 401 {
        unauthorized(&format!("{}: {}", error.code, error.message))
    } else {
        close(CloseCode::Error, &error.message)
    }
}

impl Socket {
    /// Authenticates (unless the header did), opens the stream and serves it until either side
    /// ends it.
    async fn run(
        &mut self,
        state: Arc<AppState>,
        authenticated: Option<(String, Session)>,
        after: Option<i64>,
    ) -> Ending {
        let (token, session) = match authenticated {
            Some(pair) => pair,
            None => match timeout(AUTH_DEADLINE, self.auth_frame(&state)).await {
                Ok(Ok(pair)) => pair,
                Ok(Err(ending)) => return ending,
                Err(_) => return unauthorized("no auth frame within 10 s"),
            },
        };
        let events = match stream::open_uncounted(Arc::clone(&state), session, after).await {
            Ok(events) => events,
            Err(e) => return close_for(&e),
        };
        if let Err(ending) = self.send(frames::ready(events.position())).await {
            return ending;
        }
        Connection {
            state,
            token,
            events,
            last_heard: Instant::now(),
            next_ping: Instant::now() + PING_EVERY,
        }
        .serve(self)
        .await
    }

    /// Waits for the `auth` frame; anything else first closes the socket.
    async fn auth_frame(&mut self, state: &AppState) -> Result<(String, Session), Ending> {
        loop {
            let text = match self.messages.recv().await {
                None => return Err(None),
                Some(Err(e)) => return Err(protocol_close(&e)),
                Some(Ok(AggregatedMessage::Text(text))) => text,
                Some(Ok(AggregatedMessage::Ping(bytes))) => {
                    self.ws.pong(&bytes).await.map_err(|_| None)?;
                    continue;
                }
                Some(Ok(AggregatedMessage::Pong(_))) => continue,
                Some(Ok(AggregatedMessage::Close(_))) => return Err(close(CloseCode::Normal, "")),
                Some(Ok(AggregatedMessage::Binary(_))) => {
                    return Err(unauthorized(
                        "the first frame must be {\"type\":\"auth\",\"token\"}",
                    ))
                }
            };
            return match frames::parse(&text) {
                Ok(ClientFrame::Auth { token }) => match authenticate(state, &token).await {
                    Ok(session) => Ok((token, session)),
                    Err(e) => Err(close_for(&e)),
                },
                _ => Err(unauthorized(
                    "the first frame must be {\"type\":\"auth\",\"token\"}",
                )),
            };
        }
    }

    /// Queues a text frame. A client that reads nothing for [`SILENCE_LIMIT`] (its socket and
    /// our queue full) is gone.
    async fn send(&mut self, frame: String) -> Result<(), Ending> {
        match timeout(SILENCE_LIMIT, self.ws.text(frame)).await {
            Ok(Ok(())) => Ok(()),
            _ => Err(None),
        }
    }
}

fn protocol_close(error: &ProtocolError) -> Ending {
    match error {
        ProtocolError::Overflow => close(CloseCode::Size, "frame too large"),
        ProtocolError::Io(_) => None,
        other => close(CloseCode::Protocol, &other.to_string()),
    }
}

/// An authenticated socket's state.
struct Connection {
    state: Arc<AppState>,
    /// Resolved again for each `send` and `ack`, as an HTTP request would be.
    token: String,
    events: EventStream,
    last_heard: Instant,
    next_ping: Instant,
}

impl Connection {
    async fn serve(mut self, socket: &mut Socket) -> Ending {
        loop {
            // Wakes for a ping, and when the stream is due to check its session (logout).
            let timer = self.next_ping.min(self.events.session_check_at());
            let step = tokio::select! {
                biased;
                frame = socket.messages.recv() => Step::Frame(frame),
                batch = self.events.next_batch() => Step::Events(batch),
                () = sleep_until(timer) => Step::Timer,
            };
            match step {
                Step::Frame(None) => return None,
                Step::Frame(Some(Err(e))) => return protocol_close(&e),
                Step::Frame(Some(Ok(message))) => {
                    self.last_heard = Instant::now();
                    match message {
                        AggregatedMessage::Text(text) => {
                            // Boxed: a send's future is large, and an idle socket should not
                            // carry room for one.
                            if let Err(ending) = Box::pin(self.on_text(socket, &text)).await {
                                return ending;
                            }
                        }
                        AggregatedMessage::Binary(_) => {
                            return close(
                                CloseCode::Unsupported,
                                "binary frames are not supported: send JSON text frames",
                            )
                        }
                        AggregatedMessage::Ping(bytes) => {
                            if socket.ws.pong(&bytes).await.is_err() {
                                return None;
                            }
                        }
                        AggregatedMessage::Pong(_) => {}
                        AggregatedMessage::Close(_) => return close(CloseCode::Normal, ""),
                    }
                }
                Step::Events(Ok(batch)) => {
                    for frame in frames::event_frames(&batch) {
                        if let Err(ending) = socket.send(frame).await {
                            return ending;
                        }
                    }
                }
                Step::Events(Err(e)) => {
                    tracing::info!(code = e.code, message = %e.message, at = self.events.position(), "websocket stream ended");
                    return close_for(&e);
                }
                Step::Timer => {
                    if let Err(e) = self.events.check_session().await {
                        return close_for(&e);
                    }
                    let now = Instant::now();
                    if now >= self.next_ping {
                        if now.duration_since(self.last_heard) >= SILENCE_LIMIT {
                            return close(CloseCode::Policy, "no pong for 45 s");
                        }
                        if socket.ws.ping(b"").await.is_err() {
                            return None;
                        }
                        self.next_ping = now + PING_EVERY;
                    }
                }
            }
        }
    }

    /// Acts on one client text frame and answers it. Errs only to close the socket.
    async fn on_text(&mut self, socket: &mut Socket, text: &str) -> Result<(), Ending> {
        let frame = match frames::parse(text) {
            Ok(frame) => frame,
            Err(e) => {
                return socket
                    .send(frames::error(e.code, &e.message, e.txn_id.as_deref()))
                    .await
            }
        };
        let answer = match frame {
            ClientFrame::Auth { .. } => frames::error(
                "already_authenticated",
                "this socket is authenticated already",
                None,
            ),
            ClientFrame::Send(request) => {
                let session = self.session().await?;
                let txn_id = request.txn_id.clone();
                match crate::chat::send(&self.state, &session, request).await {
                    Ok(event) => frames::sent(txn_id.as_deref(), &event),
                    Err(e) => frames::error(e.code, &e.message, txn_id.as_deref()),
                }
            }
            ClientFrame::Ack(ack) => {
                let session = self.session().await?;
                match sync::acknowledge(&self.state, &session.device_id, ack.seq).await {
                    Ok(cursor) => frames::acked(cursor),
                    Err(e) => frames::error(e.code, &e.message, None),
                }
            }
            ClientFrame::Typing { target, typing } => {
                // Like `POST /api/v1/typing` (204): nothing to answer unless it failed.
                let session = self.session().await?;
                match crate::chat::typing(&self.state, &session, &target, typing).await {
                    Ok(()) => return Ok(()),
                    Err(e) => frames::error(e.code, &e.message, None),
                }
            }
            ClientFrame::Read { target, id } => {
                let session = self.session().await?;
                match crate::chat::read(&self.state, &session, &target, &id).await {
                    Ok(answer) => frames::read(&answer),
                    Err(e) => frames::error(e.code, &e.message, None),
                }
            }
        };
        socket.send(answer).await
    }

    /// The token resolved again, by the `Session` extractor's rules: a device that logged out
    /// or expired acts no more, and its socket closes.
    async fn session(&self) -> Result<Session, Ending> {
        match authenticate(&self.state, &self.token).await {
            Ok(session) if session.device_id == self.events.session().device_id => Ok(session),
            Ok(_) => Err(unauthorized("the token changed devices")),
            Err(e) => Err(close_for(&e)),
        }
    }
}
