//! Media helpers for the end-to-end tests: uploads (raw body or multipart), downloads with
//! their headers and bytes, and test files made on the spot (images with the `image` crate,
//! the EICAR test string, a PNG header that claims a huge image).

use std::io::Cursor;

use awc::http::header::HeaderMap;
use serde_json::Value;

use crate::api::{Api, Reply};

/// An answer with its headers and raw bytes.
#[derive(Debug)]
pub struct Download {
    /// HTTP status.
    pub status: u16,
    /// The answer's headers.
    pub headers: HeaderMap,
    /// The raw body.
    pub bytes: Vec<u8>,
}

impl Download {
    /// A header's value as text, if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as JSON (`Null` when it is not).
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
}

fn request(api: &Api, method: awc::http::Method, path: &str) -> awc::ClientRequest {
    let mut req = api
        .client()
        .request(method, format!("{}{}", api.base(), path));
    if let Some(token) = api.token() {
        req = req.insert_header(("Authorization", format!("Bearer {token}")));
    }
    req
}

async fn finish(
    path: &str,
    res: Result<
        awc::ClientResponse<
            impl futures_util::Stream<Item = Result<actix_web::web::Bytes, awc::error::PayloadError>>,
        >,
        awc::error::SendRequestError,
    >,
) -> Download {
    let mut res = res.unwrap_or_else(|e| panic!("{path}: {e}"));
    let bytes = res
        .body()
        .limit(256 * 1024 * 1024)
        .await
        .unwrap_or_else(|e| panic!("{path}: body: {e}"));
    Download {
        status: res.status().as_u16(),
        headers: res.headers().clone(),
        bytes: bytes.to_vec(),
    }
}

/// `POST /api/v1/media?filename=…` with the file as the raw body.
pub async fn upload_raw(api: &Api, filename: &str, content_type: &str, bytes: Vec<u8>) -> Reply {
    let path = format!("/api/v1/media?filename={}", encode(filename));
    let res = request(api, awc::http::Method::POST, &path)
        .insert_header(("Content-Type", content_type))
        .send_body(bytes)
        .await;
    let d = finish(&path, res).await;
    Reply {
        status: d.status,
        body: d.json(),
    }
}

/// `POST /api/v1/media` as `multipart/form-data` with a `file` part (and a `note` part before
/// it, which the server ignores).
pub async fn upload_multipart(
    api: &Api,
    filename: &str,
    content_type: &str,
    bytes: &[u8],
) -> Reply {
    let boundary = "hearth-test-boundary-7d1f";
    let mut body = Vec::new();
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nhello\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: {content_type}\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let res = request(api, awc::http::Method::POST, "/api/v1/media")
        .insert_header((
            "Content-Type",
            format!("multipart/form-data; boundary={boundary}"),
        ))
        .send_body(body)
        .await;
    let d = finish("/api/v1/media", res).await;
    Reply {
        status: d.status,
        body: d.json(),
    }
}

/// `GET` a path with extra headers; the answer with headers and bytes.
pub async fn fetch(api: &Api, path: &str, headers: &[(&str, &str)]) -> Download {
    let mut req = request(api, awc::http::Method::GET, path);
    for (name, value) in headers {
        req = req.insert_header((*name, *value));
    }
    finish(path, req.send().await).await
}

