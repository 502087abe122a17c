//! The server's ed25519 signing keys, kept in the data directory.
//!
//! # The key file
//!
//! `DATA_DIR/signing.key` is created at first start with owner-only permissions (0600) and
//! holds the current key's secret seed and the public halves of the keys it replaced:
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
//! of `old` lines. Key ids are
//! `ed25519:` and eight random hex digits. The file is always replaced atomically (write a
//! temporary file in the same directory, fsync, rename), so a crash leaves either the old or
//! the new version. A file readable by group or others is refused rather than used.
//!
//! # Rotation
//!
//! `homeserver keys rotate` calls [`KeyStore::rotate`]: a new key becomes current and the old one
//! moves to the `old` lines with `expired_ts` = now. Old keys stay in the published key document
//! (`old_verify_keys`), so events they signed before the rotation stay verifiable; they never
//! sign again. A running server keeps signing with the key it loaded until it restarts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use federation_proto::keydoc::KeyDocument;
use federation_proto::signing::{
    b64_decode, b64_encode, verifying_key_from_b64, KeyId, ServerKeyPair, SigningError,
};

/// The key file's name inside the data directory.
pub const KEY_FILE_NAME: &str = "signing.key";

/// How long a served key document is valid for: one day, as Synapse does. Peers refetch it
/// after that; the protocol's ceiling is seven days.
pub const KEY_DOCUMENT_VALIDITY_MS: u64 = 24 * 60 * 60 * 1000;

