//! The federation wire, typed: what travels between homeservers and is parsed in this one
//! place (docs/federation.md, "The wire").
//!
//! Signed objects keep their raw JSON beside the typed view: signatures are checked over the
//! canonical form of exactly what the sender signed, unknown fields included, so a newer
//! server's additions survive being stored and passed on. Every type here parses with
//! `TryFrom<Value>` (and serde through it), so a malformed item is an error for that item, not
//! for the whole transaction.
//!
//! - [`WireEvent`]: one event as its origin signed it (the client's view without `seq`, plus
//!   `origin`, `hashes`, `signatures`).
//! - [`Envelope`]: a channel event sequenced and counter-signed by the channel's host, with
//!   the channel's state after it ([`ChannelState`]) when the event changed it.
//! - [`Transaction`] / [`RelayAnswer`]: `POST /api/v1/federation/relay`. A transaction's
//!   `events` are [`TxnItem`]s (direct events, envelopes, and channel submissions from a member
//!   server); `ephemeral` holds [`EphemeralItem`]s (typing, presence, receipts), never stored.
//! - [`Submission`] / [`SubmitAnswer`]: `POST /api/v1/federation/channels/{name}/submit`.
//! - [`EventsAnswer`]: `GET /api/v1/federation/channels/{name}/events?after=N`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::api::client::ChannelInfo;
use crate::api::error::ErrorDetail;
use crate::event::EventKind;
use crate::ids::{ChannelName, Target, UserHandle};
use crate::time::parse_rfc3339_ms;

/// Most events (and envelopes) in one transaction.
pub const TXN_MAX_EVENTS: usize = 50;
/// Most ephemeral items in one transaction.
pub const TXN_MAX_EPHEMERAL: usize = 100;
/// Longest transaction id, in bytes.
pub const TXN_ID_MAX: usize = 128;

/// Why a wire object was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct WireError {
    /// The offending member (`event.id`, `seq`, …).
    pub field: &'static str,
    /// What is wrong with it.
    pub reason: String,
}

impl WireError {
    fn new(field: &'static str, reason: impl Into<String>) -> WireError {
        WireError {
            field,
            reason: reason.into(),
        }
    }
}

fn object(value: Value, field: &'static str) -> Result<Map<String, Value>, WireError> {
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(WireError::new(field, "must be an object")),
    }
}

fn string<'a>(map: &'a Map<String, Value>, field: &'static str) -> Result<&'a str, WireError> {
    map.get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| WireError::new(field, "must be a string"))
}

fn optional_string<'a>(
    map: &'a Map<String, Value>,
    field: &'static str,
) -> Result<Option<&'a str>, WireError> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(WireError::new(field, "must be a string")),
    }
}

fn uuid_field(map: &Map<String, Value>, field: &'static str) -> Result<uuid::Uuid, WireError> {
    uuid::Uuid::parse_str(string(map, field)?).map_err(|_| WireError::new(field, "not a UUID"))
}

fn optional_uuid(
    map: &Map<String, Value>,
    field: &'static str,
) -> Result<Option<uuid::Uuid>, WireError> {
    optional_string(map, field)?
        .map(|s| uuid::Uuid::parse_str(s).map_err(|_| WireError::new(field, "not a UUID")))
        .transpose()
}

fn uint(map: &Map<String, Value>, field: &'static str) -> Result<u64, WireError> {
    map.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| WireError::new(field, "must be a non-negative integer"))
}

/// One event as its origin signed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct WireEvent {
    raw: Map<String, Value>,
    /// Its id (UUID v7 from the origin).
    pub id: uuid::Uuid,
    /// When the origin accepted it (ms since the epoch).
    pub ts_ms: u64,
    /// The sender, a user of `origin`.
    pub from: UserHandle,
    /// A channel (`#name@host`) or a user handle, as the origin wrote it.
    pub to: String,
    /// Its type; a type this build does not know is kept as [`EventKind::Other`].
    pub kind: EventKind,
    /// Its text.
    pub body: String,
    /// Its free-form object.
    pub meta: Map<String, Value>,
    /// The message it answers.
    pub reply_to: Option<uuid::Uuid>,
    /// The message an edit, delete or reaction acts on.
    pub target: Option<uuid::Uuid>,
    /// Media ids.
    pub attachments: Vec<String>,
    /// The server that signed it (`""` before signing).
    pub origin: String,
}

