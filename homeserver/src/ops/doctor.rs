//! `homeserver doctor`: checks a deployment with the server's configuration and says what is
//! wrong in plain words. Each finding is `ok`, `warn` or `fail`; any `fail` makes the exit
//! status non-zero.
//!
//! The checks: the data directory (exists, writable, not readable by other users), the
//! signing key (format, mode 0600), the database (reachable, fully migrated, not newer than
//! this binary), `PUBLIC_URL` reachable from this machine and answering as this server (its
//! health and key document), the TLS certificate's dates (`TLS_CERT`), and, with
//! `DIRECTORY_URL`, whether the directory lists this server with its URL and key.

use std::collections::HashSet;
use std::fs::{self, OpenOptions};
use std::io;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::bail;
use federation_proto::api::client::paths as client_paths;
use federation_proto::api::directory::paths as directory_paths;
use federation_proto::api::federation::paths as federation_paths;
use federation_proto::time::format_rfc3339_ms;
use federation_proto::tls::TlsSettings;
use serde::Serialize;
use serde_json::{json, Value};

use super::DoctorArgs;
use crate::config::Config;
use crate::db::ops as dbops;
use crate::db::Backend;
use crate::keystore::{KeyStore, KeyStoreError};

/// A certificate that expires within this many days is a warning.
const CERT_WARN_DAYS: i64 = 14;

/// How a check went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but should be looked at.
    Warn,
    /// Broken.
    Fail,
}

/// One finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What was checked (`data_dir`, `signing_key`, `database`, `public_url`, `tls`,
    /// `directory`).
    pub check: &'static str,
    /// How it went.
    pub status: Status,
    /// What was found, in plain words.
    pub message: String,
}

fn finding(check: &'static str, status: Status, message: impl Into<String>) -> Finding {
    Finding {
        check,
        status,
        message: message.into(),
    }
}

/// Runs `homeserver doctor`.
pub fn run(config: &Config, args: DoctorArgs) -> anyhow::Result<()> {
    let timeout = Duration::from_secs(args.timeout);
    let mut findings = vec![data_dir(&config.data_dir)];
    let key = signing_key(&config.data_dir);
    let public_key = key.1;
    findings.push(key.0);
    findings.push(database(config));
    findings.push(tls(config));
    let tls_client = TlsSettings::load(None, None, config.extra_ca_file(), |p| fs::read(p));
    let url = public_url(config);
    match tls_client {
        Ok(tls) => {
            let client_config = tls.client;
            let network = actix_web::rt::System::new().block_on(async {
                let http = awc::Client::builder()
                    .connector(awc::Connector::new().rustls_0_23(Arc::clone(&client_config)))
                    .timeout(timeout)
                    .disable_redirects()
                    .finish();
                let server_name = config.server_name_or_hostname();
                let mut out =
                    vec![public_url_check(&http, &url, &server_name, public_key.as_deref()).await];
                out.push(directory(&http, config, &url, &server_name, public_key.as_deref()).await);
                out
            });
            findings.extend(network);
        }
        Err(e) => findings.push(finding(
            "public_url",
            Status::Fail,
            format!("cannot set up HTTPS to check PUBLIC_URL: {e}"),
        )),
    }

    let failed = findings.iter().filter(|f| f.status == Status::Fail).count();
    let warned = findings.iter().filter(|f| f.status == Status::Warn).count();
    if args.json {
        let out = json!({ "ok": failed == 0, "failures": failed, "warnings": warned, "findings": findings });
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else {
        for f in &findings {
            let label = match f.status {
                Status::Ok => "ok  ",
                Status::Warn => "warn",
                Status::Fail => "FAIL",
            };
            println!("{label}  {:<12} {}", f.check, f.message);
        }
        println!(
            "{}",
            match (failed, warned) {
                (0, 0) => "all checks passed".to_string(),
                (0, w) => format!("no failures, {w} warnings"),
                (n, w) => format!("{n} failures, {w} warnings"),
            }
        );
    }
    if failed > 0 {
        bail!("doctor found {failed} failures");
    }
    Ok(())
}

fn data_dir(dir: &Path) -> Finding {
    const CHECK: &str = "data_dir";
    let meta = match fs::metadata(dir) {
        Ok(meta) => meta,
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            return finding(
                CHECK,
                Status::Fail,
                format!(
                    "DATA_DIR {} does not exist (the server creates it at its first start; a \
                     restore creates it too)",
                    dir.display()
                ),
            )
        }
        Err(e) => {
            return finding(
                CHECK,
                Status::Fail,
                format!("cannot read DATA_DIR {}: {e}", dir.display()),
            )
        }
    };
    if !meta.is_dir() {
        return finding(
            CHECK,
            Status::Fail,
            format!("DATA_DIR {} is not a directory", dir.display()),
        );
    }
    let probe = dir.join(format!(".doctor-{}", std::process::id()));
    let writable = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .map(|_| {
            let _ = fs::remove_file(&probe);
        });
    if let Err(e) = writable {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "DATA_DIR {} is not writable by this user: {e} (run as the server's user)",
                dir.display()
            ),
        );
    }
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o007 != 0 {
        return finding(
            CHECK,
            Status::Warn,
            format!(
                "DATA_DIR {} has mode {mode:o}: every user of this machine can look into it, and \
                 it holds the database and the signing key; chmod 700 it",
                dir.display()
            ),
        );
    }
    finding(
        CHECK,
        Status::Ok,
        format!("{} is writable, mode {mode:o}", dir.display()),
    )
}

