//! Content hashes and origin signatures of events on the wire.
//!
//! An event between servers is the client's view without `seq`, plus `origin`, `hashes` and
//! `signatures`. `hashes.sha256` is the unpadded base64 sha256 of the canonical JSON of the
//! event without `hashes`, `signatures`, `unsigned` and `seq`; the origin signs the canonical
//! JSON without `signatures`, `unsigned` and `seq`, so the signature covers the hash. (`seq` is
//! left out of both so that a receiver that stores its own `seq` in the object does not break
//! them; the signer removes it anyway.)

use ed25519_dalek::{verify_batch, Signature, VerifyingKey};
use serde_json::{Map, Value};

use crate::canonical::canonical_object_without;

use super::b64::content_hash_b64;
use super::error::{SigningError, VerifyError};
use super::json::{insert_signature, server_part, signature_checks, SignatureCheck};
use super::keys::{KeyId, KeyLookup, ServerKeyPair};
use crate::time::parse_rfc3339_ms;

/// Members left out of `hashes.sha256`.
const NOT_HASHED: &[&str] = &["hashes", "signatures", "unsigned", "seq"];
/// Members left out of the origin's signature.
const NOT_SIGNED: &[&str] = &["signatures", "unsigned", "seq"];

/// How far in the future an event's `ts` may be before [`verify_event`] refuses it (5 minutes,
/// the same tolerance as for requests).
pub const MAX_EVENT_FUTURE_MS: u64 = super::request::DEFAULT_MAX_SKEW_MS;

/// What [`verify_event`] established about an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedEvent {
    /// The origin server, which signed it and whose user sent it.
    pub origin: String,
    /// The origin's key that signed it (the first, if several did).
    pub key_id: KeyId,
    /// The event's `ts` in ms since the epoch.
    pub ts_ms: u64,
    /// Its `hashes.sha256`.
    pub sha256: String,
}

/// Makes an event ready to send: removes `seq`, sets `origin`, computes `hashes.sha256` and
/// replaces `signatures` with the origin's signature.
///
/// Refuses events whose `from` is not a user of `origin`, and events without a valid RFC 3339
/// `ts`, since no receiver would accept them.
pub fn hash_and_sign_event(
    event: &mut Value,
    origin: &str,
    key: &ServerKeyPair,
) -> Result<(), SigningError> {
    let map = event.as_object_mut().ok_or(SigningError::NotAnObject)?;
    let from = map
        .get("from")
        .and_then(Value::as_str)
        .ok_or(SigningError::BadField { field: "from" })?;
    let sender_server = server_part(from).ok_or(SigningError::BadField { field: "from" })?;
    if sender_server != origin {
        return Err(SigningError::OriginMismatch {
            origin: origin.to_owned(),
            sender_server: sender_server.to_owned(),
        });
    }
    map.get("ts")
        .and_then(Value::as_str)
        .and_then(|ts| parse_rfc3339_ms(ts).ok())
        .ok_or(SigningError::BadField { field: "ts" })?;
    map.remove("seq");
    map.remove("signatures");
    map.insert("origin".to_owned(), Value::String(origin.to_owned()));
    let hash = content_hash_b64(canonical_object_without(map, NOT_HASHED)?);
    let mut hashes = Map::new();
    hashes.insert("sha256".to_owned(), Value::String(hash));
    map.insert("hashes".to_owned(), Value::Object(hashes));
    let signature = key.sign(&canonical_object_without(map, NOT_SIGNED)?);
    insert_signature(map, origin, key.key_id(), signature)
}

/// The content hash an event should carry in `hashes.sha256`.
pub fn event_content_hash(event: &Value) -> Result<String, VerifyError> {
    let map = as_event(event)?;
    Ok(content_hash_b64(canonical_object_without(map, NOT_HASHED)?))
}

/// Verifies an event received from another server.
///
/// In order: the shape (`origin`, `from`, `ts`, `hashes.sha256`); that `from`'s server part
/// (after the last `@`) is `origin`; that `ts` is not more than [`MAX_EVENT_FUTURE_MS`] ahead
/// of `now_ms`; that `keys` knows a key the origin signed with and, for an old key, that the
/// event's `ts` is before its `expired_ts`; the content hash; the signature(s).
/// Signatures by other servers are ignored here (see [`verify_envelope`](super::verify_envelope)
/// for the channel host's).
pub fn verify_event(
    event: &Value,
    keys: &dyn KeyLookup,
    now_ms: u64,
) -> Result<VerifiedEvent, VerifyError> {
    let prepared = prepare(event, keys, now_ms)?;
    for check in &prepared.checks {
        check.verify(&prepared.message, &prepared.verified.origin)?;
    }
    Ok(prepared.verified)
}

