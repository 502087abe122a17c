//! Parsing the input line: plain text is said in the active buffer, `/command args` is an
//! IRC-style command. Pure; no I/O.

/// What an input line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// Say this in the active buffer (a line starting with `//` says it with one `/`).
    Say(String),
    /// `/join #chan [key]`.
    Join {
        channel: String,
        key: Option<String>,
    },
    /// `/part [#chan] [reason]`: the active channel when none is named.
    Part {
        channel: Option<String>,
        reason: Option<String>,
    },
    /// `/msg target text`.
    Msg { target: String, body: String },
    /// `/query nick`: open a DM buffer.
    Query { target: String },
    /// `/me does something`.
    Me(String),
    /// `/topic [#chan] [text]`: show or set.
    Topic {
        channel: Option<String>,
        topic: Option<String>,
    },
    /// `/nick new`.
    Nick(String),
    /// `/mode [#chan] modes [arg]`.
    Mode {
        channel: Option<String>,
        modes: String,
        arg: Option<String>,
    },
    /// `/ban [#chan] mask` and `/unban [#chan] mask` (`on` false).
    Ban {
        channel: Option<String>,
        mask: String,
        on: bool,
    },
    /// `/mute [#chan] nick [seconds]` and `/unmute [#chan] nick`.
    Mute {
        channel: Option<String>,
        nick: String,
        seconds: Option<i64>,
        on: bool,
    },
    /// `/block nick` and `/unblock nick`.
    Block { handle: String, on: bool },
    /// `/report id reason`.
    Report { id: String, reason: String },
    /// `/invite-link [#chan]`.
    InviteLink { channel: Option<String> },
    /// `/search words "phrases"`: search what this user may read.
    Search(String),
    /// `/help`.
    Help,
    /// `/quit`.
    Quit,
}

/// One line per command, for `/help`.
pub const HELP: &[&str] = &[
    "/join #chan [key]        join (or create) a channel",
    "/part [#chan] [reason]   leave a channel (closes a DM window)",
    "/msg <nick|#chan> text   send a message elsewhere",
    "/query nick              open a direct message window",
    "/me text                 send an action",
    "/topic [#chan] [text]    show or set the topic",
    "/nick new                change your nick",
    "/mode [#chan] modes [x]  +mt, -i, +k key, +l 50, +o nick",
    "/ban [#chan] mask        ban nick@server (* and ? wildcards); /unban lifts it",
    "/mute [#chan] nick [s]   mute a member (for s seconds); /unmute",
    "/block nick              refuse their DMs; /unblock",
    "/report id reason        report a message to operators and admins",
    "/invite-link [#chan]     make an invite link (operators)",
    "/search words \"phrase\"  search the messages you may read",
    "/quit                    leave",
    "Tab/Ctrl-N, Shift-Tab/Ctrl-P, Alt-1..9: switch window; PgUp/PgDn: scroll",
];

