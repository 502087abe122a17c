//! Server information, health and metrics.

use actix_web::{web, HttpResponse};
use federation_proto::api::client::{Health, ServerInfo};

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /api/v1/server`
#[utoipa::path(get, path = "/api/v1/server", tag = "server", responses((status = 200, body = ServerInfo)))]
pub async fn server_info(state: web::Data<AppState>) -> Result<web::Json<ServerInfo>, ApiError> {
    let user_count = state
        .db
        .run(|conn| db::users::count(conn).map_err(ApiError::from))
        .await?;
    let key = state.keys.current();
    Ok(web::Json(ServerInfo {
        name: state.server_name.to_string(),
        version: env!("CARGO_PKG_VERSION").to_string(),
        motd: state.config.motd.clone(),
        user_count,
        public_key: Some(key.public_key_b64()),
        key_id: Some(key.key_id().to_string()),
    }))
}

/// `GET /.well-known/healthcheck.json`: 200 when the database answers.
#[utoipa::path(get, path = "/.well-known/healthcheck.json", tag = "server",
    responses((status = 200, body = Health), (status = 500, body = federation_proto::api::ErrorBody)))]
pub async fn health(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    state
        .db
        .run(|conn| db::events::max_seq(conn).map_err(ApiError::from))
        .await?;
    Ok(web::Json(Health {
        status: "ok".to_string(),
    }))
}

/// `GET /metrics`: Prometheus text format.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.metrics.render())
}
