//! Transports: how the items a device receives are framed on each kind of connection.
//!
//! The services hand out [`Batch`](crate::services::sync::Batch)es — log events (each with its
//! `seq`) and ephemeral events (typing, presence, receipts; `seq` 0) — and know nothing about
//! bytes on a wire. Each transport frames the same items its own way:
//!
//! - [`long_poll`]: a sync answer, `{"events":[…],"next":N}`, and the white space a waiting
//!   poll writes to keep the connection open.
//! - [`sse`]: Server-Sent Events, `id: <seq>` + `data: <event>` per log event, `data:` alone
//!   for an ephemeral event, `:` comments as keep-alives.
//!
//! - [`ws`] and [`ws_wire`]: the WebSocket's JSON frames and RFC 6455 framing.
//! - [`irc`]: the IRC gateway's bounded lines (tags, parameters, escaping).

pub mod irc;
pub mod long_poll;
pub mod sse;
pub mod ws;
pub mod ws_wire;
