//! The directory's key document.

use actix_web::web;
use federation_proto::keydoc::KeyDocument;

use crate::error::ApiError;
use crate::services::now_ms_u64;
use crate::state::AppState;

/// `GET /directory/v1/key`: the directory's verify key (the one homeservers pin as
/// `DIRECTORY_KEY`) and its name, self-signed, valid for one day.
pub async fn key_document(state: web::Data<AppState>) -> Result<web::Json<KeyDocument>, ApiError> {
    let doc = state
        .signer
        .key_document(now_ms_u64())
        .map_err(ApiError::internal)?;
    Ok(web::Json(doc))
}
