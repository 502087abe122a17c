//! An upload, from the request's byte stream to a stored blob and its row:
//!
//! 1. **spool**: the bytes go to a temporary file in `DATA_DIR/media/tmp` on a blocking
//!    thread, hashed (sha256) as they pass, never held whole in memory; the size is checked
//!    chunk by chunk, so an upload over `MAX_UPLOAD_SIZE` is cut off (`413 too_large`) as soon
//!    as it passes the limit;
//! 2. **scan**: with `CLAMD_ADDR`, the file is streamed to clamd (`422 malware_detected`;
//!    `503 scanner_unavailable` when clamd cannot be reached: never a silent pass), whatever
//!    its type;
//! 3. **type**: decided by the file's magic bytes (`infer`) against `MEDIA_TYPES`
//!    (`415 unsupported_media_type`); the declared type and the name are hints only;
//! 4. **store**: renamed into place under its hash (identical files are stored once), then the
//!    metadata row is written.
//!
//! A refused upload leaves nothing behind: the spooled file is removed when it is dropped.

use std::io::Write;

use actix_web::http::StatusCode;
use actix_web::web::Bytes;
use futures_util::{Stream, StreamExt};
use sha2::{Digest, Sha256};

use super::clamd::{self, Verdict};
use super::info_of;
use crate::db::media::MediaRow;
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::now_ms;
use crate::state::AppState;
use federation_proto::media::{MediaId, MediaInfo, FILENAME_MAX_CHARS};

/// Bytes kept from the start of a file for the type check (`infer` looks at the first few
/// bytes, and for docx at the first entries of the zip).
const HEAD_BYTES: usize = 64 * 1024;
/// Chunks queued between the request and the spooling thread.
const QUEUE: usize = 8;

/// A file spooled to disk (removed when dropped, unless it was stored).
pub(crate) struct Spooled {
    file: tempfile::NamedTempFile,
    /// Bytes.
    pub size: u64,
    /// Lower-case hex.
    pub sha256: String,
    head: Vec<u8>,
}

/// Stores the upload `body` named `filename` by the session's user; answers its description.
pub async fn upload<S, E>(
    state: &AppState,
    session: &Session,
    filename: Option<&str>,
    body: S,
) -> Result<MediaInfo, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let filename = clean_filename(filename);
    let spooled = receive(state, state.config.media.max_upload_size, body).await?;
    let (spooled, content_type) = vet(state, spooled).await?;
    let row = MediaRow {
        id: MediaId::new(state.server_name.clone()).to_string(),
        origin: state.server_name.to_string(),
        uploader: format!("{}@{}", session.nick, state.server_name),
        uploader_id: Some(session.user_id.clone()),
        filename,
        size: i64::try_from(spooled.size).unwrap_or(i64::MAX),
        content_type: content_type.to_string(),
        sha256: spooled.sha256.clone(),
        created_ms: now_ms(),
    };
    keep(state, spooled, row.clone()).await?;
    tracing::info!(id = %row.id, size = row.size, content_type = %row.content_type, "media stored");
    Ok(info_of(&row))
}

/// Spools `body` to a temporary file while hashing it, refusing it (`413 too_large`) as soon
/// as it passes `limit` bytes.
pub(crate) async fn receive<S, E>(
    state: &AppState,
    limit: u64,
    mut body: S,
) -> Result<Spooled, ApiError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(QUEUE);
    let tmp_dir = state.media.store.tmp_dir();
    let spooling = actix_web::rt::task::spawn_blocking(move || spool(rx, &tmp_dir));
    let mut size: u64 = 0;
    let mut fed = Ok(());
    while let Some(chunk) = body.next().await {
        let chunk = match chunk {
            Ok(chunk) => chunk,
            Err(e) => {
                fed = Err(ApiError::bad_request(
                    "upload_interrupted",
                    format!("the upload did not arrive whole: {e}"),
                ));
                break;
            }
        };
        size = size.saturating_add(chunk.len() as u64);
        if size > limit {
            fed = Err(too_large(limit));
            break;
        }
        if tx.send(chunk).await.is_err() {
            break;
        }
    }
    drop(tx);
    let spooled = spooling
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal);
    // The request's error first: a cut-off upload is that, whatever the spooler made of it.
    fed?;
    let spooled = spooled?;
    if spooled.size == 0 {
        return Err(ApiError::bad_request("empty_file", "the file is empty"));
    }
    Ok(spooled)
}

/// Scans a spooled file (with `CLAMD_ADDR`) and decides its type by its magic bytes against
/// `MEDIA_TYPES`: the file and its MIME type.
pub(crate) async fn vet(
    state: &AppState,
    spooled: Spooled,
) -> Result<(Spooled, &'static str), ApiError> {
    // Scanned first: a detection is reported as such, whatever the file's type.
    let spooled = match state.config.media.clamd() {
        Some(addr) => scan(addr.to_string(), spooled).await?,
        None => spooled,
    };
    let (extension, content_type) = detect(&spooled.head).ok_or_else(unsupported)?;
    if !state.config.media.media_types.allows(extension) {
        return Err(unsupported());
    }
    Ok((spooled, content_type))
}

/// Moves a vetted file into the store under its hash and records its row.
pub(crate) async fn keep(
    state: &AppState,
    spooled: Spooled,
    row: MediaRow,
) -> Result<(), ApiError> {
    let key = spooled.sha256.clone();
    let file = spooled.file;
    let _blob = state.media.blob_lock(&key).lock().await;
    match &state.media.bucket {
        Some(bucket) => bucket.put_file(file, &key).await?,
        None => {
            let store = state.media.store.clone();
            actix_web::web::block(move || store.put(file, &key))
                .await
                .map_err(ApiError::internal)?
                .map_err(ApiError::internal)?;
        }
    }
    state
        .db
        .write(move |conn| crate::db::media::insert(conn, &row).map_err(ApiError::from))
        .await
}

