//! Delivery of the durable outbox (DESIGN.md, "Federation"): per destination, the oldest queued
//! payloads (at most 50) go in one signed transaction, one in flight per destination; the next
//! one leaves as soon as the previous is acknowledged. Success deletes them; failure doubles the destination's retry delay (with ±20% jitter, capped) and
//! records the error. The state lives in the database, so a restart loses neither the queue
//! nor the backoff. The worker runs on a timer as well as on wake-ups, so a quiet peer is
//! retried without new traffic; any request from a peer resets its backoff.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use awc::http::Method;
use base64::Engine as _;
use federation_proto::backoff::{jitter_from, Backoff};
use federation_proto::signing::sha256;
use serde_json::{json, Value};

use super::client::FedClient;
use crate::db;
use crate::error::ApiError;
use crate::services::now_ms;
use crate::state::AppState;

/// Most events in one transaction.
pub const TXN_MAX_EVENTS: i64 = federation_proto::api::wire::TXN_MAX_EVENTS as i64;
/// Path of the relay endpoint.
pub const RELAY_PATH: &str = "/api/v1/federation/relay";
/// The worker looks at the queue at least this often.
const IDLE_TICK: Duration = Duration::from_secs(5);
/// How long a destination's lease lasts (renewed with every acknowledged transaction); a
/// process that dies holding one (killed while it sends) blocks that destination for at most
/// this long. Three times a transaction's request timeout (10 s, `federation::client`), so a
/// live sender always renews or releases it in time.
const LEASE_MS: i64 = 30_000;

