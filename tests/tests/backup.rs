//! Operating a homeserver (issue 22): `homeserver backup` while senders send, `homeserver
//! restore` into a fresh data directory (and, under `HEARTH_TEST_BACKEND=postgres`, into a
//! second empty database), the restored server with the same key, users, channels, cursors and
//! media; the refusals; and `homeserver doctor` on a healthy and a broken deployment.

use std::cell::RefCell;
use std::collections::HashMap;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Output;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hearth_tests::api::{Api, User};
use hearth_tests::media::{fetch, png, upload_raw};
use hearth_tests::process::{wait_bounded, Homeserver, ServerProcess};
use serde_json::{json, Value};

const SENDERS: usize = 4;

fn ok(out: &Output) -> String {
    assert!(
        out.status.success(),
        "command failed ({}): {}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[track_caller]
fn refused(out: &Output, words: &str) -> String {
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "expected a refusal ({words}), got success"
    );
    assert!(err.contains(words), "expected {words:?} in: {err}");
    err
}

fn json_of(out: &Output) -> Value {
    serde_json::from_str(&ok(out)).expect("JSON on standard output")
}

/// Every message of `#den` on `api`'s server, oldest first (all pages of the history).
async fn history(api: &Api) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let path = match before {
            Some(b) => format!("/api/v1/history?target=%23den&limit=200&before={b}"),
            None => "/api/v1/history?target=%23den&limit=200".to_string(),
        };
        let page = api.get(&path).await.expect(200);
        let events = page["events"].as_array().expect("events").clone();
        if events.is_empty() {
            break;
        }
        before = events.iter().filter_map(|e| e["seq"].as_i64()).min();
        all.extend(events);
    }
    all.reverse();
    all
}

/// Runs `args` on `hs` on a blocking thread while the test's tasks go on.
async fn run_concurrently(hs: &ServerProcess, args: &[&str]) -> Output {
    let mut cmd = hs.subcommand(args);
    actix_web::rt::task::spawn_blocking(move || {
        wait_bounded(cmd.spawn().expect("spawn"), Duration::from_secs(120))
    })
    .await
    .expect("join")
}

