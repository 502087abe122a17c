//! Drawing the state with ratatui: a title bar with the topic, the window list with unread
//! counts, the message pane, a status line with the connection indicator, and the input line.

use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, List, ListItem, Paragraph};
use ratatui::Frame;

use hearth_client::ConnectionState;

use crate::render::{mentions_me, render, short_handle, Tone};
use crate::tui::buffer::{Buffer, BufferKind, Entry};
use crate::tui::state::State;

/// Width of the window list.
const SIDEBAR: u16 = 24;

/// Draws everything and tells the state how tall the message pane is.
pub fn draw(frame: &mut Frame, state: &mut State) {
    let typing = state.typing_line();
    let [title, body, typing_area, status, input] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Fill(1),
        Constraint::Length(u16::from(typing.is_some())),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(frame.area());
    let [sidebar, messages] =
        Layout::horizontal([Constraint::Length(SIDEBAR), Constraint::Fill(1)]).areas(body);
    state.set_page(usize::from(messages.height));

    frame.render_widget(title_bar(state), title);
    frame.render_widget(window_list(state), sidebar);
    frame.render_widget(
        message_pane(state.active(), state.local_server(), state.me(), messages),
        messages,
    );
    if let Some(text) = typing {
        frame.render_widget(
            Paragraph::new(format!(" {text}")).style(Style::new().fg(Color::DarkGray)),
            typing_area,
        );
    }
    frame.render_widget(status_line(state), status);
    draw_input(frame, state, input);
}

fn title_bar(state: &State) -> Paragraph<'static> {
    let b = state.active();
    let text = match b.kind {
        BufferKind::Status => format!(" hearth: {}", state.me()),
        BufferKind::Channel => {
            let mut text = format!(" {}", b.key);
            if !b.topic.is_empty() {
                text.push_str(&format!(": {}", b.topic));
            }
            if !b.description.is_empty() {
                text.push_str(&format!(" — {}", b.description));
            }
            text
        }
        BufferKind::Direct => format!(" conversation with {}", b.key),
    };
    Paragraph::new(text).style(Style::new().bg(Color::Blue).fg(Color::White))
}

fn window_list(state: &State) -> List<'static> {
    let local = state.local_server();
    let items: Vec<ListItem> = state
        .buffers()
        .iter()
        .enumerate()
        .map(|(i, b)| {
            let name = short_handle(&b.key, local).to_string();
            let mut spans = vec![Span::raw(format!("{:>2} {name}", i + 1))];
            if b.unread > 0 {
                spans.push(Span::styled(
                    format!(" ({})", b.unread),
                    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                ));
            }
            if b.mentions > 0 {
                spans.push(Span::styled(
                    format!(" @{}", b.mentions),
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                ));
            }
            if let Some(status) = &b.presence {
                let colour = match status.as_str() {
                    "online" => Color::Green,
                    "away" => Color::Yellow,
                    "busy" => Color::Red,
                    _ => Color::DarkGray,
                };
                spans.push(Span::styled(format!(" {status}"), Style::new().fg(colour)));
            }
            let style = if i == state.active_index() {
                Style::new().add_modifier(Modifier::REVERSED)
            } else {
                Style::new()
            };
            ListItem::new(Line::from(spans)).style(style)
        })
        .collect();
    List::new(items).block(Block::new().borders(Borders::RIGHT))
}

/// The newest entries that fit, bottom-aligned, after skipping `scroll` entries.
fn message_pane(buffer: &Buffer, local: Option<&str>, me: &str, area: Rect) -> Paragraph<'static> {
    let width = usize::from(area.width.max(1));
    let height = usize::from(area.height);
    let mut lines: Vec<Line> = Vec::new();
    for entry in buffer.entries().rev().skip(buffer.scroll) {
        let mut wrapped = wrap(entry_line(entry, local, me), width);
        wrapped.reverse();
        lines.extend(wrapped);
        if lines.len() >= height {
            break;
        }
    }
    if lines.len() < height && buffer.loading {
        lines.push(Line::styled(
            "… loading history",
            Style::new().fg(Color::DarkGray),
        ));
    }
    lines.truncate(height);
    lines.reverse();
    let pad = height.saturating_sub(lines.len());
    let mut all = vec![Line::raw(""); pad];
    all.extend(lines);
    Paragraph::new(all)
}

/// One entry as a line; a message that mentions `me` is highlighted.
fn entry_line(entry: &Entry, local: Option<&str>, me: &str) -> Line<'static> {
    match entry {
        Entry::Note(text) => Line::styled(format!("-*- {text}"), Style::new().fg(Color::Cyan)),
        Entry::Event(e) => {
            let r = render(e, local);
            let who_style = match r.tone {
                Tone::Speech => Style::new().fg(Color::Green).add_modifier(Modifier::BOLD),
                Tone::Action => Style::new().fg(Color::Magenta),
                Tone::Notice => Style::new().fg(Color::Yellow),
                Tone::Status => Style::new().fg(Color::DarkGray),
            };
            let text_style = if r.tone == Tone::Status {
                Style::new().fg(Color::DarkGray)
            } else if e.from.to_ascii_lowercase() != me && mentions_me(&e.body, me) {
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
            } else {
                Style::new()
            };
            Line::from(vec![
                Span::styled(format!("{} ", r.time), Style::new().fg(Color::DarkGray)),
                Span::styled(r.who, who_style),
                Span::raw(" "),
                Span::styled(r.text, text_style),
            ])
        }
    }
}

