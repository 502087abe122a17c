//! Services: the rules. Handlers parse and authenticate, then call one service function, which
//! checks permissions and runs its reads and writes through `crate::db`.
//!
//! # Layout
//! - [`accounts`]: register, login, logout, tokens, nick changes, profiles.
//! - [`passwords`]: argon2id hashing in bounded concurrency; the stand-in hash for unknown nicks.
//! - [`channels`]: channels hosted here: join, part, topic, modes, invite, kick, info, lists;
//!   `channels::act` performs each action for any actor, local or remote.
//! - [`modes`]: parsing and applying mode strings (pure).
//! - [`policy`]: the channel rules, for users of this server and of others alike (pure).
//! - [`members`]: the facts the rules read (members of every server, their standing).
//! - [`typing`]: typing notifications, published as ephemeral events to a conversation's
//!   members here (the servers to tell are the caller's to reach).
//! - [`read`]: read markers, receipts, the conversation list with unread and mention counts.
//! - [`profiles`]: display name, avatar, presence status; `presence` events; user search.
//! - [`fanout`]: host-signed envelopes of hosted channels' events, queued for member servers.
//! - [`media`]: uploads, downloads, thumbnails, attachments, malware scanning, retention.
//! - [`messages`]: sending (channels and DMs) and history.
//! - [`rich`]: edits, deletes, reactions and threads (channels hosted here and DMs); their
//!   effects are applied by `events::append_event`.
//! - [`sync`]: the per-device event stream and its long-poll.
//! - [`stream`]: the same stream for one long response (Server-Sent Events).
//! - [`ephemeral`]: typing, presence and receipts: delivered to polls and streams, never stored.
//! - [`sessions`]: the short-lived cache of resolved bearer tokens.
//! - [`events`]: appending an event (published to long-polls after its commit); event views.

pub mod accounts;
pub mod blocks;
pub mod channels;
pub mod ephemeral;
pub mod events;
pub mod fanout;
pub mod landing;
pub mod media;
pub mod members;
pub mod messages;
pub mod modes;
pub mod notifications;
pub mod passwords;
pub mod policy;
pub mod presence;
pub mod profiles;
pub mod read;
pub mod reports;
pub mod rich;
pub mod search;
pub mod sessions;
pub mod stream;
pub mod sync;
pub mod typing;

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    federation_proto::host::ms_to_i64(federation_proto::host::unix_ms(std::time::SystemTime::now()))
}

/// Milliseconds since the unix epoch, unsigned (for signing and key documents).
pub fn now_ms_u64() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}
