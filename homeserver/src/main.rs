//! `homeserver`: parse the configuration, set up tracing, then serve or run a subcommand.

use std::io::Write as _;

use clap::Parser;
use homeserver::config::{Cli, Command, DbCommand, KeysCommand};
use homeserver::keystore::KeyStore;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of glibc's malloc: allocation was about a fifth of the server's CPU under
/// load, and glibc kept freed argon2 buffers in per-thread arenas (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
        Some(Command::Keys { action }) => keys(&cli.config, action),
        Some(Command::Db { action }) => db(&cli.config, action),
    }
}

fn serve(config: homeserver::config::Config) -> anyhow::Result<()> {
    tracing::debug!(?config, "configuration");
    let listener = homeserver::bind(&config)?;
    let state = homeserver::build_state(config)?;
    actix_web::rt::System::new().block_on(homeserver::run(state, listener))
}

fn keys(config: &homeserver::config::Config, action: KeysCommand) -> anyhow::Result<()> {
    std::fs::create_dir_all(&config.data_dir)?;
    let store = match action {
        KeysCommand::Show => KeyStore::load_or_create(&config.data_dir)?,
        KeysCommand::Rotate => {
            KeyStore::load_or_create(&config.data_dir)?;
            let store = KeyStore::rotate(&config.data_dir, homeserver::services::now_ms_u64())?;
            println!("rotated; restart the server to sign with the new key");
            store
        }
    };
    let key = store.current();
    println!("{} {}", key.key_id(), key.public_key_b64());
    Ok(())
}

fn db(config: &homeserver::config::Config, action: DbCommand) -> anyhow::Result<()> {
    match action {
        DbCommand::MigrateFromSqlite { from } => {
            let from = from.unwrap_or_else(|| config.data_dir.join("hearth.db"));
            let mut current = String::new();
            let mut progress = |table: &str, done: i64, total: i64| {
                let pct = if total > 0 { done * 100 / total } else { 100 };
                let mut err = std::io::stderr().lock();
                if table != current {
                    if !current.is_empty() {
                        let _ = writeln!(err);
                    }
                    current = table.to_string();
                }
                let _ = write!(err, "\r{table} {done}/{total} ({pct}%)");
                let _ = err.flush();
            };
            let copied = homeserver::db::migrate::migrate_from_sqlite(
                &from.to_string_lossy(),
                &config.dburl,
                &mut progress,
            );
            eprintln!();
            let copied = copied?;
            let rows: i64 = copied.iter().map(|(_, n)| n).sum();
            println!(
                "copied {rows} rows of {} tables from {} to Postgres",
                copied.len(),
                from.display()
            );
            Ok(())
        }
    }
}
