//! Verifying `X-Hearth` signed requests (heartbeats, deregistration) against the key on record
//! of their origin, with replay detection.

use federation_proto::signing::{
    verify_request, verifying_key_from_b64, RequestAuth, VerifyError, DEFAULT_MAX_SKEW_MS,
};

use super::now_ms_u64;
use super::servers::keys_on_record;
use crate::db;
use crate::db::models::ServerRow;
use crate::error::ApiError;
use crate::state::AppState;

/// A signed request as it arrived.
#[derive(Debug, Clone)]
pub struct SignedRequest {
    /// The parsed `Authorization` header.
    pub auth: RequestAuth,
    /// The method, as sent.
    pub method: String,
    /// The request target (path and query) exactly as sent.
    pub uri: String,
    /// The raw body.
    pub body: Vec<u8>,
}

/// Which records may sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signers {
    /// Only servers that are up (heartbeats).
    Up,
    /// Any server with a key on record, also gone ones (deregistration is idempotent).
    OnRecord,
}

/// Verifies `req` against the key on record of its origin and remembers its signature.
/// Returns the origin's record.
#[tracing::instrument(skip_all, fields(origin = %req.auth.origin))]
pub async fn verify(
    state: &AppState,
    req: &SignedRequest,
    who: Signers,
) -> Result<ServerRow, ApiError> {
    let origin = req.auth.origin.clone();
    let record = state
        .db
        .run(move |conn| db::servers::get(conn, &origin).map_err(ApiError::from))
        .await?;
    let record = match record {
        Some(r) if !r.released && (r.is_up() || who == Signers::OnRecord) => r,
        _ => {
            return Err(ApiError::UnknownServer(format!(
                "{} is not registered with this directory (or its registration expired): register again",
                req.auth.origin
            )))
        }
    };
    let keys = keys_on_record(&record)?;
    let key = keys.get(req.auth.key_id.as_str()).ok_or_else(|| {
        ApiError::UnknownKey(format!(
            "{} is not the key on record for {}",
            req.auth.key_id, req.auth.origin
        ))
    })?;
    let key = verifying_key_from_b64(&key.key).map_err(ApiError::internal)?;
    let now = now_ms_u64();
    verify_request(
        &req.auth,
        &req.method,
        &req.uri,
        &req.body,
        state.server_name.as_str(),
        now,
        DEFAULT_MAX_SKEW_MS,
        &key,
    )
    .map_err(refusal)?;
    let first_time = state
        .replay
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .first_time(&req.auth.sig, req.auth.ts, now);
    if !first_time {
        return Err(ApiError::ReplayedRequest);
    }
    Ok(record)
}

/// The answer to a request that failed verification.
fn refusal(e: VerifyError) -> ApiError {
    match e {
        VerifyError::WrongDestination { expected, got } => {
            ApiError::WrongDestination { expected, got }
        }
        VerifyError::SkewTooLarge { .. } => ApiError::RequestExpired(e.to_string()),
        other => ApiError::BadSignature(other.to_string()),
    }
}
