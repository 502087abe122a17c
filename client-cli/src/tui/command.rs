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
