//! Configuration: every setting is a flag and an environment variable (also read from a `.env`
//! file in the working directory), with DESIGN.md's defaults. `homeserver --help` lists them all.

use std::fmt;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};

/// Command line of the `homeserver` binary.
#[derive(Debug, Parser)]
#[command(
    name = "homeserver",
    version,
    about = "Hearth homeserver: federated IRC-style chat"
)]
pub struct Cli {
    /// Settings (flags or environment variables).
    #[command(flatten)]
    pub config: Config,
    /// What to do; without one, serve.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server (the default).
    Serve,
    /// Manage the server's signing keys.
    Keys {
        /// What to do with the keys.
        #[command(subcommand)]
        action: KeysCommand,
    },
    /// Database maintenance.
    Db {
        /// What to do with the database.
        #[command(subcommand)]
        action: DbCommand,
    },
    /// Uploaded media: list, delete, apply retention now. Works while the server runs.
    Media {
        /// What to do with the media.
        #[command(subcommand)]
        action: crate::services::media::admin::MediaCommand,
    },
    /// Server administration: admins, accounts, the report queue. Takes the server's
    /// configuration and works while it runs (it opens the same database).
    Admin {
        /// What to do.
        #[command(subcommand)]
        action: crate::admin::AdminCommand,
    },
    /// Write a consistent copy of the running server (database, signing key, media and a
    /// manifest with checksums) into DIR, without stopping it.
    Backup(crate::ops::BackupArgs),
    /// Bring a backup back into an empty DATA_DIR (or the empty database of DBURL), after
    /// checking its manifest and every checksum. Never overwrites a server's data.
    Restore(crate::ops::RestoreArgs),
    /// Check this deployment (data directory, key file, database, PUBLIC_URL, TLS certificate,
    /// directory registration) and say what is wrong; exits non-zero on a failure.
    Doctor(crate::ops::DoctorArgs),
}

/// `homeserver db …`
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Copy a SQLite database (every account, channel, event and cursor) into the empty
    /// Postgres database named by DBURL, in one transaction. Stop the server first.
    MigrateFromSqlite {
        /// The SQLite file; default: `hearth.db` in the data directory.
        #[arg(long)]
        from: Option<PathBuf>,
    },
}

/// `homeserver keys …`
#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Print the current public key and key id.
    Show,
    /// Make a new signing key; the old one stays published as an old key so that events it
    /// signed remain verifiable. Restart the server afterwards.
    Rotate,
}

