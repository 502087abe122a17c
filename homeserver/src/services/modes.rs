//! Channel and member modes: parsing mode strings and rendering a channel's modes. Pure.
//!
//! Channel modes: `i` invite-only, `m` moderated, `s` secret, `t` ops-only topic, `n` no
//! external messages, `k <key>`, `l <limit>`, and `b <mask>` (a ban, see [`normalize_mask`] and
//! [`mask_matches`]; a list, not a flag). Member modes: `o` operator, `v` voice, and `q`
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
    /// `+b mask` / `-b mask` (the mask normalized: lowercase, with an `@`).
    Ban(bool, String),
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
                    'b' => ModeChange::Ban(
                        on,
                        normalize_mask(&args.pop_front().ok_or(ModeError::MissingArg('b'))?)?,
                    ),
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

/// Longest ban mask.
pub const MASK_MAX: usize = 120;

/// A ban mask as stored: lowercase `nick@server`, where either side may hold `*` (any run of
/// characters) and `?` (one character). A mask without `@` names a nick on every server
/// (`bob` is `bob@*`, as IRC's `/ban bob` is `bob!*@*`); `*` alone is everyone.
pub fn normalize_mask(raw: &str) -> Result<String, ModeError> {
    let mask = raw.trim().to_ascii_lowercase();
    let bad = || {
        ModeError::BadArg(
            'b',
            format!(
                "a ban mask is nick@server with * and ? wildcards (at most {MASK_MAX} characters)"
            ),
        )
    };
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_.-:*?[]@".contains(c);
    if mask.is_empty() || mask.len() > MASK_MAX || !mask.chars().all(allowed) {
        return Err(bad());
    }
    let mask = match mask.split_once('@') {
        None => format!("{mask}@*"),
        Some((nick, server)) if !nick.is_empty() && !server.is_empty() && !server.contains('@') => {
            mask
        }
        Some(_) => return Err(bad()),
    };
    Ok(mask)
}

/// Whether `handle` (`nick@server`, any case) matches a normalized ban `mask`.
pub fn mask_matches(mask: &str, handle: &str) -> bool {
    let handle = handle.to_ascii_lowercase();
    let (p, t) = (mask.as_bytes(), handle.as_bytes());
    // Greedy glob with one backtrack point: linear for masks without `*`, O(n·m) at worst.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == b'?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == b'*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == b'*')
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
        ModeChange::Member(..) | ModeChange::Ban(..) => {}
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
        ModeChange::Ban(on, mask) => format!("{}b {mask}", sign(*on)),
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
    fn parses_bans() {
        assert_eq!(
            parse("+b", None, Some("Bob@HS2.example")).unwrap(),
            vec![ModeChange::Ban(true, "bob@hs2.example".into())]
        );
        assert_eq!(
            parse("-b *@spam.example", None, None).unwrap(),
            vec![ModeChange::Ban(false, "*@spam.example".into())]
        );
        assert_eq!(
            parse("+b", None, Some("troll")).unwrap(),
            vec![ModeChange::Ban(true, "troll@*".into())]
        );
        assert_eq!(parse("+b", None, None), Err(ModeError::MissingArg('b')));
        for bad in ["a@b@c", "@x", "x@", "bob!u@h", "a b", ""] {
            assert!(normalize_mask(bad).is_err(), "{bad:?}");
        }
        assert_eq!(describe(&ModeChange::Ban(true, "*@x".into())), "+b *@x");
    }

    #[test]
    fn masks_match() {
        let table = [
            ("bob@hs2", "bob@hs2", true),
            ("bob@hs2", "BOB@HS2", true),
            ("bob@hs2", "bob@hs3", false),
            ("bob@hs2", "bobby@hs2", false),
            ("*@hs2", "anyone@hs2", true),
            ("*@hs2", "anyone@hs22", false),
            ("bob@*", "bob@127.0.0.1:8080", true),
            ("b?b@*", "bab@x", true),
            ("b?b@*", "bb@x", false),
            ("*", "x@y", true),
            ("*@*", "x@y", true),
            ("*o*@*", "alice@hs1", false),
            ("*o*@*", "bob@hs1", true),
            ("a*b*c@s", "axxbyyc@s", true),
            ("a*b*c@s", "axxbyy@s", false),
        ];
        for (mask, handle, expected) in table {
            assert_eq!(mask_matches(mask, handle), expected, "{mask} ~ {handle}");
        }
    }

    mod prop {
        use crate::services::modes::{mask_matches, normalize_mask};
        use proptest::prelude::*;

        proptest! {
            /// A handle matches itself as a mask, `*@` its server and `*`; a mask without
            /// wildcards matches only its own handle.
            #[test]
            fn masks(nick in "[a-z0-9_]{3,20}", server in "[a-z0-9.]{1,20}", other in "[a-z0-9_]{3,20}") {
                let handle = format!("{nick}@{server}");
                let exact = normalize_mask(&handle).unwrap();
                let everyone_there = normalize_mask(&format!("*@{server}")).unwrap();
                let that_nick = normalize_mask(&nick).unwrap();
                let them = format!("{other}@{server}");
                prop_assert!(mask_matches(&exact, &handle));
                prop_assert!(mask_matches(&everyone_there, &handle));
                prop_assert!(mask_matches(&that_nick, &handle));
                prop_assert!(mask_matches("*", &handle));
                prop_assert_eq!(mask_matches(&handle, &them), other == nick);
            }

            /// Matching never panics and `?` stands for one character.
            #[test]
            fn wildcards(mask in "[a-c*?@]{0,12}", handle in "[a-c@]{0,12}") {
                let _ = mask_matches(&mask, &handle);
                let q: String = handle.chars().map(|_| '?').collect();
                prop_assert!(mask_matches(&q, &handle));
            }
        }
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
