//! End-to-end tests of the `directory` binary: the real process on 127.0.0.1:0, fake
//! homeservers in-process. The pieces are in `hearth_tests::directory` (the workspace's one
//! end-to-end harness, `tests/src`).

// A test crate: panicking on an unexpected answer is its job.
#![allow(clippy::unwrap_used)]

mod liveness;
mod operator;
mod push;
mod registration;
