//! Federation endpoints: the key document, the directory's pushes and the status report.

use actix_web::web;
use federation_proto::api::client::Empty;
use federation_proto::api::directory::EntriesPush;
use federation_proto::api::federation::{DirectoryLinkStatus, FederationStatus, PeerStatus};
use federation_proto::keydoc::KeyDocument;

use crate::db;
use crate::error::ApiError;
use crate::federation::directory::accept_entries;
use crate::federation::peers::stored_keys;
use crate::services::now_ms_u64;
use crate::state::AppState;

/// Most entries in one push.
const PUSH_MAX_ENTRIES: usize = 1000;

/// `GET /api/v1/federation/key`: this server's verify keys (current and old, with their
/// expiry), self-signed, valid for one day.
pub async fn key(state: web::Data<AppState>) -> Result<web::Json<KeyDocument>, ApiError> {
    let doc = state
        .keys
        .key_document(state.server_name.as_str(), now_ms_u64())
        .map_err(ApiError::internal)?;
    Ok(web::Json(doc))
}

/// `POST /api/v1/federation/directory`: entries pushed by the directory. Every entry must be
/// signed by the pinned `DIRECTORY_KEY`; otherwise nothing is applied (403 `bad_signature`).
pub async fn directory_push(
    state: web::Data<AppState>,
    body: web::Json<EntriesPush>,
) -> Result<web::Json<Empty>, ApiError> {
    if body.entries.len() > PUSH_MAX_ENTRIES {
        return Err(ApiError::too_large(
            "too_many_entries",
            format!("at most {PUSH_MAX_ENTRIES} entries per push"),
        ));
    }
    accept_entries(&state, &body.entries).await?;
    Ok(web::Json(Empty {}))
}

/// `GET /api/v1/federation/status`: the directory link and every known peer.
pub async fn status(state: web::Data<AppState>) -> Result<web::Json<FederationStatus>, ApiError> {
    let (peers, dir_state) = state
        .db
        .run(|conn| Ok::<_, ApiError>((db::peers::all(conn)?, db::peers::directory_state(conn)?)))
        .await?;
    let link = state.federation.link_status();
    let directory = state.config.directory_url.as_ref().map(|url| {
        let (cursor, last_pull, pull_error) = dir_state.clone().unwrap_or((0, None, None));
        DirectoryLinkStatus {
            url: url.clone(),
            name: link.directory_name.clone(),
            registered: link.registered,
            last_heartbeat_ts: link.last_heartbeat_ms,
            pull_cursor: cursor,
            last_pull_ts: last_pull,
            last_error: link.last_error.clone().or(pull_error),
        }
    });
    let peers = peers
        .into_iter()
        .map(|p| PeerStatus {
            verify_keys: stored_keys(&p),
            server_name: p.server_name,
            url: p.url,
            status: p.status,
            source: p.source,
            updated_ts: p.updated_ms,
        })
        .collect();
    Ok(web::Json(FederationStatus {
        server_name: state.server_name.to_string(),
        directory,
        peers,
    }))
}
