//! Media (issue 17), each rule end to end against the real binary: types by magic bytes, the
//! size checked while streaming, dedupe, download headers (nosniff, CSP, disposition), ETag
//! and ranges, permissions through attachments, thumbnails (sizes, no upscale, EXIF
//! orientation, the pixel budget), malware scanning with a real clamd, and attachments across
//! servers.

use hearth_tests::api::User;
use hearth_tests::media::{
    claimed_png, dimensions, eicar, fetch, jpeg_with_orientation, pdf, png, upload_multipart,
    upload_raw, zip, Clamd,
};
use hearth_tests::process::{Homeserver, ServerProcess};
use serde_json::{json, Value};

fn id_of(v: &Value) -> String {
    v["id"].as_str().expect("id").to_string()
}

/// Files under `DATA_DIR/media` that are blobs (in a two-letter directory).
fn blobs(hs: &ServerProcess) -> Vec<std::path::PathBuf> {
    let root = hs.data_dir().join("media");
    let mut out = Vec::new();
    for dir in std::fs::read_dir(&root).expect("media dir").flatten() {
        let name = dir.file_name().to_string_lossy().into_owned();
        if name.len() == 2 {
            for f in std::fs::read_dir(dir.path()).expect("blob dir").flatten() {
                out.push(f.path());
            }
        }
    }
    out
}

fn spooled(hs: &ServerProcess) -> usize {
    std::fs::read_dir(hs.data_dir().join("media").join("tmp"))
        .expect("tmp dir")
        .count()
}

#[actix_web::test]
async fn uploads_are_typed_by_content_and_limited_while_streaming() {
    let hs = Homeserver::start_with("hs1.test", &[("MAX_UPLOAD_SIZE", "1M")]);
    let alice = User::register(&hs.url, "alice").await;

    // A PNG named and declared as text is a PNG.
    let body = upload_raw(&alice.api, "notes.txt", "text/plain", png(40, 30))
        .await
        .expect(201);
    assert_eq!(body["content_type"], "image/png");
    assert_eq!(body["filename"], "notes.txt");
    assert_eq!(body["size"], json!(png(40, 30).len()));
    let id = id_of(&body);
    assert!(id.ends_with("@hs1.test"), "{id}");
    assert_eq!(body["url"], format!("/api/v1/media/{id}"));
    assert_eq!(
        body["thumbnail_url"],
        format!("/api/v1/media/{id}/thumbnail")
    );

    // HTML named and declared as a PNG is refused; so is text.
    let html = b"<html><body><script>alert(document.cookie)</script></body></html>".to_vec();
    upload_raw(&alice.api, "cat.png", "image/png", html)
        .await
        .expect_error(415, "unsupported_media_type");
    upload_raw(
        &alice.api,
        "a.pdf",
        "application/pdf",
        b"plain words".to_vec(),
    )
    .await
    .expect_error(415, "unsupported_media_type");

    // Multipart, with another part before the file; PDF and zip have no thumbnail.
    let body = upload_multipart(&alice.api, "report.pdf", "application/pdf", &pdf())
        .await
        .expect(201);
    assert_eq!(body["content_type"], "application/pdf");
    assert_eq!(body["filename"], "report.pdf");
    assert!(body.get("thumbnail_url").is_none(), "{body}");
    let body = upload_multipart(&alice.api, "../../etc/a.zip", "application/zip", &zip())
        .await
        .expect(201);
    assert_eq!(body["content_type"], "application/zip");
    assert_eq!(body["filename"], "a.zip");

    // Over MAX_UPLOAD_SIZE, raw and multipart: refused, and nothing is kept.
    let before = blobs(&hs).len();
    let mut big = zip();
    big.resize(1536 * 1024, 7);
    upload_raw(&alice.api, "big.zip", "application/zip", big.clone())
        .await
        .expect_error(413, "too_large");
    upload_multipart(&alice.api, "big.zip", "application/zip", &big)
        .await
        .expect_error(413, "too_large");
    assert_eq!(blobs(&hs).len(), before);
    assert_eq!(spooled(&hs), 0);

    // Empty files, a form without a file part, and no token.
    upload_raw(&alice.api, "e.png", "image/png", Vec::new())
        .await
        .expect_error(400, "empty_file");
    let anonymous = hearth_tests::api::Api::new(&hs.url);
    upload_raw(&anonymous, "a.png", "image/png", png(4, 4))
        .await
        .expect_error(401, "missing_token");
}

