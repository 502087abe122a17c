//! A strict JSON parser: RFC 8259 syntax plus the canonical-JSON restrictions.
//!
//! Hand-written rather than built on serde_json so that every rejection has a precise
//! [`CanonicalError`], duplicate keys are caught (serde_json keeps the last one), and the depth
//! limit is ours. Recursion is bounded by [`Limits::max_depth`]; nothing here panics.

use serde_json::{Map, Number, Value};

use super::{CanonicalError, Location, MAX_CANONICAL_SIZE, MAX_DEPTH, MAX_SAFE_INTEGER};

/// Size and depth limits for [`parse_strict_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest accepted input, in bytes.
    pub max_size: usize,
    /// Deepest accepted nesting of arrays and objects (a top-level `{}` has depth 1).
    pub max_depth: usize,
}

impl Limits {
    /// [`MAX_CANONICAL_SIZE`] and [`MAX_DEPTH`].
    pub const DEFAULT: Limits = Limits {
        max_size: MAX_CANONICAL_SIZE,
        max_depth: MAX_DEPTH,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Parses JSON text with the canonical-JSON restrictions and the default [`Limits`].
///
/// Rejects invalid UTF-8, fractions and exponents, `-0`, integers outside ±(2^53−1), duplicate
/// object keys, unpaired surrogate escapes, nesting deeper than [`MAX_DEPTH`] and input larger
/// than [`MAX_CANONICAL_SIZE`]. White space around tokens is allowed: the input need not be in
/// canonical form, only representable in it.
pub fn parse_strict(text: &[u8]) -> Result<Value, CanonicalError> {
    parse_strict_with(text, &Limits::DEFAULT)
}

/// [`parse_strict`] with explicit limits, e.g. for a relay transaction that holds many events.
pub fn parse_strict_with(text: &[u8], limits: &Limits) -> Result<Value, CanonicalError> {
    if text.len() > limits.max_size {
        return Err(CanonicalError::TooLarge {
            size: text.len(),
            max: limits.max_size,
        });
    }
    let text = std::str::from_utf8(text).map_err(|e| CanonicalError::InvalidUtf8 {
        offset: e.valid_up_to(),
    })?;
    let mut parser = Parser {
        text,
        bytes: text.as_bytes(),
        pos: 0,
        max_depth: limits.max_depth,
    };
    parser.skip_ws();
    let value = parser.value(0)?;
    parser.skip_ws();
    if parser.pos < parser.bytes.len() {
        return Err(CanonicalError::TrailingData { offset: parser.pos });
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.peek() {
            self.pos += 1;
        }
    }

    /// The error for the character at the current position (or the end of input).
    fn unexpected(&self) -> CanonicalError {
        match self
            .text
            .get(self.pos..)
            .and_then(|rest| rest.chars().next())
        {
            Some(found) => CanonicalError::UnexpectedChar {
                found,
                offset: self.pos,
            },
            None => CanonicalError::UnexpectedEnd,
        }
    }

    fn expect(&mut self, byte: u8) -> Result<(), CanonicalError> {
        if self.peek() == Some(byte) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.unexpected())
        }
    }

