//! Channel and member modes: parsing mode strings and rendering a channel's modes. Pure.
//!
//! Channel modes: `i` invite-only, `m` moderated, `s` secret, `t` ops-only topic, `n` no
//! external messages, `k <key>`, `l <limit>`. Member modes: `o` operator, `v` voice, and `q`
//! (owner: `+q nick` transfers ownership). A request may carry several letters (`+mt-i`); the
//! arguments of `k`, `l` and member modes follow the letters (`+kl secret 50`) or come in the
//! request's `arg` / `nick` fields.

use std::collections::VecDeque;

use crate::db::models::ChannelRow;

/// Longest channel key.
pub const KEY_MAX: usize = 32;
/// Largest `+l` limit.
pub const LIMIT_MAX: i64 = 1_000_000;

/// A flag mode of a channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flag {
    /// `i`
    InviteOnly,
    /// `m`
    Moderated,
    /// `s`
    Secret,
    /// `t`
    TopicOps,
    /// `n`
    NoExternal,
}

/// A member mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberMode {
    /// `o`
    Op,
    /// `v`
    Voice,
    /// `q`: channel owner (only `+q`, by the owner, to transfer ownership).
    Owner,
}

/// One change requested by a mode string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModeChange {
    /// `+x` / `-x` for a flag.
    Flag(Flag, bool),
    /// `+k key` / `-k`.
    Key(Option<String>),
    /// `+l n` / `-l`.
    Limit(Option<i64>),
    /// `+o nick`, `-v nick`, `+q nick`, …
    Member(MemberMode, bool, String),
}

/// Why a mode string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ModeError {
    /// Empty, or no `+`/`-` before the first letter.
    #[error("a mode string starts with + or - and names at least one mode, e.g. +mt")]
    Syntax,
    /// A letter we do not know.
    #[error("unknown mode {0:?}")]
    Unknown(char),
    /// `k`, `l` or a member mode without its argument.
    #[error("mode {0} needs an argument")]
    MissingArg(char),
    /// An argument that does not fit.
    #[error("invalid argument for mode {0}: {1}")]
    BadArg(char, String),
    /// `-q`: ownership is transferred with `+q`, never removed.
    #[error("ownership cannot be removed, only transferred with +q")]
    OwnerRemoval,
    /// More arguments than modes to take them.
    #[error("unused mode argument {0:?}")]
    ExtraArg(String),
}

/// Parses `modes` (with optional trailing arguments), taking member-mode targets from `nick`
/// and `k`/`l` arguments from `arg` when they are not inline.
pub fn parse(
    modes: &str,
    nick: Option<&str>,
    arg: Option<&str>,
) -> Result<Vec<ModeChange>, ModeError> {
    let mut words = modes.split_whitespace();
    let letters = words.next().ok_or(ModeError::Syntax)?;
    let mut args: VecDeque<String> = words.map(str::to_string).collect();
    if let Some(arg) = arg {
        args.push_back(arg.to_string());
    }
    let mut nick = nick.map(str::to_string);
    let mut sign: Option<bool> = None;
    let mut changes = Vec::new();
    for c in letters.chars() {
        match c {
            '+' => sign = Some(true),
            '-' => sign = Some(false),
            _ => {
                let on = sign.ok_or(ModeError::Syntax)?;
                let change = match c {
                    'i' => ModeChange::Flag(Flag::InviteOnly, on),
                    'm' => ModeChange::Flag(Flag::Moderated, on),
                    's' => ModeChange::Flag(Flag::Secret, on),
                    't' => ModeChange::Flag(Flag::TopicOps, on),
                    'n' => ModeChange::Flag(Flag::NoExternal, on),
                    'k' if on => ModeChange::Key(Some(valid_key(
                        args.pop_front().ok_or(ModeError::MissingArg('k'))?,
                    )?)),
                    'k' => ModeChange::Key(None),
                    'l' if on => ModeChange::Limit(Some(valid_limit(
                        &args.pop_front().ok_or(ModeError::MissingArg('l'))?,
                    )?)),
                    'l' => ModeChange::Limit(None),
                    'o' | 'v' | 'q' => {
                        let mode = match c {
                            'o' => MemberMode::Op,
                            'v' => MemberMode::Voice,
                            _ => MemberMode::Owner,
                        };
                        if mode == MemberMode::Owner && !on {
                            return Err(ModeError::OwnerRemoval);
                        }
                        let who = nick
                            .take()
                            .or_else(|| args.pop_front())
                            .ok_or(ModeError::MissingArg(c))?;
                        ModeChange::Member(mode, on, who)
                    }
                    other => return Err(ModeError::Unknown(other)),
                };
                changes.push(change);
            }
        }
    }
    if changes.is_empty() {
        return Err(ModeError::Syntax);
    }
    if let Some(extra) = args.pop_front() {
        return Err(ModeError::ExtraArg(extra));
    }
    Ok(changes)
}

fn valid_key(key: String) -> Result<String, ModeError> {
    if key.is_empty()
        || key.chars().count() > KEY_MAX
        || key.chars().any(|c| c.is_control() || c == ',')
    {
        return Err(ModeError::BadArg(
            'k',
            format!("a key is 1-{KEY_MAX} printable characters without commas"),
        ));
    }
    Ok(key)
}

