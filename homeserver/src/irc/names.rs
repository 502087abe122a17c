//! Hearth names as IRC names, both ways (docs/irc.md, "Names").
//!
//! - A channel hosted here is `#name`; one hosted elsewhere keeps its global form
//!   `#name@host`, a valid IRC channel name as it is.
//! - A user of this server is their nick. A user of another server, `nick@server`, is
//!   `nick|server` with the server's `.` written `_`, `:` written `^`, `[` and `]` written
//!   `{` and `}`: every one of those is a nick character for weechat and irssi, none of the
//!   replacements can occur in a server name, and `|` in no Hearth nick, so the mapping is
//!   reversible (`bob@hs2.example` ⇄ `bob|hs2_example`, `ann@127.0.0.1:8081` ⇄
//!   `ann|127_0_0_1^8081`).

use federation_proto::ids::ServerName;

/// The IRC nick of a handle (`nick@server`, or a bare nick of this server).
pub fn nick_of(handle: &str, local: &ServerName) -> String {
    match handle.split_once('@') {
        Some((nick, server)) if server != local.as_str() => {
            let mut out = String::with_capacity(handle.len());
            out.push_str(nick);
            out.push('|');
            for c in server.chars() {
                out.push(match c {
                    '.' => '_',
                    ':' => '^',
                    '[' => '{',
                    ']' => '}',
                    c => c,
                });
            }
            out
        }
        Some((nick, _)) => nick.to_string(),
        None => handle.to_string(),
    }
}

/// The Hearth handle an IRC nick names: `nick` for a user of this server, `nick@server` for
/// the `nick|server` form.
pub fn handle_of(nick: &str) -> String {
    match nick.split_once('|') {
        Some((nick, server)) => {
            let mut out = String::with_capacity(nick.len() + server.len() + 1);
            out.push_str(nick);
            out.push('@');
            for c in server.chars() {
                out.push(match c {
                    '_' => '.',
                    '^' => ':',
                    '{' => '[',
                    '}' => ']',
                    c => c,
                });
            }
            out
        }
        None => nick.to_string(),
    }
}

/// The IRC name of a channel given in any form (`#name`, `#name@host`): the short form for a
/// channel hosted here, the global one otherwise. Lower case, as Hearth compares channels.
pub fn channel_of(name: &str, local: &ServerName) -> String {
    let lower = name.to_ascii_lowercase();
    match lower.split_once('@') {
        Some((short, host)) if host == local.as_str() => short.to_string(),
        _ => lower,
    }
}

/// Where a user of `handle` lives, for the host part of a source (`nick!user@host`).
pub fn host_of<'a>(handle: &'a str, local: &'a ServerName) -> &'a str {
    handle.split_once('@').map_or(local.as_str(), |(_, s)| s)
}

/// The bare nick of a handle (`bob` of `bob@hs2`).
pub fn bare(handle: &str) -> &str {
    handle.split_once('@').map_or(handle, |(n, _)| n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks_map_both_ways() {
        let here: ServerName = "hs1.example".parse().unwrap();
        for (handle, nick) in [
            ("bob@hs2.example", "bob|hs2_example"),
            ("ann@127.0.0.1:8081", "ann|127_0_0_1^8081"),
            ("x_y@[::1]:80", "x_y|{^^1}^80"),
        ] {
            assert_eq!(nick_of(handle, &here), nick);
            assert_eq!(handle_of(nick), handle);
        }
        assert_eq!(nick_of("carol@hs1.example", &here), "carol");
        assert_eq!(handle_of("carol"), "carol");
    }

    #[test]
    fn channels_are_short_here_and_global_elsewhere() {
        let here: ServerName = "hs1.example".parse().unwrap();
        assert_eq!(channel_of("#General@hs1.example", &here), "#general");
        assert_eq!(channel_of("#x@hs2.example", &here), "#x@hs2.example");
        assert_eq!(channel_of("#x", &here), "#x");
    }
}
