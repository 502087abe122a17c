//! `homeserver backup DIR`: a consistent copy of a running server, without stopping it.
//!
//! In this order: the signing key (`DATA_DIR/signing.key`, checked like the server checks it);
//! the database, SQLite through `VACUUM INTO` (one read transaction: in WAL mode the server's
//! writer goes on) or Postgres through `pg_dump --format=custom` (one snapshot); then the media
//! blobs (content-addressed and never changed once in place, so a blob a row of the snapshot
//! names is already there). `manifest.json` is written last, so a directory without one is not
//! a backup. With `MEDIA_S3_URL` media live in the bucket and are not copied (the manifest says
//! `"media": "s3"`). A failed backup removes what it wrote.

use std::fs::{self, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{anyhow, bail, Context as _};
use federation_proto::time::format_rfc3339_ms;
use serde_json::json;

use super::manifest::{self, DatabaseEntry, FileEntry, Manifest};
use super::progress::{self, Progress};
use super::{pg, BackupArgs};
use crate::config::Config;
use crate::db::ops as dbops;
use crate::db::Backend;
use crate::keystore::{KeyStore, KEY_FILE_NAME};

/// Runs `homeserver backup`.
pub fn run(config: &Config, args: BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let dir = args.dir;
    prepare(&dir)?;
    let mut progress = Progress::new();
    let manifest = match write(config, &dir, &mut progress) {
        Ok(manifest) => manifest,
        Err(e) => {
            remove_contents(&dir);
            return Err(e);
        }
    };
    let elapsed = started.elapsed();
    let media: Vec<&FileEntry> = manifest
        .files
        .iter()
        .filter(|f| f.path.starts_with("media/"))
        .collect();
    if args.json {
        let summary = json!({
            "dir": dir,
            "duration_ms": elapsed.as_millis() as u64,
            "total_bytes": manifest.total_bytes(),
            "media_files": media.len(),
            "manifest": manifest,
        });
        println!("{}", serde_json::to_string_pretty(&summary)?);
    } else {
        let db_size = manifest.file(&manifest.database.file).map_or(0, |f| f.size);
        let media_note = if manifest.media == "s3" {
            "media not copied (MEDIA_S3_URL: back the bucket up on its own)".to_string()
        } else {
            format!(
                "{} media files ({})",
                media.len(),
                progress::bytes(media.iter().map(|f| f.size).sum())
            )
        };
        println!(
            "backup of {} written to {} in {:.1} s: database {} ({}, schema {}), signing key, {}",
            manifest.server_name,
            dir.display(),
            elapsed.as_secs_f64(),
            progress::bytes(db_size),
            manifest.backend,
            manifest.schema,
            media_note
        );
    }
    Ok(())
}

/// Creates `dir` owner-only, or accepts an existing empty one; refuses anything else.
fn prepare(dir: &Path) -> anyhow::Result<()> {
    match fs::read_dir(dir) {
        Ok(mut entries) => {
            if entries.next().is_some() {
                bail!(
                    "{} is not empty: a backup goes into a new or empty directory",
                    dir.display()
                );
            }
            fs::set_permissions(dir, fs::Permissions::from_mode(0o700))
                .with_context(|| format!("cannot make {} owner-only", dir.display()))?;
            Ok(())
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .with_context(|| format!("cannot create {}", dir.display())),
        Err(e) => Err(anyhow!("cannot read {}: {e}", dir.display())),
    }
}

/// Removes what a failed backup wrote (the directory was empty before).
fn remove_contents(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                fs::remove_dir_all(&path)
            } else {
                fs::remove_file(&path)
            };
        }
    }
}

