//! IRC framing (the IRC gateway, [`crate::irc`]): lines in and out, bounded as RFC 1459 and
//! IRCv3 message-tags allow.
//!
//! A line is at most [`MAX_TAGS`] bytes of tags (`@…` and its space) plus [`MAX_BODY`] bytes
//! of the rest (source, command, parameters and the CRLF). [`LineReader`] never buffers more
//! than both together: a longer line is skipped up to its end and reported as
//! [`Read::TooLong`] (the gateway answers `417`). [`Message::parse`] takes one line;
//! [`Line`] builds one to send, with escaped tag values and a trailing parameter.

use std::fmt::Write as _;

use tokio::io::{AsyncRead, AsyncReadExt as _};

/// Bytes of the tags part of a line, `@` and the space after it included (IRCv3).
pub const MAX_TAGS: usize = 8191;
/// Bytes of the rest of a line, CRLF included (RFC 1459).
pub const MAX_BODY: usize = 512;
/// Most parameters a message may have (RFC 2812).
const MAX_PARAMS: usize = 15;

/// What [`LineReader::next`] found.
#[derive(Debug, PartialEq, Eq)]
pub enum Read {
    /// A complete line, without its line ending (may be empty).
    Line(String),
    /// A line longer than the limits; it was skipped.
    TooLong,
    /// The peer closed the connection.
    Closed,
}

/// Reads lines of at most `MAX_TAGS + MAX_BODY` bytes from a byte stream.
pub struct LineReader {
    buf: Vec<u8>,
    /// Skipping the rest of an over-long line.
    skipping: bool,
}

impl Default for LineReader {
    fn default() -> Self {
        Self::new()
    }
}

impl LineReader {
    /// An empty reader; its buffer grows with the lines it reads and shrinks back after a
    /// long one.
    pub fn new() -> Self {
        LineReader {
            buf: Vec::new(),
            skipping: false,
        }
    }

    /// The next line. Cancel-safe: bytes read before a cancellation stay in the buffer.
    pub async fn next<R: AsyncRead + Unpin>(&mut self, reader: &mut R) -> std::io::Result<Read> {
        loop {
            if let Some(found) = self.take_line() {
                return Ok(found);
            }
            // An idle connection waits with a small buffer; a busy one reads in larger steps.
            let step = if self.buf.is_empty() { 64 } else { 512 };
            if self.buf.capacity() - self.buf.len() < step {
                self.buf.reserve(step);
            }
            let n = reader.read_buf(&mut self.buf).await?;
            if n == 0 {
                return Ok(Read::Closed);
            }
        }
    }

    /// A line from the buffer, if one is complete (or too long to be one).
    fn take_line(&mut self) -> Option<Read> {
        let limit = MAX_TAGS + MAX_BODY;
        match self.buf.iter().position(|&b| b == b'\n') {
            Some(end) => {
                let mut line: Vec<u8> = self.buf.drain(..=end).collect();
                if self.buf.is_empty() && self.buf.capacity() > 256 {
                    self.buf = Vec::new();
                }
                if std::mem::take(&mut self.skipping) {
                    return Some(Read::TooLong);
                }
                line.pop();
                if line.last() == Some(&b'\r') {
                    line.pop();
                }
                if !fits(&line) {
                    return Some(Read::TooLong);
                }
                Some(Read::Line(String::from_utf8_lossy(&line).into_owned()))
            }
            None if self.buf.len() >= limit => {
                // No line end within the limit: drop what we have and skip to the next one.
                self.buf = Vec::new();
                self.skipping = true;
                None
            }
            None => None,
        }
    }
}

/// Whether a line (without CRLF) keeps to the limits of its tags and of the rest.
fn fits(line: &[u8]) -> bool {
    let (tags, rest) = if line.first() == Some(&b'@') {
        match line.iter().position(|&b| b == b' ') {
            Some(space) => (space + 1, line.len() - space - 1),
            None => (line.len(), 0),
        }
    } else {
        (0, line.len())
    };
    tags <= MAX_TAGS && rest + 2 <= MAX_BODY
}

/// A parsed client message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// Tags with their unescaped values (`None` for a tag without `=`).
    pub tags: Vec<(String, Option<String>)>,
    /// The command, upper-cased (numerics as they are).
    pub command: String,
    /// The parameters, the trailing one included.
    pub params: Vec<String>,
}

