//! HTTPS in and out (issue 15): homeservers and the directory serving HTTPS with certificates
//! of a private CA (`TLS_CERT`, `TLS_KEY`) and trusting it (`EXTRA_CA_FILE`); federation, the
//! directory link and the `hearth` client over https; certificates that do not verify are
//! refused, with the reason in `GET /api/v1/federation/status`; bad TLS settings stop the
//! start.

use std::time::Duration;

use hearth_tests::api::{Api, User};
use hearth_tests::cli::Hearth;
use hearth_tests::eventually;
use hearth_tests::network::{
    directory_key, start_directory_with, start_homeserver_with, wait_for_peers,
};
use hearth_tests::process::{start_failing, ServerProcess};
use hearth_tests::tls::{test_ca, TestCa, TestCert};
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

async fn status(hs: &ServerProcess) -> Value {
    Api::new(&hs.url)
        .get("/api/v1/federation/status")
        .await
        .expect(200)
}

fn assert_https(server: &ServerProcess) {
    assert!(
        server.url.starts_with("https://127.0.0.1:"),
        "{} is not served over https: {}",
        server.name,
        server.url
    );
}

/// Waits until `hs`'s federation status satisfies `pick` (which returns what it found).
async fn status_shows(
    hs: &ServerProcess,
    what: &str,
    pick: impl Fn(&Value) -> Option<String>,
) -> String {
    eventually(WAIT, what, || async { pick(&status(hs).await) }).await
}

