//! The Hearth homeserver: client API, durable long-poll sync, channels with IRC semantics,
//! direct messages; federation comes on top of the same event log.
//!
//! # Layout
//! - [`config`]: settings from flags, environment and `.env`.
//! - [`routes`] → [`services`] → [`db`]: handlers parse and authenticate, services hold the
//!   rules, `db` is the only module that names diesel.
//! - [`transport`]: how sync answers and event streams are framed on the wire.
//! - [`notifier`]: in-memory wake-ups of waiting long-polls and streams, fed by the writer's
//!   commit journal (its first consumer) and by ephemeral events.
//! - [`remote_appends`]: on Postgres, other processes' events read once and published to the
//!   notifier.
//! - [`cursors`]: sync acknowledgements, written in groups.
//! - [`keystore`]: the server's ed25519 signing keys in the data directory.
//! - [`limits`]: rate limits on sends, logins and federation peers.
//! - [`workers`]: background tasks with an explicit lifecycle (idle-session reaper).
//! - [`error`]: `ApiError`, the one mapping of failures to HTTP.
//! - [`irc`]: the IRC gateway (`IRC_PORT`), a second listener over the same services.
//!
//! [`run`] serves on a listener the caller bound, so tests and embedders choose the port.

pub mod admin;
pub mod chat;
pub mod config;
pub mod cursors;
pub mod db;
pub mod error;
pub mod federation;
pub mod irc;
pub mod keystore;
pub mod limits;
pub mod memory;
pub mod metrics;
pub mod notifier;
pub mod ops;
pub mod remote_appends;
pub mod routes;
pub mod services;
pub mod state;
pub mod transport;
pub mod workers;

use std::io::Write as _;
use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::ServiceRequest;
use actix_web::{middleware, web, App, HttpServer};
use anyhow::Context as _;
use federation_proto::tls::{rustls, TlsSettings};
use tracing::Instrument as _;

use crate::config::Config;
use crate::db::Db;
use crate::keystore::KeyStore;
use crate::notifier::{Delivered, Notifier, Publication};
use crate::state::AppState;

/// Extra room a request body gets beyond the message itself (JSON escaping, meta, fields).
const BODY_OVERHEAD: usize = 64 * 1024;

/// The largest request body (and WebSocket frame) in bytes: a body may be escaped JSON, up to
/// 6 bytes per byte of message (`\u00xx`), plus room for the other fields.
pub fn body_limit(config: &config::Config) -> usize {
    usize::try_from(config.max_message_size)
        .unwrap_or(usize::MAX)
        .saturating_mul(6)
        .saturating_add(BODY_OVERHEAD)
}

/// Opens the data directory, the database and the signing key, and builds the state.
pub fn build_state(config: Config) -> anyhow::Result<AppState> {
    let server_name = config
        .server_name_or_hostname()
        .parse()
        .context("SERVER_NAME is not a valid server name (a DNS name, optionally with :port)")?;
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let db = Db::open(&config.dburl, &config.data_dir).context("cannot open the database")?;
    let keys = KeyStore::load_or_create(&config.data_dir).context("cannot load the signing key")?;
    let directory_key = match (&config.directory_url, &config.directory_key) {
        (_, Some(key)) if !key.is_empty() => Some(
            federation_proto::signing::verifying_key_from_b64(key)
                .map_err(|e| anyhow::anyhow!("DIRECTORY_KEY is not an ed25519 public key: {e}"))?,
        ),
        (Some(url), _) if !url.is_empty() => {
            anyhow::bail!("DIRECTORY_URL needs DIRECTORY_KEY, the directory's public key")
        }
        _ => None,
    };
    config.manual_peers().map_err(anyhow::Error::msg)?;
    let tls = TlsSettings::load(
        config.tls_cert(),
        config.tls_key(),
        config.extra_ca_file(),
        |path| std::fs::read(path),
    )?;
    let notifier = start_notifier(&db)?;
    let limits = Arc::new(limits::Limits::new(&config));
    let hashing = services::passwords::Hashing::new()
        .map_err(|e| anyhow::anyhow!("cannot set up password hashing: {e}"))?;
    let media = services::media::Media::new(&config).with_context(|| {
        format!(
            "cannot open the media store in {}",
            config.data_dir.join("media").display()
        )
    })?;
    Ok(AppState {
        config,
        server_name,
        db,
        notifier,
        cursors: Arc::default(),
        sessions: Arc::default(),
        metrics: Arc::default(),
        keys: Arc::new(keys),
        federation: federation::Federation {
            directory_key,
            ..Default::default()
        },
        tls,
        limits,
        hashing: Arc::new(hashing),
        media: Arc::new(media),
    })
}

