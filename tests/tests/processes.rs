//! Several homeserver processes on one Postgres database (issue 23): what one process changes,
//! the others act on at once, and what is never stored (typing) reaches devices polling any of
//! them; processes sharing one machine serve with the HTTP workers they are given
//! (`HTTP_WORKERS`). (`postgres.rs` covers delivery and order across processes.)

use std::time::Duration;

use hearth_tests::api::{polls_waiting, User};
use hearth_tests::eventually;
use hearth_tests::postgres::{two_processes, PgCluster};
use hearth_tests::process::ServerProcess;
use serde_json::json;

async fn send(user: &User, to: &str, body: &str) -> hearth_tests::api::Reply {
    user.api
        .post("/api/v1/messages", json!({"to": to, "body": body}))
        .await
}

async fn mode(user: &User, channel: &str, modes: &str, arg: Option<&str>) {
    let body = match arg {
        Some(arg) => json!({"modes": modes, "arg": arg}),
        None => json!({"modes": modes}),
    };
    user.api
        .post(&format!("/api/v1/channels/{channel}/mode"), body)
        .await
        .expect(200);
}

#[actix_web::test]
async fn what_one_process_changes_the_other_acts_on_at_once() {
    let Some(pg) = PgCluster::start_or_skip("what_one_process_changes_the_other_acts_on_at_once")
    else {
        return;
    };
    let (a, b) = two_processes(&pg.database(), &[]);
    let op = User::register(&a.url, "oper").await;
    let bob = User::register(&b.url, "bob").await;
    op.join("#hall").await;
    bob.join("#hall").await;

    // bob's sends through B: B's writer now knows #hall's rules and bob's standing.
    for i in 0..3 {
        send(&bob, "#hall", &format!("before {i}"))
            .await
            .expect(201);
    }
    // The operator bans bob through A (which also puts him out): B refuses bob's next send at
    // once, and lets him back only after the ban is lifted and he has joined again.
    mode(&op, "hall", "+b", Some("bob")).await;
    let refused = send(&bob, "#hall", "while banned").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    mode(&op, "hall", "-b", Some("bob@*")).await;
    bob.join("#hall").await;
    send(&bob, "#hall", "after the ban").await.expect(201);
    // Moderated through A: B refuses bob (no voice), then lets him speak once voiced.
    mode(&op, "hall", "+m", None).await;
    send(&bob, "#hall", "moderated")
        .await
        .expect_error(403, "moderated");
    mode(&op, "hall", "+v", Some("bob")).await;
    send(&bob, "#hall", "voiced").await.expect(201);
    // And sends through both processes share one numbering of the room.
    send(&op, "#hall", "from a").await.expect(201);
    send(&bob, "#hall", "from b").await.expect(201);
    let history = op
        .api
        .get("/api/v1/history?target=%23hall&limit=50")
        .await
        .expect(200);
    assert_eq!(
        User::bodies(&history),
        [
            "from b",
            "from a",
            "voiced",
            "after the ban",
            "before 2",
            "before 1",
            "before 0"
        ],
        "newest first, nothing refused stored"
    );
}

#[actix_web::test]
async fn typing_reaches_a_device_polling_another_process() {
    let Some(pg) = PgCluster::start_or_skip("typing_reaches_a_device_polling_another_process")
    else {
        return;
    };
    let (a, b) = two_processes(&pg.database(), &[]);
    let ann = User::register(&a.url, "ann").await;
    let bob = User::register(&b.url, "bob").await;
    ann.join("#den").await;
    bob.join("#den").await;
    let cursor = bob.sync(None, 0).await["next"].as_i64().expect("next");

    // bob waits on B; ann types through A.
    let waiting = bob.clone();
    let poll = actix_web::rt::spawn(async move { waiting.sync(Some(cursor), 30).await });
    polls_waiting(&b.url, 1).await;
    ann.api
        .post("/api/v1/typing", json!({"target": "#den", "typing": true}))
        .await
        .expect(204);
    let got = poll.await.expect("poll");
    let events = got["events"].as_array().expect("events");
    assert!(
        events
            .iter()
            .any(|e| e["type"] == "typing" && e["from"] == "ann@hs1.test" && e["seq"] == 0),
        "ann's typing reached bob through the other process: {got}"
    );
    // A message through A wakes the same poll on B as before.
    let waiting = bob.clone();
    let next = got["next"].as_i64().expect("next");
    let poll = actix_web::rt::spawn(async move { waiting.sync(Some(next), 30).await });
    polls_waiting(&b.url, 1).await;
    send(&ann, "#den", "hello from a").await.expect(201);
    let got = poll.await.expect("poll");
    assert_eq!(User::bodies(&got), ["hello from a"]);
}

/// The threads of process `pid` named like actix's HTTP workers (`actix-rt|system:0|arbiter:N`,
/// cut by Linux to 15 bytes).
fn http_worker_threads(pid: u32) -> usize {
    let tasks = std::fs::read_dir(format!("/proc/{pid}/task")).expect("the process's threads");
    tasks
        .filter_map(Result::ok)
        .filter_map(|task| std::fs::read_to_string(task.path().join("comm")).ok())
        .filter(|name| name.trim_end() == "actix-rt|system")
        .count()
}

/// Waits until process `pid` has `want` HTTP workers (a thread takes its name once it runs,
/// just after the process says it listens); fails if it keeps another number.
async fn expect_http_workers(pid: u32, want: usize) {
    eventually(Duration::from_secs(10), "the HTTP workers", || async move {
        (http_worker_threads(pid) == want).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn processes_sharing_a_machine_serve_with_the_workers_they_are_given() {
    let Some(pg) = PgCluster::start_or_skip(
        "processes_sharing_a_machine_serve_with_the_workers_they_are_given",
    ) else {
        return;
    };
    let (a, b) = two_processes(&pg.database(), &[("HTTP_WORKERS", "1")]);

    // One worker each still serves many clients at once: sends through both processes, from
    // requests in flight together, all stored once.
    let ann = User::register(&a.url, "ann").await;
    let bob = User::register(&b.url, "bob").await;
    ann.join("#hall").await;
    bob.join("#hall").await;
    let name = |i: usize| format!("{} {i}", if i.is_multiple_of(2) { "ann" } else { "bob" });
    let sends = (0..8).map(|i: usize| {
        let user = if i.is_multiple_of(2) { &ann } else { &bob };
        let body = name(i);
        async move { send(user, "#hall", &body).await }
    });
    for reply in futures_util::future::join_all(sends).await {
        reply.expect(201);
    }
    let history = ann
        .api
        .get("/api/v1/history?target=%23hall&limit=50")
        .await
        .expect(200);
    let mut bodies = User::bodies(&history);
    bodies.sort();
    let mut sent: Vec<String> = (0..8).map(name).collect();
    sent.sort();
    assert_eq!(bodies, sent, "each send stored once");
    expect_http_workers(a.pid().expect("A runs"), 1).await;
    expect_http_workers(b.pid().expect("B runs"), 1).await;

    // Without the setting a process has one worker per core, actix's default.
    drop(b);
    let c = ServerProcess::start_with("hs1.test", &[("DBURL", pg.database().as_str())]);
    User::register(&c.url, "cid").await;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    expect_http_workers(c.pid().expect("C runs"), cores).await;
}
