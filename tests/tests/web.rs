//! The web client (`docs/web.md`): how the homeserver serves it (CSP, ETag/304, gzip,
//! nosniff), the browser's cookie session with its CSRF and Origin checks (bearer tokens
//! unchanged), and the client itself driven in Debian's headless Chromium by Playwright
//! (`tests/web/test_web.py`, started here against servers the harness runs).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc::RecvTimeoutError;
use std::time::{Duration, Instant};

use hearth_tests::api::{Api, FullReply, User};
use hearth_tests::process::{line_channel, wait_bounded, ServerProcess};
use serde_json::{json, Value};

fn header_all(reply: &FullReply, name: &str) -> Vec<String> {
    reply
        .headers
        .get_all(name)
        .filter_map(|v| v.to_str().ok().map(str::to_string))
        .collect()
}

#[actix_web::test]
async fn the_client_is_served_with_strict_headers_etags_and_gzip() {
    let hs = ServerProcess::start("web.test");
    let api = Api::new(&hs.url);

    let page = api.exchange("GET", "/", &[], None).await;
    assert_eq!(page.reply.status, 200);
    assert_eq!(
        page.header("content-type"),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").expect("a CSP");
    for part in [
        "default-src 'self'",
        "script-src 'self'",
        "object-src 'none'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
    ] {
        assert!(csp.contains(part), "{part} missing from {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let (status, html) = api.get_text("/").await;
    assert_eq!(status, 200);
    assert!(html.contains(r#"<script type="module" src="/web/js/app.js">"#));
    assert!(!html.contains("<script>"), "no inline script");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no other host"
    );

    // ETag and 304.
    let etag = page.header("etag").expect("an ETag").to_string();
    let again = api
        .exchange("GET", "/", &[("If-None-Match", &etag)], None)
        .await;
    assert_eq!(again.reply.status, 304);
    assert_eq!(again.header("etag"), Some(etag.as_str()));
    let other = api
        .exchange("GET", "/", &[("If-None-Match", "\"other\"")], None)
        .await;
    assert_eq!(other.reply.status, 200);

    // Assets: types, gzip when asked for, the same ETag either way.
    let js = api.exchange("GET", "/web/js/app.js", &[], None).await;
    assert_eq!(js.reply.status, 200);
    assert_eq!(
        js.header("content-type"),
        Some("text/javascript; charset=utf-8")
    );
    assert!(js.header("content-encoding").is_none());
    let (_, plain) = api.get_text("/web/js/app.js").await;
    let gz = api
        .exchange(
            "GET",
            "/web/js/app.js",
            &[("Accept-Encoding", "gzip, deflate")],
            None,
        )
        .await;
    assert_eq!(gz.header("content-encoding"), Some("gzip"));
    assert_eq!(gz.header("etag"), js.header("etag"));
    assert!(gz
        .header("vary")
        .is_some_and(|v| v.contains("Accept-Encoding")));
    let gz_len: usize = gz
        .header("content-length")
        .and_then(|v| v.parse().ok())
        .expect("a length");
    assert!(gz_len * 2 < plain.len(), "gzip {gz_len} of {}", plain.len());
    let css = api.exchange("GET", "/web/app.css", &[], None).await;
    assert_eq!(css.header("content-type"), Some("text/css; charset=utf-8"));
    assert!(css.header("content-security-policy").is_some());

    // Unknown files and escapes are JSON 404s; the API is untouched by the prefix.
    for path in [
        "/web/nope.js",
        "/web/../Cargo.toml",
        "/web/js/../../src/main.rs",
    ] {
        let reply = api.get(path).await;
        assert_eq!(reply.status, 404, "{path}");
    }
    api.get("/.well-known/healthcheck.json").await.expect(200);
}

/// Registers through the browser's endpoint; returns (cookie header, csrf value).
async fn browser_register(api: &Api, nick: &str) -> (String, String) {
    let reply = api
        .exchange(
            "POST",
            "/api/v1/web/register",
            &[(
                "User-Agent",
                "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36",
            )],
            Some(serde_json::to_vec(&json!({"nick": nick, "password": "correct horse"})).unwrap()),
        )
        .await;
    assert_eq!(reply.reply.status, 201, "{}", reply.reply.body);
    assert!(
        reply.reply.body.get("token").is_none(),
        "no token in the body"
    );
    cookies_of(&reply)
}

fn cookies_of(reply: &FullReply) -> (String, String) {
    let set = header_all(reply, "set-cookie");
    let session = set
        .iter()
        .find(|c| c.starts_with("hearth_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Strict"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    let csrf = set
        .iter()
        .find(|c| c.starts_with("hearth_csrf="))
        .expect("a CSRF cookie");
    assert!(!csrf.contains("HttpOnly"), "the page reads it: {csrf}");
    let value = |c: &str| c.split(';').next().unwrap().to_string();
    let csrf_value = value(csrf)["hearth_csrf=".len()..].to_string();
    assert_eq!(reply.reply.body["csrf_token"], csrf_value.as_str());
    (format!("{}; {}", value(session), value(csrf)), csrf_value)
}

#[actix_web::test]
async fn a_browser_session_is_a_cookie_with_csrf_and_origin_checks() {
    let hs = ServerProcess::start("web.test");
    let api = Api::new(&hs.url);
    let host = hs.url.trim_start_matches("http://").to_string();
    let own_origin = hs.url.clone();
    let (cookie, csrf) = browser_register(&api, "wanda").await;
    let body = |v: Value| Some(serde_json::to_vec(&v).unwrap());

    // A GET with the cookie alone is served.
    let me = api
        .exchange("GET", "/api/v1/users/me", &[("Cookie", &cookie)], None)
        .await;
    assert_eq!(me.reply.status, 200);
    assert_eq!(me.reply.body["nick"], "wanda");

    // A change without the CSRF header, with a wrong one, or from another site is refused.
    let send = json!({"to": "#webroom", "body": "hi"});
    api.exchange(
        "POST",
        "/api/v1/channels/join",
        &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
        body(json!({"channel": "#webroom"})),
    )
    .await
    .reply
    .expect(200);
    for headers in [
        vec![("Cookie", cookie.as_str())],
        vec![("Cookie", cookie.as_str()), ("X-CSRF-Token", "forged")],
    ] {
        let refused = api
            .exchange("POST", "/api/v1/messages", &headers, body(send.clone()))
            .await;
        refused.reply.expect_error(403, "csrf_failed");
    }
    api.exchange(
        "POST",
        "/api/v1/messages",
        &[
            ("Cookie", &cookie),
            ("X-CSRF-Token", &csrf),
            ("Origin", "http://evil.example"),
        ],
        body(send.clone()),
    )
    .await
    .reply
    .expect_error(403, "cross_origin");
    let sent = api
        .exchange(
            "POST",
            "/api/v1/messages",
            &[
                ("Cookie", &cookie),
                ("X-CSRF-Token", &csrf),
                ("Origin", &own_origin),
            ],
            body(send.clone()),
        )
        .await;
    assert_eq!(sent.reply.status, 201, "{}", sent.reply.body);

    // Logging in from another site's page is refused (login CSRF); from ours it names the
    // device after the browser.
    let login = json!({"nick": "wanda", "password": "correct horse"});
    api.exchange(
        "POST",
        "/api/v1/web/login",
        &[("Origin", "http://evil.example")],
        body(login.clone()),
    )
    .await
    .reply
    .expect_error(403, "cross_origin");
    let second = api
        .exchange(
            "POST",
            "/api/v1/web/login",
            &[
                ("Origin", &own_origin),
                (
                    "User-Agent",
                    "Mozilla/5.0 (Windows NT 10.0; rv:140.0) Gecko/20100101 Firefox/140.0",
                ),
            ],
            body(login),
        )
        .await;
    assert_eq!(second.reply.status, 200, "{}", second.reply.body);
    let (cookie2, csrf2) = cookies_of(&second);
    assert_ne!(csrf, csrf2, "each browser is its own device");

    // The WebSocket takes the cookie only from this host's pages.
    let refused = api
        .open_ws_with_headers(
            "/api/v1/ws",
            &[("Cookie", &cookie), ("Origin", "http://evil.example")],
        )
        .await;
    assert_eq!(refused.err(), Some(403));
    let refused = api
        .open_ws_with_headers("/api/v1/ws", &[("Cookie", &cookie)])
        .await;
    assert_eq!(refused.err(), Some(403), "no Origin, no cookie");
    let mut socket = api
        .open_ws_with_headers(
            "/api/v1/ws",
            &[("Cookie", &cookie), ("Origin", &format!("http://{host}"))],
        )
        .await
        .expect("an upgrade");
    socket.next_of("ready", Duration::from_secs(10)).await;

    // Logout needs the CSRF header, clears the cookies, and ends that device only.
    api.exchange("POST", "/api/v1/web/logout", &[("Cookie", &cookie)], None)
        .await
        .reply
        .expect_error(403, "csrf_failed");
    let out = api
        .exchange(
            "POST",
            "/api/v1/web/logout",
            &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)],
            None,
        )
        .await;
    assert_eq!(out.reply.status, 204);
    let cleared = header_all(&out, "set-cookie");
    assert!(
        cleared.iter().all(|c| c.contains("Max-Age=0")),
        "{cleared:?}"
    );
    api.exchange("GET", "/api/v1/users/me", &[("Cookie", &cookie)], None)
        .await
        .reply
        .expect_error(401, "invalid_token");
    api.exchange("GET", "/api/v1/users/me", &[("Cookie", &cookie2)], None)
        .await
        .reply
        .expect(200);
    let _ = csrf2;
}

#[actix_web::test]
async fn bearer_tokens_work_as_before_beside_cookies() {
    let hs = ServerProcess::start("web.test");
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#plain").await;
    // No CSRF header needed with a bearer token, even with a stale cookie beside it.
    let sent = alice
        .api
        .exchange(
            "POST",
            "/api/v1/messages",
            &[("Cookie", "hearth_session=stale; hearth_csrf=x")],
            Some(serde_json::to_vec(&json!({"to": "#plain", "body": "bearer"})).unwrap()),
        )
        .await;
    assert_eq!(sent.reply.status, 201, "{}", sent.reply.body);
    // The plain login still answers a token in its body and sets no cookie.
    let login = Api::new(&hs.url)
        .exchange(
            "POST",
            "/api/v1/login",
            &[],
            Some(
                serde_json::to_vec(
                    &json!({"nick": "alice", "password": hearth_tests::api::PASSWORD}),
                )
                .unwrap(),
            ),
        )
        .await;
    assert!(
        login.reply.body["token"].is_string(),
        "{}",
        login.reply.body
    );
    assert!(header_all(&login, "set-cookie").is_empty());
    // Without any credentials: the usual 401.
    Api::new(&hs.url)
        .get("/api/v1/users/me")
        .await
        .expect_error(401, "missing_token");
}

/// Whether Playwright and Debian's Chromium are here. Under `CI=true` their absence fails the
/// test; elsewhere it is skipped with a note.
fn browser_available() -> bool {
    let chromium = std::path::Path::new(&chromium_path()).exists();
    let playwright = Command::new("python3")
        .args(["-c", "import playwright.sync_api"])
        .status()
        .is_ok_and(|s| s.success());
    if chromium && playwright {
        return true;
    }
    let missing = format!(
        "the browser tests need Debian's chromium ({}) and the PyPI playwright package (chromium: {chromium}, playwright: {playwright})",
        chromium_path()
    );
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{missing}"
    );
    eprintln!("skipped: {missing}");
    false
}

fn chromium_path() -> String {
    std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_string())
}

#[actix_web::test]
async fn the_client_works_in_headless_chromium() {
    if !browser_available() {
        return;
    }
    let mut hs = ServerProcess::start("web.test");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/test_web.py");
    let shots = match std::env::var("HEARTH_WEB_SCREENSHOTS") {
        Ok(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => std::env::temp_dir().join(format!("hearth-web-shots-{}", std::process::id())),
    };
    let mut child = Command::new("python3")
        .arg(&script)
        .arg("--url")
        .arg(&hs.url)
        .arg("--chromium")
        .arg(chromium_path())
        .arg("--screenshots")
        .arg(&shots)
        .arg("--restart")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let pid = child.id();
    // The script asks for one restart of the server (the harness alone runs servers): it prints
    // RESTART and waits for "restarted" on its standard input.
    let mut stdin = child.stdin.take().expect("stdin");
    let lines = line_channel(child.stdout.take().expect("stdout"));
    let deadline = Instant::now() + Duration::from_secs(300);
    let mut stdout = Vec::new();
    loop {
        match lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => {
                if line == "RESTART" {
                    hs.restart();
                    writeln!(stdin, "restarted").expect("write to the script");
                    stdin.flush().expect("flush");
                }
                stdout.push(line);
            }
            Err(RecvTimeoutError::Disconnected) => break,
            Err(RecvTimeoutError::Timeout) => {
                let _ = Command::new("kill").args(["-9", &pid.to_string()]).status();
                panic!(
                    "the browser test did not finish in time\n{}",
                    stdout.join("\n")
                );
            }
        }
    }
    let out = wait_bounded(child, Duration::from_secs(30));
    let stdout = stdout.join("\n");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser test failed\n--- stdout\n{stdout}\n--- stderr\n{stderr}\n--- server log\n{}",
        hs.log()
    );
    println!("{stdout}");
}

#[actix_web::test]
async fn the_client_chats_across_servers_in_chromium() {
    if !browser_available() {
        return;
    }
    let (_dir, servers) = hearth_tests::network::federated(&["hs1.web.test", "hs2.web.test"]).await;
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("web/test_web.py");
    let child = Command::new("python3")
        .arg(&script)
        .args(["--url", &servers[0].url, "--remote-url", &servers[1].url])
        .args(["--remote-names", &servers[0].name, &servers[1].name])
        .args(["--chromium", &chromium_path()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python3");
    let out = wait_bounded(child, Duration::from_secs(180));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the browser test failed\n--- stdout\n{stdout}\n--- stderr\n{}\n--- logs\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        servers[0].log(),
        servers[1].log()
    );
    println!("{stdout}");
}
