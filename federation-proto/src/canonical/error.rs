//! Errors of canonical JSON parsing and encoding.

use std::fmt;

/// Where in the input a [`CanonicalError`] was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// A byte offset into the text given to [`parse_strict`](super::parse_strict).
    Byte(usize),
    /// A JSON Pointer (RFC 6901) into the value given to the encoder, e.g. `/meta/score`.
    Path(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Byte(offset) => write!(f, "byte {offset}"),
            Location::Path(path) if path.is_empty() => f.write_str("the root value"),
            Location::Path(path) => write!(f, "{path}"),
        }
    }
}

/// Why a text or value is not acceptable canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CanonicalError {
    /// The input is larger than the limit.
    #[error("input of {size} bytes exceeds the limit of {max} bytes")]
    TooLarge {
        /// Size of the input (for the encoder: the size reached when it stopped).
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Arrays and objects are nested deeper than the limit.
    #[error("nesting deeper than {max} levels at {at}")]
    TooDeep {
        /// The limit.
        max: usize,
        /// Where the limit was exceeded.
        at: Location,
    },
    /// The input is not valid UTF-8.
    #[error("invalid UTF-8 at byte {offset}")]
    InvalidUtf8 {
        /// Offset of the first invalid byte.
        offset: usize,
    },
    /// The input ended in the middle of a value.
    #[error("unexpected end of input")]
    UnexpectedEnd,
    /// A character that cannot appear here in JSON.
    #[error("unexpected character {found:?} at byte {offset}")]
    UnexpectedChar {
        /// The character found.
        found: char,
        /// Its byte offset.
        offset: usize,
    },
    /// Something follows the top-level value.
    #[error("trailing data after the value at byte {offset}")]
    TrailingData {
        /// Offset of the first byte after the value.
        offset: usize,
    },
    /// A raw control character (U+0000–U+001F) inside a string.
    #[error("unescaped control character in string at byte {offset}")]
    ControlCharacter {
        /// Its byte offset.
        offset: usize,
    },
    /// A backslash escape that JSON does not define.
    #[error("invalid escape sequence at byte {offset}")]
    InvalidEscape {
        /// Offset of the backslash.
        offset: usize,
    },
    /// A `\uD800`–`\uDFFF` escape that is not half of a surrogate pair.
    #[error("unpaired UTF-16 surrogate escape at byte {offset}")]
    LoneSurrogate {
        /// Offset of the escape.
        offset: usize,
    },
    /// A number with a leading zero, such as `01`.
    #[error("number with a leading zero at byte {offset}")]
    LeadingZero {
        /// Offset of the number.
        offset: usize,
    },
    /// A number with a fraction or an exponent, or a floating-point value: canonical JSON
    /// carries integers only.
    #[error("floating-point number at {at}: only integers are allowed")]
    Float {
        /// Where the number is.
        at: Location,
    },
    /// `-0`, which is not distinguishable from `0` in every language.
    #[error("negative zero at {at}")]
    NegativeZero {
        /// Where the number is.
        at: Location,
    },
    /// An integer outside ±(2^53−1).
    #[error("integer at {at} is outside ±(2^53−1)")]
    IntegerOutOfRange {
        /// Where the number is.
        at: Location,
    },
    /// An object with the same key twice.
    #[error("duplicate object key {key:?} at byte {offset}")]
    DuplicateKey {
        /// The repeated key.
        key: String,
        /// Offset of its second occurrence.
        offset: usize,
    },
}