    /// Parses one value; `depth` is the number of containers around it.
    fn value(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        match self.peek() {
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => self.string().map(Value::String),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Value::Bool(true)),
            Some(b'f') => self.literal("false", Value::Bool(false)),
            Some(b'n') => self.literal("null", Value::Null),
            _ => Err(self.unexpected()),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), CanonicalError> {
        if depth > self.max_depth {
            Err(CanonicalError::TooDeep {
                max: self.max_depth,
                at: Location::Byte(self.pos),
            })
        } else {
            Ok(())
        }
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value, CanonicalError> {
        for &expected in word.as_bytes() {
            if self.peek() != Some(expected) {
                return Err(self.unexpected());
            }
            self.pos += 1;
        }
        Ok(value)
    }

    fn object(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut map = Map::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.unexpected());
            }
            let key_offset = self.pos;
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            self.skip_ws();
            let value = self.value(depth)?;
            if map.contains_key(&key) {
                return Err(CanonicalError::DuplicateKey {
                    key,
                    offset: key_offset,
                });
            }
            map.insert(key, value);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Value::Object(map));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Value, CanonicalError> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                _ => return Err(self.unexpected()),
            }
        }
    }

    fn number(&mut self) -> Result<Value, CanonicalError> {
        let start = self.pos;
        let negative = self.peek() == Some(b'-');
        if negative {
            self.pos += 1;
        }
        let digits_start = self.pos;
        match self.peek() {
            Some(b'0') => {
                self.pos += 1;
                if let Some(b'0'..=b'9') = self.peek() {
                    return Err(CanonicalError::LeadingZero { offset: start });
                }
            }
            Some(b'1'..=b'9') => {
                while let Some(b'0'..=b'9') = self.peek() {
                    self.pos += 1;
                }
            }
            _ => return Err(self.unexpected()),
        }
        let digits_end = self.pos;
        if let Some(b'.' | b'e' | b'E') = self.peek() {
            return Err(CanonicalError::Float {
                at: Location::Byte(start),
            });
        }
        let out_of_range = CanonicalError::IntegerOutOfRange {
            at: Location::Byte(start),
        };
        let digits = self.bytes.get(digits_start..digits_end).unwrap_or_default();
        if digits.len() > 16 {
            return Err(out_of_range);
        }
        let mut magnitude: i64 = 0;
        for &d in digits {
            magnitude = magnitude * 10 + i64::from(d - b'0');
        }
        if magnitude > MAX_SAFE_INTEGER {
            return Err(out_of_range);
        }
        if negative && magnitude == 0 {
            return Err(CanonicalError::NegativeZero {
                at: Location::Byte(start),
            });
        }
        let n = if negative { -magnitude } else { magnitude };
        Ok(Value::Number(Number::from(n)))
    }

    /// Parses a string starting at the opening quote.
    fn string(&mut self) -> Result<String, CanonicalError> {
        self.pos += 1; // '"'
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while let Some(b) = self.peek() {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.pos += 1;
            }
            // Runs end at ASCII bytes, so both ends are char boundaries.
            out.push_str(self.text.get(run_start..self.pos).unwrap_or_default());
            match self.peek() {
                None => return Err(CanonicalError::UnexpectedEnd),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(CanonicalError::ControlCharacter { offset: self.pos }),
            }
        }
    }

    /// Parses one escape sequence starting at the backslash.
    fn escape(&mut self, out: &mut String) -> Result<(), CanonicalError> {
        let start = self.pos;
        self.pos += 1;
        let c = match self.peek() {
            None => return Err(CanonicalError::UnexpectedEnd),
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.pos += 1;
                let unit = self.hex4(start)?;
                let c = match unit {
                    0xD800..=0xDBFF => {
                        if self.bytes.get(self.pos..self.pos + 2) != Some(b"\\u") {
                            return Err(CanonicalError::LoneSurrogate { offset: start });
                        }
                        self.pos += 2;
                        let low = self.hex4(start)?;
                        if !(0xDC00..=0xDFFF).contains(&low) {
                            return Err(CanonicalError::LoneSurrogate { offset: start });
                        }
                        let code = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                        char::from_u32(code)
                    }
                    0xDC00..=0xDFFF => None,
                    _ => char::from_u32(unit),
                };
                let c = c.ok_or(CanonicalError::LoneSurrogate { offset: start })?;
                out.push(c);
                return Ok(());
            }
            Some(_) => return Err(CanonicalError::InvalidEscape { offset: start }),
        };
        self.pos += 1;
        out.push(c);
        Ok(())
    }

    /// Reads four hex digits of a `\u` escape that began at `escape_start`.
    fn hex4(&mut self, escape_start: usize) -> Result<u32, CanonicalError> {
        let mut unit = 0u32;
        for _ in 0..4 {
            let digit = match self.peek() {
                None => return Err(CanonicalError::UnexpectedEnd),
                Some(b) => (b as char)
                    .to_digit(16)
                    .ok_or(CanonicalError::InvalidEscape {
                        offset: escape_start,
                    })?,
            };
            unit = unit * 16 + digit;
            self.pos += 1;
        }
        Ok(unit)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn err(text: &str) -> CanonicalError {
        match parse_strict(text.as_bytes()) {
            Ok(v) => panic!("{text:?} parsed as {v}"),
            Err(e) => e,
        }
    }

    #[test]
    fn parses_ordinary_json() {
        let v = parse_strict(
            br#" { "a" : [1, -2, true, false, null, "x\u00e9\ud83d\ude00\n"], "b": {} } "#,
        );
        assert_eq!(
            v,
            Ok(json!({"a": [1, -2, true, false, null, "xé😀\n"], "b": {}}))
        );
    }

    #[test]
    fn integer_range_is_inclusive() {
        assert_eq!(
            parse_strict(b"9007199254740991"),
            Ok(json!(9007199254740991i64))
        );
        assert_eq!(
            parse_strict(b"-9007199254740991"),
            Ok(json!(-9007199254740991i64))
        );
        assert!(matches!(
            err("9007199254740992"),
            CanonicalError::IntegerOutOfRange { .. }
        ));
        assert!(matches!(
            err("-9007199254740992"),
            CanonicalError::IntegerOutOfRange { .. }
        ));
        assert!(matches!(
            err("123456789012345678901234567890"),
            CanonicalError::IntegerOutOfRange { .. }
        ));
    }

    #[test]
    fn rejects_floats_and_negative_zero() {
        for text in ["1.0", "1e3", "1E3", "-0.5", "[0.1]", "{\"a\":2e-2}"] {
            assert!(matches!(err(text), CanonicalError::Float { .. }), "{text}");
        }
        assert!(matches!(err("-0"), CanonicalError::NegativeZero { .. }));
        assert!(matches!(
            err("01"),
            CanonicalError::LeadingZero { offset: 0 }
        ));
    }

    #[test]
    fn rejects_duplicate_keys_anywhere() {
        assert_eq!(
            err(r#"{"a":1,"a":2}"#),
            CanonicalError::DuplicateKey {
                key: "a".into(),
                offset: 7
            }
        );
        assert!(matches!(
            err(r#"{"x":{"b":1,"\u0062":2}}"#),
            CanonicalError::DuplicateKey { .. }
        ));
    }

    #[test]
    fn enforces_limits() {
        let deep_ok = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse_strict(deep_ok.as_bytes()).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert!(matches!(err(&too_deep), CanonicalError::TooDeep { .. }));
        let big = vec![b' '; MAX_CANONICAL_SIZE + 1];
        assert!(matches!(
            parse_strict(&big),
            Err(CanonicalError::TooLarge { .. })
        ));
        let small = Limits {
            max_size: 4,
            max_depth: 1,
        };
        assert!(parse_strict_with(b"[1]", &small).is_ok());
        assert!(parse_strict_with(b"[[]]", &small).is_err());
        assert!(parse_strict_with(b"[1, 2]", &small).is_err());
    }

    #[test]
    fn rejects_bad_syntax_precisely() {
        assert_eq!(
            parse_strict(b"\"\xff\""),
            Err(CanonicalError::InvalidUtf8 { offset: 1 })
        );
        assert_eq!(err(""), CanonicalError::UnexpectedEnd);
        assert_eq!(
            err("[1,]"),
            CanonicalError::UnexpectedChar {
                found: ']',
                offset: 3
            }
        );
        assert_eq!(err("{} x"), CanonicalError::TrailingData { offset: 3 });
        assert_eq!(
            err("\"a\u{1}\""),
            CanonicalError::ControlCharacter { offset: 2 }
        );
        assert_eq!(err(r#""\x""#), CanonicalError::InvalidEscape { offset: 1 });
        assert_eq!(
            err(r#""\ud800""#),
            CanonicalError::LoneSurrogate { offset: 1 }
        );
        assert_eq!(
            err(r#""\udc00""#),
            CanonicalError::LoneSurrogate { offset: 1 }
        );
        assert_eq!(
            err(r#""\ud800\u0041""#),
            CanonicalError::LoneSurrogate { offset: 1 }
        );
        assert_eq!(
            err(r#""\u12""#),
            CanonicalError::InvalidEscape { offset: 1 }
        );
        assert_eq!(err("tru"), CanonicalError::UnexpectedEnd);
        assert!(matches!(err("NaN"), CanonicalError::UnexpectedChar { .. }));
        assert!(matches!(
            err("\u{feff}{}"),
            CanonicalError::UnexpectedChar { .. }
        ));
        assert!(matches!(err("-"), CanonicalError::UnexpectedEnd));
        assert!(matches!(
            err("{\"a\" 1}"),
            CanonicalError::UnexpectedChar { .. }
        ));
    }
}
