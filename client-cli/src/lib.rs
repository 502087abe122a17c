//! The Hearth client SDK: typed calls for every client API endpoint, a sync stream that never
//! loses or repeats an event, and sends that are safe to retry. The `hearth` command is built on
//! it, and so are bots.
//!
//! # Runtime: current-thread
//!
//! The SDK uses awc, whose futures are not `Send`. Run it on a current-thread runtime: [`run`]
//! starts one (an actix system) for you, `#[actix_web::main]` does the same, and inside one use
//! [`spawn`] (not `tokio::spawn`) for background tasks. A [`Client`] is cheap to clone; clones
//! share one connection pool.
//!
//! # Quick start
//!
//! ```no_run
//! use hearth_client::{Client, EventKind};
//!
//! fn main() -> Result<(), hearth_client::ClientError> {
//!     hearth_client::run(async {
//!         let mut client = Client::new("http://127.0.0.1:8080")?;
//!         client.login_or_register("echobot", "a long password", Some("bot")).await?;
//!         let me = client.me().await?;
//!         client.join("#bots", None).await?;
//!         let mut stream = client.sync();
//!         loop {
//!             let event = stream.next().await?;
//!             if event.kind == EventKind::Message && event.from != me.handle {
//!                 client.reply(&event, &me.handle, &format!("echo: {}", event.body)).await?;
//!             }
//!         }
//!     })
//! }
//! ```
//!
//! # Layout
//! - [`client`]: [`Client`], its settings and the request machinery.
//! - [`api`]: the typed calls, one module per area (account, channels, messages, read, server).
//! - [`sync`]: [`SyncStream`], long-poll with resume, deduplication and reconnects.
//! - [`bot`]: a small frame for bots (config from the environment, addressed messages, notices).
//! - [`backoff`]: exponential backoff with jitter, shared by sync and sends.
//! - [`error`]: [`ClientError`] and its [`ErrorKind`] classes.
//! - [`path`]: percent-encoded path segments for channel and user endpoints.

pub mod api;
pub mod backoff;
pub mod bot;
pub mod client;
pub mod error;
pub mod path;
pub mod sync;

pub use api::channels::mode_change;
pub use api::messages::{message, reply_target};
pub use backoff::{Backoff, BackoffPolicy};
pub use client::{Client, ClientConfig};
pub use error::{ClientError, ErrorKind};
pub use sync::{ConnectionState, SyncStream};

/// The wire types, re-exported so bots need no direct `federation-proto` dependency.
pub use federation_proto::api::client as types;
pub use federation_proto::event::{Event, EventKind};

/// Spawns a task on the current-thread runtime (the SDK's futures are not `Send`).
pub use actix_web::rt::spawn;

/// Runs `future` to completion on a fresh current-thread runtime (an actix system), the kind
/// the SDK needs. Call it once, from `main`.
pub fn run<F: std::future::Future>(future: F) -> F::Output {
    actix_web::rt::System::new().block_on(future)
}
