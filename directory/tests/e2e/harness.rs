//! The test harness: the real `directory` binary on 127.0.0.1:0 with a temporary data
//! directory, fake homeservers served in-process by actix-web on 127.0.0.1:0 (a real
//! self-signed key document, and a push endpoint that records what it receives), and signing
//! helpers. Waits use [`eventually`] with a deadline, never a fixed sleep.

use std::future::Future;
use std::io::{BufRead as _, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpResponse, HttpServer};
use federation_proto::keydoc::KeyDocument;
use federation_proto::signing::{
    sign_json, sign_request, verify_json_signature, verifying_key_from_b64, KeyId, ServerKeyPair,
    VerifyingKey,
};
use serde_json::{json, Value};

/// The directory's name in every test.
pub const DIR_NAME: &str = "dir.test";
/// How long a process may take to print its ready line.
const READY_TIMEOUT: Duration = Duration::from_secs(30);
/// Default deadline of [`eventually`].
pub const DEADLINE: Duration = Duration::from_secs(30);

/// Milliseconds since the unix epoch.
pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

/// Polls `probe` until it returns `Some`, or panics after `within`.
pub async fn eventually<T, F, Fut>(within: Duration, what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = probe().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        actix_web::rt::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A key pair from a seed byte and a key version.
pub fn key(version: &str, seed: u8) -> ServerKeyPair {
    ServerKeyPair::from_seed(KeyId::ed25519(version).unwrap(), [seed; 32])
}

// ---------------------------------------------------------------------------------------------
// The directory process

/// A running `directory` process with its own data directory.
pub struct Directory {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    data: tempfile::TempDir,
    env: Vec<(String, String)>,
    child: Option<Child>,
}

impl Directory {
    /// Starts a directory named [`DIR_NAME`] with extra settings.
    pub fn start(env: &[(&str, &str)]) -> Directory {
        let mut dir = Directory {
            url: String::new(),
            data: tempfile::tempdir().unwrap(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            child: None,
        };
        dir.spawn();
        dir
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_directory"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("PORT", "0")
            .env("BIND", "127.0.0.1")
            .env("DATA_DIR", self.data.path())
            .env("SERVER_NAME", DIR_NAME)
            .env("RUST_LOG", "info,directory=debug")
            .stdin(Stdio::null());
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    fn log_path(&self) -> PathBuf {
        self.data.path().join("directory.log")
    }

    fn spawn(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn directory");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(url) = line.strip_prefix("listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        match rx.recv_timeout(READY_TIMEOUT) {
            Ok(url) => self.url = url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("directory printed no ready line; its log:\n{}", self.log());
            }
        }
        self.child = Some(child);
    }

    /// Kills the process (like a crash) and waits for it.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Kills and starts again on the same data directory (on a new port).
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// Runs an operator command (`directory servers …`) on this directory's data.
    pub fn operator(&self, args: &[&str]) -> Output {
        self.command()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .expect("run directory")
    }

    /// `directory servers list --json`.
    pub fn list(&self) -> Vec<Value> {
        let out = self.operator(&["servers", "list", "--json"]);
        assert!(out.status.success(), "{out:?}");
        serde_json::from_slice(&out.stdout).unwrap()
    }

    /// The process's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// A client for this directory.
    pub fn api(&self) -> Api {
        Api::new(&self.url)
    }

    /// The directory's key document: its name, key id and public key.
    pub async fn key(&self) -> (String, KeyId, VerifyingKey) {
        let doc = self.api().get("/directory/v1/key").await.expect(200);
        let doc = KeyDocument::verify_self_signed_value(&doc, now_ms()).unwrap();
        let (id, key) = doc.verify_keys.iter().next().unwrap();
        (
            doc.server_name.clone(),
            id.clone(),
            verifying_key_from_b64(&key.key).unwrap(),
        )
    }

    /// Every entry, by pulling from 0.
    pub async fn entries(&self) -> Vec<Value> {
        let page = self
            .api()
            .get("/directory/v1/servers?since=0&limit=500")
            .await
            .expect(200);
        page["entries"].as_array().unwrap().clone()
    }
}

impl Drop for Directory {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Panics unless `entry` carries a valid signature by the directory's key.
pub async fn assert_signed_by_directory(dir: &Directory, entry: &Value) {
    let (name, key_id, key) = dir.key().await;
    assert_eq!(name, DIR_NAME);
    verify_json_signature(entry, &name, &key_id, &key)
        .unwrap_or_else(|e| panic!("entry not signed by the directory ({e}): {entry}"));
}

// ---------------------------------------------------------------------------------------------
// HTTP

/// Status and JSON body of an answer.
#[derive(Debug, Clone)]
pub struct Reply {
    /// HTTP status.
    pub status: u16,
    /// Parsed body (`Null` if not JSON).
    pub body: Value,
}

impl Reply {
    /// Panics unless the status is `status`; returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(self.status, status, "unexpected answer: {}", self.body);
        self.body
    }

    /// Panics unless this is an error with this status and code (and a message).
    #[track_caller]
    pub fn expect_error(&self, status: u16, code: &str) {
        assert_eq!(
            (
                self.status,
                self.body["error"]["code"].as_str().unwrap_or("")
            ),
            (status, code),
            "unexpected answer: {}",
            self.body
        );
        assert!(self.body["error"]["message"].is_string(), "{}", self.body);
    }
}

/// A JSON client bound to one base URL.
pub struct Api {
    client: awc::Client,
    base: String,
}

impl Api {
    /// A client for `base`.
    pub fn new(base: &str) -> Api {
        Api {
            client: awc::Client::builder()
                .timeout(Duration::from_secs(30))
                .disable_redirects()
                .finish(),
            base: base.to_string(),
        }
    }

    /// Any request with raw body bytes and extra headers.
    pub async fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Reply {
        let method = awc::http::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .client
            .request(method, format!("{}{path}", self.base))
            .insert_header(("Content-Type", "application/json"));
        for (name, value) in headers {
            req = req.insert_header((*name, value.as_str()));
        }
        let mut res = req
            .send_body(body)
            .await
            .unwrap_or_else(|e| panic!("{path}: {e}"));
        let bytes = res.body().limit(16 * 1024 * 1024).await.unwrap();
        Reply {
            status: res.status().as_u16(),
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        }
    }

    /// `GET`.
    pub async fn get(&self, path: &str) -> Reply {
        self.send("GET", path, &[], Vec::new()).await
    }

    /// `POST` a JSON value.
    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send("POST", path, &[], serde_json::to_vec(body).unwrap())
            .await
    }
}

// ---------------------------------------------------------------------------------------------
// Fake homeservers

struct FakeState {
    name: String,
    key: Mutex<ServerKeyPair>,
    /// A document served instead of our own, when set.
    served: Mutex<Option<Value>>,
    received: Mutex<Vec<Value>>,
    down: AtomicBool,
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
    /// Starts a fake homeserver named `name` with the key of `seed`.
    pub async fn start(name: &str, seed: u8) -> FakeHomeserver {
        let state = Arc::new(FakeState {
            name: name.to_string(),
            key: Mutex::new(key("k1", seed)),
            served: Mutex::new(None),
            received: Mutex::new(Vec::new()),
            down: AtomicBool::new(false),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
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
        .unwrap()
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
        self.state.key.lock().unwrap().clone()
    }

    /// Replaces its signing key (the key document follows).
    pub fn set_key(&self, key: ServerKeyPair) {
        *self.state.key.lock().unwrap() = key;
    }

    /// Serves `doc` as its key document instead of its own.
    pub fn serve_document(&self, doc: &KeyDocument) {
        *self.state.served.lock().unwrap() = Some(serde_json::to_value(doc).unwrap());
    }

    /// While down, pushes are answered 503 and not recorded.
    pub fn set_down(&self, down: bool) {
        self.state.down.store(down, Ordering::SeqCst);
    }

    /// Every entry pushed to it so far, in arrival order.
    pub fn received(&self) -> Vec<Value> {
        self.state.received.lock().unwrap().clone()
    }

    /// The servers it knows as up, by folding what it received by name (latest `seq` wins).
    pub fn known_up(&self) -> Vec<String> {
        let mut latest: std::collections::BTreeMap<String, (u64, String)> = Default::default();
        for e in self.received() {
            let name = e["server_name"].as_str().unwrap().to_string();
            let seq = e["seq"].as_u64().unwrap();
            let status = e["status"].as_str().unwrap().to_string();
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
            .post("/directory/v1/servers", &self.registration(now_ms()))
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
    if let Some(doc) = state.served.lock().unwrap().clone() {
        return HttpResponse::Ok().json(doc);
    }
    let key = state.key.lock().unwrap().clone();
    let doc = KeyDocument::build_signed(&state.name, &key, &[], now_ms(), 86_400_000).unwrap();
    HttpResponse::Ok().json(doc)
}

async fn receive_push(state: web::Data<FakeState>, body: web::Bytes) -> HttpResponse {
    if state.down.load(Ordering::SeqCst) {
        return HttpResponse::ServiceUnavailable().finish();
    }
    let body: Value = serde_json::from_slice(&body).unwrap();
    let entries = body["entries"].as_array().unwrap().clone();
    state.received.lock().unwrap().extend(entries);
    HttpResponse::Ok().json(json!({}))
}

// ---------------------------------------------------------------------------------------------
// Signing

/// A registration body signed by `key`.
pub fn registration(name: &str, url: &str, key: &ServerKeyPair, ts: u64) -> Value {
    let mut body = json!({
        "server_name": name,
        "url": url,
        "verify_keys": {key.key_id().as_str(): {"key": key.public_key_b64()}},
        "ts": ts,
    });
    sign_json(&mut body, name, key).unwrap();
    body
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
    let auth = sign_request(method, path, origin, DIR_NAME, now_ms(), body, key).unwrap();
    let header = auth.to_header();
    let reply = dir
        .api()
        .send(
            method,
            path,
            &[("Authorization", header.clone())],
            body.to_vec(),
        )
        .await;
    (header, reply)
}
