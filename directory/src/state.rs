//! `AppState`: everything a request and a worker needs, built once by [`crate::build_state`]
//! and shared through `web::Data`. No globals: two directories can run in one process.

use std::sync::{Arc, Mutex};

use federation_proto::ids::ServerName;
use federation_proto::replay::ReplayMemory;
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
}

impl AppState {
    /// Tells the push worker to look for work now.
    pub fn wake_pusher(&self) {
        self.push_wakeup.notify_one();
    }
}
