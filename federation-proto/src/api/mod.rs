//! Request and response bodies of Hearth's HTTP APIs, and the paths they live at.
//!
//! The homeserver routes from these constants and the client SDK builds its requests from them,
//! so each path is written once.

pub mod client;
pub mod community;
pub mod directory;
pub mod error;
pub mod federation;
pub mod wire;

pub use error::{ErrorBody, ErrorDetail};
