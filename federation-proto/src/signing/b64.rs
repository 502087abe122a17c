//! Unpadded standard base64 and sha256, as every Hearth key, signature and hash is written.

use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine as _;
use sha2::{Digest as _, Sha256};

/// Encodes bytes as unpadded standard base64 (RFC 4648 §4 alphabet, no `=`).
pub fn b64_encode(bytes: impl AsRef<[u8]>) -> String {
    STANDARD_NO_PAD.encode(bytes)
}

/// Decodes unpadded standard base64, strictly.
///
/// Padding, white space, the URL-safe alphabet and non-zero trailing bits are all rejected, so
/// every byte string has exactly one accepted spelling. Callers can therefore key a replay
/// seen-set by the signature string itself.
pub fn b64_decode(text: &str) -> Result<Vec<u8>, base64::DecodeError> {
    STANDARD_NO_PAD.decode(text)
}

/// The sha256 digest of `bytes`.
pub fn sha256(bytes: impl AsRef<[u8]>) -> [u8; 32] {
    Sha256::digest(bytes).into()
}

/// The unpadded base64 sha256 of `bytes`: the form of `hashes.sha256` and `content_sha256`.
pub fn content_hash_b64(bytes: impl AsRef<[u8]>) -> String {
    b64_encode(sha256(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_strictness() {
        assert_eq!(b64_encode(b"hi"), "aGk");
        assert_eq!(b64_decode("aGk").ok(), Some(b"hi".to_vec()));
        assert!(b64_decode("aGk=").is_err(), "padding");
        assert!(b64_decode("aGl").is_err(), "non-zero trailing bits");
        assert!(b64_decode("a-_").is_err(), "url-safe alphabet");
        assert!(b64_decode("aG k").is_err(), "white space");
    }

    #[test]
    fn sha256_of_empty_string() {
        assert_eq!(
            content_hash_b64(b""),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU"
        );
    }
}
