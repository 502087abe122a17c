//! Server key documents (DESIGN.md, "Keys on the wire").
//!
//! A homeserver serves its key document at `GET /api/v1/federation/key` (the directory at
//! `GET /directory/v1/key`):
//!
//! ```json
//! {
//!   "server_name": "hs1.example",
//!   "verify_keys": {"ed25519:a1": {"key": "<public key>"}},
//!   "old_verify_keys": {"ed25519:a0": {"key": "<public key>", "expired_ts": 1767225600000}},
//!   "valid_until_ts": 1767830400000,
//!   "signatures": {"hs1.example": {"ed25519:a1": "<signature>"}}
//! }
//! ```
//!
//! The document is signed by the server's current key(s) over its canonical JSON without
//! `signatures` and `unsigned`. `verify_keys` authenticate requests and events; `old_verify_keys`
//! only events (and envelopes) dated before their `expired_ts`. As in Matrix, a reader trusts a
//! document until `min(valid_until_ts, now + 7 days)` ([`MAX_KEY_VALIDITY_MS`]), and a publisher
//! never sets `valid_until_ts` more than 7 days ahead.
//!
//! Receivers should use [`KeyDocument::verify_self_signed_value`] on the JSON as received, so
//! that fields this version does not know are still covered by the signature check.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::canonical::parse_strict;
use crate::signing::{
    sign_json, verify_json_signature, verifying_key_from_b64, KeyId, KeyLookup, KnownKey,
    ServerKeyPair, SigningError, VerifyError,
};

/// The longest a key document may be trusted for: 7 days, in ms.
pub const MAX_KEY_VALIDITY_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// A current verify key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VerifyKey {
    /// The ed25519 public key, unpadded base64.
    pub key: String,
}

/// A key that no longer signs, kept so that what it signed stays verifiable.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldVerifyKey {
    /// The ed25519 public key, unpadded base64.
    pub key: String,
    /// When it stopped signing, ms since the epoch.
    pub expired_ts: u64,
}

/// A server's self-signed list of verify keys.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyDocument {
    /// The server the keys belong to.
    pub server_name: String,
    /// Current keys, by key id.
    pub verify_keys: BTreeMap<KeyId, VerifyKey>,
    /// Old keys, by key id.
    #[serde(default)]
    pub old_verify_keys: BTreeMap<KeyId, OldVerifyKey>,
    /// Until when (ms since the epoch) the publisher vouches for this list.
    pub valid_until_ts: u64,
    /// `{server_name: {key_id: signature}}`.
    #[serde(default)]
    pub signatures: BTreeMap<String, BTreeMap<String, String>>,
}

impl KeyDocument {
    /// Builds and signs the document of `server_name` with `current` as its only current key
    /// and `old` as `(key id, public key in base64, expired_ts)` triples. `valid_until_ts` is
    /// `now_ms + validity_ms`, with `validity_ms` capped at [`MAX_KEY_VALIDITY_MS`].
    pub fn build_signed(
        server_name: &str,
        current: &ServerKeyPair,
        old: &[(KeyId, String, u64)],
        now_ms: u64,
        validity_ms: u64,
    ) -> Result<KeyDocument, SigningError> {
        let mut doc = KeyDocument {
            server_name: server_name.to_owned(),
            verify_keys: BTreeMap::from([(
                current.key_id().clone(),
                VerifyKey {
                    key: current.public_key_b64(),
                },
            )]),
            old_verify_keys: old
                .iter()
                .filter(|(id, _, _)| id != current.key_id())
                .map(|(id, key, expired_ts)| {
                    let old = OldVerifyKey {
                        key: key.clone(),
                        expired_ts: *expired_ts,
                    };
                    (id.clone(), old)
                })
                .collect(),
            valid_until_ts: now_ms.saturating_add(validity_ms.min(MAX_KEY_VALIDITY_MS)),
            signatures: BTreeMap::new(),
        };
        let mut value = doc.to_value()?;
        sign_json(&mut value, server_name, current)?;
        doc.signatures = value
            .get("signatures")
            .cloned()
            .and_then(|s| serde_json::from_value(s).ok())
            .ok_or(SigningError::BadField {
                field: "signatures",
            })?;
        Ok(doc)
    }

    /// Parses a document received as bytes (strict canonical-JSON rules) and verifies it with
    /// [`verify_self_signed_value`](Self::verify_self_signed_value).
    pub fn parse_and_verify(bytes: &[u8], now_ms: u64) -> Result<KeyDocument, VerifyError> {
        let value = parse_strict(bytes)?;
        Self::verify_self_signed_value(&value, now_ms)
    }

