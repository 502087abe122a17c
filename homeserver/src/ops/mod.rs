//! Operating a homeserver (issue 22, `docs/operations.md`): `homeserver backup DIR`,
//! `homeserver restore DIR` and `homeserver doctor`. Each takes the server's configuration, like
//! `homeserver admin`. What they ask of the database is in `db::ops`; Postgres's own tools
//! (`pg_dump`, `pg_restore`) are run by [`pg`].
//!
//! # Layout
//! - [`manifest`]: the backup's `manifest.json`, checksums, the files a backup holds.
//! - [`backup`]: a consistent copy of a running server.
//! - [`restore`]: checks a backup, then brings it back into an empty data directory or database.
//! - [`doctor`]: checks a deployment and says what is wrong in plain words.
//! - [`pg`]: running `pg_dump` and `pg_restore` without the password on their command line.
//! - [`progress`]: progress lines on standard error when it is a terminal.

pub mod backup;
pub mod doctor;
pub mod manifest;
pub mod pg;
pub mod progress;
pub mod restore;

use clap::Args;
use std::path::PathBuf;

/// `homeserver backup DIR`
#[derive(Debug, Args)]
pub struct BackupArgs {
    /// Where to write the backup: a new or empty directory (created owner-only).
    pub dir: PathBuf,
    /// Print the manifest and a summary as JSON on standard output (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// `homeserver restore DIR`
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A directory written by `homeserver backup`.
    pub dir: PathBuf,
    /// Print a summary as JSON on standard output (for scripts).
    #[arg(long)]
    pub json: bool,
}

/// `homeserver doctor`
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// Print the findings as JSON on standard output (for scripts and monitoring).
    #[arg(long)]
    pub json: bool,
    /// Seconds to wait for each network check (PUBLIC_URL, the directory).
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: u64,
}
