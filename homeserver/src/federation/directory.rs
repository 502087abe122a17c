//! The link to the directory (DESIGN.md, "Directory"): with `DIRECTORY_URL` and `DIRECTORY_KEY`
//! set, the homeserver registers at start, heartbeats, pulls the signed list at start and every
//! `DIRECTORY_PULL_SECS`, and accepts pushed entries only when signed by the pinned key.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use awc::http::Method;
use ed25519_dalek::VerifyingKey;
use federation_proto::api::directory::{paths, DirectoryEntry, EntriesPage, Registration};
use federation_proto::keydoc::{KeyDocument, VerifyKey};
use federation_proto::signing::{sign_json, verify_json_signature, KeyId};
use serde_json::Value;

use super::client::{FedClient, FedError};
use super::peers::{apply_entries, apply_manual};
use crate::db;
use crate::db::peers::PeerRow;
use crate::error::ApiError;
use crate::keystore::KeyStore;
use crate::services::{now_ms, now_ms_u64};
use crate::state::AppState;

/// First retry delay after a failure of the link.
const RETRY_MIN: Duration = Duration::from_secs(2);
/// Longest retry delay.
const RETRY_MAX: Duration = Duration::from_secs(300);
/// Entries asked for per page.
const PAGE: u32 = 500;

/// Why an entry or push was refused.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// Not signed by the pinned directory key.
    #[error("entry {0} is not signed by the configured directory key")]
    BadSignature(String),
    /// Not an entry.
    #[error("malformed entry: {0}")]
    Malformed(String),
}

/// Checks that `value` carries a valid signature by the pinned directory key (under any signer
/// name and key id), then parses it.
pub fn verify_entry(value: &Value, pinned: &VerifyingKey) -> Result<DirectoryEntry, EntryError> {
    let label = value
        .get("server_name")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_string();
    let signatures = value
        .get("signatures")
        .and_then(Value::as_object)
        .ok_or_else(|| EntryError::BadSignature(label.clone()))?;
    let signed = signatures.iter().any(|(signer, sigs)| {
        sigs.as_object().is_some_and(|sigs| {
            sigs.keys().any(|key_id| {
                key_id.parse::<KeyId>().is_ok_and(|key_id| {
                    verify_json_signature(value, signer, &key_id, pinned).is_ok()
                })
            })
        })
    });
    if !signed {
        return Err(EntryError::BadSignature(label));
    }
    serde_json::from_value(value.clone()).map_err(|e| EntryError::Malformed(e.to_string()))
}

/// Verifies every entry (all or nothing) and applies them.
pub async fn accept_entries(state: &AppState, values: &[Value]) -> Result<usize, ApiError> {
    let pinned = state.federation.directory_key.ok_or_else(|| {
        ApiError::not_found(
            "no_directory",
            "this server has no DIRECTORY_KEY configured",
        )
    })?;
    let entries = values
        .iter()
        .map(|v| verify_entry(v, &pinned))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| match e {
            EntryError::BadSignature(_) => ApiError::forbidden("bad_signature", e.to_string()),
            EntryError::Malformed(_) => ApiError::bad_request("invalid_entry", e.to_string()),
        })?;
    let own = state.server_name.to_string();
    state
        .db
        .write(move |conn| apply_entries(conn, &own, &entries))
        .await
}

/// Keeps the directory link up for the life of the server: registration, heartbeats, pulls.
/// Also resolves hand-listed peers. Returns only if there is nothing to do.
pub async fn run_link(state: Arc<AppState>, public_url: String) {
    let client = FedClient::new(&state);
    let manual = state.config.manual_peers().unwrap_or_default();
    let directory = state
        .config
        .directory_url
        .clone()
        .map(|u| u.trim_end_matches('/').to_string());
    if manual.is_empty() && directory.is_none() {
        return;
    }
    let mut pull_every =
        tokio::time::interval(Duration::from_secs(state.config.directory_pull_secs));
    let mut beat_every =
        tokio::time::interval(Duration::from_secs(state.config.directory_heartbeat_secs));
    let mut retry = RETRY_MIN;
    let mut registered_with: Option<String> = None;
    loop {
        let result = async {
            resolve_manual_peers(&state, &client, &manual).await;
            let Some(url) = &directory else { return Ok(()) };
            let name = match &registered_with {
                Some(name) => name.clone(),
                None => {
                    let name = directory_name(&state, &client, url).await?;
                    register(&state, &client, url, &public_url).await?;
                    pull(&state, &client, url).await?;
                    registered_with = Some(name.clone());
                    name
                }
            };
            tokio::select! {
                _ = pull_every.tick() => pull(&state, &client, url).await,
                _ = beat_every.tick() => match heartbeat(&state, &client, url, &name).await {
                    Err(e) if e.code().as_deref() == Some("unknown_server") => {
                        // Expired or removed: register again.
                        registered_with = None;
                        Err(e)
                    }
                    other => other,
                },
            }
        }
        .await;
        match result {
            Ok(()) => {
                retry = RETRY_MIN;
                if directory.is_none() {
                    // Only manual peers: re-resolve them on the pull timer.
                    pull_every.tick().await;
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?retry, "directory link failed");
                state
                    .federation
                    .update_link(|l| l.last_error = Some(e.to_string()));
                tokio::time::sleep(retry).await;
                retry = (retry * 2).min(RETRY_MAX);
            }
        }
    }
}

