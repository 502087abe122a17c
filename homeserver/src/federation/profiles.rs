//! Profiles of users of other servers, asked of their server with a signed request.

use awc::http::Method;
use federation_proto::api::client::UserProfile;

use super::client::FedClient;
use crate::error::ApiError;
use crate::state::AppState;

/// Asks the user's server for the profile (a signed request).
pub async fn remote_profile(
    state: &AppState,
    server: &str,
    nick: &str,
) -> Result<UserProfile, ApiError> {
    let peer = super::directory::peer(state, server).await?;
    let client = FedClient::new(state).with_federation_key(state.config.federation_key.clone());
    let path = format!("/api/v1/federation/users/{nick}");
    let answer = client
        .signed(Method::GET, &peer.url, &path, server, None)
        .await
        .map_err(|e| match e.code() {
            Some(code) if code == "unknown_user" => {
                ApiError::not_found("unknown_user", format!("no user {nick}@{server}"))
            }
            _ => ApiError::new(
                actix_web::http::StatusCode::BAD_GATEWAY,
                "peer_unreachable",
                format!("{server} did not answer: {e}"),
            ),
        })?;
    serde_json::from_value(answer).map_err(|e| {
        ApiError::new(
            actix_web::http::StatusCode::BAD_GATEWAY,
            "peer_unreachable",
            format!("{server} answered nonsense: {e}"),
        )
    })
}
