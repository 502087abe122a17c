//! Reports and server admins (issue 18): reporting a message, the admins' and the operators'
//! review queues, resolving with dismiss / delete / ban, and `homeserver admin` (grant, revoke,
//! users list, disable, enable, reset-password, reports list) while the server runs.

use std::process::Output;
use std::time::Duration;

use hearth_tests::api::{Api, User, PASSWORD};
use hearth_tests::eventually;
use hearth_tests::process::{Homeserver, ServerProcess};
use serde_json::{json, Value};

fn admin(hs: &ServerProcess, args: &[&str]) -> Output {
    let mut all = vec!["admin"];
    all.extend_from_slice(args);
    hs.run(&all)
}

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "admin command failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

async fn report(user: &User, id: &str, reason: &str) -> hearth_tests::api::Reply {
    user.api
        .post(
            &format!("/api/v1/messages/{id}/report"),
            json!({ "reason": reason }),
        )
        .await
}

async fn resolve(user: &User, id: &str, action: &str) -> hearth_tests::api::Reply {
    user.api
        .post(
            &format!("/api/v1/admin/reports/{id}/resolve"),
            json!({ "action": action }),
        )
        .await
}

fn id(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

#[actix_web::test]
async fn reports_and_admins() {
    let hs = Homeserver::start_with("hs1.test", &[("RATE_LIMIT_SEND", "off")]);
    let owner = User::register(&hs.url, "owner").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    let root = User::register(&hs.url, "root").await;
    let outsider = User::register(&hs.url, "outsider").await;
    for user in [&owner, &bob, &carol] {
        user.join("#den").await;
    }
    let spam = id(&carol.say("#den", "buy cheap stuff").await);
    let rude = id(&carol.say("#den", "something rude").await);
    let meh = id(&carol.say("#den", "meh").await);

    // Reporting: a message one can read, with a reason.
    report(&bob, &spam, "")
        .await
        .expect_error(400, "invalid_reason");
    report(&bob, &uuid::Uuid::now_v7().to_string(), "spam")
        .await
        .expect_error(404, "no_such_message");
    report(&outsider, &spam, "spam")
        .await
        .expect_error(404, "no_such_message");
    let first = id(&report(&bob, &spam, "spam").await.expect(201));
    let second = id(&report(&bob, &rude, "rude").await.expect(201));
    let third = id(&report(&bob, &meh, "not sure").await.expect(201));

    // The queues: admins see all; the channel's operators see the channel's.
    bob.api
        .get("/api/v1/admin/reports")
        .await
        .expect_error(403, "admin_required");
    root.api
        .get("/api/v1/admin/reports")
        .await
        .expect_error(403, "admin_required");
    let out = ok(admin(&hs, &["grant", "root"]));
    assert!(out.contains("root"), "{out}");
    let all = root.api.get("/api/v1/admin/reports").await.expect(200);
    let ids: Vec<String> = all["reports"].as_array().unwrap().iter().map(id).collect();
    assert_eq!(ids, [third.clone(), second.clone(), first.clone()]);
    assert_eq!(all["reports"][0]["channel"], "#den@hs1.test");
    assert_eq!(all["reports"][0]["reporter"], "bob@hs1.test");
    assert_eq!(all["reports"][0]["sender"], "carol@hs1.test");
    assert_eq!(all["reports"][0]["status"], "open");
    assert_eq!(all["reports"][0]["event"]["body"], "meh");
    let ops = owner
        .api
        .get("/api/v1/channels/den/reports")
        .await
        .expect(200);
    assert_eq!(ops["reports"].as_array().unwrap().len(), 3);
    bob.api
        .get("/api/v1/channels/den/reports")
        .await
        .expect_error(403, "chanop_required");

    // Resolving: delete (by an operator), ban (by an admin), dismiss.
    resolve(&bob, &first, "delete")
        .await
        .expect_error(403, "chanop_required");
    resolve(&owner, &first, "shout")
        .await
        .expect_error(400, "invalid_action");
    resolve(&owner, "nope", "dismiss")
        .await
        .expect_error(404, "no_such_report");
    let done = resolve(&owner, &first, "delete").await.expect(200);
    assert_eq!(done["status"], "deleted");
    assert_eq!(done["resolved_by"], "owner@hs1.test");
    let message = bob
        .api
        .get(&format!("/api/v1/messages/{spam}"))
        .await
        .expect(200);
    assert_eq!(message["deleted"], true);
    resolve(&owner, &first, "dismiss")
        .await
        .expect_error(409, "already_resolved");
    let done = resolve(&root, &second, "ban").await.expect(200);
    assert_eq!(done["status"], "banned");
    carol
        .api
        .post("/api/v1/channels/join", json!({"channel": "#den"}))
        .await
        .expect_error(403, "banned");
    resolve(&root, &third, "dismiss").await.expect(200);
    let open = root
        .api
        .get("/api/v1/admin/reports?open=true")
        .await
        .expect(200);
    assert_eq!(open["reports"], json!([]));
    let listed: Value =
        serde_json::from_str(&ok(admin(&hs, &["reports", "list", "--json"]))).unwrap();
    assert_eq!(listed["reports"].as_array().unwrap().len(), 3);

    // Accounts.
    let users: Value = serde_json::from_str(&ok(admin(&hs, &["users", "list", "--json"]))).unwrap();
    let row = |nick: &str| {
        users
            .as_array()
            .unwrap()
            .iter()
            .find(|u| u["nick"] == nick)
            .cloned()
            .unwrap_or_else(|| panic!("{nick} not listed: {users}"))
    };
    assert_eq!(row("root")["admin"], true);
    assert_eq!(row("bob")["admin"], false);
    assert_eq!(row("bob")["disabled"], false);
    let table = ok(admin(&hs, &["users", "list"]));
    assert!(table.contains("outsider"), "{table}");

    ok(admin(&hs, &["users", "disable", "bob"]));
    eventually(
        Duration::from_secs(30),
        "bob's token to stop working",
        || async { (bob.api.get("/api/v1/users/me").await.status == 401).then_some(()) },
    )
    .await;
    Api::new(&hs.url)
        .post(
            "/api/v1/login",
            json!({"nick": "bob", "password": PASSWORD}),
        )
        .await
        .expect_error(403, "account_disabled");
    let users: Value = serde_json::from_str(&ok(admin(&hs, &["users", "list", "--json"]))).unwrap();
    assert!(users
        .as_array()
        .unwrap()
        .iter()
        .any(|u| u["nick"] == "bob" && u["disabled"] == true));
    ok(admin(&hs, &["users", "enable", "bob"]));
    User::login(&hs.url, "bob").await;

    let out = hs.run_with_input(
        &["admin", "users", "reset-password", "outsider"],
        "a brand new secret\n",
    );
    ok(out);
    Api::new(&hs.url)
        .post(
            "/api/v1/login",
            json!({"nick": "outsider", "password": PASSWORD}),
        )
        .await
        .expect_error(401, "invalid_credentials");
    Api::new(&hs.url)
        .post(
            "/api/v1/login",
            json!({"nick": "outsider", "password": "a brand new secret"}),
        )
        .await
        .expect(200);
    let short = hs.run_with_input(&["admin", "users", "reset-password", "outsider"], "x\n");
    assert!(!short.status.success());

    ok(admin(&hs, &["revoke", "root"]));
    root.api
        .get("/api/v1/admin/reports")
        .await
        .expect_error(403, "admin_required");
    assert!(!admin(&hs, &["grant", "nobody"]).status.success());

    // Every endpoint of the community tools is in the OpenAPI document.
    let doc = root.api.get("/api/v1/openapi.json").await.expect(200);
    for path in [
        "/api/v1/notifications",
        "/api/v1/notifications/{id}/read",
        "/api/v1/notifications/read-all",
        "/api/v1/channels/{name}/notifications",
        "/api/v1/channels/{name}/invites",
        "/api/v1/invites/{code}",
        "/api/v1/invites/{code}/accept",
        "/api/v1/channels/{name}/mute",
        "/api/v1/channels/{name}/unmute",
        "/api/v1/users/{handle}/block",
        "/api/v1/users/me/blocks",
        "/api/v1/messages/{id}/report",
        "/api/v1/admin/reports",
        "/api/v1/admin/reports/{id}/resolve",
        "/api/v1/channels/{name}/reports",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} is not documented");
    }
}