fn encode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// A PNG of `w`×`h` pixels (a gradient, so that it does not compress to nothing).
pub fn png(w: u32, h: u32) -> Vec<u8> {
    let img = image::RgbImage::from_fn(w, h, |x, y| {
        image::Rgb([(x % 256) as u8, (y % 256) as u8, ((x + y) % 256) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("png");
    out.into_inner()
}

/// A JPEG of `w`×`h` pixels whose EXIF orientation is `orientation` (6: rotate 90° clockwise
/// to display, so the displayed image is `h`×`w`).
pub fn jpeg_with_orientation(w: u32, h: u32, orientation: u16) -> Vec<u8> {
    use image::ImageEncoder;
    let img = image::RgbImage::from_fn(w, h, |x, _| image::Rgb([(x % 256) as u8, 80, 160]));
    // A big-endian TIFF header and one IFD entry: Orientation (0x0112), SHORT, 1 value.
    let mut exif = b"MM\x00\x2a\x00\x00\x00\x08\x00\x01".to_vec();
    exif.extend_from_slice(&[0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01]);
    exif.extend_from_slice(&orientation.to_be_bytes());
    exif.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    let mut out = Vec::new();
    let mut encoder = image::codecs::jpeg::JpegEncoder::new_with_quality(&mut out, 85);
    encoder.set_exif_metadata(exif).expect("exif");
    encoder
        .write_image(img.as_raw(), w, h, image::ExtendedColorType::Rgb8)
        .expect("jpeg");
    out
}

/// The dimensions of an encoded image.
pub fn dimensions(bytes: &[u8]) -> (u32, u32) {
    let img = image::load_from_memory(bytes).expect("an image");
    (img.width(), img.height())
}

/// A PNG whose header claims `w`×`h` pixels, with almost no pixel data: a decompression
/// bomb's shape without its size.
pub fn claimed_png(w: u32, h: u32) -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = 0xffff_ffffu32;
        for &b in bytes {
            crc ^= u32::from(b);
            for _ in 0..8 {
                crc = if crc & 1 == 1 {
                    (crc >> 1) ^ 0xedb8_8320
                } else {
                    crc >> 1
                };
            }
        }
        !crc
    }
    fn chunk(out: &mut Vec<u8>, kind: &[u8], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        out.extend_from_slice(&body);
        out.extend_from_slice(&crc32(&body).to_be_bytes());
    }
    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]);
    chunk(&mut out, b"IHDR", &ihdr);
    chunk(
        &mut out,
        b"IDAT",
        &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01],
    );
    chunk(&mut out, b"IEND", &[]);
    out
}

/// A minimal PDF.
pub fn pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n".to_vec()
}