impl WireEvent {
    /// The JSON exactly as received (or signed).
    pub fn raw(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// The JSON as a value (for signature checks and for storing).
    pub fn to_value(&self) -> Value {
        Value::Object(self.raw.clone())
    }

    /// The JSON text, as stored and passed on.
    pub fn to_json(&self) -> String {
        Value::Object(self.raw.clone()).to_string()
    }

    /// `to` as a target (a channel or a user).
    pub fn target_of(&self) -> Result<Target, WireError> {
        self.to
            .parse()
            .map_err(|_| WireError::new("to", "not a channel or a user handle"))
    }

    /// A string member of `meta`.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.meta.get(key).and_then(Value::as_str)
    }
}

impl TryFrom<Value> for WireEvent {
    type Error = WireError;

    fn try_from(value: Value) -> Result<WireEvent, WireError> {
        let raw = object(value, "event")?;
        let id = uuid_field(&raw, "id")?;
        let ts_ms = parse_rfc3339_ms(string(&raw, "ts")?)
            .map_err(|_| WireError::new("ts", "not an RFC 3339 time"))?;
        let from: UserHandle = string(&raw, "from")?
            .parse()
            .map_err(|_| WireError::new("from", "not a user handle"))?;
        if from.server.is_none() {
            return Err(WireError::new("from", "must be nick@server"));
        }
        let to = string(&raw, "to")?.to_string();
        let type_name = string(&raw, "type")?;
        let kind = EventKind::from_wire(type_name)
            .ok_or_else(|| WireError::new("type", format!("{type_name:?} is not a type name")))?;
        let body = optional_string(&raw, "body")?
            .unwrap_or_default()
            .to_string();
        let meta = match raw.get("meta") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::Object(meta)) => meta.clone(),
            Some(_) => return Err(WireError::new("meta", "must be an object")),
        };
        let reply_to = optional_uuid(&raw, "reply_to")?;
        let target = optional_uuid(&raw, "target")?;
        let attachments = match raw.get("attachments") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) => items
                .iter()
                .map(|i| i.as_str().map(str::to_string))
                .collect::<Option<Vec<_>>>()
                .ok_or_else(|| WireError::new("attachments", "must be strings"))?,
            Some(_) => return Err(WireError::new("attachments", "must be an array")),
        };
        let origin = optional_string(&raw, "origin")?
            .unwrap_or_default()
            .to_string();
        Ok(WireEvent {
            id,
            ts_ms,
            from,
            to,
            kind,
            body,
            meta,
            reply_to,
            target,
            attachments,
            origin,
            raw,
        })
    }
}

impl From<WireEvent> for Value {
    fn from(event: WireEvent) -> Value {
        Value::Object(event.raw)
    }
}

/// A channel's state after an envelope's event, as its host sees it. Member servers show it
/// for the channel (`GET /api/v1/channels`) without asking the host.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelState {
    /// The topic.
    pub topic: String,
    /// The channel's modes as members see them (`+nt`, with the key hidden).
    pub modes: String,
    /// Members on every server.
    pub members: i64,
    /// The channel's description (absent from hosts that predate it).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
}

/// A channel event sequenced and counter-signed by the channel's host (see
/// [`crate::signing::sign_envelope`] for the signature).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub struct Envelope {
    raw: Map<String, Value>,
    /// `#name@host`.
    pub channel: ChannelName,
    /// The channel's gap-free sequence number, from 1.
    pub seq: u64,
    /// When the host sequenced it (ms).
    pub ts_ms: u64,
    /// The event as its origin signed it.
    pub event: WireEvent,
    /// The channel's state after the event, when the event changed it.
    pub state: Option<ChannelState>,
}

impl Envelope {
    /// The JSON exactly as received (or signed).
    pub fn to_value(&self) -> Value {
        Value::Object(self.raw.clone())
    }

    /// The channel's host.
    pub fn host(&self) -> &str {
        self.channel
            .server
            .as_ref()
            .map(|s| s.as_str())
            .unwrap_or_default()
    }
}

impl TryFrom<Value> for Envelope {
    type Error = WireError;

    fn try_from(value: Value) -> Result<Envelope, WireError> {
        let raw = object(value, "envelope")?;
        let channel: ChannelName = string(&raw, "channel")?
            .parse()
            .map_err(|_| WireError::new("channel", "not #name@host"))?;
        if channel.server.is_none() {
            return Err(WireError::new("channel", "must be #name@host"));
        }
        let seq = uint(&raw, "seq")?;
        if seq == 0 {
            return Err(WireError::new("seq", "starts at 1"));
        }
        let ts_ms = uint(&raw, "ts")?;
        let event = WireEvent::try_from(raw.get("event").cloned().unwrap_or(Value::Null))?;
        let state = match raw.get("state") {
            None | Some(Value::Null) => None,
            Some(state) => Some(
                serde_json::from_value(state.clone())
                    .map_err(|e| WireError::new("state", e.to_string()))?,
            ),
        };
        Ok(Envelope {
            channel,
            seq,
            ts_ms,
            event,
            state,
            raw,
        })
    }
}

