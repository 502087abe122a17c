//! The command line, declared with clap.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// `hearth`: the Hearth chat client. Without a subcommand it opens the chat UI.
#[derive(Debug, Parser)]
#[command(
    name = "hearth",
    version,
    about = "Hearth chat client: scriptable commands, and a chat UI when run without one",
    after_help = "Exit codes: 0 ok, 1 other, 2 usage, 3 local config, 4 not logged in / bad password, \
                  5 forbidden, 6 not found, 7 conflict, 8 invalid, 9 rate limited, 10 server error, \
                  11 unreachable. See docs/client.md."
)]
pub struct Cli {
    /// Profile (server + account) to use; profiles live in $XDG_CONFIG_HOME/hearth/profiles.
    #[arg(
        long,
        short = 'p',
        global = true,
        env = "HEARTH_PROFILE",
        default_value = "default"
    )]
    pub profile: String,
    /// Homeserver base URL (e.g. http://127.0.0.1:8080, https://hs1.example); overrides the profile's (register and login save it).
    #[allow(rustdoc::bare_urls)] // clap's help text: plain URLs read best in --help
    #[arg(long, short = 's', global = true, env = "HEARTH_SERVER")]
    pub server: Option<String>,
    /// Print JSON for scripts (one object, or one per line for `tail`).
    #[arg(long, global = true)]
    pub json: bool,
    /// A private CA's certificates (PEM, one or several) to trust for HTTPS besides the usual
    /// public roots, for a homeserver whose certificate that CA issued.
    #[arg(long, global = true, env = "EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// What to do; the chat UI when left out.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create an account and log this profile in as its first device.
    Register(Credentials),
    /// Log this profile in (a new device of the account).
    Login(Credentials),
    /// End this profile's device session and forget its token.
    Logout,
    /// Join a channel (it is created when it does not exist).
    Join {
        /// `#name` or `#name@server`.
        channel: String,
        /// The channel key, for `+k` channels.
        #[arg(long)]
        key: Option<String>,
    },
    /// Leave a channel.
    Part {
        /// `#name` or `#name@server`.
        channel: String,
        /// A part message.
        reason: Vec<String>,
    },
    /// List the channels you are in (or with --public, the server's public channels).
    Channels {
        /// List the server's public channels instead.
        #[arg(long)]
        public: bool,
    },
    /// Show a channel's topic, modes and members.
    Info {
        /// `#name` or `#name@server`.
        channel: String,
    },
    /// Show or set a channel's topic.
    Topic {
        /// `#name` or `#name@server`.
        channel: String,
        /// The new topic; shows the topic when left out. `--clear` empties it.
        topic: Vec<String>,
        /// Clear the topic.
        #[arg(long, conflicts_with = "topic")]
        clear: bool,
    },
    /// Show or change channel modes (`+mt`, `+k key`, `+l 50`) or member modes (`+o nick`).
    Mode {
        /// `#name` or `#name@server`.
        channel: String,
        /// Mode string such as `+mt`, `-i`, `+o`; shows the modes when left out.
        #[arg(allow_hyphen_values = true)]
        modes: Option<String>,
        /// The nick for `+o/+v/+q`, the key for `+k`, the limit for `+l`.
        arg: Option<String>,
    },
    /// Let a user into an invite-only (+i) channel.
    Invite {
        /// `#name` or `#name@server`.
        channel: String,
        /// Who.
        nick: String,
    },
    /// Remove a member from a channel.
    Kick {
        /// `#name` or `#name@server`.
        channel: String,
        /// Who.
        nick: String,
        /// Why.
        reason: Vec<String>,
    },
    /// Pin a message of a channel (operators).
    Pin {
        /// `#name` or `#name@server`.
        channel: String,
        /// The message's id.
        id: String,
    },
    /// Unpin a message of a channel (operators).
    Unpin {
        /// `#name` or `#name@server`.
        channel: String,
        /// The message's id.
        id: String,
    },
    /// List a channel's pinned messages, newest pin first.
    Pins {
        /// `#name` or `#name@server`.
        channel: String,
    },
    /// Channel settings: describe or delete a channel.
    #[command(subcommand)]
    Channel(ChannelCommand),
    /// Ban a `nick@server` mask from a channel (`*`/`?` wildcards; a bare nick is `nick@*`);
    /// present members it matches are removed (operators).
    Ban {
        /// `#name` or `#name@server`.
        channel: String,
        /// The mask, e.g. `troll@hs2.example`, `*@spam.example`.
        mask: String,
        /// Lift the ban instead.
        #[arg(long)]
        remove: bool,
    },
    /// Mute a member of a channel: they read but cannot send (operators).
    Mute {
        /// `#name` or `#name@server`.
        channel: String,
        /// `nick` or `nick@server`.
        nick: String,
        /// For this many seconds (without: until unmuted).
        #[arg(long)]
        seconds: Option<i64>,
        /// Unmute instead.
        #[arg(long)]
        remove: bool,
    },
    /// Refuse a user's direct messages (any server).
    Block {
        /// `nick` or `nick@server`.
        handle: String,
        /// Unblock instead.
        #[arg(long)]
        remove: bool,
    },
    /// List the users you blocked.
    Blocks,
    /// Report a message to the channel's operators and the server's admins.
    Report {
        /// The message's id.
        id: String,
        /// Why.
        reason: Vec<String>,
    },
    /// Make an invite link for a channel (operators): past +i and +k, never past a ban.
    InviteLink {
        /// `#name` (a channel hosted on your server).
        channel: String,
        /// How many joins it allows (default: unlimited).
        #[arg(long)]
        max_uses: Option<i64>,
        /// Seconds until it expires (default: 7 days).
        #[arg(long)]
        expires_in: Option<i64>,
    },
    /// Join a channel through an invite link's code.
    AcceptInvite {
        /// The code (it may begin with `-`: codes are base64url).
        #[arg(allow_hyphen_values = true)]
        code: String,
    },
    /// Your notifications (mentions, replies, invitations, DMs), newest first.
    Notifications {
        /// Only unread ones.
        #[arg(long)]
        unread: bool,
        /// Mark them all read (after listing).
        #[arg(long)]
        read_all: bool,
    },
    /// Set your notification level for a channel: all, mentions (default) or muted.
    NotifyLevel {
        /// `#name` or `#name@server`.
        channel: String,
        /// `all`, `mentions` or `muted`.
        level: String,
    },
    /// Send a message to a channel or user; the body comes from the arguments or stdin.
    Send(SendArgs),
    /// Send a direct message; the body comes from the arguments or stdin.
    Dm {
        /// `nick` or `nick@server`.
        nick: String,
        /// The message; read from stdin when left out or `-`.
        body: Vec<String>,
    },
    /// Show a channel's or a DM's history, oldest first.
    History {
        /// `#channel[@server]` or `nick[@server]`.
        target: String,
        /// How many events (1-200).
        #[arg(long, short = 'n', default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=200))]
        limit: u32,
        /// Only events with a seq below this (page backwards).
        #[arg(long)]
        before: Option<i64>,
        /// Only events with a seq above this.
        #[arg(long)]
        after: Option<i64>,
    },
    /// Search the messages you may read: words and "phrases", all required; most relevant
    /// first, then newest. Matches are shown in [brackets].
    #[allow(rustdoc::broken_intra_doc_links)] // clap's help text, not a link
    Search(SearchArgs),
    /// Edit one of your messages (within the server's edit window).
    Edit {
        /// The message's id.
        id: String,
        /// The new text; read from stdin when left out or `-`.
        body: Vec<String>,
    },
    /// Delete a message (yours, or any in a channel you operate).
    Delete {
        /// The message's id.
        id: String,
    },
    /// React to a message with an emoji (or withdraw your reaction with --remove).
    React {
        /// The message's id.
        id: String,
        /// One emoji, e.g. 👍.
        emoji: String,
        /// Withdraw this reaction instead.
        #[arg(long)]
        remove: bool,
    },
    /// Show a message and its replies, oldest first.
    Thread {
        /// The root message's id.
        id: String,
    },
    /// Upload a file (its type is decided by its content); with --to, send it as an attachment.
    Upload {
        /// The file.
        file: std::path::PathBuf,
        /// Send a message with the file attached to `#channel[@server]` or `nick[@server]`.
        #[arg(long)]
        to: Option<String>,
        /// The message's text (with --to); the file's name when left out.
        #[arg(long, short = 'm', requires = "to")]
        message: Option<String>,
    },
    /// Download a media by its id.
    Download {
        /// The media id (`<uuid>@<server>`).
        id: String,
        /// Where to write it (`-` for standard output); default: the name the server gives, in
        /// the current directory.
        #[arg(long, short = 'o')]
        output: Option<std::path::PathBuf>,
    },
    /// Show one message with its edits, reactions and replies counted.
    Show {
        /// The message's id.
        id: String,
    },
    /// Mark a channel or DM read up to a message (the marker never moves backwards).
    Read {
        /// `#channel[@server]` or `nick[@server]`.
        target: String,
        /// The id of a message of that conversation.
        id: String,
    },
    /// Show who has read up to or past a message.
    Receipts {
        /// The message's id.
        id: String,
    },
    /// List your channels and DMs, most recent activity first, with unread and mention counts.
    Conversations,
    /// Change your profile (display name, avatar, status, status message).
    #[command(subcommand)]
    Profile(ProfileCommand),
    /// Find users of this server.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Tell a channel or DM that you are typing (it lapses after 5 s), or with --stop that you
    /// stopped.
    Typing {
        /// `#channel[@server]` or `nick[@server]`.
        target: String,
        /// Say that you stopped typing.
        #[arg(long)]
        stop: bool,
    },
    /// Follow events live; resumes where the last `tail` of this profile stopped.
    Tail(TailArgs),
    /// Show a user's profile (your own without an argument).
    Whois {
        /// `nick` or `nick@server`.
        handle: Option<String>,
    },
    /// Change your nick.
    Nick {
        /// The new nick.
        nick: String,
    },
    /// Show the server's name, version, MOTD and user count.
    Server,
    /// List saved profiles.
    Profiles,
    /// Open the interactive chat UI.
    Chat,
}

