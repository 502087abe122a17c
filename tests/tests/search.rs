//! Full-text search (issue 19): each filter, the order, highlights on multi-byte text, what a
//! user may read (another channel, another user's DM, a channel left), edits and deletes,
//! pages without duplicates, bad input. Runs on SQLite and (HEARTH_TEST_BACKEND=postgres)
//! Postgres.

use hearth_tests::api::{Reply, User};
use hearth_tests::media::{png, upload_raw};
use hearth_tests::process::{postgres_backend, Homeserver, ServerProcess};
use serde_json::{json, Value};

/// Percent-encodes a query value.
fn enc(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn search_raw(user: &User, params: &[(&str, &str)]) -> Reply {
    let query: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}={}", enc(v)))
        .collect();
    user.api
        .get(&format!("/api/v1/search?{}", query.join("&")))
        .await
}

async fn search(user: &User, params: &[(&str, &str)]) -> Value {
    search_raw(user, params).await.expect(200)
}

/// The bodies of the results, in order.
fn bodies(answer: &Value) -> Vec<String> {
    answer["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results in {answer}"))
        .iter()
        .map(|r| r["event"]["body"].as_str().expect("body").to_string())
        .collect()
}

async fn found(user: &User, q: &str) -> Vec<String> {
    bodies(&search(user, &[("q", q)]).await)
}

fn id_of(event: &Value) -> String {
    event["id"].as_str().expect("id").to_string()
}

#[actix_web::test]
async fn filters_order_highlights_and_context() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    alice.join("#one").await;
    bob.join("#one").await;
    alice.join("#two").await;

    // Filters.
    let first = alice.say("#one", "filterword from alice in one").await;
    bob.say("#one", "filterword from bob in one").await;
    let third = alice
        .say("#two", "filterword in two https://example.com/x")
        .await;
    let media = upload_raw(&alice.api, "pic.png", "image/png", png(8, 8))
        .await
        .expect(201);
    alice
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#two", "body": "filterword with a picture", "attachments": [id_of(&media)]}),
        )
        .await
        .expect(201);
    let mut all = found(&alice, "filterword").await;
    all.sort();
    assert_eq!(all.len(), 4, "{all:?}");
    assert_eq!(
        bodies(&search(&alice, &[("q", "filterword"), ("in", "#two")]).await).len(),
        2
    );
    assert_eq!(
        bodies(&search(&alice, &[("q", "filterword"), ("from", "bob@hs1.test")]).await),
        ["filterword from bob in one"]
    );
    assert_eq!(
        bodies(&search(&alice, &[("q", "filterword"), ("from", "bob")]).await),
        ["filterword from bob in one"]
    );
    assert_eq!(
        bodies(&search(&alice, &[("q", "filterword"), ("has", "link")]).await),
        ["filterword in two https://example.com/x"]
    );
    assert_eq!(
        bodies(&search(&alice, &[("q", "filterword"), ("has", "attachment")]).await),
        ["filterword with a picture"]
    );
    let first_ts = first["ts"].as_str().expect("ts");
    let third_ts = third["ts"].as_str().expect("ts");
    let before = bodies(&search(&alice, &[("q", "filterword"), ("before", third_ts)]).await);
    assert!(
        !before.is_empty() && !before.iter().any(|b| b.contains("two")),
        "{before:?}"
    );
    let after = bodies(&search(&alice, &[("q", "filterword"), ("after", first_ts)]).await);
    assert!(
        !after.contains(&"filterword from alice in one".to_string()) && after.len() >= 2,
        "{after:?}"
    );
    // A DM target with no conversation: nothing.
    assert!(found(&bob, "nosuchword").await.is_empty());
    assert!(bodies(&search(&alice, &[("q", "filterword"), ("in", "carol")]).await).is_empty());

    // Order: relevance first, then newest first.
    alice.say("#one", "kiwi kiwi kiwi").await;
    alice
        .say(
            "#one",
            "kiwi once among a great many other words in this rather long message",
        )
        .await;
    alice.say("#one", "mango tie").await;
    let newer = alice.say("#one", "mango tie").await;
    assert_eq!(
        found(&alice, "kiwi").await,
        [
            "kiwi kiwi kiwi",
            "kiwi once among a great many other words in this rather long message"
        ]
    );
    let ties = search(&alice, &[("q", "mango")]).await;
    assert_eq!(ties["results"][0]["event"]["id"], newer["id"]);

    // Highlights: character ranges, case-insensitive, whole words, phrases.
    alice.say("#one", "Grüße aus Köln — KÖLN ist schön").await;
    let answer = search(&alice, &[("q", "köln")]).await;
    assert_eq!(
        answer["results"][0]["highlights"],
        json!([{"start": 10, "end": 14}, {"start": 17, "end": 21}])
    );
    alice.say("#one", "🎉 party at Ünal's place 🎉").await;
    // Postgres clusters with a C locale fold the case of ASCII letters only: the query
    // keeps the case of the non-ASCII ones.
    let answer = search(&alice, &[("q", "\"Ünal's place\" PARTY")]).await;
    assert_eq!(
        answer["results"][0]["highlights"],
        json!([{"start": 2, "end": 7}, {"start": 11, "end": 23}])
    );
    // A phrase matches its words in order only.
    assert!(found(&alice, "\"place Ünal\"").await.is_empty());

    // Context: the neighbouring messages.
    alice.say("#two", "ctx first").await;
    alice.say("#two", "ctx second").await;
    alice.say("#two", "ctx needle").await;
    alice.say("#two", "ctx fourth").await;
    let answer = search(&alice, &[("q", "needle")]).await;
    let context = &answer["results"][0]["context"];
    let texts = |v: &Value| -> Vec<String> {
        v.as_array()
            .expect("array")
            .iter()
            .map(|e| e["body"].as_str().expect("body").to_string())
            .collect()
    };
    assert_eq!(texts(&context["before"]), ["ctx first", "ctx second"]);
    assert_eq!(texts(&context["after"]), ["ctx fourth"]);
    assert!(answer["results"][0]["highlights"][0]["start"].is_number());
}

