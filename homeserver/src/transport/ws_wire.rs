//! WebSocket frames on the wire (RFC 6455), for the socket whose response body owns its state
//! (`crate::routes::ws`): [`Reader`] turns the upgraded request's payload into whole client
//! messages (continuations put together, at most a size limit), and the `write_*` functions
//! append server frames to the bytes the body writes next. Both use actix-http's frame
//! [`Parser`]; there is no channel and no task per socket.
//!
//! An idle socket holds a [`Reader`] with no buffer: what a frame brought is released once it
//! is parsed, so a socket that only answers pings keeps no memory for them.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use actix_http::ws::{CloseReason, OpCode, Parser, ProtocolError};
use actix_web::dev::Payload;
use actix_web::web::{Bytes, BytesMut};
use futures_util::Stream;

/// A control frame's payload is at most 125 bytes; a close reason 2 fewer (its code).
const MAX_CLOSE_REASON: usize = 123;

/// A whole client message.
#[derive(Debug, PartialEq, Eq)]
pub enum Incoming {
    /// A text message (UTF-8 checked).
    Text(String),
    /// A binary message (its content is not kept).
    Binary,
    /// A ping, with its payload to echo.
    Ping(Bytes),
    /// A pong.
    Pong,
    /// The client's close frame.
    Close,
}

/// Reads client messages from the upgraded request's payload.
pub struct Reader {
    payload: Payload,
    /// Bytes of a frame not complete yet; empty (no allocation) between frames.
    buf: BytesMut,
    /// A fragmented message being put together: whether it is text, and its bytes so far.
    partial: Option<(bool, BytesMut)>,
    /// The largest frame, and the largest message put together from fragments.
    limit: usize,
    /// The payload ended (the client hung up or closed its side).
    ended: bool,
}

impl Reader {
    /// Reads from `payload`; frames and messages larger than `limit` bytes are refused
    /// ([`ProtocolError::Overflow`]).
    pub fn new(payload: Payload, limit: usize) -> Reader {
        Reader {
            payload,
            buf: BytesMut::new(),
            partial: None,
            limit,
            ended: false,
        }
    }

    /// The next whole message; `None` once the client has gone. Cancel-safe: everything read
    /// stays in the reader.
    pub async fn next(&mut self) -> Option<Result<Incoming, ProtocolError>> {
        std::future::poll_fn(|cx| self.poll_message(cx)).await
    }

