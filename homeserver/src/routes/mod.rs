//! HTTP routes: thin actix handlers. Each parses its input, authenticates, calls one service
//! function and maps the result. Paths come from `federation_proto::api::client::paths`.
//!
//! # Layout
//! - [`auth`]: the `Session` extractor (bearer token).
//! - [`accounts`], [`channels`], [`messages`], [`server`], [`federation`], [`media`]: handlers
//!   by resource.
//! - [`errors`]: JSON errors for bad bodies, queries and paths, 404 and 405.
//! - [`openapi`]: the generated OpenAPI document and the offline docs page.
//! - [`web_client`]: the web client's files (`/`, `/web/…`); [`web_session`]: the browser's
//!   cookie session with its CSRF and Origin checks.

pub mod accounts;
pub mod auth;
pub mod channels;
pub mod community;
pub mod errors;
pub mod federation;
pub mod hangup;
pub mod media;
pub mod messages;
pub mod openapi;
pub mod profiles;
pub mod read;
pub mod search;
pub mod server;
pub mod settings;
pub mod typing;
pub mod web_client;
pub mod web_session;
pub mod ws;

use actix_web::web;
use federation_proto::api::client::{paths, read_paths, search_paths};
use federation_proto::api::community::{
    block_paths, invite_paths, notification_paths, paths as community_paths, report_paths,
};
use federation_proto::api::federation::paths as fed_paths;
use federation_proto::media::paths as media_paths;

/// A resource that answers 405 for methods it does not route.
fn resource(path: &str) -> actix_web::Resource {
    web::resource(path).default_service(web::to(errors::method_not_allowed))
}

