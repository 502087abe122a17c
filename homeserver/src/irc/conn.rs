//! One IRC connection: registration and login, the welcome, the replay, then the loop over
//! the client's lines, the device's event stream and the keep-alive timer.
//!
//! Acknowledgement: after writing events up to `seq` S the gateway sends `PING :hearth-S`;
//! when the client's `PONG :hearth-S` comes back it has read everything before it, and S is
//! acknowledged through [`sync::acknowledge`]. A connection that drops before the `PONG` gets
//! those events again on its next login.

use std::collections::{HashSet, VecDeque};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt as _};
use tokio::time::Instant;
use tracing::Instrument as _;

use super::numerics::{self, About};
use crate::error::ApiError;
use crate::services::accounts::{self, Session};
use crate::services::{stream, sync};
use crate::state::AppState;
use crate::transport::irc::{numeric, Line, LineReader, Message, Read};

/// Capabilities the gateway offers (`CAP LS`), each a bit of [`Client::caps`].
pub(super) const CAPS: [(&str, u8); 7] = [
    ("server-time", SERVER_TIME),
    ("message-tags", MESSAGE_TAGS),
    ("batch", BATCH),
    ("echo-message", ECHO_MESSAGE),
    ("sasl", SASL),
    ("draft/chathistory", CHATHISTORY),
    ("away-notify", AWAY_NOTIFY),
];
pub(super) const SERVER_TIME: u8 = 1;
pub(super) const MESSAGE_TAGS: u8 = 2;
pub(super) const BATCH: u8 = 4;
pub(super) const ECHO_MESSAGE: u8 = 8;
const SASL: u8 = 16;
pub(super) const CHATHISTORY: u8 = 32;
pub(super) const AWAY_NOTIFY: u8 = 64;

/// How long a write to a client may take before the connection is dropped.
const WRITE_TIMEOUT: Duration = Duration::from_secs(60);
/// Ids of the events a connection sent itself, remembered so that they are not echoed
/// without `echo-message`.
const SENT_REMEMBERED: usize = 64;
/// The longest SASL response (PLAIN: two names and a password).
const SASL_MAX: usize = 1200;

/// A registered client.
pub(super) struct Client {
    pub state: Arc<AppState>,
    pub session: Session,
    /// The device's name (`USER device …` or SASL `nick@device`).
    pub device: String,
    pub caps: u8,
    /// This server's name as IRC sources show it.
    pub server: String,
    /// IRC names of the channels the client has been told it is in.
    pub joined: HashSet<String>,
    /// Events this connection sent (not echoed without `echo-message`).
    pub sent: VecDeque<uuid::Uuid>,
    /// Lines waiting to be written.
    pub out: String,
    /// The `seq` of the last event written.
    pub position: i64,
    /// The client sent QUIT.
    pub quit: bool,
    /// Numbers the `BATCH` references.
    pub batches: u32,
    /// Recent renames `(old handle, new handle)`: one `NICK` line for the `nick` events of
    /// every shared channel.
    pub renames: VecDeque<(String, String)>,
}

/// What a connection is doing before it is registered.
#[derive(Default)]
struct Registration {
    pass: Option<String>,
    nick: Option<String>,
    device: Option<String>,
    /// Between `CAP LS`/`REQ` and `CAP END`.
    negotiating: bool,
    caps: u8,
    /// `AUTHENTICATE PLAIN` accepted; the response is being collected.
    sasl: Option<String>,
    /// Logged in by SASL.
    session: Option<(Session, String)>,
    out: String,
    /// Close after writing `out`.
    close: bool,
}

/// Serves one connection until it ends.
///
/// An idle, logged-in connection is this future waiting in the loop at its end, so what the
/// loop holds is what every idle client costs: registration, the welcome and the replay run
/// in boxed futures of their own (freed when they are done), and so does every write, a
/// command, a delivery and a flood-control wait. The test
/// `irc::tests::an_idle_connection_is_small` guards the size.
pub(super) fn serve<S>(
    state: Arc<AppState>,
    socket: S,
    peer: SocketAddr,
    counted: super::Counted,
) -> impl std::future::Future<Output = ()>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    // Split here: the connection's future keeps the halves, not a moved-out socket too.
    let (rd, wr) = tokio::io::split(socket);
    run(state, rd, wr, peer, counted)
}

