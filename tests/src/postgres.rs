//! A throwaway Postgres cluster for one test: `initdb` into a temporary directory (trust auth),
//! `pg_ctl start` on a free loopback port with its socket in that directory, a fresh database
//! per [`PgCluster::database`], and `pg_ctl -m immediate stop` on drop. Never touches a system
//! cluster.
//!
//! Homeservers connect as [`ROLE`], a role that owns its database and is not a superuser, as
//! docs/postgres.md tells operators to set one up: nothing they do may need more. The tests'
//! own queries ([`PgCluster::query`]) run as the superuser `postgres`.
//!
//! Without Postgres binaries, [`PgCluster::start_or_skip`] prints "postgres not available:
//! skipping" and returns `None`; with `CI=true` it panics instead, so CI never skips.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Where Debian, the official images and source builds put the server binaries.
const SEARCH: &[&str] = &[
    "/usr/local/bin",
    "/usr/lib/postgresql",
    "/usr/local/pgsql/bin",
];

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// The role homeservers connect as: it owns the databases [`PgCluster::database`] makes, and is
/// not a superuser.
pub const ROLE: &str = "hearth";

/// A running throwaway cluster; stopped when dropped.
pub struct PgCluster {
    bin: PathBuf,
    dir: tempfile::TempDir,
    port: u16,
    /// Run the server binaries as this OS user (initdb refuses to run as root).
    run_as: Option<&'static str>,
}

/// The directory holding `initdb` and `pg_ctl`, if Postgres is installed.
pub fn find_bin_dir() -> Option<PathBuf> {
    // Follow symlinks (/usr/local/bin/initdb → /usr/lib/postgresql/15/bin/initdb) to the
    // directory that also holds `createdb` of the same version.
    find_link_dir().map(|dir| {
        dir.join("initdb")
            .canonicalize()
            .ok()
            .and_then(|p| p.parent().map(Path::to_path_buf))
            .unwrap_or(dir)
    })
}

fn find_link_dir() -> Option<PathBuf> {
    let has = |dir: &Path| dir.join("initdb").is_file() && dir.join("pg_ctl").is_file();
    if let Some(path) = std::env::var_os("PATH") {
        if let Some(dir) = std::env::split_paths(&path).find(|d| has(d)) {
            return Some(dir);
        }
    }
    for base in SEARCH {
        let base = Path::new(base);
        if has(base) {
            return Some(base.to_path_buf());
        }
        // /usr/lib/postgresql/<version>/bin: the newest version first.
        let mut versions: Vec<PathBuf> = std::fs::read_dir(base)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path().join("bin"))
            .filter(|d| has(d))
            .collect();
        versions.sort();
        if let Some(dir) = versions.pop() {
            return Some(dir);
        }
    }
    None
}

fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free loopback port")
}

impl PgCluster {
    /// Starts a cluster, or says why not and returns `None` (panics when `CI=true`).
    pub fn start_or_skip(test: &str) -> Option<PgCluster> {
        match Self::start() {
            Ok(cluster) => Some(cluster),
            Err(why) if is_ci() => panic!("{test}: postgres not available in CI: {why}"),
            Err(why) => {
                eprintln!("{test}: postgres not available: skipping ({why})");
                None
            }
        }
    }

