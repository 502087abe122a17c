//! HTTP routes: thin actix handlers. Each parses its input, authenticates, calls one service
//! function and maps the result. Paths come from `federation_proto::api::client::paths`.
//!
//! # Layout
//! - [`auth`]: the `Session` extractor (bearer token).
//! - [`accounts`], [`channels`], [`messages`], [`server`]: handlers by resource.
//! - [`errors`]: JSON errors for bad bodies, queries and paths, 404 and 405.
//! - [`openapi`]: the generated OpenAPI document and the offline docs page.

pub mod accounts;
pub mod auth;
pub mod channels;
pub mod errors;
pub mod messages;
pub mod openapi;
pub mod server;

use actix_web::web;
use federation_proto::api::client::paths;

/// Registers every route. `json_limit` caps request bodies in bytes.
pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    cfg.app_data(errors::json_config(json_limit))
        .app_data(errors::query_config())
        .app_data(errors::path_config())
        .service(web::resource(paths::HEALTH).get(server::health).to(errors::method_not_allowed))
        .service(web::resource("/metrics").get(server::metrics).to(errors::method_not_allowed))
        .service(web::resource(paths::SERVER).get(server::server_info).to(errors::method_not_allowed))
        .service(web::resource(paths::REGISTER).post(accounts::register).to(errors::method_not_allowed))
        .service(web::resource(paths::LOGIN).post(accounts::login).to(errors::method_not_allowed))
        .service(web::resource(paths::LOGOUT).post(accounts::logout).to(errors::method_not_allowed))
        .service(web::resource(paths::ME).get(accounts::me).to(errors::method_not_allowed))
        .service(web::resource(paths::NICK).post(accounts::change_nick).to(errors::method_not_allowed))
        .service(web::resource(paths::USER).get(accounts::profile).to(errors::method_not_allowed))
        .service(
            web::resource(paths::MESSAGES)
                .get(messages::sync)
                .post(messages::send)
                .to(errors::method_not_allowed),
        )
        .service(web::resource(paths::HISTORY).get(messages::history).to(errors::method_not_allowed))
        .service(web::resource(paths::CHANNELS).get(channels::list_mine).to(errors::method_not_allowed))
        .service(web::resource(paths::CHANNELS_PUBLIC).get(channels::list_public).to(errors::method_not_allowed))
        .service(web::resource(paths::JOIN).post(channels::join).to(errors::method_not_allowed))
        .service(web::resource(paths::PART).post(channels::part).to(errors::method_not_allowed))
        .service(web::resource(paths::TOPIC).post(channels::topic).to(errors::method_not_allowed))
        .service(web::resource(paths::MODE).post(channels::mode).to(errors::method_not_allowed))
        .service(web::resource(paths::INVITE).post(channels::invite).to(errors::method_not_allowed))
        .service(web::resource(paths::KICK).post(channels::kick).to(errors::method_not_allowed))
        .service(web::resource(paths::CHANNEL).get(channels::info).to(errors::method_not_allowed));
}
