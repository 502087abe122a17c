//! `AppState`: everything a request and a worker needs, built once by [`crate::build_state`]
//! and shared through `web::Data`. No globals: two directories can run in one process.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use federation_proto::ids::ServerName;
use federation_proto::replay::ReplayMemory;
use federation_proto::tls::TlsSettings;
use tokio::sync::Notify;

use crate::config::Config;
use crate::db::Db;
use crate::services::signer::Signer;

/// Shared state.
pub struct AppState {
    /// Validated settings.
    pub config: Config,
    /// This directory's name: the `destination` of signed requests to it.
    pub server_name: ServerName,
    /// The database.
    pub db: Db,
    /// The directory's signing key and the name it signs as.
    pub signer: Arc<Signer>,
    /// Wakes the push worker when an entry was appended or a peer's backoff was reset.
    pub push_wakeup: Arc<Notify>,
    /// Signatures of accepted signed requests, for replay detection.
    pub replay: Mutex<ReplayMemory>,
    /// TLS settings (`TLS_CERT`, `TLS_KEY`, `EXTRA_CA_FILE`), read once at start.
    pub tls: TlsSettings,
}

impl AppState {
    /// An HTTP client (no redirects, `timeout` per request) whose HTTPS trusts the public
    /// roots plus `EXTRA_CA_FILE`: a certificate that does not verify fails the request.
    pub fn http_client(&self, timeout: Duration) -> awc::Client {
        let connector = awc::Connector::new().rustls_0_23(Arc::clone(&self.tls.client));
        awc::Client::builder()
            .connector(connector)
            .timeout(timeout)
            .disable_redirects()
            .finish()
    }

    /// Tells the push worker to look for work now.
    pub fn wake_pusher(&self) {
        self.push_wakeup.notify_one();
    }
}
