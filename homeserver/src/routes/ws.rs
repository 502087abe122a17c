//! `GET /api/v1/ws`: the device's events over a WebSocket, with client frames that act like
//! their HTTP forms. Frames: [`crate::transport::ws`]; bytes on the wire:
//! [`crate::transport::ws_wire`].
//!
//! - **One body, no task.** The upgrade's response body owns the socket: the payload it reads
//!   client frames from, the event stream, the timers. Each time actix polls the body it waits
//!   for whichever comes first (a client frame, events, a timer) and answers with the bytes to
//!   write. No task, no channel: an idle socket costs what an idle SSE stream costs
//!   (BENCHMARKS.md, "Idle WebSockets").
//!
//! - **Authentication.** The upgrade request's `Authorization: Bearer` header (a bad one is a
//!   plain `401` before any upgrade), or else the browser's session cookie when the upgrade's
//!   `Origin` is this host (`web_session::socket_cookie_token`; another origin is a `403`), or
//!   else the first client frame `{"type":"auth","token"}`
//!   within [`AUTH_DEADLINE`]. Anything else first, a bad token or no frame in time closes the
//!   socket with [`UNAUTHORIZED`] (4401) and delivers nothing. Tokens follow the `Session`
//!   extractor's rules ([`authenticate`]), and `send` and `ack` frames resolve the token again,
//!   so a logged-out device can do nothing more.
//! - **Delivery.** The same per-device stream and cursor as sync and SSE
//!   ([`crate::services::stream`]): it starts at `?after=N` (acknowledging it) or the stored
//!   cursor, and never moves the cursor by itself. Only `ack` frames (or `after=`) do, so a
//!   dropped socket loses nothing.
//! - **Hang-ups and keep-alive.** A socket the client closed ends its body at once (the payload
//!   ends). The server pings every [`PING_EVERY`] and closes a socket it has heard
//!   nothing from (pongs included) for [`SILENCE_LIMIT`]. A logged-out device's socket closes
//!   within 30 s ([`crate::services::stream::SESSION_CHECK_MS`]).
//! - **Limits.** A frame (or a fragmented message) is at most [`crate::body_limit`] bytes,
//!   the size of an HTTP request body; a larger one closes with 1009. Binary frames close with
//!   1003. A frame that does not parse gets an `error` frame and the socket stays usable.

use std::sync::Arc;
use std::time::Duration;

use actix_http::ws::{CloseCode, CloseReason, ProtocolError};
use actix_web::body::{BodyStream, MessageBody};
use actix_web::web::{Bytes, BytesMut};
use actix_web::{web, HttpRequest, HttpResponse};
use federation_proto::api::client::WsQuery;
use federation_proto::api::ErrorBody;
use tokio::time::{sleep_until, timeout_at, Instant};

use super::auth::bearer_header;
use crate::error::ApiError;
use crate::metrics::ActiveGuard;
use crate::services::accounts::{authenticate, Session};
use crate::services::stream::{self, EventStream};
use crate::services::sync::{self, SyncParams};
use crate::state::AppState;
use crate::transport::ws::{self as frames, ClientFrame};
use crate::transport::ws_wire::{self as wire, Incoming, Reader};

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
        ("Authorization" = Option<String>, Header, description = "`Bearer <token>`; without it the browser's session cookie `hearth_session` (only with an `Origin` of this host, docs/web.md), else the first frame must be `{\"type\":\"auth\",\"token\":\"…\"}` within 10 s")),
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
    let token = bearer_header(&req)
        .or_else(|| super::web_session::socket_cookie_token(&req))
        .transpose()?;
    let phase = match token {
        Some(token) => {
            let session = authenticate(&state, &token).await?;
            Phase::Authenticated {
                token,
                session,
                after,
            }
        }
        None => Phase::Auth {
            deadline: Instant::now() + AUTH_DEADLINE,
            after,
        },
    };
    let mut response = actix_http::ws::handshake(req.head())
        .map_err(|e| ApiError::bad_request("websocket_required", e.to_string()))?;
    let socket = Socket {
        reader: Reader::new(body.into_inner(), crate::body_limit(&state.config)),
        _active: ActiveGuard::websocket(Arc::clone(&state.metrics)),
        state,
        phase,
    };
    let body = futures_util::stream::unfold(socket, |mut socket| async move {
        let bytes = socket.step().await?;
        Some((Ok::<Bytes, actix_web::Error>(bytes), socket))
    });
    let response = response
        .message_body(BodyStream::new(body).boxed())
        .map_err(|e| ApiError::internal(e.to_string()))?;
    Ok(response.into())
}

