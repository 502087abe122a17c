//! The interactive chat UI (`hearth` or `hearth chat`).
//!
//! # Layout
//! - [`action`]: keys and outcomes in, actions out: the state's vocabulary.
//! - [`state`]: all the rules (buffers, unread counts, commands, scrollback), pure and tested.
//! - [`buffer`], [`editor`], [`command`]: pieces of the state: windows, input line, `/commands`.
//! - [`keys`]: terminal keys → state keys.
//! - [`view`]: drawing with ratatui.
//! - [`runner`]: SDK calls for the state's actions, and the sync stream, as local tasks.
//!
//! This module owns the terminal: raw mode and the alternate screen are set up after login
//! checks pass and restored on every exit path (ratatui's panic hook covers panics).

pub mod action;
pub mod buffer;
pub mod command;
pub mod editor;
pub mod keys;
pub mod runner;
pub mod state;
pub mod view;

use std::cell::Cell;
use std::io::IsTerminal;
use std::rc::Rc;
use std::time::{Duration, Instant};

use ratatui::crossterm::event::{self, Event as TermEvent};
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;

use crate::cli::context::Context;
use crate::cli::error::CliError;
use state::{Action, Outcome, State};

/// Opens the chat UI for the context's profile; returns when the user quits.
pub async fn run(ctx: &mut Context) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() || !std::io::stdout().is_terminal() {
        return Err(CliError::Usage(
            "the chat UI needs a terminal; see `hearth --help` for the scriptable commands".into(),
        ));
    }
    let client = ctx.authed()?;
    let me = client.me().await?;
    let channels = client.channels().await?;

    let (tx, mut rx) = mpsc::unbounded_channel::<Outcome>();
    let mut state = State::new(&me.handle);
    let mut first = state.apply(Outcome::Channels(channels.channels));
    // The unread counts come from the server at start (and after each reconnect).
    first.push(Action::LoadConversations);
    for action in first {
        runner::execute(&client, action, &tx);
    }
    let saved = ctx.profile.as_ref().and_then(|p| p.cursor);
    let cursor = Rc::new(Cell::new(saved));
    runner::start_sync(client.sync().starting_after(saved), cursor.clone(), &tx);

    let mut terminal = ratatui::try_init()?;
    let result = event_loop(&mut terminal, &mut state, &client, &tx, &mut rx).await;
    ratatui::restore();

    if let (Some(seq), Some(mut profile)) = (cursor.get(), ctx.profile.clone()) {
        if profile.cursor.is_none_or(|c| c < seq) {
            profile.cursor = Some(seq);
            ctx.save(profile)?;
        }
    }
    result
}

/// Draws, then waits for a key or an outcome, until an [`Action::Quit`].
async fn event_loop(
    terminal: &mut DefaultTerminal,
    state: &mut State,
    client: &hearth_client::Client,
    tx: &mpsc::UnboundedSender<Outcome>,
    rx: &mut mpsc::UnboundedReceiver<Outcome>,
) -> Result<(), CliError> {
    let mut keys = spawn_key_reader();
    // Redraws every second so that typing lines lapse on time.
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        terminal.draw(|frame| view::draw(frame, state))?;
        let actions = tokio::select! {
            key = keys.recv() => match key {
                Some(k) => {
                    state.set_now(Instant::now());
                    state.key(k)
                }
                None => return Ok(()),
            },
            Some(outcome) = rx.recv() => {
                state.set_now(Instant::now());
                state.apply(outcome)
            }
            _ = tick.tick() => {
                state.set_now(Instant::now());
                Vec::new()
            }
        };
        for action in actions {
            if action == Action::Quit {
                return Ok(());
            }
            runner::execute(client, action, tx);
        }
    }
}

/// Reads terminal events on a thread (crossterm's reads block) and forwards the keys.
/// Resizes come through as [`state::Key::Resize`] so the loop redraws.
fn spawn_key_reader() -> mpsc::UnboundedReceiver<state::Key> {
    let (tx, rx) = mpsc::unbounded_channel();
    std::thread::spawn(move || loop {
        let key = match event::read() {
            Ok(TermEvent::Key(k)) => keys::translate(k),
            Ok(TermEvent::Paste(text)) => {
                for c in text.chars().filter(|c| !c.is_control()) {
                    if tx.send(state::Key::Char(c)).is_err() {
                        return;
                    }
                }
                None
            }
            Ok(TermEvent::Resize(..)) => Some(state::Key::Resize),
            Ok(_) => None,
            Err(_) => return,
        };
        if let Some(k) = key {
            if tx.send(k).is_err() {
                return;
            }
        }
    });
    rx
}
