//! The Hearth directory: lets a new homeserver join the network (DESIGN.md, "Directory").
//!
//! A homeserver registers with a body signed by its key; the directory checks the signature,
//! fetches the key document from the URL it registers (proof of key and URL), and appends an
//! entry to its log, signed by the directory's own key. Every entry is pushed to every
//! registered peer from a durable per-peer cursor, and anyone can pull the log with a cursor.
//! Heartbeats (signed requests) keep a registration up; silence for `SERVER_TTL` marks it gone.
//! `docs/directory.md` is the reference.
//!
//! # Layout
//! - [`config`]: settings from flags, environment and `.env`; the operator subcommands.
//! - [`routes`] → [`services`] → [`db`]: handlers read HTTP input, services hold the rules,
//!   `db` is the only module that names diesel.
//! - [`workers`]: the push worker and the expiry worker.
//! - [`operator`]: `directory servers list|remove|ban`.
//! - [`error`]: `ApiError`, the one mapping of failures to HTTP.
//!
//! [`run`] serves on a listener the caller bound, so tests and embedders choose the port.

pub mod config;
pub mod db;
pub mod error;
pub mod keyfile;
pub mod operator;
pub mod routes;
pub mod services;
pub mod state;
pub mod workers;

use std::io::Write as _;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use actix_web::{web, App, HttpServer};
use anyhow::Context as _;
use federation_proto::ids::ServerName;
use federation_proto::keyring::KeyRing;
use federation_proto::replay::ReplayMemory;
use federation_proto::signing::DEFAULT_MAX_SKEW_MS;
use federation_proto::tls::rustls;

use crate::config::Config;
use crate::db::Db;
use crate::services::signer::Signer;
use crate::state::AppState;
use crate::workers::Workers;

/// Opens the data directory, the database and the signing key, and builds the state. Records
/// the directory's name in the database for the operator commands.
pub fn build_state(config: Config) -> anyhow::Result<AppState> {
    let server_name = server_name(&config)?;
    let tls = config.tls()?;
    let (db, keys) = open_storage(&config)?;
    let previous = db
        .run_blocking(|conn| {
            let previous = db::meta::get(conn, db::meta::SERVER_NAME)?;
            db::meta::set(conn, db::meta::SERVER_NAME, server_name.as_str())?;
            Ok::<_, db::DbError>(previous)
        })
        .context("cannot record the directory's name")?;
    if let Some(previous) = previous.filter(|p| p != server_name.as_str()) {
        tracing::warn!(%previous, now = %server_name, "SERVER_NAME changed: new entries are signed as the new name");
    }
    Ok(AppState {
        signer: Arc::new(Signer::new(server_name.as_str(), keys)),
        server_name,
        db,
        push_wakeup: Arc::default(),
        replay: Mutex::new(ReplayMemory::new(DEFAULT_MAX_SKEW_MS)),
        tls,
        config,
    })
}

/// `SERVER_NAME` (or the hostname), validated.
fn server_name(config: &Config) -> anyhow::Result<ServerName> {
    let name = config.server_name_or_hostname();
    let parsed: ServerName = name
        .parse()
        .context("SERVER_NAME is not a valid server name (a DNS name, optionally with :port)")?;
    Ok(parsed)
}

/// Creates the data directory and opens the database and the signing key.
pub fn open_storage(config: &Config) -> anyhow::Result<(Db, KeyRing)> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let db = Db::open(&config.dburl, &config.data_dir).context("cannot open the database")?;
    let keys = keyfile::load_or_create(&config.data_dir).context("cannot load the signing key")?;
    Ok((db, keys))
}

/// Serves until the process is told to stop (SIGINT/SIGTERM). Prints `listening on
/// http://ADDR:PORT` (`https://` with `TLS_CERT` and `TLS_KEY`) on standard output once the
/// socket accepts connections.
pub async fn run(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    let state = web::Data::new(state);
    let mut workers = Workers::spawn(state.clone().into_inner());
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        App::new()
            .app_data(app_state.clone())
            .wrap(tracing_actix_web::TracingLogger::default())
            .configure(routes::configure)
            .default_service(web::to(routes::errors::not_found))
    });
    let server = match &state.tls.server {
        Some(tls) => server.listen_rustls_0_23(listener, rustls::ServerConfig::clone(tls))?,
        None => server.listen(listener)?,
    }
    .shutdown_timeout(5)
    .run();
    {
        let mut out = std::io::stdout().lock();
        writeln!(out, "listening on {}://{addr}", state.tls.scheme())?;
        out.flush()?;
    }
    tracing::info!(
        %addr,
        server_name = %state.server_name,
        public_key = %state.signer.public_key_b64(),
        public_url = state.config.public_url.as_deref().unwrap_or(""),
        "directory started"
    );
    let result = server.await;
    workers.stop();
    result.context("server failed")
}

/// Binds `BIND:PORT` from the config.
pub fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let addr = federation_proto::host::bind_address(&config.bind, config.port);
    TcpListener::bind(&addr).with_context(|| format!("cannot listen on {addr}"))
}

#[cfg(test)]
mod tests {
    /// ARCHITECTURE.md: the directory stands alone. (`cargo tree -p directory` then shows no
    /// libpq, argon2 or Swagger UI.)
    #[test]
    fn the_directory_does_not_depend_on_the_homeserver() {
        let manifest = include_str!("../Cargo.toml");
        let named = manifest
            .lines()
            .map(str::trim_start)
            .filter(|line| !line.starts_with('#'))
            .any(|line| line.starts_with("homeserver"));
        assert!(!named, "directory/Cargo.toml names the homeserver crate");
    }
}