/// The finding, and the current public key when the key loads.
fn signing_key(dir: &Path) -> (Finding, Option<String>) {
    const CHECK: &str = "signing_key";
    match KeyStore::load(dir) {
        Ok(store) => {
            let key = store.current();
            (
                finding(
                    CHECK,
                    Status::Ok,
                    format!("{} {} (owner-only)", key.key_id(), key.public_key_b64()),
                ),
                Some(key.public_key_b64()),
            )
        }
        Err(KeyStoreError::NotFound { path }) => (
            finding(
                CHECK,
                Status::Warn,
                format!(
                    "no signing key at {} yet: the server makes one at its first start (restore \
                     a backup instead to keep a server's identity)",
                    path.display()
                ),
            ),
            None,
        ),
        Err(e @ KeyStoreError::InsecurePermissions { .. }) => (
            finding(
                CHECK,
                Status::Fail,
                format!("{e}; the server refuses to start with it"),
            ),
            None,
        ),
        Err(e) => (
            finding(
                CHECK,
                Status::Fail,
                format!("the signing key cannot be used: {e}"),
            ),
            None,
        ),
    }
}

fn database(config: &Config) -> Finding {
    const CHECK: &str = "database";
    let (backend, url) = match dbops::locate(&config.dburl, &config.data_dir) {
        Ok(found) => found,
        Err(e) => return finding(CHECK, Status::Fail, e.to_string()),
    };
    let place = match backend {
        Backend::Sqlite => format!("SQLite {url}"),
        Backend::Postgres => format!("Postgres {}", crate::db::backend::redact_url(&url)),
    };
    if backend == Backend::Sqlite && !Path::new(&url).is_file() {
        return finding(
            CHECK,
            Status::Fail,
            format!("there is no database at {url} (the server creates it at its first start)"),
        );
    }
    let mut conn = match dbops::connect(backend, &url) {
        Ok(conn) => conn,
        Err(e) => {
            return finding(
                CHECK,
                Status::Fail,
                format!("cannot reach the database ({place}): {e}"),
            )
        }
    };
    let (applied, embedded) = match (
        dbops::applied_migrations(&mut conn),
        dbops::embedded_migrations(backend),
    ) {
        (Ok(a), Ok(e)) => (a, e),
        (Err(e), _) | (_, Err(e)) => {
            return finding(
                CHECK,
                Status::Fail,
                format!("cannot read the migrations of {place}: {e}"),
            )
        }
    };
    let known: HashSet<&String> = embedded.iter().collect();
    let applied_set: HashSet<&String> = applied.iter().collect();
    let unknown: Vec<&String> = applied.iter().filter(|v| !known.contains(v)).collect();
    let pending: Vec<&String> = embedded
        .iter()
        .filter(|v| !applied_set.contains(v))
        .collect();
    let newest = applied.last().cloned().unwrap_or_else(|| "none".into());
    let latest = embedded.last().cloned().unwrap_or_default();
    if !unknown.is_empty() {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "{place} has {} migrations this homeserver does not know (newest {newest}, this \
                 homeserver's newest is {latest}): a newer homeserver used it; run that version",
                unknown.len()
            ),
        );
    }
    if !pending.is_empty() {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "{place} is not fully migrated: {} of {} migrations are missing (its newest is \
                 {newest}, this homeserver's is {latest}); the server migrates it when it starts \
                 (an older homeserver may still be running on it)",
                pending.len(),
                embedded.len()
            ),
        );
    }
    let users = dbops::user_count(&mut conn).unwrap_or(0);
    let journal = match dbops::sqlite_health(&mut conn) {
        Ok(Some((mode, _))) if mode.eq_ignore_ascii_case("wal") => String::new(),
        Ok(Some((mode, _))) => {
            return finding(
                CHECK,
                Status::Warn,
                format!(
                    "{place} is migrated (schema {newest}) but in journal mode {mode}, not WAL: \
                     the server turns WAL on when it starts"
                ),
            )
        }
        _ => String::new(),
    };
    finding(
        CHECK,
        Status::Ok,
        format!("{place} reachable, fully migrated (schema {newest}), {users} users{journal}"),
    )
}