/// Why the key store could not be loaded or written.
#[derive(Debug, thiserror::Error)]
pub enum KeyStoreError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The key file does not exist (rotation needs an existing key).
    #[error("{path}: no signing key yet; start the server once to create it")]
    NotFound {
        /// The expected key file.
        path: PathBuf,
    },
    /// The key file is not in the documented format.
    #[error("{path}, line {line}: {reason}")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// 1-based line number (0 for the file as a whole).
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// The key file is readable or writable by group or others.
    #[error("{path} has mode {mode:o}; it must be owner-only (chmod 600)")]
    InsecurePermissions {
        /// The key file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// The operating system's random source failed.
    #[error("no randomness for a new key: {0}")]
    Random(#[source] getrandom::Error),
    /// The key document could not be signed (e.g. a timestamp beyond 2^53 ms).
    #[error("cannot sign the key document: {0}")]
    KeyDocument(#[from] SigningError),
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

/// The server's current signing key and its old keys.
#[derive(Debug)]
pub struct KeyStore {
    current: ServerKeyPair,
    old: Vec<OldKey>,
    previous: Option<ServerKeyPair>,
}

impl KeyStore {
    /// The key file's path inside `data_dir`.
    pub fn key_file(data_dir: &Path) -> PathBuf {
        data_dir.join(KEY_FILE_NAME)
    }

    /// Loads the key file, or creates the data directory and a new key if there is none.
    ///
    /// Creation is race-free: if two processes start at once, both end up with the same key.
    pub fn load_or_create(data_dir: &Path) -> Result<KeyStore, KeyStoreError> {
        match KeyStore::load(data_dir) {
            Err(KeyStoreError::NotFound { .. }) => {}
            other => return other,
        }
        fs::create_dir_all(data_dir).map_err(|source| io_error(data_dir, source))?;
        let store = KeyStore {
            current: new_key_pair(&[])?,
            old: Vec::new(),
            previous: None,
        };
        let path = KeyStore::key_file(data_dir);
        let tmp = write_temp(data_dir, &store.render())?;
        // A hard link fails if the file appeared meanwhile; then the other process's key wins.
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(data_dir);
                Ok(store)
            }
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => KeyStore::load(data_dir),
            Err(source) => Err(io_error(&path, source)),
        }
    }

    /// Loads the key file; [`KeyStoreError::NotFound`] if there is none.
    pub fn load(data_dir: &Path) -> Result<KeyStore, KeyStoreError> {
        let path = KeyStore::key_file(data_dir);
        let text = match fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Err(KeyStoreError::NotFound { path });
            }
            Err(source) => return Err(io_error(&path, source)),
        };
        check_permissions(&path)?;
        KeyStore::parse(&text).map_err(|(line, reason)| KeyStoreError::Malformed {
            path,
            line,
            reason,
        })
    }

    /// Replaces the current key with a new one; the old key is kept with `expired_ts = now_ms`.
    pub fn rotate(data_dir: &Path, now_ms: u64) -> Result<KeyStore, KeyStoreError> {
        let previous = KeyStore::load(data_dir)?;
        let mut old = previous.old;
        old.push(OldKey {
            key_id: previous.current.key_id().clone(),
            public_key: previous.current.public_key_b64(),
            expired_ts: now_ms,
        });
        let taken: Vec<&KeyId> = old.iter().map(|k| &k.key_id).collect();
        let store = KeyStore {
            current: new_key_pair(&taken)?,
            old,
            // The key a directory has on record: the one before the first of several rotations.
            previous: previous.previous.or(Some(previous.current)),
        };
        store.save(data_dir)?;
        Ok(store)
    }

    /// Forgets the replaced key's secret, once the directory has accepted the current key.
    pub fn forget_previous(data_dir: &Path) -> Result<(), KeyStoreError> {
        let mut store = KeyStore::load(data_dir)?;
        if store.previous.take().is_some() {
            store.save(data_dir)?;
        }
        Ok(())
    }

    /// The key replaced by the last rotation, while the directory may still have it on record.
    pub fn previous(&self) -> Option<&ServerKeyPair> {
        self.previous.as_ref()
    }

    /// Replaces the key file atomically.
    fn save(&self, data_dir: &Path) -> Result<(), KeyStoreError> {
        let path = KeyStore::key_file(data_dir);
        let tmp = write_temp(data_dir, &self.render())?;
        if let Err(source) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&path, source));
        }
        sync_dir(data_dir);
        Ok(())
    }

    /// The key that signs events, requests and the key document.
    pub fn current(&self) -> &ServerKeyPair {
        &self.current
    }

    /// Keys that no longer sign, oldest first.
    pub fn old_keys(&self) -> &[OldKey] {
        &self.old
    }

    /// The signed key document served at `GET /api/v1/federation/key`, valid for
    /// [`KEY_DOCUMENT_VALIDITY_MS`] from `now_ms`.
    pub fn key_document(
        &self,
        server_name: &str,
        now_ms: u64,
    ) -> Result<KeyDocument, KeyStoreError> {
        let old: Vec<(KeyId, String, u64)> = self
            .old
            .iter()
            .map(|k| (k.key_id.clone(), k.public_key.clone(), k.expired_ts))
            .collect();
        Ok(KeyDocument::build_signed(
            server_name,
            &self.current,
            &old,
            now_ms,
            KEY_DOCUMENT_VALIDITY_MS,
        )?)
    }

    fn render(&self) -> String {
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

    /// Parses the key file; errors carry the 1-based line number.
    fn parse(text: &str) -> Result<KeyStore, (usize, String)> {
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
            let key_id = |text: &str| -> Result<KeyId, (usize, String)> {
                text.parse()
                    .map_err(|e| (n, format!("key id {text:?}: {e}")))
            };
            match fields.as_slice() {
                [which @ ("current" | "previous"), id, seed] => {
                    let slot = if *which == "current" { &mut current } else { &mut previous };
                    if slot.is_some() {
                        return Err((n, format!("a second `{which}` key")));
                    }
                    let seed: [u8; 32] = b64_decode(seed)
                        .ok()
                        .and_then(|bytes| bytes.try_into().ok())
                        .ok_or((n, "the seed is not 32 bytes of unpadded base64".to_owned()))?;
                    *slot = Some(ServerKeyPair::from_seed(key_id(id)?, seed));
                }
                ["old", id, public_key, expired_ts] => {
                    verifying_key_from_b64(public_key)
                        .map_err(|e| (n, format!("old public key: {e}")))?;
                    let expired_ts = expired_ts
                        .parse()
                        .map_err(|_| (n, "expired_ts is not an integer of ms".to_owned()))?;
                    old.push(OldKey {
                        key_id: key_id(id)?,
                        public_key: (*public_key).to_owned(),
                        expired_ts,
                    });
                }
                _ => {
                    return Err((
                        n,
                        "expected `current <key id> <seed>` or `old <key id> <public key> <expired_ts>`"
                            .into(),
                    ))
                }
            }
        }
        let current = current.ok_or((0, "no `current` key".to_owned()))?;
        if old.iter().any(|k| &k.key_id == current.key_id()) {
            return Err((0, "the current key id is also listed as old".into()));
        }
        Ok(KeyStore {
            current,
            old,
            previous,
        })
    }
}