impl Message {
    /// Parses one line; `None` for an empty line or one without a command.
    pub fn parse(line: &str) -> Option<Message> {
        let mut rest = line.trim_start_matches(' ');
        let mut tags = Vec::new();
        if let Some(after) = rest.strip_prefix('@') {
            let (raw, tail) = after.split_once(' ').unwrap_or((after, ""));
            for tag in raw.split(';').filter(|t| !t.is_empty()) {
                match tag.split_once('=') {
                    Some((k, v)) => tags.push((k.to_string(), Some(unescape_tag(v)))),
                    None => tags.push((tag.to_string(), None)),
                }
            }
            rest = tail.trim_start_matches(' ');
        }
        if rest.starts_with(':') {
            // A source from a client is ignored (RFC 2812: it must be the client's own).
            rest = rest.split_once(' ').map_or("", |(_, t)| t);
            rest = rest.trim_start_matches(' ');
        }
        let (command, mut rest) = rest.split_once(' ').unwrap_or((rest, ""));
        if command.is_empty() {
            return None;
        }
        let mut params = Vec::new();
        loop {
            rest = rest.trim_start_matches(' ');
            if rest.is_empty() {
                break;
            }
            if let Some(trailing) = rest.strip_prefix(':') {
                params.push(trailing.to_string());
                break;
            }
            if params.len() == MAX_PARAMS - 1 {
                params.push(rest.to_string());
                break;
            }
            let (param, tail) = rest.split_once(' ').unwrap_or((rest, ""));
            params.push(param.to_string());
            rest = tail;
        }
        Some(Message {
            tags,
            command: command.to_ascii_uppercase(),
            params,
        })
    }

    /// A tag's value (`Some("")` for a tag without a value).
    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_deref().unwrap_or(""))
    }

    /// The `i`th parameter.
    pub fn param(&self, i: usize) -> Option<&str> {
        self.params.get(i).map(String::as_str)
    }
}