/// Writes the queued chunks to a temporary file while hashing them. Blocking.
fn spool(
    mut rx: tokio::sync::mpsc::Receiver<Bytes>,
    dir: &std::path::Path,
) -> std::io::Result<Spooled> {
    let mut file = tempfile::Builder::new().prefix("up-").tempfile_in(dir)?;
    let mut hasher = Sha256::new();
    let mut head = Vec::new();
    let mut size = 0u64;
    {
        let mut out = std::io::BufWriter::with_capacity(256 * 1024, file.as_file_mut());
        while let Some(chunk) = rx.blocking_recv() {
            hasher.update(&chunk);
            if head.len() < HEAD_BYTES {
                let take = (HEAD_BYTES - head.len()).min(chunk.len());
                head.extend_from_slice(&chunk[..take]);
            }
            size += chunk.len() as u64;
            out.write_all(&chunk)?;
        }
        out.flush()?;
    }
    let sha256 = hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    Ok(Spooled {
        file,
        size,
        sha256,
        head,
    })
}

/// Scans a spooled file with clamd on the blocking pool; gives it back when it is clean.
async fn scan(addr: String, spooled: Spooled) -> Result<Spooled, ApiError> {
    let (verdict, spooled) = actix_web::web::block(move || {
        let verdict = clamd::scan_file(&addr, spooled.file.path());
        (verdict, spooled)
    })
    .await
    .map_err(ApiError::internal)?;
    match verdict {
        Ok(Verdict::Clean) => Ok(spooled),
        Ok(Verdict::Found(name)) => {
            tracing::warn!(signature = %name, "upload refused: malware detected");
            Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "malware_detected",
                format!("the file was refused: {name}"),
            ))
        }
        Err(e) => {
            tracing::error!(error = %e, "upload refused: the malware scanner is unavailable");
            Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "scanner_unavailable",
                "the malware scanner is unavailable; try again later",
            )
            .retry_after(std::time::Duration::from_secs(30)))
        }
    }
}

/// The type of a file by its first bytes: `infer`'s extension name and MIME type.
pub fn detect(head: &[u8]) -> Option<(&'static str, &'static str)> {
    let kind = infer::get(head)?;
    Some((kind.extension(), kind.mime_type()))
}

fn unsupported() -> ApiError {
    ApiError::new(
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "this type of file is not accepted (decided by its content, not its name)",
    )
}

fn too_large(limit: u64) -> ApiError {
    ApiError::too_large(
        "too_large",
        format!("the file is larger than the limit of {limit} bytes"),
    )
}

/// A file name without directories, control characters or surrounding space, at most
/// [`FILENAME_MAX_CHARS`] characters; `file` when nothing is left.
pub fn clean_filename(name: Option<&str>) -> String {
    let name = name.unwrap_or_default();
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control())
        .take(FILENAME_MAX_CHARS)
        .collect();
    let cleaned = cleaned.trim().trim_start_matches('.').trim();
    if cleaned.is_empty() {
        "file".to_string()
    } else {
        cleaned.to_string()
    }
}

/// `413 too_large` for an upload whose declared `Content-Length` is over the limit.
pub fn check_declared_length(length: Option<u64>, limit: u64) -> Result<(), ApiError> {
    match length {
        Some(n) if n > limit.saturating_add(64 * 1024) => Err(too_large(limit)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filenames_are_cleaned() {
        assert_eq!(clean_filename(Some("../../etc/passwd")), "passwd");
        assert_eq!(clean_filename(Some("C:\\x\\photo.jpg")), "photo.jpg");
        assert_eq!(clean_filename(Some("a\nb\u{0}.png")), "ab.png");
        assert_eq!(clean_filename(Some("  ")), "file");
        assert_eq!(clean_filename(Some(".htaccess")), "htaccess");
        assert_eq!(clean_filename(None), "file");
        assert_eq!(clean_filename(Some(&"x".repeat(400))).chars().count(), 255);
    }

    #[test]
    fn types_come_from_magic_bytes() {
        assert_eq!(
            detect(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"),
            Some(("png", "image/png"))
        );
        assert_eq!(detect(b"%PDF-1.7\n"), Some(("pdf", "application/pdf")));
        assert_eq!(detect(b"GIF89a\x01\0\x01\0"), Some(("gif", "image/gif")));
        // Known to infer, but not one of the default types.
        let (html, _) = detect(b"<html><script>alert(1)</script>").unwrap();
        let defaults = crate::services::media::config::MediaConfig::default_types();
        assert!(!defaults.allows(html));
        assert_eq!(detect(b"just some text"), None);
    }

    /// Stored entries of a zip holding `names`, 40 bytes each (enough for the type check).
    fn zip_with(names: &[&str]) -> Vec<u8> {
        let mut out = Vec::new();
        for name in names {
            out.extend_from_slice(b"PK\x03\x04\x14\x00\x00\x00\x00\x00");
            out.extend_from_slice(&[0; 8]);
            out.extend_from_slice(&40u32.to_le_bytes());
            out.extend_from_slice(&40u32.to_le_bytes());
            out.extend_from_slice(&(name.len() as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(&[b'x'; 40]);
        }
        out
    }

    #[test]
    fn docx_is_told_from_zip() {
        let docx = zip_with(&[
            "[Content_Types].xml",
            "_rels/.rels",
            "word/document.xml",
            "word/styles.xml",
        ]);
        assert_eq!(detect(&docx).map(|t| t.0), Some("docx"));
        let zip = zip_with(&["notes.txt", "photo.jpg"]);
        assert_eq!(detect(&zip).map(|t| t.0), Some("zip"));
    }
}