/// Every setting of the homeserver.
#[derive(Clone, Args)]
pub struct Config {
    /// TCP port to listen on; 0 picks a free one (printed on the `listening on` line).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, env = "BIND", default_value = "0.0.0.0")]
    pub bind: String,
    /// Threads serving HTTP requests; default: one per core. When several homeserver processes
    /// share one machine (Postgres), give each its share of the cores.
    #[arg(long, env = "HTTP_WORKERS", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub http_workers: Option<u16>,
    /// Database URL; empty means a SQLite file `hearth.db` in the data directory.
    #[arg(long, env = "DBURL", default_value = "")]
    pub dburl: String,
    /// Verbose tracing (`true`/`false`).
    #[arg(long, env = "DEBUG", default_value = "false", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true")]
    pub debug: bool,
    /// Events kept per channel or conversation; older ones rotate out.
    #[arg(long, env = "MAX_HISTORY", default_value_t = 10_000, value_parser = clap::value_parser!(i64).range(1..))]
    pub max_history: i64,
    /// Seconds of idleness after which a device's token stops working.
    #[arg(long, env = "SESSION_TIMEOUT", default_value_t = 86_400, value_parser = clap::value_parser!(u64).range(1..))]
    pub session_timeout: u64,
    /// Maximum bytes of a message body (a body is also at most 10,000 characters).
    #[arg(long, env = "MAX_MESSAGE_SIZE", default_value_t = 40_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub max_message_size: u64,
    /// Seconds after sending during which a user may edit their message.
    #[arg(long, env = "EDIT_WINDOW", default_value_t = 900, value_parser = clap::value_parser!(u64).range(0..=31_536_000))]
    pub edit_window: u64,
    /// Seconds a user still shows their status (not `offline`) after their last poll, event
    /// stream or WebSocket closed; then co-members get a `presence` event with `offline`.
    #[arg(long, env = "PRESENCE_GRACE", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub presence_grace: u64,
    /// Message of the day.
    #[arg(long, env = "MOTD", default_value = "")]
    pub motd: String,
    /// This server's name (DNS name, optionally with a port); defaults to the hostname.
    #[arg(long, env = "SERVER_NAME")]
    pub server_name: Option<String>,
    /// Shared secret restricting federation to servers that prove they know it.
    #[arg(long, env = "FEDERATION_KEY")]
    pub federation_key: Option<String>,
    /// Public base URL of this server (for federation; https:// works); defaults to
    /// http://SERVER_NAME (https:// when serving TLS), or to the bound address when BIND is one.
    #[arg(long, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Base URL of the directory to register with.
    #[arg(long, env = "DIRECTORY_URL")]
    pub directory_url: Option<String>,
    /// The directory's ed25519 public key (unpadded base64), pinned.
    #[arg(long, env = "DIRECTORY_KEY")]
    pub directory_key: Option<String>,
    /// Seconds between heartbeats to the directory.
    #[arg(long, env = "DIRECTORY_HEARTBEAT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub directory_heartbeat_secs: u64,
    /// Seconds between pulls of the directory's list (a missed push is caught up by then).
    #[arg(long, env = "DIRECTORY_PULL_SECS", default_value_t = 300, value_parser = clap::value_parser!(u64).range(1..))]
    pub directory_pull_secs: u64,
    /// Peers listed by hand, for federation without a directory: `name=url` pairs separated
    /// by commas (`hs2.example=https://hs2.example`). Their keys are fetched from the URL.
    #[arg(long, env = "PEERS", default_value = "")]
    pub peers: String,
    /// First retry delay (ms) after a failed delivery to a peer; doubles per failure, with jitter.
    #[arg(long, env = "FEDERATION_RETRY_MIN_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub federation_retry_min_ms: u64,
    /// Longest retry delay (ms) for a peer that keeps failing.
    #[arg(long, env = "FEDERATION_RETRY_MAX_MS", default_value_t = 900_000, value_parser = clap::value_parser!(u64).range(1..))]
    pub federation_retry_max_ms: u64,
    /// Where the database and the signing key live.
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// Serve HTTPS with this certificate chain (PEM, the server's certificate first); needs
    /// TLS_KEY. Without both, the server speaks plain HTTP (e.g. behind a TLS proxy).
    #[arg(long, env = "TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of TLS_CERT.
    #[arg(long, env = "TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Certificates (PEM, one or several) of a private CA to trust for outbound HTTPS
    /// (federation, key fetches, the directory), besides the usual public roots.
    #[arg(long, env = "EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// Messages a user may send: `N/<duration>` (a burst of N, refilled evenly over the
    /// duration; units s, m, h) or `off`. Counted per user (all devices together) on every
    /// transport. A refusal is `429 rate_limited` with `Retry-After`.
    #[arg(long, env = "RATE_LIMIT_SEND", default_value = "10/10s", value_parser = parse_rate_limit)]
    pub rate_limit_send: RateLimit,
    /// Per-user exceptions to RATE_LIMIT_SEND (bots): `nick=N/<duration>` or `nick=off`,
    /// separated by commas (`echobot=100/10s,logger=off`). The exception follows the nick.
    #[arg(long, env = "RATE_LIMIT_SEND_OVERRIDES", default_value = "", value_parser = parse_send_overrides)]
    pub rate_limit_send_overrides: SendOverrides,
    /// Logins and registrations per client address (IPv6: per /64): `N/<duration>` or `off`.
    #[arg(long, env = "RATE_LIMIT_LOGIN", default_value = "20/60s", value_parser = parse_rate_limit)]
    pub rate_limit_login: RateLimit,
    /// Requests of one peer server (after its signature is verified): `N/<duration>` or `off`.
    #[arg(long, env = "RATE_LIMIT_FEDERATION", default_value = "1000/10s", value_parser = parse_rate_limit)]
    pub rate_limit_federation: RateLimit,
    /// Typing notifications a user may send (`POST /api/v1/typing`, any transport):
    /// `N/<duration>` or `off`. A client renews "typing" every few seconds while its user types.
    #[arg(long, env = "RATE_LIMIT_TYPING", default_value = "10/10s", value_parser = parse_rate_limit)]
    pub rate_limit_typing: RateLimit,
    /// Reverse proxies whose `X-Forwarded-For` is believed (comma-separated IP addresses).
    /// Without it the client address is the connection's peer, so behind a proxy every client
    /// shares the proxy's login limit.
    #[arg(long, env = "TRUSTED_PROXIES", default_value = "", value_parser = parse_ip_list)]
    pub trusted_proxies: IpList,
    /// Origins allowed to call the client API from a browser (comma-separated, e.g.
    /// `https://chat.example`); default none.
    #[arg(long, env = "CORS_ORIGINS", default_value = "", value_parser = parse_origins)]
    pub cors_origins: Origins,
    /// When set, `/metrics` answers only requests with `Authorization: Bearer <token>`;
    /// when unset it is open to anyone who can reach the port.
    #[arg(long, env = "METRICS_TOKEN")]
    pub metrics_token: Option<String>,
    /// Uploads: size, types, malware scanning, retention.
    #[command(flatten)]
    pub media: crate::services::media::config::MediaConfig,
    /// The IRC gateway: ports, limits, timers.
    #[command(flatten)]
    pub irc: crate::irc::config::IrcConfig,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("http_workers", &self.http_workers)
            .field(
                "dburl",
                &if self.dburl.contains('@') {
                    "<redacted>"
                } else {
                    self.dburl.as_str()
                },
            )
            .field("debug", &self.debug)
            .field("max_history", &self.max_history)
            .field("session_timeout", &self.session_timeout)
            .field("max_message_size", &self.max_message_size)
            .field("edit_window", &self.edit_window)
            .field("presence_grace", &self.presence_grace)
            .field("motd", &self.motd)
            .field("server_name", &self.server_name)
            .field("federation_key", &redacted(&self.federation_key))
            .field("public_url", &self.public_url)
            .field("directory_url", &self.directory_url)
            .field("directory_key", &self.directory_key)
            .field("directory_heartbeat_secs", &self.directory_heartbeat_secs)
            .field("directory_pull_secs", &self.directory_pull_secs)
            .field("peers", &self.peers)
            .field("federation_retry_min_ms", &self.federation_retry_min_ms)
            .field("federation_retry_max_ms", &self.federation_retry_max_ms)
            .field("data_dir", &self.data_dir)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("extra_ca_file", &self.extra_ca_file)
            .field("rate_limit_send", &self.rate_limit_send)
            .field("rate_limit_send_overrides", &self.rate_limit_send_overrides)
            .field("rate_limit_login", &self.rate_limit_login)
            .field("rate_limit_federation", &self.rate_limit_federation)
            .field("rate_limit_typing", &self.rate_limit_typing)
            .field("trusted_proxies", &self.trusted_proxies)
            .field("cors_origins", &self.cors_origins)
            .field("metrics_token", &redacted(&self.metrics_token))
            .field("media", &self.media)
            .field("irc", &self.irc)
            .finish()
    }
}

