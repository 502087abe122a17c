//! Signing and verifying arbitrary JSON objects (`signatures: {server: {key_id: sig}}`).

use ed25519_dalek::{Signature, VerifyingKey};
use serde_json::{Map, Value};

use crate::canonical::canonical_object_without;

use super::error::{SigningError, VerifyError};
use super::keys::{signature_from_b64, KeyId, KeyLookup, ServerKeyPair};

/// Members that no signature covers: the signatures themselves and receiver-side data.
pub(crate) const NOT_SIGNED: &[&str] = &["signatures", "unsigned"];

/// Signs the canonical JSON of `obj` without `signatures` and `unsigned`, and inserts the
/// signature at `signatures[signer_name][key_id]`, keeping every other signature.
pub fn sign_json(
    obj: &mut Value,
    signer_name: &str,
    key: &ServerKeyPair,
) -> Result<(), SigningError> {
    let map = obj.as_object_mut().ok_or(SigningError::NotAnObject)?;
    let message = canonical_object_without(map, NOT_SIGNED)?;
    let signature = key.sign(&message);
    insert_signature(map, signer_name, key.key_id(), signature)
}

/// Checks that `obj` carries a valid signature by `signer_name` with `key_id`, made with
/// `key` over its canonical JSON without `signatures` and `unsigned`.
pub fn verify_json_signature(
    obj: &Value,
    signer_name: &str,
    key_id: &KeyId,
    key: &VerifyingKey,
) -> Result<(), VerifyError> {
    let map = obj
        .as_object()
        .ok_or_else(|| VerifyError::malformed("signed value is not an object"))?;
    let signature = signatures_of(map, signer_name)?
        .get(key_id.as_str())
        .ok_or_else(|| VerifyError::MissingSignature {
            server: signer_name.to_owned(),
        })?;
    let check = SignatureCheck {
        key_id: key_id.clone(),
        signature: decode_signature(signature, signer_name, key_id)?,
        key: *key,
    };
    let message = canonical_object_without(map, NOT_SIGNED)?;
    check.verify(&message, signer_name)
}

/// Inserts `signatures[signer][key_id] = signature` into an object.
pub(crate) fn insert_signature(
    map: &mut Map<String, Value>,
    signer: &str,
    key_id: &KeyId,
    signature: String,
) -> Result<(), SigningError> {
    let bad = SigningError::BadField {
        field: "signatures",
    };
    let all = map
        .entry("signatures")
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(bad.clone())?;
    let mine = all
        .entry(signer)
        .or_insert_with(|| Value::Object(Map::new()))
        .as_object_mut()
        .ok_or(bad)?;
    mine.insert(key_id.as_str().to_owned(), Value::String(signature));
    Ok(())
}

/// The `signatures[server]` object, or [`VerifyError::MissingSignature`].
fn signatures_of<'a>(
    map: &'a Map<String, Value>,
    server: &str,
) -> Result<&'a Map<String, Value>, VerifyError> {
    let missing = || VerifyError::MissingSignature {
        server: server.to_owned(),
    };
    match map.get("signatures") {
        None => Err(missing()),
        Some(Value::Object(all)) => match all.get(server) {
            None => Err(missing()),
            Some(Value::Object(mine)) => Ok(mine),
            Some(_) => Err(VerifyError::malformed(format!(
                "signatures.{server} is not an object"
            ))),
        },
        Some(_) => Err(VerifyError::malformed("signatures is not an object")),
    }
}

fn decode_signature(value: &Value, server: &str, key_id: &KeyId) -> Result<Signature, VerifyError> {
    value
        .as_str()
        .and_then(|s| signature_from_b64(s).ok())
        .ok_or_else(|| {
            VerifyError::malformed(format!(
                "signature of {server} with {key_id} is not 64 bytes of unpadded base64"
            ))
        })
}

/// One signature to check: by whom, what, with which key.
#[derive(Debug, Clone)]
pub(crate) struct SignatureCheck {
    pub(crate) key_id: KeyId,
    pub(crate) signature: Signature,
    pub(crate) key: VerifyingKey,
}

impl SignatureCheck {
    /// Strict ed25519 verification (rejects non-canonical and small-order components).
    pub(crate) fn verify(&self, message: &[u8], server: &str) -> Result<(), VerifyError> {
        self.key
            .verify_strict(message, &self.signature)
            .map_err(|_| VerifyError::BadSignature {
                server: server.to_owned(),
                key_id: self.key_id.to_string(),
            })
    }
}