#[actix_web::test]
async fn backup_while_sending_then_restore() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#den").await;
    bob.join("#den").await;
    let server = Api::new(&hs.url).get("/api/v1/server").await.expect(200);

    // An upload, attached to a message.
    let picture = png(40, 30);
    let media = upload_raw(&alice.api, "pic.png", "image/png", picture.clone())
        .await
        .expect(201);
    let media_id = media["id"].as_str().expect("id").to_string();
    alice
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#den", "body": "a picture", "attachments": [media_id]}),
        )
        .await
        .expect(201);

    // Bob reads up to here: his device's cursor.
    let first = bob.sync(Some(0), 0).await;
    let bob_cursor = first["next"].as_i64().expect("next");
    bob.sync(Some(bob_cursor), 0).await;

    // Senders send until told to stop; each 201 is recorded with the time it came.
    let acked: Rc<RefCell<Vec<(String, Instant)>>> = Rc::default();
    let stop = Rc::new(RefCell::new(false));
    let mut tasks = Vec::new();
    for s in 0..SENDERS {
        let user = User::login(&hs.url, if s % 2 == 0 { "alice" } else { "bob" }).await;
        let (acked, stop) = (Rc::clone(&acked), Rc::clone(&stop));
        tasks.push(actix_web::rt::spawn(async move {
            let mut i = 0;
            while !*stop.borrow() {
                let body = format!("s{s}-{i}");
                let reply = user
                    .api
                    .post(
                        "/api/v1/messages",
                        json!({"to": "#den", "body": body, "txn_id": body}),
                    )
                    .await;
                if reply.status == 201 {
                    acked.borrow_mut().push((body, Instant::now()));
                }
                i += 1;
            }
        }));
    }
    hearth_tests::eventually(Duration::from_secs(60), "senders under way", || {
        let n = acked.borrow().len();
        async move { (n >= 40).then_some(()) }
    })
    .await;

    // The backup runs while they send.
    let dir = tempfile::tempdir().expect("tempdir");
    let target = dir.path().join("backup");
    let began = Instant::now();
    let out = run_concurrently(&hs, &["backup", &target.to_string_lossy(), "--json"]).await;
    let summary = json_of(&out);
    let sent_during = acked.borrow().iter().filter(|(_, t)| *t > began).count();
    *stop.borrow_mut() = true;
    for task in tasks {
        task.await.expect("sender");
    }
    let manifest = &summary["manifest"];
    assert_eq!(manifest["server_name"], "hs1.test");
    assert_eq!(summary["media_files"], 1, "{summary}");
    assert!(manifest["schema"].as_str().is_some_and(|s| s.len() >= 14));
    let files = manifest["files"].as_array().expect("files");
    assert!(files.iter().any(|f| f["path"] == "signing.key"));
    assert!(files
        .iter()
        .any(|f| f["path"] == manifest["database"]["file"]));
    assert_eq!(
        std::fs::metadata(&target)
            .expect("dir")
            .permissions()
            .mode()
            & 0o777,
        0o700
    );
    eprintln!(
        "backup: {} ms, {} bytes; {} messages acknowledged before it, {sent_during} during it",
        summary["duration_ms"],
        summary["total_bytes"],
        acked.borrow().iter().filter(|(_, t)| *t <= began).count()
    );

    // Restore into a fresh data directory (and, on Postgres, a fresh empty database).
    let mut restored = ServerProcess::prepare("hs1.test", &[]);
    let out = restored.run(&["restore", &target.to_string_lossy(), "--json"]);
    let restore = json_of(&out);
    assert_eq!(restore["key_id"], server["key_id"]);
    restored.start_prepared();

    // The same identity.
    let info = Api::new(&restored.url)
        .get("/api/v1/server")
        .await
        .expect(200);
    assert_eq!(info["name"], "hs1.test");
    assert_eq!(info["key_id"], server["key_id"]);
    assert_eq!(info["public_key"], server["public_key"]);

    // Users log in; a device's token from before the backup still works.
    let alice2 = User::login(&restored.url, "alice").await;
    let bob_old = bob.api.clone();
    let bob2 = Api::new(&restored.url).with_token(bob_old.token().expect("token"));
    bob2.get("/api/v1/users/me").await.expect(200);

    // Channels.
    let channels = alice2.api.get("/api/v1/channels").await.expect(200);
    assert!(channels.to_string().contains("den"), "{channels}");

    // Every message acknowledged before the backup began is there exactly once; nothing twice.
    let events = history(&alice2.api).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for e in events.iter().filter(|e| e["type"] == "message") {
        *counts
            .entry(e["body"].as_str().unwrap_or_default().to_string())
            .or_default() += 1;
    }
    let before: Vec<String> = acked
        .borrow()
        .iter()
        .filter(|(_, t)| *t <= began)
        .map(|(b, _)| b.clone())
        .collect();
    assert!(before.len() >= 40);
    for body in &before {
        assert_eq!(
            counts.get(body),
            Some(&1),
            "{body} is not there exactly once"
        );
    }
    assert!(counts.values().all(|n| *n == 1), "a message is there twice");
    assert_eq!(counts.get("a picture"), Some(&1));

    // Bob's cursor: his old device gets only what came after what it acknowledged.
    let sync = bob2.get("/api/v1/messages?timeout=0").await.expect(200);
    let seqs: Vec<i64> = sync["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter_map(|e| e["seq"].as_i64())
        .collect();
    assert!(!seqs.is_empty());
    assert!(
        seqs.iter().all(|s| *s > bob_cursor),
        "{seqs:?} vs {bob_cursor}"
    );

    // Media.
    let download = fetch(&alice2.api, &format!("/api/v1/media/{media_id}"), &[]).await;
    assert_eq!(download.status, 200);
    assert_eq!(download.bytes, picture);

    // The restored server takes new messages.
    alice2.say("#den", "after the restore").await;
    assert!(!restored.log().contains("panicked"), "{}", restored.log());
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn assert_empty(server: &ServerProcess) {
    let left: Vec<_> = std::fs::read_dir(server.data_dir())
        .expect("read_dir")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(left.is_empty(), "a refused restore left {left:?}");
}

#[actix_web::test]
async fn backup_and_restore_refuse() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#den").await;
    alice.say("#den", "hello").await;
    let dir = tempfile::tempdir().expect("tempdir");
    let good = dir.path().join("good");
    let summary = json_of(&hs.run(&["backup", &good.to_string_lossy(), "--json"]));
    let db_file = summary["manifest"]["database"]["file"]
        .as_str()
        .expect("file")
        .to_string();

    // With MEDIA_S3_URL, media live in the bucket: the manifest says so and copies none.
    let bucket = dir.path().join("bucket");
    let with_s3 = json_of(&hs.run(&[
        "--media-s3-url",
        "s3://hearth-media/hs1",
        "backup",
        &bucket.to_string_lossy(),
        "--json",
    ]));
    assert_eq!(with_s3["manifest"]["media"], "s3", "{with_s3}");
    assert_eq!(with_s3["media_files"], 0, "{with_s3}");
    assert_eq!(summary["manifest"]["media"], "local", "{summary}");

    // A backup goes into a new or empty directory only.
    refused(
        &hs.run(&["backup", &good.to_string_lossy()]),
        "is not empty",
    );

    // Never over a live server's data.
    refused(
        &hs.run(&["restore", &good.to_string_lossy()]),
        "already has a signing key",
    );

    // Not a backup.
    let fresh = ServerProcess::prepare("hs1.test", &[]);
    refused(
        &fresh.run(&["restore", &dir.path().to_string_lossy()]),
        "is not a backup",
    );

    // A damaged file: nothing is written.
    let damaged = dir.path().join("damaged");
    copy_dir(&good, &damaged);
    let mut bytes = std::fs::read(damaged.join(&db_file)).expect("read");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(damaged.join(&db_file), bytes).expect("write");
    refused(
        &fresh.run(&["restore", &damaged.to_string_lossy()]),
        "the backup is damaged",
    );
    assert_empty(&fresh);

    // A missing media or key file is damage too.
    let missing = dir.path().join("missing");
    copy_dir(&good, &missing);
    std::fs::remove_file(missing.join("signing.key")).expect("rm");
    refused(
        &fresh.run(&["restore", &missing.to_string_lossy()]),
        "the backup is damaged",
    );
    assert_empty(&fresh);

    // A schema newer than this binary's migrations.
    let newer = dir.path().join("newer");
    copy_dir(&good, &newer);
    let mut manifest: Value =
        serde_json::from_slice(&std::fs::read(newer.join("manifest.json")).expect("read"))
            .expect("json");
    manifest["schema"] = json!("99991231000001");
    std::fs::write(newer.join("manifest.json"), manifest.to_string()).expect("write");
    refused(
        &fresh.run(&["restore", &newer.to_string_lossy()]),
        "is newer than this homeserver's",
    );
    assert_empty(&fresh);

    // On Postgres: never into a database that has tables (the live server's).
    if let Some(dburl) = hs.setting("DBURL") {
        let other = ServerProcess::prepare("hs1.test", &[("DBURL", dburl)]);
        refused(
            &other.run(&["restore", &good.to_string_lossy()]),
            "restore only into an empty database",
        );
        assert_empty(&other);
    }

    // The good one still restores.
    let mut fresh = fresh;
    ok(&fresh.run(&["restore", &good.to_string_lossy()]));
    fresh.start_prepared();
    let alice2 = User::login(&fresh.url, "alice").await;
    let events = history(&alice2.api).await;
    assert!(events.iter().any(|e| e["body"] == "hello"));
}

