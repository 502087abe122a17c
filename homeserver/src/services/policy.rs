//! The channel rules, once: who may join, speak, set the topic and modes, invite and kick.
//!
//! Edits, deletes and reactions are judged here too ([`edit`], [`delete`], [`react`]), for
//! channels hosted here, mirrors' hosts and DMs alike; so are the channel settings
//! ([`describe`], [`pin`], [`unpin`], [`read_pins`], [`delete_channel`]).
//!
//! Pure: every function takes what the rule reads (the channel's modes, the actor's standing,
//! the target's standing, the member count) and answers allowed or [`Denied`]. The local path
//! (`services::channels`, `services::messages`) and the host's handling of submissions from
//! member servers (`federation::hosting`) both load those facts through
//! [`super::members`] and ask here, so a rule cannot differ between a user of this server and a
//! user of another. Bans and mutes are two more facts ([`Sanctions`], loaded by
//! `members::sanctions`): a ban is checked on join (an invite link included) and send, a mute on
//! send; the channel's owner is exempt from both.

use super::modes::MemberMode;
use crate::db::models::ChannelRow;
use crate::error::ApiError;

/// Who acts on a channel hosted here, resolved once per request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A user of this server.
    Local {
        /// Their stable id.
        user_id: String,
        /// `nick@server`.
        handle: String,
    },
    /// A user of a member server, whose server submitted the event.
    Remote {
        /// `nick@server`.
        handle: String,
        /// Their server (the submitting origin).
        server: String,
    },
}

impl Actor {
    /// `nick@server`.
    pub fn handle(&self) -> &str {
        match self {
            Actor::Local { handle, .. } | Actor::Remote { handle, .. } => handle,
        }
    }

    /// The local user's id, for a local actor.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Actor::Local { user_id, .. } => Some(user_id),
            Actor::Remote { .. } => None,
        }
    }

    /// The server of a remote actor.
    pub fn remote_server(&self) -> Option<&str> {
        match self {
            Actor::Remote { server, .. } => Some(server),
            Actor::Local { .. } => None,
        }
    }
}

/// A member's standing in a channel (`None` where a function takes `Option<Standing>`: not a
/// member).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Standing {
    /// `+o`.
    pub op: bool,
    /// `+v`.
    pub voice: bool,
    /// The channel's owner (always a user of the host).
    pub owner: bool,
}

/// Bans and mutes that apply to an actor in a channel (whether or not a member).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Sanctions {
    /// A `+b` mask matches the actor's handle.
    pub banned: bool,
    /// The actor is muted (and the mute has not expired).
    pub muted: bool,
}

impl Sanctions {
    /// What applies to someone with this standing: nothing to the owner.
    fn applying_to(self, member: Option<Standing>) -> Sanctions {
        if member.is_some_and(|m| m.owner) {
            Sanctions::default()
        } else {
            self
        }
    }
}

/// Why a rule said no. [`Denied::into_error`] turns it into the answer, with the same code for
/// local and remote actors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Denied {
    /// `+i` without an invitation.
    InviteOnly,
    /// `+k` without the right key.
    BadKey,
    /// `+l` reached.
    Full(i64),
    /// The actor is already a member (join) or the target is (invite).
    AlreadyMember(String),
    /// The actor is not a member.
    NotMember,
    /// `+n` (or `+s`): no messages from outside.
    NoExternal,
    /// `+m` without voice.
    Moderated,
    /// Operators only.
    ChanopRequired,
    /// `+t`: operators set the topic.
    TopicLocked,
    /// `+i`: operators invite.
    InviteOpsOnly,
    /// The target is not in the channel.
    NotInChannel(String),
    /// The owner cannot be kicked by others.
    CannotKickOwner,
    /// The owner cannot be de-opped by others.
    CannotDeopOwner,
    /// Only the owner transfers ownership.
    OwnerRequired,
    /// Ownership stays with users of the channel's host.
    OwnerMustBeLocal,
    /// A secret channel does not exist for non-members.
    Hidden,
    /// Only the sender edits a message (or deletes it, outside channels' operators).
    NotSender,
    /// The message is older than `EDIT_WINDOW`.
    EditWindowClosed,
    /// The message was deleted.
    MessageDeleted,
    /// Edits, deletes and reactions act on messages (and a delete on a reaction), not on
    /// joins, topics and the like.
    NotAMessage,
    /// The message is pinned already.
    AlreadyPinned,
    /// The message is not pinned.
    NotPinned,
    /// Only the owner deletes the channel.
    OwnerOnly,
    /// A `+b` mask matches the actor.
    Banned,
    /// The actor is muted in the channel.
    Muted,
    /// The owner cannot be banned or muted.
    CannotSanctionOwner,
    /// Server admins only.
    AdminRequired,
}