impl From<Envelope> for Value {
    fn from(envelope: Envelope) -> Value {
        Value::Object(envelope.raw)
    }
}

/// One item of a transaction's `events`.
#[derive(Debug, Clone, PartialEq)]
pub enum TxnItem {
    /// A channel event relayed by the channel's host (the transaction's origin).
    Envelope(Envelope),
    /// An event of a user of the origin: a direct message or invitation to a user here, or a
    /// submission to a channel hosted here (today: a member's `nick` change, which must reach
    /// the host even when it is down at the moment of the change).
    Event(WireEvent),
}

impl TxnItem {
    /// Parses one item: an object with `channel` and `event` is an envelope.
    pub fn parse(value: &Value) -> Result<TxnItem, WireError> {
        if value.get("channel").is_some() && value.get("event").is_some() {
            Envelope::try_from(value.clone()).map(TxnItem::Envelope)
        } else {
            WireEvent::try_from(value.clone()).map(TxnItem::Event)
        }
    }

    /// The event id an answer reports for an item, even for one that does not parse.
    pub fn id_of(value: &Value) -> String {
        let inner = match value.get("event") {
            Some(event) if value.get("channel").is_some() => event,
            _ => value,
        };
        inner
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or("?")
            .to_string()
    }
}

/// An ephemeral item: typing, presence or a receipt of a user of the origin, for users here.
/// Authenticated by the transaction's request signature; never stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EphemeralItem {
    /// `typing`, `presence` or `receipt` (other names are ignored by receivers that do not
    /// know them).
    #[serde(rename = "type")]
    pub kind: EventKind,
    /// The user it is about, a user of the origin.
    pub from: String,
    /// The channel or user it is for.
    pub to: String,
    /// Its details (`{"typing": true}`, `{"status": "away"}`, `{"id": "…"}`).
    #[serde(default)]
    pub meta: Map<String, Value>,
    /// When it happened (ms).
    #[serde(default)]
    pub ts: u64,
}

/// `POST /api/v1/federation/relay`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transaction {
    /// The sender's id for it; a repeat is answered with the first answer.
    pub txn_id: String,
    /// The sending server (it must be the request's signer).
    pub origin: String,
    /// Events and envelopes, in order; each is parsed with [`TxnItem::parse`] and answered
    /// on its own.
    #[serde(default)]
    pub events: Vec<Value>,
    /// Ephemeral items; each is parsed on its own and a bad one is skipped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ephemeral: Vec<Value>,
}

impl Transaction {
    /// Checks the limits: a txn id of 1–[`TXN_ID_MAX`] bytes, at most [`TXN_MAX_EVENTS`]
    /// events and [`TXN_MAX_EPHEMERAL`] ephemeral items.
    pub fn check(&self) -> Result<(), WireError> {
        if self.txn_id.is_empty() || self.txn_id.len() > TXN_ID_MAX {
            return Err(WireError::new("txn_id", "must be 1-128 bytes"));
        }
        if self.events.len() > TXN_MAX_EVENTS {
            return Err(WireError::new("events", "at most 50 per transaction"));
        }
        if self.ephemeral.len() > TXN_MAX_EPHEMERAL {
            return Err(WireError::new("ephemeral", "at most 100 per transaction"));
        }
        Ok(())
    }

    /// The ephemeral items that parse.
    pub fn ephemeral_items(&self) -> Vec<EphemeralItem> {
        self.ephemeral
            .iter()
            .filter_map(|v| serde_json::from_value(v.clone()).ok())
            .collect()
    }
}

/// One item's outcome: `{}` or `{"error": {...}}`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ItemResult {
    /// Why it was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorDetail>,
}

/// The answer to a transaction.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct RelayAnswer {
    /// By event id.
    pub results: BTreeMap<String, ItemResult>,
}

/// `POST /api/v1/federation/channels/{name}/submit`: an event of a user of the origin for a
/// channel the receiver hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Submission {
    /// The signed event; its `to` is the channel.
    pub event: WireEvent,
    /// The channel key, for a join of a `+k` channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
}