fn tls(config: &Config) -> Finding {
    const CHECK: &str = "tls";
    let Some(cert) = config.tls_cert() else {
        return finding(
            CHECK,
            Status::Ok,
            "TLS_CERT not set: plain HTTP (fine behind a TLS proxy)",
        );
    };
    if let Err(e) = TlsSettings::load(config.tls_cert(), config.tls_key(), None, |p| fs::read(p)) {
        return finding(CHECK, Status::Fail, format!("{e}"));
    }
    let pem = match fs::read(cert) {
        Ok(pem) => pem,
        Err(e) => {
            return finding(
                CHECK,
                Status::Fail,
                format!("cannot read TLS_CERT {}: {e}", cert.display()),
            )
        }
    };
    let first = x509_parser::pem::Pem::iter_from_buffer(&pem)
        .next()
        .and_then(Result::ok);
    let Some(first) = first else {
        return finding(
            CHECK,
            Status::Fail,
            format!("TLS_CERT {} holds no PEM certificate", cert.display()),
        );
    };
    let parsed = match first.parse_x509() {
        Ok(parsed) => parsed,
        Err(e) => {
            return finding(
                CHECK,
                Status::Fail,
                format!("TLS_CERT {}: not a certificate: {e}", cert.display()),
            )
        }
    };
    let validity = parsed.validity();
    let (from, until) = (
        validity.not_before.timestamp(),
        validity.not_after.timestamp(),
    );
    cert_dates(from, until, crate::services::now_ms() / 1000)
}

/// The finding for a certificate valid from `from` until `until` (unix seconds) at `now`.
fn cert_dates(from: i64, until: i64, now: i64) -> Finding {
    const CHECK: &str = "tls";
    let date = |secs: i64| format_rfc3339_ms(secs.saturating_mul(1000));
    if now < from {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "the certificate is not valid yet (from {}): check the clock",
                date(from)
            ),
        );
    }
    if now > until {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "the certificate expired on {}: renew it and restart the server",
                date(until)
            ),
        );
    }
    let days = (until - now) / 86_400;
    if days < CERT_WARN_DAYS {
        return finding(
            CHECK,
            Status::Warn,
            format!(
                "the certificate expires in {days} days ({}): renew it soon",
                date(until)
            ),
        );
    }
    finding(
        CHECK,
        Status::Ok,
        format!("certificate valid until {} ({days} days)", date(until)),
    )
}

/// The URL other servers use for this one: `PUBLIC_URL`, else what the server itself falls
/// back to (the bound address when BIND is one, else `http(s)://SERVER_NAME`).
fn public_url(config: &Config) -> String {
    if let Some(url) = config.public_url.as_deref().filter(|u| !u.is_empty()) {
        return url.trim_end_matches('/').to_string();
    }
    let scheme = if config.tls_cert().is_some() {
        "https"
    } else {
        "http"
    };
    let addr = federation_proto::host::bind_address(&config.bind, config.port);
    match addr.parse::<std::net::SocketAddr>() {
        Ok(a) if !a.ip().is_unspecified() => format!("{scheme}://{a}"),
        _ => format!("{scheme}://{}", config.server_name_or_hostname()),
    }
}

async fn get_json(http: &awc::Client, url: &str) -> Result<(u16, Value), String> {
    let mut resp = http.get(url).send().await.map_err(|e| e.to_string())?;
    let status = resp.status().as_u16();
    let body = resp
        .body()
        .limit(8 * 1024 * 1024)
        .await
        .map_err(|e| e.to_string())?;
    let value = serde_json::from_slice(&body).unwrap_or(Value::Null);
    Ok((status, value))
}

