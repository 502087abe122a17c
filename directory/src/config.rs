//! Configuration: every setting is a flag and an environment variable (also read from a `.env`
//! file in the working directory), with DESIGN.md's defaults. `directory --help` lists them all.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{Args, Parser, Subcommand};
use federation_proto::backoff::Backoff;
use federation_proto::tls::{TlsFileError, TlsSettings};

/// Command line of the `directory` binary.
#[derive(Debug, Parser)]
#[command(
    name = "directory",
    version,
    about = "Hearth directory: homeserver registration, signed announcements to every peer, a pull list with a cursor"
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
    /// Run the service (the default).
    Serve,
    /// Operator commands on the registered servers. They work on the database in DATA_DIR
    /// directly; a running service pushes the entries they append within a few seconds.
    Servers {
        /// What to do.
        #[command(subcommand)]
        action: ServersCommand,
    },
}

/// `directory servers …`
#[derive(Debug, Subcommand)]
pub enum ServersCommand {
    /// List every server the directory knows, with its status and push state.
    List {
        /// One JSON array on stdout instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Mark a server gone (announced to every peer). It may register again, with any key:
    /// removal releases the name from the key on record (and lifts a ban).
    Remove {
        /// The server's name.
        name: String,
    },
    /// Mark a server gone and refuse its registrations from now on (403 `banned`).
    Ban {
        /// The server's name.
        name: String,
    },
}

/// Every setting of the directory.
#[derive(Clone, Args)]
pub struct Config {
    /// TCP port to listen on; 0 picks a free one (printed on the `listening on` line).
    #[arg(long, global = true, env = "PORT", default_value_t = 8080)]
    pub port: u16,
    /// Address to bind.
    #[arg(long, global = true, env = "BIND", default_value = "0.0.0.0")]
    pub bind: String,
    /// Where the database and the signing key live.
    #[arg(long, global = true, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,
    /// The directory's name (DNS name, optionally with a port); defaults to the hostname. It
    /// signs every entry as this name and is the `destination` of signed requests to it.
    #[arg(long, global = true, env = "SERVER_NAME")]
    pub server_name: Option<String>,
    /// Public base URL of the directory (what homeservers set as DIRECTORY_URL); informational.
    #[arg(long, global = true, env = "PUBLIC_URL")]
    pub public_url: Option<String>,
    /// Database URL; empty means a SQLite file `directory.db` in the data directory.
    #[arg(long, global = true, env = "DBURL", default_value = "")]
    pub dburl: String,
    /// Seconds without a heartbeat (or registration) after which a server is marked gone.
    #[arg(long, global = true, env = "SERVER_TTL", default_value_t = 900, value_parser = clap::value_parser!(u64).range(1..=31_536_000))]
    pub server_ttl: u64,
    /// First retry delay (ms) of a failed push to a peer; doubles per failure, ±20% jitter.
    #[arg(long, global = true, env = "PUSH_RETRY_MIN_MS", default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(1..=86_400_000))]
    pub push_retry_min_ms: u64,
    /// Longest retry delay (ms) of a failed push.
    #[arg(long, global = true, env = "PUSH_RETRY_MAX_MS", default_value_t = 900_000, value_parser = clap::value_parser!(u64).range(1..=604_800_000))]
    pub push_retry_max_ms: u64,
    /// Seconds between two checks for servers whose heartbeats stopped.
    #[arg(long, global = true, env = "EXPIRY_CHECK_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub expiry_check_secs: u64,
    /// Verbose tracing (`true`/`false`).
    #[arg(long, global = true, env = "DEBUG", default_value = "false", value_parser = BoolishValueParser::new(),
          num_args = 0..=1, default_missing_value = "true")]
    pub debug: bool,
    /// Serve HTTPS with this certificate chain (PEM, the directory's certificate first); needs
    /// TLS_KEY. Without both, the directory speaks plain HTTP (e.g. behind a TLS proxy).
    #[arg(long, global = true, env = "TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// The private key (PEM) of TLS_CERT.
    #[arg(long, global = true, env = "TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// Certificates (PEM, one or several) of a private CA to trust for outbound HTTPS (key
    /// fetches on registration, pushes to peers), besides the usual public roots.
    #[arg(long, global = true, env = "EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("port", &self.port)
            .field("bind", &self.bind)
            .field("data_dir", &self.data_dir)
            .field("server_name", &self.server_name)
            .field("public_url", &self.public_url)
            .field(
                "dburl",
                &if self.dburl.contains('@') {
                    "<redacted>"
                } else {
                    self.dburl.as_str()
                },
            )
            .field("server_ttl", &self.server_ttl)
            .field("push_retry_min_ms", &self.push_retry_min_ms)
            .field("push_retry_max_ms", &self.push_retry_max_ms)
            .field("expiry_check_secs", &self.expiry_check_secs)
            .field("debug", &self.debug)
            .field("tls_cert", &self.tls_cert)
            .field("tls_key", &self.tls_key)
            .field("extra_ca_file", &self.extra_ca_file)
            .finish()
    }
}