/// `hearth channel …`.
#[derive(Debug, Subcommand)]
pub enum ChannelCommand {
    /// Show or set a channel's description (operators set it; at most 500 characters).
    Describe {
        /// `#name` or `#name@server`.
        channel: String,
        /// The new description; shows it when left out. `--clear` empties it.
        text: Vec<String>,
        /// Clear the description.
        #[arg(long, conflicts_with = "text")]
        clear: bool,
    },
    /// Delete a channel (its owner only): members are parted and its history is erased.
    Delete {
        /// `#name` or `#name@server`.
        channel: String,
        /// Confirm: the history is erased for everyone.
        #[arg(long)]
        yes: bool,
    },
}

/// `hearth profile …`.
#[derive(Debug, Subcommand)]
pub enum ProfileCommand {
    /// Set any of your display name, avatar, status and status message (`""` clears a text
    /// field); prints your profile.
    Set(ProfileSetArgs),
}

/// Options of `profile set`.
#[derive(Debug, Args)]
#[group(required = true, multiple = true)]
pub struct ProfileSetArgs {
    /// The name to show (1-50 characters; "" clears it).
    #[arg(long)]
    pub display_name: Option<String>,
    /// An https:// URL or a media id ("" clears it).
    #[arg(long)]
    pub avatar: Option<String>,
    /// Your status (`offline` appears offline).
    #[arg(long, value_enum)]
    pub status: Option<Status>,
    /// A short status line (at most 100 characters; "" clears it).
    #[arg(long)]
    pub status_message: Option<String>,
}

