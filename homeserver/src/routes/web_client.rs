//! The web client's files (`homeserver/web/`, see `docs/web.md`): `GET /` is `index.html`,
//! everything else lives under `/web/…`, a prefix no API path uses.
//!
//! The files are compiled into the binary with rust-embed, in debug builds too (its
//! `debug-embed` feature), so the tests serve exactly what ships; cargo rebuilds the crate when
//! an embedded file changes.
//! Every answer carries a strong `ETag` (the file's sha256, computed by rust-embed), is
//! revalidated with `If-None-Match` (`304`), is gzipped when the client accepts it (each file
//! once, remembered by its ETag), and carries the client's security headers: a strict
//! Content-Security-Policy (`'self'` only, no inline script or style), `nosniff`, no framing,
//! no referrer.

use std::collections::HashMap;
use std::io::Write;
use std::sync::{Arc, Mutex, OnceLock};

use actix_web::http::header::{self, HeaderValue};
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Where the assets are served (`/web/app.js`, …).
pub const ASSETS_PREFIX: &str = "/web/";

/// The client's files.
#[derive(rust_embed::Embed)]
#[folder = "web/"]
struct Assets;

/// The Content-Security-Policy of every page and asset: only this origin, no inline script,
/// no inline style, no plugins, never in a frame, no `<base>`. Images may also be `blob:`
/// (previews of files before they are uploaded) and `data:`.
pub const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
img-src 'self' blob: data:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
object-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'";

/// `GET /`: the client's page.
#[utoipa::path(get, path = "/", tag = "web",
    responses((status = 200, description = "the web client (text/html)"), (status = 304, description = "not modified (If-None-Match)")))]
pub async fn index(req: HttpRequest) -> Result<HttpResponse, ApiError> {
    serve(&req, "index.html").await
}

/// `GET /web/{path}`: one of the client's files.
#[utoipa::path(get, path = "/web/{path}", tag = "web",
    params(("path" = String, Path, description = "a file of the web client, e.g. `app.js`")),
    responses((status = 200, description = "the file"), (status = 304, description = "not modified (If-None-Match)"),
        (status = 404, description = "no_such_file", body = federation_proto::api::ErrorBody)))]
pub async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, ApiError> {
    serve(&req, &path).await
}

async fn serve(req: &HttpRequest, path: &str) -> Result<HttpResponse, ApiError> {
    let file = Some(path)
        .filter(|p| !p.split('/').any(|seg| seg == ".." || seg.is_empty()))
        .and_then(Assets::get)
        .ok_or_else(|| ApiError::not_found("no_such_file", "no such file in the web client"))?;
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let mut res = HttpResponse::Ok();
    res.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::VARY, "Accept-Encoding"));
    security_headers(&mut res);
    if not_modified(req, &etag) {
        return Ok(res
            .status(actix_web::http::StatusCode::NOT_MODIFIED)
            .finish());
    }
    res.insert_header((header::CONTENT_TYPE, content_type(path)));
    if accepts_gzip(req) {
        let data = file.data.into_owned();
        let gz = gzipped(etag, data).await?;
        res.insert_header((header::CONTENT_ENCODING, "gzip"));
        return Ok(res.body(gz.as_ref().clone()));
    }
    Ok(res.body(file.data.into_owned()))
}

/// The headers every answer of the client carries.
fn security_headers(res: &mut actix_web::HttpResponseBuilder) {
    res.insert_header((header::CONTENT_SECURITY_POLICY, CSP))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((
            header::HeaderName::from_static("cross-origin-opener-policy"),
            HeaderValue::from_static("same-origin"),
        ));
}

fn not_modified(req: &HttpRequest, etag: &str) -> bool {
    req.headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .map(|t| t.trim().trim_start_matches("W/"))
                .any(|t| t == etag || t == "*")
        })
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',').any(|part| {
                let mut it = part.split(';');
                let coding = it.next().unwrap_or("").trim();
                let refused = it.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00"));
                coding.eq_ignore_ascii_case("gzip") && !refused
            })
        })
}

/// A file's gzip, made once (off the executor) and remembered by its ETag. The memo holds
/// only what is derived from the embedded files, so it is the same for every server of the
/// process.
async fn gzipped(etag: String, data: Vec<u8>) -> Result<Arc<Vec<u8>>, ApiError> {
    static MEMO: OnceLock<Mutex<HashMap<String, Arc<Vec<u8>>>>> = OnceLock::new();
    let memo = MEMO.get_or_init(Default::default);
    if let Some(hit) = memo.lock().ok().and_then(|m| m.get(&etag).cloned()) {
        return Ok(hit);
    }
    let gz = web::block(move || gzip(&data))
        .await
        .map_err(ApiError::internal)?
        .map_err(ApiError::internal)?;
    let gz = Arc::new(gz);
    if let Ok(mut m) = memo.lock() {
        m.insert(etag, Arc::clone(&gz));
    }
    Ok(gz)
}

/// gzip at the best compression (each file is compressed once).
pub fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(data)?;
    enc.finish()
}

/// Every embedded file with its size and gzipped size, for `docs/web.md`'s size figure and
/// its test.
pub fn sizes() -> Vec<(String, usize, usize)> {
    Assets::iter()
        .filter_map(|name| {
            let file = Assets::get(&name)?;
            let gz = gzip(&file.data).ok()?.len();
            Some((name.into_owned(), file.data.len(), gz))
        })
        .collect()
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "webmanifest") => "application/json",
        _ => "text/plain; charset=utf-8",
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_client_is_under_200_kb_gzipped() {
        let sizes = sizes();
        assert!(sizes.iter().any(|(name, _, _)| name == "index.html"));
        let total: usize = sizes.iter().map(|(_, _, gz)| gz).sum();
        assert!(total < 200 * 1024, "the client is {total} bytes gzipped");
    }

    #[test]
    fn content_types_by_extension() {
        assert_eq!(content_type("app.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x/y.css"), "text/css; charset=utf-8");
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
    }
}