impl Denied {
    /// The answer for `channel` (as shown to the actor, e.g. `#general` or `#general@hs1`).
    pub fn into_error(self, channel: &str) -> ApiError {
        match self {
            Denied::InviteOnly => {
                ApiError::forbidden("invite_only", format!("{channel} is invite-only (+i)"))
            }
            Denied::BadKey => ApiError::forbidden(
                "bad_channel_key",
                format!("{channel} needs the right key (+k)"),
            ),
            Denied::Full(limit) => {
                ApiError::forbidden("channel_full", format!("{channel} is full (+l {limit})"))
            }
            Denied::AlreadyMember(who) => {
                ApiError::conflict("already_member", format!("{who} is already in {channel}"))
            }
            Denied::NotMember => {
                ApiError::forbidden("not_member", format!("you are not in {channel}"))
            }
            Denied::NoExternal => ApiError::forbidden(
                "not_member",
                format!("{channel} takes no messages from outside (+n)"),
            ),
            Denied::Moderated => ApiError::forbidden(
                "moderated",
                format!("{channel} is moderated (+m): you need voice"),
            ),
            Denied::ChanopRequired => ApiError::forbidden(
                "chanop_required",
                format!("you are not an operator of {channel}"),
            ),
            Denied::TopicLocked => ApiError::forbidden(
                "chanop_required",
                format!("only operators set the topic of {channel} (+t)"),
            ),
            Denied::InviteOpsOnly => ApiError::forbidden(
                "chanop_required",
                format!("only operators invite to {channel} (+i)"),
            ),
            Denied::NotInChannel(who) => {
                ApiError::not_found("not_in_channel", format!("{who} is not in {channel}"))
            }
            Denied::CannotKickOwner => ApiError::forbidden(
                "cannot_kick_owner",
                format!("the owner of {channel} cannot be kicked"),
            ),
            Denied::CannotDeopOwner => ApiError::forbidden(
                "cannot_deop_owner",
                format!("the owner of {channel} cannot be de-opped"),
            ),
            Denied::OwnerRequired => ApiError::forbidden(
                "owner_required",
                format!("only the owner of {channel} can transfer it"),
            ),
            Denied::OwnerMustBeLocal => ApiError::bad_request(
                "invalid_mode",
                "ownership passes only to a user of the channel's host",
            ),
            Denied::Hidden => {
                ApiError::not_found("no_such_channel", format!("no channel {channel}"))
            }
            Denied::NotSender => ApiError::forbidden(
                "not_sender",
                "only the sender of a message (or an operator of its channel, to delete) may do that",
            ),
            Denied::EditWindowClosed => ApiError::forbidden(
                "edit_window_closed",
                "the message is too old to edit (EDIT_WINDOW)",
            ),
            Denied::MessageDeleted => {
                ApiError::conflict("message_deleted", "the message was deleted")
            }
            Denied::NotAMessage => ApiError::bad_request(
                "not_a_message",
                "edits, deletes, reactions and pins act on messages",
            ),
            Denied::AlreadyPinned => ApiError::conflict(
                "already_pinned",
                format!("the message is already pinned in {channel}"),
            ),
            Denied::NotPinned => {
                ApiError::not_found("not_pinned", format!("the message is not pinned in {channel}"))
            }
            Denied::OwnerOnly => ApiError::forbidden(
                "owner_required",
                format!("only the owner of {channel} can delete it"),
            ),
            Denied::Banned => {
                ApiError::forbidden("banned", format!("you are banned from {channel} (+b)"))
            }
            Denied::Muted => {
                ApiError::forbidden("muted", format!("you are muted in {channel}"))
            }
            Denied::AdminRequired => {
                ApiError::forbidden("admin_required", "only the server's admins may do that")
            }
            Denied::CannotSanctionOwner => ApiError::forbidden(
                "cannot_sanction_owner",
                format!("the owner of {channel} cannot be banned or muted"),
            ),
        }
    }
}

/// What a join is judged on.
#[derive(Debug, Clone, Copy, Default)]
pub struct JoinAttempt<'a> {
    /// The joiner's standing, if already a member.
    pub member: Option<Standing>,
    /// Whether the joiner holds an invitation.
    pub invited: bool,
    /// The key offered.
    pub key: Option<&'a str>,
    /// Members on every server, before the join.
    pub members: i64,
    /// A ban matches the joiner.
    pub banned: bool,
    /// The joiner is the channel's owner (exempt from bans).
    pub owner: bool,
    /// The join is through an invite link: past `+i` and `+k` (never past a ban or `+l`).
    pub link: bool,
}

/// Join: never when banned (the owner excepted); `+i` needs an invitation, `+k` the key (an
/// invite link stands for both), `+l` room (members of every server count).
pub fn join(channel: &ChannelRow, attempt: &JoinAttempt, who: &str) -> Result<(), Denied> {
    if attempt.member.is_some() {
        return Err(Denied::AlreadyMember(who.to_string()));
    }
    if attempt.banned && !attempt.owner {
        return Err(Denied::Banned);
    }
    if channel.mode_invite_only && !attempt.invited && !attempt.link {
        return Err(Denied::InviteOnly);
    }
    if let Some(key) = &channel.chan_key {
        if attempt.key != Some(key.as_str()) && !attempt.link {
            return Err(Denied::BadKey);
        }
    }
    if let Some(limit) = channel.user_limit {
        if attempt.members >= limit {
            return Err(Denied::Full(limit));
        }
    }
    Ok(())
}

