//! Records that would otherwise grow forever are bounded, and the destination lease gives one
//! sender per destination across processes: checked in process on the storage itself.

use clap::Parser;
use homeserver::config::Cli;
use homeserver::db;
use homeserver::error::ApiError;
use homeserver::state::AppState;
use homeserver::workers::{prune_once, Pruned, IDEMPOTENCY_WINDOW_MS};

fn state(dir: &tempfile::TempDir) -> AppState {
    let data_dir = dir.path().to_str().expect("a UTF-8 path").to_string();
    let cli = Cli::try_parse_from([
        "homeserver",
        "--server-name",
        "hs1.test",
        "--dburl",
        "",
        "--data-dir",
        &data_dir,
    ])
    .expect("valid flags");
    homeserver::build_state(cli.config).expect("a server state")
}

#[actix_web::test]
async fn old_idempotency_records_and_expired_signatures_are_pruned() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = state(&dir);
    let now = 10 * IDEMPOTENCY_WINDOW_MS;
    let old = now - IDEMPOTENCY_WINDOW_MS - 1;
    let recent = now - 1000;
    let device = homeserver::services::accounts::register(
        &state,
        "alice",
        "a long password".to_string(),
        None,
    )
    .await
    .expect("a user")
    .device_id;
    let reader = device.clone();
    state
        .db
        .write(move |conn| {
            db::devices::save_txn(conn, &device, "old", "{}", old)?;
            db::devices::save_txn(conn, &device, "recent", "{}", recent)?;
            db::outbox::remember_received(conn, "hs2.test", "old", "{}", old)?;
            db::outbox::remember_received(conn, "hs2.test", "recent", "{}", recent)?;
            assert!(db::outbox::remember_signature(conn, "expired", now - 1)?);
            assert!(db::outbox::remember_signature(conn, "live", now + 1000)?);
            assert!(!db::outbox::remember_signature(conn, "live", now + 1000)?);
            Ok::<_, ApiError>(())
        })
        .await
        .expect("records written");

    let pruned = prune_once(&state, now).await.expect("a pruning round");
    assert_eq!(
        pruned,
        Pruned {
            txns: 1,
            received: 1,
            signatures: 1
        }
    );
    let left = state
        .db
        .write(move |conn| {
            Ok::<_, ApiError>((
                db::devices::txn_response(conn, &reader, "old")?,
                db::devices::txn_response(conn, &reader, "recent")?,
                db::outbox::received(conn, "hs2.test", "old")?,
                db::outbox::received(conn, "hs2.test", "recent")?,
                // A pruned signature can be remembered again; a live one is still a replay.
                db::outbox::remember_signature(conn, "expired", now + 1000)?,
                db::outbox::remember_signature(conn, "live", now + 1000)?,
            ))
        })
        .await
        .expect("records read");
    assert_eq!(
        left,
        (
            None,
            Some("{}".into()),
            None,
            Some("{}".into()),
            true,
            false
        )
    );
}

#[actix_web::test]
async fn one_process_at_a_time_holds_a_destination() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let state = state(&dir);
    let steps = state
        .db
        .write(|conn| {
            db::outbox::enqueue(conn, "hs2.test", "event-1", "{}", 0)?;
            let claim = |conn: &mut db::Conn, owner: &str, now: i64| {
                db::outbox::claim(conn, "hs2.test", owner, now, now + 100)
            };
            Ok::<_, ApiError>(vec![
                claim(conn, "a", 0)?,   // free: a takes it
                claim(conn, "b", 10)?,  // a holds it
                claim(conn, "a", 20)?,  // a renews it
                claim(conn, "b", 119)?, // still a's (until 120)
                claim(conn, "b", 121)?, // expired: b takes it
                {
                    db::outbox::release(conn, "hs2.test", "a")?; // not a's: no effect
                    claim(conn, "a", 130)?
                },
                {
                    db::outbox::release(conn, "hs2.test", "b")?;
                    claim(conn, "a", 140)?
                },
            ])
        })
        .await
        .expect("claims");
    assert_eq!(steps, vec![true, false, true, false, true, false, true]);
}