async fn run<R, W>(
    state: Arc<AppState>,
    mut rd: R,
    mut wr: W,
    peer: SocketAddr,
    _counted: super::Counted,
) where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let mut reader = LineReader::new();
    // Everything before the loop in one boxed future: what it holds is freed when it is done.
    // It hands over the client and its stream in a box the loop keeps using: a value moved out
    // of a returned `Option` would keep its room in this future as well.
    let Some(mut live) = Box::pin(open(state, peer, &mut reader, &mut rd, &mut wr)).await else {
        return;
    };
    let Live { client, events } = &mut *live;
    let interval = Duration::from_secs(client.state.config.irc.irc_ping_interval);
    let mut ping_at = Instant::now() + interval;
    let mut pinged = false;
    let mut penalty = Instant::now();
    loop {
        tokio::select! {
            read = reader.next(&mut rd) => match read {
                Ok(Read::Line(line)) => {
                    ping_at = Instant::now() + interval;
                    pinged = false;
                    if let Some(msg) = Message::parse(&line) {
                        if let Some(until) = throttle(&mut penalty) {
                            Box::pin(tokio::time::sleep_until(until)).await;
                        }
                        // Boxed: an idle connection's task holds no room for a command's future.
                        let span = command_span(peer, client);
                        Box::pin(client.command(msg).instrument(span)).await;
                    }
                }
                Ok(Read::TooLong) => client.numeric(417, vec!["Input line was too long".into()]),
                Ok(Read::Closed) | Err(_) => break,
            },
            batch = events.next_batch() => match batch {
                Ok(batch) => {
                    let span = command_span(peer, client);
                    Box::pin(client.deliver(batch).instrument(span)).await;
                }
                Err(e) => {
                    client.out.push_str(&format!("ERROR :Closing link ({})\r\n", e.message));
                    client.quit = true;
                }
            },
            _ = tokio::time::sleep_until(ping_at) => {
                if pinged {
                    client.out.push_str("ERROR :Closing link (ping timeout)\r\n");
                    client.quit = true;
                } else {
                    client.ping();
                    pinged = true;
                    ping_at = Instant::now() + interval;
                }
            }
        }
        if !client.out.is_empty() && !write(&mut wr, std::mem::take(&mut client.out)).await {
            break;
        }
        if client.quit {
            break;
        }
    }
    let _ = Box::pin(wr.shutdown()).await;
    tracing::info!(peer = %peer, nick = %client.session.nick, device = %client.device, "IRC client left");
}

/// The span of one command or delivery of a logged-in connection.
fn command_span(peer: SocketAddr, client: &Client) -> tracing::Span {
    tracing::info_span!("irc", peer = %peer, nick = %client.session.nick)
}

/// Registration, the login, the welcome and the replay, in the connection's span: the client
/// and its event stream, or `None` when the connection ended before.
async fn open<R, W>(
    state: Arc<AppState>,
    peer: SocketAddr,
    reader: &mut LineReader,
    rd: &mut R,
    wr: &mut W,
) -> Option<Box<Live>>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    // The connection's span covers registration, the welcome and the replay; after them each
    // command and each delivery runs in a span of its own (as each HTTP request does), so an
    // idle connection holds no span (about 300 bytes in the subscriber's registry).
    let span = tracing::info_span!("irc", peer = %peer);
    let server = irc_server_name(state.server_name.as_str());
    let registered = register(&state, server, peer, reader, rd, wr);
    let mut client = registered.instrument(span.clone()).await?;
    let from = start(&mut client, wr).instrument(span).await?;
    let events = stream::open_at(state, client.session.clone(), from);
    Some(Box::new(Live { client, events }))
}

/// A logged-in connection: the client and the device's event stream.
struct Live {
    client: Client,
    events: stream::EventStream,
}