/// Collects `server`'s signatures on `map` made with keys that `keys` knows, refusing old
/// keys that expired at or before `signed_ts`.
///
/// Signatures with key ids we cannot parse (another algorithm) are ignored; if none is left
/// that we know, the error is [`VerifyError::UnknownKey`]. Every known key's signature must
/// then verify, not just one.
pub(crate) fn signature_checks(
    map: &Map<String, Value>,
    server: &str,
    keys: &dyn KeyLookup,
    signed_ts: u64,
) -> Result<Vec<SignatureCheck>, VerifyError> {
    let mine = signatures_of(map, server)?;
    let mut checks = Vec::new();
    let mut first_unknown = None;
    for (key_id_text, value) in mine {
        let Ok(key_id) = key_id_text.parse::<KeyId>() else {
            first_unknown.get_or_insert(key_id_text);
            continue;
        };
        let Some(known) = keys.lookup(server, &key_id) else {
            first_unknown.get_or_insert(key_id_text);
            continue;
        };
        if let Some(expired_ts) = known.expired_ts {
            if signed_ts >= expired_ts {
                return Err(VerifyError::ExpiredKey {
                    server: server.to_owned(),
                    key_id: key_id.to_string(),
                    expired_ts,
                    signed_ts,
                });
            }
        }
        checks.push(SignatureCheck {
            signature: decode_signature(value, server, &key_id)?,
            key_id,
            key: known.key,
        });
    }
    if checks.is_empty() {
        return Err(match first_unknown {
            Some(key_id) => VerifyError::UnknownKey {
                server: server.to_owned(),
                key_id: key_id.clone(),
            },
            None => VerifyError::MissingSignature {
                server: server.to_owned(),
            },
        });
    }
    Ok(checks)
}

/// The server part of a handle or global channel name: what follows the last `@`.
pub(crate) fn server_part(name: &str) -> Option<&str> {
    name.rsplit_once('@')
        .map(|(_, server)| server)
        .filter(|server| !server.is_empty())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pair(version: &str, seed: u8) -> ServerKeyPair {
        let Ok(id) = KeyId::ed25519(version) else {
            panic!("bad version")
        };
        ServerKeyPair::from_seed(id, [seed; 32])
    }

    #[test]
    fn sign_then_verify_and_tamper() {
        let a = pair("a", 1);
        let mut obj = json!({"x": 1, "unsigned": {"age": 5}});
        assert_eq!(sign_json(&mut obj, "a.example", &a), Ok(()));
        assert_eq!(
            verify_json_signature(&obj, "a.example", a.key_id(), &a.verifying_key()),
            Ok(())
        );
        // `unsigned` is not covered.
        obj["unsigned"] = json!({"age": 6});
        assert!(verify_json_signature(&obj, "a.example", a.key_id(), &a.verifying_key()).is_ok());
        obj["x"] = json!(2);
        assert!(matches!(
            verify_json_signature(&obj, "a.example", a.key_id(), &a.verifying_key()),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn signatures_accumulate() {
        let (a, b) = (pair("a", 1), pair("b", 2));
        let mut obj = json!({"x": 1});
        assert!(sign_json(&mut obj, "a.example", &a).is_ok());
        assert!(sign_json(&mut obj, "b.example", &b).is_ok());
        assert!(verify_json_signature(&obj, "a.example", a.key_id(), &a.verifying_key()).is_ok());
        assert!(verify_json_signature(&obj, "b.example", b.key_id(), &b.verifying_key()).is_ok());
        assert!(matches!(
            verify_json_signature(&obj, "c.example", a.key_id(), &a.verifying_key()),
            Err(VerifyError::MissingSignature { .. })
        ));
        assert!(matches!(
            verify_json_signature(&obj, "a.example", a.key_id(), &b.verifying_key()),
            Err(VerifyError::BadSignature { .. })
        ));
    }

    #[test]
    fn rejects_unsignable_values() {
        let a = pair("a", 1);
        assert_eq!(
            sign_json(&mut json!([1]), "s", &a),
            Err(SigningError::NotAnObject)
        );
        assert!(matches!(
            sign_json(&mut json!({"f": 0.5}), "s", &a),
            Err(SigningError::Canonical(_))
        ));
        assert_eq!(
            sign_json(&mut json!({"signatures": []}), "s", &a),
            Err(SigningError::BadField {
                field: "signatures"
            })
        );
    }

    #[test]
    fn server_part_takes_the_last_at() {
        assert_eq!(server_part("bob@hs2.example"), Some("hs2.example"));
        assert_eq!(server_part("#a@b@c:80"), Some("c:80"));
        assert_eq!(server_part("bob@"), None);
        assert_eq!(server_part("bob"), None);
    }
}
