//! `POST /directory/v1/servers`: a homeserver registers, proving both its key and its URL.
//!
//! Steps, each with its own refusal:
//!
//! 1. **Parse** the body with the strict canonical-JSON parser, then as a [`Registration`].
//! 2. **Shape** ([`Claim::from_registration`]): `server_name` valid and normalised, `url` an
//!    `http(s)://` base URL, exactly one ed25519 verify key.
//! 3. **Signature** by that key over the body as received; `ts` within
//!    [`REGISTRATION_MAX_SKEW_MS`] of now.
//! 4. **Record** ([`authorize`]): not banned, `ts` newer than the last accepted registration, and
//!    a key change also signed by the key on record (unless the operator removed the server).
//! 5. **Proof** ([`keyfetch`]): the key document at `{url}/api/v1/federation/key`.
//! 6. **Accept** in one transaction: the record, a signed `up` entry, the peer's push cursor.
//!
//! A re-registration of a live server with the same URL and key skips the proof and appends
//! nothing: it counts as a heartbeat and answers the existing entry.

use std::collections::BTreeMap;

use federation_proto::api::directory::{EntryStatus, Registration, REGISTRATION_MAX_SKEW_MS};
use federation_proto::canonical::parse_strict;
use federation_proto::ids::ServerName;
use federation_proto::keydoc::VerifyKey;
use federation_proto::signing::{
    verify_json_signature, verifying_key_from_b64, KeyId, VerifyingKey,
};
use serde_json::Value;

use super::keyfetch::{self, Expected};
use super::servers::keys_on_record;
use super::signer::Signer;
use super::{entries, now_ms, to_i64, to_u64};
use crate::db::models::{ServerRow, STATUS_UP};
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::state::AppState;

/// Longest accepted `url`.
pub const MAX_URL_LEN: usize = 1024;

/// What an accepted registration did.
#[derive(Debug, Clone, PartialEq)]
pub enum Registered {
    /// A new entry (join, rejoin, new URL or key): `201`.
    Created(Value),
    /// Nothing changed: the server's current entry, `200`.
    Unchanged(Value),
}

/// A registration that passed the shape checks.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The server's name, normalised.
    pub name: String,
    /// Its base URL without trailing `/`.
    pub url: String,
    /// Its key id.
    pub key_id: KeyId,
    /// Its public key, unpadded base64 as sent.
    pub key_b64: String,
    /// The decoded key.
    pub key: VerifyingKey,
    /// When it was signed (server's clock, ms).
    pub ts: u64,
}

impl Claim {
    /// Checks the shape of a registration.
    pub fn from_registration(reg: &Registration) -> Result<Claim, ApiError> {
        let name: ServerName = reg
            .server_name
            .parse()
            .map_err(|_| ApiError::InvalidServerName(reg.server_name.clone()))?;
        if name.as_str() != reg.server_name {
            return Err(ApiError::InvalidServerName(reg.server_name.clone()));
        }
        let url = normalise_url(&reg.url)?;
        let mut keys = reg.verify_keys.iter();
        let (Some((key_id, VerifyKey { key: key_b64 })), None) = (keys.next(), keys.next()) else {
            return Err(ApiError::InvalidVerifyKeys(format!(
                "verify_keys must hold exactly one ed25519 key, not {}",
                reg.verify_keys.len()
            )));
        };
        let key_id: KeyId = key_id
            .parse()
            .map_err(|e| ApiError::InvalidVerifyKeys(format!("key id {key_id:?}: {e}")))?;
        let key = verifying_key_from_b64(key_b64)
            .map_err(|e| ApiError::InvalidVerifyKeys(format!("key {key_id}: {e}")))?;
        Ok(Claim {
            name: name.as_str().to_string(),
            url,
            key_id,
            key_b64: key_b64.clone(),
            key,
            ts: reg.ts,
        })
    }

    /// `verify_keys` as stored: `{"ed25519:…": {"key": "…"}}`.
    fn keys_json(&self) -> Result<String, ApiError> {
        let keys = BTreeMap::from([(
            self.key_id.as_str(),
            VerifyKey {
                key: self.key_b64.clone(),
            },
        )]);
        serde_json::to_string(&keys).map_err(ApiError::internal)
    }
}

