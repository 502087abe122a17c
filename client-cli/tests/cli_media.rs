//! `hearth upload` and `hearth download` against a real homeserver, and attachments as the
//! history shows them.

use hearth_tests::cli::Hearth;
use hearth_tests::process::Homeserver as Server;

#[test]
fn upload_send_and_download() {
    let server = Server::start("hs1");
    let h = Hearth::new(&server.url);
    h.register("alice");
    h.register("bob");
    h.json("alice", &["join", "#pics"]);
    h.json("bob", &["join", "#pics"]);
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("notes.pdf");
    let pdf = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n".repeat(2000);
    std::fs::write(&file, &pdf).expect("write");
    let path = file.to_str().expect("utf-8 path");

    // Upload alone: the media.
    let media = h.json("alice", &["upload", path]);
    assert_eq!(media["content_type"], "application/pdf");
    assert_eq!(media["filename"], "notes.pdf");
    assert_eq!(media["size"], pdf.len());
    let text = h.ok("alice", &["upload", path]);
    assert!(
        text.contains("notes.pdf (application/pdf, 99.6 KB)"),
        "{text}"
    );

    // Upload and send: the event carries it; history names it with its size.
    let event = h.json("alice", &["upload", path, "--to", "#pics", "-m", "minutes"]);
    let id = event["attachments"][0]
        .as_str()
        .expect("an attachment")
        .to_string();
    let history = h.ok("bob", &["history", "#pics"]);
    assert!(
        history.contains("minutes  [attached: notes.pdf (99.6 KB)]"),
        "{history}"
    );

    // Bob downloads it.
    let out = dir.path().join("copy.pdf");
    let got = h.json(
        "bob",
        &["download", &id, "-o", out.to_str().expect("utf-8")],
    );
    assert_eq!(got["size"], pdf.len());
    assert_eq!(std::fs::read(&out).expect("downloaded"), pdf);

    // Not a supported type: the server's error, and a failing exit.
    let bad = dir.path().join("x.txt");
    std::fs::write(&bad, "plain text").expect("write");
    let failed = h.run("alice", &["upload", bad.to_str().expect("utf-8")], "");
    assert!(!failed.status.success());
    assert!(
        String::from_utf8_lossy(&failed.stderr).contains("unsupported_media_type"),
        "{}",
        String::from_utf8_lossy(&failed.stderr)
    );
}