/// Registration and login: `None` when the connection ended before it logged in.
async fn register<R, W>(
    state: &Arc<AppState>,
    server: String,
    peer: SocketAddr,
    reader: &mut LineReader,
    rd: &mut R,
    wr: &mut W,
) -> Option<Client>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let deadline = Instant::now() + Duration::from_secs(state.config.irc.irc_registration_timeout);
    let mut reg = Registration::default();
    let (session, device) = loop {
        let read = tokio::select! {
            read = reader.next(rd) => read,
            _ = tokio::time::sleep_until(deadline) => {
                let _ = write(wr, "ERROR :Closing link (registration timed out)\r\n".to_string()).await;
                return None;
            }
        };
        match read {
            Ok(Read::Line(line)) => {
                if let Some(msg) = Message::parse(&line) {
                    Box::pin(reg.handle(state, &server, peer, msg)).await;
                }
            }
            Ok(Read::TooLong) => reg.reply(&server, 417, vec!["Input line was too long".into()]),
            Ok(Read::Closed) | Err(_) => return None,
        }
        if !reg.out.is_empty() && !write(wr, std::mem::take(&mut reg.out)).await {
            return None;
        }
        if reg.close {
            return None;
        }
        if let Some(done) = Box::pin(reg.finish(state, &server, peer)).await {
            break done;
        }
        if !reg.out.is_empty() && !write(wr, std::mem::take(&mut reg.out)).await {
            return None;
        }
        if reg.close {
            return None;
        }
    };
    tracing::info!(nick = %session.nick, device = %device, "IRC client logged in");
    Some(Client {
        state: Arc::clone(state),
        session,
        device,
        caps: reg.caps,
        server,
        joined: HashSet::new(),
        sent: VecDeque::new(),
        out: std::mem::take(&mut reg.out),
        position: 0,
        quit: false,
        batches: 0,
        renames: VecDeque::new(),
    })
}

/// The welcome and the replay of what the device has not acknowledged: the `seq` the live
/// events follow, or `None` when the connection ended.
async fn start<W: AsyncWrite + Unpin>(client: &mut Client, wr: &mut W) -> Option<i64> {
    client.welcome().await;
    if !write(wr, std::mem::take(&mut client.out)).await {
        return None;
    }
    let from = match client.replay().await {
        Ok(from) => from,
        Err(e) => {
            let _ = write(wr, format!("ERROR :{}\r\n", e.message)).await;
            return None;
        }
    };
    if !write(wr, std::mem::take(&mut client.out)).await {
        return None;
    }
    Some(from)
}

/// Flood control for every command (messages also count against `RATE_LIMIT_SEND` in
/// `chat::send`): each command costs [`COMMAND_COST`] of a virtual clock that may run at most
/// [`BURST`] ahead of the real one; past that the connection waits (and reads nothing) until
/// it is back within it, as ircd's penalty does. Nothing is dropped.
/// Returns when the connection must wait until, if it must.
fn throttle(penalty: &mut Instant) -> Option<Instant> {
    let now = Instant::now();
    *penalty = (*penalty).max(now) + COMMAND_COST;
    (*penalty > now + BURST).then(|| *penalty - BURST)
}

/// What one command costs of the flood-control clock.
const COMMAND_COST: Duration = Duration::from_millis(200);
/// How far ahead the flood-control clock may run before a connection waits.
const BURST: Duration = Duration::from_secs(10);

/// Writes `text`; `false` when the client is gone or too slow. The write and its timer wait
/// in a boxed future: a connection holds their room only while it writes.
async fn write<W: AsyncWrite + Unpin>(wr: &mut W, text: String) -> bool {
    if text.is_empty() {
        return true;
    }
    let written = Box::pin(tokio::time::timeout(
        WRITE_TIMEOUT,
        wr.write_all(text.as_bytes()),
    ));
    matches!(written.await, Ok(Ok(())))
}

/// The server's name in IRC sources: its host, without a port.
pub(super) fn irc_server_name(server_name: &str) -> String {
    if server_name.starts_with('[') {
        return server_name
            .split_once(']')
            .map_or(server_name.to_string(), |(h, _)| format!("{h}]"));
    }
    server_name
        .split_once(':')
        .map_or(server_name, |(h, _)| h)
        .to_string()
}

