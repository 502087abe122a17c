//! The canonical JSON encoder (RFC 8785 restricted to safe integers).

use std::fmt::Write as _;

use serde_json::{Map, Number, Value};

use super::{CanonicalError, Location, MAX_CANONICAL_SIZE, MAX_DEPTH, MAX_SAFE_INTEGER};

/// Encodes a value as canonical JSON text.
///
/// Fails on a floating-point number anywhere in the value, on an integer outside ±(2^53−1), on
/// nesting deeper than [`MAX_DEPTH`] and on output larger than [`MAX_CANONICAL_SIZE`]; the
/// error's [`Location::Path`] points at the offending member.
pub fn to_canonical_string(value: &Value) -> Result<String, CanonicalError> {
    let mut out = String::new();
    write_value(&mut out, value, 0)?;
    Ok(out)
}

/// [`to_canonical_string`] as UTF-8 bytes, ready to hash or sign.
pub fn to_canonical_bytes(value: &Value) -> Result<Vec<u8>, CanonicalError> {
    to_canonical_string(value).map(String::into_bytes)
}

/// The canonical bytes of an object without some of its top-level members (e.g. `signatures`),
/// without cloning it.
pub(crate) fn canonical_object_without(
    map: &Map<String, Value>,
    exclude: &[&str],
) -> Result<Vec<u8>, CanonicalError> {
    let mut out = String::new();
    write_object(&mut out, map, 1, exclude)
        .and_then(|()| check_size(&out))
        .map_err(finish_error)?;
    Ok(out.into_bytes())
}

/// An error on the way back up gathers the path segments, innermost first.
struct PathError {
    error: CanonicalError,
    segments: Vec<String>,
}

fn write_value(out: &mut String, value: &Value, depth: usize) -> Result<(), CanonicalError> {
    write_any(out, value, depth).map_err(finish_error)
}

/// Turns the gathered path segments into the error's [`Location::Path`].
fn finish_error(mut e: PathError) -> CanonicalError {
    e.segments.reverse();
    let path: String = e.segments.iter().map(|s| format!("/{s}")).collect();
    let at = Location::Path(path);
    match e.error {
        CanonicalError::Float { .. } => CanonicalError::Float { at },
        CanonicalError::NegativeZero { .. } => CanonicalError::NegativeZero { at },
        CanonicalError::IntegerOutOfRange { .. } => CanonicalError::IntegerOutOfRange { at },
        CanonicalError::TooDeep { max, .. } => CanonicalError::TooDeep { max, at },
        other => other,
    }
}

fn check_size(out: &str) -> Result<(), PathError> {
    if out.len() > MAX_CANONICAL_SIZE {
        Err(fail(CanonicalError::TooLarge {
            size: out.len(),
            max: MAX_CANONICAL_SIZE,
        }))
    } else {
        Ok(())
    }
}

fn fail(error: CanonicalError) -> PathError {
    PathError {
        error,
        segments: Vec::new(),
    }
}

fn here() -> Location {
    Location::Path(String::new())
}

fn write_any(out: &mut String, value: &Value, depth: usize) -> Result<(), PathError> {
    check_size(out)?;
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(true) => out.push_str("true"),
        Value::Bool(false) => out.push_str("false"),
        Value::Number(n) => write_number(out, n)?,
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            check_depth(depth + 1)?;
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_any(out, item, depth + 1).map_err(|mut e| {
                    e.segments.push(i.to_string());
                    e
                })?;
            }
            out.push(']');
        }
        Value::Object(map) => {
            check_depth(depth + 1)?;
            write_object(out, map, depth + 1, &[])?;
        }
    }
    check_size(out)
}

fn check_depth(depth: usize) -> Result<(), PathError> {
    if depth > MAX_DEPTH {
        Err(fail(CanonicalError::TooDeep {
            max: MAX_DEPTH,
            at: here(),
        }))
    } else {
        Ok(())
    }
}

fn write_object(
    out: &mut String,
    map: &Map<String, Value>,
    depth: usize,
    exclude: &[&str],
) -> Result<(), PathError> {
    let mut members: Vec<(&String, &Value)> = map
        .iter()
        .filter(|(k, _)| !exclude.contains(&k.as_str()))
        .collect();
    // RFC 8785 §3.2.3: sort by UTF-16 code units. For keys that are all below U+E000 this is
    // the byte order, which is cheaper, so only compare code units when it can differ.
    members.sort_by(|(a, _), (b, _)| {
        if a.is_ascii() || b.is_ascii() {
            a.as_bytes().cmp(b.as_bytes())
        } else {
            a.encode_utf16().cmp(b.encode_utf16())
        }
    });
    out.push('{');
    for (i, (key, value)) in members.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        write_string(out, key);
        out.push(':');
        write_any(out, value, depth).map_err(|mut e| {
            e.segments.push(key.replace('~', "~0").replace('/', "~1"));
            e
        })?;
    }
    out.push('}');
    Ok(())
}