fn doctor(hs: &ServerProcess, extra: &[&str]) -> (Output, Value) {
    let public_url = hs.url.clone();
    let mut args = vec!["--public-url", public_url.as_str()];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["doctor", "--json", "--timeout", "5"]);
    let out = hs.run(&args);
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|_| {
        panic!(
            "doctor printed no JSON: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out, report)
}

fn status_of<'a>(report: &'a Value, check: &str) -> (&'a str, &'a str) {
    let f = report["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .find(|f| f["check"] == check)
        .unwrap_or_else(|| panic!("no {check} finding in {report}"));
    (
        f["status"].as_str().unwrap_or_default(),
        f["message"].as_str().unwrap_or_default(),
    )
}

#[actix_web::test]
async fn doctor_on_healthy_and_broken_deployments() {
    let mut hs = Homeserver::start("hs1.test");
    User::register(&hs.url, "alice").await;
    // A deployment's data directory is owner-only (systemd's StateDirectory, the image's volume).
    std::fs::set_permissions(hs.data_dir(), std::fs::Permissions::from_mode(0o700)).expect("chmod");

    // Healthy.
    let (out, report) = doctor(&hs, &[]);
    assert!(out.status.success(), "{report}");
    assert_eq!(report["ok"], true, "{report}");
    for check in [
        "data_dir",
        "signing_key",
        "database",
        "public_url",
        "tls",
        "directory",
    ] {
        assert_eq!(status_of(&report, check).0, "ok", "{check}: {report}");
    }
    // The plain-words form.
    let text = hs.run(&["--public-url", &hs.url, "doctor"]);
    let text = ok(&text);
    assert!(text.contains("all checks passed"), "{text}");

    // A key file others can read.
    let key = hs.data_dir().join("signing.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).expect("chmod");
    let (out, report) = doctor(&hs, &[]);
    assert!(!out.status.success());
    let (status, message) = status_of(&report, "signing_key");
    assert_eq!(status, "fail", "{report}");
    assert!(message.contains("chmod 600"), "{message}");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600)).expect("chmod");

    // A data directory every user can read is a warning, not a failure.
    std::fs::set_permissions(hs.data_dir(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let (out, report) = doctor(&hs, &[]);
    assert!(out.status.success(), "{report}");
    assert_eq!(status_of(&report, "data_dir").0, "warn", "{report}");
    std::fs::set_permissions(hs.data_dir(), std::fs::Permissions::from_mode(0o700)).expect("chmod");

    // An unmigrated database (an empty SQLite file).
    let empty = tempfile::tempdir().expect("tempdir");
    let empty_db = empty.path().join("empty.db");
    std::fs::write(&empty_db, b"").expect("write");
    let (out, report) = doctor(&hs, &["--dburl", &empty_db.to_string_lossy()]);
    assert!(!out.status.success());
    let (status, message) = status_of(&report, "database");
    assert_eq!(status, "fail", "{report}");
    assert!(message.contains("not fully migrated"), "{message}");

    // An unreachable database.
    let (out, report) = doctor(&hs, &["--dburl", "postgres://nobody@127.0.0.1:1/nothing"]);
    assert!(!out.status.success());
    let (status, message) = status_of(&report, "database");
    assert_eq!(status, "fail", "{report}");
    assert!(message.contains("cannot reach the database"), "{message}");

    // The server is down: PUBLIC_URL does not answer.
    hs.kill();
    let (out, report) = doctor(&hs, &[]);
    assert!(!out.status.success());
    let (status, message) = status_of(&report, "public_url");
    assert_eq!(status, "fail", "{report}");
    assert!(message.contains("not reachable"), "{message}");
}

#[actix_web::test]
async fn doctor_checks_tls_and_the_directory() {
    use hearth_tests::network::{directory_key, start_directory_with, start_homeserver_with};
    use hearth_tests::tls::test_ca;

    let cert = test_ca().issue();
    // The directory fetches the homeserver's key over HTTPS: it trusts the test CA.
    let dir = start_directory_with(&[("EXTRA_CA_FILE", cert.ca())]);
    let key = directory_key(&dir).await;
    let hs = start_homeserver_with("hs1.test", &dir, &key, &cert.env());
    assert!(hs.url.starts_with("https://"), "{}", hs.url);
    std::fs::set_permissions(hs.data_dir(), std::fs::Permissions::from_mode(0o700)).expect("chmod");

    // Registered over HTTPS: every check passes once the directory lists it.
    let report = hearth_tests::eventually(Duration::from_secs(30), "a clean doctor", || {
        let (out, report) = doctor(&hs, &[]);
        async move { out.status.success().then_some(report) }
    })
    .await;
    let (status, message) = status_of(&report, "tls");
    assert_eq!(status, "ok", "{report}");
    assert!(message.contains("valid until"), "{message}");
    let (status, message) = status_of(&report, "directory");
    assert_eq!(status, "ok", "{report}");
    assert!(message.contains("lists hs1.test as up"), "{message}");
    assert_eq!(status_of(&report, "public_url").0, "ok", "{report}");

    // An expired certificate.
    let expired = test_ca().issue_expired();
    let (out, report) = doctor(
        &hs,
        &["--tls-cert", expired.cert(), "--tls-key", expired.key()],
    );
    assert!(!out.status.success());
    let (status, message) = status_of(&report, "tls");
    assert_eq!(status, "fail", "{report}");
    assert!(message.contains("expired"), "{message}");

    // A server the directory does not list.
    let alone = Homeserver::start("hs2.test");
    std::fs::set_permissions(alone.data_dir(), std::fs::Permissions::from_mode(0o700))
        .expect("chmod");
    let (out, report) = doctor(
        &alone,
        &["--directory-url", &dir.url, "--directory-key", &key],
    );
    assert!(!out.status.success());
    let (status, message) = status_of(&report, "directory");
    assert_eq!(status, "fail", "{report}");
    assert!(message.contains("does not list hs2.test"), "{message}");
}