fn io_error(path: &Path, source: io::Error) -> KeyStoreError {
    KeyStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

/// A key pair with a random seed and a random id not in `taken`.
fn new_key_pair(taken: &[&KeyId]) -> Result<ServerKeyPair, KeyStoreError> {
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(KeyStoreError::Random)?;
    loop {
        let version = random_hex()?;
        let Ok(key_id) = KeyId::ed25519(&version) else {
            continue;
        };
        if !taken.contains(&&key_id) {
            return Ok(ServerKeyPair::from_seed(key_id, seed));
        }
    }
}

fn random_hex() -> Result<String, KeyStoreError> {
    let mut bytes = [0u8; 4];
    getrandom::fill(&mut bytes).map_err(KeyStoreError::Random)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Writes `contents` to a new owner-only temporary file in `dir`, synced to disk.
fn write_temp(dir: &Path, contents: &str) -> Result<PathBuf, KeyStoreError> {
    let tmp = dir.join(format!(".{KEY_FILE_NAME}.{}.tmp", random_hex()?));
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let result = options.open(&tmp).and_then(|mut file| {
        file.write_all(contents.as_bytes())?;
        file.sync_all()
    });
    match result {
        Ok(()) => Ok(tmp),
        Err(source) => {
            let _ = fs::remove_file(&tmp);
            Err(io_error(&tmp, source))
        }
    }
}

/// Makes a rename or link in `dir` durable. Best effort: not every platform can sync a directory.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

#[cfg(unix)]
fn check_permissions(path: &Path) -> Result<(), KeyStoreError> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = fs::metadata(path)
        .map_err(|source| io_error(path, source))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(KeyStoreError::InsecurePermissions {
            path: path.to_owned(),
            mode: mode & 0o777,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_permissions(_path: &Path) -> Result<(), KeyStoreError> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use federation_proto::signing::{hash_and_sign_event, verify_event, VerifyError};
    use serde_json::json;

    use super::*;

    const NOW: u64 = 1_770_667_200_000; // 2026-02-09T20:00:00Z

    fn dir() -> tempfile::TempDir {
        match tempfile::tempdir() {
            Ok(d) => d,
            Err(e) => panic!("tempdir: {e}"),
        }
    }

    fn ok<T>(r: Result<T, KeyStoreError>) -> T {
        match r {
            Ok(v) => v,
            Err(e) => panic!("{e}"),
        }
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or(0)
    }

    fn file_names(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    #[test]
    fn creates_an_owner_only_key_once() {
        let d = dir();
        let data = d.path().join("data");
        let first = ok(KeyStore::load_or_create(&data));
        let path = KeyStore::key_file(&data);
        assert_eq!(mode(&path), 0o600);
        assert_eq!(file_names(&data), [KEY_FILE_NAME]);
        let again = ok(KeyStore::load_or_create(&data));
        assert_eq!(again.current().key_id(), first.current().key_id());
        assert_eq!(
            again.current().public_key_b64(),
            first.current().public_key_b64()
        );
        assert!(first.old_keys().is_empty());
        let text = fs::read_to_string(&path).unwrap_or_default();
        assert!(text.contains(&format!("current {} ", first.current().key_id())));
        assert!(
            !format!("{first:?}").contains(&b64_encode(first.current().signing_key().to_bytes()))
        );
    }

    #[test]
    fn rotation_keeps_old_keys_verifiable_for_what_they_signed() {
        let d = dir();
        let before = ok(KeyStore::load_or_create(d.path()));
        let mut event = json!({
            "id": "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b",
            "ts": "2026-02-09T19:59:59.000Z",
            "from": "alice@hs1.example",
            "to": "bob@hs2.example",
            "type": "message",
            "body": "signed before the rotation",
            "meta": {}
        });
        assert!(hash_and_sign_event(&mut event, "hs1.example", before.current()).is_ok());

        let after = ok(KeyStore::rotate(d.path(), NOW));
        assert_ne!(after.current().key_id(), before.current().key_id());
        assert_eq!(
            after.old_keys(),
            [OldKey {
                key_id: before.current().key_id().clone(),
                public_key: before.current().public_key_b64(),
                expired_ts: NOW,
            }]
        );
        assert_eq!(mode(&KeyStore::key_file(d.path())), 0o600);
        assert_eq!(file_names(d.path()), [KEY_FILE_NAME]);
        let reloaded = ok(KeyStore::load(d.path()));
        assert_eq!(reloaded.current().key_id(), after.current().key_id());
        assert_eq!(reloaded.old_keys(), after.old_keys());

        let doc = ok(after.key_document("hs1.example", NOW));
        assert_eq!(doc.verify_self_signed(NOW), Ok(()));
        assert_eq!(doc.valid_until_ts, NOW + KEY_DOCUMENT_VALIDITY_MS);
        assert!(verify_event(&event, &doc, NOW).is_ok());

        // The old key cannot sign anything dated after the rotation.
        event["ts"] = json!("2026-02-09T20:00:00.000Z");
        assert!(hash_and_sign_event(&mut event, "hs1.example", before.current()).is_ok());
        assert!(matches!(
            verify_event(&event, &doc, NOW),
            Err(VerifyError::ExpiredKey { .. })
        ));

        let third = ok(KeyStore::rotate(d.path(), NOW + 1));
        assert_eq!(third.old_keys().len(), 2);
    }

    #[test]
    fn rotation_keeps_the_replaced_secret_until_the_directory_has_the_new_key() {
        let dir = dir();
        let first = ok(KeyStore::load_or_create(dir.path()));
        assert!(first.previous().is_none());
        let second = ok(KeyStore::rotate(dir.path(), 1_000));
        assert_eq!(
            second.previous().map(|k| k.key_id()),
            Some(first.current().key_id())
        );
        // A second rotation before re-registering keeps the key the directory has on record.
        let third = ok(KeyStore::rotate(dir.path(), 2_000));
        assert_eq!(
            third.previous().map(|k| k.key_id()),
            Some(first.current().key_id())
        );
        let reloaded = ok(KeyStore::load(dir.path()));
        assert_eq!(
            reloaded.previous().map(|k| k.public_key_b64()),
            Some(first.current().public_key_b64())
        );
        ok(KeyStore::forget_previous(dir.path()));
        let after = ok(KeyStore::load(dir.path()));
        assert!(after.previous().is_none());
        assert_eq!(after.current().key_id(), third.current().key_id());
        assert_eq!(after.old_keys().len(), 2);
    }

    #[test]
    fn rotate_needs_an_existing_key() {
        let d = dir();
        assert!(matches!(
            KeyStore::rotate(d.path(), NOW),
            Err(KeyStoreError::NotFound { .. })
        ));
    }

    #[test]
    fn refuses_a_key_file_others_can_read() {
        let d = dir();
        ok(KeyStore::load_or_create(d.path()));
        let path = KeyStore::key_file(d.path());
        assert!(fs::set_permissions(&path, fs::Permissions::from_mode(0o644)).is_ok());
        assert!(matches!(
            KeyStore::load(d.path()),
            Err(KeyStoreError::InsecurePermissions { mode: 0o644, .. })
        ));
    }

    #[test]
    fn reports_malformed_lines() {
        let d = dir();
        let path = KeyStore::key_file(d.path());
        let write = |text: &str| {
            let tmp = write_temp(d.path(), text).map(|tmp| fs::rename(tmp, &path));
            assert!(matches!(tmp, Ok(Ok(()))));
        };
        let line = |r: Result<KeyStore, KeyStoreError>| match r {
            Err(KeyStoreError::Malformed { line, .. }) => line,
            other => panic!("expected malformed, got {other:?}"),
        };
        write("# comment\n\ncurrent ed25519:a AAAA\n");
        assert_eq!(line(KeyStore::load(d.path())), 3);
        write("current ed25519:a-b AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
        assert_eq!(line(KeyStore::load(d.path())), 1);
        write("# nothing\n");
        assert_eq!(line(KeyStore::load(d.path())), 0);
        write(
            "current ed25519:a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\nold ed25519:b AAAA 5\n",
        );
        assert_eq!(line(KeyStore::load(d.path())), 2);
        write("current  ed25519:a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n");
        assert_eq!(line(KeyStore::load(d.path())), 1);
        write("current ed25519:a AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n");
        assert!(KeyStore::load(d.path()).is_ok());
    }
}
