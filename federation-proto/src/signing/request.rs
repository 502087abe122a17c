//! Signed server-to-server requests: the `X-Hearth` authorization header.
//!
//! Every federation request carries
//!
//! ```text
//! Authorization: X-Hearth origin="hs1.example",destination="hs2.example",key="ed25519:a1",ts="1770667200000",sig="…"
//! ```
//!
//! where `sig` is the origin's ed25519 signature (unpadded base64) over the canonical JSON of
//!
//! ```json
//! {"method": "POST", "uri": "/api/v1/federation/relay?x=1", "origin": "hs1.example",
//!  "destination": "hs2.example", "ts": 1770667200000, "content_sha256": "<b64 sha256 of body>"}
//! ```
//!
//! - `method` is upper-cased before signing and verifying;
//! - `uri` is the request target exactly as sent on the request line: path and query, not
//!   decoded or normalised (the receiver must use the raw target, not its router's view);
//! - `ts` is an integer of ms since the epoch (a string in the header, an integer when signed);
//! - `content_sha256` is the unpadded base64 sha256 of the raw body bytes, of `""` when there is
//!   no body.
//!
//! The receiver rejects a wrong `destination`, a `ts` more than `max_skew_ms` away from its
//! clock ([`DEFAULT_MAX_SKEW_MS`], 5 minutes) and a bad signature. Only a current key of the
//! origin (`verify_keys`) authenticates requests, never an old one.
//!
//! **Replay.** Within the skew window a captured request verifies again. The receiving server
//! must therefore keep a set of the `sig` values it has accepted, each for at least the skew
//! window on both sides (`2 × max_skew_ms`), and refuse a request whose `sig` it has already
//! seen. Base64 decoding is strict and ed25519 verification is strict, so a signature has exactly
//! one accepted spelling and the `sig` string is a sound key. That state lives in the servers;
//! this crate has none.

use std::fmt::Write as _;

use ed25519_dalek::VerifyingKey;
use serde_json::{Map, Value};

use crate::canonical::to_canonical_bytes;

use super::b64::content_hash_b64;
use super::error::{AuthHeaderError, SigningError, VerifyError};
use super::keys::{signature_from_b64, KeyId, ServerKeyPair};

/// The authorization scheme.
pub const AUTH_SCHEME: &str = "X-Hearth";

/// The default tolerance between a request's `ts` and the receiver's clock: 5 minutes.
pub const DEFAULT_MAX_SKEW_MS: u64 = 300_000;

/// Longest header value [`RequestAuth::parse_header`] looks at.
pub const MAX_AUTH_HEADER_LEN: usize = 4096;

/// The parameters of an `X-Hearth` authorization header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestAuth {
    /// The sending server.
    pub origin: String,
    /// The server the request is for.
    pub destination: String,
    /// The origin's key that signed.
    pub key_id: KeyId,
    /// When the request was signed, ms since the epoch.
    pub ts: u64,
    /// The signature, unpadded base64.
    pub sig: String,
}

/// Signs a request and returns its authorization.
///
/// Fails only if `ts_ms` exceeds 2^53 − 1, which canonical JSON cannot carry.
pub fn sign_request(
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    ts_ms: u64,
    body: &[u8],
    key: &ServerKeyPair,
) -> Result<RequestAuth, SigningError> {
    let message = signing_input(method, uri, origin, destination, ts_ms, body)?;
    Ok(RequestAuth {
        origin: origin.to_owned(),
        destination: destination.to_owned(),
        key_id: key.key_id().clone(),
        ts: ts_ms,
        sig: key.sign(&message),
    })
}

/// Verifies a request's authorization against what actually arrived.
///
/// `expected_destination` is our own server name; `key` must be the current key
/// `auth.key_id` of `auth.origin`, found by the caller (fetching the origin's key document if
/// needed). Checks, in order: destination, clock skew, signature. Replay detection is the
/// caller's (see the module docs).
#[allow(clippy::too_many_arguments)] // the contract names each input; a struct would only rename them
pub fn verify_request(
    auth: &RequestAuth,
    method: &str,
    uri: &str,
    body: &[u8],
    expected_destination: &str,
    now_ms: u64,
    max_skew_ms: u64,
    key: &VerifyingKey,
) -> Result<(), VerifyError> {
    if auth.destination != expected_destination {
        return Err(VerifyError::WrongDestination {
            expected: expected_destination.to_owned(),
            got: auth.destination.clone(),
        });
    }
    if auth.ts.abs_diff(now_ms) > max_skew_ms {
        return Err(VerifyError::SkewTooLarge {
            ts: auth.ts,
            now: now_ms,
            max_skew_ms,
        });
    }
    let bad = || VerifyError::BadSignature {
        server: auth.origin.clone(),
        key_id: auth.key_id.to_string(),
    };
    let signature = signature_from_b64(&auth.sig).map_err(|_| bad())?;
    let message = signing_input(method, uri, &auth.origin, &auth.destination, auth.ts, body)?;
    key.verify_strict(&message, &signature).map_err(|_| bad())
}

