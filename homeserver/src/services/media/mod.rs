//! Media: uploads, downloads, thumbnails, attachments and retention (issue 17).
//!
//! Who may download a media: its uploader, and the members (an open delivery window) of a
//! conversation — channel or DM — where a message shared it as an attachment. To anyone else
//! it does not exist (`404 media_not_found`), like a secret channel.
//!
//! # Layout
//! - [`config`]: `MAX_UPLOAD_SIZE`, `MEDIA_TYPES`, `CLAMD_ADDR`, `MEDIA_GRACE_HOURS`.
//! - [`upload`]: spool while hashing, size while streaming, type by magic bytes, scan, store.
//! - [`store`]: the content-addressed blobs under `DATA_DIR/media` (also the spool and the
//!   thumbnail cache when blobs are in a bucket).
//! - [`bucket`]: the blobs in an S3-compatible bucket (`MEDIA_S3_URL`).
//! - [`clamd`]: the `INSTREAM` client.
//! - [`thumbnail`](mod@thumbnail): decoding under a pixel budget, orientation, shrinking, caching.
//! - [`admin`]: `homeserver media list|delete|sweep`.
//!
//! Retention: a media that no message refers to (never attached, or every message that
//! shared it deleted) is removed once it is older than `MEDIA_GRACE_HOURS` (default 24), by a
//! worker every 10 minutes or by `homeserver media sweep`. The blob goes with the last row that
//! names it.

pub mod admin;
pub mod bucket;
pub mod clamd;
pub mod config;
pub mod store;
pub mod thumbnail;
pub mod upload;

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use federation_proto::media::{self as wire, MediaId, MediaInfo, MAX_ATTACHMENTS};
use tokio::sync::Semaphore;

use crate::config::Config;
use crate::db::media::MediaRow;
use crate::db::models::EventRow;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::now_ms;
use crate::state::AppState;

/// The media part of the server's state.
pub struct Media {
    /// Where blobs live.
    pub store: store::LocalStore,
    /// Thumbnails made at once (one per core).
    pub thumbnails: Arc<Semaphore>,
    /// Where blobs live when `MEDIA_S3_URL` is set (else in `store`).
    pub bucket: Option<bucket::Bucket>,
    /// Striped by content hash: storing a blob and its row, and deleting a row and then its
    /// blob, never interleave for the same content (else an upload that found the blob present
    /// could be left with a row whose blob a deletion just removed).
    blob_locks: Vec<tokio::sync::Mutex<()>>,
}

impl Media {
    /// The lock of the blob `sha256`.
    pub fn blob_lock(&self, sha256: &str) -> &tokio::sync::Mutex<()> {
        let stripe = sha256
            .get(..2)
            .and_then(|h| usize::from_str_radix(h, 16).ok())
            .unwrap_or(0);
        &self.blob_locks[stripe % self.blob_locks.len()]
    }
}

impl Media {
    /// Opens the store under the data directory.
    pub fn new(config: &Config) -> std::io::Result<Media> {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        let bucket = config
            .media
            .s3_url()
            .map(bucket::Bucket::from_url)
            .transpose()
            .map_err(std::io::Error::other)?;
        Ok(Media {
            store: store::LocalStore::open(&config.data_dir)?,
            thumbnails: Arc::new(Semaphore::new(cores)),
            bucket,
            blob_locks: (0..64).map(|_| tokio::sync::Mutex::new(())).collect(),
        })
    }
}

/// The client's description of a stored media.
pub fn info_of(row: &MediaRow) -> MediaInfo {
    MediaInfo {
        id: row.id.clone(),
        filename: row.filename.clone(),
        size: row.size,
        content_type: row.content_type.clone(),
        url: wire::media_url(&row.id),
        thumbnail_url: wire::has_thumbnail(&row.content_type).then(|| wire::thumbnail_url(&row.id)),
    }
}

fn not_found() -> ApiError {
    ApiError::not_found("media_not_found", "no such media")
}

/// A send's `attachments`: well-formed media ids, at most [`MAX_ATTACHMENTS`], each once.
pub fn parse_attachments(ids: Vec<String>) -> Result<Vec<String>, ApiError> {
    if ids.len() > MAX_ATTACHMENTS {
        return Err(ApiError::bad_request(
            "too_many_attachments",
            format!("at most {MAX_ATTACHMENTS} attachments per message"),
        ));
    }
    let mut out: Vec<String> = Vec::with_capacity(ids.len());
    for id in ids {
        let parsed: MediaId = id.parse().map_err(|e: wire::MediaIdError| {
            ApiError::bad_request("invalid_attachment", e.to_string())
        })?;
        let id = parsed.to_string();
        if !out.contains(&id) {
            out.push(id);
        }
    }
    Ok(out)
}

