//! The input line: text, cursor, and recall of earlier lines. Pure; no I/O.

/// A one-line editor with history.
#[derive(Debug, Clone, Default)]
pub struct LineEditor {
    chars: Vec<char>,
    cursor: usize,
    history: Vec<String>,
    /// Position while recalling history (`None`: editing a new line).
    recall: Option<usize>,
}

/// How many earlier lines are remembered.
const HISTORY_MAX: usize = 100;

impl LineEditor {
    /// The current text.
    pub fn text(&self) -> String {
        self.chars.iter().collect()
    }

    /// The cursor's position in characters.
    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// Inserts a character at the cursor.
    pub fn insert(&mut self, c: char) {
        self.chars.insert(self.cursor, c);
        self.cursor += 1;
    }

    /// Deletes the character before the cursor.
    pub fn backspace(&mut self) {
        if self.cursor > 0 {
            self.cursor -= 1;
            self.chars.remove(self.cursor);
        }
    }

    /// Deletes the character under the cursor.
    pub fn delete(&mut self) {
        if self.cursor < self.chars.len() {
            self.chars.remove(self.cursor);
        }
    }

    /// Moves left one character.
    pub fn left(&mut self) {
        self.cursor = self.cursor.saturating_sub(1);
    }

    /// Moves right one character.
    pub fn right(&mut self) {
        self.cursor = (self.cursor + 1).min(self.chars.len());
    }

    /// Moves to the start.
    pub fn home(&mut self) {
        self.cursor = 0;
    }

    /// Moves to the end.
    pub fn end(&mut self) {
        self.cursor = self.chars.len();
    }

    /// Deletes from the start of the line to the cursor (Ctrl-U).
    pub fn kill_to_start(&mut self) {
        self.chars.drain(..self.cursor);
        self.cursor = 0;
    }

    /// Deletes the word before the cursor (Ctrl-W).
    pub fn delete_word(&mut self) {
        let mut start = self.cursor;
        while start > 0 && self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        while start > 0 && !self.chars[start - 1].is_whitespace() {
            start -= 1;
        }
        self.chars.drain(start..self.cursor);
        self.cursor = start;
    }

    /// Takes the line out (for Enter), remembering it for recall.
    pub fn take(&mut self) -> String {
        let text = self.text();
        self.chars.clear();
        self.cursor = 0;
        self.recall = None;
        if !text.trim().is_empty() && self.history.last() != Some(&text) {
            self.history.push(text.clone());
            if self.history.len() > HISTORY_MAX {
                self.history.remove(0);
            }
        }
        text
    }

    /// Recalls the previous line (Up).
    pub fn previous(&mut self) {
        let next = match self.recall {
            None if self.history.is_empty() => return,
            None => self.history.len() - 1,
            Some(0) => 0,
            Some(i) => i - 1,
        };
        self.recall = Some(next);
        self.set(self.history[next].clone());
    }

    /// Recalls the next line, or an empty line past the newest (Down).
    pub fn next(&mut self) {
        match self.recall {
            None => {}
            Some(i) if i + 1 < self.history.len() => {
                self.recall = Some(i + 1);
                self.set(self.history[i + 1].clone());
            }
            Some(_) => {
                self.recall = None;
                self.set(String::new());
            }
        }
    }

    fn set(&mut self, text: String) {
        self.chars = text.chars().collect();
        self.cursor = self.chars.len();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(s: &str) -> LineEditor {
        let mut e = LineEditor::default();
        s.chars().for_each(|c| e.insert(c));
        e
    }

    #[test]
    fn editing() {
        let mut e = typed("helo");
        e.left();
        e.insert('l');
        assert_eq!(e.text(), "hello");
        e.home();
        e.delete();
        assert_eq!(e.text(), "ello");
        e.end();
        e.backspace();
        assert_eq!((e.text().as_str(), e.cursor()), ("ell", 3));
        e.right();
        assert_eq!(e.cursor(), 3);
    }

    #[test]
    fn unicode_is_by_character() {
        let mut e = typed("héé");
        e.backspace();
        assert_eq!(e.text(), "hé");
    }

    #[test]
    fn words_and_kill() {
        let mut e = typed("one two  three");
        e.delete_word();
        assert_eq!(e.text(), "one two  ");
        e.delete_word();
        assert_eq!(e.text(), "one ");
        e.kill_to_start();
        assert_eq!(e.text(), "");
    }

    #[test]
    fn history_recall() {
        let mut e = typed("first");
        assert_eq!(e.take(), "first");
        "second".chars().for_each(|c| e.insert(c));
        e.take();
        e.previous();
        assert_eq!(e.text(), "second");
        e.previous();
        assert_eq!(e.text(), "first");
        e.previous();
        assert_eq!(e.text(), "first");
        e.next();
        assert_eq!(e.text(), "second");
        e.next();
        assert_eq!(e.text(), "");
    }
}