/// One WebSocket: everything it holds lives in its response body.
struct Socket {
    state: Arc<AppState>,
    reader: Reader,
    phase: Phase,
    _active: ActiveGuard,
}

/// Where a socket is in its life.
enum Phase {
    /// No `Authorization` header: waiting for the `auth` frame until `deadline`.
    Auth {
        deadline: Instant,
        after: Option<i64>,
    },
    /// Authenticated; the event stream opens next.
    Authenticated {
        token: String,
        session: Session,
        after: Option<i64>,
    },
    /// Serving the device's stream.
    Open(Connection),
    /// The close frame is written (or the client is gone): the body ends.
    Closed,
}

/// Why the socket ends: a close frame to send, or none when the client is gone.
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

fn protocol_close(error: &ProtocolError) -> Ending {
    match error {
        ProtocolError::Overflow => close(CloseCode::Size, "frame too large"),
        ProtocolError::Io(e) if e.kind() == std::io::ErrorKind::InvalidData => {
            close(CloseCode::Invalid, "text frames must be UTF-8")
        }
        ProtocolError::Io(_) => None,
        other => close(CloseCode::Protocol, &other.to_string()),
    }
}

const FIRST_FRAME: &str = "the first frame must be {\"type\":\"auth\",\"token\"}";

impl Socket {
    /// The next bytes to write, once there are some; `None` ends the body (and the
    /// connection).
    async fn step(&mut self) -> Option<Bytes> {
        if matches!(self.phase, Phase::Closed) {
            return None;
        }
        let mut out = BytesMut::new();
        if let Err(ending) = self.advance(&mut out).await {
            self.phase = Phase::Closed;
            match ending {
                Some(reason) => wire::write_close(&mut out, reason),
                None => return None,
            }
        }
        Some(out.freeze())
    }

    /// Runs the socket until it has something to write (into `out`) or ends.
    async fn advance(&mut self, out: &mut BytesMut) -> Result<(), Ending> {
        loop {
            match &mut self.phase {
                Phase::Closed => return Err(None),
                Phase::Auth { deadline, after } => {
                    let after = *after;
                    let Ok(message) = timeout_at(*deadline, self.reader.next()).await else {
                        return Err(unauthorized("no auth frame within 10 s"));
                    };
                    let text = match message {
                        None => return Err(None),
                        Some(Err(e)) => return Err(protocol_close(&e)),
                        Some(Ok(Incoming::Text(text))) => text,
                        Some(Ok(Incoming::Ping(bytes))) => {
                            wire::write_pong(out, &bytes);
                            return Ok(());
                        }
                        Some(Ok(Incoming::Pong)) => continue,
                        Some(Ok(Incoming::Close)) => return Err(close(CloseCode::Normal, "")),
                        Some(Ok(Incoming::Binary)) => return Err(unauthorized(FIRST_FRAME)),
                    };
                    let Ok(ClientFrame::Auth { token }) = frames::parse(&text) else {
                        return Err(unauthorized(FIRST_FRAME));
                    };
                    // Boxed: an idle socket should not carry room for this future.
                    let session = Box::pin(authenticate(&self.state, &token))
                        .await
                        .map_err(|e| close_for(&e))?;
                    self.phase = Phase::Authenticated {
                        token,
                        session,
                        after,
                    };
                }
                Phase::Authenticated { .. } => {
                    let Phase::Authenticated {
                        token,
                        session,
                        after,
                    } = std::mem::replace(&mut self.phase, Phase::Closed)
                    else {
                        return Err(None);
                    };
                    let events = Box::pin(stream::open_uncounted(
                        Arc::clone(&self.state),
                        session,
                        after,
                    ))
                    .await
                    .map_err(|e| close_for(&e))?;
                    wire::write_text(out, &frames::ready(events.position()));
                    self.phase = Phase::Open(Connection {
                        token,
                        events,
                        last_heard: Instant::now(),
                        next_ping: Instant::now() + PING_EVERY,
                    });
                    return Ok(());
                }
                Phase::Open(connection) => {
                    return connection.serve(&self.state, &mut self.reader, out).await
                }
            }
        }
    }
}

/// An authenticated socket's state.
struct Connection {
    /// Resolved again for each client frame that acts, as an HTTP request would be.
    token: String,
    events: EventStream,
    last_heard: Instant,
    next_ping: Instant,
}

/// What woke the connection.
enum Step {
    Frame(Option<Result<Incoming, ProtocolError>>),
    Events(Result<crate::services::sync::Batch, ApiError>),
    Timer,
}

