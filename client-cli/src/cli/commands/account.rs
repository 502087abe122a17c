//! `register`, `login`, `logout`, `whois`, `nick`, `server`, `profiles`.

use federation_proto::api::client::UserProfile;
use serde_json::json;

use crate::cli::args::Credentials;
use crate::cli::context::Context;
use crate::cli::error::CliError;
use crate::cli::password::{self, Confirm};
use crate::cli::profile::Profile;

/// `hearth register NICK`: creates the account and saves its token in the profile.
pub async fn register(ctx: &mut Context, creds: &Credentials) -> Result<(), CliError> {
    let server = ctx.server_url()?;
    let password = password::obtain(creds.password_stdin, Confirm::Twice)?;
    let mut client = ctx.client()?;
    let resp = client
        .register(&creds.nick, &password, Some(&creds.device))
        .await?;
    ctx.save(Profile {
        server: server.clone(),
        nick: Some(resp.user.nick.clone()),
        handle: Some(resp.user.handle.clone()),
        token: Some(resp.token.clone()),
        device_id: Some(resp.device_id.clone()),
        cursor: None,
    })?;
    let out = json!({"profile": ctx.profile_name, "server": server, "device_id": resp.device_id, "user": resp.user});
    ctx.emit(&out, || {
        format!(
            "registered {} on {server} (profile {})",
            resp.user.handle, ctx.profile_name
        )
    })
}

/// `hearth login NICK`: logs in as a new device and saves its token in the profile.
pub async fn login(ctx: &mut Context, creds: &Credentials) -> Result<(), CliError> {
    let server = ctx.server_url()?;
    let password = password::obtain(creds.password_stdin, Confirm::Once)?;
    let mut client = ctx.client()?;
    let resp = client
        .login(&creds.nick, &password, Some(&creds.device))
        .await?;
    let me = client.me().await?;
    ctx.save(Profile {
        server: server.clone(),
        nick: Some(me.nick.clone()),
        handle: Some(me.handle.clone()),
        token: Some(resp.token),
        device_id: Some(resp.device_id.clone()),
        cursor: None,
    })?;
    let out = json!({"profile": ctx.profile_name, "server": server, "device_id": resp.device_id, "user": me});
    ctx.emit(&out, || {
        format!(
            "logged in as {} on {server} (profile {})",
            me.handle, ctx.profile_name
        )
    })
}

/// `hearth logout`: ends the device session; the token is forgotten even if it had expired.
pub async fn logout(ctx: &mut Context) -> Result<(), CliError> {
    let mut client = ctx.authed()?;
    match client.logout().await {
        Ok(()) => {}
        Err(e) if e.kind() == hearth_client::ErrorKind::Unauthorized => {}
        Err(e) => return Err(e.into()),
    }
    if let Some(mut profile) = ctx.profile.clone() {
        profile.token = None;
        profile.device_id = None;
        profile.cursor = None;
        ctx.save(profile)?;
    }
    ctx.emit(&json!({"ok": true, "profile": ctx.profile_name}), || {
        format!("logged out (profile {})", ctx.profile_name)
    })
}

/// `hearth whois [HANDLE]`.
pub async fn whois(ctx: &Context, handle: Option<&str>) -> Result<(), CliError> {
    let client = ctx.authed()?;
    let user = match handle {
        Some(h) => client.user(h).await?,
        None => client.me().await?,
    };
    ctx.emit(&user, || describe_user(&user))
}

/// `hearth nick NEW`: changes the nick and updates the profile.
pub async fn nick(ctx: &mut Context, nick: &str) -> Result<(), CliError> {
    let me = ctx.authed()?.change_nick(nick).await?;
    if let Some(mut profile) = ctx.profile.clone() {
        profile.nick = Some(me.nick.clone());
        profile.handle = Some(me.handle.clone());
        ctx.save(profile)?;
    }
    ctx.emit(&me, || format!("you are now known as {}", me.handle))
}

/// `hearth server`.
pub async fn server(ctx: &Context) -> Result<(), CliError> {
    let info = ctx.client()?.server_info().await?;
    ctx.emit(&info, || {
        let mut text = format!(
            "{} (hearth {}), {} users",
            info.name, info.version, info.user_count
        );
        if let (Some(key), Some(id)) = (&info.public_key, &info.key_id) {
            text.push_str(&format!("\nkey {id}: {key}"));
        }
        if !info.motd.is_empty() {
            text.push_str(&format!("\n\n{}", info.motd));
        }
        text
    })
}

/// `hearth profiles`: the saved profiles, marking the chosen one; tokens are never shown.
pub fn profiles(ctx: &Context) -> Result<(), CliError> {
    let mut rows = Vec::new();
    for name in ctx.store.list()? {
        let p = ctx.store.load(&name)?.unwrap_or_default();
        rows.push(json!({
            "name": name, "server": p.server, "handle": p.handle, "logged_in": p.token.is_some(),
        }));
    }
    ctx.emit(&json!({"profiles": rows}), || {
        rows.iter()
            .map(|r| {
                let mark = if r["name"] == ctx.profile_name.as_str() {
                    "*"
                } else {
                    " "
                };
                let who = r["handle"].as_str().unwrap_or("-");
                let state = if r["logged_in"] == true {
                    ""
                } else {
                    " (logged out)"
                };
                format!(
                    "{mark} {} {who} {}{state}",
                    r["name"].as_str().unwrap_or(""),
                    r["server"].as_str().unwrap_or("")
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    })
}

/// A user profile for people.
pub fn describe_user(u: &UserProfile) -> String {
    let status = if u.online {
        format!("online, idle {}", idle(u.idle_seconds))
    } else {
        "offline".to_string()
    };
    format!(
        "{} ({status})\n  id {}\n  registered {}",
        u.handle, u.id, u.created
    )
}

/// `90` → `1m30s`.
fn idle(secs: i64) -> String {
    match secs.max(0) {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m{}s", s / 60, s % 60),
        s if s < 86_400 => format!("{}h{}m", s / 3600, (s % 3600) / 60),
        s => format!("{}d{}h", s / 86_400, (s % 86_400) / 3600),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn idle_times() {
        assert_eq!(idle(5), "5s");
        assert_eq!(idle(90), "1m30s");
        assert_eq!(idle(7260), "2h1m");
        assert_eq!(idle(90_000), "1d1h");
        assert_eq!(idle(-3), "0s");
    }
}
