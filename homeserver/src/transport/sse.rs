//! Server-Sent Events framing (`GET /api/v1/messages/stream`).
//!
//! A log event is one message, `id: <seq>` and `data: <event JSON>` (compact JSON has no
//! newline). An ephemeral event is a `data:` line alone: without an `id:` field an
//! `EventSource` keeps its last event id, so `Last-Event-ID` on reconnection stays the log
//! cursor. A comment (`:`) keeps idle connections open.

use std::io::Write;

use crate::services::sync::Batch;

/// An SSE comment, written when nothing else was for a while.
pub const KEEP_ALIVE: &[u8] = b":\n\n";

/// The batch as SSE messages: its log events, then its ephemeral events.
pub fn frames(batch: &Batch) -> Vec<u8> {
    let size: usize = batch
        .events
        .iter()
        .map(|e| e.json.len() + 32)
        .sum::<usize>()
        + batch
            .ephemeral
            .iter()
            .map(|e| e.json.len() + 8)
            .sum::<usize>();
    let mut out = Vec::with_capacity(size);
    for event in &batch.events {
        // Writing into a Vec cannot fail.
        let _ = write!(out, "id: {}\ndata: ", event.seq);
        out.extend_from_slice(&event.json);
        out.extend_from_slice(b"\n\n");
    }
    for event in &batch.ephemeral {
        out.extend_from_slice(b"data: ");
        out.extend_from_slice(&event.json);
        out.extend_from_slice(b"\n\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::notifier::{Delivered, Ephemeral};

    #[test]
    fn each_log_event_has_its_seq_as_id_and_ephemeral_events_have_none() {
        let event = |seq, json: &str| {
            Arc::new(Delivered {
                seq,
                ts_ms: 0,
                json: json.as_bytes().into(),
            })
        };
        let batch = Batch {
            events: vec![event(7, r#"{"body":"a"}"#), event(9, r#"{"body":"b"}"#)],
            ephemeral: vec![Arc::new(Ephemeral {
                number: 1,
                expires: Instant::now(),
                json: br#"{"type":"typing"}"#[..].into(),
            })],
            next: 9,
        };
        assert_eq!(
            String::from_utf8(frames(&batch)).unwrap(),
            "id: 7\ndata: {\"body\":\"a\"}\n\nid: 9\ndata: {\"body\":\"b\"}\n\ndata: {\"type\":\"typing\"}\n\n"
        );
        assert!(frames(&Batch::default()).is_empty());
    }
}
