//! Media across servers.
//!
//! A media id names its origin (`<uuid>@<server>`). When a local user first asks for another
//! server's media that was shared with them (an event from there named it in `attachments`),
//! this server fetches it from the origin with two signed requests — its description
//! (`GET /api/v1/federation/media/{id}`) and its bytes (`…/content`) — streams the bytes to a
//! temporary file, checks their size and sha256 against the description, scans and types them
//! like an upload, stores them and serves them under the same id from then on.
//!
//! The origin answers a peer only for a media shared in a message that went to that peer: in a
//! channel hosted here where the peer has members, in a DM with one of its users, or in a
//! channel hosted elsewhere (whose host relays it to member servers this server does not
//! know). Anything else is `404 media_not_found`.

use actix_web::http::StatusCode;
use federation_proto::media::{MediaId, RemoteMedia};

use super::client::FedClient;
use crate::db::{self, media::MediaRow};
use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::media::{self, upload, Readable};
use crate::state::AppState;

fn not_found() -> ApiError {
    ApiError::not_found("media_not_found", "no such media")
}

fn bad_gateway(message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_GATEWAY, "media_unavailable", message)
}

/// A media the session's user may read, fetched from its origin first if it is another
/// server's.
pub async fn readable(state: &AppState, session: &Session, id: &str) -> Result<MediaRow, ApiError> {
    match media::lookup(state, session, id).await? {
        Readable::Here(row) => Ok(row),
        Readable::Elsewhere(id) => fetch(state, &id).await,
    }
}

/// Fetches another server's media and stores it here under the same id.
#[tracing::instrument(skip_all, fields(media = %id))]
async fn fetch(state: &AppState, id: &MediaId) -> Result<MediaRow, ApiError> {
    let server = id.server.as_str();
    let peer = super::directory::peer(state, server).await?;
    let client = FedClient::new(state).with_federation_key(state.config.federation_key.clone());
    let path = format!("/api/v1/federation/media/{id}");
    let described = client
        .signed(awc::http::Method::GET, &peer.url, &path, server, None)
        .await
        .map_err(|e| match e.code().as_deref() {
            Some("media_not_found") => not_found(),
            _ => bad_gateway(format!("{server} did not describe the media: {e}")),
        })?;
    let remote: RemoteMedia = serde_json::from_value(described)
        .map_err(|e| bad_gateway(format!("{server} answered nonsense: {e}")))?;
    if remote.id != id.to_string() || remote.size < 1 {
        return Err(bad_gateway(format!("{server} described another media")));
    }
    let limit = u64::try_from(remote.size).unwrap_or(0);
    if limit > state.config.media.max_upload_size {
        return Err(ApiError::too_large(
            "too_large",
            "the media is larger than this server's MAX_UPLOAD_SIZE",
        ));
    }
    let response = client
        .signed_get_stream(&peer.url, &format!("{path}/content"), server)
        .await
        .map_err(|e| bad_gateway(format!("{server} did not send the media: {e}")))?;
    let spooled = upload::receive(state, limit, response)
        .await
        .map_err(|e| bad_gateway(format!("fetching from {server}: {}", e.message)))?;
    if spooled.sha256 != remote.sha256 || spooled.size != limit {
        tracing::warn!(%server, "fetched media does not match its description");
        return Err(bad_gateway(format!(
            "what {server} sent does not match its hash"
        )));
    }
    let (spooled, content_type) = upload::vet(state, spooled).await?;
    let row = MediaRow {
        id: remote.id,
        origin: server.to_string(),
        uploader: remote.uploader,
        uploader_id: None,
        filename: upload::clean_filename(Some(&remote.filename)),
        size: remote.size,
        content_type: content_type.to_string(),
        sha256: remote.sha256,
        created_ms: remote.created_ms,
    };
    upload::keep(state, spooled, row.clone()).await?;
    tracing::info!(%server, size = row.size, "remote media cached");
    Ok(row)
}

/// The origin's side: a media of this server that was shared with `peer`.
pub async fn for_peer(state: &AppState, peer: &str, id: &str) -> Result<MediaRow, ApiError> {
    let parsed: MediaId = id.parse().map_err(|_| not_found())?;
    if parsed.server != state.server_name {
        return Err(not_found());
    }
    let (id, peer) = (parsed.to_string(), peer.to_string());
    state
        .db
        .run(move |conn| {
            let Some(row) = db::media::get(conn, &id)? else {
                return Ok::<_, ApiError>(None);
            };
            let allowed = db::media::shared_with_server(conn, &id, &peer)?
                || db::media::is_avatar(conn, &id)?;
            Ok(allowed.then_some(row))
        })
        .await?
        .ok_or_else(not_found)
}

/// The description a peer gets.
pub fn describe(row: &MediaRow) -> RemoteMedia {
    RemoteMedia {
        id: row.id.clone(),
        filename: row.filename.clone(),
        size: row.size,
        content_type: row.content_type.clone(),
        sha256: row.sha256.clone(),
        uploader: row.uploader.clone(),
        created_ms: row.created_ms,
    }
}
