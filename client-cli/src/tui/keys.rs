//! Terminal key events → [`Key`].

use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers};

use crate::tui::state::Key;

/// Translates a key event; `None` for keys the UI ignores (and for key releases).
pub fn translate(ev: KeyEvent) -> Option<Key> {
    if ev.kind == KeyEventKind::Release {
        return None;
    }
    let ctrl = ev.modifiers.contains(KeyModifiers::CONTROL);
    let alt = ev.modifiers.contains(KeyModifiers::ALT);
    Some(match ev.code {
        KeyCode::Char('c' | 'd') if ctrl => Key::Quit,
        KeyCode::Char('n') if ctrl => Key::NextBuffer,
        KeyCode::Char('p') if ctrl => Key::PrevBuffer,
        KeyCode::Char('u') if ctrl => Key::KillLine,
        KeyCode::Char('w') if ctrl => Key::DeleteWord,
        KeyCode::Char('a') if ctrl => Key::Home,
        KeyCode::Char('e') if ctrl => Key::End,
        KeyCode::Char(c @ '1'..='9') if alt => Key::Jump(c as usize - '1' as usize),
        KeyCode::Char('0') if alt => Key::Jump(9),
        KeyCode::Char(_) if ctrl || alt => return None,
        KeyCode::Char(c) => Key::Char(c),
        KeyCode::Enter => Key::Enter,
        KeyCode::Backspace => Key::Backspace,
        KeyCode::Delete => Key::Delete,
        KeyCode::Left => Key::Left,
        KeyCode::Right => Key::Right,
        KeyCode::Home => Key::Home,
        KeyCode::End => Key::End,
        KeyCode::Up => Key::Up,
        KeyCode::Down => Key::Down,
        KeyCode::PageUp => Key::PageUp,
        KeyCode::PageDown => Key::PageDown,
        KeyCode::Tab => Key::NextBuffer,
        KeyCode::BackTab => Key::PrevBuffer,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode, modifiers: KeyModifiers) -> Option<Key> {
        translate(KeyEvent::new(code, modifiers))
    }

    #[test]
    fn translations() {
        assert_eq!(
            key(KeyCode::Char('x'), KeyModifiers::NONE),
            Some(Key::Char('x'))
        );
        assert_eq!(
            key(KeyCode::Char('X'), KeyModifiers::SHIFT),
            Some(Key::Char('X'))
        );
        assert_eq!(
            key(KeyCode::Char('c'), KeyModifiers::CONTROL),
            Some(Key::Quit)
        );
        assert_eq!(
            key(KeyCode::Char('3'), KeyModifiers::ALT),
            Some(Key::Jump(2))
        );
        assert_eq!(key(KeyCode::Char('z'), KeyModifiers::CONTROL), None);
        assert_eq!(key(KeyCode::Tab, KeyModifiers::NONE), Some(Key::NextBuffer));
        assert_eq!(key(KeyCode::F(1), KeyModifiers::NONE), None);
    }
}