/// Cross-origin access for browsers (`CORS_ORIGINS`): a preflight from a listed origin is
/// allowed the API's methods with `Authorization` and a JSON `Content-Type`; any other origin
/// gets no `Access-Control-Allow-Origin` (its preflight is refused, its requests are served
/// without CORS headers, so a browser keeps their answers from the page).
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    use actix_web::http::header;
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |cors, origin| {
            cors.allowed_origin(origin)
        })
        .allowed_methods(["GET", "POST", "PUT", "PATCH", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::ACCEPT,
            header::HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([header::RETRY_AFTER])
        .max_age(3600)
}

/// Registers every route. `json_limit` caps request bodies in bytes.
pub fn configure(cfg: &mut web::ServiceConfig, json_limit: usize) {
    cfg.app_data(errors::json_config(json_limit))
        .app_data(errors::query_config())
        .app_data(errors::path_config())
        // The hot path first: actix tries resources in order, and every resource with a
        // `{segment}` before it costs a regex match per request.
        .service(
            resource(paths::MESSAGES)
                .get(messages::sync)
                .post(messages::send),
        )
        .service(resource(paths::MESSAGES_STREAM).get(messages::stream))
        .service(resource(paths::MESSAGES_ACK).post(messages::ack))
        .service(resource(paths::WS).get(ws::socket))
        .service(resource(paths::HEALTH).get(server::health))
        .service(resource("/metrics").get(server::metrics))
        .service(resource(paths::SERVER).get(server::server_info))
        .service(resource(fed_paths::KEY).get(federation::key))
        .service(resource(fed_paths::DIRECTORY).post(federation::directory_push))
        .service(resource(fed_paths::STATUS).get(federation::status))
        .service(
            resource(fed_paths::RELAY)
                .app_data(web::PayloadConfig::new(federation::RELAY_MAX_BYTES))
                .post(federation::relay),
        )
        .service(resource(fed_paths::USER).get(federation::user))
        .service(resource(fed_paths::CHANNEL_SUBMIT).post(federation::submit))
        .service(resource(fed_paths::CHANNEL_EVENTS).get(federation::channel_events))
        .service(resource(fed_paths::CHANNEL_PINS).get(federation::channel_pins))
        .service(resource(fed_paths::CHANNEL).get(federation::channel_info))
        .service(resource(paths::REGISTER).post(accounts::register))
        .service(resource(paths::LOGIN).post(accounts::login))
        .service(resource(paths::LOGOUT).post(accounts::logout))
        .service(
            resource(paths::ME)
                .get(accounts::me)
                .patch(profiles::update_me),
        )
        .service(resource(paths::NICK).post(accounts::change_nick))
        .service(resource(paths::TYPING).post(typing::typing))
        .service(resource(read_paths::READ).post(read::read))
        .service(resource(read_paths::RECEIPTS).get(read::receipts))
        .service(resource(read_paths::CONVERSATIONS).get(read::conversations))
        .service(resource(read_paths::USER_SEARCH).get(profiles::search))
        .service(resource(search_paths::SEARCH).get(search::search))
        .service(resource(paths::USER).get(accounts::profile))
        .service(resource(paths::HISTORY).get(messages::history))
        .service(resource(paths::CHANNELS).get(channels::list_mine))
        .service(resource(paths::CHANNELS_PUBLIC).get(channels::list_public))
        .service(resource(paths::JOIN).post(channels::join))
        .service(resource(paths::PART).post(channels::part))
        .service(resource(paths::TOPIC).post(channels::topic))
        .service(resource(paths::MODE).post(channels::mode))
        .service(resource(paths::INVITE).post(channels::invite))
        .service(resource(paths::KICK).post(channels::kick))
        .service(resource(community_paths::MUTE).post(community::mute))
        .service(resource(community_paths::UNMUTE).post(community::unmute))
        .service(resource(notification_paths::LEVEL).put(community::level))
        .service(resource(block_paths::BLOCKS).get(community::my_blocks))
        .service(resource(report_paths::REPORT).post(community::report))
        .service(resource(report_paths::ADMIN_REPORTS).get(community::admin_reports))
        .service(resource(report_paths::RESOLVE).post(community::resolve_report))
        .service(resource(report_paths::CHANNEL_REPORTS).get(community::channel_reports))
        .service(
            resource(block_paths::BLOCK)
                .post(community::block)
                .delete(community::unblock),
        )
        .service(resource(invite_paths::CHANNEL_INVITES).post(community::create_invite))
        .service(resource(invite_paths::ACCEPT).post(community::accept_invite))
        .service(
            resource(invite_paths::INVITE)
                .get(community::invite_details)
                .delete(community::revoke_invite),
        )
        .service(resource(notification_paths::NOTIFICATIONS).get(community::notifications))
        .service(resource(notification_paths::READ_ALL).patch(community::read_all))
        .service(resource(notification_paths::READ_ONE).patch(community::read_one))
        .service(
            resource(paths::PINS)
                .get(settings::pins)
                .post(settings::pin),
        )
        .service(resource(paths::PIN).delete(settings::unpin))
        .service(
            resource(paths::CHANNEL)
                .get(channels::info)
                .put(settings::describe)
                .delete(settings::delete_channel),
        )
        // After `MESSAGES_STREAM`, which `{id}` would match too.
        .service(
            resource(paths::MESSAGE)
                .get(messages::get_message)
                .put(messages::edit)
                .delete(messages::delete),
        )
        .service(resource(paths::REACTIONS).post(messages::react))
        .service(resource(paths::REACTION).delete(messages::unreact))
        .service(resource(paths::THREAD).get(messages::thread))
        .service(resource(media_paths::MEDIA).post(media::upload))
        .service(resource(media_paths::MEDIA_ONE).get(media::download))
        .service(resource(media_paths::MEDIA_THUMBNAIL).get(media::thumbnail))
        .service(resource(media_paths::FEDERATION_MEDIA).get(media::federation_describe))
        .service(resource(media_paths::FEDERATION_MEDIA_CONTENT).get(media::federation_content))
        // The web client: its page, its files and the browser's cookie session.
        .service(resource("/").get(web_client::index))
        .service(resource("/web/{path:.+}").get(web_client::asset))
        .service(resource(web_session::paths::LOGIN).post(web_session::login))
        .service(resource(web_session::paths::REGISTER).post(web_session::register))
        .service(resource(web_session::paths::LOGOUT).post(web_session::logout))
        .service(resource(web_session::paths::SESSION).get(web_session::status));
}