/// [`verify_event`] for many events, with one ed25519 batch verification for all signatures.
///
/// Results are in the order of `events`. If the batch fails, every event is checked on its own
/// so that each gets its precise result. Batch verification accepts the same signatures as
/// single strict verification except ones deliberately built by the key holder with
/// small-order components, which gain the signer nothing.
pub fn verify_events_batch(
    events: &[Value],
    keys: &dyn KeyLookup,
    now_ms: u64,
) -> Vec<Result<VerifiedEvent, VerifyError>> {
    let prepared: Vec<Result<Prepared, VerifyError>> =
        events.iter().map(|e| prepare(e, keys, now_ms)).collect();
    let mut messages: Vec<&[u8]> = Vec::new();
    let mut signatures: Vec<Signature> = Vec::new();
    let mut verifying_keys: Vec<VerifyingKey> = Vec::new();
    for p in prepared.iter().flatten() {
        for check in &p.checks {
            messages.push(&p.message);
            signatures.push(check.signature);
            verifying_keys.push(check.key);
        }
    }
    let batch_ok = messages.len() > 1
        && !verifying_keys.iter().any(VerifyingKey::is_weak)
        && verify_batch(&messages, &signatures, &verifying_keys).is_ok();
    prepared
        .into_iter()
        .map(|p| {
            let p = p?;
            if !batch_ok {
                for check in &p.checks {
                    check.verify(&p.message, &p.verified.origin)?;
                }
            }
            Ok(p.verified)
        })
        .collect()
}

/// An event that passed every check but the signature arithmetic.
struct Prepared {
    verified: VerifiedEvent,
    message: Vec<u8>,
    checks: Vec<SignatureCheck>,
}

fn as_event(event: &Value) -> Result<&Map<String, Value>, VerifyError> {
    event
        .as_object()
        .ok_or_else(|| VerifyError::malformed("event is not an object"))
}

fn string_field<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, VerifyError> {
    map.get(field)
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .ok_or_else(|| VerifyError::malformed(format!("event has no string `{field}`")))
}