/// The long-poll notifier, fed by the writer's commit journal: it keeps recent events in memory
/// (on Postgres across this process's own consecutive turns, see [`notifier`]).
fn start_notifier(db: &Db) -> anyhow::Result<Arc<Notifier>> {
    let mut conn = db.conn().context("cannot open the database")?;
    // What a poll reads is durable (Postgres: up to the flushers' horizon).
    let stored = db::events::max_seq(&mut conn)
        .context("cannot read the event log")?
        .min(db.durable());
    drop(conn);
    let notifier = Arc::new(Notifier::new(stored, true));
    let hook_notifier = Arc::clone(&notifier);
    // The first consumer of commits, inline on the writer thread: receivers are woken before
    // the sender hears back. Other consumers take queued feeds (`Db::commit_feed`).
    db.on_commit(
        "notifier",
        Box::new(move |committed: &[db::writer::Committed], continuity| {
            if let (db::writer::Continuity::AfterOthers, Some(first)) =
                (continuity, committed.first())
            {
                hook_notifier.forget_before(first.row.seq - 1);
            }
            let buffering = hook_notifier.is_buffering();
            let publications = committed
                .iter()
                .map(|c| {
                    // Serialized only when one of its recipients polls; a slot that appears in
                    // between gets no event and reads the database instead.
                    let wanted = buffering && hook_notifier.has_slot_for(&c.recipients);
                    Publication {
                        seq: c.row.seq,
                        event: wanted.then(|| serialize(&c.row)).flatten(),
                        recipients: Arc::clone(&c.recipients),
                    }
                })
                .collect();
            hook_notifier.publish(publications);
        }),
    );
    Ok(notifier)
}

/// The client's JSON of a committed event, shared by every device it is delivered to.
pub(crate) fn serialize(row: &db::models::EventRow) -> Option<Arc<Delivered>> {
    let (seq, ts_ms) = (row.seq, row.ts_ms);
    // The view takes its row; the signed wire form (the largest field) is not part of it.
    let row = db::models::EventRow {
        seq,
        id: row.id.clone(),
        room_id: row.room_id,
        ts_ms,
        sender: row.sender.clone(),
        sender_id: None,
        recipient: row.recipient.clone(),
        kind: row.kind.clone(),
        body: row.body.clone(),
        meta: row.meta.clone(),
        reply_to: row.reply_to.clone(),
        target: row.target.clone(),
        room_seq: None,
        wire: None,
        deleted: false,
        attachments: row.attachments.clone(),
    };
    let json = services::events::view(row)
        .map_err(|e| e.message)
        .and_then(|event| serde_json::to_vec(&event).map_err(|e| e.to_string()));
    match json {
        Ok(json) => Some(Arc::new(Delivered {
            seq,
            ts_ms,
            json: json.into(),
        })),
        Err(e) => {
            // Wakes without the event: the poll then reads it (and reports it) itself.
            tracing::error!(seq, error = %e, "cannot serialize a committed event");
            None
        }
    }
}

/// Serves until the process is told to stop (SIGINT/SIGTERM). Prints `listening on
/// http://ADDR:PORT` (`https://` with `TLS_CERT` and `TLS_KEY`) on standard output once the
/// socket accepts connections.
pub async fn run(state: AppState, listener: TcpListener) -> anyhow::Result<()> {
    run_shared(Arc::new(state), listener).await
}

