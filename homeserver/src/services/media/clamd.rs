//! Malware scanning with clamd's `INSTREAM` command (`CLAMD_ADDR`: `host:port` or a unix
//! socket path): `zINSTREAM\0`, then chunks each prefixed with its length (4 bytes, big
//! endian), then a zero length; clamd answers `stream: OK` or `stream: <name> FOUND`.
//! Blocking: runs on the blocking pool.

use std::io::{self, Read, Write};
use std::path::Path;
use std::time::Duration;

/// Bytes per `INSTREAM` chunk.
const CHUNK: usize = 64 * 1024;
/// Longest wait for clamd to connect, read or answer.
const TIMEOUT: Duration = Duration::from_secs(60);

/// What clamd said about a file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing found.
    Clean,
    /// A signature matched (its name).
    Found(String),
}

/// Why a scan did not give a verdict.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// clamd could not be reached or the connection failed.
    #[error("clamd at {addr} is unreachable: {source}")]
    Unreachable {
        /// `CLAMD_ADDR`.
        addr: String,
        /// The cause.
        source: io::Error,
    },
    /// clamd answered something else than a verdict (e.g. `INSTREAM size limit exceeded`).
    #[error("clamd answered {0:?}")]
    Refused(String),
}

/// Streams the file at `path` to clamd at `addr` and returns its verdict.
pub fn scan_file(addr: &str, path: &Path) -> Result<Verdict, ScanError> {
    let unreachable = |source| ScanError::Unreachable {
        addr: addr.to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(unreachable)?;
    let answer = if is_socket_path(addr) {
        #[cfg(unix)]
        {
            let path = addr.strip_prefix("unix:").unwrap_or(addr);
            let mut stream = std::os::unix::net::UnixStream::connect(path).map_err(unreachable)?;
            stream
                .set_read_timeout(Some(TIMEOUT))
                .map_err(unreachable)?;
            stream
                .set_write_timeout(Some(TIMEOUT))
                .map_err(unreachable)?;
            instream(&mut stream, &mut file).map_err(unreachable)?
        }
        #[cfg(not(unix))]
        {
            return Err(unreachable(io::Error::other(
                "unix sockets need a unix system",
            )));
        }
    } else {
        let socket = resolve(addr).map_err(unreachable)?;
        let mut stream =
            std::net::TcpStream::connect_timeout(&socket, TIMEOUT).map_err(unreachable)?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        stream
            .set_write_timeout(Some(TIMEOUT))
            .map_err(unreachable)?;
        instream(&mut stream, &mut file).map_err(unreachable)?
    };
    parse_answer(&answer)
}

/// A unix socket path rather than `host:port`.
fn is_socket_path(addr: &str) -> bool {
    addr.starts_with('/') || addr.starts_with("./") || addr.starts_with("unix:")
}

fn resolve(addr: &str) -> io::Result<std::net::SocketAddr> {
    use std::net::ToSocketAddrs;
    addr.to_socket_addrs()?
        .next()
        .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address"))
}

/// Sends the INSTREAM command and `file`, and reads the answer (up to its NUL).
fn instream<S: Read + Write>(stream: &mut S, file: &mut impl Read) -> io::Result<String> {
    stream.write_all(b"zINSTREAM\0")?;
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let len = u32::try_from(n).map_err(io::Error::other)?;
        stream.write_all(&len.to_be_bytes())?;
        if let Err(e) = stream.write_all(&buf[..n]) {
            // clamd closes the stream when a limit is exceeded; its answer says which.
            tracing::debug!(error = %e, "clamd stopped reading");
            break;
        }
    }
    let _ = stream.write_all(&0u32.to_be_bytes());
    let _ = stream.flush();
    let mut answer = Vec::new();
    stream.take(4096).read_to_end(&mut answer)?;
    let end = answer.iter().position(|&b| b == 0).unwrap_or(answer.len());
    Ok(String::from_utf8_lossy(&answer[..end]).trim().to_string())
}

/// `stream: OK` → clean; `stream: NAME FOUND` → found; anything else is an error.
fn parse_answer(answer: &str) -> Result<Verdict, ScanError> {
    let rest = answer.strip_prefix("stream:").map(str::trim);
    match rest {
        Some("OK") => Ok(Verdict::Clean),
        Some(found) if found.ends_with(" FOUND") => Ok(Verdict::Found(
            found.trim_end_matches(" FOUND").trim().to_string(),
        )),
        _ => Err(ScanError::Refused(answer.chars().take(200).collect())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_parse() {
        assert_eq!(parse_answer("stream: OK").unwrap(), Verdict::Clean);
        assert_eq!(
            parse_answer("stream: Eicar-Test-Signature FOUND").unwrap(),
            Verdict::Found("Eicar-Test-Signature".into())
        );
        assert!(parse_answer("INSTREAM size limit exceeded. ERROR").is_err());
        assert!(parse_answer("").is_err());
    }

    /// The framing: the command, length-prefixed chunks, a zero length.
    #[test]
    fn instream_frames_chunks() {
        struct Fake {
            sent: Vec<u8>,
            answer: io::Cursor<Vec<u8>>,
        }
        impl Write for Fake {
            fn write(&mut self, b: &[u8]) -> io::Result<usize> {
                self.sent.extend_from_slice(b);
                Ok(b.len())
            }
            fn flush(&mut self) -> io::Result<()> {
                Ok(())
            }
        }
        impl Read for Fake {
            fn read(&mut self, b: &mut [u8]) -> io::Result<usize> {
                self.answer.read(b)
            }
        }
        let mut fake = Fake {
            sent: Vec::new(),
            answer: io::Cursor::new(b"stream: OK\0".to_vec()),
        };
        let answer = instream(&mut fake, &mut &b"hello"[..]).unwrap();
        assert_eq!(answer, "stream: OK");
        let mut expected = b"zINSTREAM\0".to_vec();
        expected.extend_from_slice(&5u32.to_be_bytes());
        expected.extend_from_slice(b"hello");
        expected.extend_from_slice(&0u32.to_be_bytes());
        assert_eq!(fake.sent, expected);
    }
}