    /// Verifies a document as received and returns it.
    ///
    /// Checks that it has the documented shape with valid key ids and public keys, that no key
    /// id is both current and old, that `valid_until_ts` has not passed, and that it carries
    /// the signature of at least one of its own `verify_keys` — every signature by
    /// `server_name` with a listed current key must verify. Use
    /// [`trusted_until`](Self::trusted_until) for how long to cache it.
    pub fn verify_self_signed_value(
        value: &Value,
        now_ms: u64,
    ) -> Result<KeyDocument, VerifyError> {
        let doc: KeyDocument = serde_json::from_value(value.clone())
            .map_err(|e| VerifyError::malformed(format!("key document: {e}")))?;
        doc.check_keys_and_expiry(now_ms)?;
        let own = doc.signatures.get(&doc.server_name);
        let mut verified = 0;
        for (key_id, VerifyKey { key }) in &doc.verify_keys {
            if own.is_some_and(|sigs| sigs.contains_key(key_id.as_str())) {
                let key = verifying_key_from_b64(key)
                    .map_err(|e| VerifyError::malformed(format!("key {key_id}: {e}")))?;
                verify_json_signature(value, &doc.server_name, key_id, &key)?;
                verified += 1;
            }
        }
        if verified == 0 {
            return Err(match own.and_then(|sigs| sigs.keys().next()) {
                Some(key_id) => VerifyError::UnknownKey {
                    server: doc.server_name.clone(),
                    key_id: key_id.clone(),
                },
                None => VerifyError::MissingSignature {
                    server: doc.server_name.clone(),
                },
            });
        }
        Ok(doc)
    }

    /// [`verify_self_signed_value`](Self::verify_self_signed_value) on this struct. Fields
    /// that the struct does not model are not covered: prefer the `_value` form on input
    /// from the network.
    pub fn verify_self_signed(&self, now_ms: u64) -> Result<(), VerifyError> {
        let value = self
            .to_value()
            .map_err(|e| VerifyError::malformed(e.to_string()))?;
        Self::verify_self_signed_value(&value, now_ms).map(|_| ())
    }

    /// How long the document may be trusted: `min(valid_until_ts, now + 7 days)`.
    pub fn trusted_until(&self, now_ms: u64) -> u64 {
        self.valid_until_ts
            .min(now_ms.saturating_add(MAX_KEY_VALIDITY_MS))
    }

    /// The document as JSON.
    pub fn to_value(&self) -> Result<Value, SigningError> {
        serde_json::to_value(self).map_err(|_| SigningError::NotAnObject)
    }

    fn check_keys_and_expiry(&self, now_ms: u64) -> Result<(), VerifyError> {
        if self.server_name.is_empty() {
            return Err(VerifyError::malformed(
                "key document has an empty server_name",
            ));
        }
        if self.verify_keys.is_empty() {
            return Err(VerifyError::malformed("key document has no verify_keys"));
        }
        for (key_id, VerifyKey { key }) in &self.verify_keys {
            verifying_key_from_b64(key)
                .map_err(|e| VerifyError::malformed(format!("key {key_id}: {e}")))?;
            if self.old_verify_keys.contains_key(key_id) {
                return Err(VerifyError::malformed(format!(
                    "key {key_id} is both current and old"
                )));
            }
        }
        for (key_id, old) in &self.old_verify_keys {
            verifying_key_from_b64(&old.key)
                .map_err(|e| VerifyError::malformed(format!("old key {key_id}: {e}")))?;
        }
        if self.valid_until_ts < now_ms {
            return Err(VerifyError::KeyDocumentExpired {
                valid_until_ts: self.valid_until_ts,
                now: now_ms,
            });
        }
        Ok(())
    }
}

/// A verified key document answers for its own server's keys. Keys that fail to decode are
/// treated as unknown.
impl KeyLookup for KeyDocument {
    fn lookup(&self, server: &str, key_id: &KeyId) -> Option<KnownKey> {
        if server != self.server_name {
            return None;
        }
        if let Some(current) = self.verify_keys.get(key_id) {
            return verifying_key_from_b64(&current.key)
                .ok()
                .map(|key| KnownKey {
                    key,
                    expired_ts: None,
                });
        }
        let old = self.old_verify_keys.get(key_id)?;
        verifying_key_from_b64(&old.key).ok().map(|key| KnownKey {
            key,
            expired_ts: Some(old.expired_ts),
        })
    }
}

