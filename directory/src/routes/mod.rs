//! HTTP routes: thin actix handlers. Each reads its input, calls one service function and maps
//! the result. Paths come from `federation_proto::api::directory::paths`.
//!
//! # Layout
//! - [`servers`]: registration, the list with a cursor, deregistration.
//! - [`heartbeat`]: liveness of registered servers.
//! - [`key`]: the directory's key document; [`health`]: the health check.
//! - [`input`]: bodies with a size cap and `X-Hearth` signed requests.
//! - [`errors`]: JSON errors for bad queries and paths, 404 and 405.

pub mod errors;
pub mod health;
pub mod heartbeat;
pub mod input;
pub mod key;
pub mod servers;

use actix_web::web;
use federation_proto::api::directory::paths;

/// Path of the health check.
pub const HEALTH: &str = "/.well-known/healthcheck.json";

/// A resource that answers 405 for methods it does not route.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(errors::method_not_allowed))
}

/// Registers every route.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(errors::query_config())
        .app_data(errors::path_config())
        .service(resource(HEALTH).get(health::health))
        .service(resource(paths::KEY).get(key::key_document))
        .service(
            resource(paths::SERVERS)
                .get(servers::list_entries)
                .post(servers::register_server),
        )
        .service(resource(paths::SERVER).delete(servers::deregister_server))
        .service(resource(paths::HEARTBEAT).post(heartbeat::heartbeat));
}