#[actix_web::test]
async fn identical_files_are_stored_once() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let image = png(64, 64);
    let a = upload_raw(&alice.api, "a.png", "image/png", image.clone())
        .await
        .expect(201);
    let b = upload_multipart(&bob.api, "b.png", "image/png", &image)
        .await
        .expect(201);
    assert_ne!(a["id"], b["id"]);
    assert_eq!(blobs(&hs).len(), 1);
    // Each upload keeps its own name and uploader.
    let got = fetch(&bob.api, &format!("/api/v1/media/{}", id_of(&b)), &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, image);
    assert!(got.header("content-disposition").unwrap().contains("b.png"));
    // Alice's copy is hers: bob cannot read it by its id.
    let theirs = fetch(&bob.api, &format!("/api/v1/media/{}", id_of(&a)), &[]).await;
    assert_eq!(theirs.status, 404);
}

#[actix_web::test]
async fn downloads_are_safe_and_support_etags_and_ranges() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let image = png(50, 50);
    let id = id_of(
        &upload_raw(&alice.api, "photo \"1\".png", "image/png", image.clone())
            .await
            .expect(201),
    );
    let path = format!("/api/v1/media/{id}");
    let got = fetch(&alice.api, &path, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, image);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    let csp = got.header("content-security-policy").unwrap();
    assert!(
        csp.contains("default-src 'none'") && csp.contains("sandbox"),
        "{csp}"
    );
    let disposition = got.header("content-disposition").unwrap();
    assert!(disposition.starts_with("inline"), "{disposition}");
    assert!(disposition.contains("photo _1_.png"), "{disposition}");
    let etag = got.header("etag").expect("an ETag").to_string();

    let again = fetch(&alice.api, &path, &[("If-None-Match", &etag)]).await;
    assert_eq!(again.status, 304);
    assert!(again.bytes.is_empty());

    let part = fetch(&alice.api, &path, &[("Range", "bytes=0-9")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, image[..10]);
    assert_eq!(
        part.header("content-range"),
        Some(format!("bytes 0-9/{}", image.len()).as_str())
    );
    let tail = fetch(&alice.api, &path, &[("Range", "bytes=-5")]).await;
    assert_eq!(tail.status, 206);
    assert_eq!(tail.bytes, image[image.len() - 5..]);
    let beyond = fetch(&alice.api, &path, &[("Range", "bytes=999999-")]).await;
    assert_eq!(beyond.status, 416);

    // Anything but images and PDF is an attachment, never shown inline.
    let zip_id = id_of(
        &upload_raw(&alice.api, "archive.zip", "application/zip", zip())
            .await
            .expect(201),
    );
    let got = fetch(&alice.api, &format!("/api/v1/media/{zip_id}"), &[]).await;
    assert_eq!(got.header("content-type"), Some("application/zip"));
    assert!(got
        .header("content-disposition")
        .unwrap()
        .starts_with("attachment"));

    // Unknown and malformed ids.
    let missing = format!("{}@hs1.test", uuid::Uuid::now_v7());
    let got = fetch(&alice.api, &format!("/api/v1/media/{missing}"), &[]).await;
    assert_eq!(
        (got.status, got.json()["error"]["code"].clone()),
        (404, json!("media_not_found"))
    );
    let got = fetch(&alice.api, "/api/v1/media/not-an-id", &[]).await;
    assert_eq!(got.status, 404);
}