fn valid_limit(text: &str) -> Result<i64, ModeError> {
    match text.parse::<i64>() {
        Ok(n) if (1..=LIMIT_MAX).contains(&n) => Ok(n),
        _ => Err(ModeError::BadArg(
            'l',
            format!("a limit is a whole number from 1 to {LIMIT_MAX}"),
        )),
    }
}

/// Applies channel-level changes to a row (member changes are the caller's).
pub fn apply(row: &mut ChannelRow, change: &ModeChange) {
    match change {
        ModeChange::Flag(flag, on) => {
            let slot = match flag {
                Flag::InviteOnly => &mut row.mode_invite_only,
                Flag::Moderated => &mut row.mode_moderated,
                Flag::Secret => &mut row.mode_secret,
                Flag::TopicOps => &mut row.mode_topic_ops,
                Flag::NoExternal => &mut row.mode_no_external,
            };
            *slot = *on;
        }
        ModeChange::Key(key) => row.chan_key = key.clone(),
        ModeChange::Limit(limit) => row.user_limit = *limit,
        ModeChange::Member(..) => {}
    }
}

/// Renders a channel's modes (`+intkl secret 50`); the key is shown only when `show_key`.
pub fn render(row: &ChannelRow, show_key: bool) -> String {
    let mut letters = String::from("+");
    let mut args = Vec::new();
    for (on, c) in [
        (row.mode_invite_only, 'i'),
        (row.mode_moderated, 'm'),
        (row.mode_no_external, 'n'),
        (row.mode_secret, 's'),
        (row.mode_topic_ops, 't'),
    ] {
        if on {
            letters.push(c);
        }
    }
    if let Some(key) = &row.chan_key {
        letters.push('k');
        args.push(if show_key {
            key.clone()
        } else {
            "*".to_string()
        });
    }
    if let Some(limit) = row.user_limit {
        letters.push('l');
        args.push(limit.to_string());
    }
    std::iter::once(letters)
        .chain(args)
        .collect::<Vec<_>>()
        .join(" ")
}

/// Renders one change the way it is announced in a `mode` event.
pub fn describe(change: &ModeChange) -> String {
    let sign = |on: bool| if on { '+' } else { '-' };
    match change {
        ModeChange::Flag(flag, on) => {
            let c = match flag {
                Flag::InviteOnly => 'i',
                Flag::Moderated => 'm',
                Flag::Secret => 's',
                Flag::TopicOps => 't',
                Flag::NoExternal => 'n',
            };
            format!("{}{c}", sign(*on))
        }
        ModeChange::Key(Some(_)) => "+k".to_string(),
        ModeChange::Key(None) => "-k".to_string(),
        ModeChange::Limit(Some(n)) => format!("+l {n}"),
        ModeChange::Limit(None) => "-l".to_string(),
        ModeChange::Member(mode, on, nick) => {
            let c = match mode {
                MemberMode::Op => 'o',
                MemberMode::Voice => 'v',
                MemberMode::Owner => 'q',
            };
            format!("{}{c} {nick}", sign(*on))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_flags_and_args() {
        assert_eq!(
            parse("+mt-i", None, None).unwrap(),
            vec![
                ModeChange::Flag(Flag::Moderated, true),
                ModeChange::Flag(Flag::TopicOps, true),
                ModeChange::Flag(Flag::InviteOnly, false)
            ]
        );
        assert_eq!(
            parse("+kl secret 50", None, None).unwrap(),
            vec![
                ModeChange::Key(Some("secret".into())),
                ModeChange::Limit(Some(50))
            ]
        );
        assert_eq!(
            parse("+k", None, Some("pw")).unwrap(),
            vec![ModeChange::Key(Some("pw".into()))]
        );
        assert_eq!(
            parse("+o", Some("bob"), None).unwrap(),
            vec![ModeChange::Member(MemberMode::Op, true, "bob".into())]
        );
        assert_eq!(
            parse("-k", None, None).unwrap(),
            vec![ModeChange::Key(None)]
        );
    }

    #[test]
    fn refuses_nonsense() {
        assert_eq!(parse("", None, None), Err(ModeError::Syntax));
        assert_eq!(parse("mt", None, None), Err(ModeError::Syntax));
        assert_eq!(parse("+", None, None), Err(ModeError::Syntax));
        assert_eq!(parse("+x", None, None), Err(ModeError::Unknown('x')));
        assert_eq!(parse("+k", None, None), Err(ModeError::MissingArg('k')));
        assert_eq!(parse("+o", None, None), Err(ModeError::MissingArg('o')));
        assert!(matches!(
            parse("+l zero", None, None),
            Err(ModeError::BadArg('l', _))
        ));
        assert!(matches!(
            parse("+l 0", None, None),
            Err(ModeError::BadArg('l', _))
        ));
        assert_eq!(parse("-q", Some("bob"), None), Err(ModeError::OwnerRemoval));
        assert_eq!(
            parse("+m extra", None, None),
            Err(ModeError::ExtraArg("extra".into()))
        );
    }

    #[test]
    fn renders() {
        let mut row = ChannelRow::new(1, "x", "u", 0);
        assert_eq!(render(&row, true), "+nt");
        for change in parse("+kl pw 5", None, None).unwrap() {
            apply(&mut row, &change);
        }
        assert_eq!(render(&row, true), "+ntkl pw 5");
        assert_eq!(render(&row, false), "+ntkl * 5");
    }
}
