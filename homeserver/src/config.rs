//! Configuration: every setting is a flag and an environment variable (also read from a `.env`
//! file in the working directory), with DESIGN.md's defaults. `homeserver --help` lists them all.

use std::fmt;
use std::path::PathBuf;

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
    /// Message of the day.
    #[arg(long, env = "MOTD", default_value = "")]
    pub motd: String,
    /// This server's name (DNS name, optionally with a port); defaults to the hostname.
    #[arg(long, env = "SERVER_NAME")]
    pub server_name: Option<String>,
    /// Shared secret restricting federation to servers that prove they know it.
    #[arg(long, env = "FEDERATION_KEY")]
    pub federation_key: Option<String>,
    /// Public base URL of this server (for federation); defaults to http://SERVER_NAME.
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
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let redacted = |s: &Option<String>| s.as_ref().map(|_| "<redacted>");
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("bind", &self.bind)
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
            .finish()
    }
}

impl Config {
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
