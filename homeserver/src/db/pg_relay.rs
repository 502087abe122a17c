//! Ephemeral events (typing, presence, receipts) across the processes sharing a Postgres
//! database.
//!
//! They are never stored, so a process learns of another's only by being told: the process
//! that publishes one also sends it on [`EPHEMERAL_CHANNEL`] with `NOTIFY`, and every other
//! process's listener ([`super::Db::listen`]) hands it to its own notifier. Publishing must
//! never block (`services::ephemeral::publish` runs on the executor), so items go through a
//! bounded queue to a thread of their own, which sends everything queued with one statement.
//! What does not fit is dropped, as ephemeral items may be: a full queue, a payload over
//! Postgres's limit (an item for more users than `NAMED_BYTES_MAX` can name), or a lost
//! connection. The publishing process still delivers it to its own devices.

use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::time::Duration;

use diesel::r2d2::Pool;
use diesel::RunQueryDsl;

use super::prepared::{prepared, Statement};
use super::{backend, DbConn};

/// The channel ephemeral items travel on.
pub const EPHEMERAL_CHANNEL: &str = "hearth_ephemeral";

/// Items waiting for the relay thread; past it new items are dropped.
const QUEUE: usize = 1024;
/// Most items sent by one statement.
const PER_STATEMENT: usize = 64;
/// Most bytes of a payload (Postgres refuses 8,000 bytes or more).
const PAYLOAD_MAX: usize = 7_900;
/// Most bytes of user ids an item names.
const NAMED_BYTES_MAX: usize = 6_000;

/// An ephemeral item received from another process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relayed {
    /// The process that published it.
    pub instance: u64,
    /// How long it is delivered.
    pub lifetime: Duration,
    /// The users (ids) it is for.
    pub recipients: Vec<String>,
    /// The client's JSON view of it.
    pub json: Vec<u8>,
}

/// The payload of an item: `"<instance> <lifetime ms> <user,user,…> <json>"`, or `None` when
/// it does not fit in a notification.
pub fn payload(
    instance: u64,
    recipients: &[String],
    json: &[u8],
    lifetime: Duration,
) -> Option<String> {
    let named: usize = recipients.iter().map(|r| r.len() + 1).sum();
    if recipients.is_empty() || named > NAMED_BYTES_MAX {
        return None;
    }
    if recipients
        .iter()
        .any(|r| r.is_empty() || r.contains([',', ' ']))
    {
        return None;
    }
    let json = std::str::from_utf8(json).ok()?;
    let text = format!(
        "{instance} {} {} {json}",
        lifetime.as_millis(),
        recipients.join(",")
    );
    (text.len() <= PAYLOAD_MAX).then_some(text)
}

/// Parses a payload made by [`payload`].
pub fn parse(payload: &str) -> Option<Relayed> {
    let mut parts = payload.splitn(4, ' ');
    let instance = parts.next()?.parse().ok()?;
    let lifetime = Duration::from_millis(parts.next()?.parse().ok()?);
    let recipients: Vec<String> = parts
        .next()?
        .split(',')
        .filter(|r| !r.is_empty())
        .map(str::to_string)
        .collect();
    let json = parts.next()?.as_bytes().to_vec();
    if recipients.is_empty() || json.is_empty() {
        return None;
    }
    Some(Relayed {
        instance,
        lifetime,
        recipients,
        json,
    })
}

/// The publishing side: a queue to the relay thread.
#[derive(Debug)]
pub struct Relay {
    queue: SyncSender<String>,
}

impl Relay {
    /// Starts the relay thread on `pool` (Postgres). It stops when the relay is dropped.
    pub fn start(pool: Pool<backend::Manager>) -> Option<Relay> {
        let (queue, items) = mpsc::sync_channel(QUEUE);
        let spawned = std::thread::Builder::new()
            .name("hearth-pg-relay".into())
            .spawn(move || run(pool, &items));
        match spawned {
            Ok(_) => Some(Relay { queue }),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the ephemeral relay thread");
                None
            }
        }
    }

    /// Queues a payload; `false` when it was dropped (the queue is full).
    pub fn send(&self, payload: String) -> bool {
        match self.queue.try_send(payload) {
            Ok(()) => true,
            Err(TrySendError::Full(_)) => {
                tracing::debug!("the ephemeral relay is behind; an item stays in this process");
                false
            }
            Err(TrySendError::Disconnected(_)) => false,
        }
    }
}

fn run(pool: Pool<backend::Manager>, items: &Receiver<String>) {
    let mut kept = backend::KeptConnection::new(pool);
    while let Ok(first) = items.recv() {
        let mut batch = vec![first];
        while batch.len() < PER_STATEMENT {
            match items.try_recv() {
                Ok(item) => batch.push(item),
                Err(_) => break,
            }
        }
        let sent = match kept.get() {
            Ok(DbConn::Postgres(c)) => {
                prepared("SELECT pg_notify($1, item) FROM unnest($2) AS item")
                    .bind::<diesel::sql_types::Text, _>(EPHEMERAL_CHANNEL)
                    .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(&batch)
                    .execute(c)
                    .map(drop)
                    .map_err(|e| e.to_string())
            }
            Ok(DbConn::Sqlite(_)) => Ok(()),
            Err(e) => Err(e.to_string()),
        };
        if let Err(e) = sent {
            kept.forget();
            tracing::warn!(error = %e, items = batch.len(), "ephemeral items were not relayed to other processes");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_round_trip_and_refuse_what_does_not_fit() {
        let users = vec!["u1".to_string(), "u2".to_string()];
        let json = br#"{"type":"typing","body":"a b"}"#;
        let text = payload(7, &users, json, Duration::from_secs(5)).unwrap();
        assert_eq!(
            parse(&text),
            Some(Relayed {
                instance: 7,
                lifetime: Duration::from_secs(5),
                recipients: users,
                json: json.to_vec(),
            })
        );
        let crowd: Vec<String> = (0..500).map(|i| format!("{i:036}")).collect();
        assert_eq!(payload(7, &crowd, json, Duration::from_secs(5)), None);
        assert_eq!(payload(7, &[], json, Duration::from_secs(5)), None);
        assert_eq!(
            payload(7, &["a,b".into()], json, Duration::from_secs(5)),
            None
        );
        assert_eq!(parse("7 5000  {}"), None);
        assert_eq!(parse("x"), None);
    }
}
