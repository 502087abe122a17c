//! Media blobs in an S3-compatible bucket (`MEDIA_S3_URL=s3://bucket/prefix`), with
//! `object_store`. Credentials, region and endpoint come from the usual `AWS_ACCESS_KEY_ID`,
//! `AWS_SECRET_ACCESS_KEY`, `AWS_REGION` and `AWS_ENDPOINT_URL`; a plain-HTTP endpoint is
//! allowed (a local store) and requests use path-style addressing. Blobs are keyed like the
//! local store (`prefix/ab/<sha256>`), so identical files are stored once; uploads are still
//! spooled, scanned and typed locally first, then sent in parts, never whole in memory.

use std::ops::Range;
use std::sync::Arc;

use futures_util::stream::BoxStream;
use futures_util::StreamExt;
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, ObjectStoreExt, WriteMultipart};

use crate::error::ApiError;

/// Bytes per part of a multipart upload (S3's minimum for all but the last part).
const PART: usize = 5 * 1024 * 1024;
/// Bytes read from the spooled file at a time.
const READ: usize = 1024 * 1024;

/// A bucket and the prefix under which blobs go.
pub struct Bucket {
    store: Arc<dyn ObjectStore>,
    prefix: String,
}

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    tracing::error!(error = %e, "media bucket request failed");
    ApiError::new(
        actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        "storage_unavailable",
        "the media storage is unavailable; try again later",
    )
    .retry_after(std::time::Duration::from_secs(10))
}

impl Bucket {
    /// The bucket of `url` (`s3://bucket[/prefix]`), configured from the `AWS_*` variables.
    pub fn from_url(url: &str) -> Result<Bucket, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("MEDIA_S3_URL {url:?} must look like s3://bucket/prefix"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return Err(format!("MEDIA_S3_URL {url:?} names no bucket"));
        }
        // reqwest's rustls is built without a provider: use ring, like the rest of Hearth.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = AmazonS3Builder::from_env()
            .with_bucket_name(bucket)
            .with_allow_http(true)
            .with_virtual_hosted_style_request(false)
            .build()
            .map_err(|e| format!("MEDIA_S3_URL: {e}"))?;
        Ok(Bucket {
            store: Arc::new(store),
            prefix: prefix.trim_matches('/').to_string(),
        })
    }

    fn path(&self, sha256: &str) -> ObjectPath {
        let shard = sha256.get(..2).unwrap_or("00");
        if self.prefix.is_empty() {
            ObjectPath::from(format!("{shard}/{sha256}"))
        } else {
            ObjectPath::from(format!("{}/{shard}/{sha256}", self.prefix))
        }
    }

    /// Sends the spooled file as the blob of `sha256`, unless the bucket has it already.
    pub async fn put_file(
        &self,
        file: tempfile::NamedTempFile,
        sha256: &str,
    ) -> Result<(), ApiError> {
        let path = self.path(sha256);
        match self.store.head(&path).await {
            Ok(_) => return Ok(()),
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(unavailable(e)),
        }
        let upload = self.store.put_multipart(&path).await.map_err(unavailable)?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
        let mut reader = Some(file.reopen().map_err(ApiError::internal)?);
        loop {
            let Some(mut f) = reader.take() else { break };
            let (f, chunk) = actix_web::web::block(move || {
                use std::io::Read;
                let mut buf = vec![0u8; READ];
                let n = f.read(&mut buf)?;
                buf.truncate(n);
                Ok::<_, std::io::Error>((f, buf))
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
            if chunk.is_empty() {
                break;
            }
            writer.wait_for_capacity(2).await.map_err(unavailable)?;
            writer.write(&chunk);
            reader = Some(f);
        }
        writer.finish().await.map_err(unavailable)?;
        drop(file);
        Ok(())
    }

    /// The blob of `sha256`, or the byte `range` of it, as a stream.
    pub async fn get(
        &self,
        sha256: &str,
        range: Option<Range<u64>>,
    ) -> Result<BoxStream<'static, Result<actix_web::web::Bytes, object_store::Error>>, ApiError>
    {
        let options = GetOptions {
            range: range.map(GetRange::Bounded),
            ..Default::default()
        };
        let result = self
            .store
            .get_opts(&self.path(sha256), options)
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => {
                    ApiError::not_found("media_not_found", "the media's file is missing")
                }
                e => unavailable(e),
            })?;
        Ok(result.into_stream())
    }

    /// Copies the blob of `sha256` to a local file (for thumbnails).
    pub async fn download_to(
        &self,
        sha256: &str,
        mut file: std::fs::File,
    ) -> Result<std::fs::File, ApiError> {
        let mut stream = self.get(sha256, None).await?;
        while let Some(chunk) = stream.next().await {
            let chunk = chunk.map_err(unavailable)?;
            file = actix_web::web::block(move || {
                use std::io::Write;
                file.write_all(&chunk).map(|()| file)
            })
            .await
            .map_err(ApiError::internal)?
            .map_err(ApiError::internal)?;
        }
        Ok(file)
    }

    /// Deletes the blob of `sha256` (absent is fine).
    pub async fn delete(&self, sha256: &str) -> Result<(), ApiError> {
        match self.store.delete(&self.path(sha256)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }
}
