//! Media handlers: upload, download, thumbnail ([`crate::services::media`]).
//!
//! Downloads are served so that an uploaded file can never run script in our origin: the type
//! decided at upload, `X-Content-Type-Options: nosniff`, `Content-Security-Policy:
//! default-src 'none'; sandbox`, and `Content-Disposition: attachment` for everything but
//! images and PDF. `ETag`/`If-None-Match` and `Range` come from actix-files' `NamedFile`
//! (blobs never change once stored).

use actix_files::NamedFile;
use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};
use federation_proto::api::ErrorBody;
use federation_proto::media::{MediaInfo, UploadQuery};
use futures_util::{Stream, StreamExt};

use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::media::{self, upload};
use crate::state::AppState;

/// The policy of every served file: nothing loads, nothing runs.
const CSP: &str = "default-src 'none'; sandbox";

/// `POST /api/v1/media`: upload a file (multipart with a `file` part, or a raw body with
/// `?filename=`).
#[utoipa::path(post, path = "/api/v1/media", tag = "media", security(("bearer" = [])), params(UploadQuery),
    request_body(content_type = "multipart/form-data", description = "a `file` part; or any other Content-Type with the file as the raw body and its name in `?filename=`"),
    responses((status = 201, body = MediaInfo, description = "stored; `thumbnail_url` for images"),
        (status = 400, description = "empty_file, no_file_part, upload_interrupted", body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 413, description = "too_large: over MAX_UPLOAD_SIZE (checked while streaming)", body = ErrorBody),
        (status = 415, description = "unsupported_media_type: the content is not of a MEDIA_TYPES type", body = ErrorBody),
        (status = 422, description = "malware_detected (CLAMD_ADDR)", body = ErrorBody),
        (status = 503, description = "scanner_unavailable: CLAMD_ADDR is set and clamd cannot be reached", body = ErrorBody)))]
pub async fn upload(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<UploadQuery>,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let limit = state.config.media.max_upload_size;
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    let is_multipart = req
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.trim_start()
                .to_ascii_lowercase()
                .starts_with("multipart/form-data")
        });
    let mut payload = payload.into_inner().fuse();
    if let Err(e) = upload::check_declared_length(declared, limit) {
        drain(&mut payload, limit).await;
        return Err(e);
    }
    let stored = if is_multipart {
        let mut form = actix_multipart::Multipart::new(req.headers(), payload.into_inner());
        let mut stored = None;
        while let Some(field) = form.next().await {
            let field = field.map_err(|e| {
                ApiError::bad_request("invalid_multipart", format!("bad multipart body: {e}"))
            })?;
            if field.name() != Some("file") {
                continue;
            }
            let filename = field
                .content_disposition()
                .and_then(|cd| cd.get_filename())
                .map(str::to_string)
                .or_else(|| query.filename.clone());
            // Fused: a field must not be polled again once it has ended (actix-multipart
            // panics), and a refused upload drains what is left of it.
            let mut field = field.fuse();
            let result = upload::upload(&state, &session, filename.as_deref(), &mut field).await;
            if result.is_err() {
                drain(&mut field, limit).await;
            }
            stored = Some(result);
            break;
        }
        // Whatever follows the file part is left unread.
        stored.unwrap_or_else(|| {
            Err(ApiError::bad_request(
                "no_file_part",
                "the multipart body has no part named file",
            ))
        })
    } else {
        let result =
            upload::upload(&state, &session, query.filename.as_deref(), &mut payload).await;
        if result.is_err() {
            drain(&mut payload, limit).await;
        }
        result
    };
    Ok(HttpResponse::Created().json(stored?))
}

/// Reads and drops what is left of a refused upload (up to a bound), so that the client can
/// read the answer instead of meeting a reset connection.
async fn drain<S, E>(body: &mut S, limit: u64)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
{
    let bound = limit.max(16 << 20);
    let mut read = 0u64;
    while let Some(Ok(chunk)) = body.next().await {
        read += chunk.len() as u64;
        if read > bound {
            break;
        }
    }
}

