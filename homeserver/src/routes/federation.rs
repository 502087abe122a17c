//! Federation endpoints. So far: the server's key document.

use actix_web::web;
use federation_proto::keydoc::KeyDocument;

use crate::error::ApiError;
use crate::services::now_ms_u64;
use crate::state::AppState;

/// Path of the key document.
pub const KEY: &str = "/api/v1/federation/key";

/// `GET /api/v1/federation/key`: this server's verify keys (current and old, with their
/// expiry), self-signed, valid for one day.
pub async fn key(state: web::Data<AppState>) -> Result<web::Json<KeyDocument>, ApiError> {
    let doc = state
        .keys
        .key_document(state.server_name.as_str(), now_ms_u64())
        .map_err(ApiError::internal)?;
    Ok(web::Json(doc))
}