/// A cache of verified key documents, keyed by server name.
impl KeyLookup for BTreeMap<String, KeyDocument> {
    fn lookup(&self, server: &str, key_id: &KeyId) -> Option<KnownKey> {
        self.get(server)?.lookup(server, key_id)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_767_225_600_000;
    const DAY: u64 = 24 * 60 * 60 * 1000;

    fn key(version: &str, seed: u8) -> ServerKeyPair {
        let Ok(id) = KeyId::ed25519(version) else {
            panic!("bad version")
        };
        ServerKeyPair::from_seed(id, [seed; 32])
    }

    fn doc() -> KeyDocument {
        let old = key("a0", 1);
        let old = [(old.key_id().clone(), old.public_key_b64(), NOW - DAY)];
        match KeyDocument::build_signed("hs1.example", &key("a1", 2), &old, NOW, DAY) {
            Ok(d) => d,
            Err(e) => panic!("{e}"),
        }
    }

    fn value() -> Value {
        match doc().to_value() {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn has_the_documented_shape() {
        let v = value();
        let keys: Vec<&String> = v
            .as_object()
            .map(|m| m.keys().collect())
            .unwrap_or_default();
        assert_eq!(
            keys,
            [
                "old_verify_keys",
                "server_name",
                "signatures",
                "valid_until_ts",
                "verify_keys"
            ]
        );
        assert_eq!(
            v["verify_keys"]["ed25519:a1"]["key"],
            key("a1", 2).public_key_b64()
        );
        assert_eq!(v["old_verify_keys"]["ed25519:a0"]["expired_ts"], NOW - DAY);
        assert_eq!(v["valid_until_ts"], NOW + DAY);
        assert!(v["signatures"]["hs1.example"]["ed25519:a1"].is_string());
    }

    #[test]
    fn verifies_and_looks_up_keys() {
        let d = doc();
        assert_eq!(d.verify_self_signed(NOW), Ok(()));
        let bytes = serde_json::to_vec(&d).unwrap_or_default();
        assert_eq!(KeyDocument::parse_and_verify(&bytes, NOW).as_ref(), Ok(&d));
        let a0 = key("a0", 1);
        assert_eq!(
            d.lookup("hs1.example", a0.key_id()),
            Some(KnownKey {
                key: a0.verifying_key(),
                expired_ts: Some(NOW - DAY)
            })
        );
        assert_eq!(d.lookup("hs2.example", a0.key_id()), None);
    }

    #[test]
    fn validity_is_capped_at_seven_days() {
        let Ok(d) = KeyDocument::build_signed("s", &key("a", 1), &[], NOW, 30 * DAY) else {
            panic!("build failed")
        };
        assert_eq!(d.valid_until_ts, NOW + MAX_KEY_VALIDITY_MS);
        // A document claiming 30 days (a lying publisher): still capped on read.
        let mut far = doc();
        far.valid_until_ts = NOW + 30 * DAY;
        assert_eq!(far.trusted_until(NOW), NOW + MAX_KEY_VALIDITY_MS);
        assert_eq!(doc().trusted_until(NOW), NOW + DAY);
    }

    #[test]
    fn rejects_bad_documents() {
        let check = |v: &Value| KeyDocument::verify_self_signed_value(v, NOW);
        let mut v = value();
        v["valid_until_ts"] = json!(NOW + 2 * DAY);
        assert!(matches!(check(&v), Err(VerifyError::BadSignature { .. })));
        let mut v = value();
        v["extra"] = json!("not in the struct, still signed over");
        assert!(matches!(check(&v), Err(VerifyError::BadSignature { .. })));
        assert!(matches!(
            KeyDocument::verify_self_signed_value(&value(), NOW + DAY + 1),
            Err(VerifyError::KeyDocumentExpired { .. })
        ));
        let mut v = value();
        v["server_name"] = json!("hs2.example");
        assert!(matches!(
            check(&v),
            Err(VerifyError::MissingSignature { .. })
        ));
        let mut v = value();
        v["signatures"] = json!({"hs1.example": {"ed25519:zz": "AAAA"}});
        assert!(matches!(check(&v), Err(VerifyError::UnknownKey { .. })));
        let mut v = value();
        v["verify_keys"]["ed25519:a1"]["key"] = json!("AAAA");
        assert!(matches!(check(&v), Err(VerifyError::Malformed(_))));
        let mut v = value();
        v["old_verify_keys"]["ed25519:a1"] = v["verify_keys"]["ed25519:a1"].clone();
        v["old_verify_keys"]["ed25519:a1"]["expired_ts"] = json!(1);
        assert!(matches!(check(&v), Err(VerifyError::Malformed(_))));
        let mut v = value();
        v["verify_keys"] = json!({"bad id": {"key": key("a1", 2).public_key_b64()}});
        assert!(matches!(check(&v), Err(VerifyError::Malformed(_))));
        assert!(matches!(
            KeyDocument::parse_and_verify(br#"{"server_name":"a","server_name":"b"}"#, NOW),
            Err(VerifyError::Canonical(_))
        ));
    }
}
