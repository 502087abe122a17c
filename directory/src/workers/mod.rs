//! Background workers, spawned by [`crate::run`] on the server's arbiter and aborted when it
//! stops.
//!
//! # Layout
//! - [`push`]: delivers entries to every peer from the durable per-peer cursors.
//! - [`expiry`]: marks gone the servers whose heartbeats stopped.

pub mod expiry;
pub mod push;

use std::sync::Arc;

use actix_web::rt::task::JoinHandle;

use crate::state::AppState;

/// The running workers; [`Workers::stop`] (or dropping them) aborts them.
pub struct Workers {
    tasks: Vec<JoinHandle<()>>,
}

impl Workers {
    /// Starts every worker on the current arbiter.
    pub fn spawn(state: Arc<AppState>) -> Workers {
        Workers {
            tasks: vec![
                actix_web::rt::spawn(push::push_entries(Arc::clone(&state))),
                actix_web::rt::spawn(expiry::expire_servers(state)),
            ],
        }
    }

    /// Aborts every worker.
    pub fn stop(&mut self) {
        for task in self.tasks.drain(..) {
            task.abort();
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        self.stop();
    }
}