/// A presence status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Status {
    /// Available.
    Online,
    /// Away.
    Away,
    /// Busy.
    Busy,
    /// Appear offline.
    Offline,
}

impl Status {
    /// The wire spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Online => "online",
            Status::Away => "away",
            Status::Busy => "busy",
            Status::Offline => "offline",
        }
    }
}

/// `hearth users …`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Users of this server whose nick or display name contains QUERY (case-insensitive).
    Search {
        /// 1-50 characters.
        query: String,
    },
}

/// Nick and password options of `register` and `login`.
#[derive(Debug, Args)]
pub struct Credentials {
    /// The account's nick.
    pub nick: String,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    pub password_stdin: bool,
    /// A name for this device (shown in your device list).
    #[arg(long, default_value = "hearth-cli")]
    pub device: String,
}

/// Options of `send`.
#[derive(Debug, Args)]
pub struct SendArgs {
    /// `#channel[@server]` or `nick[@server]`.
    pub target: String,
    /// The message; read from stdin when left out or `-`.
    pub body: Vec<String>,
    /// Send as an action (`/me`).
    #[arg(long, conflicts_with = "notice")]
    pub action: bool,
    /// Send as a notice (for bots and scripts: clients never auto-reply to notices).
    #[arg(long)]
    pub notice: bool,
    /// Id of the message this one answers.
    #[arg(long)]
    pub reply_to: Option<String>,
}

