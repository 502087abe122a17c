//! Federation endpoints: the key document, the directory's pushes and the status report.

use actix_web::{web, HttpRequest};
use federation_proto::api::client::Empty;
use federation_proto::api::directory::EntriesPush;
use federation_proto::api::federation::{DirectoryLinkStatus, FederationStatus, PeerStatus};
use federation_proto::api::wire::Submission;
use federation_proto::keydoc::KeyDocument;

use crate::db;
use crate::error::ApiError;
use crate::federation::directory::accept_entries;
use crate::federation::peers::stored_keys;
use crate::federation::{hosting, inbound, receive};
use crate::services::accounts;
use crate::services::now_ms_u64;
use crate::state::AppState;

/// Most entries in one push.
const PUSH_MAX_ENTRIES: usize = 1000;

/// `GET /api/v1/federation/key`: this server's verify keys (current and old, with their
/// expiry), self-signed, valid for one day.
pub async fn key(state: web::Data<AppState>) -> Result<web::Json<KeyDocument>, ApiError> {
    let doc = state
        .keys
        .key_document(state.server_name.as_str(), now_ms_u64())
        .map_err(ApiError::internal)?;
    Ok(web::Json(doc))
}

/// `POST /api/v1/federation/directory`: entries pushed by the directory. Every entry must be
/// signed by the pinned `DIRECTORY_KEY`; otherwise nothing is applied (403 `bad_signature`).
pub async fn directory_push(
    state: web::Data<AppState>,
    body: web::Json<EntriesPush>,
) -> Result<web::Json<Empty>, ApiError> {
    if body.entries.len() > PUSH_MAX_ENTRIES {
        return Err(ApiError::too_large(
            "too_many_entries",
            format!("at most {PUSH_MAX_ENTRIES} entries per push"),
        ));
    }
    accept_entries(&state, &body.entries).await?;
    Ok(web::Json(Empty {}))
}

/// Verifies a peer's signed request ([`inbound::verify`]), then counts it against the peer's
/// `RATE_LIMIT_FEDERATION` budget: the origin is known only once its signature checks out, so
/// nobody can spend another server's budget.
async fn verified(state: &AppState, req: &HttpRequest, body: &[u8]) -> Result<String, ApiError> {
    let origin = inbound::verify(state, req, body).await?;
    state.limits.check_federation(&origin)?;
    Ok(origin)
}

/// Largest transaction body.
pub const RELAY_MAX_BYTES: usize = 16 * 1024 * 1024;

/// `POST /api/v1/federation/relay`: a transaction from a peer, signed with `X-Hearth`.
/// Answers `{"results": {event_id: {} | {"error": {…}}}}`; a repeated transaction gets the
/// same answer and changes nothing.
pub async fn relay(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Bytes,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let origin = verified(&state, &req, &body).await?;
    let state = state.into_inner();
    Ok(web::Json(receive::relay(&state, &origin, &body).await?))
}

/// `GET /api/v1/federation/users/{nick}`: a local user's profile, for other servers.
pub async fn user(
    state: web::Data<AppState>,
    req: HttpRequest,
    nick: web::Path<String>,
) -> Result<web::Json<federation_proto::api::client::UserProfile>, ApiError> {
    verified(&state, &req, &[]).await?;
    Ok(web::Json(accounts::local_profile(&state, &nick).await?))
}

/// `POST /api/v1/federation/channels/{name}/submit` `{event, key?}`: a member server submits
/// an event its user signed (join, part, message, action, notice) to a channel hosted here.
/// Answers `{envelope, backfill, info}` (the last two for joins).
pub async fn submit(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let origin = verified(&state, &req, &body).await?;
    let parsed = federation_proto::canonical::parse_strict(&body)
        .map_err(|e| ApiError::bad_request("invalid_json", e.to_string()))?;
    let submission: Submission = serde_json::from_value(parsed)
        .map_err(|e| ApiError::bad_request("invalid_event", e.to_string()))?;
    receive::verify_from(&state, &origin, &submission.event.to_value()).await?;
    let name = crate::services::channels::local_channel(&state, &name)?.name;
    let answer = hosting::submit(&state, &origin, &name, submission).await?;
    Ok(web::Json(
        serde_json::to_value(answer).map_err(ApiError::internal)?,
    ))
}

