//! The browser's session (`docs/web.md`): the web client never sees its token. Logging in
//! through `POST /api/v1/web/login` (or registering through `/api/v1/web/register`) creates a
//! device named after the browser and answers with two cookies:
//!
//! - `hearth_session`: the device's token, `HttpOnly; SameSite=Strict; Path=/` (and `Secure`
//!   over HTTPS), so script injected into the page cannot read it and other sites cannot send it;
//! - `hearth_csrf`: a value derived from the token (sha256 of a label and the token), readable
//!   by the page, which echoes it as `X-CSRF-Token` on every request that changes something.
//!
//! The `Session` extractor (`routes::auth`) takes a bearer `Authorization` header first, exactly
//! as before, and only without one the cookie, through `cookie_token`: a request other than
//! `GET`/`HEAD`/`OPTIONS` must carry the matching `X-CSRF-Token`, and one whose `Origin` names
//! another host is refused. The WebSocket upgrade (a `GET` that browsers send with cookies
//! from any page) takes the cookie only when its `Origin` is this host (`socket_cookie_token`).

use actix_web::http::{header, Method};
use actix_web::{web, HttpRequest, HttpResponse};
use base64::Engine;
use federation_proto::api::ErrorBody;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::services::accounts::{self, Session};
use crate::state::AppState;

/// The HttpOnly cookie that holds the device's token.
pub const SESSION_COOKIE: &str = "hearth_session";
/// The cookie the page reads its CSRF value from.
pub const CSRF_COOKIE: &str = "hearth_csrf";
/// The header that echoes it.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// How long the browser keeps the cookies; the server still ends an idle session after
/// `SESSION_TIMEOUT`.
const COOKIE_MAX_AGE_S: u64 = 30 * 24 * 3600;

/// Paths of the browser's session.
pub mod paths {
    /// `POST`: log in and set the cookies.
    pub const LOGIN: &str = "/api/v1/web/login";
    /// `POST`: register, log in and set the cookies.
    pub const REGISTER: &str = "/api/v1/web/register";
    /// `POST`: end this browser's device and clear the cookies.
    pub const LOGOUT: &str = "/api/v1/web/logout";
    /// `GET`: whether this browser is signed in (never a 401, so the page's first look logs
    /// no failed request).
    pub const SESSION: &str = "/api/v1/web/session";
}

/// What a browser's login or registration passes first: a page of this server (not another
/// site's), and the login rate limit. Returns the name of the device it will create.
fn admit_browser(state: &AppState, req: &HttpRequest) -> Result<Option<String>, ApiError> {
    check_origin(req)?;
    state.limits.check_login(state.limits.client_of(req))?;
    Ok(Some(device_name(user_agent(req))))
}

/// `POST /api/v1/web/login` and `/register`: the nick and password; the device is named
/// after the browser.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct WebLoginRequest {
    /// The user's nick.
    pub nick: String,
    /// The password.
    pub password: String,
}

/// The browser's session, without its token (that is in the HttpOnly cookie).
#[derive(Debug, Serialize, ToSchema)]
pub struct WebSessionResponse {
    /// This browser's device.
    pub device_id: String,
    /// The user's nick.
    pub nick: String,
    /// The value to echo as `X-CSRF-Token` (also in the `hearth_csrf` cookie).
    pub csrf_token: String,
}

/// `GET /api/v1/web/session`: whether the cookie (or bearer token) is a live session.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebSessionStatus {
    /// Whether the request carries a live session.
    pub signed_in: bool,
    /// The user's nick, when signed in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nick: Option<String>,
}

/// The CSRF value of a token: not the token, and useless without the cookie it goes with.
pub fn csrf_for(token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"hearth-web-csrf\0");
    hash.update(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(hash.finalize())
}

/// The token of the session cookie, for the `Session` extractor: `None` without the cookie;
/// an error for a request that changes something without the matching `X-CSRF-Token`, or
/// from a page of another host.
pub(crate) fn cookie_token(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let token = cookie(req, SESSION_COOKIE)?;
    if matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS) {
        return Some(Ok(token));
    }
    if origin_is_other_host(req) {
        return Some(Err(cross_origin()));
    }
    let sent = req
        .headers()
        .get(CSRF_HEADER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if !constant_time_eq(sent.as_bytes(), csrf_for(&token).as_bytes()) {
        return Some(Err(ApiError::forbidden(
            "csrf_failed",
            "a request authenticated by the session cookie must carry X-CSRF-Token",
        )));
    }
    Some(Ok(token))
}

