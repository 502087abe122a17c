//! Settings of the IRC gateway (`IRC_PORT`, `IRC_BIND`, `IRC_TLS_PORT`, …).

use clap::Args;

/// Settings of the IRC gateway.
#[derive(Debug, Clone, Args)]
pub struct IrcConfig {
    /// Port of the IRC gateway (plain text); empty: no IRC gateway. 0 picks a free port
    /// (printed on an `irc listening on ADDR:PORT` line after the HTTP ready line).
    #[arg(long, env = "IRC_PORT", default_value = "", value_parser = parse_port)]
    pub irc_port: OptionalPort,
    /// Address the IRC gateway binds; empty: the same as BIND.
    #[arg(long, env = "IRC_BIND", default_value = "")]
    pub irc_bind: String,
    /// Port of the IRC gateway over TLS (needs TLS_CERT and TLS_KEY); empty: none. Its ready
    /// line is `ircs listening on ADDR:PORT`.
    #[arg(long, env = "IRC_TLS_PORT", default_value = "", value_parser = parse_port)]
    pub irc_tls_port: OptionalPort,
    /// IRC connections one client address may hold at once (IPv6: per /64).
    #[arg(long, env = "IRC_MAX_PER_ADDRESS", default_value_t = 16, value_parser = clap::value_parser!(u32).range(1..=100_000))]
    pub irc_max_per_address: u32,
    /// Seconds a new IRC connection has to log in (PASS/NICK/USER or SASL) before it is
    /// closed.
    #[arg(long, env = "IRC_REGISTRATION_TIMEOUT", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub irc_registration_timeout: u64,
    /// Seconds between the gateway's keep-alive PINGs to an idle client; a client silent for
    /// twice as long is disconnected.
    #[arg(long, env = "IRC_PING_INTERVAL", default_value_t = 90, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub irc_ping_interval: u64,
}

/// A port, or none (the setting is empty).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OptionalPort(pub Option<u16>);

fn parse_port(raw: &str) -> Result<OptionalPort, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(OptionalPort(None));
    }
    raw.parse::<u16>()
        .map(|p| OptionalPort(Some(p)))
        .map_err(|_| format!("{raw:?} is not a port (0–65535, or empty for none)"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_optional() {
        assert_eq!(parse_port("").unwrap(), OptionalPort(None));
        assert_eq!(parse_port("6667").unwrap(), OptionalPort(Some(6667)));
        assert!(parse_port("x").is_err());
        assert!(parse_port("70000").is_err());
    }
}
