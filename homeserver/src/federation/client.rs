//! Outbound federation HTTP on awc: plain JSON, or signed with the `X-Hearth` scheme
//! (DESIGN.md, "Events and requests on the wire").

use std::sync::Arc;
use std::time::Duration;

use awc::http::Method;
use federation_proto::canonical::parse_strict;
use federation_proto::signing::sign_request;
use serde_json::Value;

use crate::keystore::KeyStore;
use crate::services::now_ms_u64;
use crate::state::AppState;

/// Timeout of one federation request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest answer body read.
const MAX_ANSWER_BYTES: usize = 8 * 1024 * 1024;

/// Why an outbound request failed.
#[derive(Debug, thiserror::Error)]
pub enum FedError {
    /// No answer (connection refused, timeout, …).
    #[error("request to {url} failed: {message}")]
    Unreachable {
        /// Where.
        url: String,
        /// Why.
        message: String,
    },
    /// An answer with a non-success status.
    #[error("{url} answered {status}: {body}")]
    Status {
        /// Where.
        url: String,
        /// HTTP status.
        status: u16,
        /// The answer body (truncated).
        body: String,
    },
    /// An answer that is not acceptable JSON.
    #[error("{url} answered invalid JSON: {message}")]
    Json {
        /// Where.
        url: String,
        /// Why.
        message: String,
    },
    /// The request could not be signed.
    #[error("cannot sign the request: {0}")]
    Signing(String),
}

impl FedError {
    /// The error code of a non-success answer (`{"error":{"code"}}`), if any.
    pub fn code(&self) -> Option<String> {
        match self {
            FedError::Status { body, .. } => serde_json::from_str::<Value>(body)
                .ok()
                .and_then(|v| v["error"]["code"].as_str().map(str::to_string)),
            _ => None,
        }
    }
}

/// A client that signs as this server.
#[derive(Clone)]
pub struct FedClient {
    http: awc::Client,
    origin: String,
    keys: Arc<KeyStore>,
    federation_key: Option<String>,
}

impl FedClient {
    /// A client that signs as this server, for the current thread (awc clients are not
    /// `Send`). HTTPS trusts the public roots plus `EXTRA_CA_FILE` (`state.tls.client`): a
    /// certificate that does not verify fails the request.
    pub fn new(state: &AppState) -> FedClient {
        let connector = awc::Connector::new().rustls_0_23(Arc::clone(&state.tls.client));
        let http = awc::Client::builder()
            .connector(connector)
            .timeout(REQUEST_TIMEOUT)
            .disable_redirects()
            .finish();
        FedClient {
            http,
            origin: state.server_name.to_string(),
            keys: Arc::clone(&state.keys),
            federation_key: None,
        }
    }

    /// Adds the `FEDERATION_KEY` proof to signed requests.
    pub fn with_federation_key(mut self, key: Option<String>) -> FedClient {
        self.federation_key = key.filter(|k| !k.is_empty());
        self
    }

    /// `GET url` without a signature; the answer parsed as strict JSON.
    pub async fn get_json(&self, url: &str) -> Result<Value, FedError> {
        self.send(Method::GET, url, None, None, None).await
    }

    /// `POST url` with a JSON body, without a request signature (the body may be signed).
    pub async fn post_json(&self, url: &str, body: &Value) -> Result<Value, FedError> {
        self.send(Method::POST, url, Some(body), None, None).await
    }

    /// A request signed for `destination`: `base_url` + `path_and_query`.
    pub async fn signed(
        &self,
        method: Method,
        base_url: &str,
        path_and_query: &str,
        destination: &str,
        body: Option<&Value>,
    ) -> Result<Value, FedError> {
        let bytes = match body {
            Some(body) => serde_json::to_vec(body).map_err(|e| FedError::Signing(e.to_string()))?,
            None => Vec::new(),
        };
        let auth = sign_request(
            method.as_str(),
            path_and_query,
            &self.origin,
            destination,
            now_ms_u64(),
            &bytes,
            self.keys.current(),
        )
        .map_err(|e| FedError::Signing(e.to_string()))?;
        let url = format!("{}{}", base_url.trim_end_matches('/'), path_and_query);
        let proof = self
            .federation_key
            .as_deref()
            .map(|key| super::inbound::federation_proof(key, &auth.sig));
        self.send(method, &url, body, Some(auth.to_header()), proof)
            .await
    }

    /// A signed `GET` of `base_url` + `path` whose answer is read by the caller as a byte
    /// stream (media): the response once its status is a success.
    pub async fn signed_get_stream(
        &self,
        base_url: &str,
        path: &str,
        destination: &str,
    ) -> Result<awc::ClientResponse, FedError> {
        let auth = sign_request(
            "GET",
            path,
            &self.origin,
            destination,
            now_ms_u64(),
            &[],
            self.keys.current(),
        )
        .map_err(|e| FedError::Signing(e.to_string()))?;
        let url = format!("{}{}", base_url.trim_end_matches('/'), path);
        let mut req = self
            .http
            .get(&url)
            .insert_header(("Authorization", auth.to_header()));
        if let Some(key) = self.federation_key.as_deref() {
            req = req.insert_header((
                super::inbound::PROOF_HEADER,
                super::inbound::federation_proof(key, &auth.sig),
            ));
        }
        let mut res = req.send().await.map_err(|e| FedError::Unreachable {
            url: url.clone(),
            message: e.to_string(),
        })?;
        if !res.status().is_success() {
            let bytes = res.body().limit(4096).await.unwrap_or_default();
            return Err(FedError::Status {
                url,
                status: res.status().as_u16(),
                body: String::from_utf8_lossy(&bytes).into_owned(),
            });
        }
        Ok(res)
    }

    async fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&Value>,
        authorization: Option<String>,
        proof: Option<String>,
    ) -> Result<Value, FedError> {
        let unreachable = |e: &dyn std::fmt::Display| FedError::Unreachable {
            url: url.to_string(),
            message: e.to_string(),
        };
        let mut req = self.http.request(method, url);
        if let Some(auth) = authorization {
            req = req.insert_header(("Authorization", auth));
        }
        if let Some(proof) = proof {
            req = req.insert_header((super::inbound::PROOF_HEADER, proof));
        }
        let mut res = match body {
            Some(body) => {
                let bytes = serde_json::to_vec(body).map_err(|e| unreachable(&e))?;
                req.insert_header(("Content-Type", "application/json"))
                    .send_body(bytes)
                    .await
            }
            None => req.send().await,
        }
        .map_err(|e| unreachable(&e))?;
        let bytes = res
            .body()
            .limit(MAX_ANSWER_BYTES)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = res.status();
        if !status.is_success() {
            let body = String::from_utf8_lossy(&bytes[..bytes.len().min(1000)]).into_owned();
            return Err(FedError::Status {
                url: url.to_string(),
                status: status.as_u16(),
                body,
            });
        }
        let trimmed = bytes.trim_ascii();
        parse_strict(trimmed).map_err(|e| FedError::Json {
            url: url.to_string(),
            message: e.to_string(),
        })
    }
}
