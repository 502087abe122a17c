//! A backup's `manifest.json`: what was backed up (version, schema, time, backend, database
//! name) and every file with its size and sha256, so a restore can check all of it first.
//!
//! A backup directory holds `manifest.json`, the database (`hearth.db`, a SQLite file, or
//! `database.pgdump`, `pg_dump`'s custom format), `signing.key` and the media blobs under
//! `media/<2 hex>/<sha256>`.

use std::fs::File;
use std::io::{self, Read as _};
use std::path::{Component, Path, PathBuf};

use anyhow::{bail, Context as _};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

/// The manifest's file name.
pub const MANIFEST: &str = "manifest.json";
/// The SQLite database's name in a backup.
pub const SQLITE_FILE: &str = "hearth.db";
/// The Postgres dump's name in a backup.
pub const PG_DUMP_FILE: &str = "database.pgdump";
/// The media blobs' folder in a backup (and in `DATA_DIR`).
pub const MEDIA_DIR: &str = "media";
/// The format this binary writes and reads.
pub const FORMAT: u32 = 1;

/// `manifest.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Manifest {
    /// The manifest's format (1).
    pub format: u32,
    /// The `homeserver` version that wrote it.
    pub hearth_version: String,
    /// When the backup was taken (RFC 3339).
    pub created: String,
    /// The server's name (`SERVER_NAME`).
    pub server_name: String,
    /// `sqlite` or `postgres`.
    pub backend: String,
    /// The newest migration applied to the database (`20261216000001`).
    pub schema: String,
    /// The database in the backup.
    pub database: DatabaseEntry,
    /// Where media lived: `local` (copied under `media/`) or `s3` (not copied: the bucket is
    /// backed up on its own).
    pub media: String,
    /// Every file of the backup but the manifest, with its size and sha256.
    pub files: Vec<FileEntry>,
}

/// The database part of the manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseEntry {
    /// Its file in the backup (`hearth.db` or `database.pgdump`).
    pub file: String,
    /// The Postgres database it was dumped from (`current_database()`); absent on SQLite.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// One file of the backup.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct FileEntry {
    /// Relative path, with `/` separators.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex sha256.
    pub sha256: String,
}

impl Manifest {
    /// Reads and parses `DIR/manifest.json`.
    pub fn read(dir: &Path) -> anyhow::Result<Manifest> {
        let path = dir.join(MANIFEST);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("{} is not a backup: cannot read {MANIFEST}", dir.display())
        })?;
        let manifest: Manifest = serde_json::from_str(&text)
            .with_context(|| format!("{} is not a valid manifest", path.display()))?;
        if manifest.format != FORMAT {
            bail!(
                "{} has format {}; this homeserver reads format {FORMAT}",
                path.display(),
                manifest.format
            );
        }
        if !matches!(manifest.backend.as_str(), "sqlite" | "postgres") {
            bail!("{}: unknown backend {:?}", path.display(), manifest.backend);
        }
        for entry in &manifest.files {
            relative(&entry.path)?;
        }
        Ok(manifest)
    }

    /// The total size of the files.
    pub fn total_bytes(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }

    /// The entry of `path`, if the backup has that file.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path == path)
    }
}

/// Checks that `path` is a plain relative path inside the backup (no `..`, not absolute).
pub fn relative(path: &str) -> anyhow::Result<PathBuf> {
    let p = Path::new(path);
    if path.is_empty() || !p.components().all(|c| matches!(c, Component::Normal(_))) {
        bail!("the manifest names a file outside the backup: {path:?}");
    }
    Ok(p.to_path_buf())
}

/// The size and sha256 of a file, read in one pass.
pub fn hash_file(path: &Path) -> io::Result<(u64, String)> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut size = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        size += n as u64;
    }
    Ok((size, hex(&hasher.finalize())))
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether a media file name is a blob (its sha256 in lower-case hex).
pub fn is_blob_name(name: &str) -> bool {
    name.len() == 64
        && name
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The media blobs under `media_root` (`<2 hex>/<sha256>`), as paths relative to it, sorted.
/// Spooled uploads (`tmp/`) and cached thumbnails (`thumbs/`, made again on demand) are not
/// blobs.
pub fn media_blobs(media_root: &Path) -> io::Result<Vec<String>> {
    let mut blobs = Vec::new();
    let top = match std::fs::read_dir(media_root) {
        Ok(top) => top,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(blobs),
        Err(e) => return Err(e),
    };
    for prefix in top {
        let prefix = prefix?;
        let name = prefix.file_name().to_string_lossy().into_owned();
        if name.len() != 2 || !prefix.file_type()?.is_dir() {
            continue;
        }
        for blob in std::fs::read_dir(prefix.path())? {
            let blob = blob?;
            let blob_name = blob.file_name().to_string_lossy().into_owned();
            if blob.file_type()?.is_file() && is_blob_name(&blob_name) {
                blobs.push(format!("{name}/{blob_name}"));
            }
        }
    }
    blobs.sort();
    Ok(blobs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside() {
        assert!(relative("media/ab/abcd").is_ok());
        assert!(relative("hearth.db").is_ok());
        for bad in ["", "/etc/passwd", "../x", "media/../../x", "./x"] {
            assert!(relative(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn blob_names() {
        assert!(is_blob_name(&"ab".repeat(32)));
        assert!(!is_blob_name(&"AB".repeat(32)));
        assert!(!is_blob_name("abc"));
    }

    #[test]
    fn hashes_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("f");
        std::fs::write(&path, b"abc").expect("write");
        let (size, sha) = hash_file(&path).expect("hash");
        assert_eq!(size, 3);
        assert_eq!(
            sha,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
