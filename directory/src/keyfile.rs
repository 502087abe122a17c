//! The directory's signing key in `DATA_DIR/signing.key`: the same file, format and rules as a
//! homeserver's ([`federation_proto::keyring`] holds them), read and created here. The
//! directory never rotates its key (homeservers pin it as `DIRECTORY_KEY`), so this is only
//! load-or-create: an owner-only (0600) file, created atomically (a synced temporary file
//! hard-linked into place, so two processes starting at once end up with the same key), and
//! refused when group or others may read it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use federation_proto::keyring::{self, KeyFileError, KeyRing, KEY_FILE_NAME};
use federation_proto::signing::ServerKeyPair;

/// Why the key could not be loaded or created.
#[derive(Debug, thiserror::Error)]
pub enum KeyFileIoError {
    /// Reading or writing a file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
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

/// Loads `data_dir/signing.key`, or creates it with a new key if there is none.
pub fn load_or_create(data_dir: &Path) -> Result<KeyRing, KeyFileIoError> {
    if let Some(ring) = load(data_dir)? {
        return Ok(ring);
    }
    fs::create_dir_all(data_dir).map_err(|source| io_error(data_dir, source))?;
    let ring = KeyRing::new(ServerKeyPair::from_seed(
        keyring::key_id_from(random()?),
        random()?,
    ));
    let path = data_dir.join(KEY_FILE_NAME);
    let tmp = data_dir.join(keyring::temp_file_name(random()?));
    let written = write_owner_only(&tmp, &ring.to_key_file());
    // A hard link fails if the file appeared meanwhile; then the other process's key wins.
    let linked = written.and_then(|()| fs::hard_link(&tmp, &path));
    let _ = fs::remove_file(&tmp);
    match linked {
        Ok(()) => {
            if let Ok(dir) = File::open(data_dir) {
                // Makes the link durable; best effort.
                let _ = dir.sync_all();
            }
            Ok(ring)
        }
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            load(data_dir)?.ok_or_else(|| io_error(&path, io::ErrorKind::NotFound.into()))
        }
        Err(source) => Err(io_error(&path, source)),
    }
}

/// The key ring in `data_dir`, or `None` if there is no key file.
fn load(data_dir: &Path) -> Result<Option<KeyRing>, KeyFileIoError> {
    let path = data_dir.join(KEY_FILE_NAME);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(io_error(&path, source)),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&path)
            .map_err(|source| io_error(&path, source))?
            .permissions()
            .mode();
        if !keyring::is_owner_only(mode) {
            return Err(KeyFileIoError::InsecurePermissions {
                path,
                mode: mode & 0o777,
            });
        }
    }
    KeyRing::from_key_file(&text)
        .map(Some)
        .map_err(|source| KeyFileIoError::Malformed { path, source })
}

/// Creates `path` (which must not exist) owner-only with `contents`, synced to disk.
fn write_owner_only(path: &Path, contents: &str) -> io::Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

fn random<const N: usize>() -> Result<[u8; N], KeyFileIoError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(KeyFileIoError::Random)?;
    Ok(bytes)
}

fn io_error(path: &Path, source: io::Error) -> KeyFileIoError {
    KeyFileIoError::Io {
        path: path.to_owned(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn creates_an_owner_only_key_once_and_refuses_it_when_others_can_read() {
        let d = tempfile::tempdir().unwrap();
        let data = d.path().join("data");
        let first = load_or_create(&data).unwrap();
        let path = data.join(KEY_FILE_NAME);
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let names: Vec<_> = fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, [KEY_FILE_NAME]);
        let again = load_or_create(&data).unwrap();
        assert_eq!(again.current().key_id(), first.current().key_id());
        assert_eq!(
            again.current().public_key_b64(),
            first.current().public_key_b64()
        );

        fs::set_permissions(&path, fs::Permissions::from_mode(0o640)).unwrap();
        assert!(matches!(
            load_or_create(&data),
            Err(KeyFileIoError::InsecurePermissions { mode: 0o640, .. })
        ));
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "# nothing\n").unwrap();
        let err = load_or_create(&data).unwrap_err();
        assert!(
            err.to_string().contains("line 0: no `current` key"),
            "{err}"
        );
    }
}