#[actix_web::test]
async fn attachments_decide_who_may_download() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let carol = User::register(&hs.url, "carol").await;
    let dave = User::register(&hs.url, "dave").await;
    alice.join("#general").await;
    bob.join("#general").await;
    let image = png(400, 200);
    let upload = upload_raw(&alice.api, "cat.png", "image/png", image.clone())
        .await
        .expect(201);
    let id = id_of(&upload);
    let path = format!("/api/v1/media/{id}");
    assert_eq!(fetch(&alice.api, &path, &[]).await.status, 200);
    assert_eq!(fetch(&bob.api, &path, &[]).await.status, 404);

    // Only one's own uploads, well-formed, at most 10.
    let send = |to: &str, attachments: Value| json!({"to": to, "body": "look", "attachments": attachments});
    bob.api
        .post("/api/v1/messages", send("#general", json!([id])))
        .await
        .expect_error(400, "invalid_attachment");
    alice
        .api
        .post("/api/v1/messages", send("#general", json!(["nope"])))
        .await
        .expect_error(400, "invalid_attachment");
    alice
        .api
        .post(
            "/api/v1/messages",
            send("#general", json!(vec![id.clone(); 11])),
        )
        .await
        .expect_error(400, "too_many_attachments");

    let mut bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    let event = alice
        .api
        .post("/api/v1/messages", send("#general", json!([id])))
        .await
        .expect(201);
    assert_eq!(event["attachments"], json!([id]));
    let seen = bob
        .wait_for(&mut bob_cursor, "the attachment", |e| {
            e["id"] == event["id"]
        })
        .await;
    assert_eq!(seen["attachments"], json!([id]));

    // Members of #general may download it now; others still may not.
    assert_eq!(fetch(&bob.api, &path, &[]).await.bytes, image);
    assert_eq!(fetch(&carol.api, &path, &[]).await.status, 404);

    // History and the message view describe it.
    let history = bob
        .api
        .get("/api/v1/history?target=%23general")
        .await
        .expect(200);
    let message = history["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == event["id"])
        .expect("in history")
        .clone();
    let file = &message["files"][0];
    assert_eq!(file["id"], json!(id));
    assert_eq!(file["filename"], "cat.png");
    assert_eq!(file["size"], json!(image.len()));
    assert_eq!(file["content_type"], "image/png");
    assert_eq!(
        file["thumbnail_url"],
        format!("/api/v1/media/{id}/thumbnail")
    );
    let view = bob
        .api
        .get(&format!("/api/v1/messages/{}", id_of(&event)))
        .await
        .expect(200);
    assert_eq!(view["files"][0]["filename"], "cat.png");

    // A DM shares it with its other user.
    alice
        .api
        .post("/api/v1/messages", send("dave", json!([id])))
        .await
        .expect(201);
    assert_eq!(fetch(&dave.api, &path, &[]).await.status, 200);
    assert_eq!(fetch(&carol.api, &path, &[]).await.status, 404);

    // The WebSocket's send frame takes attachments too (the same chat::send).
    let mut socket = alice.api.open_ws("/api/v1/ws").await.expect("upgraded");
    socket
        .send_json(&json!({"type": "send", "to": "#general", "body": "ws", "attachments": [id], "txn_id": "w1"}))
        .await;
    let sent = socket
        .next_of("sent", std::time::Duration::from_secs(10))
        .await;
    assert_eq!(sent["event"]["attachments"], json!([id]));
    socket.close().await;

    // The endpoints are in the OpenAPI document.
    let doc = alice.api.get("/api/v1/openapi.json").await.expect(200);
    for p in [
        "/api/v1/media",
        "/api/v1/media/{id}",
        "/api/v1/media/{id}/thumbnail",
    ] {
        assert!(doc["paths"][p].is_object(), "{p} is documented");
    }

    // Leaving the channel ends bob's access through it.
    bob.api
        .post("/api/v1/channels/part", json!({"channel": "#general"}))
        .await
        .expect(200);
    assert_eq!(fetch(&bob.api, &path, &[]).await.status, 404);
}

