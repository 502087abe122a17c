//! Registration, the list of entries, deregistration.

use actix_web::{web, HttpRequest, HttpResponse};
use federation_proto::api::directory::EntriesPage;
use serde::Deserialize;

use super::input::{read_body, signed_request};
use crate::error::ApiError;
use crate::services::registration::{self, Registered};
use crate::services::{entries, servers};
use crate::state::AppState;

/// `POST /directory/v1/servers`: a signed registration. `201` with the new entry, or `200` with
/// the current entry when nothing changed.
pub async fn register_server(
    state: web::Data<AppState>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let body = read_body(&req, payload).await?;
    Ok(match registration::register(&state, &body).await? {
        Registered::Created(entry) => HttpResponse::Created().json(entry),
        Registered::Unchanged(entry) => HttpResponse::Ok().json(entry),
    })
}

/// Query of the list.
#[derive(Debug, Deserialize)]
pub struct ListQuery {
    /// Entries with `seq` above this (default 0).
    pub since: Option<u64>,
    /// Page size (default 100, at most 500).
    pub limit: Option<u32>,
}

/// `GET /directory/v1/servers?since=N&limit=L`: entries after `N`, ascending.
pub async fn list_entries(
    state: web::Data<AppState>,
    query: web::Query<ListQuery>,
) -> Result<web::Json<EntriesPage>, ApiError> {
    let page = entries::page(&state, query.since.unwrap_or(0), query.limit).await?;
    Ok(web::Json(page))
}

/// `DELETE /directory/v1/servers/{name}`, signed (`X-Hearth`) by `{name}`: marks it gone and
/// answers the `gone` entry.
pub async fn deregister_server(
    state: web::Data<AppState>,
    name: web::Path<String>,
    req: HttpRequest,
    payload: web::Payload,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let signed = signed_request(&req, payload).await?;
    Ok(web::Json(
        servers::deregister(&state, &name, &signed).await?,
    ))
}
