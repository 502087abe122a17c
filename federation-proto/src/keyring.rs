//! A server's signing keys and their key file, without the file: the homeserver and the
//! directory keep their keys the same way, and both read and write the file through thin
//! wrappers (`homeserver::keystore`, `directory::keyfile`) around this module.
//!
//! # The key file
//!
//! `DATA_DIR/signing.key` ([`KEY_FILE_NAME`]) is created at first start with owner-only
//! permissions (0600) and holds the current key's secret seed and the public halves of the keys
//! it replaced:
//!
//! ```text
//! # Hearth homeserver signing keys. SECRET: keep owner-only (0600), back it up.
//! current ed25519:3fa9c21b <32-byte seed, unpadded standard base64>
//! old ed25519:0c1d2e3f <public key, unpadded standard base64> <expired_ts, ms since epoch>
//! ```
//!
//! After a rotation the file also holds, until the directory has accepted the new key, the
//! replaced key's secret: `previous ed25519:0c1d2e3f <seed>` (a directory only accepts a new
//! key in a registration that the key on record signed too).
//!
//! One key per line, fields separated by single spaces; blank lines and lines starting with `#`
//! are ignored. There is exactly one `current` line, at most one `previous` line and any number
//! of `old` lines. Key ids are `ed25519:` and eight random hex digits ([`key_id_from`]).
//!
//! What the wrappers do with the file (this module decides what it says, they only move
//! bytes): it is always replaced atomically (write a temporary file named by
//! [`temp_file_name`] in the same directory, fsync, rename; a first key is hard-linked into
//! place so that two processes starting at once end up with the same key), and a file that
//! [`is_owner_only`] refuses is not used.
//!
//! # Rotation
//!
//! [`KeyRing::rotate`]: a new key becomes current and the old one moves to the `old` lines with
//! `expired_ts` = now. Old keys stay in the published key document (`old_verify_keys`), so what
//! they signed before the rotation stays verifiable; they never sign again.
//!
//! No I/O here: randomness (seeds, key ids) and the time are passed in.

use crate::keydoc::KeyDocument;
use crate::signing::{
    b64_decode, b64_encode, verifying_key_from_b64, KeyId, ServerKeyPair, SigningError,
};

/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "signing.key";

/// How long a served key document is valid for: one day, as Synapse does. Peers refetch it
/// after that; the protocol's ceiling is seven days.
pub const KEY_DOCUMENT_VALIDITY_MS: u64 = 24 * 60 * 60 * 1000;

/// Why a key file's text is not a key ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {reason}")]
pub struct KeyFileError {
    /// 1-based line number (0 for the file as a whole).
    pub line: usize,
    /// What is wrong.
    pub reason: String,
}

/// A key that no longer signs, kept so that what it signed stays verifiable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OldKey {
    /// Its key id.
    pub key_id: KeyId,
    /// The public key, unpadded standard base64.
    pub public_key: String,
    /// When it stopped signing, ms since the epoch.
    pub expired_ts: u64,
}

/// The current signing key, the keys it replaced and, after a rotation, the replaced secret.
/// `Debug` never shows a secret.
#[derive(Debug, Clone)]
pub struct KeyRing {
    current: ServerKeyPair,
    old: Vec<OldKey>,
    previous: Option<ServerKeyPair>,
}

/// The key id `ed25519:` + eight hex digits of `random`.
pub fn key_id_from(random: [u8; 4]) -> KeyId {
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    match KeyId::ed25519(&hex) {
        Ok(id) => id,
        // Eight hex digits are always a valid version.
        Err(_) => unreachable!("hex key version"),
    }
}

/// The name of a temporary key file in the data directory (renamed or linked into place).
pub fn temp_file_name(random: [u8; 4]) -> String {
    let hex: String = random.iter().map(|b| format!("{b:02x}")).collect();
    format!(".{KEY_FILE_NAME}.{hex}.tmp")
}

/// Whether a key file with these Unix permission bits may be used: nobody but its owner may
/// read or write it.
pub fn is_owner_only(mode: u32) -> bool {
    mode & 0o077 == 0
}

impl KeyRing {
    /// A ring with one key and no history.
    pub fn new(current: ServerKeyPair) -> KeyRing {
        KeyRing {
            current,
            old: Vec::new(),
            previous: None,
        }
    }

    /// The key that signs events, requests and the key document.
    pub fn current(&self) -> &ServerKeyPair {
        &self.current
    }

    /// Keys that no longer sign, oldest first.
    pub fn old_keys(&self) -> &[OldKey] {
        &self.old
    }

    /// The key replaced by the last rotation, while the directory may still have it on record.
    pub fn previous(&self) -> Option<&ServerKeyPair> {
        self.previous.as_ref()
    }

    /// Whether `key_id` is the current key's or an old key's.
    pub fn is_taken(&self, key_id: &KeyId) -> bool {
        self.current.key_id() == key_id || self.old.iter().any(|k| &k.key_id == key_id)
    }

