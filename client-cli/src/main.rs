//! `hearth`: the Hearth chat client. Scriptable subcommands with `--json`, and an interactive
//! terminal UI when run without a subcommand. See `docs/client.md`.
//!
//! # Layout
//! - [`cli`]: subcommands, profiles, passwords, exit codes.
//! - [`tui`]: the chat UI (state logic in `tui::state`, pure and unit-tested).
//! - [`render`]: events as text, shared by both.

mod cli;
mod render;
mod tui;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    init_logging();
    let cli = cli::args::Cli::parse();
    let json = cli.json;
    match hearth_client::run(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if json {
                eprintln!("{}", e.to_json());
            } else {
                eprintln!("hearth: {e}");
            }
            e.exit()
        }
    }
}

/// Logs to stderr when `HEARTH_LOG` is set (`HEARTH_LOG=debug`, `HEARTH_LOG=hearth_client=trace`);
/// silent otherwise, so scripts and the chat UI see only their own output.
fn init_logging() {
    let Ok(filter) = std::env::var("HEARTH_LOG") else {
        return;
    };
    let filter = tracing_subscriber::EnvFilter::try_new(filter)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