/// [`run`] with a state the caller keeps a handle to (in-process tests, embedders that
/// publish ephemeral events themselves).
pub async fn run_shared(state: Arc<AppState>, listener: TcpListener) -> anyhow::Result<()> {
    let addr = listener.local_addr()?;
    // Bound before anything serves, so that a taken IRC port stops the start.
    let irc_listeners = irc::bind(&state)?;
    let state = web::Data::from(state);
    let json_limit = body_limit(&state.config);
    let notifications_feed = state
        .db
        .commit_feed("notifications", services::notifications::FEED_CAPACITY);
    let notifier_of_users = actix_web::rt::spawn(services::notifications::run(
        state.clone().into_inner(),
        notifications_feed,
    ));
    let notification_pruner =
        actix_web::rt::spawn(services::notifications::prune(state.clone().into_inner()));
    let reaper = actix_web::rt::spawn(workers::reap_idle_devices(state.clone().into_inner()));
    let checkpointer = actix_web::rt::spawn(workers::checkpoint_wal(state.clone().into_inner()));
    let cursor_flusher = actix_web::rt::spawn(workers::flush_cursors(state.clone().into_inner()));
    let sweeper = actix_web::rt::spawn(workers::sweep_notifier(state.clone().into_inner()));
    let pruner = actix_web::rt::spawn(workers::prune_records(state.clone().into_inner()));
    let limit_pruner = actix_web::rt::spawn(workers::prune_limits(state.clone().into_inner()));
    let presence = actix_web::rt::spawn(workers::watch_presence(state.clone().into_inner()));
    let media_sweeper =
        actix_web::rt::spawn(services::media::run_retention(state.clone().into_inner()));
    let sender = actix_web::rt::spawn(federation::sender::run(state.clone().into_inner()));
    let catch_up =
        actix_web::rt::spawn(federation::mirror::run_catch_up(state.clone().into_inner()));
    let link = actix_web::rt::spawn(federation::directory::run_link(
        state.clone().into_inner(),
        public_url(&state.config, &state.server_name, addr, state.tls.scheme()),
    ));
    // Postgres only: another process's commits reach our long-polls, read once
    // (`remote_appends`, on the listener's thread).
    let notifier = Arc::clone(&state.notifier);
    let mut remote = remote_appends::RemoteAppends::new(state.db.clone(), Arc::clone(&notifier));
    let _listener = state.db.listen(move |wake| match wake {
        db::Wake::Appended(seq) => remote.heard(seq),
        db::Wake::Missed => remote.lost(),
        db::Wake::Ephemeral(item) => {
            notifier.publish_ephemeral(&item.recipients, item.json.into(), item.lifetime);
        }
    });
    let app_state = state.clone();
    let server = HttpServer::new(move || {
        let metrics = Arc::clone(&app_state.metrics);
        let origins = &app_state.config.cors_origins.0;
        App::new()
            .app_data(app_state.clone())
            .wrap(middleware::Condition::new(
                !origins.is_empty(),
                routes::cors(origins),
            ))
            .wrap(middleware::from_fn(
                move |req: ServiceRequest, next: middleware::Next<_>| {
                    let metrics = Arc::clone(&metrics);
                    // One span per request with what identifies it. (tracing-actix-web's
                    // logger formatted a dozen fields and drew a random request id for every
                    // request, long-polls included: measurable at 100,000 requests/s.)
                    let span = tracing::info_span!(
                        "request",
                        method = %req.method(),
                        path = req.path(),
                    );
                    async move {
                        let res = next.call(req).await?;
                        metrics.count_request(res.status().as_u16());
                        Ok::<_, actix_web::Error>(res)
                    }
                    .instrument(span)
                },
            ))
            .configure(|cfg| routes::configure(cfg, json_limit))
            .service(routes::openapi::docs_service())
            .default_service(web::to(routes::errors::not_found))
    })
    // Answers are small and written in pieces (a long-poll's head, then its JSON): without
    // TCP_NODELAY, Nagle's algorithm holds the JSON back ~40 ms.
    .tcp_nodelay(true)
    // A waiting long-poll peeks at its socket to notice a client that hung up.
    .on_connect(routes::hangup::remember_socket);
    let server = match state.config.http_workers {
        Some(workers) => server.workers(usize::from(workers)),
        None => server,
    };
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
    // After the HTTP ready line, which stays the first line.
    let gateway = irc_listeners.serve(state.clone().into_inner())?;
    tracing::info!(%addr, server_name = %state.server_name, "homeserver started");
    let result = server.await;
    gateway.stop();
    reaper.abort();
    checkpointer.abort();
    cursor_flusher.abort();
    sweeper.abort();
    pruner.abort();
    limit_pruner.abort();
    presence.abort();
    media_sweeper.abort();
    notifier_of_users.abort();
    notification_pruner.abort();
    // Acknowledgements still pending are written before the process exits.
    workers::write_cursors(&state).await;
    sender.abort();
    catch_up.abort();
    link.abort();
    result.context("server failed")
}

/// `PUBLIC_URL`, or where we listen when bound to a specific address (tests, single hosts), or
/// `http://SERVER_NAME` (`https://` when serving TLS).
fn public_url(
    config: &Config,
    server_name: &federation_proto::ids::ServerName,
    addr: std::net::SocketAddr,
    scheme: &str,
) -> String {
    match &config.public_url {
        Some(url) if !url.is_empty() => url.trim_end_matches('/').to_string(),
        _ if !addr.ip().is_unspecified() => format!("{scheme}://{addr}"),
        _ => format!("{scheme}://{server_name}"),
    }
}

/// Binds `BIND:PORT` from the config.
pub fn bind(config: &Config) -> anyhow::Result<TcpListener> {
    let addr = federation_proto::host::bind_address(&config.bind, config.port);
    TcpListener::bind(&addr).with_context(|| format!("cannot listen on {addr}"))
}
