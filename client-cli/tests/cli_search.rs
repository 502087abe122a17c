//! `hearth search` against a real homeserver: filters, `--json`, the human lines with their
//! highlights in brackets, paging with `--next`.

use hearth_tests::cli::Hearth;
use hearth_tests::process::Homeserver as Server;

#[test]
fn search_with_filters_and_pages() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.json("alice", &["join", "#s"]);
    h.json("bob", &["join", "#s"]);
    h.json("alice", &["send", "#s", "the Köln address is here"]);
    h.json(
        "bob",
        &["send", "#s", "no address from bob https://example.com"],
    );
    h.json("alice", &["dm", "bob", "address in a dm"]);

    let all = h.json("bob", &["search", "address"]);
    assert_eq!(all["results"].as_array().map(Vec::len), Some(3), "{all}");
    let from = h.json(
        "bob",
        &["search", "address", "--from", "alice", "--in", "#s"],
    );
    assert_eq!(
        from["results"][0]["event"]["body"],
        "the Köln address is here"
    );
    assert_eq!(from["results"].as_array().map(Vec::len), Some(1), "{from}");
    let link = h.json("bob", &["search", "address", "--has", "link"]);
    assert_eq!(link["results"].as_array().map(Vec::len), Some(1), "{link}");

    let text = h.ok("bob", &["search", "köln", "address"]);
    assert!(text.contains("the [Köln] [address] is here"), "{text}");

    let page = h.json("bob", &["search", "address", "-n", "2"]);
    let next = page["next"].as_str().expect("a next page").to_string();
    let rest = h.json("bob", &["search", "address", "-n", "2", "--next", &next]);
    assert_eq!(rest["results"].as_array().map(Vec::len), Some(1), "{rest}");
    assert!(rest["next"].is_null());
    let text = h.ok("bob", &["search", "address", "-n", "2"]);
    assert!(text.contains("more: add --next"), "{text}");
}
