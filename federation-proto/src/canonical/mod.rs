//! Canonical JSON: the exact bytes that Hearth hashes and signs.
//!
//! The form is RFC 8785 (JSON Canonicalization Scheme) restricted to integers within
//! ±(2^53−1), as DESIGN.md ("Keys on the wire") fixes it:
//!
//! - object members sorted by their keys' UTF-16 code units (RFC 8785 §3.2.3);
//! - no insignificant white space;
//! - strings with the minimal escapes of `JSON.stringify`: `\"`, `\\`, `\b`, `\f`, `\n`, `\r`,
//!   `\t`, other C0 controls as `\u00xx` (lowercase hex); every other character as itself in
//!   UTF-8;
//! - numbers only as integers in `[-(2^53−1), 2^53−1]`, written in plain decimal.
//!
//! Two halves, with the same domain:
//!
//! - [`parse_strict`] reads bytes received from the network. Beyond ordinary JSON syntax it
//!   rejects invalid UTF-8, any fraction or exponent, `-0`, integers out of range, duplicate
//!   object keys, nesting deeper than [`MAX_DEPTH`] and input larger than [`MAX_CANONICAL_SIZE`].
//!   Use it instead of `serde_json::from_slice` for anything whose signature you will check:
//!   serde_json silently keeps the last of two duplicate keys, which lets two readers disagree
//!   about what was signed.
//! - [`to_canonical_string`] / [`to_canonical_bytes`] encode a [`serde_json::Value`]. They
//!   enforce the same limits, so anything this crate can sign, every receiver can parse.
//!
//! The encoder is our own: with integers only there are no number-formatting corner cases,
//! and owning it lets the restrictions live in one place.
//!
//! # Layout
//!
//! - `error.rs`: [`CanonicalError`] and [`Location`]
//! - `parse.rs`: the strict parser
//! - `encode.rs`: the encoder

mod encode;
mod error;
mod parse;

pub(crate) use encode::canonical_object_without;
pub use encode::{to_canonical_bytes, to_canonical_string};
pub use error::{CanonicalError, Location};
pub use parse::{parse_strict, parse_strict_with, Limits};

/// The largest integer magnitude canonical JSON allows: 2^53 − 1 (`Number.MAX_SAFE_INTEGER`).
pub const MAX_SAFE_INTEGER: i64 = (1 << 53) - 1;

/// The deepest nesting of arrays and objects accepted (a top-level `{}` has depth 1).
pub const MAX_DEPTH: usize = 64;

/// The largest input [`parse_strict`] accepts, and the largest output the encoder produces,
/// in bytes (1 MiB).
pub const MAX_CANONICAL_SIZE: usize = 1024 * 1024;