impl Registration {
    fn reply(&mut self, server: &str, n: u16, params: Vec<String>) {
        let nick = self.nick.clone().unwrap_or_else(|| "*".to_string());
        let mut line = Line::new(numeric(n)).from(server).arg(nick);
        let last = params.len().saturating_sub(1);
        for (i, p) in params.into_iter().enumerate() {
            line = if i == last { line.text(p) } else { line.arg(p) };
        }
        line.write_to(&mut self.out);
    }

    fn cap(&mut self, server: &str, sub: &str, text: String) {
        let nick = self.nick.clone().unwrap_or_else(|| "*".to_string());
        Line::new("CAP")
            .from(server)
            .arg(nick)
            .arg(sub)
            .text(text)
            .write_to(&mut self.out);
    }

    async fn handle(&mut self, state: &AppState, server: &str, peer: SocketAddr, msg: Message) {
        match msg.command.as_str() {
            "CAP" => self.handle_cap(server, &msg),
            "PASS" => match msg.param(0) {
                Some(p) => self.pass = Some(p.to_string()),
                None => self.reply(
                    server,
                    461,
                    vec!["PASS".into(), "Not enough parameters".into()],
                ),
            },
            "NICK" => match msg.param(0).filter(|n| !n.is_empty()) {
                Some(n) => self.nick = Some(n.to_string()),
                None => self.reply(server, 431, vec!["No nickname given".into()]),
            },
            "USER" => match msg.param(0).filter(|u| !u.is_empty()) {
                Some(u) if msg.params.len() >= 4 => {
                    self.device = Some(u.trim_start_matches('~').to_string());
                }
                _ => self.reply(
                    server,
                    461,
                    vec!["USER".into(), "Not enough parameters".into()],
                ),
            },
            "AUTHENTICATE" => self.authenticate(state, server, peer, &msg).await,
            "PING" => {
                let token = msg.param(0).unwrap_or("").to_string();
                Line::new("PONG")
                    .from(server)
                    .arg(server)
                    .text(token)
                    .write_to(&mut self.out);
            }
            "PONG" => {}
            "QUIT" => {
                self.out.push_str("ERROR :Closing link (quit)\r\n");
                self.close = true;
            }
            _ => self.reply(server, 451, vec!["You have not registered".into()]),
        }
    }

