//! Media: `POST /api/v1/media` (upload a file, streamed from disk) and `GET /api/v1/media/{id}`
//! (download to a file, streamed to disk).

use std::io::{Read, Write};
use std::path::Path;

use actix_web::web::Bytes;
use federation_proto::media::{paths, MediaInfo};
use futures_util::StreamExt;

use crate::error::ClientError;
use crate::Client;

/// Bytes read from the file per chunk of an upload.
const CHUNK: usize = 256 * 1024;

fn io_error(what: &str, e: std::io::Error) -> ClientError {
    ClientError::InvalidInput(format!("{what}: {e}"))
}

impl Client {
    /// `POST /api/v1/media?filename=`: uploads the file at `path` (streamed, never read whole
    /// into memory) and returns its description. The server decides its type by its content.
    pub async fn upload_file(&self, path: &Path) -> Result<MediaInfo, ClientError> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .ok_or_else(|| {
                ClientError::InvalidInput(format!("{} is not a file", path.display()))
            })?;
        let file =
            std::fs::File::open(path).map_err(|e| io_error(&path.display().to_string(), e))?;
        let size = file
            .metadata()
            .map_err(|e| io_error(&path.display().to_string(), e))?
            .len();
        let token = self.token().ok_or(ClientError::NotLoggedIn)?;
        let body = futures_util::stream::unfold(Some(file), |file| async move {
            let mut file = file?;
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf) {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    Some((Ok::<_, std::io::Error>(Bytes::from(buf)), Some(file)))
                }
                Err(e) => Some((Err(e), None)),
            }
        });
        let url = format!("{}{}", self.base_url(), paths::MEDIA);
        let mut resp = self
            .http_client()
            .post(&url)
            .query(&[("filename", name.as_str())])
            .map_err(|e| ClientError::InvalidInput(format!("query: {e}")))?
            .bearer_auth(token)
            .insert_header(("Content-Type", "application/octet-stream"))
            .insert_header(("Content-Length", size.to_string()))
            .timeout(std::time::Duration::from_secs(600))
            .send_stream(body)
            .await
            .map_err(|e| ClientError::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        let bytes = resp
            .body()
            .limit(1 << 20)
            .await
            .map_err(|e| ClientError::Network(format!("reading the response: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(ClientError::from_response(status, &bytes));
        }
        serde_json::from_slice(&bytes).map_err(|e| ClientError::Protocol {
            status,
            reason: format!("POST {}: {e}", paths::MEDIA),
        })
    }

    /// `GET /api/v1/media/{id}`: writes the media's bytes to `out` as they arrive; returns
    /// how many bytes were written and the file name the server gave.
    pub async fn download_to(
        &self,
        id: &str,
        out: &mut dyn Write,
    ) -> Result<(u64, Option<String>), ClientError> {
        let token = self.token().ok_or(ClientError::NotLoggedIn)?;
        let path = crate::path::fill(paths::MEDIA_ONE, "id", id);
        let url = format!("{}{}", self.base_url(), path);
        let mut resp = self
            .http_client()
            .get(&url)
            .bearer_auth(token)
            .timeout(std::time::Duration::from_secs(600))
            .send()
            .await
            .map_err(|e| ClientError::Network(e.to_string()))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            let bytes = resp.body().limit(1 << 20).await.unwrap_or_default();
            return Err(ClientError::from_response(status, &bytes));
        }
        let name = resp
            .headers()
            .get("content-disposition")
            .and_then(|v| v.to_str().ok())
            .and_then(disposition_filename);
        let mut written = 0u64;
        while let Some(chunk) = resp.next().await {
            let chunk = chunk.map_err(|e| ClientError::Network(e.to_string()))?;
            out.write_all(&chunk)
                .map_err(|e| io_error("writing the download", e))?;
            written += chunk.len() as u64;
        }
        Ok((written, name))
    }
}

/// The `filename` of a `Content-Disposition` header (the plain ASCII one).
fn disposition_filename(value: &str) -> Option<String> {
    let start = value.find("filename=\"")? + "filename=\"".len();
    let rest = &value[start..];
    let end = rest.find('"')?;
    let name = &rest[..end];
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    (!base.is_empty() && base != "." && base != "..").then(|| base.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn disposition_names_are_plain_file_names() {
        use super::disposition_filename as f;
        assert_eq!(f("inline; filename=\"cat.png\""), Some("cat.png".into()));
        assert_eq!(
            f("attachment; filename=\"../x.zip\"; filename*=UTF-8''x"),
            Some("x.zip".into())
        );
        assert_eq!(f("attachment"), None);
    }
}
