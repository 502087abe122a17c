//! Keys, hashes and ed25519 signatures: of JSON objects, of events, of the channel host's
//! sequenced envelopes and of server-to-server requests.
//!
//! Everything that is signed is signed over canonical JSON ([`crate::canonical`]) and every
//! key, signature and hash is unpadded standard base64. Verification is strict
//! (`verify_strict`: no small-order keys or non-canonical signatures) and says precisely why it
//! failed through [`VerifyError`].
//!
//! | what | sign | verify | covered |
//! |---|---|---|---|
//! | any object | [`sign_json`] | [`verify_json_signature`] | all but `signatures`, `unsigned` |
//! | event | [`hash_and_sign_event`] | [`verify_event`], [`verify_events_batch`] | hash: all but `hashes`, `signatures`, `unsigned`, `seq`; signature: all but `signatures`, `unsigned`, `seq` |
//! | sequenced envelope | [`sign_envelope`] | [`verify_envelope`] | see [`envelope`] |
//! | request | [`sign_request`] | [`verify_request`] | see [`request`] |
//!
//! This module does no I/O and draws no randomness: key pairs come from 32-byte seeds
//! ([`ServerKeyPair::from_seed`]) and the current time is always a parameter (`now_ms`,
//! milliseconds since the Unix epoch).
//!
//! # Layout
//!
//! - `b64.rs`: base64 and sha256 helpers
//! - `keys.rs`: [`KeyId`], [`ServerKeyPair`], [`KeyLookup`]
//! - `json.rs`: signatures on arbitrary objects
//! - `event.rs`: event hashes and origin signatures
//! - `envelope.rs`: the host's counter-signature on sequenced channel events
//! - `request.rs`: the `X-Hearth` authorization header
//! - `time.rs`: a strict RFC 3339 parser for events' `ts` (stricter than [`crate::time`]:
//!   it checks days per month and accepts numeric offsets, as verification must)
//! - `error.rs`: [`SigningError`], [`VerifyError`], [`AuthHeaderError`]

mod b64;
pub mod envelope;
mod error;
mod event;
mod json;
mod keys;
pub mod request;

pub use b64::{b64_decode, b64_encode, content_hash_b64, sha256};
pub use envelope::{sign_envelope, sign_envelope_with_state, verify_envelope, VerifiedEnvelope};
pub use error::{AuthHeaderError, SigningError, VerifyError};
pub use event::{
    event_content_hash, hash_and_sign_event, verify_event, verify_events_batch, VerifiedEvent,
    MAX_EVENT_FUTURE_MS,
};
pub use json::{sign_json, verify_json_signature};
pub use keys::{
    signature_from_b64, verifying_key_from_b64, KeyDecodeError, KeyId, KeyIdError, KeyLookup,
    KnownKey, ServerKeyPair, ED25519_PREFIX,
};
pub use request::{
    request_signing_json, sign_request, verify_request, RequestAuth, AUTH_SCHEME,
    DEFAULT_MAX_SKEW_MS, MAX_AUTH_HEADER_LEN,
};

/// Re-exported so that callers need not depend on ed25519-dalek for the key type.
pub use ed25519_dalek::VerifyingKey;