#[actix_web::test]
async fn thumbnails_fit_never_upscale_and_refuse_bombs() {
    let hs = Homeserver::start("hs1.test");
    let alice = User::register(&hs.url, "alice").await;
    let thumb = |id: String| {
        let api = alice.api.clone();
        async move { fetch(&api, &format!("/api/v1/media/{id}/thumbnail"), &[]).await }
    };
    let up = |name: &'static str, bytes: Vec<u8>| {
        let api = alice.api.clone();
        async move { id_of(&upload_raw(&api, name, "image/png", bytes).await.expect(201)) }
    };

    let wide = thumb(up("wide.png", png(1000, 500)).await).await;
    assert_eq!(wide.status, 200);
    assert_eq!(wide.header("content-type"), Some("image/jpeg"));
    assert_eq!(wide.header("x-content-type-options"), Some("nosniff"));
    assert_eq!(dimensions(&wide.bytes), (320, 160));
    let tall = thumb(up("tall.png", png(300, 900)).await).await;
    assert_eq!(dimensions(&tall.bytes), (107, 320));
    // Smaller than 320×320: never enlarged.
    let small = thumb(up("small.png", png(100, 50)).await).await;
    assert_eq!(dimensions(&small.bytes), (100, 50));
    // The second request is served from the cache, with the same bytes.
    let small_id = up("small.png", png(100, 50)).await;
    assert_eq!(thumb(small_id).await.bytes, small.bytes);

    // EXIF orientation 6 (rotate 90°): a 400×200 photo is shown 200×400.
    let photo = id_of(
        &upload_raw(
            &alice.api,
            "photo.jpg",
            "image/jpeg",
            jpeg_with_orientation(400, 200, 6),
        )
        .await
        .expect(201),
    );
    assert_eq!(dimensions(&thumb(photo).await.bytes), (160, 320));

    // A header claiming 15000×15000 pixels: stored (it is a small PNG file), never decoded.
    let bomb = up("bomb.png", claimed_png(15_000, 15_000)).await;
    let refused = thumb(bomb).await;
    assert_eq!(refused.status, 422, "{:?}", refused.json());
    assert_eq!(refused.json()["error"]["code"], "image_too_large");

    // No thumbnails of other types.
    let doc = id_of(
        &upload_raw(&alice.api, "r.pdf", "application/pdf", pdf())
            .await
            .expect(201),
    );
    let none = thumb(doc).await;
    assert_eq!(
        (none.status, none.json()["error"]["code"].clone()),
        (404, json!("no_thumbnail"))
    );
}

#[actix_web::test]
async fn an_unreachable_scanner_is_an_error_not_a_pass() {
    let dir = tempfile::tempdir().unwrap();
    let nowhere = dir.path().join("no-clamd.sock").display().to_string();
    for addr in [nowhere.as_str(), "127.0.0.1:1"] {
        let hs = Homeserver::start_with("hs1.test", &[("CLAMD_ADDR", addr)]);
        let alice = User::register(&hs.url, "alice").await;
        upload_raw(&alice.api, "a.png", "image/png", png(8, 8))
            .await
            .expect_error(503, "scanner_unavailable");
        assert!(blobs(&hs).is_empty());
        assert_eq!(spooled(&hs), 0);
    }
}

#[actix_web::test]
async fn clamd_refuses_malware() {
    // Started before any client: waiting for it blocks this thread.
    let Some(clamd) = Clamd::start_or_skip("clamd_refuses_malware") else {
        return;
    };
    let hs = Homeserver::start_with("hs1.test", &[("CLAMD_ADDR", &clamd.addr())]);
    let alice = User::register(&hs.url, "alice").await;
    upload_raw(&alice.api, "eicar.com", "application/octet-stream", eicar())
        .await
        .expect_error(422, "malware_detected");
    // Inside a zip too, and whatever its declared type.
    let mut inside = zip();
    inside.extend_from_slice(&eicar());
    upload_multipart(&alice.api, "eicar.zip", "application/zip", &inside)
        .await
        .expect_error(422, "malware_detected");
    assert!(blobs(&hs).is_empty());
    assert_eq!(spooled(&hs), 0);
    // Clean files pass.
    upload_raw(&alice.api, "a.png", "image/png", png(8, 8))
        .await
        .expect(201);
}

