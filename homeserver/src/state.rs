//! `AppState`: everything a request needs, built once in `run()` and shared through
//! `web::Data`. No globals: two servers can run in one process.

use std::sync::Arc;

use federation_proto::ids::ServerName;
use federation_proto::tls::TlsSettings;

use crate::config::Config;
use crate::cursors::Cursors;
use crate::db::Db;
use crate::federation::Federation;
use crate::keystore::KeyStore;
use crate::limits::Limits;
use crate::metrics::Metrics;
use crate::notifier::Notifier;
use crate::services::passwords::Hashing;
use crate::services::sessions::SessionCache;

/// Shared server state.
pub struct AppState {
    /// Validated settings.
    pub config: Config,
    /// This server's name.
    pub server_name: ServerName,
    /// The database.
    pub db: Db,
    /// Wake-ups for waiting long-polls, and recent events to answer them from memory.
    pub notifier: Arc<Notifier>,
    /// Sync acknowledgements not yet written.
    pub cursors: Arc<Cursors>,
    /// Recently resolved bearer tokens.
    pub sessions: Arc<SessionCache>,
    /// Counters for `/metrics`.
    pub metrics: Arc<Metrics>,
    /// The server's signing keys.
    pub keys: Arc<KeyStore>,
    /// Directory link and peers.
    pub federation: Federation,
    /// TLS settings (`TLS_CERT`, `TLS_KEY`, `EXTRA_CA_FILE`), read once at start.
    pub tls: TlsSettings,
    /// Rate limits (sends, logins, federation peers).
    pub limits: Arc<Limits>,
    /// Password hashing, bounded to one hash per core.
    pub hashing: Arc<Hashing>,
    /// Media: the blob store and the thumbnailers' permits.
    pub media: Arc<crate::services::media::Media>,
}

impl AppState {
    /// Session timeout in milliseconds.
    pub fn session_timeout_ms(&self) -> i64 {
        i64::try_from(self.config.session_timeout.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}
