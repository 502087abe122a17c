//! Small decisions every Hearth server process makes the same way (the homeserver and the
//! directory): the name it runs under when `SERVER_NAME` is unset, the address it binds, and
//! the wall clock as unix milliseconds. Pure: the callers read the hostname, bind the socket
//! and read the clock.

use std::time::{SystemTime, UNIX_EPOCH};

/// The name a server runs under: `configured` when set and not empty, else the first
/// non-empty of `hostnames` (trimmed; e.g. `/proc/sys/kernel/hostname`, then `$HOSTNAME`),
/// else `localhost`. Not validated: the caller parses it as a `ServerName`.
pub fn server_name_or<I>(configured: Option<&str>, hostnames: I) -> String
where
    I: IntoIterator<Item = Option<String>>,
{
    if let Some(name) = configured.filter(|s| !s.is_empty()) {
        return name.to_owned();
    }
    hostnames
        .into_iter()
        .flatten()
        .map(|s| s.trim().to_owned())
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".to_owned())
}

/// The socket address `BIND:PORT`, with an IPv6 address in brackets (`[::]:8080`).
pub fn bind_address(bind: &str, port: u16) -> String {
    if bind.contains(':') && !bind.starts_with('[') {
        format!("[{bind}]:{port}")
    } else {
        format!("{bind}:{port}")
    }
}

/// `at` as milliseconds since the unix epoch (0 before it, saturating far after it). Callers
/// pass `SystemTime::now()`.
pub fn unix_ms(at: SystemTime) -> u64 {
    at.duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// Unix milliseconds as the signed integers the databases store (saturating).
pub fn ms_to_i64(ms: u64) -> i64 {
    i64::try_from(ms).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_configured_name_wins_then_the_first_hostname() {
        let none = || [None, None];
        assert_eq!(server_name_or(Some("hs1.example"), none()), "hs1.example");
        assert_eq!(server_name_or(Some(""), none()), "localhost");
        assert_eq!(server_name_or(None, none()), "localhost");
        assert_eq!(
            server_name_or(None, [Some(" box\n".into()), Some("env".into())]),
            "box"
        );
        assert_eq!(
            server_name_or(None, [Some("  \n".into()), Some("env".into())]),
            "env"
        );
        assert_eq!(server_name_or(Some(""), [None, Some("env".into())]), "env");
    }

    #[test]
    fn ipv6_binds_get_brackets() {
        assert_eq!(bind_address("0.0.0.0", 8080), "0.0.0.0:8080");
        assert_eq!(bind_address("::", 0), "[::]:0");
        assert_eq!(bind_address("[::1]", 1), "[::1]:1");
        assert_eq!(bind_address("localhost", 2), "localhost:2");
    }

    #[test]
    fn unix_ms_saturates() {
        assert_eq!(unix_ms(UNIX_EPOCH + Duration::from_millis(1_234)), 1_234);
        assert_eq!(unix_ms(UNIX_EPOCH - Duration::from_millis(1)), 0);
        assert_eq!(ms_to_i64(u64::MAX), i64::MAX);
        assert_eq!(ms_to_i64(5), 5);
    }
}