/// `GET /api/v1/federation/channels/{name}/events?after=N&limit=L`: envelopes after `N`.
pub async fn channel_events(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    query: web::Query<PullQuery>,
) -> Result<web::Json<serde_json::Value>, ApiError> {
    let origin = verified(&state, &req, &[]).await?;
    let name = crate::services::channels::local_channel(&state, &name)?.name;
    let limit = query.limit.unwrap_or(hosting::PULL_MAX);
    let envelopes =
        hosting::events_after(&state, &origin, &name, query.after.unwrap_or(0), limit).await?;
    Ok(web::Json(serde_json::json!({ "envelopes": envelopes })))
}

/// Query of a pull.
#[derive(Debug, serde::Deserialize)]
pub struct PullQuery {
    after: Option<i64>,
    limit: Option<i64>,
}

/// `GET /api/v1/federation/channels/{name}[?user=nick@origin]`: a hosted channel's info for a
/// peer (with the bans when `user`, of the asking server, operates the channel).
pub async fn channel_info(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    query: web::Query<PinsQuery>,
) -> Result<web::Json<federation_proto::api::client::ChannelInfo>, ApiError> {
    let origin = verified(&state, &req, &[]).await?;
    let name = crate::services::channels::local_channel(&state, &name)?.name;
    let user = query.into_inner().user;
    Ok(web::Json(
        hosting::channel_info(&state, &origin, &name, user.as_deref()).await?,
    ))
}

/// `GET /api/v1/federation/channels/{name}/pins?user=nick@origin`: a hosted channel's pins
/// for a member server.
pub async fn channel_pins(
    state: web::Data<AppState>,
    req: HttpRequest,
    name: web::Path<String>,
    query: web::Query<PinsQuery>,
) -> Result<web::Json<federation_proto::api::client::PinList>, ApiError> {
    let origin = verified(&state, &req, &[]).await?;
    let name = crate::services::channels::local_channel(&state, &name)?.name;
    let user = query.into_inner().user.unwrap_or_default();
    Ok(web::Json(federation_proto::api::client::PinList {
        pins: hosting::pins(&state, &origin, &name, &user).await?,
    }))
}

/// Query of a pins request: the member server's user who asks.
#[derive(Debug, serde::Deserialize)]
pub struct PinsQuery {
    user: Option<String>,
}

/// `GET /api/v1/federation/status`: the directory link and every known peer.
pub async fn status(state: web::Data<AppState>) -> Result<web::Json<FederationStatus>, ApiError> {
    let (peers, dir_state, depths, destinations) = state
        .db
        .run(|conn| {
            let peers = db::peers::all(conn)?;
            let destinations = peers
                .iter()
                .map(|p| db::outbox::destination(conn, &p.server_name))
                .collect::<Result<Vec<_>, _>>()?;
            Ok::<_, ApiError>((
                peers,
                db::peers::directory_state(conn)?,
                db::outbox::queue_depths(conn)?,
                destinations,
            ))
        })
        .await?;
    let depths: std::collections::HashMap<String, i64> = depths.into_iter().collect();
    let link = state.federation.link_status();
    let directory = state.config.directory_url.as_ref().map(|url| {
        let (cursor, last_pull, pull_error) = dir_state.clone().map_or((0, None, None), |d| {
            (d.pull_cursor, d.last_pull_ms, d.last_error)
        });
        DirectoryLinkStatus {
            url: url.clone(),
            name: link.directory_name.clone(),
            registered: link.registered,
            last_heartbeat_ts: link.last_heartbeat_ms,
            pull_cursor: cursor,
            last_pull_ts: last_pull,
            last_error: link
                .last_error
                .clone()
                .or(pull_error)
                .map(|e| operator_summary(&e)),
        }
    });
    let peers = peers
        .into_iter()
        .zip(destinations)
        .map(|(p, d)| {
            let queue_depth = depths.get(&p.server_name).copied().unwrap_or(0);
            let failures = d.as_ref().map_or(0, |d| d.failures);
            PeerStatus {
                verify_keys: stored_keys(&p),
                reachable: p.status == "up" && failures == 0,
                queue_depth,
                failures,
                last_success_ts: d.as_ref().and_then(|d| d.last_success_ms),
                last_error: d
                    .as_ref()
                    .and_then(|d| d.last_error.as_deref().map(operator_summary)),
                next_retry_ts: d.as_ref().map(|d| d.next_retry_ms).filter(|t| *t > 0),
                server_name: p.server_name,
                url: p.url,
                status: p.status,
                source: p.source,
                updated_ts: p.updated_ms,
            }
        })
        .collect();
    Ok(web::Json(FederationStatus {
        server_name: state.server_name.to_string(),
        directory,
        peers,
    }))
}