/// Checks that `url` is an `http(s)://host[:port][/path]` base URL without credentials, query
/// or fragment, and returns it without trailing `/`.
pub fn normalise_url(url: &str) -> Result<String, ApiError> {
    let bad = |why: &str| ApiError::InvalidUrl(format!("url {url:?} {why}"));
    if url.len() > MAX_URL_LEN {
        return Err(bad(&format!("is longer than {MAX_URL_LEN} bytes")));
    }
    let rest = url
        .strip_prefix("http://")
        .or_else(|| url.strip_prefix("https://"))
        .ok_or_else(|| bad("must start with http:// or https://"))?;
    if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(bad("contains white space or control characters"));
    }
    if url.contains(['?', '#']) {
        return Err(bad("must not have a query or a fragment"));
    }
    let authority = rest.split('/').next().unwrap_or_default();
    if authority.is_empty() {
        return Err(bad("has no host"));
    }
    if authority.contains('@') {
        return Err(bad("must not carry credentials"));
    }
    let uri: awc::http::Uri = url.parse().map_err(|_| bad("is not a valid URL"))?;
    if uri.host().is_none_or(str::is_empty) {
        return Err(bad("has no host"));
    }
    Ok(url.trim_end_matches('/').to_string())
}

/// What the record makes of a well-formed, self-signed claim.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// The server is up with this URL and key: refresh only.
    Unchanged,
    /// A join, a rejoin or a new URL or key: needs the proof, then a new entry.
    Change,
}

/// Checks a claim against the server's record: ban, replay, and — for a key change — the
/// signature of the key on record over the body as received (`signed`).
pub fn authorize(
    record: Option<&ServerRow>,
    claim: &Claim,
    signed: &Value,
) -> Result<Decision, ApiError> {
    let Some(record) = record else {
        return Ok(Decision::Change);
    };
    if record.banned {
        return Err(ApiError::Banned(claim.name.clone()));
    }
    if to_i64(claim.ts) <= record.last_reg_ts {
        return Err(ApiError::ReplayedRegistration {
            ts: claim.ts,
            last: to_u64(record.last_reg_ts),
        });
    }
    let on_record = keys_on_record(record)?;
    let same_key = on_record.len() == 1
        && on_record
            .get(claim.key_id.as_str())
            .is_some_and(|k| k.key == claim.key_b64);
    if same_key && record.url == claim.url && record.is_up() {
        return Ok(Decision::Unchanged);
    }
    if !same_key && !record.released {
        for (key_id, VerifyKey { key }) in &on_record {
            let key_id: KeyId = key_id.parse().map_err(ApiError::internal)?;
            let key = verifying_key_from_b64(key).map_err(ApiError::internal)?;
            verify_json_signature(signed, &claim.name, &key_id, &key).map_err(|e| {
                ApiError::NotSignedByKeyOnRecord(format!(
                    "{} registers a new key, so the registration must also be signed by its key \
                     on record {key_id} ({e}); or the directory's operator must remove it first",
                    claim.name
                ))
            })?;
        }
    }
    Ok(Decision::Change)
}

/// Handles one registration body; see the module docs for the steps.
#[tracing::instrument(skip_all, fields(server = tracing::field::Empty))]
pub async fn register(state: &AppState, body: &[u8]) -> Result<Registered, ApiError> {
    let signed =
        parse_strict(body.trim_ascii()).map_err(|e| ApiError::InvalidJson(e.to_string()))?;
    let registration: Registration = serde_json::from_value(signed.clone())
        .map_err(|e| ApiError::InvalidRequest(format!("not a registration: {e}")))?;
    let claim = Claim::from_registration(&registration)?;
    tracing::Span::current().record("server", claim.name.as_str());
    verify_json_signature(&signed, &claim.name, &claim.key_id, &claim.key).map_err(|e| {
        ApiError::BadSignature(format!(
            "the registration must be signed by the key it registers ({}): {e}",
            claim.key_id
        ))
    })?;
    let now = to_u64(now_ms());
    if claim.ts.abs_diff(now) > REGISTRATION_MAX_SKEW_MS {
        return Err(ApiError::BadTimestamp {
            ts: claim.ts,
            now,
            max_skew_ms: REGISTRATION_MAX_SKEW_MS,
        });
    }
    // The first pass refuses early (ban, replay, key on record) before any network traffic; a
    // change then needs the proof, and the second pass checks everything again with it.
    let mut proven = false;
    for _ in 0..3 {
        let (signer, claim_tx, signed_tx) = (state.signer.clone(), claim.clone(), signed.clone());
        let step = state
            .db
            .write(move |conn| accept(conn, &signer, &claim_tx, &signed_tx, proven, now_ms()))
            .await?;
        match step {
            Step::Done(registered) => {
                state.wake_pusher();
                if let Registered::Created(_) = registered {
                    tracing::info!(url = %claim.url, key_id = %claim.key_id, "registration accepted");
                }
                return Ok(registered);
            }
            Step::NeedsProof => {
                let expected = Expected {
                    server_name: &claim.name,
                    key_id: &claim.key_id,
                    key_b64: &claim.key_b64,
                };
                keyfetch::prove(state, &claim.url, &expected, to_u64(now_ms())).await?;
                proven = true;
            }
        }
    }
    Err(ApiError::internal("registration did not settle"))
}

