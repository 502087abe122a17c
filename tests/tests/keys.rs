//! The server's signing key: published, self-signed, kept across restarts, rotatable.

use std::process::Command;

use federation_proto::keydoc::KeyDocument;
use hearth_tests::api::Api;
use hearth_tests::process::{binary, Homeserver};

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as u64
}

#[actix_web::test]
async fn key_document_is_self_signed_and_rotation_keeps_old_keys() {
    let mut hs = Homeserver::start("hs1.test");
    let api = Api::new(&hs.url);
    let doc = api.get("/api/v1/federation/key").await.expect(200);
    let parsed = KeyDocument::verify_self_signed_value(&doc, now_ms())
        .expect("valid self-signed key document");
    assert_eq!(parsed.server_name, "hs1.test");
    assert_eq!(parsed.verify_keys.len(), 1);
    assert!(parsed.valid_until_ts <= now_ms() + 7 * 24 * 3600 * 1000);
    let (old_id, old_key) = parsed
        .verify_keys
        .iter()
        .next()
        .map(|(k, v)| (k.to_string(), v.key.clone()))
        .unwrap();
    let info = api.get("/api/v1/server").await.expect(200);
    assert_eq!(info["public_key"], old_key.as_str());

    // The key file is owner-only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(hs.data_dir().join("signing.key"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(
        mode & 0o077,
        0,
        "signing.key is readable by others: {mode:o}"
    );

    // A restart keeps the key.
    hs.restart();
    let again = Api::new(&hs.url)
        .get("/api/v1/federation/key")
        .await
        .expect(200);
    assert_eq!(again["verify_keys"][&old_id]["key"], old_key.as_str());

    // Rotation: a new current key, the old one published with its expiry.
    hs.kill();
    let out = Command::new(binary("homeserver"))
        .args(["keys", "rotate"])
        .env("DATA_DIR", hs.data_dir())
        .env("SERVER_NAME", "hs1.test")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "keys rotate failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    hs.restart();
    let rotated = Api::new(&hs.url)
        .get("/api/v1/federation/key")
        .await
        .expect(200);
    let parsed =
        KeyDocument::verify_self_signed_value(&rotated, now_ms()).expect("valid after rotation");
    assert!(
        !parsed.verify_keys.keys().any(|k| k.to_string() == old_id),
        "the old key is no longer current"
    );
    assert_eq!(rotated["old_verify_keys"][&old_id]["key"], old_key.as_str());
    assert!(
        rotated["old_verify_keys"][&old_id]["expired_ts"]
            .as_u64()
            .unwrap()
            <= now_ms()
    );
}