impl Config {
    /// `TLS_CERT`, when set and not empty.
    pub fn tls_cert(&self) -> Option<&Path> {
        non_empty(self.tls_cert.as_deref())
    }

    /// `TLS_KEY`, when set and not empty.
    pub fn tls_key(&self) -> Option<&Path> {
        non_empty(self.tls_key.as_deref())
    }

    /// `EXTRA_CA_FILE`, when set and not empty.
    pub fn extra_ca_file(&self) -> Option<&Path> {
        non_empty(self.extra_ca_file.as_deref())
    }

    /// The configured server name, or this machine's hostname.
    pub fn server_name_or_hostname(&self) -> String {
        server_name_or_hostname(self.server_name.as_deref())
    }

    /// The peers listed in `PEERS`, parsed.
    pub fn manual_peers(&self) -> Result<Vec<(String, String)>, String> {
        self.peers
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|pair| {
                let (name, url) = pair
                    .split_once('=')
                    .ok_or_else(|| format!("PEERS entry {pair:?} is not name=url"))?;
                let name: federation_proto::ids::ServerName =
                    name.trim().parse().map_err(|e| format!("PEERS: {e}"))?;
                let url = url.trim().trim_end_matches('/');
                if !(url.starts_with("http://") || url.starts_with("https://")) {
                    return Err(format!("PEERS: {url:?} is not an http(s) URL"));
                }
                Ok((name.to_string(), url.to_string()))
            })
            .collect()
    }
}

fn non_empty(path: Option<&Path>) -> Option<&Path> {
    path.filter(|p| !p.as_os_str().is_empty())
}

/// `configured` when set and not empty, else this machine's hostname (`localhost` as a last
/// resort): [`federation_proto::host::server_name_or`] with the hostname read here.
pub fn server_name_or_hostname(configured: Option<&str>) -> String {
    federation_proto::host::server_name_or(
        configured,
        [
            std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
            std::env::var("HOSTNAME").ok(),
        ],
    )
}

