//! Reading Server-Sent Events (`GET /api/v1/messages/stream`), shared by the end-to-end
//! harness ([`crate::api::SseStream`]) and the load generator's stream receivers.

/// Collects a stream's chunks and hands out its complete messages.
#[derive(Debug, Default)]
pub struct SseBuffer {
    pending: Vec<u8>,
    /// Bytes at the front of `pending` already handed out.
    consumed: usize,
}

impl SseBuffer {
    /// Adds a chunk as it came off the wire.
    pub fn push(&mut self, chunk: &[u8]) {
        self.pending.drain(..self.consumed);
        self.consumed = 0;
        self.pending.extend_from_slice(chunk);
    }

    /// The next complete message (without its closing blank line), if one is in.
    pub fn next_message(&mut self) -> Option<&[u8]> {
        let start = self.consumed;
        let end = start + message_end(&self.pending[start..])?;
        self.consumed = end + 2;
        Some(&self.pending[start..end])
    }
}

/// Where the first blank line (`\n\n`, the end of a message) starts.
fn message_end(buf: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = buf.get(from..)?.iter().position(|b| *b == b'\n') {
        let at = from + i;
        if buf.get(at + 1) == Some(&b'\n') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// The `name: value` fields of one message; comment lines (`:…`) are skipped.
pub fn fields(message: &[u8]) -> impl Iterator<Item = (&[u8], &[u8])> {
    message
        .split(|b| *b == b'\n')
        .filter(|line| !line.starts_with(b":"))
        .filter_map(|line| {
            let colon = line.iter().position(|b| *b == b':')?;
            let value = &line[colon + 1..];
            Some((&line[..colon], value.strip_prefix(b" ").unwrap_or(value)))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_ends_at_the_first_blank_line() {
        assert_eq!(message_end(b"id: 1\ndata: {}\n\nid: 2"), Some(14));
        assert_eq!(message_end(b":\n\n"), Some(1));
        assert_eq!(message_end(b"id: 1\ndata: {}\n"), None);
        assert_eq!(message_end(b""), None);
    }

    #[test]
    fn messages_come_out_whole_across_chunks() {
        let mut buffer = SseBuffer::default();
        buffer.push(b"id: 7\ndata: {\"a\"");
        assert!(buffer.next_message().is_none(), "half a message");
        buffer.push(b":1}\n\n:\n\nid: 8\n");
        let first: Vec<_> = fields(buffer.next_message().unwrap()).collect();
        assert_eq!(
            first,
            [(&b"id"[..], &b"7"[..]), (&b"data"[..], &br#"{"a":1}"#[..])]
        );
        assert_eq!(
            fields(buffer.next_message().unwrap()).count(),
            0,
            "a comment"
        );
        assert!(buffer.next_message().is_none());
        buffer.push(b"data: x\n\n");
        let second: Vec<_> = fields(buffer.next_message().unwrap()).collect();
        assert_eq!(second, [(&b"id"[..], &b"8"[..]), (&b"data"[..], &b"x"[..])]);
    }
}