/// Part: members only.
pub fn part(member: Option<Standing>) -> Result<(), Denied> {
    member.map(drop).ok_or(Denied::NotMember)
}

/// Send a message: `+n` keeps outsiders out and a `+s` channel does not exist for them; a
/// banned or muted actor does not speak (the owner excepted); `+m` needs voice or operator.
pub fn send(
    channel: &ChannelRow,
    member: Option<Standing>,
    sanctions: Sanctions,
) -> Result<(), Denied> {
    see(channel, member.is_some())?;
    let sanctions = sanctions.applying_to(member);
    if sanctions.banned {
        return Err(Denied::Banned);
    }
    if member.is_none() && channel.mode_no_external {
        return Err(Denied::NoExternal);
    }
    if sanctions.muted {
        return Err(Denied::Muted);
    }
    if channel.mode_moderated && !member.is_some_and(|m| m.op || m.voice) {
        return Err(Denied::Moderated);
    }
    Ok(())
}

/// Set the topic: members; operators only under `+t`.
pub fn set_topic(channel: &ChannelRow, member: Option<Standing>) -> Result<(), Denied> {
    let member = member.ok_or(Denied::NotMember)?;
    if channel.mode_topic_ops && !member.op {
        return Err(Denied::TopicLocked);
    }
    Ok(())
}

/// Change modes: operators.
pub fn change_modes(member: Option<Standing>) -> Result<Standing, Denied> {
    let member = member.ok_or(Denied::NotMember)?;
    if !member.op {
        return Err(Denied::ChanopRequired);
    }
    Ok(member)
}

/// Change a member's mode (after [`change_modes`] allowed the caller): the owner cannot be
/// de-opped by others; only the owner passes ownership, and only to a user of the host.
pub fn change_member_mode(
    caller: Standing,
    target: Option<Standing>,
    target_is_local: bool,
    target_name: &str,
    mode: MemberMode,
    on: bool,
) -> Result<(), Denied> {
    let target = target.ok_or_else(|| Denied::NotInChannel(target_name.to_string()))?;
    match mode {
        MemberMode::Op if !on && target.owner && !caller.owner => Err(Denied::CannotDeopOwner),
        MemberMode::Op | MemberMode::Voice => Ok(()),
        MemberMode::Owner if !caller.owner => Err(Denied::OwnerRequired),
        MemberMode::Owner if !target_is_local => Err(Denied::OwnerMustBeLocal),
        MemberMode::Owner => Ok(()),
    }
}

/// Invite: members; operators only under `+i`; not someone already in.
pub fn invite(
    channel: &ChannelRow,
    member: Option<Standing>,
    target: Option<Standing>,
    target_name: &str,
) -> Result<(), Denied> {
    let member = member.ok_or(Denied::NotMember)?;
    if channel.mode_invite_only && !member.op {
        return Err(Denied::InviteOpsOnly);
    }
    if target.is_some() {
        return Err(Denied::AlreadyMember(target_name.to_string()));
    }
    Ok(())
}

/// Kick: operators; the target must be in; only the owner may kick the owner (themself).
pub fn kick(
    member: Option<Standing>,
    target: Option<Standing>,
    target_name: &str,
) -> Result<(), Denied> {
    let caller = change_modes(member)?;
    let target = target.ok_or_else(|| Denied::NotInChannel(target_name.to_string()))?;
    if target.owner && !caller.owner {
        return Err(Denied::CannotKickOwner);
    }
    Ok(())
}

/// Mute or unmute a member: operators; the target must be in; never the owner.
pub fn mute(
    member: Option<Standing>,
    target: Option<Standing>,
    target_name: &str,
) -> Result<(), Denied> {
    change_modes(member)?;
    let target = target.ok_or_else(|| Denied::NotInChannel(target_name.to_string()))?;
    if target.owner {
        return Err(Denied::CannotSanctionOwner);
    }
    Ok(())
}

/// Make or revoke a channel's invite links: operators.
pub fn manage_invite_links(member: Option<Standing>) -> Result<(), Denied> {
    change_modes(member).map(drop)
}

/// Review a channel's reports (list, resolve): the server's admins, or its operators.
pub fn review_reports(is_admin: bool, member: Option<Standing>) -> Result<(), Denied> {
    if is_admin {
        return Ok(());
    }
    change_modes(member).map(drop)
}

/// The server-wide review queue: admins.
pub fn review_all_reports(is_admin: bool) -> Result<(), Denied> {
    if is_admin {
        Ok(())
    } else {
        Err(Denied::AdminRequired)
    }
}