/// The token of the session cookie for a WebSocket upgrade: only from a page of this host
/// (an upgrade carries no CSRF header, but browsers always send its `Origin`).
pub(crate) fn socket_cookie_token(req: &HttpRequest) -> Option<Result<String, ApiError>> {
    let token = cookie(req, SESSION_COOKIE)?;
    let origin_ok = origin_host(req).is_some_and(|origin| Some(origin) == host(req));
    Some(if origin_ok {
        Ok(token)
    } else {
        Err(cross_origin())
    })
}

fn cross_origin() -> ApiError {
    ApiError::forbidden(
        "cross_origin",
        "the session cookie is only accepted from this server's own pages",
    )
}

/// A cookie of the request's `Cookie` headers.
fn cookie(req: &HttpRequest, name: &str) -> Option<String> {
    req.headers()
        .get_all(header::COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// The host (with port) of the `Origin` header, if it has one that is not `null`.
fn origin_host(req: &HttpRequest) -> Option<&str> {
    let origin = req.headers().get(header::ORIGIN)?.to_str().ok()?;
    let (_, rest) = origin.split_once("://")?;
    Some(rest.trim_end_matches('/'))
}

/// The host the browser addressed (the `Host` header, which a page cannot set).
fn host(req: &HttpRequest) -> Option<&str> {
    req.headers().get(header::HOST)?.to_str().ok()
}

fn origin_is_other_host(req: &HttpRequest) -> bool {
    origin_host(req).is_some_and(|origin| Some(origin) != host(req))
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The device's name for a browser, from its `User-Agent` ("web: Firefox on Linux").
pub fn device_name(user_agent: Option<&str>) -> String {
    let ua = user_agent.unwrap_or("");
    let browser = [
        ("Edg/", "Edge"),
        ("OPR/", "Opera"),
        ("Firefox/", "Firefox"),
        ("Chrome/", "Chrome"),
        ("Chromium/", "Chromium"),
        ("Safari/", "Safari"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map_or("browser", |(_, name)| name);
    let os = [
        ("Android", "Android"),
        ("iPhone", "iPhone"),
        ("iPad", "iPad"),
        ("Windows", "Windows"),
        ("Mac OS X", "macOS"),
        ("CrOS", "ChromeOS"),
        ("Linux", "Linux"),
    ]
    .iter()
    .find(|(token, _)| ua.contains(token))
    .map(|(_, name)| *name);
    match os {
        Some(os) => format!("web: {browser} on {os}"),
        None => format!("web: {browser}"),
    }
}

/// The two cookies of a session (or, with `None`, the two that clear them).
fn set_cookies(res: &mut actix_web::HttpResponseBuilder, req: &HttpRequest, token: Option<&str>) {
    let secure = if req.connection_info().scheme() == "https" {
        "; Secure"
    } else {
        ""
    };
    let (session, csrf, age) = match token {
        Some(token) => (token.to_string(), csrf_for(token), COOKIE_MAX_AGE_S),
        None => (String::new(), String::new(), 0),
    };
    res.append_header((
        header::SET_COOKIE,
        format!(
            "{SESSION_COOKIE}={session}; Path=/; Max-Age={age}; HttpOnly; SameSite=Strict{secure}"
        ),
    ))
    .append_header((
        header::SET_COOKIE,
        format!("{CSRF_COOKIE}={csrf}; Path=/; Max-Age={age}; SameSite=Strict{secure}"),
    ))
    .insert_header((header::CACHE_CONTROL, "no-store"));
}

/// Logging in or registering from another site's page is refused (login CSRF).
fn check_origin(req: &HttpRequest) -> Result<(), ApiError> {
    if origin_is_other_host(req) {
        return Err(cross_origin());
    }
    Ok(())
}

fn user_agent(req: &HttpRequest) -> Option<&str> {
    req.headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
}

async fn answer(
    state: &AppState,
    req: &HttpRequest,
    mut res: actix_web::HttpResponseBuilder,
    token: String,
) -> Result<HttpResponse, ApiError> {
    let session = accounts::authenticate(state, &token).await?;
    set_cookies(&mut res, req, Some(&token));
    Ok(res.json(WebSessionResponse {
        device_id: session.device_id,
        nick: session.nick,
        csrf_token: csrf_for(&token),
    }))
}

/// `POST /api/v1/web/login`
#[utoipa::path(post, path = "/api/v1/web/login", tag = "web", request_body = WebLoginRequest,
    description = "Logs a browser in: a new device named after its User-Agent; the token goes in the HttpOnly cookie `hearth_session`, the CSRF value in `hearth_csrf` (echo it as `X-CSRF-Token`).",
    responses((status = 200, body = WebSessionResponse, description = "logged in; Set-Cookie hearth_session and hearth_csrf"),
        (status = 401, description = "invalid_credentials", body = ErrorBody),
        (status = 403, description = "cross_origin: from another site's page", body = ErrorBody),
        (status = 429, description = "rate_limited (RATE_LIMIT_LOGIN), with Retry-After", body = ErrorBody)))]
pub async fn login(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<WebLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let device = admit_browser(&state, &req)?;
    let body = body.into_inner();
    let logged = accounts::login(&state, &body.nick, body.password, device).await?;
    answer(&state, &req, HttpResponse::Ok(), logged.token).await
}

/// `POST /api/v1/web/register`
#[utoipa::path(post, path = "/api/v1/web/register", tag = "web", request_body = WebLoginRequest,
    description = "Registers a user and logs this browser in, like `/api/v1/web/login`.",
    responses((status = 201, body = WebSessionResponse, description = "registered; Set-Cookie hearth_session and hearth_csrf"),
        (status = 400, body = ErrorBody), (status = 409, description = "nick_taken", body = ErrorBody),
        (status = 403, description = "cross_origin: from another site's page", body = ErrorBody),
        (status = 429, description = "rate_limited (RATE_LIMIT_LOGIN), with Retry-After", body = ErrorBody)))]
pub async fn register(
    state: web::Data<AppState>,
    req: HttpRequest,
    body: web::Json<WebLoginRequest>,
) -> Result<HttpResponse, ApiError> {
    let device = admit_browser(&state, &req)?;
    let body = body.into_inner();
    let created = accounts::register(&state, &body.nick, body.password, device).await?;
    answer(&state, &req, HttpResponse::Created(), created.token).await
}

/// `POST /api/v1/web/logout`
#[utoipa::path(post, path = "/api/v1/web/logout", tag = "web",
    description = "Ends this browser's device and clears its cookies. Needs the session cookie and `X-CSRF-Token`.",
    params(("X-CSRF-Token" = String, Header, description = "the value of the hearth_csrf cookie")),
    responses((status = 204, description = "logged out; the cookies are cleared"),
        (status = 401, body = ErrorBody), (status = 403, description = "csrf_failed", body = ErrorBody)))]
