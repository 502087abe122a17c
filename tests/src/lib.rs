//! End-to-end test harness, the one place where tests spawn processes and speak HTTP: starts
//! the real `homeserver` and `directory` binaries on 127.0.0.1 with an ephemeral port and a
//! temporary data directory, waits for their `listening on` line (no sleeps), and speaks HTTP
//! to them with awc. Children are killed when dropped. Besides `tests/tests`, the directory's
//! and the client's end-to-end tests use it as a dev-dependency.
//!
//! # Layout
//! - [`process`]: [`process::Homeserver`]: spawn, ready line, stop, restart on the same data,
//!   subcommands on its data (also while the test goes on, and on a prepared process before
//!   it starts: `homeserver restore`); reading a child's lines with a deadline.
//! - [`directory`]: the directory alone, with in-process homeserver stand-ins and signed
//!   requests (the directory crate's tests).
//! - [`cli`]: running the `hearth` command (the client crate's tests).
//! - [`api`]: a small JSON-over-HTTP client and typed helpers for the client API.
//! - [`media`]: uploads and downloads with headers, test files made on the spot (images,
//!   EICAR, a PNG header claiming a huge image), a real clamd and moto's S3 server (each
//!   skipped when not installed, except under `CI=true`).
//! - [`postgres`]: a throwaway Postgres cluster (skipped without Postgres, except in CI).
//! - [`network`]: a directory and registered homeservers with short timers; test keys.
//! - [`sse`]: reading the event stream's Server-Sent Events.
//! - [`tls`]: test CAs and server certificates (rcgen) for the HTTPS tests; the CA the
//!   harness's clients trust.
//! - [`irc`]: a raw IRC line client for the IRC gateway (pings answered or not).
//! - [`ws`]: a WebSocket client for `GET /api/v1/ws` (JSON frames, pings answered).
//! - [`eventually`]: wait for a condition with a deadline instead of sleeping; [`unique`] names.
//!
//! The binaries must be built first (`cargo build --workspace --bins`); the README's test
//! command does that.

pub mod api;
pub mod cli;
pub mod directory;
pub mod irc;
pub mod load;
pub mod media;
pub mod network;
pub mod postgres;
pub mod process;
pub mod sse;
pub mod tls;
pub mod ws;

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

/// A unique suffix so names do not collide between tests sharing nothing but the clock.
pub fn unique(prefix: &str) -> String {
    format!(
        "{prefix}{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}
