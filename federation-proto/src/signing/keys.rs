//! Key ids, the server's signing key pair and the lookup of other servers' verify keys.

use std::fmt;
use std::str::FromStr;

use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::b64::{b64_decode, b64_encode};

/// The algorithm prefix of every key id.
pub const ED25519_PREFIX: &str = "ed25519:";

/// A key id such as `ed25519:a1`: the algorithm, a colon, and a version of 1–32 characters of
/// `[A-Za-z0-9_]`. Only ed25519 exists.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct KeyId(String);

/// Why a string is not a [`KeyId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyIdError {
    /// It does not start with `ed25519:`.
    #[error("key id must start with \"ed25519:\"")]
    UnknownAlgorithm,
    /// The version is empty or longer than 32 characters.
    #[error("key version must be 1-32 characters long")]
    BadLength,
    /// The version holds a character outside `[A-Za-z0-9_]`.
    #[error("key version may only contain A-Z, a-z, 0-9 and _")]
    BadCharacter,
}

impl KeyId {
    /// Builds `ed25519:<version>`, validating the version.
    pub fn ed25519(version: &str) -> Result<KeyId, KeyIdError> {
        if version.is_empty() || version.len() > 32 {
            return Err(KeyIdError::BadLength);
        }
        if !version
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        {
            return Err(KeyIdError::BadCharacter);
        }
        Ok(KeyId(format!("{ED25519_PREFIX}{version}")))
    }

    /// The whole id, e.g. `ed25519:a1`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The part after `ed25519:`, e.g. `a1`.
    pub fn version(&self) -> &str {
        self.0.get(ED25519_PREFIX.len()..).unwrap_or_default()
    }
}

impl FromStr for KeyId {
    type Err = KeyIdError;

    fn from_str(s: &str) -> Result<KeyId, KeyIdError> {
        let version = s
            .strip_prefix(ED25519_PREFIX)
            .ok_or(KeyIdError::UnknownAlgorithm)?;
        KeyId::ed25519(version)
    }
}

impl fmt::Display for KeyId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for KeyId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Serialize for KeyId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for KeyId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<KeyId, D::Error> {
        let s = String::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A server's ed25519 signing key with its id.
///
/// `Debug` never prints the secret half.
#[derive(Clone)]
pub struct ServerKeyPair {
    key_id: KeyId,
    signing_key: SigningKey,
}

impl ServerKeyPair {
    /// The key pair for a 32-byte secret seed. This crate has no randomness: the homeserver's
    /// key store draws the seed from the operating system.
    pub fn from_seed(key_id: KeyId, seed: [u8; 32]) -> ServerKeyPair {
        ServerKeyPair {
            key_id,
            signing_key: SigningKey::from_bytes(&seed),
        }
    }

    /// The key id, e.g. `ed25519:a1`.
    pub fn key_id(&self) -> &KeyId {
        &self.key_id
    }

    /// The secret key, e.g. to persist its seed with [`SigningKey::to_bytes`].
    pub fn signing_key(&self) -> &SigningKey {
        &self.signing_key
    }

    /// The public key.
    pub fn verifying_key(&self) -> VerifyingKey {
        self.signing_key.verifying_key()
    }

    /// The public key in unpadded base64, as published in key documents.
    pub fn public_key_b64(&self) -> String {
        b64_encode(self.signing_key.verifying_key().as_bytes())
    }

    /// Signs `message` and returns the signature in unpadded base64.
    pub fn sign(&self, message: &[u8]) -> String {
        b64_encode(self.signing_key.sign(message).to_bytes())
    }
}

impl fmt::Debug for ServerKeyPair {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerKeyPair")
            .field("key_id", &self.key_id)
            .field("public_key", &self.public_key_b64())
            .finish_non_exhaustive()
    }
}

/// Why a base64 public key or signature could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyDecodeError {
    /// Not unpadded standard base64.
    #[error("not unpadded standard base64")]
    Base64,
    /// The decoded length is wrong (32 bytes for a key, 64 for a signature).
    #[error("expected {expected} bytes, got {got}")]
    Length {
        /// Expected length.
        expected: usize,
        /// Actual length.
        got: usize,
    },
    /// Not a valid ed25519 point, or a weak (small-order) key.
    #[error("not a valid ed25519 public key")]
    InvalidKey,
}

