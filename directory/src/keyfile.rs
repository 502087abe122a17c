//! The directory's signing key in `DATA_DIR/signing.key`: the same file, format and rules as a
//! homeserver's ([`federation_proto::keyring`] holds them), read and created here. The
//! directory never rotates its key (homeservers pin it as `DIRECTORY_KEY`), so this is only
//! load-or-create: an owner-only (0600) file, created atomically (a synced temporary file
//! hard-linked into place, so two processes starting at once end up with the same key), and
//! refused when group or others may read it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::path::Path;

use anyhow::{bail, Context as _};

use federation_proto::keyring::{self, KeyRing, KEY_FILE_NAME};
use federation_proto::signing::ServerKeyPair;

/// Loads `data_dir/signing.key`, or creates it with a new key if there is none. Errors name
/// the file and what is wrong with it (the homeserver's `KeyStoreError` has the same cases).
pub fn load_or_create(data_dir: &Path) -> anyhow::Result<KeyRing> {
    if let Some(ring) = load(data_dir)? {
        return Ok(ring);
    }
    fs::create_dir_all(data_dir).with_context(|| format!("{}", data_dir.display()))?;
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
            load(data_dir)?.with_context(|| format!("{}: vanished", path.display()))
        }
        Err(e) => Err(e).with_context(|| format!("{}", path.display())),
    }
}

/// The key ring in `data_dir`, or `None` if there is no key file.
fn load(data_dir: &Path) -> anyhow::Result<Option<KeyRing>> {
    let path = data_dir.join(KEY_FILE_NAME);
    let text = match fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("{}", path.display())),
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = fs::metadata(&path)
            .with_context(|| format!("{}", path.display()))?
            .permissions()
            .mode();
        if !keyring::is_owner_only(mode) {
            bail!(
                "{} has mode {:o}; it must be owner-only (chmod 600)",
                path.display(),
                mode & 0o777
            );
        }
    }
    let ring = KeyRing::from_key_file(&text).with_context(|| format!("{}", path.display()))?;
    Ok(Some(ring))
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

fn random<const N: usize>() -> anyhow::Result<[u8; N]> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).context("no randomness for a new key")?;
    Ok(bytes)
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
        let err = load_or_create(&data).unwrap_err();
        assert!(err.to_string().contains("has mode 640"), "{err}");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
        fs::write(&path, "# nothing\n").unwrap();
        let err = load_or_create(&data).unwrap_err();
        assert!(
            format!("{err:#}").contains("line 0: no `current` key"),
            "{err:#}"
        );
    }
}