/// Every attachment of a local send must be a media its sender uploaded here.
pub fn check_attachments(conn: &mut Conn, user_id: &str, ids: &[String]) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let rows = db::media::many(conn, ids)?;
    for id in ids {
        let mine = rows
            .iter()
            .any(|r| &r.id == id && r.uploader_id.as_deref() == Some(user_id));
        if !mine {
            return Err(ApiError::bad_request(
                "invalid_attachment",
                format!("{id} is not a media you uploaded"),
            ));
        }
    }
    Ok(())
}

/// The attachments of an event received from `origin`: media ids of that server only (a
/// server vouches for its own media), at most [`MAX_ATTACHMENTS`]; others are dropped.
pub fn received_attachments(ids: &[String], origin: &str) -> Vec<String> {
    ids.iter()
        .filter_map(|id| id.parse::<MediaId>().ok())
        .filter(|id| id.server.as_str() == origin)
        .map(|id| id.to_string())
        .take(MAX_ATTACHMENTS)
        .collect()
}

/// The media rows of the attachments of a page of events, for their `files` aggregate.
pub struct Files(HashMap<String, MediaRow>);

impl Files {
    /// The descriptions of `ids`, in their order (those known here).
    pub fn take(&mut self, ids: &[String]) -> Vec<MediaInfo> {
        ids.iter()
            .filter_map(|id| self.0.get(id).map(info_of))
            .collect()
    }
}

/// Reads the media rows that the events of a page attach (one query).
pub fn files_of(conn: &mut Conn, rows: &[EventRow]) -> Result<Files, ApiError> {
    let mut ids: Vec<String> = Vec::new();
    for row in rows {
        if let Some(json) = row.attachments.as_deref() {
            if let Ok(list) = serde_json::from_str::<Vec<String>>(json) {
                ids.extend(list);
            }
        }
    }
    if ids.is_empty() {
        return Ok(Files(HashMap::new()));
    }
    ids.sort();
    ids.dedup();
    Ok(Files(
        db::media::many(conn, &ids)?
            .into_iter()
            .map(|r| (r.id.clone(), r))
            .collect(),
    ))
}

/// Where a media the session's user may read is.
pub enum Readable {
    /// Stored here: its row.
    Here(MediaRow),
    /// Another server's, not fetched yet (shared with the user in a message from there).
    Elsewhere(MediaId),
}

/// Finds a media the session's user may read: its uploader, a member of a conversation where
/// a message shared it, or anyone when it is a local user's avatar. To anyone else it does not
/// exist (`404 media_not_found`).
pub async fn lookup(state: &AppState, session: &Session, id: &str) -> Result<Readable, ApiError> {
    let parsed: MediaId = id.parse().map_err(|_| not_found())?;
    let id = parsed.to_string();
    let user_id = session.user_id.clone();
    let row = state
        .db
        .run(move |conn| {
            let row = db::media::get(conn, &id)?;
            let mine = row
                .as_ref()
                .is_some_and(|r| r.uploader_id.as_deref() == Some(user_id.as_str()));
            let allowed = mine
                || db::media::shared_with(conn, &id, &user_id)?
                || db::media::is_avatar(conn, &id)?;
            Ok::<_, ApiError>(allowed.then_some(row))
        })
        .await?
        .ok_or_else(not_found)?;
    match row {
        Some(row) => Ok(Readable::Here(row)),
        None if parsed.server != state.server_name => Ok(Readable::Elsewhere(parsed)),
        None => Err(not_found()),
    }
}

