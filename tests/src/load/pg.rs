//! Postgres for `hearth-load`: `--dburl` names a Postgres server on loopback and a role that may
//! `CREATE DATABASE`; every homeserver (or group of `--processes` sharing one) that the tool
//! starts gets a fresh database of its own there, `hearth_load_<tag>_<n>`, made with `psql` and
//! dropped when its last user is gone (best effort). Also finds the client tools (`psql`,
//! `pgbench`) and runs them bounded in time.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{bail, Context, Result};

/// How long one `psql` call (create or drop a database, create a table) may take.
const PSQL_TIMEOUT: Duration = Duration::from_secs(60);

static DATABASES: AtomicUsize = AtomicUsize::new(0);

/// A database made for this run on the `--dburl` server; dropped on drop.
pub struct Database {
    /// The `--dburl` it was made through (and is dropped through).
    admin_url: String,
    /// Its name.
    pub name: String,
    /// Its URL, the `DBURL` of the homeservers that use it.
    pub url: String,
    /// The server's postmaster, when it runs on this machine and its `postmaster.pid` can be
    /// read (to measure the cluster's CPU).
    pub postmaster: Option<u32>,
}

impl Database {
    /// Creates `hearth_load_<tag>_<n>` (UTF-8, from `template0`) through `admin_url`.
    pub fn create(admin_url: &str, tag: &str) -> Result<Database> {
        check_loopback(admin_url)?;
        let n = DATABASES.fetch_add(1, Ordering::Relaxed);
        let tag: String = tag
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_lowercase())
            .collect();
        let name = format!("hearth_load_{tag}_{n}");
        let url = with_database(admin_url, &name)?;
        psql(
            admin_url,
            &format!("CREATE DATABASE \"{name}\" ENCODING 'UTF8' TEMPLATE template0"),
        )
        .with_context(|| format!("create the database {name} through --dburl"))?;
        let postmaster = postmaster_pid(&url);
        Ok(Database {
            admin_url: admin_url.to_string(),
            name,
            url,
            postmaster,
        })
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        // `WITH (FORCE)` (Postgres 13+) ends sessions a killed server may have left behind.
        let sql = format!("DROP DATABASE IF EXISTS \"{}\" WITH (FORCE)", self.name);
        if let Err(e) = psql(&self.admin_url, &sql) {
            eprintln!(
                "hearth-load: could not drop the database {}: {e:#}",
                self.name
            );
        }
    }
}

/// Runs one SQL command through `psql` against `url`, stopping at the first error.
pub fn psql(url: &str, sql: &str) -> Result<Output> {
    let mut cmd = tool("psql")?;
    cmd.args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-c", sql]);
    let out = run_bounded(cmd, PSQL_TIMEOUT).context("psql")?;
    if !out.status.success() {
        bail!(
            "psql failed: {}{}",
            String::from_utf8_lossy(&out.stdout).trim(),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(out)
}

/// The postmaster's pid of the server at `url`: `SHOW data_directory` (superuser or
/// `pg_read_all_settings`), then the first line of its `postmaster.pid`, if readable here.
pub fn postmaster_pid(url: &str) -> Option<u32> {
    let mut cmd = tool("psql").ok()?;
    cmd.args(["-X", "-A", "-t", "-d", url, "-c", "SHOW data_directory"]);
    let out = run_bounded(cmd, PSQL_TIMEOUT).ok()?;
    let dir = String::from_utf8_lossy(&out.stdout).trim().to_string();
    if !out.status.success() || dir.is_empty() {
        return None;
    }
    let pidfile = std::fs::read_to_string(Path::new(&dir).join("postmaster.pid")).ok()?;
    let pid: u32 = pidfile.lines().next()?.trim().parse().ok()?;
    // The file may be stale or belong to another machine's server: the process must exist.
    Path::new(&format!("/proc/{pid}")).exists().then_some(pid)
}

/// A command for the Postgres client tool `name` (`psql`, `pgbench`): on `PATH`, or in the
/// server's binary directory (`/usr/lib/postgresql/<version>/bin`), or a clear error.
pub fn tool(name: &str) -> Result<Command> {
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    });
    let found = on_path.or_else(|| {
        crate::postgres::find_bin_dir()
            .map(|dir| dir.join(name))
            .filter(|p| p.is_file())
    });
    let Some(path) = found else {
        bail!(
            "`{name}` not found on PATH or in /usr/lib/postgresql/*/bin: install Postgres's \
             client tools (Debian: `apt-get install postgresql-client` for psql, \
             `postgresql` for pgbench)"
        );
    };
    let mut cmd = Command::new(path);
    cmd.env("PGCONNECT_TIMEOUT", "10").stdin(Stdio::null());
    Ok(cmd)
}

