//! The OpenAPI document of the client API, generated from the handlers' annotations, served at
//! `GET /api/v1/openapi.json`, with a Swagger UI page at `/api/docs/` whose assets are compiled
//! into the binary (works offline).

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use super::{
    accounts, channels, community, media, messages, profiles, read, search, server, settings,
    typing, web_client, web_session, ws,
};

/// Where the document is served.
pub const OPENAPI_PATH: &str = "/api/v1/openapi.json";

/// The client API.
#[derive(OpenApi)]
#[openapi(
    info(title = "Hearth client API", description = "Federated IRC-style chat. Errors are `{\"error\": {\"code\", \"message\"}}`."),
    paths(
        accounts::register, accounts::login, accounts::logout, accounts::me, accounts::change_nick, accounts::profile,
        messages::sync, messages::stream, messages::ack, messages::send, messages::history, ws::socket,
        messages::get_message, messages::edit, messages::delete, messages::react, messages::unreact,
        messages::thread,
        channels::list_mine, channels::list_public, channels::join, channels::part, channels::info,
        channels::topic, channels::mode, channels::invite, channels::kick,
        settings::describe, settings::delete_channel, settings::pins, settings::pin, settings::unpin,
        server::server_info, server::health,
        typing::typing,
        read::read, read::receipts, read::conversations,
        profiles::update_me, profiles::search,
        search::search,
        media::upload, media::download, media::thumbnail,
        community::mute, community::unmute, community::notifications, community::read_one,
        community::read_all, community::level, community::create_invite, community::invite_details,
        community::accept_invite, community::revoke_invite, community::block, community::unblock,
        community::my_blocks, community::report, community::admin_reports,
        community::channel_reports, community::resolve_report,
        web_client::index, web_client::asset, web_session::login, web_session::register,
        web_session::logout, web_session::status,
    ),
    modifiers(&BearerAuth),
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The docs page and the document, as one actix service.
pub fn docs_service() -> SwaggerUi {
    SwaggerUi::new("/api/docs/{_:.*}").url(OPENAPI_PATH, ApiDoc::openapi())
}
