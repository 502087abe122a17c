//! The scriptable `hearth` subcommands.
//!
//! # Layout
//! - [`args`]: the clap definition.
//! - [`context`]: profile, server URL, SDK client and output mode of one run.
//! - [`profile`]: named profiles on disk (owner-only files).
//! - [`password`]: password from stdin, the environment or a prompt.
//! - [`commands`]: one function per subcommand.
//! - [`error`]: [`error::CliError`] and the exit codes.

pub mod args;
pub mod commands;
pub mod context;
pub mod error;
pub mod password;
pub mod profile;

use args::{ChannelCommand, Cli, Command, ProfileCommand, UsersCommand};
use commands::{account, channels, community, media, messages, read, search, settings, tail};
use context::Context;
use error::CliError;
use profile::ProfileStore;

/// Runs the parsed command line.
pub async fn run(cli: Cli) -> Result<(), CliError> {
    let store = ProfileStore::locate()?;
    let mut ctx = Context::load(store, cli.profile, cli.server, cli.json)?;
    ctx.extra_ca_file = cli.extra_ca_file;
    let Some(command) = cli.command else {
        return crate::tui::run(&mut ctx).await;
    };
    match &command {
        Command::Register(c) => account::register(&mut ctx, c).await,
        Command::Login(c) => account::login(&mut ctx, c).await,
        Command::Logout => account::logout(&mut ctx).await,
        Command::Join { channel, key } => channels::join(&ctx, channel, key.as_deref()).await,
        Command::Part { channel, reason } => channels::part(&ctx, channel, reason).await,
        Command::Channels { public } => channels::channels(&ctx, *public).await,
        Command::Info { channel } => channels::info(&ctx, channel).await,
        Command::Topic {
            channel,
            topic,
            clear,
        } => channels::topic(&ctx, channel, topic, *clear).await,
        Command::Mode {
            channel,
            modes,
            arg,
        } => channels::mode(&ctx, channel, modes.as_deref(), arg.as_deref()).await,
        Command::Invite { channel, nick } => channels::invite(&ctx, channel, nick).await,
        Command::Kick {
            channel,
            nick,
            reason,
        } => channels::kick(&ctx, channel, nick, reason).await,
        Command::Pin { channel, id } => settings::pin(&ctx, channel, id).await,
        Command::Unpin { channel, id } => settings::unpin(&ctx, channel, id).await,
        Command::Pins { channel } => settings::pins(&ctx, channel).await,
        Command::Channel(ChannelCommand::Describe {
            channel,
            text,
            clear,
        }) => settings::describe(&ctx, channel, text, *clear).await,
        Command::Channel(ChannelCommand::Delete { channel, yes }) => {
            settings::delete(&ctx, channel, *yes).await
        }
        Command::Ban {
            channel,
            mask,
            remove,
        } => community::ban(&ctx, channel, mask, !*remove).await,
        Command::Mute {
            channel,
            nick,
            seconds,
            remove,
        } => community::mute(&ctx, channel, nick, !*remove, *seconds).await,
        Command::Block { handle, remove } => community::block(&ctx, handle, !*remove).await,
        Command::Blocks => community::blocks(&ctx).await,
        Command::Report { id, reason } => community::report(&ctx, id, reason).await,
        Command::InviteLink {
            channel,
            max_uses,
            expires_in,
        } => community::invite_link(&ctx, channel, *max_uses, *expires_in).await,
        Command::AcceptInvite { code } => community::accept_invite(&ctx, code).await,
        Command::Notifications { unread, read_all } => {
            community::notifications(&ctx, *unread, *read_all).await
        }
        Command::NotifyLevel { channel, level } => {
            community::notify_level(&ctx, channel, level).await
        }
        Command::Send(args) => messages::send(&ctx, args).await,
        Command::Dm { nick, body } => messages::dm(&ctx, nick, body).await,
        Command::History {
            target,
            limit,
            before,
            after,
        } => messages::history(&ctx, target, *limit, *before, *after).await,
        Command::Search(args) => search::search(&ctx, args).await,
        Command::Edit { id, body } => messages::edit(&ctx, id, body).await,
        Command::Delete { id } => messages::delete(&ctx, id).await,
        Command::React { id, emoji, remove } => messages::react(&ctx, id, emoji, *remove).await,
        Command::Thread { id } => messages::thread(&ctx, id).await,
        Command::Show { id } => messages::show(&ctx, id).await,
        Command::Upload { file, to, message } => {
            media::upload(&ctx, file, to.as_deref(), message.as_deref()).await
        }
        Command::Download { id, output } => media::download(&ctx, id, output.as_deref()).await,
        Command::Read { target, id } => read::read(&ctx, target, id).await,
        Command::Receipts { id } => read::receipts(&ctx, id).await,
        Command::Conversations => read::conversations(&ctx).await,
        Command::Profile(ProfileCommand::Set(args)) => account::profile_set(&ctx, args).await,
        Command::Users(UsersCommand::Search { query }) => account::search(&ctx, query).await,
        Command::Typing { target, stop } => read::typing(&ctx, target, !*stop).await,
        Command::Tail(args) => tail::tail(&mut ctx, args).await,
        Command::Whois { handle } => account::whois(&ctx, handle.as_deref()).await,
        Command::Nick { nick } => account::nick(&mut ctx, nick).await,
        Command::Server => account::server(&ctx).await,
        Command::Profiles => account::profiles(&ctx),
        Command::Chat => crate::tui::run(&mut ctx).await,
    }
}