/// Options of `tail`.
#[derive(Debug, Args)]
pub struct TailArgs {
    /// Only events of this channel or DM partner.
    pub target: Option<String>,
    /// Only events of these types (repeatable: `--type message --type action`).
    #[arg(long = "type", short = 't')]
    pub types: Vec<String>,
    /// Exit after printing this many events.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// Do not resume from (nor save) this profile's cursor: start from the server's.
    #[arg(long)]
    pub no_resume: bool,
}

/// `hearth search QUERY…`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Words and "phrases" (quote a phrase for the shell too: '"red roof"').
    #[arg(required = true)]
    pub query: Vec<String>,
    /// Only this channel (`#channel[@server]`) or DM (`nick[@server]`).
    #[arg(long = "in", value_name = "TARGET")]
    pub in_: Option<String>,
    /// Only messages from this user (`nick[@server]`).
    #[arg(long, value_name = "USER")]
    pub from: Option<String>,
    /// Only messages with an attachment or a link.
    #[arg(long, value_parser = ["attachment", "link"])]
    pub has: Option<String>,
    /// Only messages sent before this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub before: Option<String>,
    /// Only messages sent after this RFC 3339 time.
    #[arg(long, value_name = "TIME")]
    pub after: Option<String>,
    /// How many results (1-100).
    #[arg(long, short = 'n', default_value_t = 20, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub limit: u32,
    /// Continue a search: the `next` of a previous page (printed last, or in --json).
    #[arg(long)]
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn definition_is_valid() {
        Cli::command().debug_assert();
    }

    #[test]
    fn globals_anywhere() {
        let cli =
            Cli::try_parse_from(["hearth", "channels", "--json", "--profile", "work"]).unwrap();
        assert!(cli.json);
        assert_eq!(cli.profile, "work");
        let cli = Cli::try_parse_from(["hearth"]).unwrap();
        assert!(cli.command.is_none());
    }

    #[test]
    fn mode_accepts_minus() {
        let cli = Cli::try_parse_from(["hearth", "mode", "#x", "-i"]).unwrap();
        assert!(matches!(cli.command, Some(Command::Mode { modes: Some(m), .. }) if m == "-i"));
    }

    /// Invite codes are base64url, so one in 32 begins with `-`.
    #[test]
    fn an_invite_code_may_begin_with_a_minus() {
        let cli = Cli::try_parse_from(["hearth", "--json", "accept-invite", "-iQH9T5Kk"]).unwrap();
        assert!(matches!(cli.command, Some(Command::AcceptInvite { code }) if code == "-iQH9T5Kk"));
    }

    #[test]
    fn profile_set_needs_a_field() {
        assert!(Cli::try_parse_from(["hearth", "profile", "set"]).is_err());
        assert!(Cli::try_parse_from(["hearth", "profile", "set", "--status", "lazy"]).is_err());
        let cli = Cli::try_parse_from([
            "hearth",
            "profile",
            "set",
            "--status",
            "busy",
            "--display-name",
            "",
        ])
        .unwrap();
        let Some(Command::Profile(ProfileCommand::Set(p))) = cli.command else {
            panic!("not profile set")
        };
        assert_eq!(p.status, Some(Status::Busy));
        assert_eq!(p.display_name.as_deref(), Some(""));
        // The global --profile option still works next to the `profile` subcommand.
        let cli = Cli::try_parse_from(["hearth", "-p", "work", "typing", "#x", "--stop"]).unwrap();
        assert_eq!(cli.profile, "work");
        assert!(matches!(
            cli.command,
            Some(Command::Typing { stop: true, .. })
        ));
    }

    #[test]
    fn send_collects_words() {
        let cli = Cli::try_parse_from(["hearth", "send", "#x", "hello", "world"]).unwrap();
        let Some(Command::Send(s)) = cli.command else {
            panic!("not send")
        };
        assert_eq!(s.body, ["hello", "world"]);
    }
}
