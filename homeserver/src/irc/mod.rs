//! The IRC gateway (`IRC_PORT`, `IRC_TLS_PORT`): ordinary IRC clients log in as devices of
//! Hearth accounts. See docs/irc.md.
//!
//! # Layout
//! - [`config`]: its settings.
//! - this module: the listeners (plain and TLS), started and stopped with the server by
//!   [`crate::run`], and the count of connections per client address.
//! - `conn`: one connection: registration (`CAP`, `PASS`/`NICK`/`USER`, SASL PLAIN), the
//!   login, the welcome, the replay of what the device has not acknowledged, then the loop
//!   over client lines, the device's event stream and the keep-alive timer.
//! - `commands` and `queries`: what each command does, through [`crate::chat`] and the
//!   services (no rule of its own).
//! - `deliver`: events and ephemeral events as IRC lines.
//! - [`names`]: Hearth names as IRC names, both ways.
//! - [`numerics`]: the one mapping of error codes to numerics.
//!
//! Framing (bounded lines, tags) is [`crate::transport::irc`]. Every connection is one task
//! on the server's main thread; its database work runs on the blocking pool like every
//! request's.

mod commands;
pub mod config;
mod conn;
mod deliver;
pub mod names;
pub mod numerics;
mod queries;

use std::collections::HashMap;
use std::io::Write as _;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use tokio::net::TcpListener;

use crate::state::AppState;

/// The gateway's bound listeners, before they serve.
pub struct Listeners {
    plain: Option<std::net::TcpListener>,
    tls: Option<std::net::TcpListener>,
}

/// The running gateway: its accept loops, aborted by [`Gateway::stop`].
pub struct Gateway {
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// Binds `IRC_PORT` and `IRC_TLS_PORT` when they are set, so that a port in use stops the
/// start before anything serves.
pub fn bind(state: &AppState) -> anyhow::Result<Listeners> {
    let config = &state.config.irc;
    let host = if config.irc_bind.trim().is_empty() {
        state.config.bind.as_str()
    } else {
        config.irc_bind.trim()
    };
    let bind_one = |port: u16| -> anyhow::Result<std::net::TcpListener> {
        let addr = federation_proto::host::bind_address(host, port);
        let listener = std::net::TcpListener::bind(&addr)
            .with_context(|| format!("cannot listen for IRC on {addr}"))?;
        listener.set_nonblocking(true)?;
        Ok(listener)
    };
    let plain = config.irc_port.0.map(bind_one).transpose()?;
    let tls = match config.irc_tls_port.0 {
        Some(port) => {
            anyhow::ensure!(
                state.tls.server.is_some(),
                "IRC_TLS_PORT needs TLS_CERT and TLS_KEY"
            );
            Some(bind_one(port)?)
        }
        None => None,
    };
    Ok(Listeners { plain, tls })
}

impl Listeners {
    /// Starts accepting and prints `irc listening on ADDR:PORT` (and `ircs listening on …`
    /// for TLS); call after the HTTP ready line, which stays the first line.
    pub fn serve(self, state: Arc<AppState>) -> anyhow::Result<Gateway> {
        let counts = Arc::new(PerAddress::default());
        let mut tasks = Vec::new();
        let mut out = std::io::stdout().lock();
        if let Some(listener) = self.plain {
            let addr = listener.local_addr()?;
            let listener = TcpListener::from_std(listener)?;
            tasks.push(actix_web::rt::spawn(accept(
                Arc::clone(&state),
                listener,
                Arc::clone(&counts),
                None,
            )));
            writeln!(out, "irc listening on {addr}")?;
        }
        if let Some(listener) = self.tls {
            let addr = listener.local_addr()?;
            let listener = TcpListener::from_std(listener)?;
            let acceptor = state
                .tls
                .server
                .as_ref()
                .map(|config| tokio_rustls::TlsAcceptor::from(Arc::clone(config)));
            tasks.push(actix_web::rt::spawn(accept(
                Arc::clone(&state),
                listener,
                Arc::clone(&counts),
                acceptor,
            )));
            writeln!(out, "ircs listening on {addr}")?;
        }
        out.flush()?;
        if !tasks.is_empty() {
            tracing::info!("IRC gateway started");
        }
        Ok(Gateway { tasks })
    }
}

impl Gateway {
    /// Stops accepting; open connections end with the server's runtime.
    pub fn stop(self) {
        for task in self.tasks {
            task.abort();
        }
    }
}

/// Open connections per client address (IPv6 per /64, as logins are counted).
#[derive(Default)]
struct PerAddress(Mutex<HashMap<IpAddr, u32>>);

/// One counted connection; uncounted when dropped.
struct Counted {
    counts: Arc<PerAddress>,
    key: IpAddr,
}

impl PerAddress {
    fn admit(self: &Arc<Self>, ip: IpAddr, max: u32) -> Option<Counted> {
        let key = crate::limits::login_key(ip);
        let mut map = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let n = map.entry(key).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(Counted {
            counts: Arc::clone(self),
            key,
        })
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        let mut map = self
            .counts
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(n) = map.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                map.remove(&self.key);
            }
        }
    }
}