/// Fetches the directory's key document, checks it is self-signed and holds the pinned key,
/// and returns the directory's name.
async fn directory_name(
    state: &AppState,
    client: &FedClient,
    url: &str,
) -> Result<String, FedError> {
    let doc = client.get_json(&format!("{url}{}", paths::KEY)).await?;
    let bad = |message: String| FedError::Json {
        url: url.to_string(),
        message,
    };
    let doc = KeyDocument::verify_self_signed_value(&doc, now_ms_u64())
        .map_err(|e| bad(e.to_string()))?;
    let pinned = state
        .federation
        .directory_key
        .map(|k| federation_proto::signing::b64_encode(k.as_bytes()));
    if !doc
        .verify_keys
        .values()
        .any(|k| Some(&k.key) == pinned.as_ref())
    {
        return Err(bad(
            "the directory's key document does not hold DIRECTORY_KEY".to_string(),
        ));
    }
    state
        .federation
        .update_link(|l| l.directory_name = Some(doc.server_name.clone()));
    Ok(doc.server_name)
}

async fn register(
    state: &AppState,
    client: &FedClient,
    url: &str,
    public_url: &str,
) -> Result<(), FedError> {
    let key = state.keys.current();
    let verify_keys: BTreeMap<String, VerifyKey> = [(
        key.key_id().to_string(),
        VerifyKey {
            key: key.public_key_b64(),
        },
    )]
    .into_iter()
    .collect();
    let registration = Registration {
        server_name: state.server_name.to_string(),
        url: public_url.to_string(),
        verify_keys,
        ts: now_ms_u64(),
        signatures: BTreeMap::new(),
    };
    let mut body =
        serde_json::to_value(&registration).map_err(|e| FedError::Signing(e.to_string()))?;
    if let Some(map) = body.as_object_mut() {
        map.remove("signatures");
    }
    sign_json(&mut body, state.server_name.as_str(), key)
        .map_err(|e| FedError::Signing(e.to_string()))?;
    // After a rotation the directory still has the replaced key on record: it must sign too.
    if let Some(previous) = state.keys.previous() {
        sign_json(&mut body, state.server_name.as_str(), previous)
            .map_err(|e| FedError::Signing(e.to_string()))?;
    }
    client
        .post_json(&format!("{url}{}", paths::SERVERS), &body)
        .await?;
    if state.keys.previous().is_some() {
        let data_dir = state.config.data_dir.clone();
        let forgot = actix_web::web::block(move || KeyStore::forget_previous(&data_dir)).await;
        if !matches!(forgot, Ok(Ok(()))) {
            tracing::warn!("could not drop the replaced signing key from the key file");
        }
    }
    tracing::info!(directory = url, public_url, "registered with the directory");
    state.federation.update_link(|l| {
        l.registered = true;
        l.last_error = None;
    });
    Ok(())
}

async fn heartbeat(
    state: &AppState,
    client: &FedClient,
    url: &str,
    directory: &str,
) -> Result<(), FedError> {
    client
        .signed(
            Method::POST,
            url,
            paths::HEARTBEAT,
            directory,
            Some(&serde_json::json!({})),
        )
        .await?;
    state.federation.update_link(|l| {
        l.last_heartbeat_ms = Some(now_ms());
        l.last_error = None;
    });
    Ok(())
}

