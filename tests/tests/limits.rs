//! Limits of a server on the internet, against the real binary: each rate limit's `429` with
//! `Retry-After` and its recovery, a login flood that leaves the server healthy, CORS allowed
//! and refused, and `METRICS_TOKEN`.
//!
//! The harness starts homeservers with every rate limit off; each test here sets the ones it
//! checks. No test asserts a duration: refusals are provoked by bursts, recoveries are awaited
//! with deadline-bounded polls.

use std::cell::Cell;
use std::rc::Rc;
use std::time::Duration;

use hearth_tests::api::{Api, FullReply, User};
use hearth_tests::eventually;
use hearth_tests::network::{federated_with, key_of, now_ms};
use hearth_tests::process::{Homeserver, ServerProcess};
use serde_json::json;

/// Longest wait for a limit to let a request through again.
const RECOVERY: Duration = Duration::from_secs(20);
/// Requests a test makes at most while waiting for a refusal.
const MAX_TRIES: usize = 30;

/// Asserts a `429 rate_limited` with a `Retry-After` of whole seconds, at least 1.
#[track_caller]
fn assert_rate_limited(answer: &FullReply) {
    answer.reply.expect_error(429, "rate_limited");
    let retry_after = answer
        .header("retry-after")
        .unwrap_or_else(|| panic!("429 without Retry-After: {:?}", answer.headers));
    let secs: u64 = retry_after
        .parse()
        .unwrap_or_else(|_| panic!("Retry-After {retry_after:?} is not whole seconds"));
    assert!(secs >= 1, "Retry-After {secs}");
}

async fn send(api: &Api, to: &str, body: String) -> FullReply {
    let body = serde_json::to_vec(&json!({"to": to, "body": body})).unwrap();
    api.exchange("POST", "/api/v1/messages", &[], Some(body))
        .await
}

async fn login(api: &Api, nick: &str, password: &str, forwarded_for: Option<&str>) -> FullReply {
    let body = serde_json::to_vec(&json!({"nick": nick, "password": password})).unwrap();
    let headers: Vec<(&str, &str)> = forwarded_for
        .map(|ip| ("X-Forwarded-For", ip))
        .into_iter()
        .collect();
    api.exchange("POST", "/api/v1/login", &headers, Some(body))
        .await
}

/// Calls `request` until it answers 429 (at most [`MAX_TRIES`] times) and returns that answer
/// and how many were let through before it.
async fn until_refused<F, Fut>(mut request: F) -> (FullReply, usize)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = FullReply>,
{
    for n in 0..MAX_TRIES {
        let answer = request(n).await;
        if answer.reply.status == 429 {
            return (answer, n);
        }
    }
    panic!("no 429 after {MAX_TRIES} requests");
}

#[actix_web::test]
async fn sends_over_the_limit_are_refused_until_the_budget_refills() {
    let hs = Homeserver::start_with(
        "hs1.test",
        &[
            ("RATE_LIMIT_SEND", "3/3s"),
            ("RATE_LIMIT_SEND_OVERRIDES", "bot=off"),
        ],
    );
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let bot = User::register(&hs.url, "bot").await;
    for user in [&alice, &bob, &bot] {
        user.join("#general").await;
    }

    let (refused, let_through) =
        until_refused(|n| send(&alice.api, "#general", format!("burst {n}"))).await;
    assert_rate_limited(&refused);
    assert!(let_through >= 3, "the burst of 3 goes through first");

    // Budgets are per user: bob still has his; the bot's override lifts its limit.
    send(&bob.api, "#general", "hi".into())
        .await
        .reply
        .expect(201);
    for n in 0..20 {
        send(&bot.api, "#general", format!("bot {n}"))
            .await
            .reply
            .expect(201);
    }

    eventually(RECOVERY, "alice's send budget to refill", || async {
        (send(&alice.api, "#general", "again".into())
            .await
            .reply
            .status
            == 201)
            .then_some(())
    })
    .await;
}