/// The outcome of one pass.
enum Step {
    Done(Registered),
    NeedsProof,
}

/// One pass inside a write transaction.
fn accept(
    conn: &mut Conn,
    signer: &Signer,
    claim: &Claim,
    signed: &Value,
    proven: bool,
    now_ms: i64,
) -> Result<Step, ApiError> {
    let record = db::servers::get(conn, &claim.name)?;
    match authorize(record.as_ref(), claim, signed)? {
        Decision::Unchanged => {
            db::servers::refresh_registration(conn, &claim.name, to_i64(claim.ts), now_ms)?;
            db::peers::reset_backoff(conn, &claim.name)?;
            let entry = entries::latest(conn, &claim.name)?.ok_or_else(|| {
                ApiError::internal(format!("{} is up but has no entry", claim.name))
            })?;
            Ok(Step::Done(Registered::Unchanged(entry)))
        }
        Decision::Change if !proven => Ok(Step::NeedsProof),
        Decision::Change => {
            let row = ServerRow {
                name: claim.name.clone(),
                url: claim.url.clone(),
                verify_keys: claim.keys_json()?,
                status: STATUS_UP.to_string(),
                last_reg_ts: to_i64(claim.ts),
                last_heartbeat_ms: now_ms,
                banned: false,
                released: false,
                registered_ms: record.as_ref().map_or(now_ms, |r| r.registered_ms),
                updated_ms: now_ms,
            };
            db::servers::upsert(conn, &row)?;
            let entry = entries::append(conn, signer, &row, EntryStatus::Up, now_ms)?;
            // New, back, moved or re-keyed: it may have lost its state, so it gets the whole log.
            db::peers::start_from_zero(conn, &claim.name)?;
            Ok(Step::Done(Registered::Created(entry)))
        }
    }
}

#[cfg(test)]
mod tests {
    use federation_proto::signing::{sign_json, ServerKeyPair};
    use serde_json::json;

    use super::*;
    use crate::db::models::STATUS_GONE;

    fn pair(version: &str, seed: u8) -> ServerKeyPair {
        ServerKeyPair::from_seed(KeyId::ed25519(version).unwrap(), [seed; 32])
    }

    fn body(name: &str, url: &str, key: &ServerKeyPair, ts: u64) -> Value {
        let mut v = json!({
            "server_name": name,
            "url": url,
            "verify_keys": {key.key_id().as_str(): {"key": key.public_key_b64()}},
            "ts": ts,
        });
        sign_json(&mut v, name, key).unwrap();
        v
    }

    fn claim(v: &Value) -> Result<Claim, ApiError> {
        Claim::from_registration(&serde_json::from_value(v.clone()).unwrap())
    }

    fn record(key: &ServerKeyPair, url: &str, status: &str, ts: i64) -> ServerRow {
        ServerRow {
            name: "hs1.example".into(),
            url: url.into(),
            verify_keys: json!({key.key_id().as_str(): {"key": key.public_key_b64()}}).to_string(),
            status: status.into(),
            last_reg_ts: ts,
            last_heartbeat_ms: 0,
            banned: false,
            released: false,
            registered_ms: 0,
            updated_ms: 0,
        }
    }

