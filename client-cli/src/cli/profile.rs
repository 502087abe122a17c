//! Named profiles: which server, which account and which device token `hearth` uses.
//!
//! Each profile is one JSON file `<config>/hearth/profiles/<name>.json`, where `<config>` is
//! `$XDG_CONFIG_HOME` or `~/.config`. The directory is created owner-only (0700) and each file
//! is written owner-only (0600) through a temporary file and a rename, so a token is never
//! readable by other users, not even half-written.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A profile's contents.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Homeserver base URL.
    pub server: String,
    /// The account's nick, once registered or logged in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
    /// The account's full handle `nick@server`, as the server reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub handle: Option<String>,
    /// Bearer token of this device; `None` after logout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// This device's id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_id: Option<String>,
    /// Highest event `seq` that `hearth tail` or the chat UI has shown: where they resume.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<i64>,
}

/// Why a profile could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ProfileError {
    /// Neither `$XDG_CONFIG_HOME` nor `$HOME` is set.
    #[error("cannot find a config directory: set XDG_CONFIG_HOME or HOME")]
    NoConfigDir,
    /// A profile name outside `[A-Za-z0-9_.-]{1,64}` (or starting with `.`).
    #[error("invalid profile name {0:?}: use 1-64 characters of A-Z a-z 0-9 _ . -")]
    BadName(String),
    /// Reading or writing failed.
    #[error("profile {path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a profile.
    #[error("profile {path} is damaged: {source}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Where profiles live.
#[derive(Debug, Clone)]
pub struct ProfileStore {
    dir: PathBuf,
}

impl ProfileStore {
    /// The store under `$XDG_CONFIG_HOME/hearth` or `~/.config/hearth`.
    pub fn locate() -> Result<ProfileStore, ProfileError> {
        let xdg = std::env::var_os("XDG_CONFIG_HOME")
            .filter(|v| !v.is_empty())
            .map(PathBuf::from);
        let base = match xdg.filter(|p| p.is_absolute()) {
            Some(p) => p,
            None => {
                let home = std::env::var_os("HOME")
                    .filter(|v| !v.is_empty())
                    .ok_or(ProfileError::NoConfigDir)?;
                PathBuf::from(home).join(".config")
            }
        };
        Ok(ProfileStore::at(base.join("hearth")))
    }

    /// A store in `dir` (the `hearth` directory itself).
    pub fn at(dir: PathBuf) -> ProfileStore {
        ProfileStore { dir }
    }

    fn profiles_dir(&self) -> PathBuf {
        self.dir.join("profiles")
    }

    /// The file of profile `name`.
    pub fn path_of(&self, name: &str) -> Result<PathBuf, ProfileError> {
        validate_name(name)?;
        Ok(self.profiles_dir().join(format!("{name}.json")))
    }

    /// Loads profile `name`; `None` when it does not exist.
    pub fn load(&self, name: &str) -> Result<Option<Profile>, ProfileError> {
        let path = self.path_of(name)?;
        let text = match fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(ProfileError::Io { path, source }),
        };
        serde_json::from_str(&text)
            .map(Some)
            .map_err(|source| ProfileError::Parse { path, source })
    }

    /// Saves profile `name` owner-only, atomically.
    pub fn save(&self, name: &str, profile: &Profile) -> Result<(), ProfileError> {
        let path = self.path_of(name)?;
        let dir = self.profiles_dir();
        create_private_dir(&self.dir)?;
        create_private_dir(&dir)?;
        let tmp = dir.join(format!(".{name}.json.tmp"));
        let io = |source, path: &Path| ProfileError::Io {
            path: path.to_path_buf(),
            source,
        };
        let mut text =
            serde_json::to_vec_pretty(profile).map_err(|source| ProfileError::Parse {
                path: path.clone(),
                source,
            })?;
        text.push(b'\n');
        let mut file = private_file(&tmp).map_err(|e| io(e, &tmp))?;
        file.write_all(&text)
            .and_then(|()| file.sync_all())
            .map_err(|e| io(e, &tmp))?;
        drop(file);
        fs::rename(&tmp, &path).map_err(|e| io(e, &path))
    }

    /// Names of all saved profiles, sorted.
    pub fn list(&self) -> Result<Vec<String>, ProfileError> {
        let dir = self.profiles_dir();
        let entries = match fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(source) => return Err(ProfileError::Io { path: dir, source }),
        };
        let mut names: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                e.file_name()
                    .to_str()
                    .and_then(|n| n.strip_suffix(".json"))
                    .map(str::to_string)
            })
            .filter(|n| validate_name(n).is_ok())
            .collect();
        names.sort();
        Ok(names)
    }
}

/// Checks a profile name: it becomes a file name, so no separators and no leading dot.
pub fn validate_name(name: &str) -> Result<(), ProfileError> {
    let ok = (1..=64).contains(&name.len())
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(ProfileError::BadName(name.to_string()))
    }
}

/// Creates `dir` with mode 0700 when missing.
fn create_private_dir(dir: &Path) -> Result<(), ProfileError> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir).map_err(|source| ProfileError::Io {
        path: dir.to_path_buf(),
        source,
    })
}

/// Opens `path` for writing, truncated, with mode 0600 whatever the umask.
fn private_file(path: &Path) -> std::io::Result<fs::File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        options.mode(0o600);
        let file = options.open(path)?;
        file.set_permissions(fs::Permissions::from_mode(0o600))?;
        Ok(file)
    }
    #[cfg(not(unix))]
    {
        options.open(path)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Profile {
        Profile {
            server: "http://127.0.0.1:8080".into(),
            nick: Some("alice".into()),
            handle: Some("alice@hs1".into()),
            token: Some("tok".into()),
            device_id: Some("dev".into()),
            cursor: Some(42),
        }
    }

    #[test]
    fn save_load_round_trip() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ProfileStore::at(tmp.path().join("hearth"));
        assert_eq!(store.load("default").unwrap(), None);
        store.save("default", &sample()).unwrap();
        assert_eq!(store.load("default").unwrap(), Some(sample()));
        store
            .save(
                "work",
                &Profile {
                    server: "http://x".into(),
                    ..Profile::default()
                },
            )
            .unwrap();
        assert_eq!(store.list().unwrap(), ["default", "work"]);
    }

    #[cfg(unix)]
    #[test]
    fn files_are_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let tmp = tempfile::tempdir().unwrap();
        let store = ProfileStore::at(tmp.path().join("hearth"));
        store.save("p", &sample()).unwrap();
        let mode = |p: PathBuf| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(store.path_of("p").unwrap()), 0o600);
        assert_eq!(mode(tmp.path().join("hearth")), 0o700);
        assert_eq!(mode(tmp.path().join("hearth/profiles")), 0o700);
    }

    #[test]
    fn bad_names_are_refused() {
        for bad in ["", "../x", "a/b", ".hidden", "a b", &"x".repeat(65)] {
            assert!(validate_name(bad).is_err(), "{bad}");
        }
        for good in ["default", "work.hs1", "alice_2", "A-b"] {
            assert!(validate_name(good).is_ok(), "{good}");
        }
    }

    #[test]
    fn damaged_file_is_reported() {
        let tmp = tempfile::tempdir().unwrap();
        let store = ProfileStore::at(tmp.path().to_path_buf());
        fs::create_dir_all(tmp.path().join("profiles")).unwrap();
        fs::write(store.path_of("x").unwrap(), "not json").unwrap();
        assert!(matches!(store.load("x"), Err(ProfileError::Parse { .. })));
    }
}
