//! The long-poll sync answer (`GET /api/v1/messages`): `{"events":[…],"next":N}`.
//!
//! `events` holds the batch's log events in `seq` order, then its ephemeral events (`seq` 0).
//! `next` is the log cursor only: the last log event's `seq`, or where the poll started.

use crate::services::sync::Batch;

/// What a waiting poll writes now and then before its answer: leading JSON white space.
pub const KEEP_ALIVE: &[u8] = b" ";

/// The JSON answer, from events serialized once.
pub fn body(batch: &Batch) -> Vec<u8> {
    let size: usize = batch.events.iter().map(|e| e.json.len() + 1).sum::<usize>()
        + batch
            .ephemeral
            .iter()
            .map(|e| e.json.len() + 1)
            .sum::<usize>();
    let mut body = Vec::with_capacity(size + 64);
    body.extend_from_slice(b"{\"events\":[");
    let items = batch
        .events
        .iter()
        .map(|e| &e.json[..])
        .chain(batch.ephemeral.iter().map(|e| &e.json[..]));
    for (i, json) in items.enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(json);
    }
    body.extend_from_slice(format!("],\"next\":{}}}", batch.next).as_bytes());
    body
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use super::*;
    use crate::notifier::{Delivered, Ephemeral};

    fn logged(seq: i64, json: &str) -> Arc<Delivered> {
        Arc::new(Delivered {
            seq,
            ts_ms: 0,
            json: json.as_bytes().into(),
        })
    }

    fn ephemeral(json: &str) -> Arc<Ephemeral> {
        Arc::new(Ephemeral {
            number: 1,
            expires: Instant::now(),
            json: json.as_bytes().into(),
        })
    }

    #[test]
    fn the_body_is_a_sync_response_with_ephemeral_events_last() {
        let batch = Batch {
            events: vec![logged(5, r#"{"a":1}"#), logged(7, r#"{"b":2}"#)],
            ephemeral: vec![ephemeral(r#"{"t":0}"#)],
            next: 7,
        };
        let parsed: serde_json::Value = serde_json::from_slice(&body(&batch)).unwrap();
        assert_eq!(
            parsed,
            serde_json::json!({"events": [{"a": 1}, {"b": 2}, {"t": 0}], "next": 7})
        );
        let empty = Batch {
            next: 3,
            ..Batch::default()
        };
        let parsed: serde_json::Value = serde_json::from_slice(&body(&empty)).unwrap();
        assert_eq!(parsed, serde_json::json!({"events": [], "next": 3}));
        let only_ephemeral = Batch {
            ephemeral: vec![ephemeral(r#"{"t":0}"#)],
            next: 3,
            ..Batch::default()
        };
        let parsed: serde_json::Value = serde_json::from_slice(&body(&only_ephemeral)).unwrap();
        assert_eq!(parsed, serde_json::json!({"events": [{"t": 0}], "next": 3}));
    }
}
