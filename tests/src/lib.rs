//! End-to-end test harness: starts the real `homeserver` binary on 127.0.0.1 with an
//! ephemeral port and a temporary data directory, waits for its `listening on` line (no
//! sleeps), and speaks HTTP to it with awc. Children are killed when dropped.
//!
//! # Layout
//! - [`process`]: [`process::Homeserver`]: spawn, ready line, stop, restart on the same data.
//! - [`api`]: a small JSON-over-HTTP client and typed helpers for the client API.
//! - [`postgres`]: a throwaway Postgres cluster (skipped without Postgres, except in CI).
//! - [`network`]: a directory and registered homeservers with short timers; test keys.
//! - [`sse`]: reading the event stream's Server-Sent Events.
//! - [`eventually`]: wait for a condition with a deadline instead of sleeping.
//!
//! The binaries must be built first (`cargo build --workspace --bins`); the README's test
//! command does that.

pub mod api;
pub mod load;
pub mod network;
pub mod postgres;
pub mod process;
pub mod sse;

use std::future::Future;
use std::time::{Duration, Instant};

/// Polls `probe` until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
}