/// Parses one input line. Errors are messages for the user.
pub fn parse(line: &str) -> Result<Option<Input>, String> {
    let line = line.trim_end();
    if line.trim().is_empty() {
        return Ok(None);
    }
    if let Some(literal) = line.strip_prefix("//") {
        return Ok(Some(Input::Say(format!("/{literal}"))));
    }
    let Some(command) = line.strip_prefix('/') else {
        return Ok(Some(Input::Say(line.to_string())));
    };
    let (name, rest) = split_word(command);
    let rest = rest.trim();
    let input = match name.to_ascii_lowercase().as_str() {
        "join" | "j" => {
            let (channel, key) = split_word(rest);
            if channel.is_empty() {
                return Err("usage: /join #channel [key]".into());
            }
            Input::Join {
                channel: as_channel(channel),
                key: non_empty(key),
            }
        }
        "part" | "leave" => {
            let (first, tail) = split_word(rest);
            if first.starts_with('#') {
                Input::Part {
                    channel: Some(first.to_string()),
                    reason: non_empty(tail),
                }
            } else {
                Input::Part {
                    channel: None,
                    reason: non_empty(rest),
                }
            }
        }
        "msg" | "m" => {
            let (target, body) = split_word(rest);
            if target.is_empty() || body.trim().is_empty() {
                return Err("usage: /msg <nick|#channel> text".into());
            }
            Input::Msg {
                target: target.to_string(),
                body: body.trim().to_string(),
            }
        }
        "query" | "q" => {
            let (target, _) = split_word(rest);
            if target.is_empty() {
                return Err("usage: /query nick".into());
            }
            Input::Query {
                target: target.to_string(),
            }
        }
        "me" => {
            if rest.is_empty() {
                return Err("usage: /me text".into());
            }
            Input::Me(rest.to_string())
        }
        "topic" => {
            let (first, tail) = split_word(rest);
            if first.starts_with('#') {
                Input::Topic {
                    channel: Some(first.to_string()),
                    topic: non_empty(tail),
                }
            } else {
                Input::Topic {
                    channel: None,
                    topic: non_empty(rest),
                }
            }
        }
        "nick" => {
            let (nick, _) = split_word(rest);
            if nick.is_empty() {
                return Err("usage: /nick newnick".into());
            }
            Input::Nick(nick.to_string())
        }
        "mode" => {
            let (first, tail) = split_word(rest);
            let (channel, tail) = if first.starts_with('#') {
                (Some(first.to_string()), tail)
            } else {
                (None, rest)
            };
            let (modes, arg) = split_word(tail.trim());
            if !modes.starts_with(['+', '-']) {
                return Err("usage: /mode [#channel] +modes [arg]".into());
            }
            Input::Mode {
                channel,
                modes: modes.to_string(),
                arg: non_empty(arg),
            }
        }
        "ban" | "unban" => {
            let (channel, tail) = channel_first(rest);
            let (mask, _) = split_word(tail);
            if mask.is_empty() {
                return Err(format!("usage: /{name} [#channel] nick@server"));
            }
            Input::Ban {
                channel,
                mask: mask.to_string(),
                on: name.eq_ignore_ascii_case("ban"),
            }
        }
        "mute" | "unmute" => {
            let (channel, tail) = channel_first(rest);
            let (nick, tail) = split_word(tail);
            if nick.is_empty() {
                return Err(format!("usage: /{name} [#channel] nick [seconds]"));
            }
            let on = name.eq_ignore_ascii_case("mute");
            let seconds = match non_empty(tail) {
                Some(s) if on => Some(
                    s.parse::<i64>()
                        .map_err(|_| "usage: /mute [#channel] nick [seconds]".to_string())?,
                ),
                _ => None,
            };
            Input::Mute {
                channel,
                nick: nick.to_string(),
                seconds,
                on,
            }
        }
        "block" | "unblock" => {
            let (handle, _) = split_word(rest);
            if handle.is_empty() {
                return Err(format!("usage: /{name} nick"));
            }
            Input::Block {
                handle: handle.to_string(),
                on: name.eq_ignore_ascii_case("block"),
            }
        }
        "report" => {
            let (id, reason) = split_word(rest);
            if id.is_empty() || reason.trim().is_empty() {
                return Err("usage: /report message-id reason".into());
            }
            Input::Report {
                id: id.to_string(),
                reason: reason.trim().to_string(),
            }
        }
        "invite-link" => {
            let (channel, _) = channel_first(rest);
            Input::InviteLink { channel }
        }
        "help" | "h" | "?" => Input::Help,
        "search" => {
            if rest.is_empty() {
                return Err("usage: /search words \"phrases\"".into());
            }
            Input::Search(rest.to_string())
        }
        "quit" | "exit" => Input::Quit,
        other => return Err(format!("unknown command /{other} (try /help)")),
    };
    Ok(Some(input))
}

/// An optional leading `#channel`, and the rest.
fn channel_first(rest: &str) -> (Option<String>, &str) {
    let (first, tail) = split_word(rest);
    if first.starts_with('#') {
        (Some(first.to_string()), tail)
    } else {
        (None, rest)
    }
}

/// The first word and the rest (which keeps its inner spacing).
fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find(char::is_whitespace) {
        Some(i) => (&s[..i], &s[i..]),
        None => (s, ""),
    }
}

fn non_empty(s: &str) -> Option<String> {
    let s = s.trim();
    (!s.is_empty()).then(|| s.to_string())
}

