//! Identifiers, validated once at the edge and passed around typed.
//!
//! - Server name: a DNS name or IP literal, optionally with `:port`, lower-cased.
//! - Nick: 3–20 characters of `[a-z0-9_]`, compared case-insensitively (stored lower-cased).
//! - User handle: `nick` (local) or `nick@server`.
//! - Channel: `#name` with 1–64 characters of `[a-z0-9_.-]`, optionally `@server`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Why an identifier was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// A nick of the wrong length or with characters outside `[a-z0-9_]`.
    #[error("invalid nick {0:?}: 3-20 characters of a-z, 0-9 and _")]
    Nick(String),
    /// A channel name of the wrong length or with characters outside `[a-z0-9_.-]`.
    #[error("invalid channel name {0:?}: '#' then 1-64 characters of a-z, 0-9, _, . and -")]
    Channel(String),
    /// A server name that is not a DNS name or IP literal with an optional port.
    #[error("invalid server name {0:?}")]
    Server(String),
    /// A message target that is neither a channel nor a user handle.
    #[error("invalid target {0:?}: expected #channel[@server] or nick[@server]")]
    Target(String),
}

macro_rules! string_serde {
    ($ty:ty) => {
        impl Serialize for $ty {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.collect_str(self)
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A server's name: a DNS name or IP literal, optionally with a port (`hs1.example`,
/// `127.0.0.1:8081`, `[::1]:8080`). Stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServerName(String);

impl ServerName {
    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for ServerName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || IdError::Server(s.to_string());
        if s.is_empty() || s.len() > 255 {
            return Err(bad());
        }
        let lower = s.to_ascii_lowercase();
        let (host, port) = if let Some(rest) = lower.strip_prefix('[') {
            // IPv6 literal: [addr] or [addr]:port
            let end = rest.find(']').ok_or_else(bad)?;
            let addr = &rest[..end];
            if addr.is_empty()
                || !addr
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() || c == ':' || c == '.')
            {
                return Err(bad());
            }
            let after = &rest[end + 1..];
            let port = match after.strip_prefix(':') {
                Some(p) => Some(p),
                None if after.is_empty() => None,
                None => return Err(bad()),
            };
            (None, port)
        } else {
            match lower.rsplit_once(':') {
                Some((h, p)) => (Some(h.to_string()), Some(p)),
                None => (Some(lower.clone()), None),
            }
        };
        if let Some(port) = port {
            if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            if port.parse::<u32>().map_err(|_| bad())? > 65535 {
                return Err(bad());
            }
        }
        if let Some(host) = host {
            let labels_ok = !host.is_empty()
                && host.split('.').all(|label| {
                    !label.is_empty()
                        && label.len() <= 63
                        && label
                            .bytes()
                            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                        && !label.starts_with('-')
                        && !label.ends_with('-')
                });
            if !labels_ok {
                return Err(bad());
            }
        }
        Ok(ServerName(lower))
    }
}

impl fmt::Display for ServerName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(ServerName);

/// A user's nick on its server: 3–20 characters of `[a-z0-9_]`. Input is lower-cased first,
/// so `Alice` and `alice` are the same nick.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Nick(String);

impl Nick {
    /// The nick as a string slice (always lower case).
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Nick {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.to_ascii_lowercase();
        let ok = (3..=20).contains(&lower.len())
            && lower
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if ok {
            Ok(Nick(lower))
        } else {
            Err(IdError::Nick(s.to_string()))
        }
    }
}

impl fmt::Display for Nick {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_serde!(Nick);

/// A user handle: `nick` for a local user or `nick@server` for a user anywhere.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserHandle {
    /// The nick on its server.
    pub nick: Nick,
    /// The user's server; `None` when written in the short local form.
    pub server: Option<ServerName>,
}

impl UserHandle {
    /// Whether this handle names a user of `local` (short form or same server name).
    pub fn is_local_to(&self, local: &ServerName) -> bool {
        self.server.as_ref().is_none_or(|s| s == local)
    }

    /// The full `nick@server` form, filling in `local` for a short handle.
    pub fn qualified(&self, local: &ServerName) -> String {
        format!("{}@{}", self.nick, self.server.as_ref().unwrap_or(local))
    }
}

impl FromStr for UserHandle {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('@') {
            Some((nick, server)) => Ok(UserHandle {
                nick: nick.parse()?,
                server: Some(server.parse()?),
            }),
            None => Ok(UserHandle {
                nick: s.parse()?,
                server: None,
            }),
        }
    }
}

impl fmt::Display for UserHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.server {
            Some(server) => write!(f, "{}@{}", self.nick, server),
            None => write!(f, "{}", self.nick),
        }
    }
}
string_serde!(UserHandle);