/// A zip archive with one stored entry (the local header is enough for the type check).
pub fn zip() -> Vec<u8> {
    let name = b"notes.txt";
    let data = b"hello from a zip";
    let mut out = b"PK\x03\x04\x14\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec();
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(&(name.len() as u16).to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(name);
    out.extend_from_slice(data);
    out
}

/// The EICAR anti-virus test file (harmless; every scanner reports it).
pub fn eicar() -> Vec<u8> {
    // Split so that this source file is not itself the test string.
    let mut s = String::from(r"X5O!P%@AP[4\PZX54(P^)7CC)7}$");
    s.push_str("EICAR-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    s.into_bytes()
}

/// A real clamd (Debian's `clamav-daemon`) on a unix socket in a temporary directory, with a
/// signature database of its own that matches the EICAR test file (freshclam cannot download
/// here). Killed when dropped.
pub struct Clamd {
    _child: crate::process::KillOnDrop,
    dir: tempfile::TempDir,
}

impl Clamd {
    /// Starts clamd and waits until it answers `PING`; `None` (with a note) when clamd is not
    /// installed, except with `CI=true`, where that is a failure.
    pub fn start_or_skip(test: &str) -> Option<Clamd> {
        let binary = ["/usr/sbin/clamd", "/usr/bin/clamd"]
            .into_iter()
            .map(std::path::PathBuf::from)
            .find(|p| p.is_file());
        let Some(binary) = binary else {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "{test}: clamd is not installed (apt-get install clamav-daemon)"
            );
            eprintln!("{test}: clamd not installed: skipping");
            return None;
        };
        let dir = tempfile::tempdir().expect("tempdir");
        // A body signature (`.ndb`: name, any file type, anywhere, hex bytes) of the EICAR
        // string's marker.
        let marker: String = b"EICAR-STANDARD-ANTIVIRUS-TEST-FILE"
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        std::fs::write(
            dir.path().join("hearth.ndb"),
            format!("Hearth-EICAR-Test:0:*:{marker}\n"),
        )
        .expect("signature database");
        let socket = dir.path().join("clamd.sock");
        let conf = dir.path().join("clamd.conf");
        std::fs::write(
            &conf,
            format!(
                "Foreground yes\nLocalSocket {}\nDatabaseDirectory {}\nLogFile {}\nPidFile {}\n",
                socket.display(),
                dir.path().display(),
                dir.path().join("clamd.log").display(),
                dir.path().join("clamd.pid").display(),
            ),
        )
        .expect("clamd.conf");
        let child = std::process::Command::new(binary)
            .arg("-c")
            .arg(&conf)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("clamd starts");
        let clamd = Clamd {
            _child: crate::process::KillOnDrop(child),
            dir,
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        while !clamd.pings() {
            assert!(
                std::time::Instant::now() < deadline,
                "{test}: clamd did not answer within 60 s: {}",
                std::fs::read_to_string(clamd.dir.path().join("clamd.log")).unwrap_or_default()
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        Some(clamd)
    }

    /// The socket path, for `CLAMD_ADDR`.
    pub fn addr(&self) -> String {
        self.dir.path().join("clamd.sock").display().to_string()
    }

    fn pings(&self) -> bool {
        use std::io::{Read, Write};
        let Ok(mut s) = std::os::unix::net::UnixStream::connect(self.addr()) else {
            return false;
        };
        let mut answer = Vec::new();
        s.write_all(b"zPING\0").is_ok()
            && s.read_to_end(&mut answer).is_ok()
            && answer.starts_with(b"PONG")
    }
}

/// A local S3 stand-in: moto's server mode (`pip install 'moto[server]'`), on a free port, with
/// one bucket made through its API. Killed when dropped.
pub struct Moto {
    _child: crate::process::KillOnDrop,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
    /// The bucket made at start.
    pub bucket: String,
}

impl Moto {
    /// Starts `moto_server` and makes the bucket `bucket`; `None` (with a note) when moto is
    /// not installed, except with `CI=true`, where that is a failure.
    pub async fn start_or_skip(test: &str, bucket: &str) -> Option<Moto> {
        let found = std::env::var_os("PATH")
            .map(|paths| std::env::split_paths(&paths).collect::<Vec<_>>())
            .unwrap_or_default()
            .into_iter()
            .chain([std::path::PathBuf::from("/root/.pyenv/shims")])
            .map(|dir| dir.join("moto_server"))
            .find(|p| p.is_file());
        let Some(binary) = found else {
            let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
            assert!(
                !ci,
                "{test}: moto_server is not installed (pip install 'moto[server]')"
            );
            eprintln!("{test}: moto_server not installed: skipping");
            return None;
        };
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port");
        let child = std::process::Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("moto_server starts");
        let moto = Moto {
            _child: crate::process::KillOnDrop(child),
            endpoint: format!("http://127.0.0.1:{port}"),
            bucket: bucket.to_string(),
        };
        let client = awc::Client::default();
        let url = format!("{}/{bucket}", moto.endpoint);
        crate::eventually(
            std::time::Duration::from_secs(60),
            "moto_server to make the bucket",
            || {
                let req = client.put(&url);
                async move {
                    match req.send().await {
                        Ok(res) if res.status().is_success() => Some(()),
                        _ => None,
                    }
                }
            },
        )
        .await;
        Some(moto)
    }

    /// The objects in the bucket (their keys), from its listing.
    pub async fn keys(&self) -> Vec<String> {
        let mut res = awc::Client::default()
            .get(format!("{}/{}", self.endpoint, self.bucket))
            .send()
            .await
            .expect("list bucket");
        let body = res.body().limit(16 << 20).await.expect("listing");
        let text = String::from_utf8_lossy(&body);
        text.split("<Key>")
            .skip(1)
            .filter_map(|s| s.split("</Key>").next())
            .map(str::to_string)
            .collect()
    }
}