    /// Makes `new` the current key; the replaced one is kept as old with `expired_ts = now_ms`
    /// and as `previous` (unless an earlier rotation's `previous` is still there: that is the
    /// key a directory has on record). Refuses a key id that is already taken, leaving the ring
    /// as it was.
    pub fn rotate(&mut self, new: ServerKeyPair, now_ms: u64) -> Result<(), KeyFileError> {
        if self.is_taken(new.key_id()) {
            return Err(KeyFileError {
                line: 0,
                reason: format!("key id {} is already in use", new.key_id()),
            });
        }
        let replaced = std::mem::replace(&mut self.current, new);
        self.old.push(OldKey {
            key_id: replaced.key_id().clone(),
            public_key: replaced.public_key_b64(),
            expired_ts: now_ms,
        });
        if self.previous.is_none() {
            self.previous = Some(replaced);
        }
        Ok(())
    }

    /// Forgets the replaced key's secret (the directory has accepted the current key); `true`
    /// if there was one.
    pub fn forget_previous(&mut self) -> bool {
        self.previous.take().is_some()
    }

    /// The signed key document, valid for [`KEY_DOCUMENT_VALIDITY_MS`] from `now_ms`.
    pub fn key_document(
        &self,
        server_name: &str,
        now_ms: u64,
    ) -> Result<KeyDocument, SigningError> {
        let old: Vec<(KeyId, String, u64)> = self
            .old
            .iter()
            .map(|k| (k.key_id.clone(), k.public_key.clone(), k.expired_ts))
            .collect();
        KeyDocument::build_signed(
            server_name,
            &self.current,
            &old,
            now_ms,
            KEY_DOCUMENT_VALIDITY_MS,
        )
    }

    /// The key file's text.
    pub fn to_key_file(&self) -> String {
        let mut out = String::from(
            "# Hearth homeserver signing keys. SECRET: keep owner-only (0600), back it up.\n\
             # current <key id> <seed, unpadded base64>\n\
             # old <key id> <public key, unpadded base64> <expired_ts, ms since epoch>\n",
        );
        out.push_str(&format!(
            "current {} {}\n",
            self.current.key_id(),
            b64_encode(self.current.signing_key().to_bytes())
        ));
        if let Some(previous) = &self.previous {
            out.push_str(&format!(
                "previous {} {}\n",
                previous.key_id(),
                b64_encode(previous.signing_key().to_bytes())
            ));
        }
        for k in &self.old {
            out.push_str(&format!(
                "old {} {} {}\n",
                k.key_id, k.public_key, k.expired_ts
            ));
        }
        out
    }

