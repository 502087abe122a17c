//! Verifying requests from other servers: the `X-Hearth` signature by a key of a known peer,
//! the destination, the clock skew (5 minutes), signatures already seen (replays), and, when
//! `FEDERATION_KEY` is set, a proof that the sender knows the key (never the key itself).
//!
//! The proof is the header `X-Hearth-Federation-Proof: base64(sha256(key ":" sig))`, bound to
//! the request's own signature, so it is useless for any other request.

use std::collections::BTreeMap;

use actix_web::HttpRequest;
use base64::Engine as _;
use federation_proto::keydoc::{KeyDocument, VerifyKey};
use federation_proto::signing::{
    sha256, verify_request, verifying_key_from_b64, RequestAuth, VerifyError, DEFAULT_MAX_SKEW_MS,
};

use super::client::FedClient;
use crate::db;
use crate::error::ApiError;
use crate::federation::peers::stored_keys;
use crate::services::now_ms_u64;
use crate::state::AppState;

/// Header carrying the `FEDERATION_KEY` proof.
pub const PROOF_HEADER: &str = "X-Hearth-Federation-Proof";

/// The proof of knowing `key` for a request signed with `sig`.
pub fn federation_proof(key: &str, sig: &str) -> String {
    let digest = sha256(format!("{key}:{sig}").as_bytes());
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(digest)
}

fn unauthorized(code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::unauthorized(code, message)
}

fn verify_error(e: VerifyError) -> ApiError {
    match e {
        VerifyError::WrongDestination { .. } => unauthorized("wrong_destination", e.to_string()),
        VerifyError::SkewTooLarge { .. } => unauthorized("clock_skew", e.to_string()),
        other => unauthorized("bad_signature", other.to_string()),
    }
}

/// Checks a signed request and returns the verified origin. Also resets the origin's delivery
/// backoff: it is evidently up.
pub async fn verify(state: &AppState, req: &HttpRequest, body: &[u8]) -> Result<String, ApiError> {
    let header = req
        .headers()
        .get("Authorization")
        .and_then(|v| v.to_str().ok())
        .ok_or_else(|| {
            unauthorized(
                "missing_signature",
                "federation requests carry an X-Hearth Authorization",
            )
        })?;
    let auth = RequestAuth::parse_header(header)
        .map_err(|e| unauthorized("bad_signature_header", e.to_string()))?;
    if let Some(key) = state
        .config
        .federation_key
        .as_deref()
        .filter(|k| !k.is_empty())
    {
        let proof = req
            .headers()
            .get(PROOF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        if proof != federation_proof(key, &auth.sig) {
            return Err(ApiError::forbidden(
                "federation_key_required",
                "this server federates only with servers that share its FEDERATION_KEY",
            ));
        }
    }
    let key_b64 = key_of(state, &auth).await?;
    let key = verifying_key_from_b64(&key_b64)
        .map_err(|e| unauthorized("bad_signature", e.to_string()))?;
    let uri = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.path().to_string(), |pq| pq.as_str().to_string());
    let now = now_ms_u64();
    verify_request(
        &auth,
        req.method().as_str(),
        &uri,
        body,
        state.server_name.as_str(),
        now,
        DEFAULT_MAX_SKEW_MS,
        &key,
    )
    .map_err(verify_error)?;
    remember_signature(state, &auth.sig, auth.ts, now)?;
    if state.db.backend() == crate::db::Backend::Postgres {
        // Other processes on the same database must refuse this signature too.
        let sig = auth.sig.clone();
        let expires =
            i64::try_from(auth.ts.saturating_add(DEFAULT_MAX_SKEW_MS)).unwrap_or(i64::MAX);
        let first_time = state
            .db
            .write(move |conn| {
                db::outbox::remember_signature(conn, &sig, expires).map_err(ApiError::from)
            })
            .await?;
        if !first_time {
            return Err(unauthorized(
                "replayed_request",
                "this signed request was already received",
            ));
        }
    }
    let origin = auth.origin.clone();
    // Any request shows the peer is up: retry what waits for it now. Read first: the backoff
    // is almost always clear, and this runs on every federation request.
    let lookup = origin.clone();
    let backing_off = state
        .db
        .run(move |conn| db::outbox::destination(conn, &lookup).map_err(ApiError::from))
        .await?
        .is_some_and(|d| d.next_retry_ms > 0);
    if backing_off {
        let peer = origin.clone();
        state
            .db
            .write(move |conn| db::outbox::reset_backoff(conn, &peer).map_err(ApiError::from))
            .await?;
        state.federation.outbox_wake.notify_one();
    }
    Ok(origin)
}

/// Refuses a signature seen within the skew window; forgets expired ones.
fn remember_signature(state: &AppState, sig: &str, ts: u64, now: u64) -> Result<(), ApiError> {
    let first_time = state
        .federation
        .seen_requests
        .lock()
        .map_err(|_| ApiError::internal("seen-request lock poisoned"))?
        .first_time(sig, ts, now);
    if !first_time {
        return Err(unauthorized(
            "replayed_request",
            "this signed request was already received",
        ));
    }
    Ok(())
}

/// The origin's key `auth.key_id`: from the peers table (a peer listed in `PEERS` is resolved
/// now if it is not yet), or, for a known peer that has rotated
/// its key, from its key document (which must name it and be validly self-signed).
async fn key_of(state: &AppState, auth: &RequestAuth) -> Result<String, ApiError> {
    // A server listed in `PEERS` that was not resolved yet is resolved when first heard from.
    let peer = super::directory::peer(state, &auth.origin)
        .await
        .map_err(|e| match e.status.as_u16() {
            404 => unauthorized(
                "unknown_server",
                format!("{} is not a known peer", auth.origin),
            ),
            _ => e,
        })?;
    let keys = stored_keys(&peer);
    if let Some(key) = keys.get(auth.key_id.as_str()) {
        return Ok(key.key.clone());
    }
    if !state
        .federation
        .may_fetch_key(&auth.origin, std::time::Instant::now())
    {
        return Err(unauthorized(
            "unknown_key",
            format!(
                "{} has no key {} (its key document was fetched less than a minute ago)",
                auth.origin, auth.key_id
            ),
        ));
    }
    let client = FedClient::new(state.server_name.as_str(), state.keys.clone());
    let doc = client
        .get_json(&format!("{}/api/v1/federation/key", peer.url))
        .await
        .map_err(|e| {
            unauthorized(
                "unknown_key",
                format!("cannot fetch the key document of {}: {e}", auth.origin),
            )
        })?;
    let doc = KeyDocument::verify_self_signed_value(&doc, now_ms_u64())
        .map_err(|e| unauthorized("unknown_key", e.to_string()))?;
    if doc.server_name != auth.origin {
        return Err(unauthorized(
            "unknown_key",
            "the peer's key document names another server",
        ));
    }
    let fresh: BTreeMap<String, VerifyKey> = doc
        .verify_keys
        .iter()
        .map(|(id, k)| (id.to_string(), k.clone()))
        .collect();
    let key = fresh
        .get(auth.key_id.as_str())
        .map(|k| k.key.clone())
        .ok_or_else(|| {
            unauthorized(
                "unknown_key",
                format!("{} has no key {}", auth.origin, auth.key_id),
            )
        })?;
    let mut updated = peer;
    updated.verify_keys = serde_json::to_string(&fresh).map_err(ApiError::internal)?;
    state
        .db
        .write(move |conn| db::peers::upsert(conn, &updated).map_err(ApiError::from))
        .await?;
    Ok(key)
}
