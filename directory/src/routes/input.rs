//! Reading request input: bodies with a size cap, and `X-Hearth` signed requests as they
//! arrived (raw target, raw body) so that their signatures can be checked.

use actix_web::http::header::AUTHORIZATION;
use actix_web::web::{self, Bytes, BytesMut};
use actix_web::HttpRequest;
use federation_proto::signing::RequestAuth;
use futures_util::StreamExt as _;

use crate::error::ApiError;
use crate::services::signed_request::SignedRequest;

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`] with `413 body_too_large`.
pub async fn read_body(req: &HttpRequest, mut payload: web::Payload) -> Result<Bytes, ApiError> {
    let too_large = ApiError::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    };
    let declared = req
        .headers()
        .get(actix_web::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY_BYTES as u64) {
        return Err(too_large);
    }
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk =
            chunk.map_err(|e| ApiError::InvalidRequest(format!("cannot read the body: {e}")))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body.freeze())
}

/// The `X-Hearth` authorization, method, raw target and raw body of a request.
pub async fn signed_request(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<SignedRequest, ApiError> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or(ApiError::MissingAuthorization)?
        .to_str()
        .map_err(|_| ApiError::BadAuthorization("the header is not ASCII".to_string()))?;
    let auth =
        RequestAuth::parse_header(header).map_err(|e| ApiError::BadAuthorization(e.to_string()))?;
    let body = read_body(req, payload).await?;
    let uri = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_string(), |pq| pq.as_str().to_string());
    Ok(SignedRequest {
        auth,
        method: req.method().as_str().to_string(),
        uri,
        body: body.to_vec(),
    })
}