/// Pulls every entry after the stored cursor, verifying each, and applies them.
async fn pull(state: &AppState, client: &FedClient, url: &str) -> Result<(), FedError> {
    let mut cursor = state
        .db
        .run(|conn| db::peers::pull_cursor(conn).map_err(ApiError::from))
        .await
        .unwrap_or(0);
    loop {
        let page = client
            .get_json(&format!(
                "{url}{}?since={cursor}&limit={PAGE}",
                paths::SERVERS
            ))
            .await?;
        let page: EntriesPage = serde_json::from_value(page).map_err(|e| FedError::Json {
            url: url.to_string(),
            message: e.to_string(),
        })?;
        let count = page.entries.len();
        let applied = accept_entries(state, &page.entries)
            .await
            .map_err(|e| FedError::Json {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        let next = i64::try_from(page.next).unwrap_or(i64::MAX).max(cursor);
        state
            .db
            .run(move |conn| {
                db::peers::record_pull(conn, next, now_ms(), None).map_err(ApiError::from)
            })
            .await
            .map_err(|e| FedError::Json {
                url: url.to_string(),
                message: e.to_string(),
            })?;
        if applied > 0 {
            tracing::info!(
                entries = count,
                applied,
                cursor = next,
                "pulled directory entries"
            );
        }
        if count == 0 || next == cursor {
            return Ok(());
        }
        cursor = next;
    }
}

/// Fetches and verifies the key documents of hand-listed peers that are not known yet.
async fn resolve_manual_peers(state: &AppState, client: &FedClient, manual: &[(String, String)]) {
    for (name, url) in manual {
        let lookup = name.clone();
        let known = state
            .db
            .run(move |conn| db::peers::get(conn, &lookup).map_err(ApiError::from))
            .await
            .ok()
            .flatten();
        if known.is_some_and(|p| p.url == *url) {
            continue;
        }
        if let Err(e) = resolve_listed(state, client, name, url).await {
            tracing::warn!(peer = %name, error = %e, "cannot resolve a listed peer");
        }
    }
}

/// Fetches a hand-listed peer's key document from `url`, checks that it is validly
/// self-signed and names `name`, and records the peer.
async fn resolve_listed(
    state: &AppState,
    client: &FedClient,
    name: &str,
    url: &str,
) -> Result<PeerRow, String> {
    let doc = client
        .get_json(&format!("{url}/api/v1/federation/key"))
        .await
        .map_err(|e| format!("cannot fetch its key document: {e}"))?;
    let doc = KeyDocument::verify_self_signed_value(&doc, now_ms_u64())
        .map_err(|e| format!("its key document is invalid: {e}"))?;
    if doc.server_name != name {
        return Err(format!(
            "it serves another server's key ({})",
            doc.server_name
        ));
    }
    let keys: BTreeMap<String, VerifyKey> = doc
        .verify_keys
        .iter()
        .map(|(id, k)| (id.to_string(), k.clone()))
        .collect();
    let (name, url) = (name.to_string(), url.to_string());
    state
        .db
        .write(move |conn| {
            apply_manual(conn, &name, &url, &keys)?;
            db::peers::get(conn, &name)?
                .ok_or_else(|| ApiError::internal("a peer just recorded is missing"))
        })
        .await
        .map_err(|e| e.to_string())
}

/// Whether `name` is listed in `PEERS`.
pub fn is_listed(state: &AppState, name: &str) -> bool {
    state
        .config
        .manual_peers()
        .unwrap_or_default()
        .iter()
        .any(|(listed, _)| listed == name)
}

/// A live peer by name. A server listed in `PEERS` that is not resolved yet (it was down when
/// this server started, say) is resolved now, when it is first needed or first heard from,
/// instead of at the next pull. `404 unknown_server` when it is neither known nor listed, or
/// cannot be resolved.
pub async fn peer(state: &AppState, name: &str) -> Result<PeerRow, ApiError> {
    let lookup = name.to_string();
    let known = state
        .db
        .run(move |conn| db::peers::get(conn, &lookup).map_err(ApiError::from))
        .await?;
    if let Some(peer) = known.filter(|p| p.status == "up") {
        return Ok(peer);
    }
    let unknown = |why: String| {
        ApiError::not_found(
            "unknown_server",
            format!("{name} is not a known peer of this server{why}"),
        )
    };
    let listed = state.config.manual_peers().unwrap_or_default();
    let Some((_, url)) = listed.iter().find(|(listed, _)| listed == name) else {
        return Err(unknown(String::new()));
    };
    if !state
        .federation
        .may_fetch_key(name, std::time::Instant::now())
    {
        return Err(unknown(
            " (it was tried less than a minute ago)".to_string(),
        ));
    }
    let client = FedClient::new(state);
    resolve_listed(state, &client, name, url)
        .await
        .map_err(|e| unknown(format!(" ({e})")))
}
