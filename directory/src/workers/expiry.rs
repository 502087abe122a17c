//! Marks gone the servers whose heartbeats stopped.

use std::sync::Arc;

use tokio::time::MissedTickBehavior;

use crate::services::servers;
use crate::state::AppState;

/// Every `EXPIRY_CHECK_SECS`, marks gone (with a `gone` entry each) the servers that are up
/// but sent no heartbeat or registration for `SERVER_TTL` seconds.
pub async fn expire_servers(state: Arc<AppState>) {
    let mut ticks = tokio::time::interval(state.config.expiry_period());
    ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        match servers::expire_silent(&state).await {
            Ok(expired) if !expired.is_empty() => {
                tracing::info!(servers = ?expired, "registrations expired");
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "expiry check failed"),
        }
    }
}
