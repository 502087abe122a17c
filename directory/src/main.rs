//! `directory`: parse the configuration, set up tracing, then serve or run an operator command.

use clap::Parser;
use directory::config::{Cli, Command};
use tracing_subscriber::EnvFilter;

fn main() -> anyhow::Result<()> {
    // A .env file never overrides variables that are already set.
    let _ = dotenvy::dotenv();
    let cli = Cli::parse();
    let default_level = if cli.config.debug { "debug" } else { "info" };
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();

    match cli.command {
        None | Some(Command::Serve) => serve(cli.config),
        Some(Command::Servers { action }) => directory::operator::run(&cli.config, action),
    }
}

fn serve(config: directory::config::Config) -> anyhow::Result<()> {
    tracing::debug!(?config, "configuration");
    let listener = directory::bind(&config)?;
    let state = directory::build_state(config)?;
    actix_web::rt::System::new().block_on(directory::run(state, listener))
}
