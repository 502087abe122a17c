//! Services: the rules. Handlers parse the HTTP request, then call one service function, which
//! checks signatures and state and runs its reads and writes through `crate::db`.
//!
//! # Layout
//! - [`registration`]: `POST /directory/v1/servers`: shape, signatures, proof of the URL, accept.
//! - [`keyfetch`]: fetching and checking a server's key document (the proof).
//! - [`signed_request`]: verifying `X-Hearth` signed requests against the key on record.
//! - [`servers`]: heartbeats, deregistration, expiry and the operator's remove/ban/list.
//! - [`entries`]: appending signed entries to the log and reading pages of it.
//! - [`signer`]: the directory's key (kept by [`crate::keyfile`]).
//!
//! Seen request signatures are a `federation_proto::replay::ReplayMemory` in the state.

pub mod entries;
pub mod keyfetch;
pub mod registration;
pub mod servers;
pub mod signed_request;
pub mod signer;

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    federation_proto::host::ms_to_i64(federation_proto::host::unix_ms(std::time::SystemTime::now()))
}

/// Milliseconds since the unix epoch, unsigned (for signing and key documents).
pub fn now_ms_u64() -> u64 {
    u64::try_from(now_ms()).unwrap_or(0)
}

/// A stored (signed) integer as the unsigned wire integer.
pub fn to_u64(v: i64) -> u64 {
    u64::try_from(v).unwrap_or(0)
}

/// A wire integer as a stored integer (canonical JSON keeps wire integers below 2^53).
pub fn to_i64(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}