#[actix_web::test]
async fn unreferenced_media_are_removed_and_operators_list_and_delete() {
    let hs = Homeserver::start_with("hs1.test", &[("MEDIA_GRACE_HOURS", "0")]);
    let alice = User::register(&hs.url, "alice").await;
    alice.join("#general").await;
    let kept = id_of(
        &upload_raw(&alice.api, "kept.png", "image/png", png(20, 20))
            .await
            .expect(201),
    );
    let loose = id_of(
        &upload_raw(&alice.api, "loose.png", "image/png", png(21, 21))
            .await
            .expect(201),
    );
    let message = alice
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#general", "body": "kept", "attachments": [kept]}),
        )
        .await
        .expect(201);
    let listed = |hs: &ServerProcess| {
        let out = hs.run(&["media", "list", "--json"]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(|l| {
                serde_json::from_str::<Value>(l).expect("json")["id"]
                    .as_str()
                    .unwrap()
                    .to_string()
            })
            .collect::<Vec<_>>()
    };
    let mut both = listed(&hs);
    both.sort();
    let mut want = vec![kept.clone(), loose.clone()];
    want.sort();
    assert_eq!(both, want);

    // Past the grace period, only the media no message refers to goes.
    let out = hs.run(&["media", "sweep"]);
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout).trim(),
        "removed 1 media"
    );
    assert_eq!(listed(&hs), std::slice::from_ref(&kept));
    assert_eq!(blobs(&hs).len(), 1);
    let gone = fetch(&alice.api, &format!("/api/v1/media/{loose}"), &[]).await;
    assert_eq!(gone.status, 404);

    // Deleting the message that shared it lets it go too.
    alice
        .api
        .delete(&format!("/api/v1/messages/{}", id_of(&message)))
        .await
        .expect(200);
    hs.run(&["media", "sweep"]);
    assert!(listed(&hs).is_empty());
    assert!(blobs(&hs).is_empty());

    // The operator deletes one by id.
    let third = id_of(
        &upload_raw(&alice.api, "third.png", "image/png", png(22, 22))
            .await
            .expect(201),
    );
    let out = hs.run(&["media", "delete", &third]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        fetch(&alice.api, &format!("/api/v1/media/{third}"), &[])
            .await
            .status,
        404
    );
    assert!(!hs.run(&["media", "delete", &third]).status.success());
}

#[actix_web::test]
async fn remote_media_are_fetched_from_their_origin_once() {
    let (_dir, servers) =
        hearth_tests::network::federated_with(&[("hs1.test", vec![]), ("hs2.test", vec![])]).await;
    let [hs1, hs2] = <[_; 2]>::try_from(servers).ok().unwrap();
    let alice = User::register(&hs1.url, "alice").await;
    let bob = User::register(&hs2.url, "bob").await;
    let carol = User::register(&hs2.url, "carol").await;
    let image = png(500, 250);
    let id = id_of(
        &upload_raw(&alice.api, "holiday.png", "image/png", image.clone())
            .await
            .expect(201),
    );
    let path = format!("/api/v1/media/{id}");
    // Not shared with anyone on hs2 yet: hs2 does not even ask.
    assert_eq!(fetch(&bob.api, &path, &[]).await.status, 404);

    // A DM carries the id over federation; bob's server fetches it on first request.
    let mut bob_cursor = bob.sync(None, 0).await["next"].as_i64().unwrap();
    let sent = alice
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "bob@hs2.test", "body": "look", "attachments": [id]}),
        )
        .await
        .expect(201);
    let seen = bob
        .wait_for(&mut bob_cursor, "alice's DM", |e| e["id"] == sent["id"])
        .await;
    assert_eq!(seen["attachments"], json!([id]));
    let got = fetch(&bob.api, &path, &[]).await;
    assert_eq!(got.status, 200, "{:?}", got.json());
    assert_eq!(got.bytes, image);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert!(got
        .header("content-disposition")
        .unwrap()
        .contains("holiday.png"));
    assert_eq!(blobs(&hs2).len(), 1);
    // Served from the cache now, with a thumbnail made here; others on hs2 still cannot.
    assert_eq!(fetch(&bob.api, &path, &[]).await.bytes, image);
    let thumb = fetch(&bob.api, &format!("{path}/thumbnail"), &[]).await;
    assert_eq!(dimensions(&thumb.bytes), (320, 160));
    assert_eq!(fetch(&carol.api, &path, &[]).await.status, 404);
    // History on hs2 describes the cached file.
    let history = bob
        .api
        .get("/api/v1/history?target=alice@hs1.test")
        .await
        .expect(200);
    assert_eq!(history["events"][0]["files"][0]["filename"], "holiday.png");

    // A channel hosted on hs1 with a member on hs2: bob shares his own upload there, and
    // alice's server fetches it from hs2.
    alice.join("#photos").await;
    bob.join("#photos@hs1.test").await;
    let bobs = id_of(
        &upload_raw(&bob.api, "mine.pdf", "application/pdf", pdf())
            .await
            .expect(201),
    );
    let mut alice_cursor = alice.sync(None, 0).await["next"].as_i64().unwrap();
    let posted = bob
        .api
        .post(
            "/api/v1/messages",
            json!({"to": "#photos@hs1.test", "body": "my pdf", "attachments": [bobs]}),
        )
        .await
        .expect(201);
    assert_eq!(posted["attachments"], json!([bobs]));
    alice
        .wait_for(&mut alice_cursor, "bob's post", |e| e["id"] == posted["id"])
        .await;
    let got = fetch(&alice.api, &format!("/api/v1/media/{bobs}"), &[]).await;
    assert_eq!(got.status, 200, "{:?}", got.json());
    assert_eq!(got.bytes, pdf());
    assert_eq!(got.header("content-type"), Some("application/pdf"));
}

