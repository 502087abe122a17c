//! The directory on its own: the real `directory` process ([`Directory`]), homeserver
//! stand-ins served in-process ([`FakeHomeserver`]: a real self-signed key document, and a
//! push endpoint that records what it receives), and signed requests to the directory. Used by
//! the directory crate's own end-to-end tests (`directory/tests/e2e`); the scenarios with real
//! homeservers are in `tests/tests/directory.rs` ([`crate::network`]).
//!
//! Everything such a test needs is re-exported here, so it can `use hearth_tests::directory::*`.

use std::ops::{Deref, DerefMut};
use std::process::Output;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use federation_proto::keydoc::KeyDocument;
use federation_proto::signing::{
    sign_request, verify_json_signature, verifying_key_from_b64, KeyId, ServerKeyPair, VerifyingKey,
};
use serde_json::{json, Value};

pub use crate::api::{Api, Reply};
pub use crate::eventually;
pub use crate::network::{now_ms, registration};
use crate::process::ServerProcess;

/// The directory's name in every test.
pub const DIR_NAME: &str = "dir.test";
/// Default deadline of [`eventually`] in the directory's tests.
pub const DEADLINE: Duration = Duration::from_secs(30);

/// A key pair from a seed byte and a key version.
pub fn key(version: &str, seed: u8) -> ServerKeyPair {
    ServerKeyPair::from_seed(KeyId::ed25519(version).expect("key version"), [seed; 32])
}

/// A running `directory` process named [`DIR_NAME`] (a [`ServerProcess`]: `url`, `kill`,
/// `restart`, `log`, …) with helpers for its API and operator commands.
pub struct Directory(ServerProcess);

impl Deref for Directory {
    type Target = ServerProcess;

    fn deref(&self) -> &ServerProcess {
        &self.0
    }
}

impl DerefMut for Directory {
    fn deref_mut(&mut self) -> &mut ServerProcess {
        &mut self.0
    }
}

impl Directory {
    /// Starts a directory named [`DIR_NAME`] with extra settings (debug logs of the directory).
    pub fn start(env: &[(&str, &str)]) -> Directory {
        let mut all = vec![("RUST_LOG", "info,directory=debug")];
        all.extend_from_slice(env);
        Directory(ServerProcess::directory(DIR_NAME, &all))
    }

    /// Runs an operator command (`directory servers …`) on this directory's data.
    pub fn operator(&self, args: &[&str]) -> Output {
        self.0.run(args)
    }

    /// `directory servers list --json`.
    pub fn list(&self) -> Vec<Value> {
        let out = self.operator(&["servers", "list", "--json"]);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).expect("servers list --json")
    }

    /// A client for this directory.
    pub fn api(&self) -> Api {
        Api::new(&self.url)
    }

    /// The directory's key document: its name, key id and public key.
    pub async fn key(&self) -> (String, KeyId, VerifyingKey) {
        let doc = self.api().get("/directory/v1/key").await.expect(200);
        let doc = KeyDocument::verify_self_signed_value(&doc, now_ms()).expect("key document");
        let (id, key) = doc.verify_keys.iter().next().expect("a verify key");
        (
            doc.server_name.clone(),
            id.clone(),
            verifying_key_from_b64(&key.key).expect("an ed25519 key"),
        )
    }

    /// Every entry, by pulling from 0.
    pub async fn entries(&self) -> Vec<Value> {
        let page = self
            .api()
            .get("/directory/v1/servers?since=0&limit=500")
            .await
            .expect(200);
        page["entries"].as_array().expect("entries").clone()
    }
}

/// Panics unless `entry` carries a valid signature by the directory's key.
pub async fn assert_signed_by_directory(dir: &Directory, entry: &Value) {
    let (name, key_id, key) = dir.key().await;
    assert_eq!(name, DIR_NAME);
    verify_json_signature(entry, &name, &key_id, &key)
        .unwrap_or_else(|e| panic!("entry not signed by the directory ({e}): {entry}"));
}

/// Sends an `X-Hearth` signed request to `dir`; returns the header it used and the answer.
pub async fn signed_request(
    dir: &Directory,
    origin: &str,
    key: &ServerKeyPair,
    method: &str,
    path: &str,
    body: &[u8],
) -> (String, Reply) {
    let auth =
        sign_request(method, path, origin, DIR_NAME, now_ms(), body, key).expect("sign request");
    let header = auth.to_header();
    let reply = dir
        .api()
        .send_with_headers(
            method,
            path,
            &[("Authorization", header.clone())],
            body.to_vec(),
        )
        .await;
    (header, reply)
}

