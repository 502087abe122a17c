//! Server information, health and metrics.

use actix_web::http::header::AUTHORIZATION;
use actix_web::{web, HttpRequest, HttpResponse};
use federation_proto::api::client::{Health, ServerInfo};
use sha2::{Digest as _, Sha256};

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

/// `GET /metrics`: Prometheus text format. With `METRICS_TOKEN` set, only for
/// `Authorization: Bearer <METRICS_TOKEN>` (else `401 invalid_token`).
pub async fn metrics(
    state: web::Data<AppState>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if let Some(token) = state
        .config
        .metrics_token
        .as_deref()
        .filter(|t| !t.is_empty())
    {
        let given = req
            .headers()
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim());
        if !given.is_some_and(|given| same_secret(given, token)) {
            return Err(ApiError::unauthorized(
                "invalid_token",
                "/metrics needs Authorization: Bearer <METRICS_TOKEN>",
            ));
        }
    }
    let mut text = state.metrics.render();
    text.push_str(&state.limits.render());
    text.push_str(&state.hashing.render());
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(text))
}

/// Compares two secrets in time independent of where they differ (their sha256 digests, all
/// bytes looked at).
fn same_secret(a: &str, b: &str) -> bool {
    let (a, b) = (Sha256::digest(a.as_bytes()), Sha256::digest(b.as_bytes()));
    a.iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y))
        == 0
}
