//! One module per area of subcommands; each function runs one subcommand.

pub mod account;
pub mod channels;
pub mod community;
pub mod media;
pub mod messages;
pub mod read;
pub mod search;
pub mod settings;
pub mod tail;