impl Connection {
    /// Waits until there is something to write (into `out`), or the socket ends.
    async fn serve(
        &mut self,
        state: &Arc<AppState>,
        reader: &mut Reader,
        out: &mut BytesMut,
    ) -> Result<(), Ending> {
        loop {
            // Wakes for a ping, and when the stream is due to check its session (logout).
            let timer = self.next_ping.min(self.events.session_check_at());
            let step = tokio::select! {
                biased;
                frame = reader.next() => Step::Frame(frame),
                batch = self.events.next_batch() => Step::Events(batch),
                () = sleep_until(timer) => Step::Timer,
            };
            match step {
                Step::Frame(None) => return Err(None),
                Step::Frame(Some(Err(e))) => return Err(protocol_close(&e)),
                Step::Frame(Some(Ok(message))) => {
                    self.last_heard = Instant::now();
                    match message {
                        Incoming::Text(text) => {
                            // Boxed: a send's future is large, and an idle socket should not
                            // carry room for one.
                            if let Some(answer) = Box::pin(self.on_text(state, &text)).await? {
                                wire::write_text(out, &answer);
                                return Ok(());
                            }
                        }
                        Incoming::Binary => {
                            return Err(close(
                                CloseCode::Unsupported,
                                "binary frames are not supported: send JSON text frames",
                            ))
                        }
                        Incoming::Ping(bytes) => {
                            wire::write_pong(out, &bytes);
                            return Ok(());
                        }
                        Incoming::Pong => {}
                        Incoming::Close => return Err(close(CloseCode::Normal, "")),
                    }
                }
                Step::Events(Ok(batch)) => {
                    for frame in frames::event_frames(&batch) {
                        wire::write_text(out, &frame);
                    }
                    if !out.is_empty() {
                        return Ok(());
                    }
                }
                Step::Events(Err(e)) => {
                    tracing::info!(code = e.code, message = %e.message, at = self.events.position(), "websocket stream ended");
                    return Err(close_for(&e));
                }
                Step::Timer => {
                    if let Err(e) = self.events.check_session().await {
                        return Err(close_for(&e));
                    }
                    let now = Instant::now();
                    if now >= self.next_ping {
                        if now.duration_since(self.last_heard) >= SILENCE_LIMIT {
                            return Err(close(CloseCode::Policy, "no pong for 45 s"));
                        }
                        self.next_ping = now + PING_EVERY;
                        wire::write_ping(out);
                        return Ok(());
                    }
                }
            }
        }
    }

    /// Acts on one client text frame: its answer, if it has one. Errs only to close the
    /// socket.
    async fn on_text(
        &mut self,
        state: &Arc<AppState>,
        text: &str,
    ) -> Result<Option<String>, Ending> {
        let frame = match frames::parse(text) {
            Ok(frame) => frame,
            Err(e) => return Ok(Some(frames::error(e.code, &e.message, e.txn_id.as_deref()))),
        };
        let answer = match frame {
            ClientFrame::Auth { .. } => frames::error(
                "already_authenticated",
                "this socket is authenticated already",
                None,
            ),
            ClientFrame::Send(request) => {
                let session = self.session(state).await?;
                let txn_id = request.txn_id.clone();
                match crate::chat::send(state, &session, request).await {
                    Ok(event) => frames::sent(txn_id.as_deref(), &event),
                    Err(e) => frames::error(e.code, &e.message, txn_id.as_deref()),
                }
            }
            ClientFrame::Ack(ack) => {
                let session = self.session(state).await?;
                match sync::acknowledge(state, &session.device_id, ack.seq).await {
                    Ok(cursor) => frames::acked(cursor),
                    Err(e) => frames::error(e.code, &e.message, None),
                }
            }
            ClientFrame::Typing { target, typing } => {
                // Like `POST /api/v1/typing` (204): nothing to answer unless it failed.
                let session = self.session(state).await?;
                match crate::chat::typing(state, &session, &target, typing).await {
                    Ok(()) => return Ok(None),
                    Err(e) => frames::error(e.code, &e.message, None),
                }
            }
            ClientFrame::Read { target, id } => {
                let session = self.session(state).await?;
                match crate::chat::read(state, &session, &target, &id).await {
                    Ok(answer) => frames::read(&answer),
                    Err(e) => frames::error(e.code, &e.message, None),
                }
            }
        };
        Ok(Some(answer))
    }

    /// The token resolved again, by the `Session` extractor's rules: a device that logged out
    /// or expired acts no more, and its socket closes.
    async fn session(&self, state: &AppState) -> Result<Session, Ending> {
        match authenticate(state, &self.token).await {
            Ok(session) if session.device_id == self.events.session().device_id => Ok(session),
            Ok(_) => Err(unauthorized("the token changed devices")),
            Err(e) => Err(close_for(&e)),
        }
    }
}