fn prepare(event: &Value, keys: &dyn KeyLookup, now_ms: u64) -> Result<Prepared, VerifyError> {
    let map = as_event(event)?;
    let origin = string_field(map, "origin")?;
    let from = string_field(map, "from")?;
    let sender_server =
        server_part(from).ok_or_else(|| VerifyError::malformed("`from` has no server part"))?;
    if sender_server != origin {
        return Err(VerifyError::OriginMismatch {
            origin: origin.to_owned(),
            sender_server: sender_server.to_owned(),
        });
    }
    let ts_ms = parse_rfc3339_ms(string_field(map, "ts")?)
        .map_err(|e| VerifyError::malformed(format!("event `ts`: {e}")))?;
    if ts_ms > now_ms.saturating_add(MAX_EVENT_FUTURE_MS) {
        return Err(VerifyError::FromFuture {
            ts: ts_ms,
            now: now_ms,
            max_skew_ms: MAX_EVENT_FUTURE_MS,
        });
    }
    let claimed = map
        .get("hashes")
        .and_then(|h| h.get("sha256"))
        .and_then(Value::as_str)
        .ok_or_else(|| VerifyError::malformed("event has no string `hashes.sha256`"))?;
    let checks = signature_checks(map, origin, keys, ts_ms)?;
    let computed = content_hash_b64(canonical_object_without(map, NOT_HASHED)?);
    if computed != claimed {
        return Err(VerifyError::HashMismatch {
            claimed: claimed.to_owned(),
            computed,
        });
    }
    let message = canonical_object_without(map, NOT_SIGNED)?;
    let key_id =
        checks
            .first()
            .map(|c| c.key_id.clone())
            .ok_or_else(|| VerifyError::MissingSignature {
                server: origin.to_owned(),
            })?;
    Ok(Prepared {
        verified: VerifiedEvent {
            origin: origin.to_owned(),
            key_id,
            ts_ms,
            sha256: computed,
        },
        message,
        checks,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::signing::keys::KnownKey;

    const NOW: u64 = 1_770_667_200_000; // 2026-02-09T20:00:00Z

    fn pair() -> ServerKeyPair {
        let Ok(id) = KeyId::ed25519("a1") else {
            panic!("bad key id")
        };
        ServerKeyPair::from_seed(id, [3; 32])
    }

    fn event() -> Value {
        json!({
            "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b",
            "seq": 4182,
            "ts": "2026-02-09T20:00:00.000Z",
            "from": "alice@hs1.example",
            "to": "#general@hs1.example",
            "type": "message",
            "body": "Hello, world!",
            "meta": {}
        })
    }

    fn signed() -> Value {
        let mut e = event();
        assert_eq!(hash_and_sign_event(&mut e, "hs1.example", &pair()), Ok(()));
        e
    }

    fn lookup(expired_ts: Option<u64>) -> impl Fn(&str, &KeyId) -> Option<KnownKey> {
        let key = pair().verifying_key();
        move |server: &str, id: &KeyId| {
            (server == "hs1.example" && id.as_str() == "ed25519:a1")
                .then_some(KnownKey { key, expired_ts })
        }
    }

    #[test]
    fn signed_event_verifies() {
        let e = signed();
        assert!(e.get("seq").is_none());
        assert_eq!(e["origin"], "hs1.example");
        let v = verify_event(&e, &lookup(None), NOW);
        assert_eq!(v.as_ref().map(|v| v.ts_ms), Ok(NOW));
        assert_eq!(v.map(|v| v.key_id.to_string()), Ok("ed25519:a1".into()));
    }

    #[test]
    fn receiver_fields_do_not_matter() {
        let mut e = signed();
        e["seq"] = json!(99);
        e["unsigned"] = json!({"age_ms": 5});
        assert!(verify_event(&e, &lookup(None), NOW).is_ok());
    }

    #[test]
    fn failures_are_precise() {
        let keys = lookup(None);
        let mut e = signed();
        e["body"] = json!("Goodbye");
        assert!(matches!(
            verify_event(&e, &keys, NOW),
            Err(VerifyError::HashMismatch { .. })
        ));

        let mut e = signed();
        e["hashes"]["sha256"] = json!(event_content_hash(&e).unwrap_or_default());
        e["signatures"]["hs1.example"]["ed25519:a1"] = json!(pair().sign(b"other"));
        assert!(matches!(
            verify_event(&e, &keys, NOW),
            Err(VerifyError::BadSignature { .. })
        ));

        let mut e = signed();
        e["from"] = json!("mallory@hs2.example");
        assert!(matches!(
            verify_event(&e, &keys, NOW),
            Err(VerifyError::OriginMismatch { .. })
        ));

        let none = |_: &str, _: &KeyId| None;
        assert!(matches!(
            verify_event(&signed(), &none, NOW),
            Err(VerifyError::UnknownKey { .. })
        ));

        let mut e = signed();
        e.as_object_mut().map(|m| m.remove("origin"));
        assert!(matches!(
            verify_event(&e, &keys, NOW),
            Err(VerifyError::Malformed(_))
        ));

        let mut e = signed();
        e.as_object_mut().map(|m| m.remove("signatures"));
        assert!(matches!(
            verify_event(&e, &keys, NOW),
            Err(VerifyError::MissingSignature { .. })
        ));

        let mut e = signed();
        e["meta"] = json!({"x": 1.5});
        assert!(matches!(
            verify_event(&e, &keys, NOW),
            Err(VerifyError::Canonical(_))
        ));

        assert!(matches!(
            verify_event(&signed(), &keys, NOW - MAX_EVENT_FUTURE_MS - 1),
            Err(VerifyError::FromFuture { .. })
        ));
    }

    #[test]
    fn old_keys_verify_only_older_events() {
        let e = signed();
        assert!(verify_event(&e, &lookup(Some(NOW + 1)), NOW).is_ok());
        assert!(matches!(
            verify_event(&e, &lookup(Some(NOW)), NOW),
            Err(VerifyError::ExpiredKey { .. })
        ));
    }

    #[test]
    fn signing_refuses_events_nobody_would_accept() {
        let mut e = event();
        assert!(matches!(
            hash_and_sign_event(&mut e, "hs2.example", &pair()),
            Err(SigningError::OriginMismatch { .. })
        ));
        let mut e = event();
        e["ts"] = json!(12);
        assert_eq!(
            hash_and_sign_event(&mut e, "hs1.example", &pair()),
            Err(SigningError::BadField { field: "ts" })
        );
    }

    #[test]
    fn batch_matches_single() {
        let keys = lookup(None);
        let mut events: Vec<Value> = (0..5)
            .map(|i| {
                let mut e = event();
                e["body"] = json!(format!("message {i}"));
                assert!(hash_and_sign_event(&mut e, "hs1.example", &pair()).is_ok());
                e
            })
            .collect();
        assert!(verify_events_batch(&events, &keys, NOW)
            .iter()
            .all(Result::is_ok));
        events[2]["hashes"]["sha256"] = json!(event_content_hash(&json!({})).unwrap_or_default());
        events[3]["signatures"]["hs1.example"]["ed25519:a1"] = json!(pair().sign(b"x"));
        let results = verify_events_batch(&events, &keys, NOW);
        let singles: Vec<_> = events.iter().map(|e| verify_event(e, &keys, NOW)).collect();
        assert_eq!(results, singles);
        assert!(matches!(results[2], Err(VerifyError::HashMismatch { .. })));
        assert!(matches!(results[3], Err(VerifyError::BadSignature { .. })));
        assert!(results[4].is_ok());
    }
}