fn write_number(out: &mut String, n: &Number) -> Result<(), PathError> {
    let out_of_range = || fail(CanonicalError::IntegerOutOfRange { at: here() });
    if let Some(i) = n.as_i64() {
        if !(-MAX_SAFE_INTEGER..=MAX_SAFE_INTEGER).contains(&i) {
            return Err(out_of_range());
        }
        // Writing to a String cannot fail.
        let _ = write!(out, "{i}");
        Ok(())
    } else if n.as_u64().is_some() {
        // Larger than i64::MAX, so certainly out of range.
        Err(out_of_range())
    } else {
        Err(fail(CanonicalError::Float { at: here() }))
    }
}

/// Writes a string with `JSON.stringify`'s minimal escapes (RFC 8785 §3.2.2.2).
fn write_string(out: &mut String, s: &str) {
    out.reserve(s.len() + 2);
    out.push('"');
    let mut run_start = 0;
    for (i, b) in s.bytes().enumerate() {
        let escape = match b {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            0x08 => "\\b",
            0x0c => "\\f",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0x00..=0x1f => "",
            _ => continue,
        };
        // `i` is an ASCII byte, hence a char boundary.
        out.push_str(s.get(run_start..i).unwrap_or_default());
        if escape.is_empty() {
            let _ = write!(out, "\\u{:04x}", b);
        } else {
            out.push_str(escape);
        }
        run_start = i + 1;
    }
    out.push_str(s.get(run_start..).unwrap_or_default());
    out.push('"');
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::canonical::parse_strict;

    fn canon(v: &Value) -> String {
        match to_canonical_string(v) {
            Ok(s) => s,
            Err(e) => panic!("{v} failed: {e}"),
        }
    }

    /// RFC 8785 §3.2.3, the key-sorting example.
    #[test]
    fn rfc8785_key_sorting_example() {
        let input = r#"{
            "\u20ac": "Euro Sign",
            "\r": "Carriage Return",
            "\ufb33": "Hebrew Letter Dalet With Dagesh",
            "1": "One",
            "\ud83d\ude00": "Emoji: Grinning Face",
            "\u0080": "Control",
            "\u00f6": "Latin Small Letter O With Diaeresis"
        }"#;
        let Ok(v) = parse_strict(input.as_bytes()) else {
            panic!("example must parse")
        };
        assert_eq!(
            canon(&v),
            "{\"\\r\":\"Carriage Return\",\"1\":\"One\",\"\u{80}\":\"Control\",\
             \"ö\":\"Latin Small Letter O With Diaeresis\",\"€\":\"Euro Sign\",\
             \"😀\":\"Emoji: Grinning Face\",\"\u{fb33}\":\"Hebrew Letter Dalet With Dagesh\"}"
        );
    }

    /// RFC 8785 §3.2.2.2, the string part of its example (numbers are ours: integers only).
    #[test]
    fn rfc8785_string_escapes() {
        let v = json!({"string": "\u{20ac}$\u{f}\nA'B\"\\\\\"/", "literals": [null, true, false]});
        assert_eq!(
            canon(&v),
            r#"{"literals":[null,true,false],"string":"€$\u000f\nA'B\"\\\\\"/"}"#
        );
        assert_eq!(
            canon(&json!(
                "\u{0}\u{8}\u{9}\u{a}\u{b}\u{c}\u{d}\u{1f}\u{7f}\u{2028}"
            )),
            "\"\\u0000\\b\\t\\n\\u000b\\f\\r\\u001f\u{7f}\u{2028}\""
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            canon(&json!([0, -1, 9007199254740991i64, -9007199254740991i64])),
            "[0,-1,9007199254740991,-9007199254740991]"
        );
        let e = to_canonical_string(&json!({"a": {"b~/": [1, 9007199254740992i64]}}));
        assert_eq!(
            e,
            Err(CanonicalError::IntegerOutOfRange {
                at: Location::Path("/a/b~0~1/1".into())
            })
        );
        assert_eq!(
            to_canonical_string(&json!({"x": 1.0})),
            Err(CanonicalError::Float {
                at: Location::Path("/x".into())
            })
        );
        assert!(to_canonical_string(&json!(u64::MAX)).is_err());
        assert!(to_canonical_string(&json!(i64::MIN)).is_err());
    }

    #[test]
    fn depth_and_size_limits() {
        let mut v = json!(1);
        for _ in 0..MAX_DEPTH {
            v = json!([v]);
        }
        assert!(to_canonical_string(&v).is_ok());
        let v = json!({ "k": v });
        assert!(matches!(
            to_canonical_string(&v),
            Err(CanonicalError::TooDeep { .. })
        ));
        let big = json!(["x".repeat(MAX_CANONICAL_SIZE)]);
        assert!(matches!(
            to_canonical_string(&big),
            Err(CanonicalError::TooLarge { .. })
        ));
    }
}