    #[test]
    fn urls_are_checked_and_trimmed() {
        assert_eq!(
            normalise_url("http://127.0.0.1:8081/").unwrap(),
            "http://127.0.0.1:8081"
        );
        assert_eq!(
            normalise_url("https://hs.example/hearth").unwrap(),
            "https://hs.example/hearth"
        );
        for bad in [
            "ftp://x",
            "http://",
            "http:///x",
            "http://u:p@host",
            "http://host/?q=1",
            "http://host/#f",
            "http://ho st",
            "hs1.example",
        ] {
            assert_eq!(
                normalise_url(bad).unwrap_err().code(),
                "invalid_url",
                "{bad}"
            );
        }
        assert!(normalise_url(&format!("http://h/{}", "a".repeat(MAX_URL_LEN))).is_err());
    }

    #[test]
    fn shape_checks() {
        let k = pair("a", 1);
        assert!(claim(&body("hs1.example", "http://h", &k, 5)).is_ok());
        assert_eq!(
            claim(&body("HS1.example", "http://h", &k, 5))
                .unwrap_err()
                .code(),
            "invalid_server_name"
        );
        assert_eq!(
            claim(&body("bad name", "http://h", &k, 5))
                .unwrap_err()
                .code(),
            "invalid_server_name"
        );
        let mut two = body("hs1.example", "http://h", &k, 5);
        two["verify_keys"]["ed25519:b"] = json!({"key": pair("b", 2).public_key_b64()});
        assert_eq!(claim(&two).unwrap_err().code(), "invalid_verify_keys");
        let mut none = body("hs1.example", "http://h", &k, 5);
        none["verify_keys"] = json!({});
        assert_eq!(claim(&none).unwrap_err().code(), "invalid_verify_keys");
        let mut junk = body("hs1.example", "http://h", &k, 5);
        junk["verify_keys"] = json!({"ed25519:a": {"key": "AAAA"}});
        assert_eq!(claim(&junk).unwrap_err().code(), "invalid_verify_keys");
        let mut rsa = body("hs1.example", "http://h", &k, 5);
        rsa["verify_keys"] = json!({"rsa:a": {"key": k.public_key_b64()}});
        assert_eq!(claim(&rsa).unwrap_err().code(), "invalid_verify_keys");
    }

    #[test]
    fn the_record_decides() {
        let (old, new) = (pair("a", 1), pair("b", 2));
        let same = body("hs1.example", "http://h", &old, 10);
        let c = claim(&same).unwrap();
        let up = record(&old, "http://h", STATUS_UP, 5);
        assert_eq!(authorize(None, &c, &same), Ok(Decision::Change));
        assert_eq!(authorize(Some(&up), &c, &same), Ok(Decision::Unchanged));
        let gone = record(&old, "http://h", STATUS_GONE, 5);
        assert_eq!(authorize(Some(&gone), &c, &same), Ok(Decision::Change));
        let moved = body("hs1.example", "http://elsewhere", &old, 10);
        assert_eq!(
            authorize(Some(&up), &claim(&moved).unwrap(), &moved),
            Ok(Decision::Change)
        );

        let replayed = record(&old, "http://h", STATUS_UP, 10);
        assert_eq!(
            authorize(Some(&replayed), &c, &same).unwrap_err().code(),
            "replayed_registration"
        );
        let mut banned = up.clone();
        banned.banned = true;
        assert_eq!(
            authorize(Some(&banned), &c, &same).unwrap_err().code(),
            "banned"
        );

        // A new key: only with the old key's signature too, unless the operator released it.
        let rekey = body("hs1.example", "http://h", &new, 10);
        let rc = claim(&rekey).unwrap();
        assert_eq!(
            authorize(Some(&up), &rc, &rekey).unwrap_err().code(),
            "not_signed_by_key_on_record"
        );
        assert_eq!(
            authorize(Some(&gone), &rc, &rekey).unwrap_err().code(),
            "not_signed_by_key_on_record"
        );
        let mut both = rekey.clone();
        sign_json(&mut both, "hs1.example", &old).unwrap();
        assert_eq!(authorize(Some(&up), &rc, &both), Ok(Decision::Change));
        let mut released = gone.clone();
        released.released = true;
        assert_eq!(
            authorize(Some(&released), &rc, &rekey),
            Ok(Decision::Change)
        );

        // The same key id with another key can never carry both signatures.
        let clash = pair("a", 3);
        let clash_body = body("hs1.example", "http://h", &clash, 10);
        assert_eq!(
            authorize(Some(&up), &claim(&clash_body).unwrap(), &clash_body)
                .unwrap_err()
                .code(),
            "not_signed_by_key_on_record"
        );
    }
}
