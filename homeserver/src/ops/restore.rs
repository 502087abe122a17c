//! `homeserver restore DIR`: brings a backup back into an empty data directory (SQLite) or
//! the empty database of `DBURL` (Postgres, with `pg_restore`), with the same signing key and
//! media.
//!
//! Before anything is written: the manifest is read and every file's size and sha256 checked;
//! the backup's backend must be the configured one; its schema must not be newer than this
//! binary's migrations (an older one is migrated when the server starts, as usual); and the
//! target must hold no server yet: no signing key, no SQLite database, no media blob, no table
//! in the Postgres database. So a live server's data is never overwritten. The database is
//! written last (on SQLite under a temporary name, then linked into place); a failed restore
//! removes what it wrote.

use std::fs;
use std::io;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _};
use serde_json::json;

use super::backup::write_private;
use super::manifest::{self, Manifest};
use super::progress::{self, Progress};
use super::{pg, RestoreArgs};
use crate::config::Config;
use crate::db::ops as dbops;
use crate::db::Backend;
use crate::keystore::{KeyStore, KEY_FILE_NAME};

/// Runs `homeserver restore`.
pub fn run(config: &Config, args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = args.dir;
    let mut progress = Progress::new();
    let manifest = Manifest::read(&dir)?;
    verify(&dir, &manifest, &mut progress)?;
    let (backend, url) = dbops::locate(&config.dburl, &config.data_dir)?;
    check_compatible(&manifest, backend)?;
    check_target(config, backend, &url)?;

    let mut written = Written::default();
    if let Err(e) = restore(
        config,
        &dir,
        &manifest,
        backend,
        &url,
        &mut written,
        &mut progress,
    ) {
        written.undo();
        return Err(e);
    }
    let keys = KeyStore::load(&config.data_dir).context("the restored signing key")?;
    let key = keys.current();
    let media = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("media/"))
        .count();
    if args.json {
        let summary = json!({
            "server_name": manifest.server_name,
            "backend": manifest.backend,
            "schema": manifest.schema,
            "backup_created": manifest.created,
            "data_dir": config.data_dir,
            "media_files": media,
            "key_id": key.key_id(),
            "public_key": key.public_key_b64(),
            "duration_ms": started.elapsed().as_millis() as u64,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        println!(
            "restored {} (backup of {}, {}, schema {}) into {}: database, signing key {} {}, {} \
             media files; start the server",
            manifest.server_name,
            manifest.created,
            manifest.backend,
            manifest.schema,
            config.data_dir.display(),
            key.key_id(),
            key.public_key_b64(),
            media
        );
    }
    Ok(())
}

/// Every file of the manifest is there with its size and sha256.
fn verify(dir: &Path, manifest: &Manifest, progress: &mut Progress) -> anyhow::Result<()> {
    for required in [KEY_FILE_NAME, manifest.database.file.as_str()] {
        if manifest.file(required).is_none() {
            bail!("the backup's manifest lists no {required}: not a complete backup");
        }
    }
    let total = manifest.files.len();
    let mut bytes = 0u64;
    for (i, entry) in manifest.files.iter().enumerate() {
        let path = dir.join(manifest::relative(&entry.path)?);
        let (size, sha256) = manifest::hash_file(&path).map_err(|e| {
            anyhow!(
                "the backup is damaged: {} cannot be read ({e})",
                path.display()
            )
        })?;
        if size != entry.size || sha256 != entry.sha256 {
            bail!(
                "the backup is damaged: {} has {size} bytes with sha256 {sha256}, the manifest \
                 says {} bytes with sha256 {}",
                entry.path,
                entry.size,
                entry.sha256
            );
        }
        bytes += size;
        progress.update(&format!(
            "checking: {}/{total} files ({})",
            i + 1,
            progress::bytes(bytes)
        ));
    }
    progress.done(&format!(
        "checked {total} files ({}): every checksum matches",
        progress::bytes(bytes)
    ));
    Ok(())
}

/// The backup fits this binary and configuration.
fn check_compatible(manifest: &Manifest, backend: Backend) -> anyhow::Result<()> {
    if manifest.backend != backend.to_string() {
        bail!(
            "the backup is of a {} database but DBURL names a {backend} one; restore it into \
             the same backend (a SQLite backup can then move to Postgres with `homeserver db \
             migrate-from-sqlite`)",
            manifest.backend
        );
    }
    let latest = dbops::embedded_migrations(backend)?
        .pop()
        .ok_or_else(|| anyhow!("this homeserver has no migrations"))?;
    if dbops::version_cmp(&manifest.schema, &latest) == std::cmp::Ordering::Greater {
        bail!(
            "the backup's schema {} is newer than this homeserver's ({latest}): restore it with \
             homeserver {} or newer",
            manifest.schema,
            manifest.hearth_version
        );
    }
    Ok(())
}

/// The target holds no server yet.
fn check_target(config: &Config, backend: Backend, url: &str) -> anyhow::Result<()> {
    let data_dir = &config.data_dir;
    let key = KeyStore::key_file(data_dir);
    if key.exists() {
        bail!(
            "{} already has a signing key ({}): restore only into an empty data directory; a \
             server's data is never overwritten",
            data_dir.display(),
            key.display()
        );
    }
    let blobs = manifest::media_blobs(&data_dir.join(manifest::MEDIA_DIR))?;
    if !blobs.is_empty() {
        bail!(
            "{} already has {} media files: restore only into an empty data directory",
            data_dir.display(),
            blobs.len()
        );
    }
    match backend {
        Backend::Sqlite => {
            for suffix in ["", "-wal", "-journal"] {
                let path = PathBuf::from(format!("{url}{suffix}"));
                if path.exists() {
                    bail!(
                        "there is a database at {} already: restore only into an empty data \
                         directory; a server's data is never overwritten",
                        path.display()
                    );
                }
            }
        }
        Backend::Postgres => {
            let mut conn = dbops::connect(backend, url)
                .context("cannot connect to DBURL's database (create it first: createdb)")?;
            let tables = dbops::tables(&mut conn)?;
            if !tables.is_empty() {
                let name = dbops::database_name(&mut conn)?;
                bail!(
                    "the database {name} already has {} tables ({}…): restore only into an \
                     empty database (createdb a new one)",
                    tables.len(),
                    tables
                        .iter()
                        .take(3)
                        .cloned()
                        .collect::<Vec<_>>()
                        .join(", ")
                );
            }
        }
    }
    Ok(())
}

/// Files and directories a restore created, removed again if it fails.
#[derive(Default)]
struct Written {
    files: Vec<PathBuf>,
    dirs: Vec<PathBuf>,
}

impl Written {
    fn create_dir_all(&mut self, dir: &Path) -> io::Result<()> {
        let mut missing = Vec::new();
        let mut at = Some(dir);
        while let Some(d) = at {
            if d.as_os_str().is_empty() || d.exists() {
                break;
            }
            missing.push(d.to_path_buf());
            at = d.parent();
        }
        for d in missing.into_iter().rev() {
            fs::DirBuilder::new().mode(0o700).create(&d)?;
            self.dirs.push(d);
        }
        Ok(())
    }

    fn undo(self) {
        for file in self.files.iter().rev() {
            let _ = fs::remove_file(file);
        }
        for dir in self.dirs.iter().rev() {
            let _ = fs::remove_dir(dir);
        }
    }
}

fn restore(
    config: &Config,
    dir: &Path,
    manifest: &Manifest,
    backend: Backend,
    url: &str,
    written: &mut Written,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let data_dir = &config.data_dir;
    written.create_dir_all(data_dir)?;

    // Media blobs.
    let media: Vec<_> = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("media/"))
        .collect();
    for (i, entry) in media.iter().enumerate() {
        let target = data_dir.join(manifest::relative(&entry.path)?);
        if let Some(parent) = target.parent() {
            written.create_dir_all(parent)?;
        }
        written.files.push(target.clone());
        fs::copy(dir.join(&entry.path), &target)
            .with_context(|| format!("cannot write {}", target.display()))?;
        fs::File::open(&target)?.sync_all()?;
        progress.update(&format!("media: {}/{} files", i + 1, media.len()));
    }
    progress.done(&format!("media: {} files", media.len()));

    // The signing key, owner-only.
    let key_target = KeyStore::key_file(data_dir);
    let key = fs::read(dir.join(KEY_FILE_NAME))?;
    write_private(&key_target, &key)?;
    written.files.push(key_target);
    progress.done("signing key: restored");

    // The database, last.
    let started = Instant::now();
    progress.update(&format!("database ({backend}): restoring…"));
    let source = dir.join(&manifest.database.file);
    match backend {
        Backend::Sqlite => {
            let target = PathBuf::from(url);
            if let Some(parent) = target.parent() {
                written.create_dir_all(parent)?;
            }
            let tmp = PathBuf::from(format!("{url}.restoring"));
            let _ = fs::remove_file(&tmp);
            written.files.push(tmp.clone());
            fs::copy(&source, &tmp).with_context(|| format!("cannot write {}", tmp.display()))?;
            fs::File::open(&tmp)?.sync_all()?;
            // A link fails if a database appeared meanwhile: never overwrite one.
            fs::hard_link(&tmp, &target).with_context(|| {
                format!("cannot put the database in place at {}", target.display())
            })?;
            written.files.push(target);
            let _ = fs::remove_file(&tmp);
        }
        Backend::Postgres => pg::restore(url, &source)?,
    }
    if let Some(parent) = KeyStore::key_file(data_dir).parent() {
        if let Ok(d) = fs::File::open(parent) {
            let _ = d.sync_all();
        }
    }
    progress.done(&format!(
        "database ({backend}): restored in {:.1} s",
        started.elapsed().as_secs_f64()
    ));
    Ok(())
}
