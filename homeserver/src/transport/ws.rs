//! WebSocket framing (`GET /api/v1/ws`): the frames the server writes and the client frames it
//! reads. Every frame is a JSON text frame with a `type`.
//!
//! Server frames:
//! - `{"type":"ready","cursor":N}`: authenticated and subscribed; events after `N` follow.
//! - `{"type":"event","event":{…}}`: one per event, with the sync shape: log events in `seq`
//!   order, then ephemeral events (`seq` 0) as in a sync answer.
//! - `{"type":"sent","txn_id"?,"event":{…}}`: answer to a `send` frame (the stored event).
//! - `{"type":"acked","cursor":N}`: answer to an `ack` frame, once it is written.
//! - `{"type":"error","error":{"code","message"},"txn_id"?}`: a client frame was refused; the
//!   socket stays open.
//!
//! Client frames:
//! - `{"type":"auth","token":"…"}`: first, when the upgrade request had no `Authorization`.
//! - `{"type":"send","to":…,"body":…,"kind"?,"meta"?,"reply_to"?,"txn_id"?,"attachments"?}`:
//!   the fields of `POST /api/v1/messages`, with the message's own type (`message`, `action`, `notice`)
//!   spelled `kind`, as `type` names the frame.
//! - `{"type":"ack","seq":N}`: `POST /api/v1/messages/ack`.
//! - `{"type":"typing","target","typing"}` and `{"type":"read","target","id"}`:
//!   `POST /api/v1/typing` and `POST /api/v1/read`.

use federation_proto::api::client::{AckRequest, SendRequest};
use federation_proto::api::ErrorDetail;
use federation_proto::event::Event;
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::services::sync::Batch;

/// A client frame, parsed.
#[derive(Debug)]
pub enum ClientFrame {
    /// The token, for a client that cannot set headers (browsers).
    Auth { token: String },
    /// A message to store, as `POST /api/v1/messages`.
    Send(SendRequest),
    /// Everything up to `seq` is received, as `POST /api/v1/messages/ack`.
    Ack(AckRequest),
    /// As `POST /api/v1/typing`.
    Typing { target: String, typing: bool },
    /// As `POST /api/v1/read`.
    Read { target: String, id: String },
}