    fn handle_cap(&mut self, server: &str, msg: &Message) {
        match msg.param(0).map(str::to_ascii_uppercase).as_deref() {
            Some("LS") => {
                self.negotiating = true;
                let v302 = msg
                    .param(1)
                    .and_then(|v| v.parse::<u32>().ok())
                    .unwrap_or(0)
                    >= 302;
                let list = CAPS
                    .iter()
                    .map(|(name, _)| match *name {
                        "sasl" if v302 => "sasl=PLAIN".to_string(),
                        name => name.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                self.cap(server, "LS", list);
            }
            Some("REQ") => {
                self.negotiating = true;
                let wanted = msg.param(1).unwrap_or("");
                match parse_caps(wanted, self.caps) {
                    Some(caps) => {
                        self.caps = caps;
                        self.cap(server, "ACK", wanted.to_string());
                    }
                    None => self.cap(server, "NAK", wanted.to_string()),
                }
            }
            Some("LIST") => self.cap(server, "LIST", cap_names(self.caps)),
            Some("END") => self.negotiating = false,
            _ => self.reply(
                server,
                410,
                vec![
                    msg.param(0).unwrap_or("").to_string(),
                    "Invalid CAP command".into(),
                ],
            ),
        }
    }

    async fn authenticate(
        &mut self,
        state: &AppState,
        server: &str,
        peer: SocketAddr,
        msg: &Message,
    ) {
        let Some(arg) = msg.param(0) else {
            return self.reply(
                server,
                461,
                vec!["AUTHENTICATE".into(), "Not enough parameters".into()],
            );
        };
        if self.caps & SASL == 0 || self.session.is_some() {
            return self.reply(server, 904, vec!["SASL authentication failed".into()]);
        }
        let Some(collected) = self.sasl.as_mut() else {
            if arg.eq_ignore_ascii_case("PLAIN") {
                self.sasl = Some(String::new());
                self.out.push_str("AUTHENTICATE +\r\n");
            } else {
                self.reply(
                    server,
                    908,
                    vec!["PLAIN".into(), "are available SASL mechanisms".into()],
                );
                self.reply(server, 904, vec!["SASL authentication failed".into()]);
            }
            return;
        };
        if arg == "*" {
            self.sasl = None;
            return self.reply(server, 906, vec!["SASL authentication aborted".into()]);
        }
        if arg != "+" {
            collected.push_str(arg);
        }
        if collected.len() > SASL_MAX {
            self.sasl = None;
            return self.reply(server, 905, vec!["SASL message too long".into()]);
        }
        if arg.len() == 400 {
            return; // more to come
        }
        let Some(raw) = self.sasl.take() else { return };
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw.as_bytes())
            .ok()
            .and_then(|b| String::from_utf8(b).ok());
        let Some(decoded) = decoded else {
            return self.reply(server, 904, vec!["SASL authentication failed".into()]);
        };
        let mut parts = decoded.split('\0');
        let (_authzid, authcid, password) = (parts.next(), parts.next(), parts.next());
        let (Some(authcid), Some(password)) = (authcid, password) else {
            return self.reply(server, 904, vec!["SASL authentication failed".into()]);
        };
        let (nick, device) = match authcid.split_once('@') {
            Some((nick, device)) => (nick.to_string(), device.to_string()),
            None => (
                authcid.to_string(),
                self.device.clone().unwrap_or_else(|| "irc".to_string()),
            ),
        };
        match login(state, peer, &nick, password.to_string(), &device).await {
            Ok(session) => {
                let account = session.nick.clone();
                let mask = format!("{}!{}@{}", account, account, server);
                self.reply(
                    server,
                    900,
                    vec![
                        mask,
                        account.clone(),
                        format!("You are now logged in as {account}"),
                    ],
                );
                self.reply(server, 903, vec!["SASL authentication successful".into()]);
                self.session = Some((session, device));
            }
            Err(e) => {
                tracing::info!(code = e.code, "IRC SASL login refused");
                self.reply(server, 904, vec!["SASL authentication failed".into()]);
            }
        }
    }

    /// Logs in once NICK and USER came and capability negotiation is over; `None` while
    /// waiting (or when the login failed and the connection closes).
    async fn finish(
        &mut self,
        state: &AppState,
        server: &str,
        peer: SocketAddr,
    ) -> Option<(Session, String)> {
        if self.negotiating || self.nick.is_none() || self.device.is_none() {
            return None;
        }
        if let Some(done) = self.session.take() {
            return Some(done);
        }
        let nick = self.nick.clone().unwrap_or_default();
        let device = self.device.clone().unwrap_or_default();
        let Some(password) = self.pass.take() else {
            self.reply(
                server,
                464,
                vec!["Password required: PASS <your Hearth password>, or SASL PLAIN".into()],
            );
            self.out
                .push_str("ERROR :Closing link (password required)\r\n");
            self.close = true;
            return None;
        };
        match login(state, peer, &nick, password, &device).await {
            Ok(session) => Some((session, device)),
            Err(e) => {
                let (n, params) = numerics::refusal(
                    &e,
                    About {
                        command: "PASS",
                        channel: None,
                        nick: Some(&nick),
                    },
                );
                self.reply(server, n, params);
                self.out
                    .push_str(&format!("ERROR :Closing link ({})\r\n", e.message));
                self.close = true;
                None
            }
        }
    }
}

/// A login from `peer`: counted against `RATE_LIMIT_LOGIN` like an HTTP login, then one
/// bounded password hash (`services::passwords`).
async fn login(
    state: &AppState,
    peer: SocketAddr,
    nick: &str,
    password: String,
    device: &str,
) -> Result<Session, ApiError> {
    state.limits.check_login(peer.ip())?;
    accounts::login_named_device(state, nick, password, device).await
}

/// The capabilities after a `CAP REQ` of `wanted` (`-name` removes one), or `None` when one
/// of them is unknown (the whole request is refused).
fn parse_caps(wanted: &str, mut caps: u8) -> Option<u8> {
    for name in wanted.split_whitespace() {
        let (off, name) = match name.strip_prefix('-') {
            Some(name) => (true, name),
            None => (false, name),
        };
        let bit = CAPS.iter().find(|(n, _)| *n == name)?.1;
        if off {
            caps &= !bit;
        } else {
            caps |= bit;
        }
    }
    Some(caps)
}

fn cap_names(caps: u8) -> String {
    CAPS.iter()
        .filter(|(_, bit)| caps & bit != 0)
        .map(|(n, _)| *n)
        .collect::<Vec<_>>()
        .join(" ")
}

impl Client {
    /// `nick!nick@host` of this client.
    pub fn me_source(&self) -> String {
        format!("{0}!{0}@{1}", self.session.nick, self.server)
    }