    /// Parses a key file's text; errors carry the 1-based line number.
    pub fn from_key_file(text: &str) -> Result<KeyRing, KeyFileError> {
        let err = |line: usize, reason: String| KeyFileError { line, reason };
        let mut current = None;
        let mut previous = None;
        let mut old: Vec<OldKey> = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end_matches('\r');
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let fields: Vec<&str> = line.split(' ').collect();
            let key_id = |text: &str| -> Result<KeyId, KeyFileError> {
                text.parse()
                    .map_err(|e| err(n, format!("key id {text:?}: {e}")))
            };
            match fields.as_slice() {
                [which @ ("current" | "previous"), id, seed] => {
                    let slot = if *which == "current" {
                        &mut current
                    } else {
                        &mut previous
                    };
                    if slot.is_some() {
                        return Err(err(n, format!("a second `{which}` key")));
                    }
                    let seed: [u8; 32] = b64_decode(seed)
                        .ok()
                        .and_then(|bytes| bytes.try_into().ok())
                        .ok_or_else(|| {
                            err(n, "the seed is not 32 bytes of unpadded base64".to_owned())
                        })?;
                    *slot = Some(ServerKeyPair::from_seed(key_id(id)?, seed));
                }
                ["old", id, public_key, expired_ts] => {
                    verifying_key_from_b64(public_key)
                        .map_err(|e| err(n, format!("old public key: {e}")))?;
                    let expired_ts = expired_ts
                        .parse()
                        .map_err(|_| err(n, "expired_ts is not an integer of ms".to_owned()))?;
                    old.push(OldKey {
                        key_id: key_id(id)?,
                        public_key: (*public_key).to_owned(),
                        expired_ts,
                    });
                }
                _ => {
                    return Err(err(
                        n,
                        "expected `current <key id> <seed>` or `old <key id> <public key> <expired_ts>`"
                            .into(),
                    ))
                }
            }
        }
        let current = current.ok_or_else(|| err(0, "no `current` key".to_owned()))?;
        if old.iter().any(|k| &k.key_id == current.key_id()) {
            return Err(err(0, "the current key id is also listed as old".into()));
        }
        Ok(KeyRing {
            current,
            old,
            previous,
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::signing::{hash_and_sign_event, verify_event, VerifyError};

    const NOW: u64 = 1_770_667_200_000; // 2026-02-09T20:00:00Z

    fn pair(id: [u8; 4], seed: u8) -> ServerKeyPair {
        ServerKeyPair::from_seed(key_id_from(id), [seed; 32])
    }

    fn parse(text: &str) -> Result<KeyRing, KeyFileError> {
        KeyRing::from_key_file(text)
    }

    #[test]
    fn key_ids_and_temp_names_are_hex() {
        assert_eq!(
            key_id_from([0x0c, 0x1d, 0x2e, 0x3f]).as_str(),
            "ed25519:0c1d2e3f"
        );
        assert_eq!(temp_file_name([0, 1, 2, 255]), ".signing.key.000102ff.tmp");
    }

    #[test]
    fn only_owner_only_modes_are_accepted() {
        assert!(is_owner_only(0o600));
        assert!(is_owner_only(0o400));
        assert!(is_owner_only(0o100600));
        assert!(!is_owner_only(0o644));
        assert!(!is_owner_only(0o620));
        assert!(!is_owner_only(0o601));
    }

    #[test]
    fn the_key_file_round_trips_without_showing_secrets_in_debug() {
        let mut ring = KeyRing::new(pair([1; 4], 1));
        let text = ring.to_key_file();
        assert!(text.contains("current ed25519:01010101 "));
        let back = parse(&text).map_err(|e| e.to_string());
        assert_eq!(
            back.map(|r| r.current().public_key_b64()),
            Ok(ring.current().public_key_b64())
        );
        assert!(ring.rotate(pair([2; 4], 2), NOW).is_ok());
        let back = match parse(&ring.to_key_file()) {
            Ok(r) => r,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(back.old_keys(), ring.old_keys());
        assert_eq!(
            back.previous().map(|k| k.public_key_b64()),
            Some(pair([1; 4], 1).public_key_b64())
        );
        let seed = b64_encode(back.current().signing_key().to_bytes());
        assert!(!format!("{back:?}").contains(&seed));
    }

    #[test]
    fn rotation_keeps_old_keys_verifiable_for_what_they_signed() {
        let before = pair([1; 4], 1);
        let mut ring = KeyRing::new(before.clone());
        let mut event = json!({
            "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b",
            "ts": "2026-02-09T19:59:59.000Z",
            "from": "alice@hs1.example",
            "to": "bob@hs2.example",
            "type": "message",
            "body": "signed before the rotation",
            "meta": {}
        });
        assert!(hash_and_sign_event(&mut event, "hs1.example", &before).is_ok());

        assert!(ring.rotate(pair([2; 4], 2), NOW).is_ok());
        assert_eq!(
            ring.old_keys(),
            [OldKey {
                key_id: before.key_id().clone(),
                public_key: before.public_key_b64(),
                expired_ts: NOW,
            }]
        );
        let doc = match ring.key_document("hs1.example", NOW) {
            Ok(doc) => doc,
            Err(e) => panic!("{e}"),
        };
        assert_eq!(doc.verify_self_signed(NOW), Ok(()));
        assert_eq!(doc.valid_until_ts, NOW + KEY_DOCUMENT_VALIDITY_MS);
        assert!(verify_event(&event, &doc, NOW).is_ok());

        // The old key cannot sign anything dated after the rotation.
        event["ts"] = json!("2026-02-09T20:00:00.000Z");
        assert!(hash_and_sign_event(&mut event, "hs1.example", &before).is_ok());
        assert!(matches!(
            verify_event(&event, &doc, NOW),
            Err(VerifyError::ExpiredKey { .. })
        ));
    }

    #[test]
    fn rotation_keeps_the_first_replaced_secret_and_refuses_taken_ids() {
        let first = pair([1; 4], 1);
        let mut ring = KeyRing::new(first.clone());
        assert!(ring.previous().is_none());
        assert!(ring.rotate(pair([2; 4], 2), 1_000).is_ok());
        // A second rotation before re-registering keeps the key the directory has on record.
        assert!(ring.rotate(pair([3; 4], 3), 2_000).is_ok());
        assert_eq!(ring.previous().map(|k| k.key_id()), Some(first.key_id()));
        assert_eq!(ring.old_keys().len(), 2);
        // Taken ids: the current one and the old ones.
        assert!(ring.rotate(pair([3; 4], 9), 3_000).is_err());
        assert!(ring.rotate(pair([1; 4], 9), 3_000).is_err());
        assert_eq!(ring.current().key_id(), &key_id_from([3; 4]));
        assert!(ring.forget_previous());
        assert!(!ring.forget_previous());
        assert!(ring.previous().is_none());
    }

    #[test]
    fn reports_malformed_lines() {
        let line = |text: &str| match parse(text) {
            Err(e) => e.line,
            Ok(_) => panic!("expected malformed: {text:?}"),
        };
        assert_eq!(line("# comment\n\ncurrent ed25519:a AAAA\n"), 3);
        assert_eq!(
            line("current ed25519:a-b AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
            1
        );
        assert_eq!(line("# nothing\n"), 0);
        assert_eq!(
            line("current ed25519:a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nold ed25519:b AAAA 5\n"),
            2
        );
        assert_eq!(
            line("current  ed25519:a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
            1
        );
        assert_eq!(
            line("current ed25519:a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\ncurrent ed25519:b AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n"),
            2
        );
        assert!(parse("current ed25519:a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n").is_ok());
    }
}