/// A client frame that could not be parsed: answered with an error frame.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameError {
    /// Stable snake_case code: `invalid_json`, `invalid_frame` or `unknown_frame`.
    pub code: &'static str,
    /// For people.
    pub message: String,
    /// The frame's `txn_id`, when it had a string one (echoed in the error frame).
    pub txn_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AuthFields {
    token: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TypingFields {
    target: String,
    typing: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReadFields {
    target: String,
    id: String,
}

/// Parses a client text frame.
pub fn parse(text: &str) -> Result<ClientFrame, FrameError> {
    let mut fields: Map<String, Value> = serde_json::from_str(text).map_err(|e| FrameError {
        code: "invalid_json",
        message: format!("a frame is a JSON object with a \"type\": {e}"),
        txn_id: None,
    })?;
    let txn_id = fields
        .get("txn_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let invalid = |message: String| FrameError {
        code: "invalid_frame",
        message,
        txn_id: txn_id.clone(),
    };
    let kind = match fields.remove("type") {
        Some(Value::String(kind)) => kind,
        _ => return Err(invalid("a frame needs a string \"type\"".into())),
    };
    let rest = Value::Object(fields);
    let fields_of = |e: serde_json::Error| invalid(format!("{kind} frame: {e}"));
    match kind.as_str() {
        "auth" => {
            let AuthFields { token } = serde_json::from_value(rest).map_err(fields_of)?;
            Ok(ClientFrame::Auth { token })
        }
        "send" => {
            let Value::Object(mut fields) = rest else {
                return Err(invalid("send frame: not an object".into()));
            };
            // The message's own type travels as `kind`: `type` names the frame.
            if fields.contains_key("type") {
                return Err(invalid(
                    "send frame: spell the message's type \"kind\"".into(),
                ));
            }
            if let Some(message_kind) = fields.remove("kind") {
                fields.insert("type".into(), message_kind);
            }
            let request = serde_json::from_value(Value::Object(fields)).map_err(fields_of)?;
            Ok(ClientFrame::Send(request))
        }
        "ack" => Ok(ClientFrame::Ack(
            serde_json::from_value(rest).map_err(fields_of)?,
        )),
        "typing" => {
            let TypingFields { target, typing } =
                serde_json::from_value(rest).map_err(fields_of)?;
            Ok(ClientFrame::Typing { target, typing })
        }
        "read" => {
            let ReadFields { target, id } = serde_json::from_value(rest).map_err(fields_of)?;
            Ok(ClientFrame::Read { target, id })
        }
        other => Err(FrameError {
            code: "unknown_frame",
            message: format!(
                "unknown frame type {other:?}: expected auth, send, ack, typing or read"
            ),
            txn_id,
        }),
    }
}

/// The batch as `event` frames: its log events, then its ephemeral events.
pub fn event_frames(batch: &Batch) -> impl Iterator<Item = String> + '_ {
    batch
        .events
        .iter()
        .map(|e| &e.json[..])
        .chain(batch.ephemeral.iter().map(|e| &e.json[..]))
        .map(event_frame)
}

/// `{"type":"event","event":<json>}` from an event serialized once (at commit or publication).
fn event_frame(json: &[u8]) -> String {
    const HEAD: &[u8] = br#"{"type":"event","event":"#;
    let mut frame = Vec::with_capacity(HEAD.len() + json.len() + 1);
    frame.extend_from_slice(HEAD);
    frame.extend_from_slice(json);
    frame.push(b'}');
    // serde_json writes UTF-8, so this never copies.
    String::from_utf8(frame)
        .unwrap_or_else(|bad| String::from_utf8_lossy(bad.as_bytes()).into_owned())
}

/// `{"type":"ready","cursor":N}`.
pub fn ready(cursor: i64) -> String {
    format!(r#"{{"type":"ready","cursor":{cursor}}}"#)
}

/// `{"type":"acked","cursor":N}`.
pub fn acked(cursor: i64) -> String {
    format!(r#"{{"type":"acked","cursor":{cursor}}}"#)
}

/// `{"type":"sent","txn_id"?,"event":{…}}`.
pub fn sent(txn_id: Option<&str>, event: &Event) -> String {
    let mut frame = Map::new();
    frame.insert("type".into(), "sent".into());
    if let Some(txn_id) = txn_id {
        frame.insert("txn_id".into(), txn_id.into());
    }
    frame.insert(
        "event".into(),
        serde_json::to_value(event).unwrap_or(Value::Null),
    );
    Value::Object(frame).to_string()
}

/// `{"type":"read","target","last_read","moved"}`: the answer to a `read` frame, as
/// `POST /api/v1/read` answers.
pub fn read(answer: &federation_proto::api::client::ReadResponse) -> String {
    let mut frame = match serde_json::to_value(answer) {
        Ok(Value::Object(map)) => map,
        _ => Map::new(),
    };
    frame.insert("type".into(), "read".into());
    Value::Object(frame).to_string()
}

/// `{"type":"error","error":{"code","message"},"txn_id"?}`.
pub fn error(code: &str, message: &str, txn_id: Option<&str>) -> String {
    let mut frame = Map::new();
    frame.insert("type".into(), "error".into());
    frame.insert(
        "error".into(),
        serde_json::to_value(ErrorDetail {
            code: code.to_string(),
            message: message.to_string(),
        })
        .unwrap_or(Value::Null),
    );
    if let Some(txn_id) = txn_id {
        frame.insert("txn_id".into(), txn_id.into());
    }
    Value::Object(frame).to_string()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::notifier::{Delivered, Ephemeral};

    fn value(frame: &str) -> Value {
        serde_json::from_str(frame).unwrap()
    }

    #[test]
    fn a_batch_is_one_event_frame_per_event_ephemeral_last() {
        let batch = Batch {
            events: vec![Arc::new(Delivered {
                seq: 7,
                ts_ms: 0,
                json: br#"{"seq":7,"body":"a"}"#[..].into(),
            })],
            ephemeral: vec![Arc::new(Ephemeral {
                number: 1,
                expires: Instant::now(),
                json: br#"{"seq":0,"type":"typing"}"#[..].into(),
            })],
            next: 7,
        };
        let frames: Vec<Value> = event_frames(&batch).map(|f| value(&f)).collect();
        assert_eq!(
            frames,
            vec![
                json!({"type": "event", "event": {"seq": 7, "body": "a"}}),
                json!({"type": "event", "event": {"seq": 0, "type": "typing"}}),
            ]
        );
        assert_eq!(event_frames(&Batch::default()).count(), 0);
    }

    #[test]
    fn answers_are_json_with_their_type() {
        assert_eq!(value(&ready(4)), json!({"type": "ready", "cursor": 4}));
        assert_eq!(value(&acked(9)), json!({"type": "acked", "cursor": 9}));
        assert_eq!(
            value(&error("not_member", "say \"hi\"", Some("t1"))),
            json!({"type": "error", "error": {"code": "not_member", "message": "say \"hi\""}, "txn_id": "t1"})
        );
        assert_eq!(
            value(&error("invalid_json", "x", None)),
            json!({"type": "error", "error": {"code": "invalid_json", "message": "x"}})
        );
    }

    #[test]
    fn client_frames_parse_like_their_http_forms() {
        match parse(r#"{"type":"auth","token":"abc"}"#) {
            Ok(ClientFrame::Auth { token }) => assert_eq!(token, "abc"),
            other => panic!("{other:?}"),
        }
        match parse(r##"{"type":"send","to":"#a","body":"hi","kind":"action","txn_id":"t"}"##) {
            Ok(ClientFrame::Send(req)) => {
                assert_eq!(req.to, "#a");
                assert_eq!(req.body, "hi");
                assert_eq!(req.kind.as_deref(), Some("action"));
                assert_eq!(req.txn_id.as_deref(), Some("t"));
            }
            other => panic!("{other:?}"),
        }
        match parse(r#"{"type":"ack","seq":12}"#) {
            Ok(ClientFrame::Ack(ack)) => assert_eq!(ack.seq, 12),
            other => panic!("{other:?}"),
        }
        match parse(r##"{"type":"typing","target":"#a","typing":true}"##) {
            Ok(ClientFrame::Typing { target, typing }) => assert!(target == "#a" && typing),
            other => panic!("{other:?}"),
        }
        match parse(r#"{"type":"read","target":"bob","id":"x"}"#) {
            Ok(ClientFrame::Read { target, id }) => assert!(target == "bob" && id == "x"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_frames_are_errors_with_a_code() {
        let code = |text: &str| parse(text).map(|_| ()).unwrap_err().code;
        assert_eq!(code("not json"), "invalid_json");
        assert_eq!(code("[1,2]"), "invalid_json");
        assert_eq!(code(r#"{"token":"x"}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":5}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":"dance"}"#), "unknown_frame");
        assert_eq!(code(r#"{"type":"ack","seq":"x"}"#), "invalid_frame");
        assert_eq!(code(r#"{"type":"ack"}"#), "invalid_frame");
        assert_eq!(
            code(r#"{"type":"auth","token":"x","extra":1}"#),
            "invalid_frame"
        );
        assert_eq!(
            code(r#"{"type":"send","body":"no target"}"#),
            "invalid_frame"
        );
        let err = parse(r##"{"type":"send","to":"#a","body":"x","colour":1,"txn_id":"t9"}"##)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(err.code, "invalid_frame");
        assert_eq!(err.txn_id.as_deref(), Some("t9"), "errors echo the txn_id");
    }
}
