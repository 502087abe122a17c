//! Hearth's shared language: identifiers, the event type, canonical JSON, hashing and ed25519
//! signing of events and server-to-server requests, and the request/response types of the client,
//! federation and directory APIs.
//!
//! This crate does no I/O: no sockets, no files, no database, no clock (callers pass `now`).
//!
//! # Layout
//! - [`ids`]: validated identifiers (`ServerName`, `Nick`, `UserHandle`, `ChannelName`, `Target`).
//! - [`event`]: the event as clients see it ([`event::Event`]) and its kinds.
//! - [`api`]: request and response bodies of the HTTP APIs, with their paths.
//! - [`time`]: RFC 3339 timestamps with milliseconds, to and from unix milliseconds.
//! - [`keyring`]: a server's signing keys and the text of its key file (the file itself is the
//!   binaries' business).
//! - [`replay`]: the memory of accepted request signatures; [`backoff`]: retry delays;
//!   [`host`]: server name fallback, bind address, unix milliseconds of a `SystemTime`.
//! - `tls` (feature `tls`): rustls client and server settings from PEM bytes, on the ring
//!   provider, shared by every binary.
#![warn(missing_docs)]

pub mod api;
pub mod backoff;
pub mod canonical;
pub mod event;
pub mod host;
pub mod ids;
pub mod keydoc;
pub mod keyring;
pub mod media;
pub mod mention;
pub mod replay;
pub mod signing;
pub mod time;
#[cfg(feature = "tls")]
pub mod tls;
