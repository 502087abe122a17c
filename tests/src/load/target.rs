//! The server under load: a homeserver this tool starts through the harness (release or
//! debug binaries next to `hearth-load`), or one already running at a loopback `--url`.

use std::path::PathBuf;
use std::rc::Rc;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use super::client::Http;
use super::pg::Database;
use super::procfs;
use super::Common;
use crate::network;
use crate::process::ServerProcess;

/// Points the harness at the server binaries that sit next to this executable
/// (`target/<profile>/`), unless `HEARTH_<NAME>_BIN` is already set.
pub fn use_sibling_binaries() {
    let Some(dir) = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(PathBuf::from))
    else {
        return;
    };
    for name in ["homeserver", "directory"] {
        let var = format!("HEARTH_{}_BIN", name.to_uppercase());
        if std::env::var_os(&var).is_none() && dir.join(name).exists() {
            // Called at start-up, before any other thread exists.
            std::env::set_var(var, dir.join(name));
        }
    }
}

/// Refuses anything but loopback.
pub fn check_loopback(url: &str) -> Result<()> {
    let ok = ["http://127.0.0.1:", "http://localhost:", "http://[::1]:"]
        .iter()
        .any(|p| url.starts_with(p));
    if !ok {
        bail!("only loopback servers may be targeted, not {url}");
    }
    Ok(())
}

/// A homeserver under load.
pub struct Target {
    /// A client for it.
    pub http: Http,
    /// Its pid, when known (spawned, or `--pid`).
    pub pid: Option<u32>,
    /// The harness process, when this tool started it.
    pub process: Option<ServerProcess>,
    /// Its Postgres database under `--dburl` (shared by the processes of a group); after
    /// `process`, so that it is dropped once the process is gone.
    pub database: Option<Rc<Database>>,
}

impl Target {
    /// Uses `--url` if given, or starts a homeserver named `name` with `env` and then
    /// `--server-env`.
    pub fn homeserver(common: &Common, name: &str, env: &[(&str, &str)]) -> Result<Target> {
        if let Some(url) = &common.url {
            check_loopback(url)?;
            return Ok(Target {
                http: Http::new(url),
                pid: common.pid,
                process: None,
                database: None,
            });
        }
        let database = new_database(common)?;
        let all = server_env(common, env, database.as_deref());
        let all: Vec<(&str, &str)> = all.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let process = start(|| ServerProcess::start_with(name, &all))?;
        Ok(Target::spawned(process).on(database))
    }

    /// Records the database this target's process uses (kept until the target is dropped).
    pub fn on(mut self, database: Option<Rc<Database>>) -> Target {
        self.database = database;
        self
    }

    /// Wraps a process started by the harness.
    pub fn spawned(process: ServerProcess) -> Target {
        let pid = procfs::child_with_data_dir(process.data_dir());
        Target {
            http: Http::new(&process.url),
            pid,
            process: Some(process),
            database: None,
        }
    }

