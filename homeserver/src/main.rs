//! `homeserver`: parse the configuration, set up tracing, then serve or run a subcommand.

use std::io::Write as _;

use clap::Parser;
use homeserver::config::{Cli, Command, DbCommand, KeysCommand};
use homeserver::keystore::KeyStore;
use tracing_subscriber::EnvFilter;

/// Large allocations (argon2id's 19 MiB per password hash) always come from `mmap` and go back
/// to the system when freed. glibc otherwise raises its mmap threshold after the first such
/// free and then keeps every later one in its per-thread arenas: 0.7–2.7 GB of RSS after a burst
/// of registrations (BENCHMARKS.md). Setting the threshold turns that adjustment off.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[allow(unsafe_code)] // FFI to glibc's mallopt; no memory is touched.
fn return_large_allocations_to_the_system() {
    const THRESHOLD: libc::c_int = 1024 * 1024;
    // SAFETY: mallopt only changes allocator tunables; called before any thread starts.
    let ok = unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, THRESHOLD) };
    if ok != 1 {
        eprintln!("warning: mallopt(M_MMAP_THRESHOLD) failed");
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_allocations_to_the_system() {}

fn main() -> anyhow::Result<()> {
    return_large_allocations_to_the_system();
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
        Some(Command::Media { action }) => {
            homeserver::services::media::admin::run(cli.config, action)
        }
        Some(Command::Admin { action }) => homeserver::admin::run(&cli.config, action),
        Some(Command::Backup(args)) => homeserver::ops::backup::run(&cli.config, args),
        Some(Command::Restore(args)) => homeserver::ops::restore::run(&cli.config, args),
        Some(Command::Doctor(args)) => homeserver::ops::doctor::run(&cli.config, args),
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
