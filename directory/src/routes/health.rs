//! The health check.

use actix_web::web;
use federation_proto::api::client::Health;

use crate::db;
use crate::error::ApiError;
use crate::state::AppState;

/// `GET /.well-known/healthcheck.json`: 200 when the database answers.
pub async fn health(state: web::Data<AppState>) -> Result<web::Json<Health>, ApiError> {
    state
        .db
        .run(|conn| db::entries::max_seq(conn).map_err(ApiError::from))
        .await?;
    Ok(web::Json(Health {
        status: "ok".to_string(),
    }))
}