/// Whether a new ban removes a present member with this standing: everyone but the owner.
pub fn ban_removes(target: Standing) -> bool {
    !target.owner
}

/// See the channel (info): a secret channel does not exist for non-members.
pub fn see(channel: &ChannelRow, is_member: bool) -> Result<(), Denied> {
    if channel.mode_secret && !is_member {
        return Err(Denied::Hidden);
    }
    Ok(())
}

/// Read its history: members only, and a secret channel does not exist for others.
pub fn read_history(channel: &ChannelRow, is_member: bool) -> Result<(), Denied> {
    see(channel, is_member)?;
    if !is_member {
        return Err(Denied::NotMember);
    }
    Ok(())
}

/// What an edit, delete or reaction is judged on: facts about the message it acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MessageFacts {
    /// What the target is.
    pub target: TargetKind,
    /// The actor sent the target.
    pub is_sender: bool,
    /// The target was deleted.
    pub deleted: bool,
    /// Milliseconds between the target's timestamp and the action's.
    pub age_ms: i64,
}

/// What an edit, delete or reaction acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetKind {
    /// A message, action or notice.
    Message,
    /// A reaction (only a delete acts on one: withdrawing it).
    Reaction,
    /// Anything else (a join, a topic, an edit, …).
    Other,
}

/// Where a message lives, for these rules: `member` is the actor's standing in a channel
/// (`None`: not a member); a DM's two users are plain members (no operators there).
pub const DM_PARTICIPANT: Standing = Standing {
    op: false,
    voice: false,
    owner: false,
};

/// Edit a message: members; only its sender; not after `window_ms`; not once deleted.
pub fn edit(member: Option<Standing>, facts: MessageFacts, window_ms: i64) -> Result<(), Denied> {
    member.ok_or(Denied::NotMember)?;
    if facts.target != TargetKind::Message {
        return Err(Denied::NotAMessage);
    }
    if !facts.is_sender {
        return Err(Denied::NotSender);
    }
    if facts.deleted {
        return Err(Denied::MessageDeleted);
    }
    if facts.age_ms > window_ms {
        return Err(Denied::EditWindowClosed);
    }
    Ok(())
}

/// Delete a message, or withdraw a reaction: members; its sender or an operator of the
/// channel; not twice.
pub fn delete(member: Option<Standing>, facts: MessageFacts) -> Result<(), Denied> {
    let member = member.ok_or(Denied::NotMember)?;
    if facts.target == TargetKind::Other {
        return Err(Denied::NotAMessage);
    }
    if !(facts.is_sender || member.op) {
        return Err(Denied::NotSender);
    }
    if facts.deleted {
        return Err(Denied::MessageDeleted);
    }
    Ok(())
}

/// React to a message: members; not to a deleted message. (Once per user and emoji is
/// answered by the caller with the first reaction, not refused.)
pub fn react(member: Option<Standing>, facts: MessageFacts) -> Result<(), Denied> {
    member.ok_or(Denied::NotMember)?;
    if facts.target != TargetKind::Message {
        return Err(Denied::NotAMessage);
    }
    if facts.deleted {
        return Err(Denied::MessageDeleted);
    }
    Ok(())
}

/// Set the channel's description: operators.
pub fn describe(member: Option<Standing>) -> Result<(), Denied> {
    change_modes(member).map(drop)
}

/// Pin a message: operators; a message (not a join, a topic, …) that is not deleted and not
/// pinned yet.
pub fn pin(
    member: Option<Standing>,
    target: TargetKind,
    deleted: bool,
    pinned: bool,
) -> Result<(), Denied> {
    change_modes(member)?;
    if target != TargetKind::Message {
        return Err(Denied::NotAMessage);
    }
    if deleted {
        return Err(Denied::MessageDeleted);
    }
    if pinned {
        return Err(Denied::AlreadyPinned);
    }
    Ok(())
}

/// Unpin a message: operators; a pinned one.
pub fn unpin(member: Option<Standing>, pinned: bool) -> Result<(), Denied> {
    change_modes(member)?;
    if !pinned {
        return Err(Denied::NotPinned);
    }
    Ok(())
}

/// Read the pins: members (like the history).
pub fn read_pins(channel: &ChannelRow, is_member: bool) -> Result<(), Denied> {
    read_history(channel, is_member)
}

/// Delete the channel: its owner only (always a user of the host).
pub fn delete_channel(member: Option<Standing>) -> Result<(), Denied> {
    let member = member.ok_or(Denied::NotMember)?;
    if !member.owner {
        return Err(Denied::OwnerOnly);
    }
    Ok(())
}