/// The JSON object a request signature covers (before canonicalisation).
pub fn request_signing_json(
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    ts_ms: u64,
    body: &[u8],
) -> Value {
    let mut map = Map::new();
    map.insert("method".into(), Value::String(method.to_ascii_uppercase()));
    map.insert("uri".into(), Value::String(uri.to_owned()));
    map.insert("origin".into(), Value::String(origin.to_owned()));
    map.insert("destination".into(), Value::String(destination.to_owned()));
    map.insert("ts".into(), Value::from(ts_ms));
    map.insert(
        "content_sha256".into(),
        Value::String(content_hash_b64(body)),
    );
    Value::Object(map)
}

fn signing_input(
    method: &str,
    uri: &str,
    origin: &str,
    destination: &str,
    ts_ms: u64,
    body: &[u8],
) -> Result<Vec<u8>, crate::canonical::CanonicalError> {
    to_canonical_bytes(&request_signing_json(
        method,
        uri,
        origin,
        destination,
        ts_ms,
        body,
    ))
}

impl RequestAuth {
    /// Formats the header value: `X-Hearth origin="…",destination="…",key="…",ts="…",sig="…"`.
    pub fn to_header(&self) -> String {
        let mut out = String::from(AUTH_SCHEME);
        let params = [
            ("origin", self.origin.as_str()),
            ("destination", self.destination.as_str()),
            ("key", self.key_id.as_str()),
        ];
        for (i, (name, value)) in params.into_iter().enumerate() {
            out.push(if i == 0 { ' ' } else { ',' });
            push_param(&mut out, name, value);
        }
        out.push(',');
        push_param(&mut out, "ts", &self.ts.to_string());
        out.push(',');
        push_param(&mut out, "sig", &self.sig);
        out
    }

    /// Parses a header value. Tolerant of white space, case in the scheme and parameter
    /// names, unquoted values and unknown parameters; strict about duplicates and missing
    /// parameters. Never panics, whatever the input.
    pub fn parse_header(value: &str) -> Result<RequestAuth, AuthHeaderError> {
        if value.len() > MAX_AUTH_HEADER_LEN {
            return Err(AuthHeaderError::TooLong);
        }
        let value = value.trim_start();
        let (scheme, rest) = value.split_at(
            value
                .find(|c: char| c.is_ascii_whitespace())
                .unwrap_or(value.len()),
        );
        if !scheme.eq_ignore_ascii_case(AUTH_SCHEME) {
            return Err(AuthHeaderError::WrongScheme);
        }
        let offset = value.len() - rest.len();
        let mut fields: [Option<String>; 5] = Default::default();
        const NAMES: [&str; 5] = ["origin", "destination", "key", "ts", "sig"];
        for (name, param) in parse_params(rest, offset)? {
            let Some(slot) = NAMES.iter().position(|n| n.eq_ignore_ascii_case(&name)) else {
                continue;
            };
            match fields.get_mut(slot) {
                Some(Some(_)) => return Err(AuthHeaderError::DuplicateParam(name)),
                Some(field) => *field = Some(param),
                None => {}
            }
        }
        let [origin, destination, key, ts, sig] = fields;
        let origin = origin.ok_or(AuthHeaderError::MissingParam("origin"))?;
        let destination = destination.ok_or(AuthHeaderError::MissingParam("destination"))?;
        let key = key.ok_or(AuthHeaderError::MissingParam("key"))?;
        let ts = ts.ok_or(AuthHeaderError::MissingParam("ts"))?;
        let sig = sig.ok_or(AuthHeaderError::MissingParam("sig"))?;
        if ts.is_empty() || ts.len() > 16 || !ts.bytes().all(|b| b.is_ascii_digit()) {
            return Err(AuthHeaderError::BadTimestamp);
        }
        Ok(RequestAuth {
            origin,
            destination,
            key_id: key.parse()?,
            ts: ts.parse().map_err(|_| AuthHeaderError::BadTimestamp)?,
            sig,
        })
    }
}

