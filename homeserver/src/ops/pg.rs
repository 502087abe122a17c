//! Running Postgres's own tools on `DBURL`'s database: `pg_dump` (custom format, one
//! repeatable-read snapshot, so writers go on) and `pg_restore`. The password never goes on
//! their command line (other users of the machine could read it in `ps`): it is taken out of
//! the URL and passed in `PGPASSWORD`. The tools come from `PATH`; they must be at least the
//! server's major version.

use std::path::Path;
use std::process::{Command, Stdio};

use anyhow::{bail, Context as _};

/// A URL without its password, and the password (percent-decoded), if it had one.
pub fn split_password(url: &str) -> (String, Option<String>) {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return (url.to_string(), None);
    };
    let rest = &url[scheme_end..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return (url.to_string(), None);
    };
    let userinfo = &authority[..at];
    let Some((user, password)) = userinfo.split_once(':') else {
        return (url.to_string(), None);
    };
    let stripped = format!(
        "{}{user}{}{}",
        &url[..scheme_end],
        &authority[at..],
        &rest[authority_end..]
    );
    (stripped, Some(percent_decode(password)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let (Some(h), Some(l)) = (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn tool(name: &str, dburl: &str) -> (Command, String) {
    let (url, password) = split_password(dburl);
    let mut cmd = Command::new(name);
    if let Some(password) = password {
        cmd.env("PGPASSWORD", password);
    }
    cmd.stdin(Stdio::null());
    (cmd, url)
}

fn run(mut cmd: Command, name: &str) -> anyhow::Result<()> {
    let out = cmd.output().with_context(|| {
        format!("cannot run {name}: is the Postgres client installed (postgresql-client)?")
    })?;
    if !out.status.success() {
        bail!(
            "{name} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

/// `pg_dump --format=custom` of `dburl`'s database into `file`.
pub fn dump(dburl: &str, file: &Path) -> anyhow::Result<()> {
    let (mut cmd, url) = tool("pg_dump", dburl);
    cmd.arg("--format=custom")
        // `writer_eras` only means something to the cluster that wrote it (`db::flusher`).
        .arg("--no-unlogged-table-data")
        .arg("--no-owner")
        .arg("--no-privileges")
        .arg("--file")
        .arg(file)
        .arg("--dbname")
        .arg(url);
    run(cmd, "pg_dump")
}

/// `pg_restore` of `file` into `dburl`'s (empty) database, in one transaction.
pub fn restore(dburl: &str, file: &Path) -> anyhow::Result<()> {
    let (mut cmd, url) = tool("pg_restore", dburl);
    cmd.arg("--no-owner")
        .arg("--no-privileges")
        .arg("--exit-on-error")
        .arg("--single-transaction")
        .arg("--dbname")
        .arg(url)
        .arg(file);
    run(cmd, "pg_restore")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_leave_the_url() {
        assert_eq!(
            split_password("postgres://u:p%40ss@h:5432/db?sslmode=require"),
            (
                "postgres://u@h:5432/db?sslmode=require".to_string(),
                Some("p@ss".to_string())
            )
        );
        assert_eq!(
            split_password("postgres://postgres@127.0.0.1:5/x"),
            ("postgres://postgres@127.0.0.1:5/x".to_string(), None)
        );
        assert_eq!(
            split_password("postgresql://h/db"),
            ("postgresql://h/db".to_string(), None)
        );
        assert_eq!(
            split_password("postgres://u:a%2"),
            ("postgres://u:a%2".to_string(), None)
        );
    }
}