#[actix_web::test]
async fn logins_over_the_limit_are_refused_until_the_budget_refills() {
    let hs = Homeserver::start_with("hs1.test", &[("RATE_LIMIT_LOGIN", "3/3s")]);
    let api = Api::new(&hs.url);
    User::register(&hs.url, "alice").await;

    // Wrong passwords count too; the limit answers before any hash is run.
    let (refused, _) = until_refused(|_| login(&api, "alice", "wrong password", None)).await;
    assert_rate_limited(&refused);

    eventually(RECOVERY, "the login budget to refill", || async {
        let status = login(&api, "alice", hearth_tests::api::PASSWORD, None)
            .await
            .reply
            .status;
        (status == 200).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn registrations_share_the_login_budget_of_the_address() {
    // A window long enough that nothing refills during the test.
    let hs = Homeserver::start_with("hs1.test", &[("RATE_LIMIT_LOGIN", "2/1h")]);
    let api = Api::new(&hs.url);
    let (refused, _) = until_refused(|_| login(&api, "alice", "wrong password", None)).await;
    assert_rate_limited(&refused);
    let register = serde_json::to_vec(&json!({"nick": "bob", "password": "password1"})).unwrap();
    let answer = api
        .exchange("POST", "/api/v1/register", &[], Some(register))
        .await;
    assert_rate_limited(&answer);
    // Without TRUSTED_PROXIES a forwarded address changes nothing.
    assert_rate_limited(&login(&api, "alice", "wrong password", Some("198.51.100.7")).await);
}

#[actix_web::test]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_login_budget() {
    let hs = Homeserver::start_with(
        "hs1.test",
        &[
            ("RATE_LIMIT_LOGIN", "2/1h"),
            ("TRUSTED_PROXIES", "127.0.0.1"),
        ],
    );
    let api = Api::new(&hs.url);
    let (refused, _) =
        until_refused(|_| login(&api, "alice", "wrong password", Some("198.51.100.1"))).await;
    assert_rate_limited(&refused);
    // Another client behind the same proxy is not refused; a client's own claim to the left of
    // what the proxy appended is ignored.
    login(&api, "alice", "wrong password", Some("198.51.100.2"))
        .await
        .reply
        .expect_error(401, "invalid_credentials");
    assert_rate_limited(
        &login(
            &api,
            "alice",
            "wrong password",
            Some("203.0.113.5, 198.51.100.1"),
        )
        .await,
    );
}

#[actix_web::test]
async fn a_peer_over_the_federation_limit_is_refused_after_its_signature_checks_out() {
    let (_dir, servers) = federated_with(&[
        ("hs1.test", vec![]),
        ("hs2.test", vec![("RATE_LIMIT_FEDERATION", "3/3s")]),
    ])
    .await;
    let [hs1, hs2] = <[ServerProcess; 2]>::try_from(servers).ok().unwrap();
    User::register(&hs2.url, "bob").await;
    let key = key_of(&hs1);
    let api = Api::new(&hs2.url);
    // Each request signed afresh (a query makes each signature distinct: no replay).
    let signed_get = |n: usize| {
        let path = format!("/api/v1/federation/users/bob?n={n}-{}", now_ms());
        let auth = federation_proto::signing::sign_request(
            "GET",
            &path,
            &hs1.name,
            &hs2.name,
            now_ms(),
            &[],
            &key,
        )
        .unwrap()
        .to_header();
        let api = api.clone();
        async move {
            api.exchange("GET", &path, &[("Authorization", auth.as_str())], None)
                .await
        }
    };

    let (refused, _) = until_refused(signed_get).await;
    assert_rate_limited(&refused);
    // The limit is counted per verified origin: an unsigned request is refused for what it is.
    api.exchange("GET", "/api/v1/federation/users/bob", &[], None)
        .await
        .reply
        .expect_error(401, "missing_signature");

    eventually(RECOVERY, "hs1's federation budget on hs2 to refill", || {
        let request = signed_get(MAX_TRIES + 1);
        async move { (request.await.reply.status == 200).then_some(()) }
    })
    .await;
}

#[actix_web::test]
async fn a_login_flood_leaves_the_server_healthy() {
    // RATE_LIMIT_LOGIN is off (the harness's default): only the hashing bound holds.
    let hs = Homeserver::start("hs1.test");
    User::register(&hs.url, "alice").await;
    const FLOOD: usize = 50;
    let done = Rc::new(Cell::new(0usize));
    let mut logins = Vec::new();
    for n in 0..FLOOD {
        let api = Api::new(&hs.url);
        let done = Rc::clone(&done);
        // Right and wrong passwords, and nicks that do not exist.
        let (nick, password) = match n % 3 {
            0 => ("alice", hearth_tests::api::PASSWORD.to_string()),
            1 => ("alice", format!("wrong {n}")),
            _ => ("nobody", format!("guess {n}")),
        };
        logins.push(actix_web::rt::spawn(async move {
            let status = login(&api, nick, &password, None).await.reply.status;
            done.set(done.get() + 1);
            status
        }));
    }
    let health = Api::new(&hs.url);
    let mut checks = 0;
    while done.get() < FLOOD || checks == 0 {
        health
            .get("/.well-known/healthcheck.json")
            .await
            .expect(200);
        checks += 1;
        actix_web::rt::time::sleep(Duration::from_millis(20)).await;
    }
    let mut statuses = std::collections::BTreeMap::<u16, usize>::new();
    for login in logins {
        let status = login.await.unwrap();
        assert!(
            [200, 401, 429, 503].contains(&status),
            "a login in the flood answered {status}"
        );
        *statuses.entry(status).or_default() += 1;
    }
    eprintln!("login flood: {statuses:?} answers, {checks} health checks meanwhile");
    let served = statuses.get(&200).unwrap_or(&0) + statuses.get(&401).unwrap_or(&0);
    assert!(
        served > 0,
        "some logins of the flood were served: {statuses:?}"
    );
    // Afterwards a login works as ever.
    User::login(&hs.url, "alice").await;
}

#[actix_web::test]
async fn cors_allows_listed_origins_only() {
    let hs = Homeserver::start_with(
        "hs1.test",
        &[(
            "CORS_ORIGINS",
            "https://chat.example, http://localhost:3000",
        )],
    );
    let api = Api::new(&hs.url);
    let preflight = |origin: &'static str| {
        let api = api.clone();
        async move {
            api.exchange(
                "OPTIONS",
                "/api/v1/messages",
                &[
                    ("Origin", origin),
                    ("Access-Control-Request-Method", "POST"),
                    (
                        "Access-Control-Request-Headers",
                        "authorization, content-type",
                    ),
                ],
                None,
            )
            .await
        }
    };

    let allowed = preflight("https://chat.example").await;
    assert!((200..300).contains(&allowed.reply.status), "{allowed:?}");
    assert_eq!(
        allowed.header("access-control-allow-origin"),
        Some("https://chat.example")
    );
    let methods = allowed
        .header("access-control-allow-methods")
        .unwrap_or_default()
        .to_ascii_uppercase();
    for method in ["GET", "POST", "PUT", "PATCH", "DELETE"] {
        assert!(methods.contains(method), "{method} in {methods}");
    }
    let headers = allowed
        .header("access-control-allow-headers")
        .unwrap_or_default()
        .to_ascii_lowercase();
    assert!(headers.contains("authorization") && headers.contains("content-type"));
    // The real request from that origin carries the allowance too.
    let real = api
        .exchange(
            "GET",
            "/api/v1/server",
            &[("Origin", "http://localhost:3000")],
            None,
        )
        .await;
    assert_eq!(real.reply.status, 200);
    assert_eq!(
        real.header("access-control-allow-origin"),
        Some("http://localhost:3000")
    );

    // Any other origin gets no allowance, on the preflight or the request.
    let refused = preflight("https://evil.example").await;
    assert_eq!(refused.header("access-control-allow-origin"), None);
    let real = api
        .exchange(
            "GET",
            "/api/v1/server",
            &[("Origin", "https://evil.example")],
            None,
        )
        .await;
    assert_eq!(real.header("access-control-allow-origin"), None);

    // Without CORS_ORIGINS (the default) no origin is allowed.
    let plain = Homeserver::start("hs2.test");
    let answer = Api::new(&plain.url)
        .exchange(
            "OPTIONS",
            "/api/v1/messages",
            &[
                ("Origin", "https://chat.example"),
                ("Access-Control-Request-Method", "POST"),
            ],
            None,
        )
        .await;
    assert_eq!(answer.header("access-control-allow-origin"), None);
}

#[actix_web::test]
async fn metrics_need_the_token_when_one_is_set() {
    let hs = Homeserver::start_with("hs1.test", &[("METRICS_TOKEN", "s3cret-token")]);
    let api = Api::new(&hs.url);
    api.get("/metrics").await.expect_error(401, "invalid_token");
    api.with_token("wrong")
        .get("/metrics")
        .await
        .expect_error(401, "invalid_token");
    let (status, text) = api.with_token("s3cret-token").get_text("/metrics").await;
    assert_eq!(status, 200);
    assert!(text.contains("# TYPE"), "{text}");
    for name in [
        "hearth_rate_limited_total{limit=\"send\"}",
        "hearth_password_hash_busy_total",
    ] {
        assert!(text.contains(name), "{name} in {text}");
    }

    // Unset (the default), /metrics stays open.
    let open = Homeserver::start("hs2.test");
    let (status, _) = Api::new(&open.url).get_text("/metrics").await;
    assert_eq!(status, 200);
}