/// Runs for the life of the server.
pub async fn run(state: Arc<AppState>) {
    let client = FedClient::new(&state).with_federation_key(state.config.federation_key.clone());
    let in_flight: Rc<RefCell<HashSet<String>>> = Rc::default();
    loop {
        let now = now_ms();
        let due = state
            .db
            .run(move |conn| db::outbox::due(conn, now).map_err(ApiError::from))
            .await;
        match due {
            Ok(due) => {
                for destination in due {
                    if in_flight.borrow_mut().insert(destination.clone()) {
                        let (state, client, in_flight) =
                            (Arc::clone(&state), client.clone(), Rc::clone(&in_flight));
                        actix_web::rt::spawn(async move {
                            deliver(&state, &client, &destination).await;
                            in_flight.borrow_mut().remove(&destination);
                            state.federation.outbox_wake.notify_one();
                        });
                    }
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the federation outbox"),
        }
        let next = state
            .db
            .run(|conn| db::outbox::next_due_ms(conn).map_err(ApiError::from))
            .await
            .ok()
            .flatten();
        let wait = match next {
            Some(at) if at > now => {
                Duration::from_millis(u64::try_from(at - now).unwrap_or(0)).min(IDLE_TICK)
            }
            _ => IDLE_TICK,
        };
        tokio::select! {
            _ = state.federation.outbox_wake.notified() => {}
            _ = tokio::time::sleep(wait) => {}
        }
    }
}

/// A stable id for a batch: the same events always make the same transaction id, so a retried
/// transaction is recognised by the receiver.
fn txn_id(event_ids: &[String]) -> String {
    let digest = sha256(event_ids.join(",").as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..18])
}

/// A random jitter for [`Backoff::delay_ms`] (none if the OS has no randomness to give).
fn random_jitter() -> i64 {
    let mut bytes = [0u8; 2];
    if getrandom::fill(&mut bytes).is_err() {
        return 0;
    }
    jitter_from(bytes)
}

/// What the outbox holds for a destination.
struct Queue {
    peer: Option<db::peers::PeerRow>,
    rows: Vec<db::outbox::OutboxRow>,
    failures: i64,
}

fn load_queue(conn: &mut db::Conn, destination: &str) -> Result<Queue, ApiError> {
    Ok(Queue {
        peer: db::peers::get(conn, destination)?,
        rows: db::outbox::pending(conn, destination, TXN_MAX_EVENTS)?,
        failures: db::outbox::destination(conn, destination)?.map_or(0, |d| d.failures),
    })
}

/// Sends the destination's queue, one transaction at a time, until it is empty or a
/// transaction fails. Each acknowledgement and the load of the next transaction share one
/// database write.
///
/// On Postgres, where several processes may share the database and the outbox, a process
/// sends only while it holds the destination's lease, so one transaction is in flight per
/// destination across processes.
#[tracing::instrument(skip_all, fields(dest = %destination))]
async fn deliver(state: &AppState, client: &FedClient, destination: &str) {
    let lease = (state.db.backend() == db::Backend::Postgres)
        .then(|| state.federation.process_id.0.clone());
    let dest = destination.to_string();
    let owner = lease.clone();
    let loaded = match owner {
        None => {
            state
                .db
                .run(move |conn| load_queue(conn, &dest).map(Some))
                .await
        }
        Some(owner) => {
            state
                .db
                .write(move |conn| claim_and_load(conn, &dest, &owner))
                .await
        }
    };
    let mut queue = match loaded {
        Ok(Some(queue)) => queue,
        Ok(None) => return tracing::debug!("another process is sending to this destination"),
        Err(e) => return tracing::warn!(error = %e, "cannot load the outbox"),
    };
    deliver_queue(state, client, destination, &mut queue, lease.as_deref()).await;
    if let Some(owner) = lease {
        let dest = destination.to_string();
        if let Err(e) = state
            .db
            .write(move |conn| db::outbox::release(conn, &dest, &owner).map_err(ApiError::from))
            .await
        {
            tracing::warn!(error = %e, "cannot release the destination's lease");
        }
    }
}

/// Takes (or renews) the lease on a destination and loads its queue; `None` while another
/// process holds the lease.
fn claim_and_load(
    conn: &mut db::Conn,
    destination: &str,
    owner: &str,
) -> Result<Option<Queue>, ApiError> {
    let now = now_ms();
    if !db::outbox::claim(conn, destination, owner, now, now + LEASE_MS)? {
        return Ok(None);
    }
    load_queue(conn, destination).map(Some)
}

async fn deliver_queue(
    state: &AppState,
    client: &FedClient,
    destination: &str,
    queue: &mut Queue,
    lease: Option<&str>,
) {
    loop {
        let Some(last) = queue.rows.last().map(|r| r.id) else {
            return;
        };
        let attempt = queue.failures + 1;
        let result = send_transaction(state, client, destination, queue, attempt).await;
        let dest = destination.to_string();
        let now = now_ms();
        match result {
            Ok(()) => {
                let owner = lease.map(str::to_string);
                let next = state
                    .db
                    .write(move |conn| {
                        db::outbox::acknowledge(conn, &dest, last, now)?;
                        match owner {
                            Some(owner) => claim_and_load(conn, &dest, &owner),
                            None => load_queue(conn, &dest).map(Some),
                        }
                    })
                    .await;
                match next {
                    Ok(Some(next)) => *queue = next,
                    Ok(None) => return tracing::warn!("the destination's lease was lost"),
                    Err(e) => return tracing::warn!(error = %e, "cannot record the delivery"),
                }
            }
            Err(error) => {
                let backoff = Backoff::new(
                    state.config.federation_retry_min_ms,
                    state.config.federation_retry_max_ms,
                );
                let delay =
                    backoff.delay_ms(u32::try_from(attempt).unwrap_or(u32::MAX), random_jitter());
                tracing::warn!(attempt, retry_in_ms = delay, %error, "delivery failed");
                let next = now + i64::try_from(delay).unwrap_or(i64::MAX / 2);
                if let Err(e) = state
                    .db
                    .write(move |conn| {
                        db::outbox::record_failure(conn, &dest, &error, next, now)
                            .map_err(ApiError::from)
                    })
                    .await
                {
                    tracing::warn!(error = %e, "cannot record the failed delivery");
                }
                return;
            }
        }
    }
}

/// Sends one transaction of the queue's rows.
async fn send_transaction(
    state: &AppState,
    client: &FedClient,
    destination: &str,
    queue: &Queue,
    attempt: i64,
) -> Result<(), String> {
    let Some(peer) = queue.peer.as_ref().filter(|p| p.status == "up") else {
        return Err(format!("{destination} is not a known live peer"));
    };
    let ids: Vec<String> = queue.rows.iter().map(|r| r.event_id.clone()).collect();
    let events: Vec<Value> = queue
        .rows
        .iter()
        .filter_map(|r| serde_json::from_str(&r.payload).ok())
        .collect();
    let txn = txn_id(&ids);
    tracing::debug!(txn = %txn, attempt, events = events.len(), "sending transaction");
    let body = json!({"txn_id": txn, "origin": state.server_name.as_str(), "events": events});
    let answer = client
        .signed(
            Method::POST,
            &peer.url,
            RELAY_PATH,
            destination,
            Some(&body),
        )
        .await
        .map_err(|e| e.to_string())?;
    log_rejections(&answer);
    Ok(())
}

/// Events the receiver refused for good are not retried (a retry would be refused again);
/// they are logged.
fn log_rejections(answer: &Value) {
    if let Some(results) = answer.get("results").and_then(Value::as_object) {
        for (id, result) in results {
            if let Some(error) = result.get("error") {
                tracing::warn!(event = %id, %error, "peer refused an event");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn random_jitter_stays_within_twenty_percent() {
        for _ in 0..100 {
            assert!((-200..=200).contains(&random_jitter()));
        }
    }

    #[test]
    fn txn_ids_are_stable_and_distinct() {
        let a = vec!["e1".to_string(), "e2".to_string()];
        assert_eq!(txn_id(&a), txn_id(&a.clone()));
        assert_ne!(txn_id(&a), txn_id(&["e1".to_string()]));
    }
}
