//! The channel host's counter-signed envelope around a sequenced event.
//!
//! A channel's host is the single writer of its log. When it accepts an event (its own or one
//! submitted by a member's server) it gives the event the channel's next sequence number and
//! wraps it:
//!
//! ```json
//! {
//!   "channel": "#general@hs1.example",
//!   "seq": 4182,
//!   "ts": 1770667200123,
//!   "event": { "…": "the origin's signed event, unchanged" },
//!   "signatures": { "hs1.example": { "ed25519:a1": "<signature>" } }
//! }
//! ```
//!
//! - `channel`: the channel's global name `#name@host`; the host is the part after the last `@`.
//! - `seq`: the gap-free per-channel sequence number (from 1).
//! - `ts`: when the host sequenced the event, integer ms since the epoch. It dates the host's
//!   signature, so that envelopes signed with a host key that was later rotated stay
//!   verifiable exactly as long as events do (old key, `ts` before its `expired_ts`).
//! - `event`: the wire event as its origin signed it; its `to` must be `channel`.
//! - `state` (optional): the channel's topic, modes and member count after the event, for an
//!   event that changed them; member servers show it without asking the host.
//! - `signatures`: the host's signature, made with [`sign_json`] over the
//!   canonical JSON of the envelope without `signatures` and `unsigned`. It covers the whole
//!   inner event, including the origin's signature.
//!
//! Receivers check both signatures with [`verify_envelope`]. An `unsigned` member, if present,
//! is not covered and is for receiver-local data only.

use serde_json::{Map, Value};

use crate::canonical::canonical_object_without;

use super::error::{SigningError, VerifyError};
use super::event::{verify_event, VerifiedEvent, MAX_EVENT_FUTURE_MS};
use super::json::{server_part, sign_json, signature_checks, NOT_SIGNED};
use super::keys::{KeyId, KeyLookup, ServerKeyPair};

/// What [`verify_envelope`] established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEnvelope {
    /// The channel's global name, as in the envelope.
    pub channel: String,
    /// The channel's host, which counter-signed.
    pub host: String,
    /// The host's key that signed the envelope (the first, if several did).
    pub host_key_id: KeyId,
    /// The channel sequence number.
    pub seq: u64,
    /// When the host sequenced the event (ms).
    pub ts_ms: u64,
    /// The verified inner event.
    pub event: VerifiedEvent,
}

/// Wraps a signed event in a sequenced envelope signed by the channel's host.
///
/// `key` must be the host's key: the host is taken from `channel` (`#name@host`). The event is
/// not re-verified here; the host verifies submissions before it sequences them.
pub fn sign_envelope(
    channel: &str,
    seq: u64,
    ts_ms: u64,
    event: Value,
    key: &ServerKeyPair,
) -> Result<Value, SigningError> {
    sign_envelope_with_state(channel, seq, ts_ms, event, None, key)
}

/// [`sign_envelope`] with the channel's `state` after the event (topic, modes, member count:
/// `crate::api::wire::ChannelState`), which the host's signature covers too.
pub fn sign_envelope_with_state(
    channel: &str,
    seq: u64,
    ts_ms: u64,
    event: Value,
    state: Option<Value>,
    key: &ServerKeyPair,
) -> Result<Value, SigningError> {
    let host = channel_host(channel).ok_or(SigningError::BadField { field: "channel" })?;
    if !event.is_object() {
        return Err(SigningError::BadField { field: "event" });
    }
    let mut map = Map::new();
    map.insert("channel".to_owned(), Value::String(channel.to_owned()));
    map.insert("seq".to_owned(), Value::from(seq));
    map.insert("ts".to_owned(), Value::from(ts_ms));
    map.insert("event".to_owned(), event);
    if let Some(state) = state {
        map.insert("state".to_owned(), state);
    }
    let mut envelope = Value::Object(map);
    let host = host.to_owned();
    sign_json(&mut envelope, &host, key)?;
    Ok(envelope)
}

