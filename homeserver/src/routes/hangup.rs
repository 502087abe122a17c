//! Noticing that a long-polling (or streaming) client hung up, without writing to it.
//!
//! actix-web does not tell a handler that its client went away (actix/actix-web#1313): it
//! finds out when a write fails. A waiting poll used to write a space every 400 ms for that,
//! which cost 0.6 of the machine's two cores for 19,000 idle polls (BENCHMARKS.md). Instead,
//! each connection's socket is remembered when it is accepted ([`remember_socket`]) and a
//! waiting poll peeks at it: a socket whose peer has closed reads end-of-file.

use std::any::Any;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use actix_web::dev::Extensions;
use tokio::time::{interval_at, Instant, Interval};

/// How often a waiting response checks whether its client is still there.
pub const HANG_UP_CHECK: Duration = Duration::from_millis(400);

/// How often a waiting response writes something anyway: for proxies that close idle
/// connections, and to find out about a client whose socket cannot be checked.
pub const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The socket of the connection a request came on.
#[derive(Clone, Copy, Debug)]
pub struct PeerSocket(RawFd);

/// `HttpServer::on_connect` hook: keeps the connection's socket with the connection, for
/// plain HTTP and for HTTPS (`TLS_CERT`) alike.
///
/// Over TLS the peek sees the TCP socket under the TLS stream. A client that hangs up sends
/// its `close_notify` alert and then end-of-file; once the connection's TLS reader has consumed
/// the alert the socket reads end-of-file as for plain HTTP. Until then the unread alert counts
/// as "still there", and the keep-alive write ([`KEEP_ALIVE`]) finds the hang-up instead.
pub fn remember_socket(connection: &dyn Any, data: &mut Extensions) {
    type TcpStream = actix_web::rt::net::TcpStream;
    type TlsStream = actix_tls::accept::rustls_0_23::TlsStream<TcpStream>;
    if let Some(stream) = connection.downcast_ref::<TcpStream>() {
        data.insert(PeerSocket(stream.as_raw_fd()));
    } else if let Some(stream) = connection.downcast_ref::<TlsStream>() {
        data.insert(PeerSocket(stream.get_ref().0.as_raw_fd()));
    }
}

impl PeerSocket {
    /// Whether the client has closed its end: the socket reads end-of-file (or fails). Data
    /// waiting to be read (a pipelined request) counts as still there.
    pub fn hung_up(self) -> bool {
        let mut byte = 0u8;
        match peek(self.0, &mut byte) {
            0 => true,
            n if n > 0 => false,
            // errno is only meaningful after a failed call.
            _ => !would_block(),
        }
    }
}

/// What a [`ClientWatch`] check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The client hung up: end the response.
    Gone,
    /// Time to write something harmless (a space, an SSE comment).
    KeepAlive,
    /// Nothing to do.
    Quiet,
}

/// Watches the client of a response that waits (a long-poll, an event stream): every
/// [`HANG_UP_CHECK`] it peeks at the socket, and every [`KEEP_ALIVE`] it asks for a write.
/// Where the socket is unknown it asks for a write at every check: a failed write is then how
/// a hang-up shows.
pub struct ClientWatch {
    socket: Option<PeerSocket>,
    checks: Interval,
    since_keep_alive: u128,
    checks_per_keep_alive: u128,
}

impl ClientWatch {
    /// Starts watching; the first check is one [`HANG_UP_CHECK`] from now.
    pub fn new(socket: Option<PeerSocket>) -> ClientWatch {
        let checks_per_keep_alive = match socket {
            Some(_) => (KEEP_ALIVE.as_millis() / HANG_UP_CHECK.as_millis()).max(1),
            None => 1,
        };
        ClientWatch {
            socket,
            checks: interval_at(Instant::now() + HANG_UP_CHECK, HANG_UP_CHECK),
            since_keep_alive: 0,
            checks_per_keep_alive,
        }
    }

    /// Waits for the next check. Cancel-safe: a check is made only once its tick resolved.
    pub async fn next(&mut self) -> Check {
        self.checks.tick().await;
        if self.socket.is_some_and(PeerSocket::hung_up) {
            return Check::Gone;
        }
        self.since_keep_alive += 1;
        if self.since_keep_alive >= self.checks_per_keep_alive {
            self.since_keep_alive = 0;
            return Check::KeepAlive;
        }
        Check::Quiet
    }
}

#[allow(unsafe_code)] // FFI to recv(2) with MSG_PEEK: reads nothing, changes nothing.
fn peek(fd: RawFd, byte: &mut u8) -> isize {
    // SAFETY: `byte` is a valid, writable one-byte buffer for the duration of the call. The
    // socket belongs to the connection whose response is being streamed, which owns it until
    // after this poll's body is dropped, so `fd` is open; MSG_PEEK leaves the data in place and
    // MSG_DONTWAIT keeps the call from blocking.
    unsafe {
        libc::recv(
            fd,
            std::ptr::from_mut(byte).cast::<libc::c_void>(),
            1,
            libc::MSG_PEEK | libc::MSG_DONTWAIT,
        )
    }
}

fn would_block() -> bool {
    let err = std::io::Error::last_os_error();
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::Interrupted
    )
}

#[cfg(test)]
mod tests {
    use std::io::{Read, Write};
    use std::net::{TcpListener, TcpStream};
    use std::time::{Duration, Instant};

    use super::*;

    /// Waits (at most 5 s) until the kernel has delivered what the client did.
    fn settle(what: &str, done: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !done() {
            assert!(Instant::now() < deadline, "{what} did not arrive");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    #[test]
    fn an_open_socket_is_there_and_a_closed_one_hung_up() {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let mut client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let socket = PeerSocket(server.as_raw_fd());
        assert!(!socket.hung_up(), "nothing sent yet");

        client.write_all(b"GET / HTTP/1.1\r\n").unwrap();
        settle("the request", || peek(socket.0, &mut 0u8) > 0);
        assert!(!socket.hung_up(), "unread data is not a hang-up");

        drop(client);
        // The data is still unread, so the end-of-file behind it is not visible yet.
        assert!(
            !socket.hung_up(),
            "unread data still comes before the end-of-file"
        );
        let mut sink = [0u8; 64];
        let _ = (&server).read(&mut sink).unwrap();
        settle("the end-of-file", || peek(socket.0, &mut 0u8) == 0);
        assert!(socket.hung_up(), "end-of-file after the data");
    }

    #[actix_web::test]
    async fn a_watch_asks_for_keep_alives_and_reports_a_hang_up() {
        // Without a socket, every check asks for a write (a failed one shows the hang-up).
        let mut blind = ClientWatch::new(None);
        assert_eq!(blind.next().await, Check::KeepAlive);

        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (server, _) = listener.accept().unwrap();
        server.set_nonblocking(true).unwrap();
        let socket = PeerSocket(server.as_raw_fd());
        let mut watch = ClientWatch::new(Some(socket));
        assert_eq!(watch.next().await, Check::Quiet, "a connected client");
        drop(client);
        settle("the end-of-file", || socket.hung_up());
        assert_eq!(watch.next().await, Check::Gone);
    }
}
