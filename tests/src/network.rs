//! A small federated network for tests: a directory and homeservers that register with it,
//! with short timers, plus the keys needed to forge or replay requests on purpose.

use std::collections::BTreeMap;
use std::time::Duration;

use federation_proto::keydoc::VerifyKey;
use federation_proto::signing::{b64_decode, sign_json, KeyId, ServerKeyPair};
use serde_json::{json, Value};

use crate::api::Api;
use crate::eventually;
use crate::process::ServerProcess;

/// Milliseconds since the unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// A directory with short retry and expiry timers.
pub fn start_directory() -> ServerProcess {
    start_directory_with(&[])
}

/// A directory with short retry and expiry timers and extra settings.
pub fn start_directory_with(extra: &[(&str, &str)]) -> ServerProcess {
    let mut env = vec![
        ("PUSH_RETRY_MIN_MS", "200"),
        ("PUSH_RETRY_MAX_MS", "1000"),
        ("EXPIRY_CHECK_SECS", "1"),
    ];
    env.extend_from_slice(extra);
    ServerProcess::directory("dir.test", &env)
}

/// The directory's public key, as homeservers pin it.
pub async fn directory_key(dir: &ServerProcess) -> String {
    let doc = Api::new(&dir.url)
        .get("/directory/v1/key")
        .await
        .expect(200);
    let keys = doc["verify_keys"].as_object().expect("verify_keys");
    keys.values()
        .next()
        .and_then(|k| k["key"].as_str())
        .expect("a key")
        .to_string()
}

pub fn start_homeserver(name: &str, dir: &ServerProcess, key: &str) -> ServerProcess {
    start_homeserver_with(name, dir, key, &[])
}

/// A homeserver registered with `dir`, with fast federation retries and extra settings.
pub fn start_homeserver_with(
    name: &str,
    dir: &ServerProcess,
    key: &str,
    extra: &[(&str, &str)],
) -> ServerProcess {
    let mut env = vec![
        ("DIRECTORY_URL", dir.url.as_str()),
        ("DIRECTORY_KEY", key),
        ("DIRECTORY_HEARTBEAT_SECS", "1"),
        ("DIRECTORY_PULL_SECS", "2"),
        ("FEDERATION_RETRY_MIN_MS", "200"),
        ("FEDERATION_RETRY_MAX_MS", "1000"),
    ];
    env.extend_from_slice(extra);
    ServerProcess::start_with(name, &env)
}

/// Names of the peers a homeserver knows as up.
pub async fn peers_up(hs: &ServerProcess) -> Vec<String> {
    let status = Api::new(&hs.url)
        .get("/api/v1/federation/status")
        .await
        .expect(200);
    let mut names: Vec<String> = status["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .filter(|p| p["status"] == "up")
        .map(|p| p["server_name"].as_str().unwrap_or_default().to_string())
        .collect();
    names.sort();
    names
}

pub async fn wait_for_peers(hs: &ServerProcess, expected: &[&str]) {
    let what = format!("{} to know {expected:?}", hs.name);
    eventually(Duration::from_secs(30), &what, || async {
        (peers_up(hs).await == expected).then_some(())
    })
    .await;
}

/// The signing key a homeserver keeps in its data directory (`current <key id> <seed>`).
pub fn key_of(hs: &ServerProcess) -> ServerKeyPair {
    let text = std::fs::read_to_string(hs.data_dir().join("signing.key")).expect("signing.key");
    let line = text
        .lines()
        .find(|l| l.starts_with("current "))
        .expect("current key line");
    let mut parts = line.split_whitespace().skip(1);
    let key_id: KeyId = parts.next().unwrap().parse().unwrap();
    let seed: [u8; 32] = b64_decode(parts.next().unwrap())
        .unwrap()
        .try_into()
        .unwrap();
    ServerKeyPair::from_seed(key_id, seed)
}

pub fn random_key() -> ServerKeyPair {
    let mut seed = [0u8; 32];
    for (i, b) in seed.iter_mut().enumerate() {
        *b = (now_ms() as u8).wrapping_add(i as u8).wrapping_mul(31);
    }
    ServerKeyPair::from_seed("ed25519:t1".parse().unwrap(), seed)
}

/// A registration for the directory, signed by `key`.
pub fn registration(name: &str, url: &str, key: &ServerKeyPair, ts: u64) -> Value {
    let keys: BTreeMap<String, VerifyKey> = [(
        key.key_id().to_string(),
        VerifyKey {
            key: key.public_key_b64(),
        },
    )]
    .into_iter()
    .collect();
    let mut body = json!({"server_name": name, "url": url, "verify_keys": keys, "ts": ts});
    sign_json(&mut body, name, key).unwrap();
    body
}

/// A directory and one registered homeserver per name, started in order; returns once every
/// homeserver knows every other one.
pub async fn federated(names: &[&str]) -> (ServerProcess, Vec<ServerProcess>) {
    federated_with(&names.iter().map(|n| (*n, Vec::new())).collect::<Vec<_>>()).await
}

/// Like [`federated`], with extra settings per homeserver.
pub async fn federated_with(
    servers: &[(&str, Vec<(&str, &str)>)],
) -> (ServerProcess, Vec<ServerProcess>) {
    let dir = start_directory();
    let key = directory_key(&dir).await;
    let started: Vec<ServerProcess> = servers
        .iter()
        .map(|(name, extra)| start_homeserver_with(name, &dir, &key, extra))
        .collect();
    for hs in &started {
        let mut others: Vec<&str> = servers
            .iter()
            .map(|(n, _)| *n)
            .filter(|n| *n != hs.name)
            .collect();
        others.sort();
        wait_for_peers(hs, &others).await;
    }
    (dir, started)
}