/// The cached thumbnail of a stored media (made now if needed, on the blocking pool, at most
/// one per core at once): its path and type.
pub async fn thumbnail(
    state: &AppState,
    row: &MediaRow,
) -> Result<(PathBuf, &'static str), ApiError> {
    if !wire::has_thumbnail(&row.content_type) {
        return Err(ApiError::not_found(
            "no_thumbnail",
            "thumbnails are made of images only",
        ));
    }
    if let Some(cached) = state.media.store.thumbnail(&row.sha256) {
        return Ok(cached);
    }
    let _permit = state
        .media
        .thumbnails
        .clone()
        .acquire_owned()
        .await
        .map_err(ApiError::internal)?;
    // The image, on local disk: the blob itself, or a copy of the bucket's for the decoder.
    let mut copy = None;
    let source = match &state.media.bucket {
        None => state.media.store.blob_path(&row.sha256),
        Some(bucket) => {
            let tmp = tempfile::NamedTempFile::new_in(state.media.store.tmp_dir())
                .map_err(ApiError::internal)?;
            let file = tmp.reopen().map_err(ApiError::internal)?;
            bucket.download_to(&row.sha256, file).await?;
            let path = tmp.path().to_path_buf();
            copy = Some(tmp);
            path
        }
    };
    let store = state.media.store.clone();
    let sha256 = row.sha256.clone();
    let made = actix_web::web::block(move || match store.thumbnail(&sha256) {
        // Made by another request while this one waited for its permit.
        Some(cached) => Ok(cached),
        None => {
            let path = thumbnail::make(&source, &store.thumbnail_base(&sha256))?;
            let mime = if path.extension().is_some_and(|e| e == "png") {
                "image/png"
            } else {
                "image/jpeg"
            };
            Ok::<_, thumbnail::ThumbError>((path, mime))
        }
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::from);
    drop(copy);
    made
}

/// Removes media that no message refers to and that are older than the grace period
/// (`MEDIA_GRACE_HOURS`): rows, then blobs no other row names. Returns how many went.
pub async fn sweep(state: &AppState) -> Result<usize, ApiError> {
    let grace_ms = i64::try_from(state.config.media.media_grace_hours)
        .unwrap_or(i64::MAX / 3_600_000)
        .saturating_mul(3_600_000);
    let before = now_ms().saturating_sub(grace_ms);
    let stale = state
        .db
        .run(move |conn| db::media::unreferenced(conn, before, 500).map_err(ApiError::from))
        .await?;
    let mut removed = 0;
    for row in stale {
        if delete(state, &row.id).await? {
            removed += 1;
        }
    }
    Ok(removed)
}

/// How often the retention worker looks for media to remove.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(600);

/// The retention worker: [`sweep`] at start and every 10 minutes.
pub async fn run_retention(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(SWEEP_EVERY);
    loop {
        ticks.tick().await;
        match sweep(&state).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(media = n, "removed media no message refers to"),
            Err(e) => tracing::warn!(error = %e, "media retention failed"),
        }
    }
}

/// Deletes one media (operator command, retention): its row and references, and its blob when
/// no other row names it. `false` when there is no such media.
pub async fn delete(state: &AppState, id: &str) -> Result<bool, ApiError> {
    let lookup = id.to_string();
    let sha256 = state
        .db
        .run(move |conn| db::media::get(conn, &lookup).map_err(ApiError::from))
        .await?
        .map(|row| row.sha256);
    let Some(sha256) = sha256 else {
        return Ok(false);
    };
    let _blob = state.media.blob_lock(&sha256).lock().await;
    let lookup = id.to_string();
    let deleted = state
        .db
        .write(move |conn| db::media::delete(conn, &lookup).map_err(ApiError::from))
        .await?;
    let Some((row, still_used)) = deleted else {
        return Ok(false);
    };
    if !still_used {
        if let Some(bucket) = &state.media.bucket {
            bucket.delete(&row.sha256).await?;
        }
        // The blob (unless it is in the bucket) and the cached thumbnails.
        let store = state.media.store.clone();
        actix_web::web::block(move || store.remove(&row.sha256))
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
    }
    tracing::info!(%id, "media removed");
    Ok(true)
}

/// Every media, newest first (operator listing).
pub async fn list(state: &AppState, limit: i64) -> Result<Vec<MediaRow>, ApiError> {
    state
        .db
        .run(move |conn| db::media::list(conn, limit).map_err(ApiError::from))
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attachments_parse_dedupe_and_cap() {
        let id = "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@hs1.example".to_string();
        assert_eq!(
            parse_attachments(vec![id.clone(), id.clone()]).unwrap(),
            std::slice::from_ref(&id)
        );
        assert_eq!(
            parse_attachments(vec!["nope".into()]).unwrap_err().code,
            "invalid_attachment"
        );
        assert_eq!(
            parse_attachments(vec![id.clone(); 11]).unwrap_err().code,
            "too_many_attachments"
        );
    }

    #[test]
    fn received_attachments_are_the_origins_own() {
        let mine = "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@hs2.example".to_string();
        let other = "0192f1d6-8c1e-7a4e-9b1a-3f2c9d4e5a6b@hs3.example".to_string();
        assert_eq!(
            received_attachments(&[mine.clone(), other, "x".into()], "hs2.example"),
            [mine]
        );
    }
}
