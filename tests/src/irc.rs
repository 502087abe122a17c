//! A raw IRC line client for the IRC gateway's tests: lines in and out with deadlines, pings
//! answered or not (the gateway's acknowledgement depends on them), and the lines parsed
//! loosely for assertions.

use std::time::Duration;

use tokio::io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader};
use tokio::io::{ReadHalf, WriteHalf};
use tokio::net::TcpStream;

/// A plain or TLS connection.
trait Io: AsyncRead + AsyncWrite + Unpin {}
impl<T: AsyncRead + AsyncWrite + Unpin> Io for T {}

/// How long a test waits for an expected line.
pub const WAIT: Duration = Duration::from_secs(15);

/// A parsed server line.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct IrcLine {
    /// The line as it came (without CRLF).
    pub raw: String,
    /// Tags, raw values.
    pub tags: Vec<(String, String)>,
    /// The source (`nick!user@host` or a server), without `:`.
    pub source: String,
    /// The command or numeric.
    pub command: String,
    /// Parameters, the trailing one included.
    pub params: Vec<String>,
}

impl IrcLine {
    /// Parses a line loosely.
    pub fn parse(raw: &str) -> IrcLine {
        let mut rest = raw;
        let mut tags = Vec::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (t, tail) = after.split_once(' ').unwrap_or((after, ""));
            for tag in t.split(';') {
                let (k, v) = tag.split_once('=').unwrap_or((tag, ""));
                tags.push((k.to_string(), v.to_string()));
            }
            rest = tail;
        }
        let mut source = String::new();
        if let Some(after) = rest.strip_prefix(':') {
            let (s, tail) = after.split_once(' ').unwrap_or((after, ""));
            source = s.to_string();
            rest = tail;
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        let mut params = Vec::new();
        while !rest.is_empty() {
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_string());
                break;
            }
            let (p, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(p.to_string());
            rest = tail;
        }
        IrcLine {
            raw: raw.to_string(),
            tags,
            source,
            command: command.to_string(),
            params,
        }
    }

    /// A tag's value.
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The nick of the source.
    pub fn nick(&self) -> &str {
        self.source.split('!').next().unwrap_or("")
    }

    /// The last parameter.
    pub fn text(&self) -> &str {
        self.params.last().map_or("", String::as_str)
    }
}

/// A connection to the gateway.
pub struct IrcClient {
    reader: BufReader<ReadHalf<Box<dyn Io>>>,
    writer: WriteHalf<Box<dyn Io>>,
    /// Answer `PING`s by themselves (on by default); off to test acknowledgements.
    pub answer_pings: bool,
    /// Every line read so far, for failure messages.
    pub seen: Vec<String>,
}

impl IrcClient {
    /// Connects to `addr` (`ADDR:PORT`).
    pub async fn connect(addr: &str) -> IrcClient {
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the IRC port");
        IrcClient::over(Box::new(stream))
    }

    /// Connects over TLS to `addr` (`127.0.0.1:PORT`), trusting the CA of `ca_pem`.
    pub async fn connect_tls(addr: &str, ca_pem: &[u8]) -> IrcClient {
        use federation_proto::tls::{client_config, rustls};
        let config = client_config(Some(ca_pem)).expect("a TLS client configuration");
        let connector = tokio_rustls::TlsConnector::from(std::sync::Arc::new(config));
        let stream = TcpStream::connect(addr)
            .await
            .expect("connect to the IRC TLS port");
        let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("a server name");
        let tls = connector
            .connect(name, stream)
            .await
            .expect("a TLS handshake with the IRC gateway");
        IrcClient::over(Box::new(tls))
    }

    fn over(stream: Box<dyn Io>) -> IrcClient {
        let (r, w) = tokio::io::split(stream);
        IrcClient {
            reader: BufReader::new(r),
            writer: w,
            answer_pings: true,
            seen: Vec::new(),
        }
    }

    /// Connects and logs in with `PASS`/`NICK`/`USER device`; returns once `001` came.
    pub async fn login(addr: &str, nick: &str, password: &str, device: &str) -> IrcClient {
        let mut c = IrcClient::connect(addr).await;
        c.send(&format!("PASS :{password}")).await;
        c.send(&format!("NICK {nick}")).await;
        c.send(&format!("USER {device} 0 * :{nick} on {device}"))
            .await;
        c.expect("001", |l| l.command == "001").await;
        c
    }

    /// Sends one line (CRLF added).
    pub async fn send(&mut self, line: &str) {
        self.writer
            .write_all(format!("{line}\r\n").as_bytes())
            .await
            .expect("write to the IRC connection");
    }

    /// Sends raw bytes.
    pub async fn send_raw(&mut self, bytes: &[u8]) {
        self.writer
            .write_all(bytes)
            .await
            .expect("write to the IRC connection");
    }

    /// The next line within `within`; `None` at the end of the connection or the deadline.
    pub async fn next_line(&mut self, within: Duration) -> Option<IrcLine> {
        let mut buf = String::new();
        match tokio::time::timeout(within, self.reader.read_line(&mut buf)).await {
            Ok(Ok(0)) | Ok(Err(_)) | Err(_) => None,
            Ok(Ok(_)) => {
                let raw = buf.trim_end_matches(['\r', '\n']).to_string();
                self.seen.push(raw.clone());
                let line = IrcLine::parse(&raw);
                if self.answer_pings && line.command == "PING" {
                    let token = line.text().to_string();
                    self.send(&format!("PONG :{token}")).await;
                }
                Some(line)
            }
        }
    }

    /// Reads until a line matches (returned), or panics after [`WAIT`] with what came.
    pub async fn expect(&mut self, what: &str, matches: impl Fn(&IrcLine) -> bool) -> IrcLine {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_line(left).await {
                Some(line) if matches(&line) => return line,
                Some(_) => {}
                None => panic!(
                    "no {what} within {WAIT:?} (or the connection ended); lines:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Reads until the numeric or command `command` (returned).
    pub async fn expect_command(&mut self, command: &str) -> IrcLine {
        self.expect(command, |l| l.command == command).await
    }

    /// Every line until one matches, that one included.
    pub async fn collect_until(
        &mut self,
        what: &str,
        matches: impl Fn(&IrcLine) -> bool,
    ) -> Vec<IrcLine> {
        let mut lines = Vec::new();
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_line(left).await {
                Some(line) => {
                    let done = matches(&line);
                    lines.push(line);
                    if done {
                        return lines;
                    }
                }
                None => panic!(
                    "no {what} within {WAIT:?}; lines:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    /// Sends `PING :token` and reads every line up to its `PONG`: whatever the server had to
    /// say about the commands before it.
    pub async fn sync(&mut self, token: &str) -> Vec<IrcLine> {
        self.send(&format!("PING :{token}")).await;
        self.collect_until("PONG", |l| l.command == "PONG" && l.text() == token)
            .await
    }

    /// Whether the server closed the connection within `within` (lines before it are read).
    pub async fn closed_within(&mut self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if left.is_zero() {
                return false;
            }
            let mut buf = String::new();
            match tokio::time::timeout(left, self.reader.read_line(&mut buf)).await {
                Ok(Ok(0)) | Ok(Err(_)) => return true,
                Ok(Ok(_)) => self.seen.push(buf.trim_end().to_string()),
                Err(_) => return false,
            }
        }
    }
}