/// A rate limit: `N/<duration>` (a burst of `count`, refilled evenly over `per`) or off.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum RateLimit {
    /// No limit.
    Off,
    /// At most `count` at once, one more every `per / count`.
    Every {
        /// The burst.
        count: NonZeroU32,
        /// The time in which a whole burst comes back.
        per: Duration,
    },
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RateLimit::Off => f.write_str("off"),
            RateLimit::Every { count, per } => {
                let secs = per.as_secs();
                if secs % 3600 == 0 {
                    write!(f, "{count}/{}h", secs / 3600)
                } else if secs % 60 == 0 {
                    write!(f, "{count}/{}m", secs / 60)
                } else {
                    write!(f, "{count}/{secs}s")
                }
            }
        }
    }
}

impl fmt::Debug for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// The largest burst a limit may name.
const RATE_LIMIT_MAX_COUNT: u32 = 1_000_000;
/// The longest window a limit may name (a day).
const RATE_LIMIT_MAX_SECS: u64 = 86_400;

/// Parses `off` or `N/<duration>`: `10/10s`, `20/1m`, `100/h` (a missing number means 1).
pub fn parse_rate_limit(value: &str) -> Result<RateLimit, String> {
    let value = value.trim();
    let form = "expected N/<duration> such as 10/10s (units s, m, h) or off";
    if value.eq_ignore_ascii_case("off") {
        return Ok(RateLimit::Off);
    }
    let (count, duration) = value
        .split_once('/')
        .ok_or_else(|| format!("{value:?}: {form}"))?;
    let count: u32 = count
        .trim()
        .parse()
        .map_err(|_| format!("{value:?}: the count {count:?} is not a whole number; {form}"))?;
    let count = NonZeroU32::new(count)
        .filter(|c| c.get() <= RATE_LIMIT_MAX_COUNT)
        .ok_or_else(|| {
            format!("{value:?}: the count must be 1 to {RATE_LIMIT_MAX_COUNT} (or use off)")
        })?;
    let duration = duration.trim();
    let unit = duration.chars().last().unwrap_or(' ');
    let number = duration.strip_suffix(unit).unwrap_or_default().trim_end();
    let unit_secs: u64 = match unit {
        's' => 1,
        'm' => 60,
        'h' => 3600,
        _ => {
            return Err(format!(
                "{value:?}: the duration needs a unit s, m or h; {form}"
            ))
        }
    };
    let number: u64 = if number.is_empty() {
        1
    } else {
        number
            .parse()
            .map_err(|_| format!("{value:?}: {number:?} is not a whole number; {form}"))?
    };
    let secs = number.saturating_mul(unit_secs);
    if secs == 0 || secs > RATE_LIMIT_MAX_SECS {
        return Err(format!(
            "{value:?}: the duration must be 1 s to 24 h; {form}"
        ));
    }
    Ok(RateLimit::Every {
        count,
        per: Duration::from_secs(secs),
    })
}

/// `RATE_LIMIT_SEND_OVERRIDES`: nick → its own send limit.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SendOverrides(pub Vec<(String, RateLimit)>);

/// Parses `nick=limit,nick=limit`.
pub fn parse_send_overrides(value: &str) -> Result<SendOverrides, String> {
    let mut out: Vec<(String, RateLimit)> = Vec::new();
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let (nick, limit) = pair
            .split_once('=')
            .ok_or_else(|| format!("{pair:?} is not nick=N/<duration> or nick=off"))?;
        let nick: federation_proto::ids::Nick =
            nick.trim().parse().map_err(|e| format!("{pair:?}: {e}"))?;
        let limit = parse_rate_limit(limit).map_err(|e| format!("{nick}: {e}"))?;
        if out.iter().any(|(n, _)| n == nick.as_str()) {
            return Err(format!("{nick} is listed twice"));
        }
        out.push((nick.as_str().to_string(), limit));
    }
    Ok(SendOverrides(out))
}

/// A list of IP addresses (`TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct IpList(pub Vec<IpAddr>);

/// Parses comma-separated IP addresses.
pub fn parse_ip_list(value: &str) -> Result<IpList, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpAddr>()
                .map_err(|_| format!("{s:?} is not an IP address"))
        })
        .collect::<Result<Vec<_>, _>>()
        .map(IpList)
}

/// `CORS_ORIGINS`: browser origins allowed to call the client API.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Origins(pub Vec<String>);