#[actix_web::test]
async fn media_in_an_s3_bucket() {
    let Some(moto) =
        hearth_tests::media::Moto::start_or_skip("media_in_an_s3_bucket", "hearth-media").await
    else {
        return;
    };
    let hs = Homeserver::start_with(
        "hs1.test",
        &[
            ("MEDIA_S3_URL", "s3://hearth-media/blobs"),
            ("AWS_ENDPOINT_URL", &moto.endpoint),
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
            ("MEDIA_GRACE_HOURS", "0"),
        ],
    );
    let alice = User::register(&hs.url, "alice").await;
    let image = png(640, 480);
    let a = id_of(
        &upload_raw(&alice.api, "a.png", "image/png", image.clone())
            .await
            .expect(201),
    );
    // The same bytes again: one object.
    upload_multipart(&alice.api, "b.png", "image/png", &image)
        .await
        .expect(201);
    let keys = moto.keys().await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("blobs/"), "{keys:?}");
    assert!(blobs(&hs).is_empty(), "nothing under DATA_DIR/media");

    let path = format!("/api/v1/media/{a}");
    let got = fetch(&alice.api, &path, &[]).await;
    assert_eq!(got.status, 200);
    assert_eq!(got.bytes, image);
    assert_eq!(got.header("content-type"), Some("image/png"));
    assert_eq!(got.header("x-content-type-options"), Some("nosniff"));
    let etag = got.header("etag").expect("etag").to_string();
    assert_eq!(
        fetch(&alice.api, &path, &[("If-None-Match", &etag)])
            .await
            .status,
        304
    );
    let part = fetch(&alice.api, &path, &[("Range", "bytes=10-19")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.bytes, image[10..20]);
    assert_eq!(
        fetch(&alice.api, &path, &[("Range", "bytes=99999999-")])
            .await
            .status,
        416
    );
    let thumb = fetch(&alice.api, &format!("{path}/thumbnail"), &[]).await;
    assert_eq!(dimensions(&thumb.bytes), (320, 240));

    // Retention removes the object with the last row that names it.
    let out = hs.run(&["media", "sweep"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(moto.keys().await.is_empty());
}

/// An avatar is profile data: a media id set as one's avatar is readable by every signed-in
/// user (and peer), and retention keeps it while it is someone's avatar.
#[actix_web::test]
async fn an_avatar_is_readable_by_everyone_and_kept() {
    let hs = Homeserver::start_with("hs1.test", &[("MEDIA_GRACE_HOURS", "0")]);
    let alice = User::register(&hs.url, "alice").await;
    let bob = User::register(&hs.url, "bob").await;
    let id = id_of(
        &upload_raw(&alice.api, "me.png", "image/png", png(64, 64))
            .await
            .expect(201),
    );
    let path = format!("/api/v1/media/{id}");
    assert_eq!(fetch(&bob.api, &path, &[]).await.status, 404);
    alice
        .api
        .raw(
            "PATCH",
            "/api/v1/users/me",
            serde_json::to_vec(&json!({"avatar": id})).expect("json"),
        )
        .await
        .expect(200);
    assert_eq!(fetch(&bob.api, &path, &[]).await.status, 200);
    assert_eq!(
        fetch(&bob.api, &format!("{path}/thumbnail"), &[])
            .await
            .status,
        200
    );
    let out = hs.run(&["media", "sweep"]);
    assert!(out.status.success());
    assert_eq!(fetch(&bob.api, &path, &[]).await.status, 200);

    // Another avatar: the old one is an ordinary unreferenced upload again.
    alice
        .api
        .raw(
            "PATCH",
            "/api/v1/users/me",
            serde_json::to_vec(&json!({"avatar": "https://example.com/me.png"})).expect("json"),
        )
        .await
        .expect(200);
    assert_eq!(fetch(&bob.api, &path, &[]).await.status, 404);
    hs.run(&["media", "sweep"]);
    assert_eq!(fetch(&alice.api, &path, &[]).await.status, 404);
}
