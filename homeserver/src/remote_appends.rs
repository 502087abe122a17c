//! What other processes sharing a Postgres database append, delivered to this process's polls
//! from one read.
//!
//! The listener ([`crate::db::Db::listen`]) hears another process's commit as a `NOTIFY` with
//! the highest `seq` it appended, sent once it is on disk. Waking the polls it concerns and
//! letting each read the database costs one query per woken poll: a hundred devices in one
//! channel, a hundred reads of the same rows. Instead [`RemoteAppends::heard`] reads the
//! events after the last range it read up to that `seq` once, works out each event's
//! recipients from their delivery windows (the rule a poll's own read applies,
//! [`crate::db::events::recipients_of`]), and publishes them to the notifier with their JSON,
//! as this process's writer publishes its own: the woken polls answer from memory.
//!
//! Why this is safe: every event up to a notified `seq` is committed (writers take turns and
//! commit in `seq` order) and durable (the notification follows its flush, and the log is
//! flushed in order), so one read of `(heard, seq]` finds all of them, whoever appended them.
//! Ranges are read back to back, so nothing is skipped between two; a notification that comes
//! late (its events were in an earlier range) changes nothing. This process's own events in
//! a range are published twice, which the notifier ignores ([`crate::notifier::Notifier::publish`]).
//! When no slot is open the read is skipped (nobody could use it). When the read fails or
//! the range is too long, every poll of this process is woken to read for itself
//! ([`crate::notifier::Notifier::notify_all`]), as before this module.

use std::sync::Arc;

use crate::db::{events, Db};
use crate::notifier::{Notifier, Publication};

/// Most events one read takes; past it every poll reads for itself.
const READ_MAX: i64 = 1024;

/// The reading side of other processes' commits, owned by the listener thread.
pub struct RemoteAppends {
    db: Db,
    notifier: Arc<Notifier>,
    /// Every event up to this has been published (read, or nobody was watching).
    heard: i64,
}

impl RemoteAppends {
    /// Starts from what the notifier has published.
    pub fn new(db: Db, notifier: Arc<Notifier>) -> RemoteAppends {
        let heard = notifier.published_through();
        RemoteAppends {
            db,
            notifier,
            heard,
        }
    }

    /// Another process committed events up to `seq` (durable): publishes every event after the
    /// last one heard up to it. Blocks on the database (the listener thread's own).
    pub fn heard(&mut self, seq: i64) {
        if seq <= self.heard {
            return;
        }
        if self.notifier.publish_if_unwatched(seq) {
            self.heard = seq;
            return;
        }
        match self.read(seq) {
            Ok(Some(publications)) => self.notifier.publish(publications),
            Ok(None) => {
                tracing::debug!(
                    after = self.heard,
                    through = seq,
                    "too many events to read at once; every poll reads"
                );
                self.notifier.notify_all(seq);
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read another process's events; every poll reads");
                self.notifier.notify_all(seq);
            }
        }
        self.heard = seq;
    }

    /// Notifications may have been missed (the listener reconnected, or one was unreadable):
    /// memory covers nothing any more and every poll reads. The next range read still starts
    /// after the last one, so the events of the missed notifications are read with it.
    pub fn lost(&mut self) {
        self.notifier.notify_all(0);
    }

    /// The events in `(heard, seq]` as publications, serialized for the recipients that have a
    /// slot; `None` when there are more than [`READ_MAX`].
    fn read(&self, seq: i64) -> Result<Option<Vec<Publication>>, crate::db::DbError> {
        let mut conn = self.db.conn()?;
        let rows = events::range(&mut conn, self.heard, seq, READ_MAX + 1)?;
        if rows.len() > READ_MAX as usize {
            return Ok(None);
        }
        let recipients = events::recipients_of(&mut conn, &rows)?;
        drop(conn);
        Ok(Some(
            rows.iter()
                .zip(recipients)
                .map(|(row, recipients)| Publication {
                    seq: row.seq,
                    event: self
                        .notifier
                        .has_slot_for(&recipients)
                        .then(|| crate::serialize(row))
                        .flatten(),
                    recipients,
                })
                .collect(),
        ))
    }
}