#[actix_web::test]
async fn only_what_the_user_may_read_edits_and_deletes() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    carol.join("#private").await;
    carol
        .say("#private", "hiddenword in a channel alice is not in")
        .await;
    bob.say("carol", "hiddenword in a dm between others").await;
    assert!(found(&alice, "hiddenword").await.is_empty());
    assert_eq!(found(&bob, "hiddenword").await.len(), 1);
    assert_eq!(found(&carol, "hiddenword").await.len(), 2);

    // A channel left: what was said while alice was in it, not after.
    alice.join("#gone").await;
    bob.join("#gone").await;
    bob.say("#gone", "leftword while alice was here").await;
    alice
        .api
        .post("/api/v1/channels/part", json!({"channel": "#gone"}))
        .await
        .expect(200);
    bob.say("#gone", "leftword after alice left").await;
    assert_eq!(
        found(&alice, "leftword").await,
        ["leftword while alice was here"]
    );
    // Joining before the channel's history does not open it either.
    carol.join("#gone").await;
    assert_eq!(found(&carol, "leftword").await, Vec::<String>::new());

    // Edits: the latest text only; deletes: nothing.
    let m = alice.say("bob", "oldword in a dm").await;
    alice
        .api
        .put(
            &format!("/api/v1/messages/{}", id_of(&m)),
            json!({"body": "newword in a dm"}),
        )
        .await
        .expect(200);
    assert!(found(&bob, "oldword").await.is_empty());
    let answer = search(&bob, &[("q", "newword")]).await;
    assert_eq!(bodies(&answer), ["newword in a dm"]);
    assert_eq!(answer["results"][0]["event"]["id"], m["id"]);
    assert_eq!(answer["results"][0]["event"]["edited"]["count"], 1);
    let d = alice.say("bob", "deleteword soon gone").await;
    assert_eq!(found(&bob, "deleteword").await.len(), 1);
    alice
        .api
        .delete(&format!("/api/v1/messages/{}", id_of(&d)))
        .await
        .expect(200);
    assert!(found(&bob, "deleteword").await.is_empty());
    assert!(found(&alice, "deleteword").await.is_empty());

    // A deleted channel's history is gone from the index.
    carol.join("#doomed").await;
    carol.say("#doomed", "doomedword").await;
    assert_eq!(found(&carol, "doomedword").await.len(), 1);
    carol
        .api
        .delete("/api/v1/channels/doomed")
        .await
        .expect(200);
    assert!(found(&carol, "doomedword").await.is_empty());
    fts_integrity_check(&hs);
}

/// On SQLite, FTS5's own check that the index matches the `events` rows after the edits,
/// deletes and erasures above. On Postgres, where the writer stores each event's words: every
/// searched message that is not deleted has words, and no other row has any (an erased
/// message's words are gone with its body).
fn fts_integrity_check(hs: &ServerProcess) {
    use diesel::prelude::*;
    if postgres_backend() {
        let mismatched = hs
            .pg_query(
                "SELECT count(*) FROM events WHERE (search_words IS NOT NULL) <> \
                 (kind IN ('message', 'action', 'notice') AND NOT deleted)",
            )
            .expect("the test's own Postgres database");
        assert_eq!(
            mismatched, "0",
            "rows whose stored words disagree with them"
        );
        return;
    }
    let path = hs.data_dir().join("hearth.db");
    let mut conn =
        diesel::sqlite::SqliteConnection::establish(path.to_str().expect("path")).expect("open");
    diesel::sql_query("INSERT INTO events_fts (events_fts) VALUES ('integrity-check')")
        .execute(&mut conn)
        .expect("the search index matches the events");
}