/// Runs `cmd` to completion with its output captured, killing it after `timeout`.
pub fn run_bounded(mut cmd: Command, timeout: Duration) -> Result<Output> {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .context("spawn")?;
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    match rx.recv_timeout(timeout) {
        Ok(out) => Ok(out?),
        Err(_) => {
            let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
            bail!("did not finish within {timeout:?} (killed)")
        }
    }
}

/// `url` with its database replaced by `name` (user, host, port and parameters kept).
pub fn with_database(url: &str, name: &str) -> Result<String> {
    let (scheme, rest) = split_scheme(url)?;
    let (main, query) = match rest.split_once('?') {
        Some((main, query)) => (main, format!("?{query}")),
        None => (rest, String::new()),
    };
    let authority = main.split('/').next().unwrap_or_default();
    Ok(format!("{scheme}://{authority}/{name}{query}"))
}

fn split_scheme(url: &str) -> Result<(&str, &str)> {
    match url.split_once("://") {
        Some((scheme @ ("postgres" | "postgresql"), rest)) => Ok((scheme, rest)),
        _ => bail!("--dburl must be a postgres:// or postgresql:// URL, not {url:?}"),
    }
}

/// Refuses a `--dburl` whose host is not loopback (or a local socket).
pub fn check_loopback(url: &str) -> Result<()> {
    let (_, rest) = split_scheme(url)?;
    let (main, query) = rest.split_once('?').unwrap_or((rest, ""));
    let authority = main.split('/').next().unwrap_or_default();
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if let Some(v6) = hostport.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        hostport.split(':').next().unwrap_or_default()
    };
    let local = |h: &str| matches!(h, "" | "127.0.0.1" | "localhost" | "::1");
    let query_hosts_local = query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .filter(|(k, _)| *k == "host" || *k == "hostaddr")
        .all(|(_, v)| v.starts_with('/') || v.starts_with("%2F") || local(v));
    if !local(host) || !query_hosts_local {
        bail!("only a loopback Postgres may be used (127.0.0.1, localhost, ::1 or a socket), not {url}");
    }
    Ok(())
}

/// Copies the signing key files (`signing.key` and any kept old keys) of one data directory
/// into another, so that a second process serves as the same server.
pub fn copy_signing_keys(from: &Path, to: &Path) -> Result<usize> {
    let mut copied = 0;
    for entry in std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))? {
        let entry = entry?;
        let name = entry.file_name();
        if name.to_string_lossy().starts_with("signing") && entry.path().is_file() {
            let dest: PathBuf = to.join(&name);
            std::fs::copy(entry.path(), &dest).with_context(|| {
                format!("copy {} to {}", entry.path().display(), dest.display())
            })?;
            copied += 1;
        }
    }
    if copied == 0 {
        bail!("no signing key in {}", from.display());
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_database_of_a_url_is_replaced() {
        let url = "postgres://u:p@127.0.0.1:55440/postgres?sslmode=disable";
        assert_eq!(
            with_database(url, "hearth_load_a_0").unwrap(),
            "postgres://u:p@127.0.0.1:55440/hearth_load_a_0?sslmode=disable"
        );
        assert_eq!(
            with_database("postgresql://localhost", "d").unwrap(),
            "postgresql://localhost/d"
        );
        assert!(with_database("mysql://localhost/x", "d").is_err());
    }

    #[test]
    fn only_loopback_servers() {
        for ok in [
            "postgres://postgres@127.0.0.1:55440/postgres",
            "postgres://localhost/postgres",
            "postgres://[::1]:5432/x",
            "postgres:///postgres?host=/tmp/pgload",
        ] {
            assert!(check_loopback(ok).is_ok(), "{ok}");
        }
        for bad in [
            "postgres://db.example:5432/x",
            "postgres://10.0.0.1/x",
            "postgres://localhost/x?host=db.example",
        ] {
            assert!(check_loopback(bad).is_err(), "{bad}");
        }
    }
}
