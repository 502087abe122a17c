//! The operator commands: `directory servers list|remove|ban`. They open the database and key
//! in `DATA_DIR` directly (SQLite in WAL mode lets them run beside the service); a running
//! service pushes the entries they append on its next rescan (within a few seconds).

use std::io::Write as _;

use anyhow::Context as _;
use federation_proto::ids::ServerName;

use crate::config::{Config, ServersCommand};
use crate::db;
use crate::services::now_ms;
use crate::services::servers::{self, Departure, ServerSummary};
use crate::services::signer::Signer;

/// Runs one operator command.
pub fn run(config: &Config, action: ServersCommand) -> anyhow::Result<()> {
    let (db, keys) = crate::open_storage(config)?;
    match action {
        ServersCommand::List { json } => {
            let list = servers::list_blocking(&db)?;
            let mut out = std::io::stdout().lock();
            if json {
                serde_json::to_writer_pretty(&mut out, &list)?;
                writeln!(out)?;
            } else {
                write!(out, "{}", table(&list, now_ms()))?;
            }
            out.flush()?;
            Ok(())
        }
        ServersCommand::Remove { name } => depart(config, &db, keys, &name, Departure::Removed),
        ServersCommand::Ban { name } => depart(config, &db, keys, &name, Departure::Banned),
    }
}

fn depart(
    config: &Config,
    db: &db::Db,
    keys: federation_proto::keyring::KeyRing,
    name: &str,
    why: Departure,
) -> anyhow::Result<()> {
    // Entries are signed as the name the service runs under, which it records at start.
    let signer_name = db
        .run_blocking(|conn| db::meta::get(conn, db::meta::SERVER_NAME).map_err(db::DbError::from))
        .context("cannot read the directory's name")?
        .unwrap_or_else(|| config.server_name_or_hostname());
    let signer = Signer::new(signer_name, keys);
    let name = name
        .parse::<ServerName>()
        .map_or_else(|_| name.to_string(), |n| n.as_str().to_string());
    let Some((entry, appended)) = servers::remove_blocking(db, &signer, &name, why)? else {
        anyhow::bail!("{name} is not registered with this directory");
    };
    let done = match why {
        Departure::Banned => "banned",
        _ => "removed",
    };
    if appended {
        println!(
            "{name} {done}; gone entry {} will be pushed to every peer",
            entry["seq"]
        );
    } else {
        println!("{name} {done} (it was already gone)");
    }
    Ok(())
}

/// The human-readable list.
fn table(list: &[ServerSummary], now_ms: i64) -> String {
    let mut rows = vec![[
        "NAME".to_string(),
        "STATUS".to_string(),
        "URL".to_string(),
        "LAST SEEN".to_string(),
        "ACKED".to_string(),
        "FAILURES".to_string(),
        "LAST ERROR".to_string(),
    ]];
    for s in list {
        let status = if s.banned {
            format!("{} (banned)", s.status)
        } else {
            s.status.clone()
        };
        let seen = (now_ms.saturating_sub(s.last_heartbeat_ms) / 1000).max(0);
        rows.push([
            s.name.clone(),
            status,
            s.url.clone(),
            format!("{seen}s ago"),
            s.acked_seq.to_string(),
            s.push_failures.to_string(),
            s.last_error.clone().unwrap_or_default(),
        ]);
    }
    let mut widths = [0usize; 7];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &rows {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    if list.is_empty() {
        out.push_str("(no servers registered)\n");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lines_up() {
        let s = ServerSummary {
            name: "hs1.example".into(),
            url: "http://h".into(),
            status: "up".into(),
            banned: false,
            key_ids: vec!["ed25519:a".into()],
            last_heartbeat_ms: 1_000,
            registered_ms: 0,
            acked_seq: 3,
            push_failures: 0,
            next_retry_ms: None,
            last_error: None,
        };
        let text = table(&[s], 11_000);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("NAME         STATUS"));
        assert!(lines[1].starts_with("hs1.example  up"));
        assert!(lines[1].contains("10s ago"));
        assert!(table(&[], 0).contains("no servers"));
    }
}