/// `GET /api/v1/media/{id}`: the file.
#[utoipa::path(get, path = "/api/v1/media/{id}", tag = "media", security(("bearer" = [])),
    params(("id" = String, Path, description = "media id `<uuid>@<server>`"),
        ("Range" = Option<String>, Header, description = "a byte range (`bytes=0-99`)"),
        ("If-None-Match" = Option<String>, Header, description = "an ETag seen before")),
    responses((status = 200, content_type = "application/octet-stream", description = "the bytes, with Content-Type, Content-Disposition (inline for images and PDF, attachment otherwise), ETag, Accept-Ranges, X-Content-Type-Options: nosniff and a sandboxing Content-Security-Policy"),
        (status = 206, description = "the requested range"),
        (status = 304, description = "not modified (If-None-Match)"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "media_not_found: no such media, or not shared with this user (only its uploader and the members of a conversation where it was sent may read it)", body = ErrorBody),
        (status = 416, description = "the range is not satisfiable")))]
pub async fn download(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = crate::federation::media::readable(&state, &session, &id).await?;
    let inline = is_inline(&row.content_type);
    serve_media(&req, &state, &row, inline).await
}

/// `GET /api/v1/media/{id}/thumbnail`: a thumbnail of an image.
#[utoipa::path(get, path = "/api/v1/media/{id}/thumbnail", tag = "media", security(("bearer" = [])),
    params(("id" = String, Path, description = "media id `<uuid>@<server>`")),
    responses((status = 200, content_type = "image/jpeg", description = "at most 320×320, never larger than the image, EXIF orientation applied; JPEG, or PNG for images with transparency"),
        (status = 304, description = "not modified (If-None-Match)"),
        (status = 401, body = ErrorBody),
        (status = 404, description = "media_not_found; no_thumbnail (not an image)", body = ErrorBody),
        (status = 422, description = "image_too_large (over the decoding budget of 50 megapixels), bad_image", body = ErrorBody)))]
pub async fn thumbnail(
    req: HttpRequest,
    state: web::Data<AppState>,
    session: Session,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let row = crate::federation::media::readable(&state, &session, &id).await?;
    let (path, content_type) = media::thumbnail(&state, &row).await?;
    let name = match content_type {
        "image/png" => "thumbnail.png",
        _ => "thumbnail.jpg",
    };
    serve(&req, path, content_type, name, true).await
}

/// `GET /api/v1/federation/media/{id}` (signed by a peer): the description of a media of this
/// server that was shared with the peer ([`crate::federation::media`]).
pub async fn federation_describe(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let origin = crate::federation::inbound::verify(&state, &req, &[]).await?;
    state.limits.check_federation(&origin)?;
    let row = crate::federation::media::for_peer(&state, &origin, &id).await?;
    Ok(HttpResponse::Ok().json(crate::federation::media::describe(&row)))
}

/// `GET /api/v1/federation/media/{id}/content` (signed by a peer): its bytes.
pub async fn federation_content(
    req: HttpRequest,
    state: web::Data<AppState>,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let origin = crate::federation::inbound::verify(&state, &req, &[]).await?;
    state.limits.check_federation(&origin)?;
    let row = crate::federation::media::for_peer(&state, &origin, &id).await?;
    serve_media(&req, &state, &row, false).await
}

/// Images and PDF are shown in the browser; everything else is a download.
fn is_inline(content_type: &str) -> bool {
    content_type.starts_with("image/") || content_type == "application/pdf"
}

/// Serves a media's bytes from the local store or the bucket.
async fn serve_media(
    req: &HttpRequest,
    state: &AppState,
    row: &crate::db::media::MediaRow,
    inline: bool,
) -> Result<HttpResponse, ApiError> {
    match &state.media.bucket {
        None => {
            let path = state.media.store.blob_path(&row.sha256);
            serve(req, path, &row.content_type, &row.filename, inline).await
        }
        Some(bucket) => serve_bucket(req, bucket, row, inline).await,
    }
}

