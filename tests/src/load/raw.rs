//! The machine's raw limits, measured the same way as the server: `raw-sqlite` (a bare
//! insert loop with the homeserver's durability: WAL, `synchronous = NORMAL`, one
//! `BEGIN IMMEDIATE` transaction per commit) and `raw-http` (an in-process actix-web server
//! with one trivial handler, loaded by the same client as `sends`).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Text};
use diesel::{Connection, RunQueryDsl, SqliteConnection};
use serde_json::json;

use super::client::Http;
use super::report::{Percentiles, Report};
use super::{Common, MAX_OPS};

/// Parameters of `raw-sqlite`.
#[derive(clap::Args, Debug, Clone)]
pub struct SqliteArgs {
    /// Rows per transaction (1 = one commit per insert, like one send).
    #[arg(long, default_value_t = 1)]
    pub batch: u64,
}

/// Parameters of `raw-http`.
#[derive(clap::Args, Debug, Clone)]
pub struct HttpArgs {
    /// Concurrent clients (one request in flight each).
    #[arg(long, default_value_t = 32)]
    pub connections: usize,
    /// Instead of the POST handler, a long-poll look-alike: `GET` answers `200` at once,
    /// streams one space, and after this many milliseconds the JSON (as the sync handler does).
    #[arg(long)]
    pub stream_ms: Option<u64>,
    /// Set `TCP_NODELAY` on the server's sockets (`HttpServer::tcp_nodelay(true)`).
    #[arg(long)]
    pub nodelay: bool,
}

fn insert_batch(conn: &mut SqliteConnection, batch: u64, i: u64) -> Result<()> {
    conn.batch_execute("BEGIN IMMEDIATE")?;
    for j in 0..batch {
        diesel::sql_query("INSERT INTO events (room_id, body, ts) VALUES (1, ?, ?)")
            .bind::<Text, _>("a message body of about sixty bytes, like the load messages")
            .bind::<BigInt, _>((i * batch + j) as i64)
            .execute(conn)?;
    }
    conn.batch_execute("COMMIT")?;
    Ok(())
}

/// Runs `raw-sqlite` (on this thread: it is blocking by nature and nothing else runs).
pub fn sqlite(common: &Common, args: &SqliteArgs) -> Result<Report> {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("raw.db");
    let mut conn = SqliteConnection::establish(&path.to_string_lossy())
        .context("open the raw SQLite database")?;
    conn.batch_execute(
        "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA busy_timeout = 10000;
         CREATE TABLE events (seq INTEGER PRIMARY KEY AUTOINCREMENT, room_id INTEGER NOT NULL,
                              body TEXT NOT NULL, ts BIGINT NOT NULL);
         CREATE INDEX events_room ON events (room_id, seq);",
    )?;
    let batch = args.batch.max(1);
    let (from, until) = common.window();
    let mut latencies = Vec::new();
    for i in 0..MAX_OPS {
        let t = Instant::now();
        if t >= until {
            break;
        }
        insert_batch(&mut conn, batch, i)?;
        if t >= from {
            latencies.push(t.elapsed());
        }
    }
    let commits = latencies.len() as u64;
    let mut report = Report::new("raw-sqlite", "rows");
    report.count = commits * batch;
    report.seconds = until.saturating_duration_since(from).as_secs_f64();
    report.latency = Percentiles::of(latencies);
    report.note("rows_per_commit", batch);
    report.note("commits_per_s", commits as f64 / report.seconds.max(1e-9));
    let wal = std::fs::metadata(dir.path().join("raw.db-wal")).map_or(0, |m| m.len());
    report.note("wal_bytes", wal);
    report.note("latency_is", "one commit");
    Ok(report)
}

async fn hello(body: actix_web::web::Json<serde_json::Value>) -> actix_web::HttpResponse {
    actix_web::HttpResponse::Created().json(json!({"seq": 1, "echo": body.0["to"]}))
}

async fn stream(delay_ms: actix_web::web::Data<u64>) -> actix_web::HttpResponse {
    let delay = Duration::from_millis(**delay_ms);
    let chunks = futures_util::stream::unfold(0u8, move |step| async move {
        match step {
            0 => Some((
                Ok::<_, actix_web::Error>(actix_web::web::Bytes::from_static(b" ")),
                1,
            )),
            1 => {
                actix_web::rt::time::sleep(delay).await;
                Some((
                    Ok(actix_web::web::Bytes::from_static(
                        br#"{"events":[],"next":1}"#,
                    )),
                    2,
                ))
            }
            _ => None,
        }
    });
    actix_web::HttpResponse::Ok()
        .content_type("application/json")
        .streaming(chunks)
}

/// Runs `raw-http`.
pub async fn http(common: &Common, args: &HttpArgs) -> Result<Report> {
    let delay = actix_web::web::Data::new(args.stream_ms.unwrap_or(0));
    let mut server = actix_web::HttpServer::new(move || {
        actix_web::App::new()
            .app_data(delay.clone())
            .route("/api/v1/messages", actix_web::web::post().to(hello))
            .route("/poll", actix_web::web::get().to(stream))
    })
    .workers(2);
    if args.nodelay {
        server = server.tcp_nodelay(true);
    }
    let server = server.bind(("127.0.0.1", 0))?;
    let addr = *server.addrs().first().context("no address")?;
    let server = server.run();
    let handle = server.handle();
    actix_web::rt::spawn(server);

    let http = Http::new(&format!("http://{addr}"));
    let (from, until) = common.window();
    let body = json!({"to": "#load", "body": "load 1"});
    let streaming = args.stream_ms.is_some();
    let clients = (0..args.connections.max(1)).map(|_| {
        let (http, body) = (http.clone(), body.clone());
        async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            for _ in 0..MAX_OPS {
                let t = Instant::now();
                if t >= until || errors > 1_000 {
                    break;
                }
                let answer = if streaming {
                    http.call(awc::http::Method::GET, "/poll", None, None).await
                } else {
                    let post = awc::http::Method::POST;
                    http.call(post, "/api/v1/messages", Some("t"), Some(&body))
                        .await
                };
                match answer {
                    Ok((200 | 201, _)) if t >= from => latencies.push(t.elapsed()),
                    Ok((200 | 201, _)) => {}
                    _ => errors += 1,
                }
            }
            (latencies, errors)
        }
    });
    let results = futures_util::future::join_all(clients).await;
    handle.stop(true).await;

    let mut report = Report::new("raw-http", "requests");
    let mut all: Vec<Duration> = Vec::new();
    for (latencies, errors) in results {
        all.extend(latencies);
        report.errors += errors;
    }
    report.count = all.len() as u64;
    report.seconds = until.saturating_duration_since(from).as_secs_f64();
    report.latency = Percentiles::of(all);
    report.note("connections", args.connections as u64);
    report.note("server_workers", 2u64);
    report.note("tcp_nodelay", args.nodelay);
    if let Some(ms) = args.stream_ms {
        report.note("streamed_answer_after_ms", ms);
    }
    Ok(report)
}
