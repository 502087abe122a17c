//! Errors of signing and verification.

use crate::canonical::CanonicalError;

use super::keys::KeyIdError;

/// Why something could not be signed. Signing fails only on input that could never verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigningError {
    /// The value to sign is not a JSON object.
    #[error("only JSON objects can be signed")]
    NotAnObject,
    /// A field the signer needs is missing or has the wrong type.
    #[error("field `{field}` is missing or has the wrong type")]
    BadField {
        /// The field.
        field: &'static str,
    },
    /// The event's sender is not on the server that signs it.
    #[error("sender's server {sender_server:?} is not the origin {origin:?}")]
    OriginMismatch {
        /// The server asked to sign.
        origin: String,
        /// The server part of `from`.
        sender_server: String,
    },
    /// The value has no canonical form (a float, an integer out of range, too deep, too big).
    #[error("not canonical JSON: {0}")]
    Canonical(#[from] CanonicalError),
}

/// Why a header value is not a valid `X-Hearth` authorization.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthHeaderError {
    /// The value is longer than any valid header.
    #[error("authorization header too long")]
    TooLong,
    /// The scheme is not `X-Hearth`.
    #[error("authorization scheme is not X-Hearth")]
    WrongScheme,
    /// The parameter list does not parse.
    #[error("malformed authorization parameters at byte {offset}")]
    Syntax {
        /// Byte offset of the problem.
        offset: usize,
    },
    /// A required parameter is absent.
    #[error("authorization parameter `{0}` is missing")]
    MissingParam(&'static str),
    /// A parameter appears twice.
    #[error("authorization parameter `{0}` appears twice")]
    DuplicateParam(String),
    /// `key` is not a valid key id.
    #[error("bad key id: {0}")]
    BadKeyId(#[from] KeyIdError),
    /// `ts` is not a decimal integer of milliseconds.
    #[error("ts is not an integer number of milliseconds")]
    BadTimestamp,
}

/// Why a signed object, event, envelope, key document or request failed verification.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    /// The input does not have the expected shape; the message says what is wrong.
    #[error("malformed: {0}")]
    Malformed(String),
    /// The input is not acceptable canonical JSON.
    #[error("not canonical JSON: {0}")]
    Canonical(#[from] CanonicalError),
    /// The server did not sign at all (or not with the key asked for).
    #[error("no signature from {server:?}")]
    MissingSignature {
        /// The server whose signature is missing.
        server: String,
    },
    /// The server signed only with keys we do not know.
    #[error("unknown key {key_id:?} of {server:?}")]
    UnknownKey {
        /// The server.
        server: String,
        /// The (first) key id it signed with.
        key_id: String,
    },
    /// The signature does not verify with the key.
    #[error("bad signature by {server:?} with {key_id}")]
    BadSignature {
        /// The server.
        server: String,
        /// The key id.
        key_id: String,
    },
    /// `hashes.sha256` does not match the content.
    #[error("content hash mismatch: claimed {claimed}, computed {computed}")]
    HashMismatch {
        /// The hash the event carries.
        claimed: String,
        /// The hash of its content.
        computed: String,
    },
    /// The sender's server is not the origin that signed.
    #[error("sender's server {sender_server:?} is not the origin {origin:?}")]
    OriginMismatch {
        /// The event's `origin`.
        origin: String,
        /// The server part of its `from`.
        sender_server: String,
    },
    /// An old key signed something dated at or after its expiry.
    #[error("key {key_id} of {server:?} expired at {expired_ts}, but signed at {signed_ts}")]
    ExpiredKey {
        /// The server.
        server: String,
        /// The key id.
        key_id: String,
        /// When the key expired (ms).
        expired_ts: u64,
        /// When the object says it was signed (ms).
        signed_ts: u64,
    },
    /// The object is dated further in the future than clock skew explains.
    #[error("timestamp {ts} is more than {max_skew_ms} ms ahead of now ({now})")]
    FromFuture {
        /// The object's time (ms).
        ts: u64,
        /// Our time (ms).
        now: u64,
        /// The tolerance (ms).
        max_skew_ms: u64,
    },
    /// A request's `ts` is further from now than the allowed skew.
    #[error("request timestamp {ts} is more than {max_skew_ms} ms from now ({now})")]
    SkewTooLarge {
        /// The request's time (ms).
        ts: u64,
        /// Our time (ms).
        now: u64,
        /// The allowed skew (ms).
        max_skew_ms: u64,
    },
    /// A request was addressed to another server.
    #[error("request for {got:?} arrived at {expected:?}")]
    WrongDestination {
        /// Our server name.
        expected: String,
        /// The `destination` it was signed for.
        got: String,
    },
    /// The `Authorization` header does not parse.
    #[error("bad authorization header: {0}")]
    BadAuthHeader(#[from] AuthHeaderError),
    /// A key document's `valid_until_ts` has passed.
    #[error("key document expired at {valid_until_ts} (now {now})")]
    KeyDocumentExpired {
        /// Its `valid_until_ts`.
        valid_until_ts: u64,
        /// Our time (ms).
        now: u64,
    },
    /// A sequenced envelope carries an event addressed to another channel.
    #[error("envelope for {channel:?} carries an event for {event_to:?}")]
    ChannelMismatch {
        /// The envelope's channel.
        channel: String,
        /// The event's `to`.
        event_to: String,
    },
}

impl VerifyError {
    pub(crate) fn malformed(message: impl Into<String>) -> VerifyError {
        VerifyError::Malformed(message.into())
    }
}