/// A member server reads a channel's log or info when it has members there, or when the
/// channel is open (neither `+s` nor `+i`).
pub fn peer_reads(channel: &ChannelRow, has_members: bool) -> Result<(), Denied> {
    if has_members {
        return Ok(());
    }
    see(channel, false)?;
    if channel.mode_invite_only {
        return Err(Denied::InviteOnly);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn channel() -> ChannelRow {
        ChannelRow::new(1, "general", "owner", 0)
    }

    const PLAIN: Standing = Standing {
        op: false,
        voice: false,
        owner: false,
    };
    const VOICE: Standing = Standing {
        op: false,
        voice: true,
        owner: false,
    };
    const OP: Standing = Standing {
        op: true,
        voice: false,
        owner: false,
    };
    const OWNER: Standing = Standing {
        op: true,
        voice: false,
        owner: true,
    };

    /// The rules read only facts, so one table covers users of this server and of others: the
    /// same facts give the same answer whoever the actor is. Each row also runs for a remote
    /// actor's facts (identical by construction), which the host's submission path supplies.
    #[test]
    fn join_rules() {
        let mut ch = channel();
        let open = JoinAttempt::default();
        assert_eq!(join(&ch, &open, "a"), Ok(()));
        let again = JoinAttempt {
            member: Some(PLAIN),
            ..open
        };
        assert_eq!(
            join(&ch, &again, "a"),
            Err(Denied::AlreadyMember("a".into()))
        );
        ch.mode_invite_only = true;
        assert_eq!(join(&ch, &open, "a"), Err(Denied::InviteOnly));
        let invited = JoinAttempt {
            invited: true,
            ..open
        };
        assert_eq!(join(&ch, &invited, "a"), Ok(()));
        ch.chan_key = Some("sesame".into());
        assert_eq!(join(&ch, &invited, "a"), Err(Denied::BadKey));
        let keyed = JoinAttempt {
            key: Some("sesame"),
            ..invited
        };
        assert_eq!(join(&ch, &keyed, "a"), Ok(()));
        let wrong = JoinAttempt {
            key: Some("nope"),
            ..invited
        };
        assert_eq!(join(&ch, &wrong, "a"), Err(Denied::BadKey));
        ch.user_limit = Some(2);
        for (members, expected) in [(0, Ok(())), (1, Ok(())), (2, Err(Denied::Full(2)))] {
            let attempt = JoinAttempt { members, ..keyed };
            assert_eq!(join(&ch, &attempt, "a"), expected, "{members} members");
        }
    }

    #[test]
    fn send_rules() {
        let mut ch = channel();
        let table = [
            // (+n, +m, +s, standing, expected)
            (true, false, false, None, Err(Denied::NoExternal)),
            (false, false, false, None, Ok(())),
            (false, false, true, None, Err(Denied::Hidden)),
            (false, false, true, Some(PLAIN), Ok(())),
            (true, false, false, Some(PLAIN), Ok(())),
            (true, true, false, Some(PLAIN), Err(Denied::Moderated)),
            (true, true, false, Some(VOICE), Ok(())),
            (true, true, false, Some(OP), Ok(())),
            (false, true, false, None, Err(Denied::Moderated)),
        ];
        for (n, m, s, standing, expected) in table {
            ch.mode_no_external = n;
            ch.mode_moderated = m;
            ch.mode_secret = s;
            assert_eq!(
                send(&ch, standing, Sanctions::default()),
                expected,
                "n={n} m={m} s={s} {standing:?}"
            );
        }
    }

    /// Bans and mutes: the same facts for local and remote actors; the owner is exempt.
    #[test]
    fn sanction_rules() {
        let ch = channel();
        let banned = Sanctions {
            banned: true,
            muted: false,
        };
        let muted = Sanctions {
            banned: false,
            muted: true,
        };
        let table = [
            // (standing, sanctions, expected send)
            (Some(PLAIN), banned, Err(Denied::Banned)),
            (Some(OP), banned, Err(Denied::Banned)),
            (Some(OWNER), banned, Ok(())),
            (None, banned, Err(Denied::Banned)),
            (Some(PLAIN), muted, Err(Denied::Muted)),
            (Some(VOICE), muted, Err(Denied::Muted)),
            (Some(OP), muted, Err(Denied::Muted)),
            (Some(OWNER), muted, Ok(())),
            (None, muted, Err(Denied::NoExternal)),
            (Some(PLAIN), Sanctions::default(), Ok(())),
        ];
        for (standing, sanctions, expected) in table {
            assert_eq!(
                send(&ch, standing, sanctions),
                expected,
                "{standing:?} {sanctions:?}"
            );
        }
        let mut ch = channel();
        let attempt = JoinAttempt {
            banned: true,
            ..JoinAttempt::default()
        };
        assert_eq!(join(&ch, &attempt, "a"), Err(Denied::Banned));
        // The owner rejoins past a ban.
        let owner = JoinAttempt {
            owner: true,
            ..attempt
        };
        assert_eq!(join(&ch, &owner, "a"), Ok(()));
        let invited = JoinAttempt {
            invited: true,
            link: true,
            ..attempt
        };
        assert_eq!(join(&ch, &invited, "a"), Err(Denied::Banned));
        // An invite link gets past +i and +k, not past +l.
        ch.mode_invite_only = true;
        ch.chan_key = Some("k".into());
        let link = JoinAttempt {
            link: true,
            ..JoinAttempt::default()
        };
        assert_eq!(join(&ch, &link, "a"), Ok(()));
        ch.user_limit = Some(1);
        let full = JoinAttempt { members: 1, ..link };
        assert_eq!(join(&ch, &full, "a"), Err(Denied::Full(1)));

        assert_eq!(mute(None, Some(PLAIN), "t"), Err(Denied::NotMember));
        assert_eq!(
            mute(Some(PLAIN), Some(PLAIN), "t"),
            Err(Denied::ChanopRequired)
        );
        assert_eq!(mute(Some(OP), Some(PLAIN), "t"), Ok(()));
        assert_eq!(mute(Some(OP), Some(OP), "t"), Ok(()));
        assert_eq!(
            mute(Some(OP), None, "t"),
            Err(Denied::NotInChannel("t".into()))
        );
        assert_eq!(
            mute(Some(OWNER), Some(OWNER), "t"),
            Err(Denied::CannotSanctionOwner)
        );
        assert_eq!(manage_invite_links(Some(OP)), Ok(()));
        assert_eq!(
            manage_invite_links(Some(VOICE)),
            Err(Denied::ChanopRequired)
        );
        assert_eq!(manage_invite_links(None), Err(Denied::NotMember));
        assert_eq!(review_reports(true, None), Ok(()));
        assert_eq!(review_reports(false, Some(OP)), Ok(()));
        assert_eq!(
            review_reports(false, Some(VOICE)),
            Err(Denied::ChanopRequired)
        );
        assert_eq!(review_reports(false, None), Err(Denied::NotMember));
        assert_eq!(review_all_reports(true), Ok(()));
        assert_eq!(review_all_reports(false), Err(Denied::AdminRequired));
        assert!(ban_removes(OP));
        assert!(!ban_removes(OWNER));
    }

    #[test]
    fn topic_mode_and_part_rules() {
        let mut ch = channel();
        assert_eq!(set_topic(&ch, None), Err(Denied::NotMember));
        assert_eq!(set_topic(&ch, Some(PLAIN)), Err(Denied::TopicLocked));
        assert_eq!(set_topic(&ch, Some(OP)), Ok(()));
        ch.mode_topic_ops = false;
        assert_eq!(set_topic(&ch, Some(PLAIN)), Ok(()));
        assert_eq!(change_modes(None), Err(Denied::NotMember));
        assert_eq!(change_modes(Some(VOICE)), Err(Denied::ChanopRequired));
        assert_eq!(change_modes(Some(OP)), Ok(OP));
        assert_eq!(part(None), Err(Denied::NotMember));
        assert_eq!(part(Some(PLAIN)), Ok(()));
    }

    #[test]
    fn member_mode_rules() {
        use MemberMode::{Op, Owner, Voice};
        let table = [
            // (caller, target, target local, mode, on, expected)
            (OP, Some(PLAIN), true, Op, true, Ok(())),
            (OP, Some(PLAIN), false, Voice, true, Ok(())),
            (
                OP,
                None,
                true,
                Op,
                true,
                Err(Denied::NotInChannel("t".into())),
            ),
            (
                OP,
                Some(OWNER),
                true,
                Op,
                false,
                Err(Denied::CannotDeopOwner),
            ),
            (OWNER, Some(OWNER), true, Op, false, Ok(())),
            (OP, Some(OWNER), true, Voice, true, Ok(())),
            (
                OP,
                Some(PLAIN),
                true,
                Owner,
                true,
                Err(Denied::OwnerRequired),
            ),
            (OWNER, Some(PLAIN), true, Owner, true, Ok(())),
            (
                OWNER,
                Some(PLAIN),
                false,
                Owner,
                true,
                Err(Denied::OwnerMustBeLocal),
            ),
        ];
        for (caller, target, local, mode, on, expected) in table {
            assert_eq!(
                change_member_mode(caller, target, local, "t", mode, on),
                expected,
                "{caller:?} {mode:?}{on} on {target:?} (local {local})"
            );
        }
    }

    #[test]
    fn invite_and_kick_rules() {
        let mut ch = channel();
        assert_eq!(invite(&ch, None, None, "t"), Err(Denied::NotMember));
        assert_eq!(invite(&ch, Some(PLAIN), None, "t"), Ok(()));
        assert_eq!(
            invite(&ch, Some(PLAIN), Some(PLAIN), "t"),
            Err(Denied::AlreadyMember("t".into()))
        );
        ch.mode_invite_only = true;
        assert_eq!(
            invite(&ch, Some(PLAIN), None, "t"),
            Err(Denied::InviteOpsOnly)
        );
        assert_eq!(invite(&ch, Some(OP), None, "t"), Ok(()));

        assert_eq!(kick(None, Some(PLAIN), "t"), Err(Denied::NotMember));
        assert_eq!(
            kick(Some(VOICE), Some(PLAIN), "t"),
            Err(Denied::ChanopRequired)
        );
        assert_eq!(kick(Some(OP), Some(PLAIN), "t"), Ok(()));
        assert_eq!(
            kick(Some(OP), None, "t"),
            Err(Denied::NotInChannel("t".into()))
        );
        assert_eq!(
            kick(Some(OP), Some(OWNER), "t"),
            Err(Denied::CannotKickOwner)
        );
        assert_eq!(kick(Some(OWNER), Some(OWNER), "t"), Ok(()));
    }

    /// Channel settings (issue 24): who describes, pins, unpins and deletes.
    #[test]
    fn settings_rules() {
        use TargetKind::{Message, Other, Reaction};
        let ch = channel();
        type Answer = Result<(), Denied>;
        // (standing, describe, delete)
        let table: [(Option<Standing>, Answer, Answer); 5] = [
            (None, Err(Denied::NotMember), Err(Denied::NotMember)),
            (
                Some(PLAIN),
                Err(Denied::ChanopRequired),
                Err(Denied::OwnerOnly),
            ),
            (
                Some(VOICE),
                Err(Denied::ChanopRequired),
                Err(Denied::OwnerOnly),
            ),
            (Some(OP), Ok(()), Err(Denied::OwnerOnly)),
            (Some(OWNER), Ok(()), Ok(())),
        ];
        for (standing, describes, deletes) in table {
            assert_eq!(describe(standing), describes, "describe {standing:?}");
            assert_eq!(delete_channel(standing), deletes, "delete {standing:?}");
        }
        // (standing, target, deleted, pinned, pin, unpin)
        type Row = (Option<Standing>, TargetKind, bool, bool, Answer, Answer);
        let pins: [Row; 9] = [
            (
                None,
                Message,
                false,
                false,
                Err(Denied::NotMember),
                Err(Denied::NotMember),
            ),
            (
                Some(PLAIN),
                Message,
                false,
                false,
                Err(Denied::ChanopRequired),
                Err(Denied::ChanopRequired),
            ),
            (
                Some(VOICE),
                Message,
                false,
                true,
                Err(Denied::ChanopRequired),
                Err(Denied::ChanopRequired),
            ),
            (
                Some(OP),
                Message,
                false,
                false,
                Ok(()),
                Err(Denied::NotPinned),
            ),
            (
                Some(OP),
                Message,
                false,
                true,
                Err(Denied::AlreadyPinned),
                Ok(()),
            ),
            (
                Some(OWNER),
                Message,
                false,
                false,
                Ok(()),
                Err(Denied::NotPinned),
            ),
            (
                Some(OP),
                Message,
                true,
                false,
                Err(Denied::MessageDeleted),
                Err(Denied::NotPinned),
            ),
            (
                Some(OP),
                Other,
                false,
                false,
                Err(Denied::NotAMessage),
                Err(Denied::NotPinned),
            ),
            (
                Some(OP),
                Reaction,
                false,
                false,
                Err(Denied::NotAMessage),
                Err(Denied::NotPinned),
            ),
        ];
        for (standing, target, deleted, pinned, pins_it, unpins_it) in pins {
            let row = format!("{standing:?} {target:?} deleted {deleted} pinned {pinned}");
            assert_eq!(pin(standing, target, deleted, pinned), pins_it, "pin {row}");
            assert_eq!(unpin(standing, pinned), unpins_it, "unpin {row}");
        }
        assert_eq!(read_pins(&ch, false), Err(Denied::NotMember));
        assert_eq!(read_pins(&ch, true), Ok(()));
        let mut secret = channel();
        secret.mode_secret = true;
        assert_eq!(read_pins(&secret, false), Err(Denied::Hidden));
    }

    #[test]
    fn visibility_rules() {
        let mut ch = channel();
        assert_eq!(see(&ch, false), Ok(()));
        assert_eq!(read_history(&ch, false), Err(Denied::NotMember));
        assert_eq!(read_history(&ch, true), Ok(()));
        assert_eq!(peer_reads(&ch, false), Ok(()));
        ch.mode_invite_only = true;
        assert_eq!(peer_reads(&ch, false), Err(Denied::InviteOnly));
        assert_eq!(peer_reads(&ch, true), Ok(()));
        ch.mode_secret = true;
        assert_eq!(see(&ch, false), Err(Denied::Hidden));
        assert_eq!(see(&ch, true), Ok(()));
        assert_eq!(read_history(&ch, false), Err(Denied::Hidden));
        assert_eq!(peer_reads(&ch, false), Err(Denied::Hidden));
    }

    #[test]
    fn message_action_rules() {
        use TargetKind::{Message, Other, Reaction};
        let facts = |target, is_sender, deleted, age_ms| MessageFacts {
            target,
            is_sender,
            deleted,
            age_ms,
        };
        let own = facts(Message, true, false, 10);
        let theirs = facts(Message, false, false, 10);
        let window = 900_000;
        let edits = [
            // (standing, facts, expected)
            (Some(PLAIN), own, Ok(())),
            (Some(DM_PARTICIPANT), own, Ok(())),
            (None, own, Err(Denied::NotMember)),
            (Some(PLAIN), theirs, Err(Denied::NotSender)),
            (Some(OWNER), theirs, Err(Denied::NotSender)),
            (
                Some(PLAIN),
                facts(Message, true, true, 10),
                Err(Denied::MessageDeleted),
            ),
            (Some(PLAIN), facts(Message, true, false, window), Ok(())),
            (
                Some(PLAIN),
                facts(Message, true, false, window + 1),
                Err(Denied::EditWindowClosed),
            ),
            (
                Some(PLAIN),
                facts(Other, true, false, 10),
                Err(Denied::NotAMessage),
            ),
            (
                Some(PLAIN),
                facts(Reaction, true, false, 10),
                Err(Denied::NotAMessage),
            ),
        ];
        for (standing, f, expected) in edits {
            assert_eq!(
                edit(standing, f, window),
                expected,
                "edit {standing:?} {f:?}"
            );
        }
        let deletes = [
            (Some(PLAIN), own, Ok(())),
            (Some(PLAIN), theirs, Err(Denied::NotSender)),
            (Some(DM_PARTICIPANT), theirs, Err(Denied::NotSender)),
            (Some(VOICE), theirs, Err(Denied::NotSender)),
            (Some(OP), theirs, Ok(())),
            (Some(OWNER), theirs, Ok(())),
            (None, own, Err(Denied::NotMember)),
            // No window for deletes.
            (Some(PLAIN), facts(Message, true, false, i64::MAX), Ok(())),
            (
                Some(OP),
                facts(Message, false, true, 10),
                Err(Denied::MessageDeleted),
            ),
            (Some(PLAIN), facts(Reaction, true, false, 10), Ok(())),
            (
                Some(PLAIN),
                facts(Reaction, false, false, 10),
                Err(Denied::NotSender),
            ),
            (Some(OP), facts(Reaction, false, false, 10), Ok(())),
            (
                Some(OP),
                facts(Other, true, false, 10),
                Err(Denied::NotAMessage),
            ),
        ];
        for (standing, f, expected) in deletes {
            assert_eq!(delete(standing, f), expected, "delete {standing:?} {f:?}");
        }
        let reactions = [
            (Some(PLAIN), theirs, Ok(())),
            (Some(PLAIN), own, Ok(())),
            (None, theirs, Err(Denied::NotMember)),
            (
                Some(OP),
                facts(Message, false, true, 10),
                Err(Denied::MessageDeleted),
            ),
            (
                Some(PLAIN),
                facts(Reaction, false, false, 10),
                Err(Denied::NotAMessage),
            ),
            (
                Some(PLAIN),
                facts(Other, false, false, 10),
                Err(Denied::NotAMessage),
            ),
            // Old messages take reactions.
            (Some(PLAIN), facts(Message, false, false, i64::MAX), Ok(())),
        ];
        for (standing, f, expected) in reactions {
            assert_eq!(react(standing, f), expected, "react {standing:?} {f:?}");
        }
    }

    #[test]
    fn denials_keep_their_codes() {
        let codes = [
            (Denied::InviteOnly, "invite_only", 403),
            (Denied::BadKey, "bad_channel_key", 403),
            (Denied::Full(2), "channel_full", 403),
            (Denied::AlreadyMember("a".into()), "already_member", 409),
            (Denied::NotMember, "not_member", 403),
            (Denied::NoExternal, "not_member", 403),
            (Denied::Moderated, "moderated", 403),
            (Denied::ChanopRequired, "chanop_required", 403),
            (Denied::TopicLocked, "chanop_required", 403),
            (Denied::NotInChannel("a".into()), "not_in_channel", 404),
            (Denied::CannotKickOwner, "cannot_kick_owner", 403),
            (Denied::CannotDeopOwner, "cannot_deop_owner", 403),
            (Denied::OwnerRequired, "owner_required", 403),
            (Denied::OwnerMustBeLocal, "invalid_mode", 400),
            (Denied::Hidden, "no_such_channel", 404),
            (Denied::NotSender, "not_sender", 403),
            (Denied::EditWindowClosed, "edit_window_closed", 403),
            (Denied::MessageDeleted, "message_deleted", 409),
            (Denied::NotAMessage, "not_a_message", 400),
            (Denied::Banned, "banned", 403),
            (Denied::Muted, "muted", 403),
            (Denied::CannotSanctionOwner, "cannot_sanction_owner", 403),
            (Denied::AdminRequired, "admin_required", 403),
        ];
        for (denied, code, status) in codes {
            let e = denied.into_error("#general");
            assert_eq!((e.code, e.status.as_u16()), (code, status));
        }
    }
}
