//! Typed calls for every client API endpoint, as methods on [`crate::Client`].
//!
//! Each module covers one area; each method's doc names its `METHOD /path`.
//!
//! - [`account`]: register, login, logout, profiles (and their updates), user search, nick
//!   changes.
//! - [`channels`]: join, part, lists, info, topic, modes, invite, kick.
//! - [`community`]: bans, mutes, notifications, invite links, blocks, reports.
//! - [`media`]: upload a file, download a media (both streamed).
//! - [`messages`]: send (with safe retries), history, one sync poll.
//! - [`read`]: read markers, receipts, conversations with unread counts, typing.
//! - [`search`]: full-text search of messages.
//! - [`server`]: server information and health.
//! - [`settings`]: channel descriptions, pins, deleting a channel.

pub mod account;
pub mod channels;
pub mod community;
pub mod media;
pub mod messages;
pub mod read;
pub mod search;
pub mod server;
pub mod settings;