    /// Peak RSS so far, in KiB.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        self.pid.and_then(procfs::peak_rss_kib)
    }

    /// CPU time used so far, in clock ticks.
    pub fn cpu_ticks(&self) -> Option<u64> {
        self.pid.and_then(procfs::cpu_ticks)
    }

    /// Notes the server's average CPU use (in cores) between `before` and now.
    pub fn note_cpu(&self, report: &mut super::report::Report, before: Option<u64>, secs: f64) {
        if let (Some(b), Some(a)) = (before, self.cpu_ticks()) {
            if secs > 0.0 {
                // Linux reports CPU time in 1/100 s.
                let cores = (a.saturating_sub(b)) as f64 / 100.0 / secs;
                report.note("server_cpu_cores", (cores * 100.0).round() / 100.0);
            }
        }
    }

    /// Notes the peak RSS and the sizes of the database files.
    pub fn finish(&self, report: &mut super::report::Report) {
        report.server_peak_rss_kib = self.peak_rss_kib();
        if let Some(kib) = self.rss_kib() {
            report.note("server_rss_kib_end", kib);
        }
        if let Some(db) = &self.database {
            report.note("database", db.name.as_str());
        } else if let Some(dir) = self.data_dir() {
            for file in ["hearth.db", "hearth.db-wal"] {
                if let Some(size) = self.data_file_size(file) {
                    report.note(&format!("{file}_bytes"), size);
                }
            }
            report.note("data_dir", dir);
        }
    }

    /// Current RSS, in KiB.
    pub fn rss_kib(&self) -> Option<u64> {
        self.pid.and_then(procfs::rss_kib)
    }

    /// Size in bytes of a file in the data directory (`hearth.db-wal`, …).
    pub fn data_file_size(&self, file: &str) -> Option<u64> {
        let dir = self.process.as_ref()?.data_dir();
        Some(std::fs::metadata(dir.join(file)).map_or(0, |m| m.len()))
    }

    /// The data directory, if this tool started the server.
    pub fn data_dir(&self) -> Option<String> {
        Some(self.process.as_ref()?.data_dir().display().to_string())
    }

    /// Waits until `hearth_active_long_polls` reaches at least `want` (or `within` passes);
    /// returns the last value read.
    pub async fn wait_polls_at_least(&self, want: f64, within: Duration) -> f64 {
        self.wait_polls(within, |v| v >= want).await
    }

    /// Waits until `hearth_active_long_polls` satisfies `done` (or `within` passes).
    pub async fn wait_polls(&self, within: Duration, done: impl Fn(f64) -> bool) -> f64 {
        self.wait_metric("hearth_active_long_polls", within, done)
            .await
    }

    /// Waits until the gauge `name` is at least `want` (or `within` passes).
    pub async fn wait_metric_at_least(&self, name: &str, want: f64, within: Duration) -> f64 {
        self.wait_metric(name, within, |v| v >= want).await
    }

    /// Waits until the gauge `name` satisfies `done` (or `within` passes).
    pub async fn wait_metric(
        &self,
        name: &str,
        within: Duration,
        done: impl Fn(f64) -> bool,
    ) -> f64 {
        let deadline = std::time::Instant::now() + within;
        let mut last = -1.0;
        while std::time::Instant::now() < deadline {
            if let Ok(v) = self.http.metric(name).await {
                last = v;
                if done(v) {
                    break;
                }
            }
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
        last
    }
}

/// A fresh database on the `--dburl` server, if one is given.
pub fn new_database(common: &Common) -> Result<Option<Rc<Database>>> {
    match &common.dburl {
        Some(url) if common.url.is_none() => {
            Ok(Some(Rc::new(Database::create(url, &super::tag())?)))
        }
        _ => Ok(None),
    }
}

/// The environment of a homeserver this tool starts: rate limits off (explicit, though the
/// harness defaults to it: `--server-env RATE_LIMIT_SEND=10/10s` measures a limit), then the
/// scenario's `env`, `DBURL` of `database`, and `--server-env` last (it wins).
pub fn server_env<'a>(
    common: &'a Common,
    env: &[(&'a str, &'a str)],
    database: Option<&Database>,
) -> Vec<(&'a str, String)> {
    let mut all: Vec<(&str, String)> = crate::process::RATE_LIMITS_OFF
        .iter()
        .map(|var| (*var, "off".to_string()))
        .collect();
    all.extend(env.iter().map(|(k, v)| (*k, v.to_string())));
    if let Some(db) = database {
        all.push(("DBURL", db.url.clone()));
    }
    all.extend(
        common
            .server_env
            .iter()
            .map(|(k, v)| (k.as_str(), v.clone())),
    );
    all
}

/// Runs a harness start function, turning its panic into an error.
pub fn start(f: impl FnOnce() -> ServerProcess) -> Result<ServerProcess> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .ok()
        .context("the server did not start (see the panic message above)")
}

/// A directory and two registered homeservers that know each other.
pub struct Pair {
    /// The directory (kept alive).
    pub _directory: ServerProcess,
    /// The sending side.
    pub hs1: Target,
    /// The receiving side.
    pub hs2: Target,
}

impl Pair {
    /// Starts the directory and `hs1.load`, `hs2.load` (each on a fresh database of
    /// `--dburl`, if given), and waits until they see each other.
    pub async fn start(common: &Common) -> Result<Pair> {
        let directory = start(network::start_directory)?;
        let key = network::directory_key(&directory).await;
        let (db1, db2) = (new_database(common)?, new_database(common)?);
        let homeserver = |name: &str, db: Option<&Rc<Database>>| {
            let env: Vec<(&str, &str)> =
                db.map(|d| ("DBURL", d.url.as_str())).into_iter().collect();
            start(|| network::start_homeserver_with(name, &directory, &key, &env))
        };
        let hs1 = homeserver("hs1.load", db1.as_ref())?;
        let hs2 = homeserver("hs2.load", db2.as_ref())?;
        network::wait_for_peers(&hs1, &["hs2.load"]).await;
        network::wait_for_peers(&hs2, &["hs1.load"]).await;
        Ok(Pair {
            _directory: directory,
            hs1: Target::spawned(hs1).on(db1),
            hs2: Target::spawned(hs2).on(db2),
        })
    }
}