/// The host's answer to a submission.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SubmitAnswer {
    /// The sequenced event.
    pub envelope: Envelope,
    /// For a join: recent envelopes from before it, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub backfill: Vec<Envelope>,
    /// For a join: the channel as it is now.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub info: Option<ChannelInfo>,
}

/// `GET /api/v1/federation/channels/{name}/events?after=N&limit=L`.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct EventsAnswer {
    /// Envelopes after `N`, in order.
    pub envelopes: Vec<Envelope>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> Value {
        json!({
            "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b",
            "ts": "2026-02-09T20:00:00.000Z",
            "from": "alice@hs1.example",
            "to": "#general@hs1.example",
            "type": "message",
            "body": "hi",
            "meta": {},
            "origin": "hs1.example",
            "future_field": [1, 2]
        })
    }

    #[test]
    fn events_keep_unknown_fields_and_types() {
        let mut raw = event();
        raw["type"] = json!("org.example.poll");
        let parsed = WireEvent::try_from(raw.clone()).unwrap();
        assert_eq!(parsed.kind.as_str(), "org.example.poll");
        assert_eq!(parsed.to_value(), raw);
        let back: Value = serde_json::to_value(&parsed).unwrap();
        assert_eq!(back["future_field"], json!([1, 2]));
    }

    #[test]
    fn malformed_events_name_their_field() {
        let cases = [
            ("id", json!("nope")),
            ("ts", json!(5)),
            ("from", json!("alice")),
            ("type", json!("Not A Type")),
            ("meta", json!([])),
            ("reply_to", json!(3)),
            ("attachments", json!([1])),
        ];
        for (field, bad) in cases {
            let mut raw = event();
            raw[field] = bad;
            let err = WireEvent::try_from(raw).unwrap_err();
            assert_eq!(err.field, field);
        }
        assert!(WireEvent::try_from(json!([])).is_err());
    }

    #[test]
    fn items_are_told_apart_by_shape() {
        let envelope = json!({"channel": "#general@hs1.example", "seq": 3, "ts": 5, "event": event(),
            "state": {"topic": "t", "modes": "+nt", "members": 2}});
        match TxnItem::parse(&envelope).unwrap() {
            TxnItem::Envelope(e) => {
                assert_eq!(e.seq, 3);
                assert_eq!(e.host(), "hs1.example");
                assert_eq!(e.state.unwrap().members, 2);
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            TxnItem::parse(&event()).unwrap(),
            TxnItem::Event(_)
        ));
        assert_eq!(
            TxnItem::id_of(&envelope),
            "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b"
        );
        let mut zero = envelope.clone();
        zero["seq"] = json!(0);
        assert!(TxnItem::parse(&zero).is_err());
        assert_eq!(TxnItem::id_of(&json!({"x": 1})), "?");
    }

    #[test]
    fn transactions_check_their_limits() {
        let txn: Transaction =
            serde_json::from_value(json!({"txn_id": "t1", "origin": "hs1.example"})).unwrap();
        assert!(txn.check().is_ok());
        assert!(txn.events.is_empty() && txn.ephemeral.is_empty());
        let mut big = txn.clone();
        big.events = vec![json!({}); TXN_MAX_EVENTS + 1];
        assert_eq!(big.check().unwrap_err().field, "events");
        let mut empty_id = txn;
        empty_id.txn_id.clear();
        assert_eq!(empty_id.check().unwrap_err().field, "txn_id");
        let with_typing: Transaction = serde_json::from_value(json!({"txn_id": "t", "origin": "o",
            "ephemeral": [{"type": "typing", "from": "a@o", "to": "#c@o", "meta": {"typing": true}}, {"bad": 1}]}))
        .unwrap();
        let items = with_typing.ephemeral_items();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0].kind, EventKind::Typing);
    }

    #[test]
    fn answers_round_trip() {
        let mut answer = RelayAnswer::default();
        answer.results.insert("a".into(), ItemResult::default());
        answer.results.insert(
            "b".into(),
            ItemResult {
                error: Some(ErrorDetail {
                    code: "not_member".into(),
                    message: "no".into(),
                }),
            },
        );
        let text = serde_json::to_string(&answer).unwrap();
        assert_eq!(
            text,
            r#"{"results":{"a":{},"b":{"error":{"code":"not_member","message":"no"}}}}"#
        );
        assert_eq!(serde_json::from_str::<RelayAnswer>(&text).unwrap(), answer);
    }
}