fn write(config: &Config, dir: &Path, progress: &mut Progress) -> anyhow::Result<Manifest> {
    let server_name = config.server_name_or_hostname();
    let (backend, url) = dbops::locate(&config.dburl, &config.data_dir)?;
    if backend == Backend::Sqlite && !Path::new(&url).is_file() {
        bail!(
            "there is no database at {url}: nothing to back up (DATA_DIR or DBURL wrong, or the \
             server never started)"
        );
    }
    let mut conn = dbops::connect(backend, &url)
        .with_context(|| format!("cannot open the database ({backend})"))?;
    let schema = dbops::applied_migrations(&mut conn)?
        .pop()
        .ok_or_else(|| anyhow!("the database has never been migrated: nothing to back up"))?;
    let mut files = Vec::new();

    // The signing key, checked as the server checks it (format, owner-only).
    KeyStore::load(&config.data_dir).context("cannot back up the signing key")?;
    let key = fs::read(KeyStore::key_file(&config.data_dir))?;
    write_private(&dir.join(KEY_FILE_NAME), &key)?;
    files.push(entry(dir, KEY_FILE_NAME)?);
    progress.done("signing key: copied");

    // The database: one consistent snapshot.
    let started = Instant::now();
    progress.update(&format!("database ({backend}): copying…"));
    let database = match backend {
        Backend::Sqlite => {
            let target = dir.join(manifest::SQLITE_FILE);
            dbops::sqlite_copy(&mut conn, &target).context("VACUUM INTO failed")?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o600))?;
            fs::File::open(&target)?.sync_all()?;
            DatabaseEntry {
                file: manifest::SQLITE_FILE.into(),
                name: None,
            }
        }
        Backend::Postgres => {
            let name = dbops::database_name(&mut conn)?;
            let target = dir.join(manifest::PG_DUMP_FILE);
            pg::dump(&url, &target)?;
            fs::set_permissions(&target, fs::Permissions::from_mode(0o600))?;
            DatabaseEntry {
                file: manifest::PG_DUMP_FILE.into(),
                name: Some(name),
            }
        }
    };
    drop(conn);
    let db_entry = entry(dir, &database.file)?;
    progress.done(&format!(
        "database ({backend}): {} in {:.1} s",
        progress::bytes(db_entry.size),
        started.elapsed().as_secs_f64()
    ));
    files.push(db_entry);

    // Media blobs, unless they live in a bucket.
    let media = if config.media.s3_url().is_some() {
        progress
            .done("media: in MEDIA_S3_URL's bucket, not copied (back the bucket up on its own)");
        "s3"
    } else {
        copy_media(
            &config.data_dir.join(manifest::MEDIA_DIR),
            dir,
            &mut files,
            progress,
        )?;
        "local"
    };

    let manifest = Manifest {
        format: manifest::FORMAT,
        hearth_version: env!("CARGO_PKG_VERSION").to_string(),
        created: format_rfc3339_ms(crate::services::now_ms()),
        server_name,
        backend: backend.to_string(),
        schema,
        database,
        media: media.to_string(),
        files,
    };
    let text = serde_json::to_string_pretty(&manifest)?;
    let tmp = dir.join(".manifest.json.tmp");
    write_private(&tmp, text.as_bytes())?;
    fs::rename(&tmp, dir.join(manifest::MANIFEST))?;
    fs::File::open(dir)?.sync_all()?;
    Ok(manifest)
}

fn copy_media(
    media_root: &Path,
    dir: &Path,
    files: &mut Vec<FileEntry>,
    progress: &mut Progress,
) -> anyhow::Result<()> {
    let blobs = manifest::media_blobs(media_root)
        .with_context(|| format!("cannot list {}", media_root.display()))?;
    let total = blobs.len();
    let mut bytes = 0u64;
    let mut gone = 0usize;
    for (i, blob) in blobs.iter().enumerate() {
        let rel = format!("{}/{blob}", manifest::MEDIA_DIR);
        let target: PathBuf = dir.join(&rel);
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent)?;
        }
        match fs::copy(media_root.join(blob), &target) {
            Ok(_) => {}
            // Removed by retention since it was listed: no row of the snapshot needs it.
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                gone += 1;
                continue;
            }
            Err(e) => return Err(anyhow!("cannot copy media {blob}: {e}")),
        }
        fs::File::open(&target)?.sync_all()?;
        let e = entry(dir, &rel)?;
        bytes += e.size;
        files.push(e);
        if i % 16 == 0 || i + 1 == total {
            progress.update(&format!(
                "media: {}/{total} files ({})",
                i + 1,
                progress::bytes(bytes)
            ));
        }
    }
    let note = if gone > 0 {
        format!(" ({gone} removed by retention meanwhile)")
    } else {
        String::new()
    };
    progress.done(&format!(
        "media: {} files ({}){note}",
        total - gone,
        progress::bytes(bytes)
    ));
    Ok(())
}

/// The manifest entry of `dir/rel`, hashed from the copy in the backup.
fn entry(dir: &Path, rel: &str) -> anyhow::Result<FileEntry> {
    let (size, sha256) =
        manifest::hash_file(&dir.join(rel)).with_context(|| format!("cannot read back {rel}"))?;
    Ok(FileEntry {
        path: rel.to_string(),
        size,
        sha256,
    })
}

/// Writes a new owner-only file and syncs it.
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}