fn decode_fixed<const N: usize>(text: &str) -> Result<[u8; N], KeyDecodeError> {
    let bytes = b64_decode(text).map_err(|_| KeyDecodeError::Base64)?;
    let got = bytes.len();
    bytes
        .try_into()
        .map_err(|_| KeyDecodeError::Length { expected: N, got })
}

/// Decodes an unpadded base64 ed25519 public key, rejecting weak (small-order) keys.
pub fn verifying_key_from_b64(text: &str) -> Result<VerifyingKey, KeyDecodeError> {
    let key = VerifyingKey::from_bytes(&decode_fixed::<32>(text)?)
        .map_err(|_| KeyDecodeError::InvalidKey)?;
    if key.is_weak() {
        return Err(KeyDecodeError::InvalidKey);
    }
    Ok(key)
}

/// Decodes an unpadded base64 ed25519 signature.
pub fn signature_from_b64(text: &str) -> Result<Signature, KeyDecodeError> {
    Ok(Signature::from_bytes(&decode_fixed::<64>(text)?))
}

/// A verify key of another server, as its key document lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnownKey {
    /// The public key.
    pub key: VerifyingKey,
    /// `None` for a current key (`verify_keys`); for an old key (`old_verify_keys`), the time in
    /// ms since the Unix epoch from which it no longer signs. An old key verifies only what was
    /// signed before that time, and never a request.
    pub expired_ts: Option<u64>,
}

/// Finds other servers' verify keys, e.g. from a cache of their verified key documents.
///
/// Implemented for [`KeyDocument`](crate::keydoc::KeyDocument), for maps from server name to
/// key document, and for closures `Fn(&str, &KeyId) -> Option<KnownKey>`.
pub trait KeyLookup {
    /// The key `key_id` of `server`, current or old, or `None` if it is not known.
    fn lookup(&self, server: &str, key_id: &KeyId) -> Option<KnownKey>;
}

impl<F> KeyLookup for F
where
    F: Fn(&str, &KeyId) -> Option<KnownKey>,
{
    fn lookup(&self, server: &str, key_id: &KeyId) -> Option<KnownKey> {
        self(server, key_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_id_validation() {
        assert_eq!(
            "ed25519:a_1"
                .parse::<KeyId>()
                .map(|k| k.version().to_owned()),
            Ok("a_1".into())
        );
        assert_eq!("ed25519:".parse::<KeyId>(), Err(KeyIdError::BadLength));
        assert_eq!(
            format!("ed25519:{}", "a".repeat(33)).parse::<KeyId>(),
            Err(KeyIdError::BadLength)
        );
        assert!(format!("ed25519:{}", "a".repeat(32))
            .parse::<KeyId>()
            .is_ok());
        assert_eq!(
            "ed25519:a-1".parse::<KeyId>(),
            Err(KeyIdError::BadCharacter)
        );
        assert_eq!("ed25519:é".parse::<KeyId>(), Err(KeyIdError::BadCharacter));
        assert_eq!("rsa:a1".parse::<KeyId>(), Err(KeyIdError::UnknownAlgorithm));
        assert!(serde_json::from_str::<KeyId>("\"ed25519:x y\"").is_err());
    }

    #[test]
    fn key_pair_signs_verifiably() {
        let Ok(id) = KeyId::ed25519("1") else {
            panic!()
        };
        let pair = ServerKeyPair::from_seed(id, [7; 32]);
        let sig = pair.sign(b"msg");
        let Ok(key) = verifying_key_from_b64(&pair.public_key_b64()) else {
            panic!()
        };
        let Ok(sig) = signature_from_b64(&sig) else {
            panic!()
        };
        assert!(key.verify_strict(b"msg", &sig).is_ok());
        assert!(!format!("{pair:?}").contains("signing_key"));
    }

    #[test]
    fn decoding_rejects_bad_keys() {
        assert_eq!(verifying_key_from_b64("!!"), Err(KeyDecodeError::Base64));
        assert_eq!(
            verifying_key_from_b64("AAAA"),
            Err(KeyDecodeError::Length {
                expected: 32,
                got: 3
            })
        );
        // The identity point is a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        assert_eq!(
            verifying_key_from_b64(&b64_encode(identity)),
            Err(KeyDecodeError::InvalidKey)
        );
    }
}
