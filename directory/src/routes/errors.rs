//! JSON errors for requests that never reach a handler: unparsable queries and paths, unknown
//! paths, wrong methods.

use actix_web::error::{PathError, QueryPayloadError};
use actix_web::{web, HttpRequest, HttpResponse, ResponseError as _};

use crate::error::ApiError;

/// Query string extractor settings.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req| {
        let message = match &err {
            QueryPayloadError::Deserialize(e) => e.to_string(),
            other => other.to_string(),
        };
        ApiError::InvalidQuery(message).into()
    })
}

/// Path extractor settings.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _req| {
        ApiError::InvalidRequest(format!("bad path: {err}")).into()
    })
}

/// 404 for unknown paths.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    ApiError::NotFound(format!("no route {} {}", req.method(), req.path())).error_response()
}

/// 405 for a known path with the wrong method.
pub async fn method_not_allowed(req: HttpRequest) -> HttpResponse {
    ApiError::MethodNotAllowed(format!("{} is not allowed on {}", req.method(), req.path()))
        .error_response()
}