async fn accept(
    state: Arc<AppState>,
    listener: TcpListener,
    counts: Arc<PerAddress>,
    tls: Option<tokio_rustls::TlsAcceptor>,
) {
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of descriptors and the like: wait a little instead of spinning.
                tracing::warn!(error = %e, "IRC accept failed");
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            }
        };
        let _ = socket.set_nodelay(true);
        let max = state.config.irc.irc_max_per_address;
        let Some(counted) = counts.admit(peer.ip(), max) else {
            actix_web::rt::spawn(refuse(socket));
            continue;
        };
        let state = Arc::clone(&state);
        // Two tasks of their own sizes: a plain connection's task has no room for a TLS
        // handshake and a TLS stream.
        match tls.clone() {
            // The connection's future alone, in a span only while it registers (`conn`).
            None => {
                actix_web::rt::spawn(conn::serve(state, socket, peer, counted));
            }
            Some(acceptor) => {
                actix_web::rt::spawn(serve_tls(state, socket, peer, acceptor, counted));
            }
        }
    }
}

async fn serve_tls(
    state: Arc<AppState>,
    socket: tokio::net::TcpStream,
    peer: SocketAddr,
    acceptor: tokio_rustls::TlsAcceptor,
    counted: Counted,
) {
    let timeout = std::time::Duration::from_secs(state.config.irc.irc_registration_timeout);
    // Boxed: the handshake's room is freed once it is done.
    let handshake = Box::pin(tokio::time::timeout(timeout, acceptor.accept(socket)));
    let stream = match handshake.await {
        Ok(Ok(stream)) => stream,
        Ok(Err(e)) => {
            tracing::debug!(peer = %peer, error = %e, "IRC TLS handshake failed");
            return;
        }
        Err(_) => {
            tracing::debug!(peer = %peer, "IRC TLS handshake timed out");
            return;
        }
    };
    conn::serve(state, stream, peer, counted).await;
}

async fn refuse(mut socket: tokio::net::TcpStream) {
    use tokio::io::AsyncWriteExt as _;
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        socket.write_all(b"ERROR :Too many connections from your address\r\n"),
    )
    .await;
}

#[cfg(test)]
mod tests {
    use std::future::Future;

    /// The size of the future `f` returns, without calling it.
    fn future_size<A, B, C, D, F: Future>(_: impl FnOnce(A, B, C, D) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    /// What an idle, logged-in plain connection's task holds besides the task header and the
    /// boxed client with its event stream: the connection's future, waiting in the loop over
    /// lines, events and the keep-alive timer. 1,832 bytes in a debug build before
    /// registration, the welcome, the replay and every write were boxed; 848 after
    /// (BENCHMARKS.md, "Idle IRC clients against ngIRCd").
    #[test]
    fn an_idle_connection_is_small() {
        let task = future_size(super::conn::serve::<tokio::net::TcpStream>);
        let live = std::mem::size_of::<super::conn::Client>()
            + std::mem::size_of::<crate::services::stream::EventStream>();
        assert!(
            task <= 1000,
            "an idle IRC connection's future is {task} bytes"
        );
        assert!(live <= 600, "a client and its stream are {live} bytes");
    }
}
