//! The server's ed25519 signing keys in the data directory: the file I/O around
//! [`federation_proto::keyring`], which holds the key ring, the key file's format, rotation and
//! the key document (the directory keeps its key the same way, with its own thin wrapper).
//!
//! `DATA_DIR/signing.key` is created at first start with owner-only permissions (0600). It is
//! always replaced atomically (write a temporary file in the same directory, fsync, rename), so a
//! crash leaves either the old or the new version. A file readable by group or others is refused
//! rather than used.
//!
//! `homeserver keys rotate` calls [`KeyStore::rotate`]. A running server keeps signing with the
//! key it loaded until it restarts.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::ops::Deref;
use std::path::{Path, PathBuf};

use federation_proto::keyring::{self, KeyFileError, KeyRing};
pub use federation_proto::keyring::{OldKey, KEY_DOCUMENT_VALIDITY_MS, KEY_FILE_NAME};
use federation_proto::signing::ServerKeyPair;

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
    #[error("{path}, {source}")]
    Malformed {
        /// The key file.
        path: PathBuf,
        /// The line and what is wrong with it.
        #[source]
        source: KeyFileError,
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
}

/// The server's key ring, loaded from its key file. Derefs to [`KeyRing`] (`current()`,
/// `old_keys()`, `previous()`, `key_document()`).
#[derive(Debug)]
pub struct KeyStore {
    ring: KeyRing,
}

impl Deref for KeyStore {
    type Target = KeyRing;

    fn deref(&self) -> &KeyRing {
        &self.ring
    }
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
        let ring = KeyRing::new(new_key_pair(None)?);
        let path = KeyStore::key_file(data_dir);
        let tmp = write_temp(data_dir, &ring.to_key_file())?;
        // A hard link fails if the file appeared meanwhile; then the other process's key wins.
        let linked = fs::hard_link(&tmp, &path);
        let _ = fs::remove_file(&tmp);
        match linked {
            Ok(()) => {
                sync_dir(data_dir);
                Ok(KeyStore { ring })
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
        match KeyRing::from_key_file(&text) {
            Ok(ring) => Ok(KeyStore { ring }),
            Err(source) => Err(KeyStoreError::Malformed { path, source }),
        }
    }

    /// Replaces the current key with a new one; the old key is kept with `expired_ts = now_ms`.
    pub fn rotate(data_dir: &Path, now_ms: u64) -> Result<KeyStore, KeyStoreError> {
        let mut store = KeyStore::load(data_dir)?;
        let new = new_key_pair(Some(&store.ring))?;
        if let Err(source) = store.ring.rotate(new, now_ms) {
            // new_key_pair picked an id that is not taken; kept for completeness.
            return Err(KeyStoreError::Malformed {
                path: KeyStore::key_file(data_dir),
                source,
            });
        }
        store.save(data_dir)?;
        Ok(store)
    }

    /// Forgets the replaced key's secret, once the directory has accepted the current key.
    pub fn forget_previous(data_dir: &Path) -> Result<(), KeyStoreError> {
        let mut store = KeyStore::load(data_dir)?;
        if store.ring.forget_previous() {
            store.save(data_dir)?;
        }
        Ok(())
    }

    /// Replaces the key file atomically.
    fn save(&self, data_dir: &Path) -> Result<(), KeyStoreError> {
        let path = KeyStore::key_file(data_dir);
        let tmp = write_temp(data_dir, &self.ring.to_key_file())?;
        if let Err(source) = fs::rename(&tmp, &path) {
            let _ = fs::remove_file(&tmp);
            return Err(io_error(&path, source));
        }
        sync_dir(data_dir);
        Ok(())
    }
}

fn io_error(path: &Path, source: io::Error) -> KeyStoreError {
    KeyStoreError::Io {
        path: path.to_owned(),
        source,
    }
}

fn random<const N: usize>() -> Result<[u8; N], KeyStoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(KeyStoreError::Random)?;
    Ok(bytes)
}

/// A key pair with a random seed and a random id that `ring` does not use yet.
fn new_key_pair(ring: Option<&KeyRing>) -> Result<ServerKeyPair, KeyStoreError> {
    let seed = random::<32>()?;
    loop {
        let key_id = keyring::key_id_from(random()?);
        if !ring.is_some_and(|r| r.is_taken(&key_id)) {
            return Ok(ServerKeyPair::from_seed(key_id, seed));
        }
    }
}

/// Writes `contents` to a new owner-only temporary file in `dir`, synced to disk.
fn write_temp(dir: &Path, contents: &str) -> Result<PathBuf, KeyStoreError> {
    let tmp = dir.join(keyring::temp_file_name(random()?));
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
    if !keyring::is_owner_only(mode) {
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

    use federation_proto::signing::b64_encode;

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

    /// The ring's rules are tested in `federation_proto::keyring`; here, that the file follows.
    #[test]
    fn rotation_is_written_and_the_replaced_secret_kept_until_forgotten() {
        let d = dir();
        let first = ok(KeyStore::load_or_create(d.path()));
        let second = ok(KeyStore::rotate(d.path(), NOW));
        assert_ne!(second.current().key_id(), first.current().key_id());
        assert_eq!(
            second.old_keys(),
            [OldKey {
                key_id: first.current().key_id().clone(),
                public_key: first.current().public_key_b64(),
                expired_ts: NOW,
            }]
        );
        assert_eq!(mode(&KeyStore::key_file(d.path())), 0o600);
        assert_eq!(file_names(d.path()), [KEY_FILE_NAME]);
        let third = ok(KeyStore::rotate(d.path(), NOW + 1));
        let reloaded = ok(KeyStore::load(d.path()));
        assert_eq!(reloaded.current().key_id(), third.current().key_id());
        assert_eq!(reloaded.old_keys(), third.old_keys());
        assert_eq!(reloaded.old_keys().len(), 2);
        assert_eq!(
            reloaded.previous().map(|k| k.public_key_b64()),
            Some(first.current().public_key_b64())
        );
        let doc = ok(reloaded
            .key_document("hs1.example", NOW)
            .map_err(|e| KeyStoreError::Io {
                path: PathBuf::new(),
                source: io::Error::other(e),
            }));
        assert_eq!(doc.verify_self_signed(NOW), Ok(()));
        ok(KeyStore::forget_previous(d.path()));
        let after = ok(KeyStore::load(d.path()));
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
    fn reports_malformed_lines_with_the_file() {
        let d = dir();
        let path = KeyStore::key_file(d.path());
        let tmp = write_temp(d.path(), "# comment\n\ncurrent ed25519:a AAAA\n")
            .map(|tmp| fs::rename(tmp, &path));
        assert!(matches!(tmp, Ok(Ok(()))));
        match KeyStore::load(d.path()) {
            Err(e @ KeyStoreError::Malformed { .. }) => {
                let text = e.to_string();
                assert!(text.contains("signing.key, line 3: "), "{text}");
            }
            other => panic!("expected malformed, got {other:?}"),
        }
    }
}
