//! The proof behind a registration: the server's key document, fetched from the URL it
//! registers, must be validly self-signed, name the same server and hold the same key.

use std::time::Duration;

use federation_proto::api::federation::paths;
use federation_proto::canonical::parse_strict;
use federation_proto::keydoc::KeyDocument;
use federation_proto::signing::KeyId;

use crate::error::ApiError;
use crate::state::AppState;

/// How long the whole fetch may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest key document read.
pub const MAX_KEY_DOCUMENT_BYTES: usize = 64 * 1024;

/// What the document must show.
#[derive(Debug, Clone)]
pub struct Expected<'a> {
    /// The registering server.
    pub server_name: &'a str,
    /// The key id it registers.
    pub key_id: &'a KeyId,
    /// The public key it registers (unpadded base64).
    pub key_b64: &'a str,
}

/// Fetches `{url}/api/v1/federation/key` and [`check`]s it. Over HTTPS the server's
/// certificate must verify against the public roots or `EXTRA_CA_FILE`.
#[tracing::instrument(skip_all, fields(server = expected.server_name, url = base_url))]
pub async fn prove(
    state: &AppState,
    base_url: &str,
    expected: &Expected<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let doc_url = format!("{base_url}{}", paths::KEY);
    let client = state.http_client(FETCH_TIMEOUT);
    let failed = |why: String| ApiError::KeyFetchFailed(format!("cannot fetch {doc_url}: {why}"));
    let mut res = client
        .get(&doc_url)
        .insert_header(("Accept", "application/json"))
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !res.status().is_success() {
        return Err(failed(format!("it answered {}", res.status())));
    }
    let body = res
        .body()
        .limit(MAX_KEY_DOCUMENT_BYTES)
        .await
        .map_err(|e| failed(e.to_string()))?;
    check(&body, &doc_url, expected, now_ms)?;
    tracing::debug!("key document proves the registration");
    Ok(())
}

/// Checks a fetched key document against what the registration claims.
pub fn check(
    body: &[u8],
    doc_url: &str,
    expected: &Expected<'_>,
    now_ms: u64,
) -> Result<(), ApiError> {
    let invalid =
        |why: String| ApiError::InvalidKeyDocument(format!("the key document at {doc_url} {why}"));
    let value = parse_strict(body.trim_ascii())
        .map_err(|e| invalid(format!("is not acceptable JSON: {e}")))?;
    let doc = KeyDocument::verify_self_signed_value(&value, now_ms)
        .map_err(|e| invalid(format!("is not validly self-signed: {e}")))?;
    if doc.server_name != expected.server_name {
        return Err(ApiError::ServerNameMismatch {
            url: doc_url.to_string(),
            expected: expected.server_name.to_string(),
            got: doc.server_name,
        });
    }
    match doc.verify_keys.get(expected.key_id) {
        Some(served) if served.key == expected.key_b64 => Ok(()),
        Some(_) => Err(ApiError::KeyMismatch(format!(
            "the key document at {doc_url} lists another public key as {}",
            expected.key_id
        ))),
        None => Err(ApiError::KeyMismatch(format!(
            "the key document at {doc_url} does not list the registered key {}",
            expected.key_id
        ))),
    }
}

#[cfg(test)]
mod tests {
    use federation_proto::signing::ServerKeyPair;

    use super::*;

    const NOW: u64 = 1_770_667_200_000;

    fn pair(version: &str, seed: u8) -> ServerKeyPair {
        ServerKeyPair::from_seed(KeyId::ed25519(version).unwrap(), [seed; 32])
    }

    fn doc(name: &str, key: &ServerKeyPair) -> Vec<u8> {
        let doc = KeyDocument::build_signed(name, key, &[], NOW, 86_400_000).unwrap();
        serde_json::to_vec(&doc).unwrap()
    }

    fn expect<'a>(name: &'a str, key: &'a ServerKeyPair, b64: &'a str) -> Expected<'a> {
        Expected {
            server_name: name,
            key_id: key.key_id(),
            key_b64: b64,
        }
    }

    #[test]
    fn the_right_document_proves() {
        let k = pair("a", 1);
        let b64 = k.public_key_b64();
        assert_eq!(
            check(
                &doc("hs1.example", &k),
                "u",
                &expect("hs1.example", &k, &b64),
                NOW
            ),
            Ok(())
        );
    }

    #[test]
    fn another_name_key_or_forgery_is_refused() {
        let (k, other) = (pair("a", 1), pair("a", 2));
        let b64 = k.public_key_b64();
        let want = expect("hs1.example", &k, &b64);
        let code = |body: &[u8]| check(body, "u", &want, NOW).unwrap_err().code();
        assert_eq!(code(&doc("hs2.example", &k)), "server_name_mismatch");
        assert_eq!(code(&doc("hs1.example", &other)), "key_mismatch");
        assert_eq!(code(&doc("hs1.example", &pair("b", 1))), "key_mismatch");
        assert_eq!(code(b"{\"x\": 1.5}"), "invalid_key_document");
        let mut forged: serde_json::Value =
            serde_json::from_slice(&doc("hs1.example", &k)).unwrap();
        forged["valid_until_ts"] = serde_json::json!(NOW + 1);
        assert_eq!(
            code(&serde_json::to_vec(&forged).unwrap()),
            "invalid_key_document"
        );
        // Expired.
        assert_eq!(
            check(&doc("hs1.example", &k), "u", &want, NOW + 86_400_001)
                .unwrap_err()
                .code(),
            "invalid_key_document"
        );
    }
}