async fn public_url_check(
    http: &awc::Client,
    url: &str,
    server_name: &str,
    public_key: Option<&str>,
) -> Finding {
    const CHECK: &str = "public_url";
    let health = format!("{url}{}", client_paths::HEALTH);
    match get_json(http, &health).await {
        Ok((200, _)) => {}
        Ok((status, _)) => {
            return finding(
                CHECK,
                Status::Fail,
                format!("{health} answered {status}: the server is up but unhealthy (database?)"),
            )
        }
        Err(e) => {
            return finding(
                CHECK,
                Status::Fail,
                format!(
                    "{url} is not reachable from this machine ({e}): is the server running, is \
                     PUBLIC_URL right, does DNS or the proxy point here?"
                ),
            )
        }
    }
    let key_url = format!("{url}{}", federation_paths::KEY);
    let doc = match get_json(http, &key_url).await {
        Ok((200, doc)) => doc,
        Ok((status, _)) => {
            return finding(
                CHECK,
                Status::Warn,
                format!("{url} is healthy, but its key document answered {status}"),
            )
        }
        Err(e) => {
            return finding(
                CHECK,
                Status::Warn,
                format!("{url} is healthy, but its key document failed: {e}"),
            )
        }
    };
    let name = doc["server_name"].as_str().unwrap_or_default();
    if name != server_name {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "{url} answers as {name:?}, not as this server ({server_name}): PUBLIC_URL points \
                 at another server"
            ),
        );
    }
    let serves_our_key = public_key.is_some_and(|ours| {
        doc["verify_keys"]
            .as_object()
            .is_some_and(|keys| keys.values().any(|k| k["key"].as_str() == Some(ours)))
    });
    if public_key.is_some() && !serves_our_key {
        return finding(
            CHECK,
            Status::Warn,
            format!(
                "{url} answers as {server_name} but with another key than DATA_DIR's: restart \
                 the server after `keys rotate`, or DATA_DIR is not the running server's"
            ),
        );
    }
    finding(
        CHECK,
        Status::Ok,
        format!("{url} is reachable and answers as {server_name} with this key"),
    )
}

async fn directory(
    http: &awc::Client,
    config: &Config,
    url: &str,
    server_name: &str,
    public_key: Option<&str>,
) -> Finding {
    const CHECK: &str = "directory";
    let Some(directory) = config
        .directory_url
        .as_deref()
        .filter(|d| !d.is_empty())
        .map(|d| d.trim_end_matches('/'))
    else {
        return finding(
            CHECK,
            Status::Ok,
            "DIRECTORY_URL not set: standalone, or federating with the PEERS listed by hand",
        );
    };
    // The newest entry about this server, reading the whole list (pages of 500).
    let mut since = 0u64;
    let mut ours: Option<Value> = None;
    for _ in 0..10_000 {
        let page_url = format!("{directory}{}?since={since}", directory_paths::SERVERS);
        let page = match get_json(http, &page_url).await {
            Ok((200, page)) => page,
            Ok((status, _)) => {
                return finding(
                    CHECK,
                    Status::Fail,
                    format!("the directory {directory} answered {status} to its server list"),
                )
            }
            Err(e) => {
                return finding(
                    CHECK,
                    Status::Fail,
                    format!("the directory {directory} is not reachable: {e}"),
                )
            }
        };
        let entries = page["entries"].as_array().cloned().unwrap_or_default();
        if entries.is_empty() {
            break;
        }
        for entry in entries {
            if entry["server_name"].as_str() == Some(server_name) {
                ours = Some(entry);
            }
        }
        let next = page["next"].as_u64().unwrap_or(since);
        if next <= since {
            break;
        }
        since = next;
    }
    let Some(entry) = ours else {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "the directory {directory} does not list {server_name}: the server registers at \
                 start; see its log for the directory's answer (is PUBLIC_URL reachable from \
                 the directory?)"
            ),
        );
    };
    if entry["status"].as_str() != Some("up") {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "the directory {directory} lists {server_name} as gone (deregistered, expired \
                 without heartbeats, or removed)"
            ),
        );
    }
    let listed_url = entry["url"]
        .as_str()
        .unwrap_or_default()
        .trim_end_matches('/');
    if listed_url != url {
        return finding(
            CHECK,
            Status::Warn,
            format!(
                "the directory lists {server_name} at {listed_url}, but PUBLIC_URL is {url}: \
                 restart the server to register the new URL"
            ),
        );
    }
    let listed_key = public_key.is_some_and(|ours| {
        entry["verify_keys"]
            .as_object()
            .is_some_and(|keys| keys.values().any(|k| k["key"].as_str() == Some(ours)))
    });
    if public_key.is_some() && !listed_key {
        return finding(
            CHECK,
            Status::Fail,
            format!(
                "the directory lists {server_name} with another key than DATA_DIR's: peers will \
                 refuse its events; restart the server to register the current key"
            ),
        );
    }
    finding(
        CHECK,
        Status::Ok,
        format!("the directory {directory} lists {server_name} as up at {listed_url}"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn certificate_dates() {
        let day = 86_400;
        let now = 1_800_000_000;
        assert_eq!(
            cert_dates(now - day, now + 90 * day, now).status,
            Status::Ok
        );
        assert_eq!(
            cert_dates(now - day, now + 3 * day, now).status,
            Status::Warn
        );
        assert_eq!(
            cert_dates(now - 9 * day, now - day, now).status,
            Status::Fail
        );
        assert_eq!(
            cert_dates(now + day, now + 9 * day, now).status,
            Status::Fail
        );
        assert!(cert_dates(now - 9 * day, now - day, now)
            .message
            .contains("expired"));
    }
}
