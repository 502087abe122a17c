//! Pushes to every peer: fan-out, retries after an outage, and a restart with pending pushes.

use std::time::Duration;

use hearth_tests::directory::*;

/// Short retries so that outages heal within the test's deadline.
const FAST_RETRY: &[(&str, &str)] = &[("PUSH_RETRY_MIN_MS", "100"), ("PUSH_RETRY_MAX_MS", "500")];

async fn wait_until_knows(hs: &FakeHomeserver, expected: &[&str]) {
    let what = format!("{} to know {expected:?}", hs.name);
    eventually(DEADLINE, &what, || async {
        (hs.known_up() == expected).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn three_servers_registering_one_after_another_all_learn_of_each_other() {
    let dir = Directory::start(FAST_RETRY);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let hs2 = FakeHomeserver::start("hs2.test", 2).await;
    let hs3 = FakeHomeserver::start("hs3.test", 3).await;
    let all = ["hs1.test", "hs2.test", "hs3.test"];

    hs1.register(&dir).await.expect(201);
    wait_until_knows(&hs1, &all[..1]).await;
    hs2.register(&dir).await.expect(201);
    hs3.register(&dir).await.expect(201);
    for hs in [&hs1, &hs2, &hs3] {
        wait_until_knows(hs, &all).await;
    }
    // Every pushed entry is signed by the directory, and each arrives once, in order.
    for hs in [&hs1, &hs2, &hs3] {
        let received = hs.received();
        let seqs: Vec<u64> = received
            .iter()
            .map(|e| e["seq"].as_u64().unwrap())
            .collect();
        assert_eq!(seqs, [1, 2, 3], "{} received {seqs:?}", hs.name);
        for entry in &received {
            assert_signed_by_directory(&dir, entry).await;
        }
    }
}

#[actix_web::test]
async fn a_peer_that_was_down_gets_the_entry_when_it_comes_back() {
    let dir = Directory::start(FAST_RETRY);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let hs2 = FakeHomeserver::start("hs2.test", 2).await;
    hs1.register(&dir).await.expect(201);
    wait_until_knows(&hs1, &["hs1.test"]).await;

    hs1.set_down(true);
    hs2.register(&dir).await.expect(201);
    wait_until_knows(&hs2, &["hs1.test", "hs2.test"]).await;
    // The directory has tried and failed at least twice (it retries on its own timer).
    eventually(DEADLINE, "failed pushes to hs1", || async {
        let list = dir.list();
        let hs1_state = list.iter().find(|s| s["name"] == "hs1.test").cloned()?;
        (hs1_state["push_failures"].as_i64()? >= 2).then_some(())
    })
    .await;
    assert_eq!(hs1.known_up(), ["hs1.test"]);

    hs1.set_down(false);
    wait_until_knows(&hs1, &["hs1.test", "hs2.test"]).await;
    eventually(DEADLINE, "hs1's backoff to clear", || async {
        let list = dir.list();
        let hs1_state = list.iter().find(|s| s["name"] == "hs1.test").cloned()?;
        (hs1_state["push_failures"] == 0 && hs1_state["acked_seq"] == 2).then_some(())
    })
    .await;
}

#[actix_web::test]
async fn a_restarted_directory_still_delivers_pending_pushes() {
    // A long first retry: the entry is still pending when the directory dies.
    let mut dir = Directory::start(&[("PUSH_RETRY_MIN_MS", "60000")]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let hs2 = FakeHomeserver::start("hs2.test", 2).await;
    hs1.register(&dir).await.expect(201);
    wait_until_knows(&hs1, &["hs1.test"]).await;

    hs1.set_down(true);
    hs2.register(&dir).await.expect(201);
    eventually(DEADLINE, "a failed push to hs1", || async {
        let list = dir.list();
        let hs1_state = list.iter().find(|s| s["name"] == "hs1.test").cloned()?;
        (hs1_state["push_failures"].as_i64()? >= 1).then_some(())
    })
    .await;
    dir.kill();
    hs1.set_down(false);
    dir.restart();
    // The retry is a minute away, but hs1 proves it is back with a heartbeat: its backoff
    // resets and the pending entry goes out at once.
    hs1.signed(&dir, "POST", "/directory/v1/heartbeat", b"{}")
        .await
        .expect(200);
    let within = Duration::from_secs(20);
    eventually(
        within,
        "hs1 to get hs2's entry after the restart",
        || async { (hs1.known_up() == ["hs1.test", "hs2.test"]).then_some(()) },
    )
    .await;
}

#[actix_web::test]
async fn a_restarted_directory_retries_on_its_own_timer() {
    let mut dir = Directory::start(FAST_RETRY);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let hs2 = FakeHomeserver::start("hs2.test", 2).await;
    hs1.register(&dir).await.expect(201);
    wait_until_knows(&hs1, &["hs1.test"]).await;
    // hs2 registers while hs1 is unreachable, and the directory dies right after.
    hs1.set_down(true);
    hs2.register(&dir).await.expect(201);
    dir.kill();
    // Back up, with no traffic from anyone: the pending entry still reaches hs1.
    hs1.set_down(false);
    dir.restart();
    wait_until_knows(&hs1, &["hs1.test", "hs2.test"]).await;
}
