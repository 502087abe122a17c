//! Mentions: whether a message body names a user as `@nick` (or `@nick@server`). The one
//! rule the server's mention counts (`GET /api/v1/conversations`) and clients' local counts
//! share.

fn is_nick_char(c: char) -> bool {
    c.is_alphanumeric()
        || matches!(
            c,
            '_' | '-' | '[' | ']' | '\\' | '`' | '^' | '{' | '}' | '|'
        )
}

/// Whether `body` mentions `@nick` (or `@nick@server`) as a word, case-insensitively. `@nick`
/// followed by another server's name is someone else.
pub fn mentions(body: &str, nick: &str, server: &str) -> bool {
    let body = body.to_lowercase();
    let needle = format!("@{}", nick.to_lowercase());
    let server = server.to_lowercase();
    let mut from = 0;
    while let Some(found) = body[from..].find(&needle) {
        let start = from + found;
        let end = start + needle.len();
        from = end;
        if body[..start].chars().next_back().is_some_and(is_nick_char) {
            continue;
        }
        let rest = &body[end..];
        match rest.chars().next() {
            None => return true,
            Some('@') => {
                let Some(after) = rest[1..].strip_prefix(server.as_str()) else {
                    continue;
                };
                if !after
                    .chars()
                    .next()
                    .is_some_and(|c| c.is_alphanumeric() || c == '-')
                {
                    return true;
                }
            }
            Some(c) if is_nick_char(c) => continue,
            Some(_) => return true,
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::mentions;

    #[test]
    fn a_mention_is_the_nick_as_a_word() {
        for body in [
            "@ann",
            "hi @ann!",
            "@ANN, look",
            "(@ann)",
            "cc @ann@hs1.test.",
            "@bob @ann",
        ] {
            assert!(mentions(body, "ann", "hs1.test"), "{body}");
        }
        for body in [
            "ann",
            "@anna",
            "me@ann",
            "@ann@hs2.test",
            "@ann@hs1.testing",
            "",
            "@an",
        ] {
            assert!(!mentions(body, "ann", "hs1.test"), "{body}");
        }
    }
}