impl Config {
    /// The configured server name, or this machine's hostname.
    pub fn server_name_or_hostname(&self) -> String {
        federation_proto::host::server_name_or(
            self.server_name.as_deref(),
            [
                std::fs::read_to_string("/proc/sys/kernel/hostname").ok(),
                std::env::var("HOSTNAME").ok(),
            ],
        )
    }

    /// `SERVER_TTL` in milliseconds.
    pub fn server_ttl_ms(&self) -> i64 {
        i64::try_from(self.server_ttl.saturating_mul(1000)).unwrap_or(i64::MAX)
    }

    /// The push backoff bounds, with the maximum never below the minimum.
    pub fn push_backoff(&self) -> Backoff {
        Backoff::new(self.push_retry_min_ms, self.push_retry_max_ms)
    }

    /// `TLS_CERT`, `TLS_KEY` and `EXTRA_CA_FILE` read and checked (an empty setting is unset).
    pub fn tls(&self) -> Result<TlsSettings, TlsFileError> {
        let set = |p: &Option<PathBuf>| p.clone().filter(|p| !p.as_os_str().is_empty());
        TlsSettings::load(
            set(&self.tls_cert).as_deref(),
            set(&self.tls_key).as_deref(),
            set(&self.extra_ca_file).as_deref(),
            |path| std::fs::read(path),
        )
    }

    /// How often the expiry worker looks for silent servers.
    pub fn expiry_period(&self) -> Duration {
        Duration::from_secs(self.expiry_check_secs.max(1))
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[test]
    fn defaults_match_the_design() {
        let cli = Cli::try_parse_from(["directory"]).unwrap();
        let c = cli.config;
        assert_eq!(c.port, 8080);
        assert_eq!(c.bind, "0.0.0.0");
        assert_eq!(c.data_dir, PathBuf::from("./data"));
        assert_eq!(c.dburl, "");
        assert_eq!(c.server_ttl, 900);
        assert_eq!(c.push_retry_min_ms, 5_000);
        assert_eq!(c.push_retry_max_ms, 900_000);
        assert_eq!(c.expiry_check_secs, 30);
        assert!(!c.debug);
        assert!(cli.command.is_none());
    }

    #[test]
    fn flags_and_subcommands_parse() {
        let cli = Cli::try_parse_from([
            "directory",
            "--debug",
            "--port",
            "0",
            "--server-ttl",
            "1",
            "servers",
            "ban",
            "hs1.example",
        ])
        .unwrap();
        assert_eq!(cli.config.port, 0);
        assert_eq!(cli.config.server_ttl_ms(), 1000);
        assert!(cli.config.debug);
        assert!(matches!(
            cli.command,
            Some(Command::Servers {
                action: ServersCommand::Ban { ref name }
            }) if name == "hs1.example"
        ));
        assert!(Cli::try_parse_from(["directory", "--server-ttl", "0"]).is_err());
    }

    #[test]
    fn backoff_max_is_never_below_min() {
        let mut cli = Cli::try_parse_from(["directory"]).unwrap();
        cli.config.push_retry_min_ms = 10_000;
        cli.config.push_retry_max_ms = 10;
        let b = cli.config.push_backoff();
        assert_eq!((b.min_ms, b.max_ms), (10_000, 10_000));
    }
}