/// Longest error summary shown in the status report, in characters.
const SUMMARY_MAX_CHARS: usize = 300;

/// What `GET /api/v1/federation/status` (open to anyone) shows of a stored failure: what an
/// operator needs to act (the peer's URL, its HTTP status and answer, a connection or
/// certificate failure), never this server's internals. A failure of our own (the database, a
/// signing error) becomes a pointer to the log, where its cause is; anything else keeps its
/// first line, without control characters, cut to `SUMMARY_MAX_CHARS`.
pub fn operator_summary(raw: &str) -> String {
    let internal = [
        "internal server error",
        "cannot sign the request",
        "database",
    ];
    let lower = raw.to_ascii_lowercase();
    // `FedError`'s forms for a peer's own answer and for no answer (federation::client).
    let peer_answer = lower.split(" answered ").skip(1).any(|rest| {
        rest.len() > 4
            && rest.as_bytes()[..3].iter().all(u8::is_ascii_digit)
            && rest.as_bytes()[3] == b':'
    });
    let from_peer = peer_answer || lower.starts_with("request to ");
    if !from_peer && internal.iter().any(|marker| lower.contains(marker)) {
        return "internal error on this server (details in its log)".to_string();
    }
    let first_line = raw.lines().next().unwrap_or_default();
    let mut summary: String = first_line
        .chars()
        .filter(|c| !c.is_control())
        .take(SUMMARY_MAX_CHARS)
        .collect();
    if first_line.chars().count() > SUMMARY_MAX_CHARS {
        summary.push('…');
    }
    summary
}

#[cfg(test)]
mod tests {
    use super::operator_summary;

    #[test]
    fn peer_failures_are_shown_and_internal_ones_are_not() {
        let peer = r#"http://127.0.0.1:4000 answered 401: {"error":{"code":"bad_signature"}}"#;
        assert_eq!(operator_summary(peer), peer);
        let peer_500 = r#"http://hs2 answered 500: {"error":{"code":"internal","message":"internal server error"}}"#;
        assert_eq!(operator_summary(peer_500), peer_500);
        let refused = "request to https://hs2.example/api failed: Connect error: invalid peer certificate: UnknownIssuer";
        assert_eq!(operator_summary(refused), refused);
        for ours in [
            "internal: internal server error",
            "cannot sign the request: key missing",
            "database is locked",
            "http://dir answered invalid JSON: internal: internal server error",
        ] {
            assert_eq!(
                operator_summary(ours),
                "internal error on this server (details in its log)",
                "{ours}"
            );
        }
        let long = format!("hs2 answered 500: {}\nsecond line", "x".repeat(1000));
        let shown = operator_summary(&long);
        assert!(shown.chars().count() <= 301 && !shown.contains("second"));
    }
}
