//! `register`, `login`, `logout`, `whois`, `nick`, `server`, `profiles`.

use federation_proto::api::client::{ProfileUpdate, UserProfile};
use serde_json::json;

use crate::cli::args::{Credentials, ProfileSetArgs};
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

/// `hearth profile set [--display-name X] [--avatar URL] [--status S] [--status-message X]`:
/// prints the updated profile.
pub async fn profile_set(ctx: &Context, args: &ProfileSetArgs) -> Result<(), CliError> {
    let update = ProfileUpdate {
        display_name: args.display_name.clone(),
        avatar: args.avatar.clone(),
        status: args.status.map(|s| s.as_str().to_string()),
        status_message: args.status_message.clone(),
    };
    let me = ctx.authed()?.update_profile(&update).await?;
    ctx.emit(&me, || describe_user(&me))
}

/// `hearth users search QUERY`: `{users}` with `--json`; one user a line for people.
pub async fn search(ctx: &Context, query: &str) -> Result<(), CliError> {
    let users = ctx.authed()?.search_users(query).await?;
    ctx.emit(&json!({ "users": users }), || {
        if users.is_empty() {
            return format!("no user matches {query:?}");
        }
        users.iter().map(user_line).collect::<Vec<_>>().join("\n")
    })
}

/// One user on one line: `bob@hs1  "Bob B."  away: at lunch`.
fn user_line(u: &UserProfile) -> String {
    let mut line = u.handle.clone();
    if let Some(name) = &u.display_name {
        line.push_str(&format!("  {name:?}"));
    }
    let status = u
        .status
        .clone()
        .unwrap_or_else(|| if u.online { "online" } else { "offline" }.to_string());
    line.push_str(&format!("  {status}"));
    if let Some(msg) = u.status_message.as_deref().filter(|m| !m.is_empty()) {
        line.push_str(&format!(": {msg}"));
    }
    line
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
    let mut text = format!("{} ({status})", u.handle);
    if let Some(name) = u.display_name.as_deref().filter(|n| !n.is_empty()) {
        text.push_str(&format!("\n  display name {name}"));
    }
    if let Some(s) = &u.status {
        text.push_str(&format!("\n  status {s}"));
    }
    if let Some(msg) = u.status_message.as_deref().filter(|m| !m.is_empty()) {
        text.push_str(&format!("\n  status message {msg}"));
    }
    if let Some(avatar) = u.avatar.as_deref().filter(|a| !a.is_empty()) {
        text.push_str(&format!("\n  avatar {avatar}"));
    }
    text.push_str(&format!("\n  id {}\n  registered {}", u.id, u.created));
    text
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

    fn profile() -> UserProfile {
        UserProfile {
            id: "u1".into(),
            nick: "bob".into(),
            handle: "bob@hs1".into(),
            online: true,
            idle_seconds: 5,
            created: "2026-01-01T00:00:00Z".into(),
            display_name: Some("Bob B.".into()),
            avatar: Some("https://example.com/bob.png".into()),
            status: Some("away".into()),
            status_message: Some("at lunch".into()),
        }
    }

    #[test]
    fn profiles_show_their_fields() {
        let text = describe_user(&profile());
        for part in [
            "display name Bob B.",
            "status away",
            "status message at lunch",
            "avatar https://example.com/bob.png",
        ] {
            assert!(text.contains(part), "{part}: {text}");
        }
        assert_eq!(user_line(&profile()), "bob@hs1  \"Bob B.\"  away: at lunch");
        let bare = UserProfile {
            display_name: None,
            status: None,
            status_message: None,
            avatar: None,
            ..profile()
        };
        assert_eq!(user_line(&bare), "bob@hs1  online");
        assert!(!describe_user(&bare).contains("status"));
    }

    #[test]
    fn idle_times() {
        assert_eq!(idle(5), "5s");
        assert_eq!(idle(90), "1m30s");
        assert_eq!(idle(7260), "2h1m");
        assert_eq!(idle(90_000), "1d1h");
        assert_eq!(idle(-3), "0s");
    }
}