/// Splits a line into rows of at most `width` characters, keeping each span's style.
fn wrap(line: Line<'static>, width: usize) -> Vec<Line<'static>> {
    let mut rows: Vec<Line<'static>> = vec![Line::default().style(line.style)];
    let mut used = 0;
    for span in line.spans {
        let mut chunk = String::new();
        for c in span.content.chars() {
            if c == '\n' || used == width {
                if !chunk.is_empty() {
                    push_span(
                        &mut rows,
                        Span::styled(std::mem::take(&mut chunk), span.style),
                    );
                }
                rows.push(Line::default().style(line.style));
                used = 0;
                if c == '\n' {
                    continue;
                }
            }
            chunk.push(c);
            used += 1;
        }
        if !chunk.is_empty() {
            push_span(&mut rows, Span::styled(chunk, span.style));
        }
    }
    rows
}

fn push_span(rows: &mut [Line<'static>], span: Span<'static>) {
    if let Some(row) = rows.last_mut() {
        row.spans.push(span);
    }
}

fn status_line(state: &State) -> Paragraph<'static> {
    let (label, color) = match &state.connection {
        ConnectionState::Connected => ("● connected".to_string(), Color::Green),
        ConnectionState::Connecting => ("◌ connecting".to_string(), Color::Yellow),
        ConnectionState::Offline { retry_in, .. } if !retry_in.is_zero() => (
            format!("○ offline (retry in {}s)", retry_in.as_secs_f32().ceil()),
            Color::Red,
        ),
        ConnectionState::Offline { .. } => ("○ offline".to_string(), Color::Red),
    };
    let b = state.active();
    let mut spans = vec![
        Span::styled(
            format!(" {label} "),
            Style::new().fg(color).add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            "| {} | {}",
            state.me(),
            short_handle(&b.key, state.local_server())
        )),
    ];
    if b.scroll > 0 {
        spans.push(Span::styled(
            format!(" | scrolled up {}", b.scroll),
            Style::new().fg(Color::Yellow),
        ));
    }
    let unread: usize = state.buffers().iter().map(|b| b.unread).sum();
    if unread > 0 {
        spans.push(Span::styled(
            format!(" | {unread} unread"),
            Style::new().fg(Color::Yellow),
        ));
    }
    Paragraph::new(Line::from(spans)).style(Style::new().bg(Color::Black))
}

fn draw_input(frame: &mut Frame, state: &State, area: Rect) {
    let prompt = "> ";
    let width = usize::from(area.width)
        .saturating_sub(prompt.len() + 1)
        .max(1);
    let chars: Vec<char> = state.editor.text().chars().collect();
    let cursor = state.editor.cursor();
    let start = cursor.saturating_sub(width);
    let visible: String = chars.iter().skip(start).take(width).collect();
    frame.render_widget(Paragraph::new(format!("{prompt}{visible}")), area);
    let x = area.x + u16::try_from(prompt.len() + cursor - start).unwrap_or(area.width);
    frame.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(l: &Line) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn wrapping() {
        let line = Line::from(vec![Span::raw("abc "), Span::raw("defgh")]);
        let rows: Vec<String> = wrap(line, 4).iter().map(text).collect();
        assert_eq!(rows, ["abc ", "defg", "h"]);
        let rows: Vec<String> = wrap(Line::from(vec![Span::raw("a\nb")]), 10)
            .iter()
            .map(text)
            .collect();
        assert_eq!(rows, ["a", "b"]);
    }

    #[test]
    fn draws_into_a_test_backend() {
        use crate::render::tests::event;
        use crate::tui::state::Outcome;
        let mut state = State::new("alice@hs1");
        state.apply(Outcome::Channels(vec![
            federation_proto::api::client::ChannelSummary {
                name: "#general@hs1".into(),
                topic: "hello topic".into(),
                members: 1,
                modes: "+nt".into(),
                description: String::new(),
            },
        ]));
        state.apply(Outcome::History {
            target: "#general@hs1".into(),
            events: vec![],
        });
        state.apply(Outcome::Events(vec![event(
            1,
            "message",
            "bob@hs1",
            "#general@hs1",
            "hi alice",
        )]));
        state.apply(Outcome::Connection(ConnectionState::Connected));
        let backend = ratatui::backend::TestBackend::new(80, 12);
        let mut terminal = ratatui::Terminal::new(backend).unwrap();
        terminal.draw(|f| draw(f, &mut state)).unwrap();
        let screen: String = terminal
            .backend()
            .buffer()
            .content()
            .chunks(80)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect();
        assert!(screen.contains("#general@hs1: hello topic"), "{screen}");
        assert!(screen.contains("<bob> hi alice"), "{screen}");
        assert!(screen.contains("connected"), "{screen}");
        assert!(screen.contains("2 #general"), "{screen}");
        assert!(!screen.contains("typing"), "{screen}");

        let mut typing = event(0, "typing", "bob@hs1", "#general@hs1", "");
        typing
            .meta
            .insert("typing".into(), serde_json::Value::Bool(true));
        state.apply(Outcome::Events(vec![typing]));
        terminal.draw(|f| draw(f, &mut state)).unwrap();
        let screen: String = terminal
            .backend()
            .buffer()
            .content()
            .chunks(80)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect();
        assert!(screen.contains("bob is typing…"), "{screen}");
    }
}