/// `general` → `#general`: `/join` takes channels with or without `#`.
fn as_channel(s: &str) -> String {
    if s.starts_with('#') {
        s.to_string()
    } else {
        format!("#{s}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(line: &str) -> Input {
        parse(line).unwrap().unwrap()
    }

    #[test]
    fn plain_text_and_escapes() {
        assert_eq!(parse("   ").unwrap(), None);
        assert_eq!(ok("hello there"), Input::Say("hello there".into()));
        assert_eq!(
            ok("//etc/passwd is a file"),
            Input::Say("/etc/passwd is a file".into())
        );
    }

    #[test]
    fn join_and_part() {
        assert_eq!(
            ok("/join #rust"),
            Input::Join {
                channel: "#rust".into(),
                key: None
            }
        );
        assert_eq!(
            ok("/j rust secret"),
            Input::Join {
                channel: "#rust".into(),
                key: Some("secret".into())
            }
        );
        assert!(parse("/join").is_err());
        assert_eq!(
            ok("/part"),
            Input::Part {
                channel: None,
                reason: None
            }
        );
        assert_eq!(
            ok("/part #a bye all"),
            Input::Part {
                channel: Some("#a".into()),
                reason: Some("bye all".into())
            }
        );
        assert_eq!(
            ok("/part see you"),
            Input::Part {
                channel: None,
                reason: Some("see you".into())
            }
        );
    }

    #[test]
    fn msg_me_query() {
        assert_eq!(
            ok("/msg bob hi  there"),
            Input::Msg {
                target: "bob".into(),
                body: "hi  there".into()
            }
        );
        assert!(parse("/msg bob").is_err());
        assert_eq!(ok("/me waves"), Input::Me("waves".into()));
        assert!(parse("/me").is_err());
        assert_eq!(
            ok("/query bob@hs2"),
            Input::Query {
                target: "bob@hs2".into()
            }
        );
    }

    #[test]
    fn topic_nick_mode() {
        assert_eq!(
            ok("/topic"),
            Input::Topic {
                channel: None,
                topic: None
            }
        );
        assert_eq!(
            ok("/topic new topic"),
            Input::Topic {
                channel: None,
                topic: Some("new topic".into())
            }
        );
        assert_eq!(
            ok("/topic #a x"),
            Input::Topic {
                channel: Some("#a".into()),
                topic: Some("x".into())
            }
        );
        assert_eq!(ok("/nick zed"), Input::Nick("zed".into()));
        assert_eq!(
            ok("/mode +o bob"),
            Input::Mode {
                channel: None,
                modes: "+o".into(),
                arg: Some("bob".into())
            }
        );
        assert_eq!(
            ok("/mode #a -i"),
            Input::Mode {
                channel: Some("#a".into()),
                modes: "-i".into(),
                arg: None
            }
        );
        assert!(parse("/mode bob").is_err());
    }

    #[test]
    fn community_commands() {
        assert_eq!(
            ok("/ban troll@hs2"),
            Input::Ban {
                channel: None,
                mask: "troll@hs2".into(),
                on: true
            }
        );
        assert_eq!(
            ok("/unban #a *@spam"),
            Input::Ban {
                channel: Some("#a".into()),
                mask: "*@spam".into(),
                on: false
            }
        );
        assert!(parse("/ban").is_err());
        assert_eq!(
            ok("/mute bob 60"),
            Input::Mute {
                channel: None,
                nick: "bob".into(),
                seconds: Some(60),
                on: true
            }
        );
        assert!(parse("/mute bob soon").is_err());
        assert_eq!(
            ok("/unmute #a bob"),
            Input::Mute {
                channel: Some("#a".into()),
                nick: "bob".into(),
                seconds: None,
                on: false
            }
        );
        assert_eq!(
            ok("/block eve@hs3"),
            Input::Block {
                handle: "eve@hs3".into(),
                on: true
            }
        );
        assert_eq!(
            ok("/report abc spam and more"),
            Input::Report {
                id: "abc".into(),
                reason: "spam and more".into()
            }
        );
        assert!(parse("/report abc").is_err());
        assert_eq!(ok("/invite-link"), Input::InviteLink { channel: None });
    }

    #[test]
    fn misc() {
        assert_eq!(ok("/QUIT"), Input::Quit);
        assert_eq!(ok("/help"), Input::Help);
        assert!(parse("/frobnicate")
            .unwrap_err()
            .contains("unknown command"));
    }

    #[test]
    fn search() {
        assert_eq!(
            ok("/search red \"new flat\""),
            Input::Search("red \"new flat\"".into())
        );
        assert!(parse("/search  ").unwrap_err().contains("usage"));
    }
}
