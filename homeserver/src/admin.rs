//! `homeserver admin …` (issue 18): server admins, accounts and the report queue, from the
//! command line. It takes the server's configuration and opens the same database, so it works
//! while the server runs (SQLite in WAL mode, or Postgres). A disabled account's devices are
//! deleted, so its tokens stop working (a running server may still accept one for up to its
//! 2 s session cache, `services::sessions`) and its logins are refused (`403
//! account_disabled`).

use std::io::BufRead as _;

use anyhow::{anyhow, bail, Context as _};
use argon2::password_hash::PasswordHasher;
use argon2::Argon2;
use clap::Subcommand;
use federation_proto::time::format_rfc3339_ms;
use serde_json::json;

use crate::config::Config;
use crate::db::{self, Conn, Db};
use crate::services::accounts::{PASSWORD_MAX, PASSWORD_MIN};

/// `homeserver admin …`
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Make NICK a server admin (they see every report, `GET /api/v1/admin/reports`).
    Grant {
        /// The user's nick.
        nick: String,
    },
    /// Take NICK's server admin rights away.
    Revoke {
        /// The user's nick.
        nick: String,
    },
    /// Accounts.
    Users {
        /// What to do.
        #[command(subcommand)]
        action: UsersCommand,
    },
    /// The report queue.
    Reports {
        /// What to do.
        #[command(subcommand)]
        action: ReportsCommand,
    },
}

/// `homeserver admin users …`
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Every account: nick, admin, disabled, created.
    List {
        /// JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Disable NICK: their tokens stop working and logins are refused.
    Disable {
        /// The user's nick.
        nick: String,
    },
    /// Enable NICK again (they log in anew).
    Enable {
        /// The user's nick.
        nick: String,
    },
    /// Set NICK's password to the first line of standard input; their devices are logged out.
    ResetPassword {
        /// The user's nick.
        nick: String,
    },
}

/// `homeserver admin reports …`
#[derive(Debug, Subcommand)]
pub enum ReportsCommand {
    /// The reports, newest first.
    List {
        /// Only open ones.
        #[arg(long)]
        open: bool,
        /// JSON instead of lines.
        #[arg(long)]
        json: bool,
    },
}

fn user_id(conn: &mut Conn, nick: &str) -> anyhow::Result<String> {
    db::users::by_nick(conn, &nick.to_ascii_lowercase())?
        .map(|u| u.id)
        .ok_or_else(|| anyhow!("no user {nick}"))
}

fn log_out(conn: &mut Conn, user_id: &str) -> anyhow::Result<usize> {
    let devices = db::admin::device_ids(conn, user_id)?;
    for device in &devices {
        db::devices::delete(conn, device)?;
    }
    Ok(devices.len())
}

/// Runs one admin command.
pub fn run(config: &Config, action: AdminCommand) -> anyhow::Result<()> {
    let db = Db::open(&config.dburl, &config.data_dir).context("cannot open the database")?;
    let mut conn = db.conn().context("cannot open the database")?;
    let conn: &mut Conn = &mut conn;
    let server = config.server_name_or_hostname();
    match action {
        AdminCommand::Grant { nick } => {
            let id = user_id(conn, &nick)?;
            let (_, disabled) = db::admin::flags(conn, &id)?;
            db::admin::set_flags(conn, &id, true, disabled)?;
            println!("{nick} is a server admin");
        }
        AdminCommand::Revoke { nick } => {
            let id = user_id(conn, &nick)?;
            let (_, disabled) = db::admin::flags(conn, &id)?;
            db::admin::set_flags(conn, &id, false, disabled)?;
            println!("{nick} is not a server admin");
        }
        AdminCommand::Users { action } => users(conn, &server, action)?,
        AdminCommand::Reports {
            action: ReportsCommand::List { open, json },
        } => {
            let list = crate::services::reports::list_rows(conn, &server, None, open)
                .map_err(|e| anyhow!("{}", e.message))?;
            if json {
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                for r in list.reports {
                    println!(
                        "{} {} {} {} by {} about {}: {}",
                        r.id,
                        r.ts,
                        r.status,
                        r.channel.as_deref().unwrap_or("-"),
                        r.reporter,
                        r.sender,
                        r.reason
                    );
                }
            }
        }
    }
    // These changes bypassed the writers of running homeservers: make them drop what they
    // cached (a removed user's memberships and windows) at their next turn.
    db::backend::changed_outside_writers(conn)?;
    Ok(())
}

fn users(conn: &mut Conn, server: &str, action: UsersCommand) -> anyhow::Result<()> {
    match action {
        UsersCommand::List { json } => {
            let rows = db::admin::users_with_flags(conn)?;
            if json {
                let list: Vec<_> = rows
                    .iter()
                    .map(|(u, admin, disabled)| {
                        json!({
                            "id": u.id,
                            "nick": u.nick,
                            "handle": format!("{}@{server}", u.nick),
                            "admin": admin,
                            "disabled": disabled,
                            "created": format_rfc3339_ms(u.created_ms),
                            "last_active": format_rfc3339_ms(u.last_active_ms),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&list)?);
            } else {
                println!("{:<20} {:<6} {:<9} created", "nick", "admin", "disabled");
                for (u, admin, disabled) in rows {
                    println!(
                        "{:<20} {:<6} {:<9} {}",
                        u.nick,
                        if admin { "yes" } else { "no" },
                        if disabled { "yes" } else { "no" },
                        format_rfc3339_ms(u.created_ms)
                    );
                }
            }
        }
        UsersCommand::Disable { nick } => {
            let id = user_id(conn, &nick)?;
            let (admin, _) = db::admin::flags(conn, &id)?;
            db::admin::set_flags(conn, &id, admin, true)?;
            let ended = log_out(conn, &id)?;
            println!("{nick} is disabled ({ended} devices logged out)");
        }
        UsersCommand::Enable { nick } => {
            let id = user_id(conn, &nick)?;
            let (admin, _) = db::admin::flags(conn, &id)?;
            db::admin::set_flags(conn, &id, admin, false)?;
            println!("{nick} is enabled");
        }
        UsersCommand::ResetPassword { nick } => {
            let id = user_id(conn, &nick)?;
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .context("cannot read the new password from standard input")?;
            let password = line.trim_end_matches(['\r', '\n']);
            if password.len() < PASSWORD_MIN || password.len() > PASSWORD_MAX {
                bail!("a password is {PASSWORD_MIN} to {PASSWORD_MAX} bytes long");
            }
            let hash = Argon2::default()
                .hash_password(password.as_bytes())
                .map_err(|e| anyhow!("cannot hash the password: {e}"))?
                .to_string();
            db::admin::set_password_hash(conn, &id, &hash)?;
            let ended = log_out(conn, &id)?;
            println!("{nick}'s password is reset ({ended} devices logged out)");
        }
    }
    Ok(())
}