/// Serves a blob of the bucket: `ETag` (the content hash) with `If-None-Match`, one `Range`,
/// streamed from the bucket.
async fn serve_bucket(
    req: &HttpRequest,
    bucket: &media::bucket::Bucket,
    row: &crate::db::media::MediaRow,
    inline: bool,
) -> Result<HttpResponse, ApiError> {
    let etag = format!("\"{}\"", row.sha256);
    let size = u64::try_from(row.size).unwrap_or(0);
    let mut response = if req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    {
        HttpResponse::NotModified().finish()
    } else {
        let range = req
            .headers()
            .get(header::RANGE)
            .and_then(|v| v.to_str().ok())
            .map(|v| actix_files::HttpRange::parse(v, size));
        match range {
            Some(Err(_)) => HttpResponse::RangeNotSatisfiable()
                .insert_header((header::CONTENT_RANGE, format!("bytes */{size}")))
                .finish(),
            Some(Ok(ranges)) if !ranges.is_empty() => {
                let r = ranges[0];
                let stream = bucket
                    .get(&row.sha256, Some(r.start..r.start + r.length))
                    .await?;
                HttpResponse::PartialContent()
                    .insert_header((
                        header::CONTENT_RANGE,
                        format!("bytes {}-{}/{size}", r.start, r.start + r.length - 1),
                    ))
                    .no_chunking(r.length)
                    .streaming(stream)
            }
            _ => {
                let stream = bucket.get(&row.sha256, None).await?;
                HttpResponse::Ok().no_chunking(size).streaming(stream)
            }
        }
    };
    let disposition = ContentDisposition {
        disposition: if inline {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters: disposition_names(&row.filename),
    };
    let headers = response.headers_mut();
    if let Ok(value) = header::HeaderValue::from_str(&row.content_type) {
        headers.insert(header::CONTENT_TYPE, value);
    }
    if let Ok(value) = header::HeaderValue::from_str(&disposition.to_string()) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    if let Ok(value) = header::HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, value);
    }
    headers.insert(
        header::ACCEPT_RANGES,
        header::HeaderValue::from_static("bytes"),
    );
    safety_headers(headers);
    Ok(response)
}

/// The headers of every media answer: no sniffing, no script, private caching.
fn safety_headers(headers: &mut header::HeaderMap) {
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        header::HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        header::HeaderValue::from_static(CSP),
    );
    headers.insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("private, max-age=86400"),
    );
    headers.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        header::HeaderValue::from_static("same-origin"),
    );
}

/// Serves a stored file with the headers of every media answer.
async fn serve(
    req: &HttpRequest,
    path: std::path::PathBuf,
    content_type: &str,
    filename: &str,
    inline: bool,
) -> Result<HttpResponse, ApiError> {
    let mime: mime::Mime = content_type
        .parse()
        .unwrap_or(mime::APPLICATION_OCTET_STREAM);
    let file = web::block(move || NamedFile::open(path))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                ApiError::not_found("media_not_found", "the media's file is missing")
            }
            _ => ApiError::internal(e),
        })?;
    let disposition = ContentDisposition {
        disposition: if inline {
            DispositionType::Inline
        } else {
            DispositionType::Attachment
        },
        parameters: disposition_names(filename),
    };
    let mut response = file
        .set_content_type(mime)
        .set_content_disposition(disposition)
        .use_last_modified(false)
        .into_response(req);
    safety_headers(response.headers_mut());
    Ok(response)
}

/// `filename` as a plain ASCII fallback (quotes, backslashes and non-ASCII replaced) and as
/// RFC 5987 `filename*` in UTF-8 when it is not plain ASCII.
fn disposition_names(filename: &str) -> Vec<DispositionParam> {
    let ascii: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let mut params = vec![DispositionParam::Filename(ascii.clone())];
    if ascii != filename {
        params.push(DispositionParam::FilenameExt(header::ExtendedValue {
            charset: header::Charset::Ext("UTF-8".to_string()),
            language_tag: None,
            value: filename.as_bytes().to_vec(),
        }));
    }
    params
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_images_and_pdf_are_inline() {
        assert!(is_inline("image/png"));
        assert!(is_inline("application/pdf"));
        assert!(!is_inline("application/zip"));
        assert!(!is_inline("application/msword"));
    }

    #[test]
    fn disposition_names_are_escaped() {
        let cd = ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: disposition_names("a\"b\\c é.zip"),
        };
        let text = cd.to_string();
        assert!(
            text.starts_with("attachment; filename=\"a_b_c _.zip\""),
            "{text}"
        );
        assert!(text.contains("filename*=UTF-8''"), "{text}");
    }
}
