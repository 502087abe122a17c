//! The operator commands against a running directory.

use hearth_tests::directory::*;

fn stdout(out: &std::process::Output) -> String {
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[actix_web::test]
async fn ban_refuses_registrations_and_remove_releases_the_name() {
    let dir = Directory::start(&[("PUSH_RETRY_MIN_MS", "100")]);
    let hs1 = FakeHomeserver::start("hs1.test", 1).await;
    let hs2 = FakeHomeserver::start("hs2.test", 2).await;
    hs1.register(&dir).await.expect(201);
    hs2.register(&dir).await.expect(201);

    let table = stdout(&dir.operator(&["servers", "list"]));
    assert!(
        table.contains("hs1.test") && table.contains("hs2.test"),
        "{table}"
    );

    let said = stdout(&dir.operator(&["servers", "ban", "hs1.test"]));
    assert!(said.contains("banned"), "{said}");
    hs1.register(&dir).await.expect_error(403, "banned");
    let gone = dir.entries().await.pop().unwrap();
    assert_eq!(
        (gone["server_name"].as_str(), gone["status"].as_str()),
        (Some("hs1.test"), Some("gone"))
    );
    assert_signed_by_directory(&dir, &gone).await;
    // The running service pushes the operator's entry on its own.
    eventually(DEADLINE, "hs2 to learn hs1 was banned", || async {
        (hs2.known_up() == ["hs2.test"]).then_some(())
    })
    .await;
    let list = dir.list();
    let hs1_state = list.iter().find(|s| s["name"] == "hs1.test").unwrap();
    assert_eq!(
        (hs1_state["status"].as_str(), hs1_state["banned"].as_bool()),
        (Some("gone"), Some(true))
    );

    // Removal lifts the ban and releases the name: even a new key, signed only by itself, may
    // register now.
    stdout(&dir.operator(&["servers", "remove", "hs1.test"]));
    hs1.set_key(key("k2", 42));
    let back = hs1.register(&dir).await.expect(201);
    assert_eq!(back["status"], "up");

    // Unknown names are an error.
    let out = dir.operator(&["servers", "remove", "nobody.test"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("not registered"),
        "{out:?}"
    );
}
