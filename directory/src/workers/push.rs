//! Pushing entries to every peer, from a durable queue.
//!
//! The queue is the entry log itself plus one cursor per peer (`peers.acked_seq`, Lemmy's
//! design): whatever lies above a peer's cursor is still to be delivered, so nothing is lost
//! when a peer is down or the directory restarts. For each peer that is up, behind the log and
//! not waiting for a retry, one task sends `POST {url}/api/v1/federation/directory` with the
//! next entries in `seq` order (at most [`BATCH_MAX_ENTRIES`] and about [`BATCH_MAX_BYTES`]),
//! moves the cursor on a 2xx and goes on until the peer is caught up. A failure (no answer,
//! timeout, non-2xx) records `failures`, `last_error` and `next_retry_ms` with exponential
//! backoff; one request is in flight per peer.
//!
//! The supervisor wakes when an entry is appended or a peer's backoff is reset (a
//! [`tokio::sync::Notify`] in `AppState`), when a retry comes due, and every
//! [`RESCAN_PERIOD`] in any case (to pick up entries the operator commands appended from
//! another process).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use actix_web::rt::task::JoinHandle;
use federation_proto::api::directory::paths;
use federation_proto::backoff::{jitter_from, Backoff};

use crate::db::models::EntryRow;
use crate::db::peers::DuePeer;
use crate::db::{self, Conn};
use crate::error::ApiError;
use crate::services::now_ms;
use crate::state::AppState;

/// Most entries in one push.
pub const BATCH_MAX_ENTRIES: i64 = 100;
/// A push stops adding entries once its body reaches this size (one entry always goes).
pub const BATCH_MAX_BYTES: usize = 64 * 1024;
/// Timeout of one push.
pub const PUSH_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest sleep of the supervisor without a wake-up.
pub const RESCAN_PERIOD: Duration = Duration::from_secs(5);
/// Longest error text kept per peer.
const MAX_ERROR_LEN: usize = 500;