fn unescape_tag(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some(':') => out.push(';'),
            Some('s') => out.push(' '),
            Some('\\') => out.push('\\'),
            Some('r') => out.push('\r'),
            Some('n') => out.push('\n'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn escape_tag(value: &str, out: &mut String) {
    for c in value.chars() {
        match c {
            ';' => out.push_str("\\:"),
            ' ' => out.push_str("\\s"),
            '\\' => out.push_str("\\\\"),
            '\r' => out.push_str("\\r"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// A line to send: tags, source, command, parameters (the last one as a trailing parameter
/// when it needs to be: empty, with a space, or starting with `:`).
#[derive(Debug, Clone, Default)]
pub struct Line {
    tags: Vec<(String, String)>,
    source: Option<String>,
    command: String,
    params: Vec<String>,
    /// The last parameter is always written with `:` (messages, reasons, topics).
    trailing: bool,
}

impl Line {
    /// A line with a command (or a three-digit numeric).
    pub fn new(command: impl Into<String>) -> Line {
        Line {
            command: command.into(),
            ..Line::default()
        }
    }

    /// From `source` (`nick!user@host` or a server name).
    pub fn from(mut self, source: impl Into<String>) -> Line {
        self.source = Some(source.into());
        self
    }

    /// A middle parameter (spaces and a leading `:` are not allowed and are replaced).
    pub fn arg(mut self, param: impl Into<String>) -> Line {
        self.params.push(param.into());
        self
    }

    /// The last parameter, always written as a trailing one.
    pub fn text(mut self, text: impl Into<String>) -> Line {
        self.params.push(text.into());
        self.trailing = true;
        self
    }

    /// A tag (an empty value writes the tag alone).
    pub fn tag(mut self, key: impl Into<String>, value: impl Into<String>) -> Line {
        self.tags.push((key.into(), value.into()));
        self
    }

    /// Appends the line with its CRLF to `out`; control characters that would break the
    /// framing (CR, LF, NUL) become spaces.
    pub fn write_to(&self, out: &mut String) {
        if !self.tags.is_empty() {
            out.push('@');
            for (i, (k, v)) in self.tags.iter().enumerate() {
                if i > 0 {
                    out.push(';');
                }
                out.push_str(k);
                if !v.is_empty() {
                    out.push('=');
                    escape_tag(v, out);
                }
            }
            out.push(' ');
        }
        if let Some(source) = &self.source {
            out.push(':');
            push_clean(out, source, true);
            out.push(' ');
        }
        push_clean(out, &self.command, true);
        let last = self.params.len().saturating_sub(1);
        for (i, p) in self.params.iter().enumerate() {
            out.push(' ');
            let needs_colon = i == last
                && (self.trailing || p.is_empty() || p.contains(' ') || p.starts_with(':'));
            if needs_colon {
                out.push(':');
                push_clean(out, p, false);
            } else {
                let p = p.strip_prefix(':').unwrap_or(p);
                push_clean(out, p, true);
            }
        }
        out.push_str("\r\n");
    }

    /// The line as a string, CRLF included.
    pub fn render(&self) -> String {
        let mut out = String::new();
        self.write_to(&mut out);
        out
    }
}

fn push_clean(out: &mut String, s: &str, middle: bool) {
    for c in s.chars() {
        match c {
            '\r' | '\n' | '\0' => out.push(' '),
            ' ' if middle => out.push('_'),
            c => out.push(c),
        }
    }
}

/// Splits a message body into pieces that fit one line each after `overhead` bytes of
/// source, command and target: at line breaks first, then at character boundaries.
pub fn split_body(body: &str, overhead: usize) -> Vec<String> {
    let room = MAX_BODY.saturating_sub(overhead + 2).max(64);
    let mut pieces = Vec::new();
    for line in body.split('\n') {
        let line = line.trim_end_matches('\r');
        let mut piece = String::new();
        for c in line.chars() {
            if piece.len() + c.len_utf8() > room {
                pieces.push(std::mem::take(&mut piece));
            }
            piece.push(c);
        }
        pieces.push(piece);
    }
    // A body that ends with a line break has no empty last line to show.
    while pieces.len() > 1 && pieces.last().is_some_and(String::is_empty) {
        pieces.pop();
    }
    pieces
}

/// A numeric reply's three digits.
pub fn numeric(n: u16) -> String {
    let mut s = String::with_capacity(3);
    let _ = write!(s, "{n:03}");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_tags_source_params_and_trailing() {
        let m = Message::parse("@+draft/reply=abc;x :me PRIVMSG #a,#b :hello there").unwrap();
        assert_eq!(m.command, "PRIVMSG");
        assert_eq!(m.params, vec!["#a,#b", "hello there"]);
        assert_eq!(m.tag("+draft/reply"), Some("abc"));
        assert_eq!(m.tag("x"), Some(""));
        let m = Message::parse("nick  bob").unwrap();
        assert_eq!(
            (m.command.as_str(), m.params.clone()),
            ("NICK", vec!["bob".to_string()])
        );
        assert!(Message::parse("   ").is_none());
        let m = Message::parse("@a=b\\sc\\:d PING").unwrap();
        assert_eq!(m.tag("a"), Some("b c;d"));
    }

    #[test]
    fn renders_with_trailing_and_escaped_tags() {
        let line = Line::new("PRIVMSG")
            .from("bob!bob@hs")
            .arg("#c")
            .text("hi\r\nthere")
            .tag("time", "2026-01-01T00:00:00.000Z")
            .tag("+x", "a b;c");
        assert_eq!(
            line.render(),
            "@time=2026-01-01T00:00:00.000Z;+x=a\\sb\\:c :bob!bob@hs PRIVMSG #c :hi  there\r\n"
        );
        assert_eq!(Line::new("PING").arg("x").render(), "PING x\r\n");
        assert_eq!(
            Line::new("JOIN").arg("#c").arg("").render(),
            "JOIN #c :\r\n"
        );
    }

    #[tokio::test]
    async fn reader_bounds_lines() {
        let long = "A".repeat(MAX_TAGS + MAX_BODY + 10);
        let input = format!("NICK a\r\n{long}\r\nUSER x\nPING :y");
        let mut bytes = input.as_bytes();
        let mut r = LineReader::new();
        assert_eq!(
            r.next(&mut bytes).await.unwrap(),
            Read::Line("NICK a".into())
        );
        assert_eq!(r.next(&mut bytes).await.unwrap(), Read::TooLong);
        assert_eq!(
            r.next(&mut bytes).await.unwrap(),
            Read::Line("USER x".into())
        );
        assert_eq!(r.next(&mut bytes).await.unwrap(), Read::Closed);
        let body = format!("PRIVMSG #a :{}\r\n", "b".repeat(600));
        let mut bytes = body.as_bytes();
        assert_eq!(r.next(&mut bytes).await.unwrap(), Read::TooLong);
        let tagged = format!("@t={} PING x\r\n", "v".repeat(4000));
        let mut bytes = tagged.as_bytes();
        assert!(matches!(r.next(&mut bytes).await.unwrap(), Read::Line(_)));
    }

    #[test]
    fn splits_long_and_multiline_bodies() {
        assert_eq!(split_body("a\nb\n", 10), vec!["a", "b"]);
        let long = "é".repeat(400);
        let pieces = split_body(&long, 100);
        assert!(pieces.len() > 1);
        assert!(pieces.iter().all(|p| p.len() <= MAX_BODY - 102));
        assert_eq!(pieces.concat(), long);
    }
}
