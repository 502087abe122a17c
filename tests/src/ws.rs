//! A WebSocket client for `GET /api/v1/ws` (awc's), for the tests and `hearth-load`: JSON
//! text frames in and out, pings answered, the close frame reported.

use std::time::Duration;

use awc::ws::{CloseCode, CloseReason, Codec, Frame, Message};
use awc::BoxedSocket;
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;

use crate::api::Api;

/// The socket's path.
pub const WS: &str = "/api/v1/ws";

/// An open WebSocket.
pub struct WsClient {
    framed: actix_codec::Framed<BoxedSocket, Codec>,
}

/// What came from the server.
#[derive(Debug, Clone, PartialEq)]
pub enum Incoming {
    /// A text frame, parsed as JSON.
    Frame(Value),
    /// A close frame: its code (1005 when it had none) and reason.
    Closed(u16, String),
    /// The connection ended without a close frame.
    Ended,
}

impl Incoming {
    /// The frame, or a panic saying what came instead.
    #[track_caller]
    pub fn frame(self) -> Value {
        match self {
            Incoming::Frame(value) => value,
            other => panic!("expected a frame, got {other:?}"),
        }
    }
}

impl Api {
    /// Opens `path` (e.g. `/api/v1/ws?after=3`) as a WebSocket, with this client's token (if it
    /// has one) as `Authorization`. `Err(status)` when the server does not upgrade.
    pub async fn open_ws(&self, path: &str) -> Result<WsClient, u16> {
        let mut req = self
            .client()
            .ws(format!("{}{path}", self.base()))
            .max_frame_size(16 * 1024 * 1024);
        if let Some(token) = self.token() {
            req = req.bearer_auth(token);
        }
        match req.connect().await {
            Ok((_, framed)) => Ok(WsClient { framed }),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => Err(status.as_u16()),
            Err(e) => panic!("{path}: {e}"),
        }
    }
}

impl Api {
    /// Opens `path` as a WebSocket with extra headers (a browser's `Cookie` and `Origin`) and
    /// no `Authorization`. `Err(status)` when the server does not upgrade.
    pub async fn open_ws_with_headers(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> Result<WsClient, u16> {
        let mut req = self.client().ws(format!("{}{path}", self.base()));
        for (name, value) in headers {
            req = req.set_header(*name, *value);
        }
        match req.connect().await {
            Ok((_, framed)) => Ok(WsClient { framed }),
            Err(awc::error::WsClientError::InvalidResponseStatus(status)) => Err(status.as_u16()),
            Err(e) => panic!("{path}: {e}"),
        }
    }
}

impl WsClient {
    /// Sends a JSON text frame.
    pub async fn send_json(&mut self, value: &Value) {
        self.send_text(&value.to_string()).await;
    }

    /// Sends a text frame as it is.
    pub async fn send_text(&mut self, text: &str) {
        self.framed
            .send(Message::Text(text.to_string().into()))
            .await
            .expect("send a text frame");
    }

    /// Sends a binary frame.
    pub async fn send_binary(&mut self, bytes: &[u8]) {
        self.framed
            .send(Message::Binary(bytes.to_vec().into()))
            .await
            .expect("send a binary frame");
    }

    /// Closes the socket politely.
    pub async fn close(mut self) {
        let _ = self
            .framed
            .send(Message::Close(Some(CloseReason {
                code: CloseCode::Normal,
                description: None,
            })))
            .await;
    }

    /// The next text frame or the end, answering pings on the way. Panics if nothing comes
    /// `within`.
    pub async fn next(&mut self, within: Duration) -> Incoming {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let frame = match tokio::time::timeout_at(deadline, self.framed.next()).await {
                Ok(Some(Ok(frame))) => frame,
                Ok(Some(Err(_)) | None) => return Incoming::Ended,
                Err(_) => panic!("no WebSocket frame within {within:?}"),
            };
            match frame {
                Frame::Text(bytes) => {
                    return Incoming::Frame(
                        serde_json::from_slice(&bytes).expect("frames are JSON"),
                    )
                }
                Frame::Ping(bytes) => {
                    let _ = self.framed.send(Message::Pong(bytes)).await;
                }
                Frame::Close(reason) => {
                    return match reason {
                        Some(reason) => Incoming::Closed(
                            u16::from(reason.code),
                            reason.description.unwrap_or_default(),
                        ),
                        None => Incoming::Closed(1005, String::new()),
                    }
                }
                Frame::Pong(_) | Frame::Binary(_) | Frame::Continuation(_) => {}
            }
        }
    }

    /// The next frame of this `type`, skipping others (events while waiting for an answer);
    /// panics if the socket closes first.
    pub async fn next_of(&mut self, kind: &str, within: Duration) -> Value {
        loop {
            let frame = self.next(within).await.frame();
            if frame["type"] == kind {
                return frame;
            }
        }
    }

    /// The next `event` frame's event.
    pub async fn next_event(&mut self, within: Duration) -> Value {
        self.next_of("event", within).await["event"].clone()
    }
}