struct FakeState {
    name: String,
    key: Mutex<ServerKeyPair>,
    /// A document served instead of our own, when set.
    served: Mutex<Option<Value>>,
    received: Mutex<Vec<Value>>,
    down: AtomicBool,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// A homeserver stand-in: serves a self-signed key document and records pushed entries.
pub struct FakeHomeserver {
    /// Its name.
    pub name: String,
    /// Its base URL.
    pub url: String,
    state: Arc<FakeState>,
    handle: ServerHandle,
}

impl FakeHomeserver {
    /// Starts a fake homeserver named `name` with the key of `seed`, on the current runtime.
    pub async fn start(name: &str, seed: u8) -> FakeHomeserver {
        let state = Arc::new(FakeState {
            name: name.to_string(),
            key: Mutex::new(key("k1", seed)),
            served: Mutex::new(None),
            received: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let url = format!("http://{}", listener.local_addr().expect("local address"));
        let app_state = Arc::clone(&state);
        let server = HttpServer::new(move || {
            App::new()
                .app_data(web::Data::from(Arc::clone(&app_state)))
                .route("/api/v1/federation/key", web::get().to(serve_key))
                .route("/api/v1/federation/directory", web::post().to(receive_push))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        FakeHomeserver {
            name: name.to_string(),
            url,
            state,
            handle,
        }
    }

    /// Its current signing key.
    pub fn key(&self) -> ServerKeyPair {
        lock(&self.state.key).clone()
    }

    /// Replaces its signing key (the key document follows).
    pub fn set_key(&self, key: ServerKeyPair) {
        *lock(&self.state.key) = key;
    }

    /// Serves `doc` as its key document instead of its own.
    pub fn serve_document(&self, doc: &KeyDocument) {
        *lock(&self.state.served) = Some(serde_json::to_value(doc).expect("key document"));
    }

    /// While down, pushes are answered 503 and not recorded.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Every entry pushed to it so far, in arrival order.
    pub fn received(&self) -> Vec<Value> {
        lock(&self.state.received).clone()
    }

    /// The servers it knows as up, by folding what it received by name (latest `seq` wins).
    pub fn known_up(&self) -> Vec<String> {
        let mut latest: std::collections::BTreeMap<String, (u64, String)> = Default::default();
        for e in self.received() {
            let name = e["server_name"].as_str().expect("server_name").to_string();
            let seq = e["seq"].as_u64().expect("seq");
            let status = e["status"].as_str().expect("status").to_string();
            if latest.get(&name).is_none_or(|(s, _)| *s < seq) {
                latest.insert(name, (seq, status));
            }
        }
        latest
            .into_iter()
            .filter(|(_, (_, status))| status == "up")
            .map(|(name, _)| name)
            .collect()
    }

    /// A registration of this server at its URL, signed by its current key.
    pub fn registration(&self, ts: u64) -> Value {
        registration(&self.name, &self.url, &self.key(), ts)
    }

    /// Registers with `dir`.
    pub async fn register(&self, dir: &Directory) -> Reply {
        dir.api()
            .post("/directory/v1/servers", self.registration(now_ms()))
            .await
    }

    /// A signed request to `dir` (destination [`DIR_NAME`]).
    pub async fn signed(&self, dir: &Directory, method: &str, path: &str, body: &[u8]) -> Reply {
        let (_, reply) = signed_request(dir, &self.name, &self.key(), method, path, body).await;
        reply
    }
}

impl Drop for FakeHomeserver {
    fn drop(&mut self) {
        // Stopping is asynchronous; the runtime ends with the test anyway.
        drop(self.handle.stop(false));
    }
}

async fn serve_key(state: web::Data<FakeState>) -> HttpResponse {
    if let Some(doc) = lock(&state.served).clone() {
        return HttpResponse::Ok().json(doc);
    }
    let key = lock(&state.key).clone();
    let doc = KeyDocument::build_signed(&state.name, &key, &[], now_ms(), 86_400_000)
        .expect("key document");
    HttpResponse::Ok().json(doc)
}

async fn receive_push(state: web::Data<FakeState>, body: web::Bytes) -> HttpResponse {
    if state.down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return HttpResponse::BadRequest().finish();
    };
    let Some(entries) = body["entries"].as_array() else {
        return HttpResponse::BadRequest().finish();
    };
    lock(&state.received).extend(entries.iter().cloned());
    HttpResponse::Ok().json(json!({}))
}