/// Verifies a sequenced envelope: its shape, the host's signature (an old host key only for
/// `ts` before its expiry), that the inner event is addressed to the envelope's channel
/// (ASCII case-insensitively), and the inner event itself with [`verify_event`].
pub fn verify_envelope(
    envelope: &Value,
    keys: &dyn KeyLookup,
    now_ms: u64,
) -> Result<VerifiedEnvelope, VerifyError> {
    let map = envelope
        .as_object()
        .ok_or_else(|| VerifyError::malformed("envelope is not an object"))?;
    let channel = map
        .get("channel")
        .and_then(Value::as_str)
        .ok_or_else(|| VerifyError::malformed("envelope has no string `channel`"))?;
    let host = channel_host(channel)
        .ok_or_else(|| VerifyError::malformed("envelope `channel` is not #name@host"))?;
    let seq = uint_field(map, "seq")?;
    let ts_ms = uint_field(map, "ts")?;
    if ts_ms > now_ms.saturating_add(MAX_EVENT_FUTURE_MS) {
        return Err(VerifyError::FromFuture {
            ts: ts_ms,
            now: now_ms,
            max_skew_ms: MAX_EVENT_FUTURE_MS,
        });
    }
    let event = map
        .get("event")
        .filter(|e| e.is_object())
        .ok_or_else(|| VerifyError::malformed("envelope has no object `event`"))?;
    let event_to = event.get("to").and_then(Value::as_str).unwrap_or_default();
    if !event_to.eq_ignore_ascii_case(channel) {
        return Err(VerifyError::ChannelMismatch {
            channel: channel.to_owned(),
            event_to: event_to.to_owned(),
        });
    }
    let checks = signature_checks(map, host, keys, ts_ms)?;
    let message = canonical_object_without(map, NOT_SIGNED)?;
    for check in &checks {
        check.verify(&message, host)?;
    }
    let host_key_id =
        checks
            .first()
            .map(|c| c.key_id.clone())
            .ok_or_else(|| VerifyError::MissingSignature {
                server: host.to_owned(),
            })?;
    let event = verify_event(event, keys, now_ms)?;
    Ok(VerifiedEnvelope {
        channel: channel.to_owned(),
        host: host.to_owned(),
        host_key_id,
        seq,
        ts_ms,
        event,
    })
}

fn channel_host(channel: &str) -> Option<&str> {
    channel
        .starts_with('#')
        .then(|| server_part(channel))
        .flatten()
}

fn uint_field(map: &Map<String, Value>, field: &str) -> Result<u64, VerifyError> {
    map.get(field)
        .and_then(Value::as_u64)
        .ok_or_else(|| VerifyError::malformed(format!("envelope has no integer `{field}`")))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::signing::event::hash_and_sign_event;
    use crate::signing::keys::KnownKey;

    const NOW: u64 = 1_770_667_200_000;

    fn pair(server: &str) -> ServerKeyPair {
        let Ok(id) = KeyId::ed25519("k") else {
            panic!("bad key id")
        };
        ServerKeyPair::from_seed(id, [server.len() as u8; 32])
    }

    fn keys(server: &str, _: &KeyId) -> Option<KnownKey> {
        Some(KnownKey {
            key: pair(server).verifying_key(),
            expired_ts: None,
        })
    }

    fn envelope() -> Value {
        let mut event = json!({
            "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b",
            "ts": "2026-02-09T20:00:00.000Z",
            "from": "bob@hs22.example",
            "to": "#general@hs1.example",
            "type": "message",
            "body": "hi",
            "meta": {}
        });
        assert!(hash_and_sign_event(&mut event, "hs22.example", &pair("hs22.example")).is_ok());
        match sign_envelope("#general@hs1.example", 7, NOW, event, &pair("hs1.example")) {
            Ok(env) => env,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn envelope_verifies_both_signatures() {
        let v = verify_envelope(&envelope(), &keys, NOW);
        let Ok(v) = v else { panic!("{v:?}") };
        assert_eq!(
            (v.host.as_str(), v.seq, v.event.origin.as_str()),
            ("hs1.example", 7, "hs22.example")
        );
    }

    #[test]
    fn tampering_is_detected() {
        let mut env = envelope();
        env["seq"] = json!(8);
        assert!(matches!(
            verify_envelope(&env, &keys, NOW),
            Err(VerifyError::BadSignature { .. })
        ));

        let mut env = envelope();
        env["event"]["to"] = json!("#other@hs1.example");
        assert!(matches!(
            verify_envelope(&env, &keys, NOW),
            Err(VerifyError::ChannelMismatch { .. })
        ));

        let mut env = envelope();
        env["channel"] = json!("#general@hs22.example");
        assert!(matches!(
            verify_envelope(&env, &keys, NOW),
            Err(VerifyError::ChannelMismatch { .. })
        ));

        let mut env = envelope();
        env["event"]["body"] = json!("bye");
        assert!(matches!(
            verify_envelope(&env, &keys, NOW),
            Err(VerifyError::BadSignature { .. })
        ));

        let old = |server: &str, id: &KeyId| {
            keys(server, id).map(|k| KnownKey {
                expired_ts: Some(NOW),
                ..k
            })
        };
        assert!(matches!(
            verify_envelope(&envelope(), &old, NOW),
            Err(VerifyError::ExpiredKey { .. })
        ));
    }

    #[test]
    fn bad_channels_are_refused() {
        let p = pair("hs1.example");
        assert!(sign_envelope("general@hs1.example", 1, NOW, json!({}), &p).is_err());
        assert!(sign_envelope("#general", 1, NOW, json!({}), &p).is_err());
        assert!(sign_envelope("#general@hs1.example", 1, NOW, json!([]), &p).is_err());
    }
}