#[actix_web::test]
async fn pages_without_duplicates_and_bad_input() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#p").await;
    for i in 0..7 {
        alice.say("#p", &format!("pageword number {i}")).await;
    }
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = vec![("q", "pageword"), ("limit", "3")];
        if let Some(n) = &next {
            params.push(("next", n.as_str()));
        }
        let answer = search(&alice, &params).await;
        pages += 1;
        seen.extend(bodies(&answer));
        if pages == 1 {
            // Sent after the first page: not in this search.
            alice.say("#p", "pageword sent later").await;
        }
        match answer["next"].as_str() {
            Some(n) => next = Some(n.to_string()),
            None => break,
        }
        assert!(pages < 5, "too many pages");
    }
    assert_eq!(pages, 3);
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!((seen.len(), unique.len()), (7, 7), "{seen:?}");
    assert!(!seen.iter().any(|b| b.contains("later")));

    // Index syntax in the query is just text.
    for q in [
        "NEAR(pageword number)",
        "pageword OR",
        "\"pageword",
        "pageword*",
        "pageword:* | !x",
        "pageword' & 'x",
        "number\\",
    ] {
        let answer = search_raw(&alice, &[("q", q)]).await;
        assert_eq!(answer.status, 200, "{q}: {:?}", answer.body);
    }
    assert_eq!(found(&alice, "\"pageword").await.len(), 8);

    for (params, code) in [
        (vec![], "invalid_query"),
        (vec![("q", "  * \" ")], "invalid_query"),
        (vec![("q", "x"), ("limit", "0")], "invalid_limit"),
        (vec![("q", "x"), ("limit", "101")], "invalid_limit"),
        (vec![("q", "x"), ("has", "image")], "invalid_has"),
        (vec![("q", "x"), ("before", "yesterday")], "invalid_time"),
        (
            vec![("q", "x"), ("after", "2026-13-01T00:00:00Z")],
            "invalid_time",
        ),
        (vec![("q", "x"), ("next", "not-a-cursor")], "invalid_cursor"),
        (vec![("q", "x"), ("from", "not a handle")], "invalid_from"),
    ] {
        search_raw(&alice, &params).await.expect_error(400, code);
    }
    let long = "a".repeat(501);
    search_raw(&alice, &[("q", &long)])
        .await
        .expect_error(400, "invalid_query");
    let bad_target = search_raw(&alice, &[("q", "x"), ("in", "#bad name!")]).await;
    assert_eq!(bad_target.status, 400, "{:?}", bad_target.body);
    let anonymous = hearth_tests::api::Api::new(&hs.url)
        .get("/api/v1/search?q=x")
        .await;
    assert_eq!(anonymous.status, 401);
}

#[actix_web::test]
async fn a_channel_hosted_elsewhere_is_searched_in_the_local_mirror() {
    let (_dir, servers) =
        hearth_tests::network::federated_with(&[("hs1.test", vec![]), ("hs2.test", vec![])]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().expect("two servers");
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    alice.join("#far").await;
    bob.join("#far@hs1.test").await;
    alice.say("#far", "mirrorword from the host").await;
    bob.say("#far@hs1.test", "mirrorword from hs2").await;
    let answer = hearth_tests::eventually(
        std::time::Duration::from_secs(30),
        "both messages in hs2's mirror",
        || async {
            let answer = search(&bob, &[("q", "mirrorword"), ("in", "#far@hs1.test")]).await;
            (bodies(&answer).len() == 2).then_some(answer)
        },
    )
    .await;
    let mut found = bodies(&answer);
    found.sort();
    assert_eq!(found, ["mirrorword from hs2", "mirrorword from the host"]);
    assert_eq!(
        bodies(&search(&alice, &[("q", "mirrorword"), ("from", "bob@hs2.test")]).await),
        ["mirrorword from hs2"]
    );
}

/// Words are the same on both backends and in the highlights, whatever the database's locale
/// (the test Postgres runs with `--locale=C`): non-ASCII case is folded, and e-mail
/// addresses, URLs, host names and numbers split into their words.
#[actix_web::test]
async fn words_fold_case_and_split_addresses_on_every_backend() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#words").await;
    let body =
        "Write to MUM@Example.org about the ÉCOLE trip, see https://photos.example.net/a_b v3.14";
    alice.say("#words", body).await;
    alice.say("#words", "nothing to see here").await;
    for q in [
        "mum",
        "example",
        "école",
        "École",
        "ÉCOLE",
        "photos",
        "a",
        "b",
        "14",
        "\"example org\"",
        "\"mum example\"",
    ] {
        assert_eq!(found(&alice, q).await, [body], "query {q}");
    }
    let answer = search(&alice, &[("q", "école mum")]).await;
    let highlights = &answer["results"][0]["highlights"];
    let body_chars: Vec<char> = body.chars().collect();
    let words: Vec<String> = highlights
        .as_array()
        .expect("highlights")
        .iter()
        .map(|h| {
            let (start, end) = (
                h["start"].as_u64().expect("start") as usize,
                h["end"].as_u64().expect("end") as usize,
            );
            body_chars[start..end].iter().collect()
        })
        .collect();
    assert_eq!(words, ["MUM", "ÉCOLE"], "{highlights}");
    assert!(found(&alice, "écoles").await.is_empty());
}
