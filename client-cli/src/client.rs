//! [`Client`]: one account's connection to its homeserver, and the request machinery every typed
//! call in [`crate::api`] goes through (URL building, bearer auth, JSON in and out, error bodies).
//!
//! A `Client` is cheap to clone (clones share the HTTP connection pool) but, like awc itself,
//! it is not `Send`: use it on a current-thread runtime (see the crate docs).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use actix_web::http::Method;
use federation_proto::tls::{self, rustls};
use serde::de::DeserializeOwned;
use serde::Serialize;

use federation_proto::api::ErrorBody;

use crate::backoff::BackoffPolicy;
use crate::error::ClientError;

/// The most bytes of a response body the client reads (a full sync page of large messages fits).
const MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// Tunables of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// Timeout of ordinary requests (long polls get their poll timeout plus [`Self::poll_grace`]).
    pub request_timeout: Duration,
    /// Extra time a long-poll request gets beyond the timeout it asks the server for.
    pub poll_grace: Duration,
    /// How many times a send is attempted in all before its error is returned.
    pub send_attempts: u32,
    /// Backoff between send attempts (and the default for sync streams).
    pub backoff: BackoffPolicy,
    /// Sent as the `User-Agent` header.
    pub user_agent: String,
    /// What HTTPS trusts; `None`: the usual public roots. [`ClientConfig::with_extra_ca_file`]
    /// adds a private CA (`EXTRA_CA_FILE`). A certificate that does not verify is a
    /// [`ClientError::Network`] error, never accepted.
    pub tls: Option<Arc<rustls::ClientConfig>>,
}

impl Default for ClientConfig {
    fn default() -> Self {
        ClientConfig {
            request_timeout: Duration::from_secs(30),
            poll_grace: Duration::from_secs(10),
            send_attempts: 5,
            backoff: BackoffPolicy::default(),
            user_agent: format!("hearth-client/{}", env!("CARGO_PKG_VERSION")),
            tls: None,
        }
    }
}

impl ClientConfig {
    /// Trusts the certificates of a PEM file (a private CA, one or several certificates)
    /// besides the usual public roots, as `hearth --extra-ca-file` and `EXTRA_CA_FILE` do.
    pub fn with_extra_ca_file(mut self, path: &Path) -> Result<ClientConfig, ClientError> {
        let tls = tls::load_client(Some(path), |path| std::fs::read(path))
            .map_err(|e| ClientError::InvalidInput(e.to_string()))?;
        self.tls = Some(tls);
        Ok(self)
    }
}

/// A connection to one homeserver, optionally logged in (holding a bearer token).
#[derive(Clone)]
pub struct Client {
    http: awc::Client,
    base: String,
    token: Option<String>,
    config: ClientConfig,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

/// Whether a request carries the bearer token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Auth {
    /// No `Authorization` header (register, login, server info).
    None,
    /// `Authorization: Bearer <token>`; fails with [`ClientError::NotLoggedIn`] without one.
    Bearer,
}

impl Client {
    /// A client for the homeserver at `base_url` (`http://127.0.0.1:8080`, `https://hs1.example`)
    /// with the default [`ClientConfig`].
    pub fn new(base_url: &str) -> Result<Client, ClientError> {
        Client::with_config(base_url, ClientConfig::default())
    }

    /// A client with explicit settings.
    pub fn with_config(base_url: &str, config: ClientConfig) -> Result<Client, ClientError> {
        let base = normalize_base_url(base_url)?;
        let tls = match &config.tls {
            Some(tls) => Arc::clone(tls),
            None => tls::load_client(None, |path| std::fs::read(path))
                .map_err(|e| ClientError::InvalidInput(e.to_string()))?,
        };
        let http = awc::Client::builder()
            .connector(awc::Connector::new().rustls_0_23(tls))
            .timeout(config.request_timeout)
            .add_default_header(("User-Agent", config.user_agent.clone()))
            .finish();
        Ok(Client {
            http,
            base,
            token: None,
            config,
        })
    }

    /// The same client, logged in with `token` (e.g. one saved from an earlier login).
    pub fn with_token(mut self, token: impl Into<String>) -> Client {
        self.token = Some(token.into());
        self
    }

    /// Replaces (or with `None` forgets) the bearer token.
    pub fn set_token(&mut self, token: Option<String>) {
        self.token = token;
    }

