//! Postgres array constants written into SQL text, for the one statement that cannot take
//! bound parameters: the end of a writer's batch, sent with its `COMMIT` in one simple-protocol
//! message ([`super::batch_end`]). Bound parameters need the extended protocol, which carries one
//! statement per round trip.
//!
//! A text array is written as Postgres's array input (`{"a","b\"c",NULL}`: every element in
//! double quotes, `"` and `\` escaped with a backslash) inside a dollar-quoted string whose tag
//! does not occur in it, so no character of the values can end the constant early, whatever
//! `standard_conforming_strings` says. Numbers are written by Rust's formatter. A value with a
//! NUL character is refused: Postgres text cannot hold one, and the message is a C string.

use std::fmt::Write;

/// Why a value cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NulInText;

impl std::fmt::Display for NulInText {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a text value holds a NUL character")
    }
}

impl std::error::Error for NulInText {}

/// Appends `values` to `sql` as a `bigint[]` constant.
pub fn bigints(sql: &mut String, values: impl IntoIterator<Item = Option<i64>>) {
    sql.push_str("'{");
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            sql.push(',');
        }
        match value {
            Some(v) => {
                let _ = write!(sql, "{v}");
            }
            None => sql.push_str("NULL"),
        }
    }
    sql.push_str("}'::bigint[]");
}

/// Appends `values` to `sql` as a `text[]` constant.
pub fn texts<'a>(
    sql: &mut String,
    values: impl IntoIterator<Item = Option<&'a str>>,
) -> Result<(), NulInText> {
    let mut array = String::from("{");
    for (i, value) in values.into_iter().enumerate() {
        if i > 0 {
            array.push(',');
        }
        let Some(value) = value else {
            array.push_str("NULL");
            continue;
        };
        if value.contains('\0') {
            return Err(NulInText);
        }
        array.push('"');
        for c in value.chars() {
            if matches!(c, '"' | '\\') {
                array.push('\\');
            }
            array.push(c);
        }
        array.push('"');
    }
    array.push('}');
    let tag = tag_for(&array);
    sql.push_str(&tag);
    sql.push_str(&array);
    sql.push_str(&tag);
    sql.push_str("::text[]");
    Ok(())
}

/// A dollar-quote tag (`$h$`, `$h1$`, …) that does not occur in `content`.
fn tag_for(content: &str) -> String {
    let mut tag = String::from("$h$");
    let mut n = 0u64;
    while content.contains(&tag) {
        n += 1;
        tag = format!("$h{n}$");
    }
    tag
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn text(values: &[Option<&str>]) -> String {
        let mut sql = String::new();
        texts(&mut sql, values.iter().copied()).unwrap();
        sql
    }

    #[test]
    fn numbers_and_nulls() {
        let mut sql = String::new();
        bigints(&mut sql, [Some(1), None, Some(-9_223_372_036_854_775_808)]);
        assert_eq!(sql, "'{1,NULL,-9223372036854775808}'::bigint[]");
        let mut empty = String::new();
        bigints(&mut empty, []);
        assert_eq!(empty, "'{}'::bigint[]");
    }

    #[test]
    fn texts_are_quoted_and_escaped() {
        assert_eq!(text(&[Some("a"), None]), r#"$h${"a",NULL}$h$::text[]"#);
        assert_eq!(
            text(&[Some(r#"say "hi" \o/"#)]),
            r#"$h${"say \"hi\" \\o/"}$h$::text[]"#
        );
        assert_eq!(text(&[Some("NULL")]), r#"$h${"NULL"}$h$::text[]"#);
        assert_eq!(text(&[]), "$h${}$h$::text[]");
    }

    #[test]
    fn the_tag_never_occurs_in_the_value() {
        assert_eq!(text(&[Some("$h$")]), r#"$h1${"$h$"}$h1$::text[]"#);
        assert_eq!(
            text(&[Some("$h$ and $h1$")]),
            r#"$h2${"$h$ and $h1$"}$h2$::text[]"#
        );
    }

    #[test]
    fn nul_is_refused() {
        let mut sql = String::new();
        assert_eq!(texts(&mut sql, [Some("a\0b")]), Err(NulInText));
    }

    /// What Postgres's array input makes of a constant's content (the quoted elements), for
    /// the arrays this module writes: every element quoted, `\` escaping the next character.
    fn parse_array(content: &str) -> Vec<Option<String>> {
        let inner = &content[1..content.len() - 1];
        let mut out = Vec::new();
        let mut chars = inner.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                ',' => {}
                'N' => {
                    for _ in 0..3 {
                        chars.next();
                    }
                    out.push(None);
                }
                '"' => {
                    let mut value = String::new();
                    while let Some(c) = chars.next() {
                        match c {
                            '\\' => value.extend(chars.next()),
                            '"' => break,
                            c => value.push(c),
                        }
                    }
                    out.push(Some(value));
                }
                other => panic!("unexpected {other:?} in {content}"),
            }
        }
        out
    }

    proptest! {
        #[test]
        fn any_text_comes_back_whole(values in proptest::collection::vec(
            proptest::option::of("[^\u{0}]{0,12}|[\"\\\\${}$h1,]{0,12}"), 0..6)) {
            let sql = text(&values.iter().map(Option::as_deref).collect::<Vec<_>>());
            let tag_end = sql[1..].find('$').unwrap() + 2;
            let tag = &sql[..tag_end];
            let body = &sql[tag_end..sql.len() - "::text[]".len() - tag.len()];
            let end = format!("{tag}::text[]");
            prop_assert!(sql.ends_with(&end));
            // The content never holds the tag, so the constant ends where it should.
            prop_assert!(!body.contains(tag));
            prop_assert_eq!(parse_array(body), values);
        }
    }
}
