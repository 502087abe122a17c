//! End-to-end tests of the `directory` binary: the real process on 127.0.0.1:0, fake
//! homeservers in-process. See `harness` for the pieces.

// A test crate: panicking on an unexpected answer is its job.
#![allow(clippy::unwrap_used)]

mod harness;
mod liveness;
mod operator;
mod push;
mod registration;