    /// The bearer token, if logged in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The homeserver's base URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// The HTTP client (for streamed bodies: media).
    pub(crate) fn http_client(&self) -> &awc::Client {
        &self.http
    }

    /// This client's settings.
    pub fn config(&self) -> &ClientConfig {
        &self.config
    }

    /// `GET path` and decode the JSON answer.
    pub(crate) async fn get<T: DeserializeOwned>(
        &self,
        path: &str,
        auth: Auth,
    ) -> Result<T, ClientError> {
        self.call(Call::<(), ()>::new(Method::GET, path, auth))
            .await
    }

    /// `GET path?query` with an optional timeout override.
    pub(crate) async fn get_query<Q: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        query: &Q,
        timeout: Option<Duration>,
    ) -> Result<T, ClientError> {
        let mut call = Call::<Q, ()>::new(Method::GET, path, Auth::Bearer);
        call.query = Some(query);
        call.timeout = timeout;
        self.call(call).await
    }

    /// `POST path` with a JSON body and decode the JSON answer.
    pub(crate) async fn post<B: Serialize, T: DeserializeOwned>(
        &self,
        path: &str,
        body: &B,
        auth: Auth,
    ) -> Result<T, ClientError> {
        let mut call = Call::<(), B>::new(Method::POST, path, auth);
        call.body = Some(body);
        self.call(call).await
    }

    /// Sends one request and maps the answer: 2xx bodies decode into `T` (see
    /// [`decode_success`]), other statuses become [`ClientError::Api`].
    pub(crate) async fn call<Q: Serialize, B: Serialize, T: DeserializeOwned>(
        &self,
        call: Call<'_, Q, B>,
    ) -> Result<T, ClientError> {
        let Call {
            method,
            path,
            query,
            body,
            auth,
            timeout,
            on_status,
        } = call;
        let url = format!("{}{}", self.base, path);
        let mut req = self.http.request(method.clone(), &url);
        if let Some(q) = query {
            req = req
                .query(q)
                .map_err(|e| ClientError::InvalidInput(format!("query: {e}")))?;
        }
        if auth == Auth::Bearer {
            let token = self.token.as_deref().ok_or(ClientError::NotLoggedIn)?;
            req = req.bearer_auth(token);
        }
        let timeout = timeout.unwrap_or(self.config.request_timeout);
        tracing::debug!(%method, %path, "request");
        let req = req.timeout(timeout);
        let sent = match body {
            Some(b) => req.send_json(b).await,
            None => req.send().await,
        };
        // The body gets its own deadline: awc's request timeout ends at the status line.
        let mut resp = sent.map_err(map_send_error)?.timeout(timeout);
        let status = resp.status().as_u16();
        if let Some(observe) = on_status {
            observe(status);
        }
        let bytes = resp
            .body()
            .limit(MAX_BODY_BYTES)
            .await
            .map_err(|e| ClientError::Network(format!("reading the response: {e}")))?;
        if !(200..300).contains(&status) {
            return Err(ClientError::from_response(status, &bytes));
        }
        decode_success(status, &bytes, &method, path)
    }
}

/// One request for [`Client::call`].
pub(crate) struct Call<'a, Q, B> {
    /// HTTP method.
    pub method: Method,
    /// Path (from `federation_proto::api::client::paths`, filled in).
    pub path: &'a str,
    /// Query parameters.
    pub query: Option<&'a Q>,
    /// JSON body.
    pub body: Option<&'a B>,
    /// Whether to send the bearer token.
    pub auth: Auth,
    /// Overrides [`ClientConfig::request_timeout`] (for the status line and again for the body).
    pub timeout: Option<Duration>,
    /// Called with the status as soon as the status line arrives, before the body.
    pub on_status: Option<&'a dyn Fn(u16)>,
}

impl<'a, Q, B> Call<'a, Q, B> {
    /// A request without query, body or overrides.
    pub(crate) fn new(method: Method, path: &'a str, auth: Auth) -> Self {
        Call {
            method,
            path,
            query: None,
            body: None,
            auth,
            timeout: None,
            on_status: None,
        }
    }
}