    /// This user's handle, `nick@server`.
    pub fn me_handle(&self) -> String {
        format!("{}@{}", self.session.nick, self.state.server_name)
    }

    /// Queues a line.
    pub fn send(&mut self, line: Line) {
        line.write_to(&mut self.out);
    }

    /// Queues a numeric reply to this client (the last parameter as trailing text).
    pub fn numeric(&mut self, n: u16, params: Vec<String>) {
        let mut line = Line::new(numeric(n))
            .from(self.server.clone())
            .arg(self.session.nick.clone());
        let last = params.len().saturating_sub(1);
        for (i, p) in params.into_iter().enumerate() {
            line = if i == last { line.text(p) } else { line.arg(p) };
        }
        self.send(line);
    }

    /// Queues the numeric for a refusal ([`numerics::refusal`]).
    pub fn refuse(&mut self, err: &ApiError, about: About<'_>) {
        if err.status.is_server_error() && err.code == "internal" {
            tracing::warn!(command = about.command, "IRC command failed");
        }
        let (n, params) = numerics::refusal(err, about);
        self.numeric(n, params);
    }

    /// `PING :hearth-S` for the last event written (acknowledged by its `PONG`).
    pub fn ping(&mut self) {
        let token = format!("hearth-{}", self.position);
        self.send(Line::new("PING").text(token));
    }

    /// A `PONG` came back: acknowledges the events it vouches for.
    pub async fn pong(&mut self, token: &str) {
        let Some(seq) = token
            .strip_prefix("hearth-")
            .and_then(|s| s.parse::<i64>().ok())
        else {
            return;
        };
        // Never past what this connection wrote.
        let seq = seq.min(self.position);
        if seq <= 0 {
            return;
        }
        if let Err(e) = sync::acknowledge(&self.state, &self.session.device_id, seq).await {
            tracing::warn!(code = e.code, "IRC acknowledgement failed");
        }
    }

    /// Remembers an event this connection sent.
    pub fn remember_sent(&mut self, id: uuid::Uuid) {
        if self.sent.len() == SENT_REMEMBERED {
            self.sent.pop_front();
        }
        self.sent.push_back(id);
    }

    /// Whether a capability was negotiated.
    pub fn has(&self, cap: u8) -> bool {
        self.caps & cap != 0
    }

    /// A new `BATCH` reference.
    pub fn batch_ref(&mut self) -> String {
        self.batches = self.batches.wrapping_add(1);
        format!("h{}", self.batches)
    }

    /// The device's cursor, where the replay starts.
    pub async fn cursor(&self) -> Result<i64, ApiError> {
        Ok(
            sync::starting_point(&self.state, &self.session.device_id, None)
                .await?
                .0,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caps_are_requested_and_removed() {
        let caps = parse_caps("server-time batch", 0).unwrap();
        assert_eq!(caps, SERVER_TIME | BATCH);
        assert_eq!(parse_caps("-batch", caps), Some(SERVER_TIME));
        assert_eq!(parse_caps("server-time unknown", 0), None);
        assert_eq!(cap_names(SERVER_TIME | SASL), "server-time sasl");
    }

    #[test]
    fn server_names_lose_their_port() {
        assert_eq!(irc_server_name("127.0.0.1:8081"), "127.0.0.1");
        assert_eq!(irc_server_name("hs1.example"), "hs1.example");
        assert_eq!(irc_server_name("[::1]:80"), "[::1]");
    }
}