/// Runs the push supervisor for the life of the server.
pub async fn push_entries(state: Arc<AppState>) {
    let client = state.http_client(PUSH_TIMEOUT);
    let mut in_flight: HashMap<String, JoinHandle<()>> = HashMap::new();
    loop {
        in_flight.retain(|_, task| !task.is_finished());
        let now = now_ms();
        let scan = state
            .db
            .run(move |conn| scan(conn, now).map_err(ApiError::from))
            .await;
        let mut wait = RESCAN_PERIOD;
        match scan {
            Ok(Scan { due, next_retry_ms }) => {
                for peer in due {
                    if in_flight.contains_key(&peer.peer.name) {
                        continue;
                    }
                    let name = peer.peer.name.clone();
                    let task =
                        actix_web::rt::spawn(drain(Arc::clone(&state), client.clone(), peer));
                    in_flight.insert(name, task);
                }
                if let Some(at) = next_retry_ms {
                    let until = u64::try_from(at.saturating_sub(now)).unwrap_or(0);
                    wait = wait.min(Duration::from_millis(until.max(1)));
                }
            }
            Err(e) => tracing::warn!(error = %e, "push scan failed"),
        }
        tokio::select! {
            _ = state.push_wakeup.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// What the supervisor has to do.
struct Scan {
    /// Peers to push to now.
    due: Vec<DuePeer>,
    /// The earliest future retry of a peer that is behind.
    next_retry_ms: Option<i64>,
}

fn scan(conn: &mut Conn, now_ms: i64) -> diesel::QueryResult<Scan> {
    let max_seq = db::entries::max_seq(conn)?;
    Ok(Scan {
        due: db::peers::due(conn, max_seq, now_ms)?,
        next_retry_ms: db::peers::next_retry(conn, max_seq, now_ms)?,
    })
}

/// The next batch for a peer that is still up, from its cursor.
struct Batch {
    from: i64,
    to: i64,
    failures: i64,
    url: String,
    body: String,
    count: usize,
}

fn next_batch(conn: &mut Conn, name: &str) -> Result<Option<Batch>, ApiError> {
    let (Some(server), Some(peer)) = (db::servers::get(conn, name)?, db::peers::get(conn, name)?)
    else {
        return Ok(None);
    };
    if !server.is_up() {
        return Ok(None);
    }
    let rows = db::entries::after(conn, peer.acked_seq, BATCH_MAX_ENTRIES)?;
    let rows = within_bytes(&rows, BATCH_MAX_BYTES);
    let Some(last) = rows.last() else {
        return Ok(None);
    };
    let joined: Vec<&str> = rows.iter().map(|r| r.entry.as_str()).collect();
    Ok(Some(Batch {
        from: peer.acked_seq,
        to: last.seq,
        failures: peer.failures,
        url: server.url,
        body: format!("{{\"entries\":[{}]}}", joined.join(",")),
        count: rows.len(),
    }))
}

/// The longest prefix of `rows` whose entries fit in `max_bytes` (at least one entry).
fn within_bytes(rows: &[EntryRow], max_bytes: usize) -> &[EntryRow] {
    let mut total = 0;
    for (i, row) in rows.iter().enumerate() {
        total += row.entry.len() + 1;
        if i > 0 && total > max_bytes {
            return &rows[..i];
        }
    }
    rows
}

/// Pushes to one peer until it is caught up, gone, or a push fails.
#[tracing::instrument(skip_all, fields(peer = %due.peer.name))]
async fn drain(state: Arc<AppState>, client: awc::Client, due: DuePeer) {
    let name = due.peer.name;
    let backoff = state.config.push_backoff();
    loop {
        let lookup = name.clone();
        let batch = match state.db.run(move |conn| next_batch(conn, &lookup)).await {
            Ok(Some(batch)) => batch,
            Ok(None) => break,
            Err(e) => {
                // Left to the supervisor's next rescan, so a broken database is not spun on.
                tracing::warn!(error = %e, "cannot read the push queue");
                return;
            }
        };
        let attempt = batch.failures + 1;
        tracing::debug!(from = batch.from, to = batch.to, attempt, "pushing entries");
        match post(&client, &batch.url, batch.body.clone()).await {
            Ok(()) => {
                let (who, from, to) = (name.clone(), batch.from, batch.to);
                let recorded = state
                    .db
                    .run(move |conn| {
                        db::peers::record_success(conn, &who, from, to, now_ms())
                            .map_err(ApiError::from)
                    })
                    .await;
                match recorded {
                    Ok(_) => tracing::info!(entries = batch.count, acked_seq = to, "pushed"),
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot record a push");
                        return;
                    }
                }
            }
            Err(error) => {
                record_failure(&state, &name, &backoff, attempt, &error).await;
                break;
            }
        }
    }
    // The supervisor recomputes its next wake-up from the new state (and sees an entry that
    // was appended while this task was finishing).
    state.wake_pusher();
}

async fn record_failure(
    state: &AppState,
    name: &str,
    backoff: &Backoff,
    attempt: i64,
    error: &str,
) {
    let delay = backoff.delay_ms(u32::try_from(attempt).unwrap_or(u32::MAX), random_jitter());
    let next = now_ms().saturating_add(i64::try_from(delay).unwrap_or(i64::MAX));
    tracing::warn!(attempt, retry_in_ms = delay, error, "push failed");
    let error: String = error.chars().take(MAX_ERROR_LEN).collect();
    let who = name.to_string();
    let recorded = state
        .db
        .run(move |conn| {
            db::peers::record_failure(conn, &who, attempt, next, &error).map_err(ApiError::from)
        })
        .await;
    if let Err(e) = recorded {
        tracing::warn!(error = %e, "cannot record a failed push");
    }
}

/// One push; any 2xx is success.
async fn post(client: &awc::Client, base_url: &str, body: String) -> Result<(), String> {
    let url = format!("{base_url}{}", paths::PEER_PUSH);
    let mut res = client
        .post(&url)
        .insert_header(("Content-Type", "application/json"))
        .send_body(body)
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let answer = res.body().limit(64 * 1024).await;
    let status = res.status();
    if status.is_success() {
        return Ok(());
    }
    let text = answer
        .map(|b| String::from_utf8_lossy(&b[..b.len().min(300)]).into_owned())
        .unwrap_or_default();
    Err(format!("POST {url} answered {status}: {text}"))
}

/// A random jitter for [`Backoff::delay_ms`] (none if the OS has no randomness to give).
fn random_jitter() -> i64 {
    let mut bytes = [0u8; 2];
    if getrandom::fill(&mut bytes).is_err() {
        return 0;
    }
    jitter_from(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: i64, len: usize) -> EntryRow {
        EntryRow {
            seq,
            server_name: "s".into(),
            status: "up".into(),
            ts: 0,
            entry: "x".repeat(len),
        }
    }

    #[test]
    fn batches_are_cut_by_size_but_never_empty() {
        let rows = vec![row(1, 40), row(2, 40), row(3, 40)];
        assert_eq!(within_bytes(&rows, 1000).len(), 3);
        assert_eq!(within_bytes(&rows, 90).len(), 2);
        assert_eq!(within_bytes(&rows, 10).len(), 1);
        assert!(within_bytes(&[], 10).is_empty());
    }
}