    fn poll_message(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Incoming, ProtocolError>>> {
        loop {
            if let Some((fin, op, data)) = Parser::parse(&mut self.buf, true, self.limit)? {
                if self.buf.is_empty() {
                    // Let go of the allocation the frame came in.
                    self.buf = BytesMut::new();
                }
                if let Some(message) = self.assemble(fin, op, data)? {
                    return Poll::Ready(Some(Ok(message)));
                }
                continue;
            }
            if self.ended {
                return Poll::Ready(None);
            }
            match Pin::new(&mut self.payload).poll_next(cx) {
                // Copied: keeping the chunk would keep the connection's read buffer alive.
                Poll::Ready(Some(Ok(bytes))) => self.buf.extend_from_slice(&bytes),
                Poll::Ready(Some(Err(e))) => {
                    self.ended = true;
                    return Poll::Ready(Some(Err(ProtocolError::Io(io::Error::other(
                        e.to_string(),
                    )))));
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => return Poll::Pending,
            }
        }
    }

    /// One frame: a whole message, or `None` while a fragmented one is being put together.
    fn assemble(
        &mut self,
        fin: bool,
        op: OpCode,
        data: Option<BytesMut>,
    ) -> Result<Option<Incoming>, ProtocolError> {
        let data = data.unwrap_or_default();
        match op {
            OpCode::Continue => {
                let Some((_, so_far)) = self.partial.as_mut() else {
                    return Err(ProtocolError::ContinuationNotStarted);
                };
                if so_far.len() + data.len() > self.limit {
                    self.partial = None;
                    return Err(ProtocolError::Overflow);
                }
                so_far.extend_from_slice(&data);
                if !fin {
                    return Ok(None);
                }
                match self.partial.take() {
                    Some((true, text)) => text_message(text).map(Some),
                    _ => Ok(Some(Incoming::Binary)),
                }
            }
            OpCode::Text | OpCode::Binary if !fin => {
                if self.partial.is_some() {
                    return Err(ProtocolError::ContinuationStarted);
                }
                self.partial = Some((op == OpCode::Text, data));
                Ok(None)
            }
            OpCode::Text => text_message(data).map(Some),
            OpCode::Binary => Ok(Some(Incoming::Binary)),
            OpCode::Ping => Ok(Some(Incoming::Ping(data.freeze()))),
            OpCode::Pong => Ok(Some(Incoming::Pong)),
            OpCode::Close => Ok(Some(Incoming::Close)),
            OpCode::Bad => Err(ProtocolError::BadOpCode),
        }
    }
}

fn text_message(data: BytesMut) -> Result<Incoming, ProtocolError> {
    String::from_utf8(data.to_vec())
        .map(Incoming::Text)
        .map_err(|e| ProtocolError::Io(io::Error::new(io::ErrorKind::InvalidData, e)))
}

/// Appends a text frame.
pub fn write_text(out: &mut BytesMut, text: &str) {
    Parser::write_message(out, text, OpCode::Text, true, false);
}

/// Appends a ping (empty payload).
pub fn write_ping(out: &mut BytesMut) {
    Parser::write_message(out, b"", OpCode::Ping, true, false);
}

/// Appends the pong answering a ping with `payload`.
pub fn write_pong(out: &mut BytesMut, payload: &[u8]) {
    Parser::write_message(out, payload, OpCode::Pong, true, false);
}

/// Appends a close frame; a description longer than a control frame allows is cut (at a
/// character boundary).
pub fn write_close(out: &mut BytesMut, mut reason: CloseReason) {
    if let Some(description) = reason.description.as_mut() {
        if description.len() > MAX_CLOSE_REASON {
            let mut end = MAX_CLOSE_REASON;
            while !description.is_char_boundary(end) {
                end -= 1;
            }
            description.truncate(end);
        }
    }
    Parser::write_close(out, Some(reason), false);
}

#[cfg(test)]
mod tests {
    use actix_http::ws::CloseCode;
    use actix_web::error::PayloadError;
    use futures_util::stream;

    use super::*;

    /// A client frame (masked, as clients send them).
    fn client_frame(op: OpCode, fin: bool, payload: &[u8]) -> Bytes {
        let mut out = BytesMut::new();
        Parser::write_message(&mut out, payload, op, fin, true);
        out.freeze()
    }

    fn reader(chunks: Vec<Bytes>, limit: usize) -> Reader {
        let chunks = chunks.into_iter().map(Ok::<_, PayloadError>);
        Reader::new(Payload::from(stream::iter(chunks).boxed_local()), limit)
    }

    use futures_util::StreamExt as _;

    #[actix_web::test]
    async fn frames_split_anywhere_come_out_as_whole_messages() {
        let mut wire = BytesMut::new();
        wire.extend_from_slice(&client_frame(OpCode::Text, true, b"hello"));
        wire.extend_from_slice(&client_frame(OpCode::Ping, true, b"p"));
        wire.extend_from_slice(&client_frame(OpCode::Text, false, b"fr"));
        wire.extend_from_slice(&client_frame(OpCode::Pong, true, b""));
        wire.extend_from_slice(&client_frame(OpCode::Continue, false, b"ag"));
        wire.extend_from_slice(&client_frame(OpCode::Continue, true, b"ments"));
        wire.extend_from_slice(&client_frame(OpCode::Binary, true, b"\x00"));
        wire.extend_from_slice(&client_frame(OpCode::Close, true, b""));
        let wire = wire.freeze();
        // One byte at a time: every frame straddles chunks.
        let chunks = (0..wire.len()).map(|i| wire.slice(i..i + 1)).collect();
        let mut reader = reader(chunks, 1024);
        let mut got = Vec::new();
        while let Some(message) = reader.next().await {
            got.push(message.unwrap());
        }
        assert_eq!(
            got,
            vec![
                Incoming::Text("hello".into()),
                Incoming::Ping(Bytes::from_static(b"p")),
                Incoming::Pong,
                Incoming::Text("fragments".into()),
                Incoming::Binary,
                Incoming::Close,
            ]
        );
        assert_eq!(reader.buf.capacity(), 0, "nothing kept between frames");
    }

    #[actix_web::test]
    async fn too_large_bad_utf8_and_stray_continuations_are_errors() {
        let big = client_frame(OpCode::Text, true, &[b'x'; 100]);
        assert!(matches!(
            reader(vec![big], 50).next().await,
            Some(Err(ProtocolError::Overflow))
        ));
        let parts = vec![
            client_frame(OpCode::Text, false, &[b'x'; 40]),
            client_frame(OpCode::Continue, true, &[b'x'; 40]),
        ];
        assert!(matches!(
            reader(parts, 50).next().await,
            Some(Err(ProtocolError::Overflow))
        ));
        let bad = client_frame(OpCode::Text, true, b"\xff\xfe");
        assert!(matches!(
            reader(vec![bad], 50).next().await,
            Some(Err(ProtocolError::Io(e))) if e.kind() == io::ErrorKind::InvalidData
        ));
        let stray = client_frame(OpCode::Continue, true, b"x");
        assert!(matches!(
            reader(vec![stray], 50).next().await,
            Some(Err(ProtocolError::ContinuationNotStarted))
        ));
        assert!(reader(vec![], 50).next().await.is_none(), "hung up");
    }

    #[test]
    fn server_frames_are_unmasked_and_close_reasons_fit_a_control_frame() {
        let mut out = BytesMut::new();
        write_text(&mut out, "hi");
        assert_eq!(&out[..], b"\x81\x02hi");
        out.clear();
        write_close(
            &mut out,
            CloseReason {
                code: CloseCode::Other(4401),
                description: Some("é".repeat(100)),
            },
        );
        // FIN + close, then a 7-bit length: code (2) + at most 123 bytes.
        assert_eq!(out[0], 0x88);
        assert!(usize::from(out[1]) <= 125, "{}", out[1]);
        assert_eq!(&out[2..4], &4401u16.to_be_bytes());
        assert!(std::str::from_utf8(&out[4..]).is_ok());
    }
}