/// Parses comma-separated origins: `scheme://host[:port]`, no path, no trailing slash.
pub fn parse_origins(value: &str) -> Result<Origins, String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|origin| {
            let rest = origin
                .strip_prefix("https://")
                .or_else(|| origin.strip_prefix("http://"))
                .ok_or_else(|| format!("{origin:?}: an origin starts with https:// or http://"))?;
            if rest.is_empty() || rest.contains('/') || rest.contains('*') {
                return Err(format!(
                    "{origin:?}: an origin is scheme://host[:port], without a path or wildcard"
                ));
            }
            Ok(origin.to_string())
        })
        .collect::<Result<Vec<_>, _>>()
        .map(Origins)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn every(count: u32, secs: u64) -> RateLimit {
        RateLimit::Every {
            count: NonZeroU32::new(count).expect("non-zero"),
            per: Duration::from_secs(secs),
        }
    }

    #[test]
    fn rate_limits_parse() {
        assert_eq!(parse_rate_limit("10/10s"), Ok(every(10, 10)));
        assert_eq!(parse_rate_limit(" 20/60s "), Ok(every(20, 60)));
        assert_eq!(parse_rate_limit("20/1m"), Ok(every(20, 60)));
        assert_eq!(parse_rate_limit("5/2h"), Ok(every(5, 7200)));
        assert_eq!(parse_rate_limit("100/h"), Ok(every(100, 3600)));
        assert_eq!(parse_rate_limit("3/2s"), Ok(every(3, 2)));
        assert_eq!(parse_rate_limit("off"), Ok(RateLimit::Off));
        assert_eq!(parse_rate_limit("OFF"), Ok(RateLimit::Off));
    }

    #[test]
    fn bad_rate_limits_say_why() {
        for bad in [
            "",
            "10",
            "10/",
            "/10s",
            "0/10s",
            "-1/10s",
            "x/10s",
            "10/10",
            "10/10x",
            "10/0s",
            "10/s0",
            "10/5é",
            "10/25h",
            "2000000/1s",
            "10/1.5s",
            "10/10 s x",
        ] {
            let err = parse_rate_limit(bad).expect_err(bad);
            assert!(
                err.contains("N/<duration>") || err.contains("must be"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn rate_limits_print_as_parsed() {
        for text in ["10/10s", "20/1m", "5/2h", "off", "7/90s"] {
            let parsed = parse_rate_limit(text).expect(text);
            assert_eq!(parse_rate_limit(&parsed.to_string()), Ok(parsed));
        }
        assert_eq!(every(20, 60).to_string(), "20/1m");
    }

    #[test]
    fn defaults_are_designs() {
        let cli = Cli::try_parse_from(["homeserver"]).expect("defaults parse");
        assert_eq!(cli.config.rate_limit_send, every(10, 10));
        assert_eq!(cli.config.rate_limit_login, every(20, 60));
        assert_eq!(cli.config.rate_limit_federation, every(1000, 10));
        assert!(cli.config.rate_limit_send_overrides.0.is_empty());
        assert!(cli.config.cors_origins.0.is_empty());
        assert!(cli.config.metrics_token.is_none());
    }

    #[test]
    fn http_workers_default_to_one_per_core_and_refuse_zero() {
        let parse = |args: &[&str]| Cli::try_parse_from([&["homeserver"], args].concat());
        assert_eq!(parse(&[]).expect("parses").config.http_workers, None);
        let one = parse(&["--http-workers", "1"]).expect("parses");
        assert_eq!(one.config.http_workers, Some(1));
        assert!(parse(&["--http-workers", "0"]).is_err());
        assert!(parse(&["--http-workers", "many"]).is_err());
    }

    #[test]
    fn send_overrides_parse() {
        let parsed = parse_send_overrides("EchoBot=100/10s, logger=off").expect("parses");
        assert_eq!(
            parsed.0,
            vec![
                ("echobot".to_string(), every(100, 10)),
                ("logger".to_string(), RateLimit::Off)
            ]
        );
        assert_eq!(parse_send_overrides(""), Ok(SendOverrides::default()));
        assert!(parse_send_overrides("bot").is_err());
        assert!(parse_send_overrides("bot=fast").is_err());
        assert!(parse_send_overrides("x=10/1s").is_err());
        assert!(parse_send_overrides("bot=1/1s,BOT=2/1s").is_err());
    }

    #[test]
    fn proxies_and_origins_parse() {
        assert_eq!(parse_ip_list("127.0.0.1, ::1").expect("parses").0.len(), 2);
        assert!(parse_ip_list("10.0.0.0/8").is_err());
        assert_eq!(
            parse_origins("https://chat.example, http://localhost:3000")
                .expect("parses")
                .0,
            vec!["https://chat.example", "http://localhost:3000"]
        );
        assert!(parse_origins("chat.example").is_err());
        assert!(parse_origins("https://chat.example/").is_err());
        assert!(parse_origins("*").is_err());
    }
}
