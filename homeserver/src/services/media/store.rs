//! The content-addressed blob store under `DATA_DIR/media`: a blob's path is its sha256
//! (`ab/abcdef…`), so identical files are stored once; uploads are spooled to `tmp/` first and
//! renamed into place; thumbnails are cached in `thumbs/`.

use std::io;
use std::path::{Path, PathBuf};

/// The media directory.
#[derive(Debug, Clone)]
pub struct LocalStore {
    root: PathBuf,
}

impl LocalStore {
    /// The store under `data_dir/media`, created with its `tmp` and `thumbs` directories.
    /// Spooled files left by a crash are removed.
    pub fn open(data_dir: &Path) -> io::Result<LocalStore> {
        let root = data_dir.join("media");
        std::fs::create_dir_all(root.join("tmp"))?;
        std::fs::create_dir_all(root.join("thumbs"))?;
        for entry in std::fs::read_dir(root.join("tmp"))? {
            let _ = std::fs::remove_file(entry?.path());
        }
        Ok(LocalStore { root })
    }

    /// Where uploads are spooled (same file system as the blobs, so storing is a rename).
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// The blob of `sha256` (lower-case hex).
    pub fn blob_path(&self, sha256: &str) -> PathBuf {
        let prefix = sha256.get(..2).unwrap_or("00");
        self.root.join(prefix).join(sha256)
    }

    /// The cached thumbnail of `sha256`, without its extension (`.jpg` or `.png`).
    pub fn thumbnail_base(&self, sha256: &str) -> PathBuf {
        self.root.join("thumbs").join(sha256)
    }

    /// The cached thumbnail of `sha256` and its type, if there is one.
    pub fn thumbnail(&self, sha256: &str) -> Option<(PathBuf, &'static str)> {
        let base = self.thumbnail_base(sha256);
        super::thumbnail::FORMATS
            .iter()
            .map(|(ext, mime)| (base.with_extension(ext), *mime))
            .find(|(path, _)| path.is_file())
    }

    /// Moves a spooled file into place as the blob of `sha256`, unless that blob is already
    /// there (then the spooled copy is dropped). Blocking.
    pub fn put(&self, spooled: tempfile::NamedTempFile, sha256: &str) -> io::Result<()> {
        let path = self.blob_path(sha256);
        if path.is_file() {
            return Ok(());
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        spooled.as_file().sync_all()?;
        spooled.persist(&path).map_err(|e| e.error)?;
        Ok(())
    }

    /// Removes the blob of `sha256` and its thumbnail. Blocking.
    pub fn remove(&self, sha256: &str) -> io::Result<()> {
        let base = self.thumbnail_base(sha256);
        let thumbs = super::thumbnail::FORMATS.map(|(ext, _)| base.with_extension(ext));
        for path in std::iter::once(self.blob_path(sha256)).chain(thumbs) {
            match std::fs::remove_file(&path) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }
}