/// Decodes a 2xx body.
///
/// A waiting long poll sends its status line at once and white space as a heartbeat, so:
/// - a body that is only white space means the connection ended before the answer: a network
///   error (transient); a body cut off mid-JSON likewise;
/// - an error body `{"error": …}` means the server failed after sending `200`: reported as
///   [`ClientError::Api`] with status 500 (transient).
///
/// A truly empty body decodes as JSON `null` (for calls that ignore the answer).
pub(crate) fn decode_success<T: DeserializeOwned>(
    status: u16,
    bytes: &[u8],
    method: &Method,
    path: &str,
) -> Result<T, ClientError> {
    if bytes.is_empty() {
        return serde_json::from_slice(b"null").map_err(|_| {
            ClientError::Network(format!("{method} {path}: the response had no body"))
        });
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ClientError::Network(format!(
            "{method} {path}: the connection ended before the answer"
        )));
    }
    if let Ok(body) = serde_json::from_slice::<ErrorBody>(bytes) {
        return Err(ClientError::Api {
            status: 500,
            code: body.error.code,
            message: body.error.message,
        });
    }
    serde_json::from_slice(bytes).map_err(|e| {
        if e.is_eof() {
            ClientError::Network(format!("{method} {path}: the answer was cut off"))
        } else {
            ClientError::Protocol {
                status,
                reason: format!("{method} {path}: {e}"),
            }
        }
    })
}

/// Maps awc's send errors: a bad URL is the caller's fault, everything else is the network's.
fn map_send_error(e: awc::error::SendRequestError) -> ClientError {
    match e {
        awc::error::SendRequestError::Url(u) => {
            ClientError::InvalidInput(format!("server URL: {u}"))
        }
        other => ClientError::Network(other.to_string()),
    }
}

/// Checks a base URL (`http(s)://host[:port][/prefix]`) and drops trailing slashes.
pub fn normalize_base_url(raw: &str) -> Result<String, ClientError> {
    let trimmed = raw.trim().trim_end_matches('/');
    let rest = trimmed
        .strip_prefix("http://")
        .or_else(|| trimmed.strip_prefix("https://"))
        .ok_or_else(|| {
            ClientError::InvalidInput(format!(
                "server URL must start with http:// or https://: {raw:?}"
            ))
        })?;
    if rest.is_empty() || rest.contains(['?', '#', ' ']) {
        return Err(ClientError::InvalidInput(format!(
            "not a server URL: {raw:?}"
        )));
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        assert_eq!(
            normalize_base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert_eq!(
            normalize_base_url(" https://hs1.example//").unwrap(),
            "https://hs1.example"
        );
        assert_eq!(
            normalize_base_url("http://h/prefix").unwrap(),
            "http://h/prefix"
        );
        for bad in [
            "",
            "hs1.example",
            "ftp://x",
            "http://",
            "http://a b",
            "http://h?x=1",
        ] {
            assert!(normalize_base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn decoding_success_bodies() {
        use federation_proto::api::client::SyncResponse;
        let get = Method::GET;
        let ok: SyncResponse =
            decode_success(200, b"   {\"events\":[],\"next\":4}", &get, "/p").unwrap();
        assert_eq!(ok.next, 4);
        let cut = decode_success::<SyncResponse>(200, b"    ", &get, "/p").unwrap_err();
        assert!(
            cut.is_transient() && matches!(cut, ClientError::Network(_)),
            "{cut:?}"
        );
        let cut = decode_success::<SyncResponse>(200, b"  {\"events\":[", &get, "/p").unwrap_err();
        assert!(matches!(cut, ClientError::Network(_)), "{cut:?}");
        let late = decode_success::<SyncResponse>(
            200,
            br#"  {"error":{"code":"internal","message":"x"}}"#,
            &get,
            "/p",
        )
        .unwrap_err();
        assert_eq!(
            (late.code(), late.status(), late.is_transient()),
            (Some("internal"), Some(500), true)
        );
        let bad = decode_success::<SyncResponse>(200, b"<html>", &get, "/p").unwrap_err();
        assert!(matches!(bad, ClientError::Protocol { .. }));
        let _: serde::de::IgnoredAny = decode_success(204, b"", &get, "/p").unwrap();
        assert!(decode_success::<SyncResponse>(200, b"", &get, "/p").is_err());
    }

    #[test]
    fn debug_redacts_token() {
        let c = Client::new("http://127.0.0.1:1")
            .unwrap()
            .with_token("secret-token");
        assert!(!format!("{c:?}").contains("secret-token"));
        assert_eq!(c.token(), Some("secret-token"));
    }
}