/// A channel: `#name` or `#name@host`. Parsing also accepts the name without `#` (as used in
/// URL paths) and the URL-decoded `%23` form is the caller's job.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ChannelName {
    /// The name without `#`, lower-cased.
    pub name: String,
    /// The host server; `None` for the short local form.
    pub server: Option<ServerName>,
}

impl ChannelName {
    /// Whether this channel is hosted by `local`.
    pub fn is_local_to(&self, local: &ServerName) -> bool {
        self.server.as_ref().is_none_or(|s| s == local)
    }

    /// The full `#name@host` form, filling in `local` for a short name.
    pub fn qualified(&self, local: &ServerName) -> String {
        format!("#{}@{}", self.name, self.server.as_ref().unwrap_or(local))
    }

    /// The short `#name` form.
    pub fn short(&self) -> String {
        format!("#{}", self.name)
    }

    fn validate_name(raw: &str, whole: &str) -> Result<String, IdError> {
        let lower = raw.to_ascii_lowercase();
        let ok = (1..=64).contains(&lower.len())
            && lower.bytes().all(|b| {
                b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'_' | b'.' | b'-')
            });
        if ok {
            Ok(lower)
        } else {
            Err(IdError::Channel(whole.to_string()))
        }
    }
}

impl FromStr for ChannelName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let body = s.strip_prefix('#').unwrap_or(s);
        let (name, server) = match body.split_once('@') {
            Some((name, server)) => (
                name,
                Some(
                    server
                        .parse()
                        .map_err(|_| IdError::Channel(s.to_string()))?,
                ),
            ),
            None => (body, None),
        };
        Ok(ChannelName {
            name: Self::validate_name(name, s)?,
            server,
        })
    }
}

impl fmt::Display for ChannelName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.server {
            Some(server) => write!(f, "#{}@{}", self.name, server),
            None => write!(f, "#{}", self.name),
        }
    }
}
string_serde!(ChannelName);

/// Where a message goes: a channel (`#name[@host]`) or a user (`nick[@server]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Target {
    /// A channel.
    Channel(ChannelName),
    /// A user, for a direct message.
    User(UserHandle),
}

impl FromStr for Target {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.starts_with('#') {
            Ok(Target::Channel(s.parse()?))
        } else if s.is_empty() {
            Err(IdError::Target(s.to_string()))
        } else {
            Ok(Target::User(s.parse()?))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Channel(c) => c.fmt(f),
            Target::User(u) => u.fmt(f),
        }
    }
}
string_serde!(Target);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nicks() {
        assert_eq!("Alice_1".parse::<Nick>().map(|n| n.0), Ok("alice_1".into()));
        for bad in [
            "ab",
            "a".repeat(21).as_str(),
            "al ice",
            "élan",
            "al-ice",
            "",
        ] {
            assert!(bad.parse::<Nick>().is_err(), "{bad}");
        }
        assert!("a".repeat(20).parse::<Nick>().is_ok());
    }

    #[test]
    fn channels() {
        let c: ChannelName = "#General@HS1.example".parse().unwrap();
        assert_eq!(c.name, "general");
        assert_eq!(c.to_string(), "#general@hs1.example");
        assert_eq!(
            "general".parse::<ChannelName>().unwrap().short(),
            "#general"
        );
        assert!("#".parse::<ChannelName>().is_err());
        assert!(format!("#{}", "a".repeat(65))
            .parse::<ChannelName>()
            .is_err());
        assert!("#a b".parse::<ChannelName>().is_err());
        assert!("#a.b-c_d".parse::<ChannelName>().is_ok());
    }

    #[test]
    fn servers() {
        for ok in [
            "hs1.example",
            "127.0.0.1:8081",
            "localhost",
            "[::1]:8080",
            "a-b.c",
        ] {
            assert!(ok.parse::<ServerName>().is_ok(), "{ok}");
        }
        for bad in ["", "a..b", "-a.b", "a:99999", "a:", "a b", "[::1", "a/b"] {
            assert!(bad.parse::<ServerName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn targets() {
        assert!(matches!("#x".parse::<Target>(), Ok(Target::Channel(_))));
        assert!(matches!(
            "bob@hs2.example".parse::<Target>(),
            Ok(Target::User(_))
        ));
        assert!("".parse::<Target>().is_err());
        let local: ServerName = "hs1".parse().unwrap();
        let h: UserHandle = "bob".parse().unwrap();
        assert!(h.is_local_to(&local));
        assert_eq!(h.qualified(&local), "bob@hs1");
    }
}