fn push_param(out: &mut String, name: &str, value: &str) {
    let _ = write!(out, "{name}=\"");
    for c in value.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
}

/// Parses `name=value` pairs separated by commas; values are tokens or quoted strings with
/// backslash escapes. `base` is the byte offset of `text` in the header, for errors.
fn parse_params(text: &str, base: usize) -> Result<Vec<(String, String)>, AuthHeaderError> {
    let mut params = Vec::new();
    let mut chars = text.char_indices().peekable();
    let syntax = |at: usize| AuthHeaderError::Syntax { offset: base + at };
    loop {
        while chars
            .next_if(|(_, c)| c.is_ascii_whitespace() || *c == ',')
            .is_some()
        {}
        let Some(&(start, _)) = chars.peek() else {
            return Ok(params);
        };
        let mut name = String::new();
        while let Some((_, c)) =
            chars.next_if(|(_, c)| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        {
            name.push(c);
        }
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        if name.is_empty() || chars.next_if(|(_, c)| *c == '=').is_none() {
            return Err(syntax(start));
        }
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        let mut value = String::new();
        if let Some((quote_at, _)) = chars.next_if(|(_, c)| *c == '"') {
            loop {
                match chars.next() {
                    None => return Err(syntax(quote_at)),
                    Some((_, '"')) => break,
                    Some((at, '\\')) => match chars.next() {
                        Some((_, c)) => value.push(c),
                        None => return Err(syntax(at)),
                    },
                    Some((_, c)) => value.push(c),
                }
            }
        } else {
            while let Some((_, c)) =
                chars.next_if(|(_, c)| !c.is_ascii_whitespace() && *c != ',' && *c != '"')
            {
                value.push(c);
            }
        }
        params.push((name, value));
        while chars.next_if(|(_, c)| c.is_ascii_whitespace()).is_some() {}
        match chars.next() {
            None => return Ok(params),
            Some((_, ',')) => {}
            Some((at, _)) => return Err(syntax(at)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u64 = 1_770_667_200_000;

    fn pair() -> ServerKeyPair {
        let Ok(id) = KeyId::ed25519("a1") else {
            panic!("bad key id")
        };
        ServerKeyPair::from_seed(id, [9; 32])
    }

    fn auth() -> RequestAuth {
        let signed = sign_request(
            "post",
            "/api/v1/federation/relay?x=1",
            "hs1.example",
            "hs2.example",
            NOW,
            b"{\"txn_id\":\"t1\"}",
            &pair(),
        );
        match signed {
            Ok(a) => a,
            Err(e) => panic!("{e}"),
        }
    }

    fn verify(
        a: &RequestAuth,
        method: &str,
        uri: &str,
        body: &[u8],
        dest: &str,
        now: u64,
    ) -> Result<(), VerifyError> {
        verify_request(
            a,
            method,
            uri,
            body,
            dest,
            now,
            DEFAULT_MAX_SKEW_MS,
            &pair().verifying_key(),
        )
    }

    #[test]
    fn signed_request_verifies_and_binds_every_part() {
        let a = auth();
        let uri = "/api/v1/federation/relay?x=1";
        let body = b"{\"txn_id\":\"t1\"}";
        assert_eq!(verify(&a, "POST", uri, body, "hs2.example", NOW), Ok(()));
        assert_eq!(
            verify(
                &a,
                "POST",
                uri,
                body,
                "hs2.example",
                NOW + DEFAULT_MAX_SKEW_MS
            ),
            Ok(())
        );
        let bad_sig =
            |r: Result<(), VerifyError>| matches!(r, Err(VerifyError::BadSignature { .. }));
        assert!(bad_sig(verify(&a, "PUT", uri, body, "hs2.example", NOW)));
        assert!(bad_sig(verify(
            &a,
            "POST",
            "/api/v1/federation/relay?x=2",
            body,
            "hs2.example",
            NOW
        )));
        assert!(bad_sig(verify(&a, "POST", uri, b"{}", "hs2.example", NOW)));
        let mut other = a.clone();
        other.origin = "hs3.example".into();
        assert!(bad_sig(verify(
            &other,
            "POST",
            uri,
            body,
            "hs2.example",
            NOW
        )));
        let mut other = a.clone();
        other.ts += 1;
        assert!(bad_sig(verify(
            &other,
            "POST",
            uri,
            body,
            "hs2.example",
            NOW
        )));
        assert!(matches!(
            verify(&a, "POST", uri, body, "hs3.example", NOW),
            Err(VerifyError::WrongDestination { .. })
        ));
        assert!(matches!(
            verify(
                &a,
                "POST",
                uri,
                body,
                "hs2.example",
                NOW + DEFAULT_MAX_SKEW_MS + 1
            ),
            Err(VerifyError::SkewTooLarge { .. })
        ));
        assert!(matches!(
            verify(
                &a,
                "POST",
                uri,
                body,
                "hs2.example",
                NOW - DEFAULT_MAX_SKEW_MS - 1
            ),
            Err(VerifyError::SkewTooLarge { .. })
        ));
    }

    #[test]
    fn header_round_trips() {
        let a = auth();
        let header = a.to_header();
        assert!(header.starts_with("X-Hearth origin=\"hs1.example\",destination=\"hs2.example\",key=\"ed25519:a1\",ts=\"1770667200000\",sig=\""));
        assert_eq!(RequestAuth::parse_header(&header), Ok(a));
    }

    #[test]
    fn header_parsing_is_tolerant_where_harmless() {
        let parsed = RequestAuth::parse_header(
            "  x-hearth  Origin = hs1.example , destination=\"hs\\2.example\",\tkey=\"ed25519:a1\", extra=\"1, 2\",ts=5,sig=\"QUJD\"",
        );
        let Ok(parsed) = parsed else {
            panic!("{parsed:?}")
        };
        assert_eq!(parsed.origin, "hs1.example");
        assert_eq!(parsed.destination, "hs2.example");
        assert_eq!(parsed.ts, 5);
        assert_eq!(parsed.sig, "QUJD");
    }

    #[test]
    fn header_parsing_rejects_junk() {
        let ok = auth().to_header();
        let cases: Vec<(String, AuthHeaderError)> = vec![
            (
                ok.replace("X-Hearth", "X-Matrix"),
                AuthHeaderError::WrongScheme,
            ),
            (String::new(), AuthHeaderError::WrongScheme),
            (
                ok.replace(",sig=", ",origin=\"x\",sig="),
                AuthHeaderError::DuplicateParam("origin".into()),
            ),
            (
                ok.replace("ts=\"1770667200000\",", ""),
                AuthHeaderError::MissingParam("ts"),
            ),
            (
                ok.replace("1770667200000", "-5"),
                AuthHeaderError::BadTimestamp,
            ),
            (
                ok.replace("1770667200000", "99999999999999999999"),
                AuthHeaderError::BadTimestamp,
            ),
            (
                ok.replace("ed25519:a1", "rsa:a1"),
                AuthHeaderError::BadKeyId(crate::signing::KeyIdError::UnknownAlgorithm),
            ),
            (
                "X-Hearth origin=\"unterminated".into(),
                AuthHeaderError::Syntax { offset: 16 },
            ),
            ("X-Hearth =x".into(), AuthHeaderError::Syntax { offset: 9 }),
            (
                "X-Hearth origin=a b".into(),
                AuthHeaderError::Syntax { offset: 18 },
            ),
            (
                "X-Hearth origin=\"a\\".into(),
                AuthHeaderError::Syntax { offset: 18 },
            ),
            (
                "X-Hearth ".to_owned() + &"a".repeat(MAX_AUTH_HEADER_LEN),
                AuthHeaderError::TooLong,
            ),
        ];
        for (header, expected) in cases {
            assert_eq!(
                RequestAuth::parse_header(&header),
                Err(expected),
                "{header:?}"
            );
        }
    }

    #[test]
    fn signing_json_shape() {
        let v = request_signing_json("get", "/k", "a", "b", 7, b"");
        assert_eq!(
            crate::canonical::to_canonical_string(&v).ok(),
            Some(r#"{"content_sha256":"47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU","destination":"b","method":"GET","origin":"a","ts":7,"uri":"/k"}"#.into())
        );
    }
}