    /// Starts a throwaway cluster.
    pub fn start() -> Result<PgCluster, String> {
        let bin = find_bin_dir().ok_or("initdb/pg_ctl not found")?;
        let dir = tempfile::Builder::new()
            .prefix("hearth-pg-")
            .tempdir()
            .map_err(|e| format!("tempdir: {e}"))?;
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0");
        let run_as = if root {
            let chown = Command::new("chown")
                .args(["-R", "postgres:"])
                .arg(dir.path())
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                return Err("running as root and there is no `postgres` user".into());
            }
            Some("postgres")
        } else {
            None
        };
        let mut cluster = PgCluster {
            bin,
            dir,
            port: 0,
            run_as,
        };
        let data = cluster.data_dir();
        let out = cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "--auth=trust",
                "-U",
                "postgres",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        check("initdb", &out)?;
        // A free port can be taken between our probe and the server's bind: try a few.
        let mut last = String::new();
        for _ in 0..5 {
            cluster.port = free_port();
            let opts = format!(
                "-p {} -k {} -c listen_addresses=127.0.0.1 -c fsync=off \
                 -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 \
                 -c shared_buffers=16MB",
                cluster.port,
                cluster.dir.path().display()
            );
            let log = cluster.dir.path().join("server.log");
            let out = cluster.run(
                "pg_ctl",
                &[
                    "-w",
                    "-t",
                    "60",
                    "-D",
                    &data,
                    "-l",
                    &log.to_string_lossy(),
                    "-o",
                    &opts,
                    "start",
                ],
            )?;
            if out.status.success() {
                cluster.try_query(
                    "postgres",
                    &format!("CREATE ROLE {ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE"),
                )?;
                return Ok(cluster);
            }
            last = format!(
                "{}\n{}",
                String::from_utf8_lossy(&out.stderr),
                std::fs::read_to_string(&log).unwrap_or_default()
            );
        }
        Err(format!("pg_ctl start failed: {last}"))
    }

    fn data_dir(&self) -> String {
        self.dir.path().join("data").to_string_lossy().into_owned()
    }

    fn run(&self, tool: &str, args: &[&str]) -> Result<Output, String> {
        let exe = self.bin.join(tool);
        let mut cmd = match self.run_as {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&exe);
                c
            }
            None => Command::new(&exe),
        };
        cmd.args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("{tool}: {e}"))
    }

    /// The cluster's port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Runs `sql` with `psql` in the database of `dburl` (made by [`PgCluster::database`]) and
    /// returns its output, unaligned and without headers.
    pub fn query(&self, dburl: &str, sql: &str) -> String {
        self.try_query(dburl, sql).expect("psql")
    }

    /// [`PgCluster::query`], or what `psql` said when it failed (an error raised, no server).
    pub fn try_query(&self, dburl: &str, sql: &str) -> Result<String, String> {
        let name = dburl.rsplit('/').next().expect("a database name");
        let port = self.port.to_string();
        let sock = self.dir.path().to_string_lossy().into_owned();
        let out = self.run(
            "psql",
            &[
                "-h",
                &sock,
                "-p",
                &port,
                "-U",
                "postgres",
                "-At",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                sql,
                name,
            ],
        )?;
        check("psql", &out)?;
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
    }

    /// Crashes Postgres as a fault would: one of the database's client backends is killed with
    /// SIGKILL, so the postmaster ends every other process, runs crash recovery and takes
    /// connections again (this returns once it does). Every connection is gone, the commits
    /// not yet flushed are lost, unlogged tables are emptied.
    pub fn crash(&self, dburl: &str) {
        let pid = self.query(
            dburl,
            "SELECT pid FROM pg_stat_activity WHERE backend_type = 'client backend' \
             AND datname = current_database() AND pid <> pg_backend_pid() LIMIT 1",
        );
        assert!(!pid.is_empty(), "a connection to crash Postgres with");
        const READY: &str = "database system is ready to accept connections";
        let log = self.dir.path().join("server.log");
        let readies = || {
            std::fs::read_to_string(&log)
                .unwrap_or_default()
                .matches(READY)
                .count()
        };
        let before = readies();
        let killed = Command::new("kill")
            .args(["-KILL", &pid])
            .status()
            .expect("kill");
        assert!(killed.success(), "kill -KILL {pid}");
        // Recovery takes well under a second here; the deadline only bounds the wait.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            std::thread::sleep(std::time::Duration::from_millis(100));
            if readies() > before
                && self
                    .try_query(dburl, "SELECT 1")
                    .is_ok_and(|one| one == "1")
            {
                return;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "Postgres did not take connections again within 60 s of the crash"
            );
        }
    }

    /// Creates a fresh database and returns its `DBURL`.
    pub fn database(&self) -> String {
        let name = format!(
            "hearth_{}_{}",
            std::process::id(),
            DATABASES.fetch_add(1, Ordering::Relaxed)
        );
        let port = self.port.to_string();
        let sock = self.dir.path().to_string_lossy().into_owned();
        let out = self
            .run(
                "createdb",
                &[
                    "-h", &sock, "-p", &port, "-U", "postgres", "--owner", ROLE, &name,
                ],
            )
            .expect("createdb");
        check("createdb", &out).expect("createdb");
        format!("postgres://{ROLE}@127.0.0.1:{}/{name}", self.port)
    }
}

fn check(what: &str, out: &Output) -> Result<(), String> {
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what} failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        if self.port != 0 {
            let data = self.data_dir();
            let _ = self.run("pg_ctl", &["-D", &data, "-m", "immediate", "-w", "stop"]);
        }
    }
}

/// Two homeserver processes of `hs1.test` on the database at `url`, as behind a load balancer:
/// the second runs on the first's data directory (the same server name and signing key). Both
/// get `env` too.
pub fn two_processes(
    url: &str,
    env: &[(&str, &str)],
) -> (crate::process::ServerProcess, crate::process::ServerProcess) {
    use crate::process::ServerProcess;
    let mut first = vec![("DBURL", url)];
    first.extend_from_slice(env);
    let a = ServerProcess::start_with("hs1.test", &first);
    let data = a.data_dir().to_string_lossy().into_owned();
    let mut second = first.clone();
    second.push(("DATA_DIR", data.as_str()));
    let b = ServerProcess::start_with("hs1.test", &second);
    (a, b)
}