pub async fn logout(
    state: web::Data<AppState>,
    req: HttpRequest,
    session: Session,
) -> Result<HttpResponse, ApiError> {
    accounts::logout(&state, &session).await?;
    let mut res = HttpResponse::NoContent();
    set_cookies(&mut res, &req, None);
    Ok(res.finish())
}

/// `GET /api/v1/web/session`
#[utoipa::path(get, path = "/api/v1/web/session", tag = "web",
    description = "Whether this browser is signed in: always `200`, so a page can ask without a failed request.",
    responses((status = 200, body = WebSessionStatus)))]
pub async fn status(session: Option<Session>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(WebSessionStatus {
            signed_in: session.is_some(),
            nick: session.map(|s| s.nick),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn browsers_are_named() {
        let chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36";
        assert_eq!(device_name(Some(chrome)), "web: Chrome on Linux");
        let firefox = "Mozilla/5.0 (Windows NT 10.0; rv:140.0) Gecko/20100101 Firefox/140.0";
        assert_eq!(device_name(Some(firefox)), "web: Firefox on Windows");
        assert_eq!(device_name(None), "web: browser");
    }

    #[test]
    fn csrf_values_differ_per_token_and_are_not_the_token() {
        let a = csrf_for("token-a");
        assert_ne!(a, csrf_for("token-b"));
        assert!(!a.contains("token-a"));
        assert!(constant_time_eq(
            a.as_bytes(),
            csrf_for("token-a").as_bytes()
        ));
    }
}