#[actix_web::test]
async fn two_homeservers_and_a_directory_federate_over_https() {
    let ca = test_ca();
    let (dir_cert, cert1, cert2) = (ca.issue(), ca.issue(), ca.issue());
    let dir = start_directory_with(&dir_cert.env());
    assert_https(&dir);
    let key = directory_key(&dir).await;
    let hs1 = start_homeserver_with("hs1.test", &dir, &key, &cert1.env());
    let hs2 = start_homeserver_with("hs2.test", &dir, &key, &cert2.env());
    assert_https(&hs1);
    assert_https(&hs2);
    wait_for_peers(&hs1, &["hs2.test"]).await;
    wait_for_peers(&hs2, &["hs1.test"]).await;

    // Registered with their https URLs, and the directory link is healthy.
    let st = status(&hs1).await;
    let hs2_entry = st["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .find(|p| p["server_name"] == "hs2.test")
        .expect("hs2 listed")
        .clone();
    assert_eq!(hs2_entry["url"], hs2.url.as_str());
    assert_eq!(st["directory"]["registered"], true, "{st}");
    // The directory pushed both entries to both over https (`directory servers list`).
    eventually(WAIT, "the directory's pushes", || async {
        let out = dir.run(&["servers", "list", "--json"]);
        let list: Value = serde_json::from_slice(&out.stdout).expect("servers list --json");
        let servers = list.as_array()?;
        let caught_up = servers.len() == 2
            && servers.iter().all(|s| {
                s["url"].as_str().is_some_and(|u| u.starts_with("https://"))
                    && s["acked_seq"] == 2
                    && s["last_error"].is_null()
            });
        caught_up.then_some(())
    })
    .await;

    // A direct message crosses.
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let mut bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    alice.say("bob@hs2.test", "hello over tls").await;
    let got = bob
        .wait_for(&mut bob_cursor, "the DM", |e| e["body"] == "hello over tls")
        .await;
    assert_eq!(got["from"], "alice@hs1.test");

    // Bob joins a channel hosted on hs1 and speaks in it; Alice hears him.
    alice.join("#tls").await;
    let mut alice_cursor = alice.sync(None, 0).await["next"].as_i64().unwrap();
    bob.join("#tls@hs1.test").await;
    bob.say("#tls@hs1.test", "from hs2 via https").await;
    let heard = alice
        .wait_for(&mut alice_cursor, "bob's message", |e| {
            e["body"] == "from hs2 via https"
        })
        .await;
    assert_eq!(heard["from"], "bob@hs2.test");
    assert_eq!(heard["to"], "#tls@hs1.test");
    assert!(status(&hs2).await["peers"][0]["last_error"].is_null());

    // A stream over TLS whose client hangs up is let go of (the hang-up check sees the TCP
    // socket under the TLS stream).
    let metrics = Api::new(&hs1.url);
    let stream = alice.api.open_stream("/api/v1/messages/stream", &[]).await;
    metrics.streams_open(1).await;
    drop(stream);
    metrics.streams_open(0).await;
}

#[actix_web::test]
async fn certificates_that_do_not_verify_are_refused_and_the_reason_shows() {
    let ca = test_ca();
    let stranger_ca = TestCa::new("Someone else's CA");
    let (dir_cert, cert1) = (ca.issue(), ca.issue());
    // The directory trusts both CAs (a bundle of several certificates), so it accepts hs3,
    // whose certificate hs1 does not trust.
    let both = dir_cert.add_file("both.pem", &format!("{}{}", ca.pem(), stranger_ca.pem()));
    let mut dir_env = dir_cert.env();
    dir_env.retain(|(k, _)| *k != "EXTRA_CA_FILE");
    dir_env.push(("EXTRA_CA_FILE", &both));
    let dir = start_directory_with(&dir_env);
    let key = directory_key(&dir).await;
    let hs1 = start_homeserver_with("hs1.test", &dir, &key, &cert1.env());

    // hs3: a certificate of another CA (it trusts ours, so it reaches hs1 and the directory).
    let cert3 = stranger_ca.issue();
    let hs3_env = [
        ("TLS_CERT", cert3.cert()),
        ("TLS_KEY", cert3.key()),
        ("EXTRA_CA_FILE", cert1.ca()),
    ];
    let _hs3 = start_homeserver_with("hs3.test", &dir, &key, &hs3_env);
    wait_for_peers(&hs1, &["hs3.test"]).await;
    let alice = User::register(&hs1.url, "alice").await;
    alice.say("carol@hs3.test", "never delivered").await;
    let error = status_shows(&hs1, "hs3's delivery error", |st| {
        let peer = st["peers"]
            .as_array()?
            .iter()
            .find(|p| p["server_name"] == "hs3.test")?;
        assert_eq!(peer["queue_depth"], 1, "the DM waits in the outbox: {peer}");
        peer["last_error"].as_str().map(str::to_string)
    })
    .await;
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "the reason is readable: {error}"
    );

    // hs4: a certificate of our CA for `localhost` only: wrong for the URL it registers
    // (https://127.0.0.1:PORT), so the directory refuses it, and hs4's status says why. (The
    // test itself asks hs4 at https://localhost:PORT.)
    let cert4 = ca.issue_for_name("localhost");
    let hs4_env = [
        ("TLS_CERT", cert4.cert()),
        ("TLS_KEY", cert4.key()),
        ("EXTRA_CA_FILE", cert4.ca()),
    ];
    let mut hs4 = start_homeserver_with("hs4.test", &dir, &key, &hs4_env);
    hs4.url = hs4.url.replace("127.0.0.1", "localhost");
    let error = status_shows(&hs4, "hs4's refused registration", |st| {
        st["directory"]["last_error"].as_str().map(str::to_string)
    })
    .await;
    assert!(
        error.contains("certificate not valid for name"),
        "the reason is readable: {error}"
    );
    assert_eq!(status(&hs4).await["directory"]["registered"], false);

    // hs5 trusts only the public roots: the directory's certificate does not verify.
    let hs5 = start_homeserver_with("hs5.test", &dir, &key, &[]);
    let error = status_shows(&hs5, "hs5's directory link error", |st| {
        st["directory"]["last_error"].as_str().map(str::to_string)
    })
    .await;
    assert!(
        error.contains("certificate") && error.contains("UnknownIssuer"),
        "the reason is readable: {error}"
    );
    // hs4 and hs5 never became peers of hs1.
    let names: Vec<String> = status(&hs1).await["peers"]
        .as_array()
        .expect("peers")
        .iter()
        .map(|p| p["server_name"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(names, ["hs3.test"]);
}

#[actix_web::test]
async fn the_hearth_cli_needs_the_extra_ca_for_a_private_certificate() {
    let cert = test_ca().issue();
    let hs = ServerProcess::start_with("hs1.test", &cert.env());
    assert_https(&hs);
    let hearth = Hearth::new(&hs.url);

    let refused = hearth.run(
        "alice",
        &["register", "alice", "--password-stdin"],
        "correct horse battery\n",
    );
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(11), "unreachable: {stderr}");
    assert!(stderr.contains("certificate"), "{stderr}");

    let out = hearth.run(
        "alice",
        &[
            "--extra-ca-file",
            cert.ca(),
            "register",
            "alice",
            "--password-stdin",
        ],
        "correct horse battery\n",
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The environment variable does the same.
    let env = [("EXTRA_CA_FILE", cert.ca())];
    let out = hearth.run_env("alice", &["--json", "channels"], "", &env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // An unreadable CA file is a local configuration error.
    let missing = cert.dir().join("missing.pem");
    let out = hearth.run_env(
        "alice",
        &["channels"],
        "",
        &[("EXTRA_CA_FILE", &missing.to_string_lossy())],
    );
    assert_eq!(out.status.code(), Some(3), "{:?}", out);
}

/// What is wrong, the settings, and words the error must contain.
type Case<'a> = (&'a str, Vec<(&'a str, &'a str)>, &'a [&'a str]);

#[test]
fn bad_tls_settings_stop_the_start() {
    let ca = test_ca();
    let (good, other): (TestCert, TestCert) = (ca.issue(), ca.issue());
    let missing = good.dir().join("missing.pem");
    let missing = missing.to_string_lossy();
    let cases: [Case; 5] = [
        (
            "a certificate without a key",
            vec![("TLS_CERT", good.cert())],
            &["TLS_KEY"],
        ),
        (
            "an unreadable certificate",
            vec![("TLS_CERT", &missing), ("TLS_KEY", good.key())],
            &["TLS_CERT", "missing.pem", "cannot read"],
        ),
        (
            "a key that is not a key",
            vec![("TLS_CERT", good.cert()), ("TLS_KEY", good.cert())],
            &["TLS_KEY", "private key"],
        ),
        (
            "a key of another certificate",
            vec![("TLS_CERT", good.cert()), ("TLS_KEY", other.key())],
            &["does not go with"],
        ),
        (
            "a CA file without certificates",
            vec![("EXTRA_CA_FILE", good.key())],
            &["EXTRA_CA_FILE", "no certificate"],
        ),
    ];
    for bin in ["homeserver", "directory"] {
        for (what, env, words) in &cases {
            let out = start_failing(bin, env);
            let stderr = String::from_utf8_lossy(&out.stderr);
            let stdout = String::from_utf8_lossy(&out.stdout);
            assert!(!out.status.success(), "{bin} started with {what}");
            assert!(!stdout.contains("listening on"), "{bin}, {what}: {stdout}");
            for word in *words {
                assert!(
                    stderr.contains(word),
                    "{bin}, {what}: {word:?} not in {stderr}"
                );
            }
        }
    }
}
