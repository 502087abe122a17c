//! `GET /api/v1/search`.

use actix_web::web;
use federation_proto::api::client::{SearchQuery, SearchResponse};
use federation_proto::api::ErrorBody;

use crate::error::ApiError;
use crate::services::accounts::Session;
use crate::services::search;
use crate::state::AppState;

/// `GET /api/v1/search`
#[utoipa::path(get, path = "/api/v1/search", tag = "messages", security(("bearer" = [])),
    params(SearchQuery),
    description = "Full-text search of the messages the user may read: their channels (within their delivery windows, as sync: a channel left keeps what was sent while they were in it), mirrors of channels hosted elsewhere, and their DMs. `q` is words and \"phrases\", all required, case-insensitive, never operators. Deleted messages never match; edited ones match their latest text. Order: most relevant first (SQLite bm25, Postgres ts_rank), then newest first, among the 5,000 newest matches the user may read. `highlights` are `[start, end)` ranges of `event.body` in Unicode characters (code points); `context` holds up to 2 readable messages on each side. `next` continues with the same query; results sent after the first page are not included.",
    responses((status = 200, body = SearchResponse),
        (status = 400, description = "invalid_query, invalid_limit, invalid_has, invalid_time, invalid_from, invalid_target, invalid_cursor", body = ErrorBody),
        (status = 401, body = ErrorBody)))]
pub async fn search(
    state: web::Data<AppState>,
    session: Session,
    query: web::Query<SearchQuery>,
) -> Result<web::Json<SearchResponse>, ApiError> {
    Ok(web::Json(
        search::search(&state, &session, query.into_inner()).await?,
    ))
}
